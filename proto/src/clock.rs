//! The wall clock as integers since the Unix epoch, and [`Stamps`]: values
//! that follow the clock but never repeat nor go back within a process
//! (the client's entry versions, a node's start generation, the base of a
//! node's write versions).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn since_epoch() -> Duration {
    // A clock before 1970 reads as the epoch itself.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn saturating(n: u128) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The current Unix time in ms (0 if the clock is before 1970).
pub fn unix_millis() -> u64 {
    saturating(since_epoch().as_millis())
}

/// The current Unix time in µs (0 if the clock is before 1970).
pub fn unix_micros() -> u64 {
    saturating(since_epoch().as_micros())
}

/// The current Unix time in ns (0 if the clock is before 1970).
pub fn unix_nanos() -> u64 {
    saturating(since_epoch().as_nanos())
}

/// Strictly increasing stamps that follow a clock: each is the clock's
/// reading, or one more than the last stamp handed out when the clock has
/// not moved past it (two stamps in one tick, or a clock set back).
/// Lock-free; usually a `static`, one per kind of stamp.
///
/// ```
/// use ringcache_proto::clock::{unix_micros, Stamps};
///
/// static VERSIONS: Stamps = Stamps::new();
/// let a = VERSIONS.next(unix_micros());
/// let b = VERSIONS.next(unix_micros());
/// assert!(b > a);
/// assert_eq!(VERSIONS.next(0), b + 1); // a clock gone back
/// ```
#[derive(Debug, Default)]
pub struct Stamps {
    last: AtomicU64,
}

impl Stamps {
    /// A source that has handed out nothing yet.
    pub const fn new() -> Stamps {
        Stamps {
            last: AtomicU64::new(0),
        }
    }

    /// A stamp of at least `now` (the clock's reading), above every stamp
    /// this source handed out or observed before (equal to it once that
    /// reached `u64::MAX`).
    pub fn next(&self, now: u64) -> u64 {
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = now.max(last.saturating_add(1));
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Takes note of a stamp made elsewhere (another node's clock), so
    /// later stamps from `self` are above it.
    pub fn observe(&self, stamp: u64) {
        self.last.fetch_max(stamp, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_agree() {
        let ms = unix_millis();
        let us = unix_micros();
        let ns = unix_nanos();
        // Read in that order, each is at least the one before in its unit.
        assert!(us / 1000 >= ms, "{ms} ms, {us} µs");
        assert!(ns / 1000 >= us, "{us} µs, {ns} ns");
        // And the clock is past 2020 on any machine running this.
        assert!(ms > 1_577_836_800_000);
    }

    #[test]
    fn stamps_follow_the_clock_and_never_repeat() {
        let stamps = Stamps::new();
        assert_eq!(stamps.next(100), 100);
        assert_eq!(stamps.next(100), 101);
        assert_eq!(stamps.next(50), 102);
        assert_eq!(stamps.next(500), 500);
        stamps.observe(900);
        stamps.observe(600);
        assert_eq!(stamps.next(700), 901);
        assert_eq!(Stamps::new().next(0), 1);
        let full = Stamps::new();
        full.observe(u64::MAX);
        assert_eq!(full.next(5), u64::MAX);
    }

    #[test]
    fn stamps_are_unique_across_threads() {
        let stamps = Stamps::new();
        let mut all: Vec<u64> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..1000).map(|_| stamps.next(7)).collect::<Vec<_>>()))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("worker"))
                .collect()
        });
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4000);
    }
}
