//! The soft half of Redis's `client-output-buffer-limit`: a queue over
//! its soft size for longer than the soft seconds has passed its limit.
//! The Pub/Sub and tracking inbox and the MONITOR feed share it.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::unix_ms;

/// When a queue went over its soft size.
#[derive(Debug, Default)]
pub struct SoftLimit {
    /// Unix ms; 0 while under the soft size.
    over_since: AtomicU64,
}

impl SoftLimit {
    /// True when `bytes` is over `soft` (0: no soft limit) and has stayed
    /// over it for more than `seconds`.
    pub fn passed(&self, bytes: u64, soft: u64, seconds: u64) -> bool {
        if soft == 0 || bytes <= soft {
            self.over_since.store(0, Ordering::Relaxed);
            return false;
        }
        let now = unix_ms();
        let since =
            match self
                .over_since
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => now,
                Err(since) => since,
            };
        now.saturating_sub(since) > seconds * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_the_soft_size_or_without_one_never_passes() {
        let limit = SoftLimit::default();
        assert!(!limit.passed(10, 100, 0));
        assert!(!limit.passed(1000, 0, 0));
        // Over it, for 0 seconds allowed: passes once a millisecond went by.
        assert!(!limit.passed(1000, 100, 60));
        limit
            .over_since
            .store(unix_ms() - 61_000, Ordering::Relaxed);
        assert!(limit.passed(1000, 100, 60));
        // Back under it: the clock restarts.
        assert!(!limit.passed(10, 100, 60));
        assert!(!limit.passed(1000, 100, 60));
    }
}
