//! Per-user realtime pokes. A push that applied something publishes the user's new
//! checkpoint; every `/sync/events` stream of that user (in this process) receives it.
//! With PostgreSQL the same poke also arrives from LISTEN (other processes, and this
//! one's own NOTIFY echo); a checkpoint at or below the last one published for the user
//! is dropped, so each subscriber sees one poke per change.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::broadcast;

/// Pokes waiting per subscriber before the oldest are dropped (only the newest matters).
const CAPACITY: usize = 16;

#[derive(Default)]
pub struct Notifier {
    users: Mutex<HashMap<String, Channel>>,
}

struct Channel {
    sender: broadcast::Sender<u64>,
    last: u64,
}

impl Notifier {
    pub fn new() -> Notifier {
        Notifier::default()
    }

    fn users(&self) -> MutexGuard<'_, HashMap<String, Channel>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.users.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Receive `user`'s checkpoints from now on.
    pub fn subscribe(&self, user: &str) -> broadcast::Receiver<u64> {
        let mut users = self.users();
        users.retain(|_, c| c.sender.receiver_count() > 0);
        match users.get(user) {
            Some(channel) => channel.sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(CAPACITY);
                users.insert(user.to_owned(), Channel { sender, last: 0 });
                receiver
            }
        }
    }

    /// Tell `user`'s subscribers that their data changed up to `checkpoint`.
    pub fn publish(&self, user: &str, checkpoint: u64) {
        let mut users = self.users();
        let Some(channel) = users.get_mut(user) else { return };
        if channel.sender.receiver_count() == 0 {
            users.remove(user);
            return;
        }
        if checkpoint <= channel.last {
            return;
        }
        channel.last = checkpoint;
        // An error only means every receiver went away meanwhile.
        let _ = channel.sender.send(checkpoint);
    }

    /// Poke every subscriber (after pokes may have been missed).
    pub fn publish_all(&self, checkpoint: u64) {
        let mut users = self.users();
        users.retain(|_, c| c.sender.receiver_count() > 0);
        for channel in users.values_mut() {
            channel.last = channel.last.max(checkpoint);
            let _ = channel.sender.send(checkpoint);
        }
    }

    /// Users with at least one subscriber (for tests and metrics).
    pub fn subscribed_users(&self) -> usize {
        self.users().values().filter(|c| c.sender.receiver_count() > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pokes_reach_only_their_user_once() {
        let n = Notifier::new();
        let mut a = n.subscribe("a");
        let mut b = n.subscribe("b");
        n.publish("a", 5);
        n.publish("a", 5); // the NOTIFY echo of the same push
        n.publish("a", 3); // late and older
        assert_eq!(a.try_recv().ok(), Some(5));
        assert!(a.try_recv().is_err());
        assert!(b.try_recv().is_err());
        drop(b);
        n.publish("b", 9);
        assert_eq!(n.subscribed_users(), 1);
    }
}
