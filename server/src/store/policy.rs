//! Eviction policies and the per-entry access field they read: an LRU clock
//! for the LRU policies, a logarithmic counter with decay for LFU (both as
//! Redis keeps them).

/// What to evict when used memory is over `maxmemory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Refuse writes with `-OOM`.
    NoEviction,
    /// Least recently used among all keys.
    AllKeysLru,
    /// Least recently used among keys with a TTL.
    VolatileLru,
    /// Least frequently used among all keys.
    AllKeysLfu,
    /// Least frequently used among keys with a TTL.
    VolatileLfu,
    /// Any key.
    AllKeysRandom,
    /// Any key with a TTL.
    VolatileRandom,
    /// The key with a TTL that expires soonest.
    VolatileTtl,
}

const ALL: [(EvictionPolicy, &str); 8] = [
    (EvictionPolicy::NoEviction, "noeviction"),
    (EvictionPolicy::AllKeysLru, "allkeys-lru"),
    (EvictionPolicy::VolatileLru, "volatile-lru"),
    (EvictionPolicy::AllKeysLfu, "allkeys-lfu"),
    (EvictionPolicy::VolatileLfu, "volatile-lfu"),
    (EvictionPolicy::AllKeysRandom, "allkeys-random"),
    (EvictionPolicy::VolatileRandom, "volatile-random"),
    (EvictionPolicy::VolatileTtl, "volatile-ttl"),
];

impl EvictionPolicy {
    /// Every policy's name, in the order Redis lists them in its errors.
    pub const NAMES: &'static [&'static str] = &[
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "noeviction",
    ];

    /// Parses a Redis policy name, any case.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(p, _)| *p)
    }

    /// The Redis name.
    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(p, _)| *p == self)
            .map_or("noeviction", |(_, n)| n)
    }

    /// Only keys with a TTL may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }

    /// The access field holds an LFU counter rather than an LRU clock.
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu
        )
    }

    pub(crate) fn index(self) -> u8 {
        ALL.iter().position(|(p, _)| *p == self).unwrap_or(0) as u8
    }

    pub(crate) fn from_index(i: u8) -> Self {
        ALL.get(i as usize)
            .map_or(EvictionPolicy::NoEviction, |(p, _)| *p)
    }
}

/// Resolution of the LRU clock in milliseconds.
pub const LRU_TICK_MS: u64 = 10;
/// Initial LFU counter of a new key, so it is not evicted at once (Redis).
pub const LFU_INIT: u8 = 5;
/// Redis `lfu-log-factor`.
pub const LFU_LOG_FACTOR: f64 = 10.0;
/// Redis `lfu-decay-time` in minutes.
pub const LFU_DECAY_MINUTES: u64 = 1;

/// How far ahead of the reader's `now` an access may be stamped and still
/// count as "just now" rather than as a wrapped-around, ancient access.
/// Workers read the clock independently (an eviction's `now` may be a tick
/// older than a concurrent read's), and the system clock may step back.
pub const CLOCK_SKEW_MS: u64 = 3_600_000;

/// The LRU clock at `now_ms` (wraps every ~497 days; compared with
/// wrapping arithmetic).
#[inline]
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / LRU_TICK_MS) as u32
}

/// Milliseconds since an entry with `access` was last used.
#[inline]
pub fn lru_idle_ms(access: u32, now_ms: u64) -> u64 {
    let ticks = lru_clock(now_ms).wrapping_sub(access);
    if ticks > u32::MAX - (CLOCK_SKEW_MS / LRU_TICK_MS) as u32 {
        // Stamped slightly in the future, not idle for ~497 days.
        return 0;
    }
    u64::from(ticks) * LRU_TICK_MS
}

fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// The access field of a new entry under `policy`.
#[inline]
pub fn initial_access(policy: EvictionPolicy, now_ms: u64) -> u32 {
    if policy.is_lfu() {
        (lfu_minutes(now_ms) << 8) | u32::from(LFU_INIT)
    } else {
        lru_clock(now_ms)
    }
}

/// The LFU counter after decay for the minutes elapsed since last access.
pub fn lfu_counter(access: u32, now_ms: u64) -> u8 {
    let counter = (access & 0xff) as u8;
    let last = access >> 8;
    let mut elapsed = (lfu_minutes(now_ms).wrapping_sub(last)) & 0xffff;
    if elapsed > 0xffff - (CLOCK_SKEW_MS / 60_000) as u32 {
        // Stamped slightly in the future, not idle for ~45 days.
        elapsed = 0;
    }
    let periods = u64::from(elapsed) / LFU_DECAY_MINUTES;
    counter.saturating_sub(periods.min(255) as u8)
}

/// The access field after one access at `now_ms`.
#[inline]
pub fn touched(policy: EvictionPolicy, access: u32, now_ms: u64) -> u32 {
    if !policy.is_lfu() {
        return lru_clock(now_ms);
    }
    let mut counter = lfu_counter(access, now_ms);
    if counter < 255 {
        // Logarithmic increment: the higher the counter, the less likely.
        let base = f64::from(counter.saturating_sub(LFU_INIT));
        let p = 1.0 / (base * LFU_LOG_FACTOR + 1.0);
        if fastrand::f64() < p {
            counter += 1;
        }
    }
    (lfu_minutes(now_ms) << 8) | u32::from(counter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (p, n) in ALL {
            assert_eq!(EvictionPolicy::from_name(n), Some(p));
            assert_eq!(p.name(), n);
            assert_eq!(EvictionPolicy::from_index(p.index()), p);
        }
        assert_eq!(
            EvictionPolicy::from_name("ALLKEYS-LRU"),
            Some(EvictionPolicy::AllKeysLru)
        );
        assert_eq!(EvictionPolicy::from_name("lru"), None);
    }

    #[test]
    fn lfu_counter_grows_and_decays() {
        let now = 10 * 60_000;
        let mut access = initial_access(EvictionPolicy::AllKeysLfu, now);
        for _ in 0..10_000 {
            access = touched(EvictionPolicy::AllKeysLfu, access, now);
        }
        let hot = lfu_counter(access, now);
        assert!(hot > 20 && hot < 255, "{hot}");
        assert_eq!(lfu_counter(access, now + 5 * 60_000), hot - 5);
    }

    #[test]
    fn lru_idle_time() {
        let access = lru_clock(1_000);
        assert_eq!(lru_idle_ms(access, 3_000), 2_000);
        // Stamped by a reader whose clock ran ahead: just used, not ancient.
        assert_eq!(lru_idle_ms(lru_clock(3_010), 3_000), 0);
    }

    #[test]
    fn lfu_counter_does_not_decay_for_a_stamp_from_the_future() {
        let now = 10 * 60_000;
        let access = touched(
            EvictionPolicy::AllKeysLfu,
            initial_access(EvictionPolicy::AllKeysLfu, now + 60_000),
            now + 60_000,
        );
        assert_eq!(lfu_counter(access, now), LFU_INIT + 1);
    }
}
