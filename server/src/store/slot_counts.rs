//! Keys, and keys with a TTL, per cluster slot: kept by the shards of a
//! cluster node's store at their single insert and remove points, so that
//! DBSIZE, INFO keyspace and CLUSTER COUNTKEYSINSLOT answer for the slots a
//! node is primary for without walking its keys.
//!
//! A slot's keys are spread over every shard (shards split keys by hash),
//! so the counts are shared atomics, changed under the lock of the shard
//! that changes; a flush of the whole database takes every shard's lock
//! before it zeroes them, so they stay exact.

use std::sync::atomic::{AtomicU32, Ordering};

use ringcache_proto::{key_slot, SLOT_COUNT};

/// A set of slots (the ones a node is primary for), one bit each.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotSet {
    bits: Box<[u64]>,
}

impl std::fmt::Debug for SlotSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotSet({} slots)", self.len())
    }
}

impl SlotSet {
    /// The slots for which `has` is true.
    pub fn from_fn(has: impl Fn(u16) -> bool) -> SlotSet {
        let mut bits = vec![0u64; usize::from(SLOT_COUNT) / 64].into_boxed_slice();
        for slot in (0..SLOT_COUNT).filter(|&s| has(s)) {
            bits[usize::from(slot) / 64] |= 1 << (slot % 64);
        }
        SlotSet { bits }
    }

    /// Whether `slot` is in the set.
    #[inline]
    pub fn contains(&self, slot: u16) -> bool {
        self.bits
            .get(usize::from(slot) / 64)
            .is_some_and(|word| word & (1 << (slot % 64)) != 0)
    }

    /// Whether `key`'s slot is in the set.
    #[inline]
    pub fn has_key(&self, key: &[u8]) -> bool {
        self.contains(key_slot(key))
    }

    /// Number of slots in the set.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// True when no slot is in the set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// See the module docs.
pub struct SlotCounts {
    keys: Box<[AtomicU32]>,
    volatile: Box<[AtomicU32]>,
}

impl std::fmt::Debug for SlotCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotCounts").finish_non_exhaustive()
    }
}

impl Default for SlotCounts {
    fn default() -> Self {
        let zeros = || (0..SLOT_COUNT).map(|_| AtomicU32::new(0)).collect();
        SlotCounts {
            keys: zeros(),
            volatile: zeros(),
        }
    }
}

impl SlotCounts {
    fn at<'c>(counts: &'c [AtomicU32], key: &[u8]) -> &'c AtomicU32 {
        // key_slot is below SLOT_COUNT, the length of both arrays.
        &counts[usize::from(key_slot(key))]
    }

    /// A key was inserted (with a TTL when `volatile`).
    #[inline]
    pub(crate) fn added(&self, key: &[u8], volatile: bool) {
        let slot = usize::from(key_slot(key));
        self.keys[slot].fetch_add(1, Ordering::Relaxed);
        if volatile {
            self.volatile[slot].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A key was removed (it had a TTL when `volatile`).
    #[inline]
    pub(crate) fn removed(&self, key: &[u8], volatile: bool) {
        let slot = usize::from(key_slot(key));
        self.keys[slot].fetch_sub(1, Ordering::Relaxed);
        if volatile {
            self.volatile[slot].fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A key gained (`true`) or lost a TTL.
    #[inline]
    pub(crate) fn volatility(&self, key: &[u8], volatile: bool) {
        let count = Self::at(&self.volatile, key);
        if volatile {
            count.fetch_add(1, Ordering::Relaxed);
        } else {
            count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Zeroes every count: the caller holds every shard's lock.
    pub(crate) fn clear(&self) {
        for count in self.keys.iter().chain(self.volatile.iter()) {
            count.store(0, Ordering::Relaxed);
        }
    }

    /// Keys in `slot` (expired ones not yet reclaimed included, as Redis
    /// counts them).
    pub fn keys(&self, slot: u16) -> u64 {
        self.keys
            .get(usize::from(slot))
            .map_or(0, |c| u64::from(c.load(Ordering::Relaxed)))
    }

    /// (keys, keys with a TTL) over the slots of `set` when `inside`, or
    /// over the others.
    pub fn sum(&self, set: &SlotSet, inside: bool) -> (u64, u64) {
        let (mut keys, mut volatile) = (0, 0);
        for slot in (0..SLOT_COUNT).filter(|&s| set.contains(s) == inside) {
            let i = usize::from(slot);
            keys += u64::from(self.keys[i].load(Ordering::Relaxed));
            volatile += u64::from(self.volatile[i].load(Ordering::Relaxed));
        }
        (keys, volatile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_inserts_removes_and_ttls() {
        let counts = SlotCounts::default();
        counts.added(b"a", false);
        counts.added(b"b", true);
        counts.volatility(b"a", true);
        let slot_a = key_slot(b"a");
        let only_a = SlotSet::from_fn(|s| s == slot_a);
        assert_eq!(counts.sum(&only_a, true), (1, 1));
        assert_eq!(counts.sum(&only_a, false), (1, 1));
        counts.removed(b"a", true);
        assert_eq!(counts.sum(&only_a, true), (0, 0));
        assert_eq!(counts.keys(key_slot(b"b")), 1);
        counts.clear();
        assert_eq!(counts.sum(&only_a, false), (0, 0));
    }

    #[test]
    fn slot_sets_hold_what_they_were_built_from() {
        let even = SlotSet::from_fn(|s| s % 2 == 0);
        assert_eq!(even.len(), usize::from(SLOT_COUNT) / 2);
        assert!(even.contains(16382) && !even.contains(16383));
        assert!(!SlotSet::from_fn(|_| false).contains(0));
        assert!(SlotSet::from_fn(|_| false).is_empty());
    }
}
