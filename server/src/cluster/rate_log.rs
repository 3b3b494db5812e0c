//! Rate limits for warnings a stranger can trigger at will (forged gossip,
//! wrong peer proofs, refused connections): at most one line per period per
//! limiter, saying how many were left out since the last one, so a flood
//! cannot fill the log.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How often each kind of refusal may be logged.
pub const WARN_PERIOD: Duration = Duration::from_secs(5);

/// One limiter per kind of event.
#[derive(Debug)]
pub struct RateLimit {
    period: Duration,
    // (when the last line was let through, events left out since); a
    // short critical section with no `.await`.
    state: Mutex<(Option<Instant>, u64)>,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::new(WARN_PERIOD)
    }
}

impl RateLimit {
    /// A limiter letting one event through per `period`.
    pub const fn new(period: Duration) -> RateLimit {
        RateLimit {
            period,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(events left out since the last one let through)` if this
    /// event may be logged now; `None` (and counted) otherwise.
    pub fn allow(&self) -> Option<u64> {
        let now = Instant::now();
        let mut state = self.state.lock();
        match state.0 {
            Some(last) if now.duration_since(last) < self.period => {
                state.1 += 1;
                None
            }
            _ => {
                state.0 = Some(now);
                Some(std::mem::take(&mut state.1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_one_through_per_period_and_counts_the_rest() {
        let limit = RateLimit::new(Duration::from_secs(3600));
        assert_eq!(limit.allow(), Some(0));
        assert_eq!(limit.allow(), None);
        assert_eq!(limit.allow(), None);
        let quick = RateLimit::new(Duration::ZERO);
        assert_eq!(quick.allow(), Some(0));
        assert_eq!(quick.allow(), Some(0));
    }
}
