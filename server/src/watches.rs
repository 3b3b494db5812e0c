//! WATCH: which connections watch which keys, and the touch that marks
//! them when a key changes, so their next EXEC aborts.
//!
//! A connection's watch is an `Arc<AtomicBool>` flag; the registry holds
//! weak references to it per key, so a closed connection's entries are
//! dropped with its [`WatchSet`]. Writes check one atomic counter first:
//! with nothing watched (the common case) a touch costs one load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

type Watchers = Vec<Weak<AtomicBool>>;
/// (database, key).
type WatchedKey = (usize, Box<[u8]>);

/// See the module docs.
#[derive(Debug, Default)]
pub struct Watches {
    /// Registrations (key, watcher) in `keys`.
    count: AtomicUsize,
    keys: Mutex<HashMap<WatchedKey, Watchers>>,
}

impl Watches {
    /// True if some key is watched.
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Marks the watchers of `key` in database `db`.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if !self.any() {
            return;
        }
        let keys = self.keys.lock();
        if let Some(watchers) = keys.get(&(db, Box::from(key))) {
            mark(watchers);
        }
    }

    /// Marks every watcher (FLUSHALL, FLUSHDB, SWAPDB).
    pub fn touch_all(&self) {
        if !self.any() {
            return;
        }
        for watchers in self.keys.lock().values() {
            mark(watchers);
        }
    }

    fn add(&self, db: usize, key: &[u8], flag: &Arc<AtomicBool>) {
        let mut keys = self.keys.lock();
        let watchers = keys.entry((db, Box::from(key))).or_default();
        watchers.retain(|w| w.strong_count() > 0);
        watchers.push(Arc::downgrade(flag));
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn remove(&self, db: usize, key: &[u8], flag: &Arc<AtomicBool>) {
        let mut keys = self.keys.lock();
        let map_key = (db, Box::from(key));
        let Some(watchers) = keys.get_mut(&map_key) else {
            return;
        };
        let before = watchers.len();
        let target = Arc::downgrade(flag);
        watchers.retain(|w| !w.ptr_eq(&target));
        self.count
            .fetch_sub(before - watchers.len(), Ordering::Relaxed);
        if watchers.is_empty() {
            keys.remove(&map_key);
        }
    }
}

fn mark(watchers: &Watchers) {
    for watcher in watchers {
        if let Some(flag) = watcher.upgrade() {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// One connection's watched keys; unwatched when dropped (UNWATCH, EXEC,
/// DISCARD, RESET, or the connection closing).
#[derive(Debug)]
pub struct WatchSet {
    registry: Arc<Watches>,
    dirty: Arc<AtomicBool>,
    /// (database, key) -> whether it existed when watched. A map, so that
    /// a WATCH of many keys checks each for a repeat in constant time.
    keys: HashMap<WatchedKey, bool>,
}

impl WatchSet {
    /// An empty set registering with `registry`.
    pub fn new(registry: Arc<Watches>) -> Self {
        WatchSet {
            registry,
            dirty: Arc::new(AtomicBool::new(false)),
            keys: HashMap::new(),
        }
    }

    /// Watches `key` of `db` (again: no change); `exists` is whether it
    /// exists now, so an expiry or eviction before EXEC counts as a change.
    pub fn add(&mut self, db: usize, key: &[u8], exists: bool) {
        let watched = (db, Box::from(key));
        if self.keys.contains_key(&watched) {
            return;
        }
        self.registry.add(db, key, &self.dirty);
        self.keys.insert(watched, exists);
    }

    /// True if a watched key was written since it was watched.
    pub fn touched(&self) -> bool {
        self.dirty.load(Ordering::Relaxed)
    }

    /// The watched keys that existed when watched.
    pub fn existing(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.keys
            .iter()
            .filter(|(_, existed)| **existed)
            .map(|((db, key), _)| (*db, &key[..]))
    }
}

impl Drop for WatchSet {
    fn drop(&mut self) {
        for (db, key) in self.keys.keys() {
            self.registry.remove(*db, key, &self.dirty);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touches_reach_the_watchers_of_the_key_only() {
        let registry = Arc::new(Watches::default());
        let mut a = WatchSet::new(registry.clone());
        let mut b = WatchSet::new(registry.clone());
        a.add(0, b"k", true);
        b.add(1, b"k", false);
        registry.touch(0, b"other");
        registry.touch(1, b"k");
        assert!(!a.touched());
        assert!(b.touched());
        drop(b);
        drop(a);
        assert!(!registry.any(), "dropped sets leave nothing behind");
        assert!(registry.keys.lock().is_empty());
    }

    #[test]
    fn touch_all_marks_everyone() {
        let registry = Arc::new(Watches::default());
        let mut a = WatchSet::new(registry.clone());
        a.add(3, b"x", false);
        a.add(3, b"x", false);
        registry.touch_all();
        assert!(a.touched());
        assert_eq!(a.existing().count(), 0);
    }
}
