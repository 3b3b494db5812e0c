//! How a [`CacheAside`](super::CacheAside) caches ([`CacheAsideConfig`],
//! with its defaults and checks), what it reports ([`CacheAsideStats`]),
//! and how a load fails ([`LoadError`]).

use std::fmt;
use std::time::Duration;

use crate::breaker::BreakerConfig;
use crate::error::{Error, ErrorKind, Result};

/// Default [`CacheAsideConfig::jitter`].
pub const DEFAULT_JITTER: f64 = 0.1;
/// Default [`CacheAsideConfig::negative_ttl`].
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// Default [`CacheAsideConfig::refresh_ahead`].
pub const DEFAULT_REFRESH_AHEAD: f64 = 0.2;
/// Default [`CacheAsideConfig::load_timeout`].
pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`CacheAsideConfig::fence_ttl`] and
/// [`WriteThroughConfig::fence_ttl`](crate::WriteThroughConfig::fence_ttl).
pub const DEFAULT_FENCE_TTL: Duration = Duration::from_secs(10);

/// How much longer a lease lives than `load_timeout`: the fill's round
/// trip after the slowest loader.
pub const LEASE_MARGIN: Duration = Duration::from_secs(1);

/// How a [`CacheAside`](super::CacheAside) caches.
///
/// ```
/// use std::time::Duration;
/// use ringcache_client::CacheAsideConfig;
///
/// let config = CacheAsideConfig {
///     stale_window: Some(Duration::from_secs(300)), // serve stale on loader errors
///     negative_ttl: Some(Duration::from_secs(5)),
///     ..CacheAsideConfig::default()
/// };
/// config.validate().expect("valid");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CacheAsideConfig {
    /// TTLs are scaled by a uniform random factor in
    /// `[1 - jitter, 1 + jitter]`; in `[0, 1)`.
    pub jitter: f64,
    /// How long a loader's `Ok(None)` is cached (jittered too); `None`
    /// caches nothing for it.
    pub negative_ttl: Option<Duration>,
    /// Fraction of the TTL before expiry in which a read starts a background
    /// refresh, in `[0, 1]`; 0 turns early refresh off. One refresh per key
    /// runs at a time in a process; after a failed one, the next waits up to
    /// 1 s. Needs `SET ... IFEQ` on the server.
    pub refresh_ahead: f64,
    /// Refresh in that window with a probability growing linearly from 0 at
    /// its start to 1 at expiry, rather than on the first read in it: with
    /// many processes reading one hot key, fewer of them reload it.
    pub probabilistic_refresh: bool,
    /// Serve-stale: keep entries this long past their fresh TTL and return
    /// them when the loader fails. `None`: entries expire when they stop
    /// being fresh. A successful reload replaces a stale entry by
    /// compare-and-set; on a server without `SET ... IFEQ` it cannot, so
    /// reads of a stale entry reload (single flight) until it expires.
    pub stale_window: Option<Duration>,
    /// A loader running longer is abandoned and its call fails with
    /// [`LoadError::Timeout`]. Must be below `fence_ttl`.
    pub load_timeout: Duration,
    /// How long a tombstone written by [`CacheAside::invalidate`](super::CacheAside::invalidate) blocks
    /// loads from populating the key; a load does not populate once this
    /// long has passed since its loader was called. Every writer of the key
    /// ([`WriteThroughConfig::fence_ttl`](crate::WriteThroughConfig::fence_ttl)) must use at least this.
    pub fence_ttl: Duration,
    /// Take a cluster-wide lease on a miss (`RC.LEASE.GET`, ringcache), so
    /// one process in the fleet loads a missing key and the others wait for
    /// its fill; a fill after a newer write or delete of the key is refused
    /// by the server. Against a server without leases (redis-server) the
    /// helper notices on the first miss and keeps to per-process single
    /// flight. The lease lives `load_timeout` plus [`LEASE_MARGIN`].
    pub leases: bool,
    /// A bound on each cache call shorter than the client's
    /// `request_timeout`, if wanted (the smaller one applies). A dead cache
    /// costs each call up to this until the circuit opens.
    pub cache_timeout: Option<Duration>,
    /// When the circuit around the cache opens, and for how long.
    pub breaker: BreakerConfig,
}

impl Default for CacheAsideConfig {
    fn default() -> CacheAsideConfig {
        CacheAsideConfig {
            jitter: DEFAULT_JITTER,
            negative_ttl: Some(DEFAULT_NEGATIVE_TTL),
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            probabilistic_refresh: false,
            stale_window: None,
            load_timeout: DEFAULT_LOAD_TIMEOUT,
            fence_ttl: DEFAULT_FENCE_TTL,
            leases: true,
            cache_timeout: None,
            breaker: BreakerConfig::default(),
        }
    }
}

impl CacheAsideConfig {
    /// Checks the ranges, and that `load_timeout` is below `fence_ttl`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        check_shared(self.jitter, self.stale_window, self.cache_timeout)?;
        if !(0.0..=1.0).contains(&self.refresh_ahead) {
            return Err(config_error("refresh_ahead must be in [0, 1]"));
        }
        if self.negative_ttl.is_some_and(|t| t.is_zero()) {
            return Err(config_error("negative_ttl must be above zero (or None)"));
        }
        if self.load_timeout.is_zero() {
            return Err(config_error("load_timeout must be above zero"));
        }
        if self.load_timeout >= self.fence_ttl {
            return Err(config_error("load_timeout must be below fence_ttl"));
        }
        Ok(())
    }
}

pub(crate) fn config_error(message: &str) -> Error {
    Error::new(ErrorKind::Config, message)
}

/// Checks what [`CacheAsideConfig`] and the write-through's configuration
/// share: the jitter's range, and optional durations above zero.
pub(crate) fn check_shared(
    jitter: f64,
    stale_window: Option<Duration>,
    cache_timeout: Option<Duration>,
) -> Result<()> {
    if !(0.0..1.0).contains(&jitter) {
        return Err(config_error("jitter must be in [0, 1)"));
    }
    for (value, name) in [
        (stale_window, "stale_window"),
        (cache_timeout, "cache_timeout"),
    ] {
        if value.is_some_and(|t| t.is_zero()) {
            return Err(config_error(&format!(
                "{name} must be above zero (or None)"
            )));
        }
    }
    Ok(())
}

/// Why [`CacheAside::get_or_load`](super::CacheAside::get_or_load) returned no value. Cache failures are
/// never among them: a failing cache degrades to the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError<E> {
    /// The loader failed, and there was no stale value to serve. Callers
    /// that shared the load all get this error.
    Loader(E),
    /// The loader ran longer than `load_timeout` and was abandoned.
    Timeout(Duration),
    /// The load ended without a result: the loader panicked (or the runtime
    /// shut down).
    Abandoned,
}

impl<E: fmt::Display> fmt::Display for LoadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Loader(e) => write!(f, "loader failed: {e}"),
            LoadError::Timeout(limit) => write!(f, "loader took over {limit:?}"),
            LoadError::Abandoned => f.write_str("load ended without a result"),
        }
    }
}

impl<E: fmt::Display + fmt::Debug> std::error::Error for LoadError<E> {}

/// Counters of a [`CacheAside`](super::CacheAside), since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheAsideStats {
    /// Reads answered by a fresh value from the cache.
    pub hits: u64,
    /// Reads answered by a fresh negative entry (`Ok(None)`, no load).
    pub negative_hits: u64,
    /// Reads that found no fresh entry (missing, stale, tombstone, or not
    /// an entry). Reads that skipped or failed to reach the cache are not
    /// counted here but in `cache_skipped` and `cache_errors`.
    pub misses: u64,
    /// Loader calls on the read path (early refreshes not included).
    pub loads: u64,
    /// Loader calls (of either kind) that failed or timed out.
    pub load_errors: u64,
    /// Callers that waited for another caller's load instead of loading.
    pub coalesced: u64,
    /// Loads whose value could not be cached because the key changed
    /// meanwhile (`NX` or `IFEQ` refused: a newer value or a tombstone).
    pub populate_refused: u64,
    /// Loads that held the key's cluster-wide lease.
    pub leased_loads: u64,
    /// Misses that waited for another process's lease and got its value
    /// (no load here).
    pub lease_waits: u64,
    /// Fills refused by the server: the key was written, deleted or
    /// flushed during the load, or the lease expired.
    pub fills_refused: u64,
    /// Stale values returned because the loader failed.
    pub stale_served: u64,
    /// Background refreshes that called their loader.
    pub early_refreshes: u64,
    /// Refreshes whose compare-and-set failed: the value changed meanwhile
    /// and the newer one was kept.
    pub refresh_conflicts: u64,
    /// Times the circuit around the cache opened.
    pub breaker_opens: u64,
    /// Cache calls that failed (connection errors, timeouts, error replies).
    pub cache_errors: u64,
    /// Cache calls skipped because the circuit was open.
    pub cache_skipped: u64,
    /// Loads and refreshes running now (a failed refresh counts during its
    /// retry pause).
    pub in_flight: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_checked() {
        assert!(CacheAsideConfig::default().validate().is_ok());
        let bad = [
            CacheAsideConfig {
                jitter: 1.0,
                ..CacheAsideConfig::default()
            },
            CacheAsideConfig {
                refresh_ahead: 1.5,
                ..CacheAsideConfig::default()
            },
            CacheAsideConfig {
                load_timeout: DEFAULT_FENCE_TTL,
                ..CacheAsideConfig::default()
            },
            CacheAsideConfig {
                negative_ttl: Some(Duration::ZERO),
                ..CacheAsideConfig::default()
            },
        ];
        for config in bad {
            let error = config.validate().expect_err("invalid");
            assert_eq!(error.kind(), &ErrorKind::Config, "{config:?}");
        }
    }
}
