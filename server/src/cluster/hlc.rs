//! Write versions: a hybrid logical clock, so versions follow wall time
//! across nodes (a write after a failover gets a higher version than the
//! writes the old primary made) and never repeat or go back on one node.
//!
//! Versions from peers are bounded: one further ahead of the local wall
//! clock than the skew limit is refused before the clock observes it, so a
//! peer with a runaway clock (or a forged version) cannot pin keys above
//! every later write. The arithmetic saturates: at `u64::MAX` the clock
//! stays there rather than wrap to zero.

use std::time::Duration;

use ringcache_proto::clock::Stamps;

use crate::store::unix_ms;

/// Bits of a version below the millisecond part: 65,536 versions per
/// millisecond before the clock runs ahead of wall time.
const COUNTER_BITS: u32 = 16;

/// A version of one write: milliseconds in the high bits, a counter below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

impl Version {
    /// The first version of millisecond `ms` (saturating).
    pub fn at_millis(ms: u64) -> Version {
        Version(ms.saturating_mul(1 << COUNTER_BITS))
    }

    /// The wall-clock millisecond this version stands for.
    pub fn millis(self) -> u64 {
        self.0 >> COUNTER_BITS
    }

    /// How many milliseconds this version is ahead of `now_ms`, if that is
    /// more than `max_skew`.
    pub fn too_far_ahead(self, now_ms: u64, max_skew: Duration) -> Option<u64> {
        let ahead = self.millis().saturating_sub(now_ms);
        (u128::from(ahead) > max_skew.as_millis()).then_some(ahead)
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Hlc {
    stamps: Stamps,
}

impl Hlc {
    /// A version greater than every version this clock gave or observed
    /// (equal to it once the clock has reached `u64::MAX`).
    pub fn next(&self) -> Version {
        self.next_at(unix_ms())
    }

    fn next_at(&self, now_ms: u64) -> Version {
        Version(self.stamps.next(Version::at_millis(now_ms).0))
    }

    /// Takes note of a version made elsewhere, so later local versions
    /// are greater. The caller bounds it first ([`Version::too_far_ahead`]).
    pub fn observe(&self, version: Version) {
        self.stamps.observe(version.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_pass_observed_ones() {
        let clock = Hlc::default();
        let a = clock.next();
        let b = clock.next();
        assert!(b > a);
        let far = Version(b.0 + (1 << 40));
        clock.observe(far);
        assert!(clock.next() > far);
    }

    #[test]
    fn versions_follow_wall_time() {
        let v = Hlc::default().next();
        assert!(v.millis().abs_diff(unix_ms()) < 60_000);
    }

    #[test]
    fn the_clock_saturates_instead_of_wrapping() {
        let clock = Hlc::default();
        clock.observe(Version(u64::MAX - 1));
        assert_eq!(clock.next(), Version(u64::MAX));
        // Stays at the top: never wraps to a small version.
        assert_eq!(clock.next(), Version(u64::MAX));
        clock.observe(Version(5));
        assert_eq!(clock.next(), Version(u64::MAX));
        assert_eq!(clock.next_at(u64::MAX), Version(u64::MAX));
        assert_eq!(Version::at_millis(u64::MAX), Version(u64::MAX));
    }

    #[test]
    fn versions_too_far_ahead_are_told_apart() {
        let now = unix_ms();
        let skew = Duration::from_secs(60);
        assert_eq!(Version::at_millis(now).too_far_ahead(now, skew), None);
        assert_eq!(
            Version::at_millis(now + 60_000).too_far_ahead(now, skew),
            None
        );
        assert_eq!(
            Version::at_millis(now + 60_001).too_far_ahead(now, skew),
            Some(60_001)
        );
        // Behind is fine: old writes arrive late all the time.
        assert_eq!(Version::at_millis(0).too_far_ahead(now, skew), None);
        assert!(Version(u64::MAX).too_far_ahead(now, skew).is_some());
    }
}
