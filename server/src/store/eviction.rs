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
        let at = self.candidates.partition_point(|c| c.score < candidate.score);
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
        EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru => lru_idle_ms(entry.access(), now),
        EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => 255 - u64::from(lfu_counter(entry.access(), now)),
        EvictionPolicy::VolatileTtl => u64::MAX - expire.unwrap_or(u64::MAX),
        EvictionPolicy::AllKeysRandom | EvictionPolicy::VolatileRandom | EvictionPolicy::NoEviction => 0,
    })
}

/// Samples up to `samples` evictable entries of `shard` at random bucket
/// positions and hands each to `sink`.
pub fn sample(shard: &Shard, shard_index: usize, policy: EvictionPolicy, samples: usize, now: u64, mut sink: impl FnMut(Candidate)) {
    let buckets = shard.num_buckets();
    if buckets == 0 || shard.is_empty() || (policy.volatile_only() && shard.volatile() == 0) {
        return;
    }
    let mut found = 0;
    // Probing empty buckets is cheap; bound the tries for sparse tables.
    let mut tries = samples * 16;
    let start = fastrand::usize(..buckets);
    let mut index = start;
    while found < samples && tries > 0 {
        tries -= 1;
        if let Some(entry) = shard.bucket(index) {
            if let Some(score) = score(policy, entry, now) {
                found += 1;
                sink(Candidate {
                    score,
                    shard: shard_index,
                    key: entry.key().to_vec(),
                });
            }
        }
        // Random positions, not neighbours: neighbouring buckets share
        // insertion history.
        index = fastrand::usize(..buckets);
    }
}
