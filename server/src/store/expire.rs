//! Active expiry: the maintenance thread's pass over the shards with TTL
//! keys, reclaiming keys nobody reads (lazy expiry on access catches the
//! rest).

use std::time::Duration;

use super::Store;

/// Buckets the active expiry cycle may scan per shard and lock hold.
const EXPIRE_CHUNK: usize = 4096;

impl Store {
    /// One pass of active expiry: every shard with TTL keys scans up to
    /// `budget` buckets, a chunk per lock hold, and gives memory back when
    /// mostly empty. Returns the number of keys removed.
    pub fn expire_cycle(&self, budget: usize) -> usize {
        let now = self.now();
        let mut removed = 0;
        for shard in self.inner.shards.iter() {
            let mut left = budget;
            while left > 0 {
                let mut guard = shard.lock();
                let chunk = left.min(EXPIRE_CHUNK);
                let (scanned, gone) = guard.expire_some(chunk, now);
                removed += gone;
                if scanned < chunk {
                    left = 0;
                } else {
                    left -= chunk;
                }
                if left == 0 {
                    guard.maybe_shrink();
                }
            }
        }
        removed
    }

    /// Buckets per shard an expiry pass should scan so that every bucket is
    /// visited about once per second when the pass runs every `period`.
    pub fn expire_budget(&self, period: Duration) -> usize {
        let largest = self
            .inner
            .shards
            .iter()
            .map(|s| s.lock().num_buckets())
            .max()
            .unwrap_or(0);
        let passes_per_second = (1000 / period.as_millis().max(1)) as usize;
        (largest / passes_per_second.max(1)).max(256)
    }
}
