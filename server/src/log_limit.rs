//! Rate limits for warnings that a client or a stranger can trigger at
//! will (cross-protocol requests, output limits, refused peers): at most one
//! log line per period for each kind, saying how many were left out, so an
//! attacker cannot fill the disk or drown the log.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::unix_ms;

/// How often each kind of warning may be logged, unless a kind says
/// otherwise.
pub const WARN_PERIOD_MS: u64 = 5_000;

/// One kind of rate-limited warning.
#[derive(Debug)]
pub struct LogLimit {
    period_ms: u64,
    next_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl Default for LogLimit {
    fn default() -> Self {
        LogLimit::new(WARN_PERIOD_MS)
    }
}

impl LogLimit {
    /// At most one line every `period_ms` milliseconds.
    pub const fn new(period_ms: u64) -> LogLimit {
        LogLimit {
            period_ms,
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when a line may be logged now, `n` being how many were
    /// left out since the last one; `None` when this one must be left out.
    pub fn allow(&self) -> Option<u64> {
        let now = unix_ms();
        let next = self.next_ms.load(Ordering::Relaxed);
        if now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now + self.period_ms,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_then_the_count_of_the_rest() {
        let limit = LogLimit::new(60_000);
        assert_eq!(limit.allow(), Some(0));
        assert_eq!(limit.allow(), None);
        assert_eq!(limit.allow(), None);
        limit.next_ms.store(0, Ordering::Relaxed);
        assert_eq!(limit.allow(), Some(2));
    }
}
