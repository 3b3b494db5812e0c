//! The store's report of keys it removes by itself: expired (found stale
//! on access, or reclaimed by the active cycle) and evicted under
//! `maxmemory`. Keyspace notifications listen to it, and so may anything
//! else that must learn of such removals (client tracking): each listener
//! is added once, at start. While some listener asks for them
//! ([`RemovalHooks::report_misses`]), reads that miss their key are
//! reported too (the `keymiss` event).
//!
//! A listener is called synchronously, under the lock of the key's shard,
//! so an `expired` event comes before the event of the command that found
//! the key stale, as in Redis. It must therefore be quick and must never
//! lock the store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// Why the store removed a key by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Its TTL passed (lazy expiry on access, or the active cycle).
    Expired,
    /// Evicted to stay under `maxmemory`.
    Evicted,
}

/// Something that wants to learn of keys the store removes by itself.
pub trait RemovalListener: Send + Sync {
    /// `key` of database `db` was removed, for `why`. Runs under the key's
    /// shard lock: must not lock the store.
    fn removed(&self, db: usize, key: &[u8], why: Removal);

    /// A read of `key` in database `db` found nothing; called only while
    /// misses are reported. Runs under the key's shard lock.
    fn missed(&self, _db: usize, _key: &[u8]) {}
}

/// The listeners of one store, shared by its shards. Reporting costs one
/// atomic load while nobody listens.
#[derive(Default)]
pub struct RemovalHooks {
    listeners: RwLock<Vec<Arc<dyn RemovalListener>>>,
    any: AtomicBool,
    misses: AtomicBool,
}

impl std::fmt::Debug for RemovalHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemovalHooks")
            .field("listeners", &self.listeners.read().len())
            .finish()
    }
}

impl RemovalHooks {
    /// Adds a listener; it hears every later removal.
    pub fn add(&self, listener: Arc<dyn RemovalListener>) {
        self.listeners.write().push(listener);
        self.any.store(true, Ordering::Release);
    }

    /// Starts or stops reporting reads that miss (off at first: a miss is
    /// then one atomic load more).
    pub fn report_misses(&self, on: bool) {
        self.misses.store(on, Ordering::Release);
    }

    /// Tells every listener that a read of `key` in database `db` missed,
    /// if misses are reported.
    #[inline]
    pub fn report_miss(&self, db: usize, key: &[u8]) {
        if !self.misses.load(Ordering::Acquire) {
            return;
        }
        for listener in self.listeners.read().iter() {
            listener.missed(db, key);
        }
    }

    /// Tells every listener that `key` of database `db` was removed.
    #[inline]
    pub fn report(&self, db: usize, key: &[u8], why: Removal) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        for listener in self.listeners.read().iter() {
            listener.removed(db, key, why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Seen(Mutex<Vec<(usize, Vec<u8>, Removal)>>);

    impl RemovalListener for Seen {
        fn removed(&self, db: usize, key: &[u8], why: Removal) {
            self.0.lock().push((db, key.to_vec(), why));
        }
    }

    #[test]
    fn every_listener_hears_every_removal() {
        let hooks = RemovalHooks::default();
        hooks.report(0, b"unheard", Removal::Expired);
        let (first, second) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
        hooks.add(first.clone());
        hooks.add(second.clone());
        hooks.report(3, b"k", Removal::Evicted);
        for seen in [first, second] {
            assert_eq!(*seen.0.lock(), [(3, b"k".to_vec(), Removal::Evicted)]);
        }
    }
}
