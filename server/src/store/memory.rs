//! Used memory as the allocator sees it.
//!
//! `maxmemory` is compared with jemalloc's count of allocated bytes, so the
//! bound holds whatever the fragmentation. Reading that count means
//! refreshing jemalloc's statistics, too slow for every write, so a sampler
//! reads it every few milliseconds and the store adds the bytes its own
//! entries gained or lost since the last sample.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Allocated bytes: the last allocator sample, corrected by the store's
/// own changes since.
#[derive(Debug, Default)]
pub struct MemoryGauge {
    /// Bytes allocated at the last sample.
    sampled: AtomicU64,
    /// Running total of the store's own allocation changes.
    tracked: AtomicI64,
    /// `tracked` at the last sample.
    tracked_at_sample: AtomicI64,
    /// Highest sample seen.
    peak: AtomicU64,
}

impl MemoryGauge {
    /// Records a change of the store's allocations.
    #[inline]
    pub fn add(&self, delta: isize) {
        if delta != 0 {
            self.tracked.fetch_add(delta as i64, Ordering::Relaxed);
        }
    }

    /// The current estimate of allocated bytes.
    #[inline]
    pub fn used(&self) -> u64 {
        let since =
            self.tracked.load(Ordering::Relaxed) - self.tracked_at_sample.load(Ordering::Relaxed);
        self.sampled
            .load(Ordering::Relaxed)
            .saturating_add_signed(since)
    }

    /// Takes a new allocator sample; returns allocated bytes.
    pub fn sample(&self) -> u64 {
        let tracked = self.tracked.load(Ordering::Relaxed);
        let allocated = allocated_bytes().unwrap_or_else(|| {
            // No allocator statistics (a build without jemalloc): fall
            // back to the store's own count.
            tracked.max(0) as u64
        });
        self.tracked_at_sample.store(tracked, Ordering::Relaxed);
        self.sampled.store(allocated, Ordering::Relaxed);
        self.peak.fetch_max(allocated, Ordering::Relaxed);
        allocated
    }

    /// The highest allocated bytes sampled so far.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

/// The bytes jemalloc hands out for a request of `requested` bytes (its
/// size class), so a value's `heap_size` counts what it really takes: 8,
/// then multiples of 16 up to 128, then four classes per doubling.
pub fn allocation_size(requested: usize) -> usize {
    match requested {
        0 => 0,
        1..=8 => 8,
        9..=128 => requested.next_multiple_of(16),
        _ => {
            let group = 1usize << (usize::BITS - 1 - (requested - 1).leading_zeros());
            requested.next_multiple_of(group / 4)
        }
    }
}

/// Bytes allocated by the process, from jemalloc.
pub fn allocated_bytes() -> Option<u64> {
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    tikv_jemalloc_ctl::stats::allocated::read()
        .ok()
        .map(|n| n as u64)
}

/// Bytes in the allocator's active pages (MEMORY STATS).
pub fn active_bytes() -> Option<u64> {
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    tikv_jemalloc_ctl::stats::active::read()
        .ok()
        .map(|n| n as u64)
}

/// Resident bytes as jemalloc sees them (for INFO used_memory_rss).
pub fn resident_bytes() -> Option<u64> {
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    tikv_jemalloc_ctl::stats::resident::read()
        .ok()
        .map(|n| n as u64)
}

#[cfg(test)]
mod tests {
    use super::allocation_size;

    #[test]
    fn sizes_round_up_to_jemalloc_classes() {
        let cases = [
            (0, 0),
            (1, 8),
            (8, 8),
            (9, 16),
            (21, 32),
            (128, 128),
            (129, 160),
            (160, 160),
            (161, 192),
            (257, 320),
            (4097, 5120),
            (1 << 20, 1 << 20),
        ];
        for (requested, class) in cases {
            assert_eq!(allocation_size(requested), class, "{requested}");
        }
    }
}
