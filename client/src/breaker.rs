//! A circuit breaker: stops calling a dependency that keeps failing, and
//! probes it again after a cool-down.
//!
//! The cache helpers ([`CacheAside`](crate::CacheAside),
//! [`WriteThrough`](crate::WriteThrough)) put one around the cache so that a
//! dead cache costs the application one short timeout per call only until
//! the circuit opens; after that, calls skip the cache at once and go to the
//! system of record. It is independent of the cache and can guard anything.
//!
//! States:
//! - **closed**: every call is let through; `failure_threshold` failures in
//!   a row (no success between them) open the circuit;
//! - **open**: every call is refused until `cool_down` has passed;
//! - **half-open**: the first call after the cool-down is let through as
//!   the one probe, others are refused while it runs; its success closes the
//!   circuit, its failure opens it for another cool-down. A probe dropped
//!   without a verdict lets the next call probe.
//!
//! What counts as a failure is the caller's decision: the cache helpers count
//! connection errors and timeouts, not misses or error replies.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing::{info, warn};

/// Default [`BreakerConfig::failure_threshold`].
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
/// Default [`BreakerConfig::cool_down`].
pub const DEFAULT_COOL_DOWN: Duration = Duration::from_secs(2);

/// When a [`CircuitBreaker`] opens and for how long.
///
/// ```
/// use std::time::Duration;
/// use ringcache_client::BreakerConfig;
///
/// let config = BreakerConfig { cool_down: Duration::from_secs(5), ..BreakerConfig::default() };
/// assert_eq!(config.failure_threshold, 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Failures in a row that open the circuit (at least 1).
    pub failure_threshold: u32,
    /// How long the circuit stays open before a probe is let through.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            cool_down: DEFAULT_COOL_DOWN,
        }
    }
}

/// Where a [`CircuitBreaker`] is, from [`CircuitBreaker::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused (the cool-down may have passed: the next call
    /// becomes the probe).
    Open,
    /// One probe is in flight; other calls are refused.
    HalfOpen,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

struct Shared {
    config: BreakerConfig,
    // A std mutex: held for a few instructions, never across an await.
    state: Mutex<State>,
    opens: AtomicU64,
}

/// A circuit breaker. A cheap `Clone` handle: clones share the state.
/// `Send + Sync`.
///
/// Ask [`CircuitBreaker::try_acquire`] before each call; it returns `None`
/// while the circuit is open, or a [`BreakerPermit`] to report the call's
/// [`success`](BreakerPermit::success) or
/// [`failure`](BreakerPermit::failure) on.
///
/// ```
/// use std::time::Duration;
/// use ringcache_client::{BreakerConfig, BreakerState, CircuitBreaker};
///
/// let breaker = CircuitBreaker::new(BreakerConfig {
///     failure_threshold: 2,
///     cool_down: Duration::from_secs(60),
/// });
/// for _ in 0..2 {
///     let permit = breaker.try_acquire().expect("closed");
///     permit.failure(); // e.g. the connection was refused
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert!(breaker.try_acquire().is_none()); // skip the dependency
/// assert_eq!(breaker.opens(), 1);
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("config", &self.shared.config)
            .field("state", &self.state())
            .field("opens", &self.opens())
            .finish()
    }
}

impl CircuitBreaker {
    /// A closed breaker. A `failure_threshold` of 0 is taken as 1.
    pub fn new(config: BreakerConfig) -> CircuitBreaker {
        let config = BreakerConfig {
            failure_threshold: config.failure_threshold.max(1),
            ..config
        };
        CircuitBreaker {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(State::Closed { failures: 0 }),
                opens: AtomicU64::new(0),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> BreakerConfig {
        self.shared.config
    }

    /// A permit for one call, or `None` when the call must not be made (the
    /// circuit is open, or half-open with the probe in flight).
    pub fn try_acquire(&self) -> Option<BreakerPermit<'_>> {
        self.try_acquire_at(Instant::now())
    }

    fn try_acquire_at(&self, now: Instant) -> Option<BreakerPermit<'_>> {
        let mut state = self.lock();
        let probe = match *state {
            State::Closed { .. } => false,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                true
            }
            State::Open { .. } | State::HalfOpen => return None,
        };
        Some(BreakerPermit {
            breaker: self,
            probe,
            reported: false,
        })
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen => BreakerState::HalfOpen,
        }
    }

    /// How many times the circuit opened (a failed probe re-opening it
    /// included).
    pub fn opens(&self) -> u64 {
        self.shared.opens.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a plain value, consistent even if a holder panicked.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn report(&self, probe: bool, success: bool, now: Instant) {
        let mut state = self.lock();
        let cool_down = self.shared.config.cool_down;
        match (*state, probe, success) {
            (State::HalfOpen, true, true) => {
                *state = State::Closed { failures: 0 };
                info!("circuit closed: the probe succeeded");
            }
            (State::HalfOpen, true, false) => {
                *state = State::Open {
                    until: now + cool_down,
                };
                self.shared.opens.fetch_add(1, Ordering::Relaxed);
                warn!(cool_down = ?cool_down, "circuit re-opened: the probe failed");
            }
            (State::Closed { .. }, false, true) => *state = State::Closed { failures: 0 },
            (State::Closed { failures }, false, false) => {
                let failures = failures.saturating_add(1);
                if failures >= self.shared.config.failure_threshold {
                    *state = State::Open {
                        until: now + cool_down,
                    };
                    self.shared.opens.fetch_add(1, Ordering::Relaxed);
                    warn!(failures, cool_down = ?cool_down, "circuit opened");
                } else {
                    *state = State::Closed { failures };
                }
            }
            // Calls let through before the circuit opened report late:
            // only the probe decides while it is not closed.
            _ => {}
        }
    }

    fn abandon(&self, now: Instant) {
        let mut state = self.lock();
        if let State::HalfOpen = *state {
            // The probe gave no verdict: let the next call probe.
            *state = State::Open { until: now };
        }
    }
}

/// Leave to make one call through a [`CircuitBreaker`]; report how it went
/// with [`success`](BreakerPermit::success) or
/// [`failure`](BreakerPermit::failure). Dropping it without a report counts
/// as neither (a dropped probe lets the next call probe).
#[must_use = "report the call's outcome on the permit"]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    reported: bool,
}

impl fmt::Debug for BreakerPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit")
            .field("probe", &self.probe)
            .finish()
    }
}

impl BreakerPermit<'_> {
    /// True when this call is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call succeeded: resets the failure count, or closes the circuit
    /// if this was the probe.
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.report(self.probe, true, Instant::now());
    }

    /// The call failed: counts toward opening the circuit, or re-opens it if
    /// this was the probe.
    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.report(self.probe, false, Instant::now());
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            self.breaker.abandon(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32) -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: threshold,
            cool_down: Duration::from_secs(2),
        })
    }

    /// Reports on `permit` as of `now`.
    fn report_at(mut permit: BreakerPermit<'_>, success: bool, now: Instant) {
        permit.reported = true;
        permit.breaker.report(permit.probe, success, now);
    }

    fn fail_at(b: &CircuitBreaker, now: Instant) {
        report_at(b.try_acquire_at(now).expect("allowed"), false, now);
    }

    /// A breaker opened by one failure, and when that failure was.
    fn opened() -> (CircuitBreaker, Instant) {
        let b = breaker(1);
        let t0 = Instant::now();
        fail_at(&b, t0);
        assert_eq!(b.state(), BreakerState::Open);
        (b, t0)
    }

    #[test]
    fn opens_after_threshold_failures_in_a_row() {
        let b = breaker(3);
        let t0 = Instant::now();
        fail_at(&b, t0);
        fail_at(&b, t0);
        // A success resets the count.
        b.try_acquire_at(t0).expect("closed").success();
        fail_at(&b, t0);
        fail_at(&b, t0);
        assert_eq!(b.state(), BreakerState::Closed);
        fail_at(&b, t0);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.opens(), 1);
        assert!(b.try_acquire_at(t0 + Duration::from_millis(1999)).is_none());
    }

    #[test]
    fn one_probe_after_the_cool_down_closes_or_reopens() {
        let (b, t0) = opened();
        let after = t0 + Duration::from_secs(2);
        let probe = b.try_acquire_at(after).expect("probe");
        assert!(probe.is_probe());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        // Only one probe at a time.
        assert!(b.try_acquire_at(after).is_none());
        report_at(probe, false, after);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.opens(), 2);
        assert!(b.try_acquire_at(after + Duration::from_secs(1)).is_none());
        let later = after + Duration::from_secs(2);
        let probe = b.try_acquire_at(later).expect("second probe");
        report_at(probe, true, later);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(!b.try_acquire_at(later).expect("closed").is_probe());
    }

    #[test]
    fn late_reports_do_not_change_an_open_circuit() {
        let b = breaker(1);
        let t0 = Instant::now();
        let early = b.try_acquire_at(t0).expect("closed");
        fail_at(&b, t0);
        // A call let through before the circuit opened succeeds late.
        early.success();
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn a_dropped_probe_lets_the_next_call_probe() {
        let (b, t0) = opened();
        let after = t0 + Duration::from_secs(3);
        drop(b.try_acquire_at(after).expect("probe"));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire_at(after).expect("next probe").is_probe());
    }
}
