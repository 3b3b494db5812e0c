//! Write versions: a hybrid logical clock, so versions follow wall time
//! across nodes (a write after a failover gets a higher version than the
//! writes the old primary made) and never repeat or go back on one node.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::unix_ms;

/// Bits of a version below the millisecond part: 65,536 versions per
/// millisecond before the clock runs ahead of wall time.
const COUNTER_BITS: u32 = 16;

/// A version of one write: milliseconds in the high bits, a counter below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// See the module docs.
#[derive(Debug, Default)]
pub struct Hlc {
    last: AtomicU64,
}

impl Hlc {
    /// A version greater than every version this clock gave or observed.
    pub fn next(&self) -> Version {
        let wall = unix_ms() << COUNTER_BITS;
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = wall.max(last + 1);
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Version(next),
                Err(seen) => last = seen,
            }
        }
    }

    /// Takes note of a version made elsewhere, so later local versions
    /// are greater.
    pub fn observe(&self, version: Version) {
        self.last.fetch_max(version.0, Ordering::Relaxed);
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
        let ms = v.0 >> COUNTER_BITS;
        assert!(ms.abs_diff(unix_ms()) < 60_000);
    }
}
