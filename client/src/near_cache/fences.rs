//! Reads in flight, per key, so a reply that an invalidation overtook is
//! never installed.
//!
//! A read takes a [`Ticket`] before its request is sent; an invalidation
//! of the key bumps the key's epoch while any ticket for it is out. The
//! reply is installed only if the epoch is unchanged, and the check and the
//! install happen under the same lock as an invalidation's bump and
//! removal, so neither can slip between the other's steps. Keys without a
//! read in flight have no record: the table holds as many keys as reads
//! are in flight.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

/// Lock shards: enough that concurrent reads of different keys rarely
/// meet.
const SHARDS: usize = 64;

#[derive(Default)]
struct Fence {
    readers: u32,
    epoch: u64,
}

type Shard = Mutex<HashMap<Bytes, Fence>>;

/// The reads in flight of one near cache. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Fences {
    shards: Arc<[Shard]>,
    hasher: RandomState,
}

fn lock(shard: &Shard) -> MutexGuard<'_, HashMap<Bytes, Fence>> {
    // Each critical section is one map update (and an install or removal
    // in the cache, which cannot panic midway through ours).
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Fences {
    pub(crate) fn new() -> Fences {
        Fences {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &[u8]) -> &Shard {
        let index = self.hasher.hash_one(key) as usize % SHARDS;
        &self.shards[index]
    }

    /// Registers a read of `key` about to be sent.
    pub(crate) fn begin(&self, key: Bytes) -> Ticket {
        let epoch = {
            let mut shard = lock(self.shard(&key));
            let fence = shard.entry(key.clone()).or_default();
            fence.readers += 1;
            fence.epoch
        };
        Ticket {
            fences: self.clone(),
            key,
            epoch,
            open: true,
        }
    }

    /// Invalidates `key`: reads of it in flight will not install, and
    /// `remove` (which drops the cached entry) runs under the same lock.
    pub(crate) fn invalidate(&self, key: &[u8], remove: impl FnOnce()) {
        let mut shard = lock(self.shard(key));
        if let Some(fence) = shard.get_mut(key) {
            fence.epoch += 1;
        }
        remove();
    }

    /// Reads in flight (for tests).
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }
}

/// One read in flight; dropped without [`Ticket::finish`], it installs
/// nothing.
pub(crate) struct Ticket {
    fences: Fences,
    key: Bytes,
    epoch: u64,
    open: bool,
}

impl Ticket {
    /// The key read.
    pub(crate) fn key(&self) -> &Bytes {
        &self.key
    }

    /// Ends the read: runs `install` (under the key's lock) if no
    /// invalidation of the key came since the ticket was taken; returns
    /// whether it ran.
    pub(crate) fn finish(mut self, install: impl FnOnce()) -> bool {
        self.open = false;
        let mut shard = lock(self.fences.shard(&self.key));
        let unchanged = release(&mut shard, &self.key) == Some(self.epoch);
        if unchanged {
            install();
        }
        unchanged
    }
}

/// Drops one reader of `key`; returns the epoch it had.
fn release(shard: &mut HashMap<Bytes, Fence>, key: &[u8]) -> Option<u64> {
    let fence = shard.get_mut(key)?;
    let epoch = fence.epoch;
    fence.readers -= 1;
    if fence.readers == 0 {
        shard.remove(key);
    }
    Some(epoch)
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.open {
            let mut shard = lock(self.fences.shard(&self.key));
            release(&mut shard, &self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalidation_in_flight_refuses_the_install() {
        let fences = Fences::new();
        let key = Bytes::from_static(b"k");
        let raced = fences.begin(key.clone());
        let clean = fences.begin(key.clone());
        fences.invalidate(b"k", || {});
        let later = fences.begin(key.clone());
        assert!(!raced.finish(|| panic!("installed a stale reply")));
        drop(clean);
        let mut installed = false;
        assert!(later.finish(|| installed = true));
        assert!(installed);
        assert_eq!(fences.in_flight(), 0);
        // Without a read in flight nothing is remembered.
        fences.invalidate(b"other", || {});
        assert_eq!(fences.in_flight(), 0);
    }
}
