//! The gate that makes a transaction (EXEC, and scripts later) atomic with
//! respect to every other client: each command passes it shared, an atomic
//! batch holds it alone while it runs.
//!
//! A shared pass takes one of several read locks, picked by thread, so
//! commands on different workers do not bounce one cache line between
//! cores; the exclusive holder takes all of them, in order. Nothing waits
//! on the gate while holding a shard lock, so it cannot deadlock with the
//! store's locks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Read locks: more than the workers a node runs, so threads rarely share.
const SLOTS: usize = 16;

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS;
}

/// See the module docs.
#[derive(Debug)]
pub struct Gate {
    slots: Box<[CachePadded<RwLock<()>>]>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            slots: (0..SLOTS)
                .map(|_| CachePadded::new(RwLock::new(())))
                .collect(),
        }
    }
}

impl Gate {
    /// Passage for one ordinary command: waits while a batch runs.
    #[inline]
    pub fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.slots[SLOT.with(|slot| *slot)].read()
    }

    /// Passage for one ordinary command, waiting at most `wait` (a script
    /// may hold the gate for long: the caller then answers BUSY).
    #[inline]
    pub fn try_shared_for(&self, wait: Duration) -> Option<RwLockReadGuard<'_, ()>> {
        self.slots[SLOT.with(|slot| *slot)].try_read_for(wait)
    }

    /// The gate alone, waiting at most `wait` for each of its locks; `None`
    /// (nothing held) if one could not be had in time.
    pub fn try_exclusive_for(&self, wait: Duration) -> Option<Vec<RwLockWriteGuard<'_, ()>>> {
        self.slots
            .iter()
            .map(|slot| slot.try_write_for(wait))
            .collect()
    }

    /// The gate alone, for a batch: waits for the commands in flight.
    pub fn exclusive(&self) -> Vec<RwLockWriteGuard<'_, ()>> {
        self.slots.iter().map(|slot| slot.write()).collect()
    }
}
