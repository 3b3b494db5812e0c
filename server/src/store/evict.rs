//! The eviction driver: before a write that may grow memory, evict until
//! used memory is under `maxmemory`, one victim at a time, with the
//! sampling and pool of [`super::eviction`]; evicted keys are reported to
//! whoever listens (the cluster ships them to replicas as deletes).

use super::eviction::{self, Candidate, EvictionPool};
use super::{EvictionPolicy, OutOfMemory, Store};

/// Most entries one write may evict before giving up with OOM.
const MAX_EVICTIONS_PER_WRITE: usize = 10_000;

/// What became of an eviction candidate.
enum Victim {
    /// Removed.
    Evicted,
    /// Deleted, expired, or not evictable under the current policy.
    Gone,
    /// Used since it was sampled: its current, lower score.
    Stale(u64),
}

impl Store {
    /// Makes room before a write that may grow memory: evicts until used
    /// memory is under `maxmemory`.
    ///
    /// # Errors
    /// [`OutOfMemory`] when over the bound and the policy is `noeviction`
    /// or nothing evictable is left.
    #[inline]
    pub fn make_room(&self) -> Result<(), OutOfMemory> {
        let max = self.maxmemory();
        if max == 0 || self.used_memory() <= max {
            return Ok(());
        }
        self.evict_until(max)
    }

    #[cold]
    fn evict_until(&self, max: u64) -> Result<(), OutOfMemory> {
        let policy = self.policy();
        if policy == EvictionPolicy::NoEviction {
            return Err(OutOfMemory);
        }
        let mut evicted = 0;
        while self.used_memory() > max {
            if evicted == MAX_EVICTIONS_PER_WRITE || !self.evict_one(policy) {
                return Err(OutOfMemory);
            }
            evicted += 1;
        }
        Ok(())
    }

    /// Evicts one entry; false if no entry may be evicted.
    pub fn evict_one(&self, policy: EvictionPolicy) -> bool {
        // Every database's shards: eviction serves the whole memory bound.
        let shards = self.inner.shards.len();
        let samples = self.samples();
        let now = self.now();
        let random = matches!(
            policy,
            EvictionPolicy::AllKeysRandom | EvictionPolicy::VolatileRandom
        );
        // Visit shards from a random one, so one empty or key-less shard
        // does not stop eviction.
        let first = fastrand::usize(..shards);
        for step in 0..shards {
            let index = (first + step) % shards;
            let mut candidates = Vec::with_capacity(samples);
            {
                let shard = self.inner.shards[index].lock();
                eviction::sample(
                    &shard,
                    index,
                    policy,
                    if random { 1 } else { samples },
                    now,
                    |c| candidates.push(c),
                );
            }
            if candidates.is_empty() {
                continue;
            }
            if random {
                if let Some(c) = candidates.pop() {
                    if matches!(
                        self.evict_candidate(&c, policy, now, false),
                        Victim::Evicted
                    ) {
                        return true;
                    }
                }
                continue;
            }
            let mut pool = self.inner.pool.lock();
            for c in candidates {
                pool.offer(c);
            }
            if self.evict_from_pool(&mut pool, policy, now) {
                return true;
            }
        }
        false
    }

    /// Evicts the pool's best candidate that is still evictable. Pooled
    /// scores date from when the key was sampled; a key used since then is
    /// put back with its current score instead of being evicted on the
    /// strength of a stale one.
    fn evict_from_pool(&self, pool: &mut EvictionPool, policy: EvictionPolicy, now: u64) -> bool {
        // Each recheck refreshes a score to its exact value at `now`, so a
        // candidate comes back stale only if it is used again meanwhile;
        // the bound keeps a hot, contended key from looping here.
        let mut rechecks = eviction::POOL_SIZE * 2;
        while let Some(mut best) = pool.take_best() {
            match self.evict_candidate(&best, policy, now, rechecks > 0) {
                Victim::Evicted => return true,
                Victim::Gone => {}
                Victim::Stale(score) => {
                    rechecks -= 1;
                    best.score = score;
                    pool.offer(best);
                }
            }
        }
        false
    }

    fn evict_candidate(
        &self,
        candidate: &Candidate,
        policy: EvictionPolicy,
        now: u64,
        recheck: bool,
    ) -> Victim {
        let (_, hash) = self.locate(&candidate.key);
        let mut shard = self.inner.shards[candidate.shard].lock();
        let Some(index) = shard.find(hash, &candidate.key, now) else {
            return Victim::Gone;
        };
        let Some(score) = eviction::score(policy, shard.at(index), now) else {
            return Victim::Gone;
        };
        if recheck && score < candidate.score {
            return Victim::Stale(score);
        }
        let victim = shard.delete_at(index);
        shard.stats.evicted += 1;
        shard.report_evicted(&candidate.key);
        // Freed once the shard is unlocked.
        drop(shard);
        drop(victim);
        if let Some(log) = self.inner.eviction_log.get() {
            // Full: the listener is behind; its copy of the key then lives
            // until its own eviction or expiry, which a cache tolerates.
            let _ = log.try_send(candidate.key.clone());
        }
        Victim::Evicted
    }

    /// Reports every evicted key on the returned channel (at most
    /// `capacity` waiting; more are dropped). Only the first call listens.
    pub fn log_evictions(&self, capacity: usize) -> Option<std::sync::mpsc::Receiver<Vec<u8>>> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(capacity);
        self.inner.eviction_log.set(sender).ok()?;
        Some(receiver)
    }
}
