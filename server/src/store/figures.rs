//! What a store reports about itself: key counts, heap bytes and
//! counters per database, memory and lazyfree figures (DBSIZE, INFO,
//! MEMORY STATS).

use super::{ShardStats, SlotCounts, Store};

impl Store {
    /// Number of keys in this database (including expired ones not yet
    /// reclaimed, as Redis).
    pub fn len(&self) -> usize {
        self.db_shards().iter().map(|s| s.lock().len()).sum()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The average time to live in ms of this database's keys with a TTL,
    /// as the active expiry cycle estimates it per shard, weighted by each
    /// shard's keys with a TTL (INFO keyspace `avg_ttl`).
    pub fn avg_ttl(&self) -> u64 {
        let (weighted, volatile) = self
            .db_shards()
            .iter()
            .fold((0u128, 0u128), |(w, v), shard| {
                let shard = shard.lock();
                let n = shard.volatile() as u128;
                (w + u128::from(shard.avg_ttl()) * n, v + n)
            });
        weighted.checked_div(volatile).map_or(0, |avg| avg as u64)
    }

    /// Number of keys with a TTL in this database.
    pub fn volatile_len(&self) -> usize {
        self.db_shards().iter().map(|s| s.lock().volatile()).sum()
    }

    /// Keys per cluster slot, on a cluster node's store (database 0).
    pub fn slot_counts(&self) -> Option<&SlotCounts> {
        self.inner.slots.as_deref().filter(|_| self.db == 0)
    }

    /// Heap bytes of this database: (its hash tables, everything it holds
    /// including them), for MEMORY STATS.
    pub fn heap_bytes(&self) -> (usize, usize) {
        self.db_shards()
            .iter()
            .fold((0, 0), |(tables, all), shard| {
                let shard = shard.lock();
                (tables + shard.table_bytes(), all + shard.heap_bytes())
            })
    }

    /// Counters summed over the shards.
    pub fn stats(&self) -> ShardStats {
        let mut total = ShardStats::default();
        for shard in self.inner.shards.iter() {
            total += shard.lock().stats;
        }
        total
    }

    /// Zeroes hit, miss, expiry and eviction counters (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        for shard in self.inner.shards.iter() {
            shard.lock().stats = ShardStats::default();
        }
    }

    /// Objects waiting for the lazyfree thread (INFO
    /// `lazyfree_pending_objects`).
    pub fn lazyfree_pending(&self) -> u64 {
        self.inner.lazyfree.pending()
    }

    /// Objects the lazyfree thread has freed (INFO `lazyfreed_objects`).
    pub fn lazyfreed(&self) -> u64 {
        self.inner.lazyfree.freed()
    }

    /// Values freed inline because the lazyfree queue was full or stopped.
    pub fn lazyfree_inline(&self) -> u64 {
        self.inner.lazyfree.freed_inline()
    }

    /// Estimated allocated bytes (see [`MemoryGauge`]).
    #[inline]
    pub fn used_memory(&self) -> u64 {
        self.inner.gauge.used()
    }

    /// The highest allocated bytes sampled so far.
    pub fn peak_memory(&self) -> u64 {
        self.inner.gauge.peak()
    }

    /// Refreshes the allocator sample; returns allocated bytes.
    pub fn sample_memory(&self) -> u64 {
        self.inner.gauge.sample()
    }
}
