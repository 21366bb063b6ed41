//! Open `/sync/events` streams are counted, per user and in all, and capped: each holds
//! a [`Slot`] for its lifetime, and a stream over either cap is refused (429).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::StreamLimits;

#[derive(Default)]
pub struct Streams {
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_user: HashMap<String, usize>,
}

/// Which cap a refused stream hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    #[error("{0} event streams are open for this user, the most allowed")]
    User(usize),
    #[error("{0} event streams are open, the most this server allows")]
    Server(usize),
}

/// One open stream; dropping it frees its place.
pub struct Slot {
    streams: Arc<Streams>,
    user: String,
}

impl Streams {
    fn open(&self) -> MutexGuard<'_, Open> {
        // Counts stay consistent under a poisoned lock: each update is one statement.
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for one more stream of `user`, unless a cap is reached.
    pub fn acquire(self: &Arc<Self>, user: &str, limits: StreamLimits) -> Result<Slot, Full> {
        let mut open = self.open();
        if open.total >= limits.total {
            return Err(Full::Server(open.total));
        }
        let count = open.per_user.get(user).copied().unwrap_or(0);
        if count >= limits.per_user {
            return Err(Full::User(count));
        }
        open.total += 1;
        open.per_user.insert(user.to_owned(), count + 1);
        Ok(Slot { streams: self.clone(), user: user.to_owned() })
    }

    /// Open streams in all (for tests and metrics).
    pub fn total(&self) -> usize {
        self.open().total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.streams.open();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_user.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_user_and_in_all_and_places_come_back() {
        let streams = Arc::new(Streams::default());
        let limits = StreamLimits { per_user: 2, total: 3 };
        let a1 = streams.acquire("a", limits);
        let a2 = streams.acquire("a", limits);
        assert!(a1.is_ok() && a2.is_ok());
        assert_eq!(streams.acquire("a", limits).err(), Some(Full::User(2)));
        let b1 = streams.acquire("b", limits);
        assert!(b1.is_ok());
        assert_eq!(streams.acquire("c", limits).err(), Some(Full::Server(3)));
        drop(a1);
        let a3 = streams.acquire("a", limits);
        assert!(a3.is_ok());
        assert_eq!(streams.total(), 3);
        drop((a2, a3, b1));
        assert_eq!(streams.total(), 0);
    }
}
