//! Eviction under `maxmemory`, as Redis does it: sample a few random
//! entries, keep the best candidates seen so far in a small pool, evict the
//! best. Sampling needs random access to the table, which hashbrown's
//! bucket API gives safely.

use super::entry::Entry;
use super::policy::{lfu_counter, lru_idle_ms, EvictionPolicy};
use super::shard::Shard;

/// Candidates kept between evictions (Redis EVPOOL_SIZE).
pub const POOL_SIZE: usize = 16;

/// A key that may be evicted, with its score (higher evicts first).
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Higher means a better victim.
    pub score: u64,
    /// Shard holding the key.
    pub shard: usize,
    /// The key.
    pub key: Vec<u8>,
}

/// The best victims seen so far, sorted by ascending score.
#[derive(Debug, Default)]
pub struct EvictionPool {
    candidates: Vec<Candidate>,
}

impl EvictionPool {
    /// Offers a candidate; keeps the `POOL_SIZE` best, no duplicates.
    pub fn offer(&mut self, candidate: Candidate) {
        if let Some(existing) = self
            .candidates
            .iter_mut()
            .find(|c| c.shard == candidate.shard && c.key == candidate.key)
        {
            existing.score = candidate.score;
            self.candidates.sort_by_key(|c| c.score);
            return;
        }
        if self.candidates.len() == POOL_SIZE {
            if self.candidates[0].score >= candidate.score {
                return;
            }
            self.candidates.remove(0);
        }
        let at = self
            .candidates
            .partition_point(|c| c.score < candidate.score);
        self.candidates.insert(at, candidate);
    }

    /// Takes the best candidate.
    pub fn take_best(&mut self) -> Option<Candidate> {
        self.candidates.pop()
    }

    /// Forgets every candidate (after FLUSHALL or a policy change).
    pub fn clear(&mut self) {
        self.candidates.clear();
    }
}

/// How good a victim `entry` is under `policy`, or None if the policy may
/// not evict it.
pub fn score(policy: EvictionPolicy, entry: &Entry, now: u64) -> Option<u64> {
    let expire = entry.expire_at();
    if policy.volatile_only() && expire.is_none() {
        return None;
    }
    Some(match policy {
        EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru => {
            lru_idle_ms(entry.access(), now)
        }
        EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => {
            255 - u64::from(lfu_counter(entry.access(), now))
        }
        EvictionPolicy::VolatileTtl => u64::MAX - expire.unwrap_or(u64::MAX),
        EvictionPolicy::AllKeysRandom | EvictionPolicy::VolatileRandom => 0,
        EvictionPolicy::NoEviction => return None,
    })
}

/// Samples up to `samples` evictable entries of `shard` at random bucket
/// positions and hands each to `sink`.
///
/// When random probes find nothing although the shard holds entries (a
/// table left sparse by deletions, or a few TTL keys among many under a
/// volatile policy), walks the buckets from a random one instead: an
/// evictable entry must never be overlooked, or the write gets a false OOM.
pub fn sample(
    shard: &Shard,
    shard_index: usize,
    policy: EvictionPolicy,
    samples: usize,
    now: u64,
    mut sink: impl FnMut(Candidate),
) {
    let buckets = shard.num_buckets();
    if buckets == 0 || shard.is_empty() || (policy.volatile_only() && shard.volatile() == 0) {
        return;
    }
    // Hands the entry in bucket `index` to `sink` if it may be evicted.
    let mut consider = |index: usize| -> bool {
        let Some(entry) = shard.bucket(index) else {
            return false;
        };
        let Some(score) = score(policy, entry, now) else {
            return false;
        };
        sink(Candidate {
            score,
            shard: shard_index,
            key: entry.key().to_vec(),
        });
        true
    };
    let mut found = 0;
    // Probing empty buckets is cheap; bound the tries for sparse tables.
    // Random positions, not neighbours: neighbouring buckets share
    // insertion history.
    for _ in 0..samples * 16 {
        if found == samples {
            return;
        }
        found += usize::from(consider(fastrand::usize(..buckets)));
    }
    if found > 0 {
        return;
    }
    let start = fastrand::usize(..buckets);
    for step in 0..buckets {
        if found == samples {
            return;
        }
        found += usize::from(consider((start + step) % buckets));
    }
}
