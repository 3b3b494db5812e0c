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
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&Entry)) -> u64 {
        let shard_bits = self.shard_count().trailing_zeros();
        let mut shard_index = (cursor as usize) & self.inner.shard_mask;
        let position_mask = (1u64 << SCAN_LAYOUT_SHIFT) - 1;
        let mut bucket = ((cursor & position_mask) >> shard_bits) as usize;
        let layout = (cursor >> SCAN_LAYOUT_SHIFT) as u16;
        let now = self.now();
        let mut looked = 0;
        while shard_index < self.shard_count() {
            let shard = self.lock_shard(shard_index);
            if bucket > 0 && layout != shard.layout() {
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
                if looked >= count && bucket < buckets {
                    return (u64::from(shard.layout()) << SCAN_LAYOUT_SHIFT)
                        | ((bucket as u64) << shard_bits)
                        | shard_index as u64;
                }
            }
            shard_index += 1;
            bucket = 0;
            if looked >= count && shard_index < self.shard_count() {
                return shard_index as u64;
            }
        }
        0
    }
}

/// Where a SCAN cursor keeps the shard's layout counter (its top 16 bits);
/// below it, the bucket and the shard.
const SCAN_LAYOUT_SHIFT: u32 = 48;
