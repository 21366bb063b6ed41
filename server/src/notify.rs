//! Realtime pokes. Every `/sync/events` stream registers its user with the spaces that
//! user can read; a change in a space pokes the streams of every local user who reads
//! it, with the new checkpoint. A membership change pokes the member (their next pull
//! backfills or revokes) after their stream's spaces were read again. With PostgreSQL the
//! same pokes also arrive from LISTEN (other processes, and this one's own NOTIFY echo);
//! a checkpoint at or below the last one sent to a user is dropped, so each stream sees
//! one poke per change.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::broadcast;

/// Pokes waiting per subscriber before the oldest are dropped (only the newest matters).
const CAPACITY: usize = 16;

/// What changed, as sent between processes (`NOTIFY` payload, see [`Poke::encode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poke {
    /// Documents of this space changed, up to this version.
    Space(String, u64),
    /// This user's memberships changed at this version.
    Member(String, u64),
}

impl Poke {
    /// `s:<space>:<version>` or `m:<user>:<version>` (user ids may hold `:`, versions not).
    pub fn encode(&self) -> String {
        match self {
            Poke::Space(space, v) => format!("s:{space}:{v}"),
            Poke::Member(user, v) => format!("m:{user}:{v}"),
        }
    }

    pub fn decode(payload: &str) -> Option<Poke> {
        let (kind, rest) = payload.split_once(':')?;
        let (id, version) = rest.rsplit_once(':')?;
        let version = version.parse().ok()?;
        match kind {
            "s" => Some(Poke::Space(id.to_owned(), version)),
            "m" => Some(Poke::Member(id.to_owned(), version)),
            _ => None,
        }
    }
}

#[derive(Default)]
pub struct Notifier {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, Channel>,
    /// Space → local users subscribed who read it.
    readers: HashMap<String, HashSet<String>>,
}

struct Channel {
    sender: broadcast::Sender<u64>,
    last: u64,
    spaces: Vec<String>,
}

impl Inner {
    fn forget(&mut self, user: &str) {
        if let Some(channel) = self.users.remove(user) {
            self.unindex(user, &channel.spaces);
        }
    }

    fn unindex(&mut self, user: &str, spaces: &[String]) {
        for space in spaces {
            if let Some(users) = self.readers.get_mut(space) {
                users.remove(user);
                if users.is_empty() {
                    self.readers.remove(space);
                }
            }
        }
    }

    fn send(&mut self, user: &str, checkpoint: u64) {
        let Some(channel) = self.users.get_mut(user) else { return };
        if channel.sender.receiver_count() == 0 {
            self.forget(user);
            return;
        }
        if checkpoint <= channel.last {
            return;
        }
        channel.last = checkpoint;
        // An error only means every receiver went away meanwhile.
        let _ = channel.sender.send(checkpoint);
    }
}

impl Notifier {
    pub fn new() -> Notifier {
        Notifier::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the maps inconsistent enough to matter:
        // at worst a poke goes to a stream that no longer reads the space.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Receive `user`'s pokes from now on.
    pub fn subscribe(&self, user: &str) -> broadcast::Receiver<u64> {
        let mut inner = self.inner();
        let gone: Vec<String> =
            inner.users.iter().filter(|(_, c)| c.sender.receiver_count() == 0).map(|(u, _)| u.clone()).collect();
        for user in gone {
            inner.forget(&user);
        }
        match inner.users.get(user) {
            Some(channel) => channel.sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(CAPACITY);
                inner.users.insert(user.to_owned(), Channel { sender, last: 0, spaces: Vec::new() });
                receiver
            }
        }
    }

    /// The spaces `user` reads now (after subscribing, and after each membership change).
    pub fn set_spaces(&self, user: &str, spaces: Vec<String>) {
        let mut inner = self.inner();
        let Some(channel) = inner.users.get_mut(user) else { return };
        let old = std::mem::replace(&mut channel.spaces, spaces.clone());
        inner.unindex(user, &old);
        for space in spaces {
            inner.readers.entry(space).or_default().insert(user.to_owned());
        }
    }

    /// Whether `user` has a stream in this process (whose spaces may need reading again).
    pub fn is_subscribed(&self, user: &str) -> bool {
        self.inner().users.get(user).is_some_and(|c| c.sender.receiver_count() > 0)
    }

    /// Tell the readers of `space` that it changed up to `checkpoint`.
    pub fn publish_space(&self, space: &str, checkpoint: u64) {
        let mut inner = self.inner();
        let users: Vec<String> = inner.readers.get(space).map(|u| u.iter().cloned().collect()).unwrap_or_default();
        for user in users {
            inner.send(&user, checkpoint);
        }
    }

    /// Tell `user`'s streams to pull (their memberships changed at `checkpoint`).
    pub fn publish_user(&self, user: &str, checkpoint: u64) {
        self.inner().send(user, checkpoint);
    }

    /// Poke every subscriber (after pokes may have been missed).
    pub fn publish_all(&self, checkpoint: u64) {
        let mut inner = self.inner();
        let users: Vec<String> = inner.users.keys().cloned().collect();
        for user in users {
            if let Some(channel) = inner.users.get_mut(&user) {
                channel.last = channel.last.max(checkpoint);
                let _ = channel.sender.send(checkpoint);
            }
        }
    }

    /// Users with at least one subscriber (for tests and metrics).
    pub fn subscribed_users(&self) -> usize {
        self.inner().users.values().filter(|c| c.sender.receiver_count() > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pokes_reach_the_readers_of_a_space_once() {
        let n = Notifier::new();
        let mut a = n.subscribe("a");
        let mut b = n.subscribe("b");
        n.set_spaces("a", vec!["user:a".into(), "g".into()]);
        n.set_spaces("b", vec!["user:b".into()]);
        n.publish_space("user:a", 5);
        n.publish_space("user:a", 5); // the NOTIFY echo of the same push
        n.publish_space("g", 3); // late and older
        assert_eq!(a.try_recv().ok(), Some(5));
        assert!(a.try_recv().is_err());
        assert!(b.try_recv().is_err());
        // b joins g: its next change reaches both.
        n.set_spaces("b", vec!["user:b".into(), "g".into()]);
        n.publish_space("g", 7);
        assert_eq!((a.try_recv().ok(), b.try_recv().ok()), (Some(7), Some(7)));
        // a leaves g.
        n.set_spaces("a", vec!["user:a".into()]);
        n.publish_space("g", 8);
        assert!(a.try_recv().is_err());
        assert_eq!(b.try_recv().ok(), Some(8));
        n.publish_user("a", 9);
        assert_eq!(a.try_recv().ok(), Some(9));
        drop(b);
        n.publish_space("g", 10);
        assert_eq!(n.subscribed_users(), 1);
    }

    #[test]
    fn pokes_cross_processes_as_text() {
        for poke in [Poke::Space("user:a:b".into(), 17), Poke::Member("x:y".into(), 3)] {
            assert_eq!(Poke::decode(&poke.encode()), Some(poke));
        }
        assert_eq!(Poke::decode("nocolon"), None);
        assert_eq!(Poke::decode("q:a:1"), None);
        assert_eq!(Poke::decode("s:a:x"), None);
    }
}
