//! Write-through: [`WriteThrough::write`] writes the system of record
//! first, then the cache; [`WriteThrough::delete`] deletes from the system
//! of record, then invalidates the cache.
//!
//! # What it guarantees
//! - The system of record is written first; if that fails, the cache is not
//!   touched and the error is returned.
//! - Then the cache gets the new value (`SET`, in the
//!   [`envelope`] format [`CacheAside`](crate::CacheAside)
//!   reads). If that fails, a tombstone (living `fence_ttl`) replaces the
//!   old value, so readers go to the system of record. If even the tombstone
//!   fails, the call still succeeds (the system of record has the value) but
//!   reports [`CacheUpdate::Failed`] and logs a warning: **the old value may
//!   be served until its TTL**. With the circuit open the cache is not tried
//!   at all: [`CacheUpdate::Skipped`], with the same caveat.
//! - Loads of [`CacheAside`](crate::CacheAside) helpers cannot overwrite
//!   what a write put in the cache, even loads that read the system of
//!   record before the write: on ringcache a load that took the key's lease
//!   fills with `RC.LEASE.FILL`, and this helper's `SET` (value or
//!   tombstone) ends that lease on the server before it runs, so the fill
//!   is refused however slow the load was; other loads populate with
//!   `SET NX` (refused while the value or tombstone is there) or `SET IFEQ`
//!   (refused once the bytes changed). Deletes write a tombstone rather
//!   than `DEL` for that reason. Without leases this holds while the
//!   cache-aside `load_timeout` (plus one cache call) is below `fence_ttl`;
//!   see the [cache_aside](crate::cache_aside) docs for the whole argument
//!   and its limits.
//!
//! It does not order two writers of one key: the cache keeps whichever
//! `SET` lands last, which may not be the last write to the system of
//! record. Serialize writes of a key if that matters.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::{debug, warn};

use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::cache_aside::{check_shared, config_error, CacheAsideConfig};
use crate::client::Client;
use crate::codec::{Codec, JsonCodec};
use crate::envelope::{self, EntryKind, EntryStore, Outcome};
use crate::error::Result;

/// How a [`WriteThrough`] writes the cache. Keep `jitter` and
/// `stale_window` the same as the [`CacheAsideConfig`] of the readers, so
/// written entries live as loaded ones do ([`WriteThroughConfig::matching`]).
///
/// ```
/// use std::time::Duration;
/// use ringcache_client::WriteThroughConfig;
///
/// let config = WriteThroughConfig { fence_ttl: Duration::from_secs(30), ..WriteThroughConfig::default() };
/// config.validate().expect("valid");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WriteThroughConfig {
    /// TTLs are scaled by a uniform random factor in
    /// `[1 - jitter, 1 + jitter]`; in `[0, 1)`.
    pub jitter: f64,
    /// Keep entries this long past their fresh TTL (serve-stale readers
    /// use them when their loader fails).
    pub stale_window: Option<Duration>,
    /// How long a tombstone (a delete, or a failed cache write) keeps loads
    /// from populating the key. Must exceed every reader's `load_timeout`
    /// plus one cache call timeout.
    pub fence_ttl: Duration,
    /// A bound on each cache call shorter than the client's
    /// `request_timeout`, if wanted.
    pub cache_timeout: Option<Duration>,
    /// When the circuit around the cache opens, and for how long.
    pub breaker: BreakerConfig,
}

impl WriteThroughConfig {
    /// Writes as `readers` (the [`CacheAsideConfig`] of the helpers that
    /// read the keys) load: their jitter, stale window, fence, cache call
    /// bound and breaker.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringcache_client::{CacheAsideConfig, WriteThroughConfig};
    ///
    /// let readers = CacheAsideConfig { stale_window: Some(Duration::from_secs(60)), ..CacheAsideConfig::default() };
    /// let writers = WriteThroughConfig::matching(&readers);
    /// assert_eq!(writers.stale_window, readers.stale_window);
    /// assert!(writers.fence_ttl >= readers.fence_ttl);
    /// ```
    pub fn matching(readers: &CacheAsideConfig) -> WriteThroughConfig {
        WriteThroughConfig {
            jitter: readers.jitter,
            stale_window: readers.stale_window,
            fence_ttl: readers.fence_ttl,
            cache_timeout: readers.cache_timeout,
            breaker: readers.breaker,
        }
    }

    /// Checks the ranges.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the first bad
    /// field.
    pub fn validate(&self) -> Result<()> {
        check_shared(self.jitter, self.stale_window, self.cache_timeout)?;
        if self.fence_ttl.is_zero() {
            return Err(config_error("fence_ttl must be above zero"));
        }
        Ok(())
    }
}

impl Default for WriteThroughConfig {
    /// The defaults of [`CacheAsideConfig`], as readers with defaults load.
    fn default() -> WriteThroughConfig {
        WriteThroughConfig::matching(&CacheAsideConfig::default())
    }
}

/// What happened to the cache in a write, delete or invalidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUpdate {
    /// The new value is in the cache.
    Written,
    /// A tombstone is in the cache: readers load from the system of record
    /// (and cannot cache what they load) until it expires.
    Invalidated,
    /// The circuit was open: the cache was not tried. It may serve the old
    /// value until its TTL.
    Skipped,
    /// Neither the value nor a tombstone could be written. The cache may
    /// serve the old value until its TTL.
    Failed,
}

impl CacheUpdate {
    /// True when the cache may still hold an older value
    /// ([`Skipped`](CacheUpdate::Skipped) or [`Failed`](CacheUpdate::Failed)).
    pub fn may_be_stale(self) -> bool {
        matches!(self, CacheUpdate::Skipped | CacheUpdate::Failed)
    }
}

/// The result of a successful [`WriteThrough::write`] or
/// [`WriteThrough::delete`]: the system of record has the change; the cache
/// as `cache` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    /// What happened to the cache.
    pub cache: CacheUpdate,
}

impl WriteOutcome {
    /// True when the cache may still hold an older value.
    pub fn cache_may_be_stale(&self) -> bool {
        self.cache.may_be_stale()
    }
}

/// Why a [`WriteThrough`] call failed. Cache failures are not among them:
/// they are reported in [`WriteOutcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError<E> {
    /// The system of record refused the write; the cache was not touched.
    Store(E),
}

impl<E: fmt::Display> fmt::Display for WriteError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Store(e) => write!(f, "system of record write failed: {e}"),
        }
    }
}

impl<E: fmt::Display + fmt::Debug> std::error::Error for WriteError<E> {}

/// Counters of a [`WriteThrough`], since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteThroughStats {
    /// `write` calls whose system-of-record write succeeded.
    pub writes: u64,
    /// `delete` calls whose system-of-record delete succeeded.
    pub deletes: u64,
    /// System-of-record failures (returned as [`WriteError::Store`]).
    pub store_errors: u64,
    /// Values written to the cache.
    pub cache_written: u64,
    /// Tombstones written (deletes, invalidations, failed cache writes).
    pub invalidated: u64,
    /// Cache updates skipped with the circuit open.
    pub skipped: u64,
    /// Cache updates that failed entirely (the cache may be stale).
    pub failed: u64,
    /// Times the circuit around the cache opened.
    pub breaker_opens: u64,
    /// Cache calls that failed.
    pub cache_errors: u64,
}

#[derive(Default)]
struct Counters {
    writes: AtomicU64,
    deletes: AtomicU64,
    store_errors: AtomicU64,
    cache_written: AtomicU64,
    invalidated: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
}

/// Write-through to a system of record and the cache; see the [module
/// docs](crate::write_through) for the guarantees.
///
/// A cheap `Clone` handle; `Send + Sync`. Values are stored in the
/// [`envelope`] format, so
/// [`CacheAside::get_or_load`](crate::CacheAside::get_or_load) reads them.
/// Make it with [`CacheAside::write_through`](crate::CacheAside::write_through)
/// to share the reader's client and circuit breaker and have the fences
/// checked against each other.
///
/// ```no_run
/// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
/// use std::time::Duration;
/// use ringcache_client::{WriteThrough, WriteThroughConfig};
///
/// # async fn save_user(_: &str) -> Result<(), String> { Ok(()) }
/// let writer = WriteThrough::new(client, WriteThroughConfig::default())?;
/// let name = "ann".to_string();
/// let outcome = writer
///     .write("user:1:name", &name, Duration::from_secs(300), save_user(&name))
///     .await
///     .expect("saved");
/// if outcome.cache_may_be_stale() {
///     eprintln!("saved, but the cache may serve the old name until its TTL");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct WriteThrough<C: Codec = JsonCodec> {
    inner: Arc<Inner<C>>,
}

impl<C: Codec> fmt::Debug for WriteThrough<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteThrough")
            .field("config", &self.inner.config)
            .field("breaker", &self.inner.store.breaker)
            .finish()
    }
}

struct Inner<C: Codec> {
    store: EntryStore<C>,
    config: WriteThroughConfig,
    counters: Counters,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl<C: Codec> WriteThrough<C> {
    /// A helper over `client` with a circuit breaker of its own.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when
    /// [`WriteThroughConfig::validate`] fails.
    pub fn new(client: Client<C>, config: WriteThroughConfig) -> Result<WriteThrough<C>> {
        let breaker = CircuitBreaker::new(config.breaker);
        WriteThrough::with_breaker(client, config, breaker)
    }

    /// A helper sharing `breaker`; `config.breaker` is ignored.
    pub(crate) fn with_breaker(
        client: Client<C>,
        config: WriteThroughConfig,
        breaker: CircuitBreaker,
    ) -> Result<WriteThrough<C>> {
        config.validate()?;
        let store = EntryStore::new(client, breaker, config.cache_timeout);
        Ok(WriteThrough {
            inner: Arc::new(Inner {
                store,
                config,
                counters: Counters::default(),
            }),
        })
    }

    /// Writes `value`: awaits `store` (the system-of-record write, e.g.
    /// `db.save(&row)`; a future does nothing until awaited, so it runs
    /// first and may borrow `value`), then caches `value` under `key` for
    /// `ttl` (jittered). If the cache write fails, invalidates the key with
    /// a tombstone instead.
    ///
    /// # Errors
    /// [`WriteError::Store`] when `store` fails; the cache is then left
    /// alone. Cache failures are not errors: see [`WriteOutcome::cache`].
    ///
    /// ```no_run
    /// # async fn demo(writer: ringcache_client::WriteThrough) {
    /// use std::time::Duration;
    ///
    /// # async fn update_price(_: u32, _: u64) -> Result<(), String> { Ok(()) }
    /// let price = 1999u64;
    /// match writer.write("price:42", &price, Duration::from_secs(60), update_price(42, price)).await {
    ///     Ok(outcome) if outcome.cache_may_be_stale() => eprintln!("cache not updated"),
    ///     Ok(_) => {}
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # }
    /// ```
    pub async fn write<V, Fut, E>(
        &self,
        key: &str,
        value: &V,
        ttl: Duration,
        store: Fut,
    ) -> std::result::Result<WriteOutcome, WriteError<E>>
    where
        V: Serialize + ?Sized,
        Fut: Future<Output = std::result::Result<(), E>>,
    {
        let inner = &self.inner;
        if let Err(error) = store.await {
            bump(&inner.counters.store_errors);
            return Err(WriteError::Store(error));
        }
        bump(&inner.counters.writes);
        let written = match inner.store.client.codec().encode(value) {
            Ok(payload) => {
                let (bytes, key_ttl) = envelope::build(
                    EntryKind::Value,
                    &payload,
                    ttl,
                    inner.config.jitter,
                    inner.config.stale_window,
                );
                inner.store.set(key, &bytes, key_ttl).await
            }
            Err(error) => {
                inner.store.errors.fetch_add(1, Ordering::Relaxed);
                Outcome::Failed(error)
            }
        };
        let cache = match written {
            Outcome::Done(()) => {
                bump(&inner.counters.cache_written);
                CacheUpdate::Written
            }
            Outcome::Skipped => self.skipped(key),
            Outcome::Failed(error) => {
                debug!(key, %error, "cache write failed; invalidating");
                self.invalidate(key).await
            }
        };
        Ok(WriteOutcome { cache })
    }

    /// Deletes: awaits `store` (the system-of-record delete), then writes a
    /// tombstone living `fence_ttl` (not `DEL`, which would
    /// let a load that read the old value put it back).
    ///
    /// # Errors
    /// [`WriteError::Store`] when `store` fails; the cache is then left
    /// alone.
    ///
    /// ```no_run
    /// # async fn demo(writer: ringcache_client::WriteThrough) {
    /// # async fn delete_user(_: u32) -> Result<(), String> { Ok(()) }
    /// let outcome = writer.delete("user:7", delete_user(7)).await.expect("deleted");
    /// # }
    /// ```
    pub async fn delete<Fut, E>(
        &self,
        key: &str,
        store: Fut,
    ) -> std::result::Result<WriteOutcome, WriteError<E>>
    where
        Fut: Future<Output = std::result::Result<(), E>>,
    {
        if let Err(error) = store.await {
            bump(&self.inner.counters.store_errors);
            return Err(WriteError::Store(error));
        }
        bump(&self.inner.counters.deletes);
        Ok(WriteOutcome {
            cache: self.invalidate(key).await,
        })
    }

    /// Writes a tombstone for `key` living `fence_ttl`, without touching
    /// the system of record.
    ///
    /// ```no_run
    /// # async fn demo(writer: ringcache_client::WriteThrough) {
    /// assert!(!writer.invalidate("user:7").await.may_be_stale());
    /// # }
    /// ```
    pub async fn invalidate(&self, key: &str) -> CacheUpdate {
        let inner = &self.inner;
        match inner.store.tombstone(key, inner.config.fence_ttl).await {
            Outcome::Done(()) => {
                bump(&inner.counters.invalidated);
                CacheUpdate::Invalidated
            }
            Outcome::Skipped => self.skipped(key),
            Outcome::Failed(error) => {
                bump(&inner.counters.failed);
                warn!(
                    key,
                    %error,
                    "cache neither updated nor invalidated: it may serve the old value until its TTL"
                );
                CacheUpdate::Failed
            }
        }
    }

    fn skipped(&self, key: &str) -> CacheUpdate {
        bump(&self.inner.counters.skipped);
        debug!(key, "cache circuit open: cache not updated");
        CacheUpdate::Skipped
    }

    /// The counters.
    pub fn stats(&self) -> WriteThroughStats {
        let c = &self.inner.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WriteThroughStats {
            writes: get(&c.writes),
            deletes: get(&c.deletes),
            store_errors: get(&c.store_errors),
            cache_written: get(&c.cache_written),
            invalidated: get(&c.invalidated),
            skipped: get(&c.skipped),
            failed: get(&c.failed),
            breaker_opens: self.inner.store.breaker.opens(),
            cache_errors: get(&self.inner.store.errors),
        }
    }

    /// The circuit breaker around the cache.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.inner.store.breaker
    }

    /// The configuration.
    pub fn config(&self) -> &WriteThroughConfig {
        &self.inner.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache_aside::{DEFAULT_FENCE_TTL, DEFAULT_JITTER};

    #[test]
    fn defaults_are_the_readers_defaults() {
        let c = WriteThroughConfig::default();
        assert_eq!((c.jitter, c.fence_ttl), (DEFAULT_JITTER, DEFAULT_FENCE_TTL));
        assert_eq!((c.stale_window, c.cache_timeout), (None, None));
        assert_eq!(c.breaker, BreakerConfig::default());
    }

    #[test]
    fn configs_are_checked_and_outcomes_explain_staleness() {
        assert!(WriteThroughConfig::default().validate().is_ok());
        assert!(WriteThroughConfig {
            fence_ttl: Duration::ZERO,
            ..WriteThroughConfig::default()
        }
        .validate()
        .is_err());
        assert!(!CacheUpdate::Written.may_be_stale());
        assert!(!CacheUpdate::Invalidated.may_be_stale());
        assert!(CacheUpdate::Skipped.may_be_stale());
        assert!(WriteOutcome {
            cache: CacheUpdate::Failed
        }
        .cache_may_be_stale());
    }
}
