//! Walking the key space: SCAN's resumable cursor, KEYS one shard at a
//! time, and RANDOMKEY.
//!
//! Each walk holds one shard's lock at a time and never two at once, so a
//! walk over the whole store delays a command on another shard by at most
//! one shard's worth of work.

use super::{Entry, SlotSet, Store};
use crate::glob::Pattern;

impl Store {
    /// The live keys of shard `index` that `pattern` matches (all of them
    /// for a lone `*`, as KEYS does), under one hold of that shard's lock.
    /// KEYS calls it for each shard in turn, so the node can serve other
    /// clients between shards.
    pub fn keys_in_shard(&self, index: usize, pattern: &Pattern<'_>) -> Vec<Vec<u8>> {
        self.keys_in_shard_of(index, pattern, None)
    }

    /// [`Store::keys_in_shard`], keeping only keys of the slots in `only`
    /// when given (a cluster node's own key space).
    pub fn keys_in_shard_of(
        &self,
        index: usize,
        pattern: &Pattern<'_>,
        only: Option<&SlotSet>,
    ) -> Vec<Vec<u8>> {
        let all = pattern.is_match_all();
        let now = self.now();
        let shard = self.lock_shard(index);
        let mut keys = Vec::new();
        for bucket in 0..shard.num_buckets() {
            if let Some(entry) = shard.bucket(bucket) {
                let key = entry.key();
                if !entry.is_expired(now)
                    && (all || pattern.matches(key))
                    && only.is_none_or(|set| set.has_key(key))
                {
                    keys.push(key.to_vec());
                }
            }
        }
        keys
    }

    /// A random live key, if any.
    pub fn random_key(&self) -> Option<Vec<u8>> {
        self.random_key_of(None)
    }

    /// A random live key of the slots in `only` when given (a cluster
    /// node's own key space), of any slot otherwise.
    pub fn random_key_of(&self, only: Option<&SlotSet>) -> Option<Vec<u8>> {
        let shards = self.shard_count();
        let now = self.now();
        let wanted = |entry: &Entry| {
            !entry.is_expired(now) && only.is_none_or(|set| set.has_key(entry.key()))
        };
        for _ in 0..shards * 4 {
            let shard = self.lock_shard(fastrand::usize(..shards));
            let buckets = shard.num_buckets();
            if shard.is_empty() || buckets == 0 {
                continue;
            }
            for _ in 0..64 {
                if let Some(entry) = shard.bucket(fastrand::usize(..buckets)) {
                    if wanted(entry) {
                        return Some(entry.key().to_vec());
                    }
                }
            }
        }
        // Sparse, mostly expired or mostly other nodes' copies: fall back
        // to a scan.
        for index in 0..self.shard_count() {
            let shard = self.lock_shard(index);
            for i in 0..shard.num_buckets() {
                if let Some(entry) = shard.bucket(i) {
                    if wanted(entry) {
                        return Some(entry.key().to_vec());
                    }
                }
            }
        }
        None
    }

    /// Visits live entries from `cursor` on, shard by shard and bucket by
    /// bucket, until about `count` buckets were looked at. Returns the next
    /// cursor (0 when done).
    ///
    /// The cursor packs (layout, bucket, shard): a position inside a shard
    /// carries that shard's layout counter, and when the
    /// table has been rehashed since, the shard is walked again from its
    /// first bucket. Keys present for the whole iteration are so always
    /// returned (some maybe twice, which SCAN allows), while the table grows
    /// or shrinks between calls.
    pub fn scan(&self, cursor: u64, count: usize, visit: impl FnMut(&Entry)) -> u64 {
        let layout = (cursor >> SCAN_LAYOUT_SHIFT) as u16;
        let position = cursor & ((1u64 << SCAN_LAYOUT_SHIFT) - 1);
        let stop = Stop {
            count,
            below: 1 << SCAN_LAYOUT_SHIFT,
        };
        let (layout, position) = self.scan_from(position, |now| now == layout, stop, visit);
        (u64::from(layout) << SCAN_LAYOUT_SHIFT) | position
    }

    /// [`Store::scan`] with a cursor of [`NARROW_CURSOR_BITS`] bits, so
    /// that a cluster-wide SCAN cursor has room for the ring node and the
    /// ring's fingerprint above it: the layout counter's low 8 bits, then
    /// the position. A position that would not fit is never returned (the
    /// walk goes on to the shard's end instead), and a rehash is noticed
    /// unless the shard was rehashed a multiple of 256 times between two
    /// calls.
    pub fn scan_narrow(&self, cursor: u64, count: usize, visit: impl FnMut(&Entry)) -> u64 {
        let layout = (cursor >> NARROW_POSITION_BITS) as u8;
        let position = cursor & ((1u64 << NARROW_POSITION_BITS) - 1);
        let stop = Stop {
            count,
            below: 1 << NARROW_POSITION_BITS,
        };
        // Truncated on purpose: the cursor keeps the counter's low byte.
        let same = |now: u16| now as u8 == layout;
        let (layout, position) = self.scan_from(position, same, stop, visit);
        (u64::from(layout as u8) << NARROW_POSITION_BITS) | position
    }

    /// The walk of both cursor forms: from `position` (bucket and shard),
    /// where `same_layout` says whether the shard's layout counter is the
    /// cursor's. Returns the layout counter and position to resume at
    /// (position 0: done).
    fn scan_from(
        &self,
        position: u64,
        same_layout: impl Fn(u16) -> bool,
        stop: Stop,
        mut visit: impl FnMut(&Entry),
    ) -> (u16, u64) {
        let shard_bits = self.shard_count().trailing_zeros();
        let mut shard_index = (position as usize) & self.inner.shard_mask;
        let mut bucket = (position >> shard_bits) as usize;
        let now = self.now();
        let mut looked = 0;
        while shard_index < self.shard_count() {
            let shard = self.lock_shard(shard_index);
            if bucket > 0 && !same_layout(shard.layout()) {
                bucket = 0;
            }
            let buckets = shard.num_buckets();
            while bucket < buckets {
                if let Some(entry) = shard.bucket(bucket) {
                    if !entry.is_expired(now) {
                        visit(entry);
                    }
                }
                bucket += 1;
                looked += 1;
                let resume = ((bucket as u64) << shard_bits) | shard_index as u64;
                if looked >= stop.count && bucket < buckets && resume < stop.below {
                    return (shard.layout(), resume);
                }
            }
            shard_index += 1;
            bucket = 0;
            if looked >= stop.count && shard_index < self.shard_count() {
                return (0, shard_index as u64);
            }
        }
        (0, 0)
    }
}

/// Where a walk may pause: after `count` buckets, at a position below
/// `below` (one its cursor can hold).
#[derive(Clone, Copy)]
struct Stop {
    count: usize,
    below: u64,
}

/// Bits of a [`Store::scan_narrow`] cursor.
pub const NARROW_CURSOR_BITS: u32 = NARROW_POSITION_BITS + 8;
/// Bits of a narrow cursor's position (bucket and shard): 2^36 buckets are
/// far more than a node's memory holds.
const NARROW_POSITION_BITS: u32 = 36;

/// Where a SCAN cursor keeps the shard's layout counter (its top 16 bits);
/// below it, the bucket and the shard.
const SCAN_LAYOUT_SHIFT: u32 = 48;

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::store::StoreOptions;

    fn put(store: &Store, key: &[u8]) {
        store.lock(key).put_string(key, b"v", None);
    }

    #[test]
    fn narrow_cursors_fit_and_survive_rehashes() {
        for shards in [1, 4, 64] {
            let store = Store::new(StoreOptions {
                shards,
                ..StoreOptions::default()
            });
            let keys: Vec<Vec<u8>> = (0..1000).map(|i| format!("key:{i}").into_bytes()).collect();
            for key in &keys {
                put(&store, key);
            }
            let mut seen = HashSet::new();
            let mut cursor = 0;
            let mut calls = 0;
            loop {
                cursor = store.scan_narrow(cursor, 3, |e| {
                    seen.insert(e.key().to_vec());
                });
                assert!(cursor < 1 << NARROW_CURSOR_BITS, "{cursor:x}");
                calls += 1;
                // Growing the tables mid-scan rehashes them.
                if calls == 5 {
                    for i in 0..5000 {
                        put(&store, format!("more:{i}").as_bytes());
                    }
                }
                if cursor == 0 || calls > 1_000_000 {
                    break;
                }
            }
            assert_eq!(cursor, 0, "finished");
            assert!(keys.iter().all(|k| seen.contains(k)), "shards {shards}");
        }
    }
}
