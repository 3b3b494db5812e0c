//! Cache-aside reads: [`CacheAside::get_or_load`] returns the cached value,
//! or runs the caller's loader (the system of record), caches what it
//! returns and returns it.
//!
//! # What it guarantees
//! - **Single flight.** Within one process, concurrent callers of one key
//!   share one loader call and its result, errors included. The load runs in
//!   its own task: a caller that gives up does not cancel it for the others.
//!   A caller whose miss raced with the end of a flight does not load again:
//!   the new leader reads the cache once more before calling its loader.
//! - **One load per fleet (leases).** Against ringcache, that leader takes
//!   the key's lease on its primary (`RC.LEASE.GET`): across every process,
//!   one leader loads a missing key while the others wait parked on the
//!   node (`BLOCK`, on a connection of their own) until its fill lands,
//!   then return the filled value without loading; where the node cannot
//!   park them (an older ringcache, a redirect) they poll (2 ms doubling
//!   to 25 ms, never past the lease's remaining time). A leader whose loader
//!   fails, or has nothing to cache, releases the lease; one that dies lets
//!   it expire (`load_timeout` + [`LEASE_MARGIN`]), and a waiter then takes
//!   it. A waiter waits at most one lease lifetime, then loads itself as
//!   without leases. Against redis-server the first miss finds no such
//!   command (logged once) and misses keep to per-process single flight.
//!   Stale, tombstoned and foreign entries are present keys: no lease, the
//!   per-process path below.
//! - **Jitter.** Every TTL is scaled by a random factor in
//!   `[1 - jitter, 1 + jitter]`, so keys loaded together expire apart.
//! - **Negative caching.** A loader's `Ok(None)` is cached for
//!   `negative_ttl`; reads in that time return `Ok(None)` without loading.
//! - **Early refresh.** A read within `refresh_ahead` of the entry's expiry
//!   returns the cached value at once and starts one background reload per
//!   key per process; its result replaces the entry by compare-and-set, so a
//!   hot key is reloaded before it expires instead of stampeding when it
//!   does. Needs `SET ... IFEQ` (ringcache, Redis 8.4); against an older
//!   server it switches itself off after the first attempt (logged once) and
//!   expiry falls back to the single-flight miss path.
//! - **Serve-stale.** With a `stale_window`, entries stay that long past
//!   their fresh TTL; a read of a stale entry reloads (single flight) and
//!   returns the stale value if the loader fails.
//! - **Degradation.** Every cache call goes through a [`CircuitBreaker`]:
//!   after `failure_threshold` connection errors or timeouts in a row the
//!   cache is skipped for `cool_down` (calls go straight to the loader, still
//!   single flight), then one probe call decides whether to use it again.
//!   Cache errors are never returned: only the loader's.
//!
//! # The fence against stale loads
//! With a lease, a load populates the key with `RC.LEASE.FILL`, which the
//! server accepts only while the lease is live and the key still missing:
//! every write, delete or expiry of the key, and every flush, ends its
//! leases before it runs (on the node, MULTI and scripts included, and
//! state arriving by replication or handoff), so a load that read the
//! system of record before a [`WriteThrough`] write (or a `DEL` of a
//! missing key after the write, as writers that invalidate do) is not
//! cached, however slow it was. Without a lease (redis-server, a full lease
//! table, a waiter past its bound), a load started on a miss populates the
//! key with `SET NX`: it never overwrites anything. A reload of an entry it has seen (early refresh,
//! stale or foreign entry) writes with `SET ... IFEQ <the bytes it saw>`.
//! So a load that read the system of record before a
//! [`WriteThrough`] write cannot replace the newer
//! value: the key holds the new value (NX and IFEQ fail) or, when that write
//! could not reach the cache, a tombstone that blocks NX for `fence_ttl`.
//! The tombstone's lifetime is enough because loads are bounded: a loader is
//! cut off after `load_timeout` (below `fence_ttl`), and the `SET NX` after
//! it is sent only while less than `fence_ttl` has passed since the loader
//! was called, and abandoned at that point. A load that read the old value
//! read it after its loader was called; the write-through changed the system
//! of record after that read and wrote its tombstone after that; so the
//! tombstone is still there when the `SET NX` arrives. Only durations are
//! compared (measured by this process and the server), never clocks. The
//! gap: a `SET NX` that the network or the server holds back past the point
//! where it was abandoned can still land later.
//!
//! It does **not** guarantee:
//! - freshness when a write-through could neither write the cache nor its
//!   tombstone (the cache unreachable at that moment): the old value stays
//!   until its TTL, and [`WriteOutcome`](crate::WriteOutcome) says so;
//! - anything when the newer value or tombstone leaves the cache early
//!   (evicted under `maxmemory`, deleted by hand) while a slow load runs;
//! - order between two writers of one key (the last `SET` to land wins);
//! - cross-process single flight without leases (redis-server): each
//!   process then loads a cold key once; with leases, a lost lease (its
//!   node failed over) or an expired one lets a second process load.
//!
//! `fresh_until` is compared with this machine's clock: writers' and
//! readers' clocks should agree to well under the TTLs.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::{debug, warn};

use crate::breaker::CircuitBreaker;
use crate::client::Client;
use crate::codec::{Codec, JsonCodec};
use crate::envelope::{self, EntryStore, Outcome};
use crate::error::Result;
use crate::single_flight::{Claims, Join, SingleFlight};
use crate::write_through::{CacheUpdate, WriteThrough, WriteThroughConfig};

mod config;
mod lease;
mod load;
mod parked;

pub(crate) use config::{check_shared, config_error};
pub use config::{
    CacheAsideConfig, CacheAsideStats, LoadError, DEFAULT_FENCE_TTL, DEFAULT_JITTER,
    DEFAULT_LOAD_TIMEOUT, DEFAULT_NEGATIVE_TTL, DEFAULT_REFRESH_AHEAD, LEASE_MARGIN,
};
use load::Found;

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    negative_hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
    load_errors: AtomicU64,
    coalesced: AtomicU64,
    populate_refused: AtomicU64,
    leased_loads: AtomicU64,
    lease_waits: AtomicU64,
    fills_refused: AtomicU64,
    stale_served: AtomicU64,
    early_refreshes: AtomicU64,
    refresh_conflicts: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Cache-aside reads with single flight, jitter, negative caching, early
/// refresh, serve-stale and a circuit breaker; see the [module
/// docs](crate::cache_aside) for what it guarantees.
///
/// A cheap `Clone` handle (clones share the in-flight loads, the breaker and
/// the counters); `Send + Sync`. Its methods must run inside a Tokio
/// runtime: loads and refreshes run as tasks.
///
/// One key holds one value type: the value is stored in an
/// [`envelope`] and encoded by the client's codec.
///
/// ```no_run
/// # async fn demo() -> ringcache_client::Result<()> {
/// use std::time::Duration;
/// use ringcache_client::{CacheAside, CacheAsideConfig, Client, ClientConfig};
///
/// let client = Client::connect(ClientConfig::new(["127.0.0.1:7000"])).await?;
/// let cache = CacheAside::new(client, CacheAsideConfig::default())?;
/// let name: Option<String> = cache
///     .get_or_load("user:1:name", Duration::from_secs(300), || async {
///         // The system of record; Ok(None) means "no such user".
///         Ok::<_, String>(Some("ann".to_string()))
///     })
///     .await
///     .expect("loaded");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CacheAside<C: Codec = JsonCodec> {
    inner: Arc<Inner<C>>,
}

impl<C: Codec> fmt::Debug for CacheAside<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheAside")
            .field("config", &self.inner.config)
            .field("breaker", &self.inner.store.breaker)
            .finish()
    }
}

struct Inner<C: Codec> {
    store: EntryStore<C>,
    config: CacheAsideConfig,
    loads: SingleFlight,
    refreshes: Claims,
    counters: Counters,
    /// Whether the server has leases (`lease.rs`): unknown, yes, no.
    lease_support: AtomicU8,
    /// Lease waits parked on the server (`parked.rs`).
    parked: parked::ParkedWaits,
}

impl<C: Codec> CacheAside<C> {
    /// A helper over `client` with a circuit breaker of its own.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when [`CacheAsideConfig::validate`] fails.
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// use ringcache_client::{CacheAside, CacheAsideConfig};
    ///
    /// let cache = CacheAside::new(client, CacheAsideConfig::default())?;
    /// # Ok(()) }
    /// ```
    pub fn new(client: Client<C>, config: CacheAsideConfig) -> Result<CacheAside<C>> {
        let breaker = CircuitBreaker::new(config.breaker);
        CacheAside::with_breaker(client, config, breaker)
    }

    fn with_breaker(
        client: Client<C>,
        config: CacheAsideConfig,
        breaker: CircuitBreaker,
    ) -> Result<CacheAside<C>> {
        config.validate()?;
        let store = EntryStore::new(client, breaker, config.cache_timeout);
        Ok(CacheAside {
            inner: Arc::new(Inner {
                store,
                config,
                loads: SingleFlight::default(),
                refreshes: Claims::default(),
                counters: Counters::default(),
                lease_support: AtomicU8::new(lease::LEASES_UNKNOWN),
                parked: parked::ParkedWaits::default(),
            }),
        })
    }

    /// A [`WriteThrough`] over the same client sharing this helper's
    /// circuit breaker, with `config` (its `breaker` is ignored).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when `config` is invalid, or when its
    /// tombstones would not fence this helper's loads: `config.fence_ttl`
    /// must be at least this helper's `fence_ttl`.
    ///
    /// ```no_run
    /// # async fn demo(cache: ringcache_client::CacheAside) -> ringcache_client::Result<()> {
    /// use ringcache_client::WriteThroughConfig;
    ///
    /// let writer = cache.write_through(WriteThroughConfig::default())?;
    /// # Ok(()) }
    /// ```
    pub fn write_through(&self, config: WriteThroughConfig) -> Result<WriteThrough<C>> {
        if config.fence_ttl < self.inner.config.fence_ttl {
            return Err(config_error(
                "the write-through fence_ttl must be at least the cache-aside fence_ttl",
            ));
        }
        WriteThrough::with_breaker(
            self.inner.store.client.clone(),
            config,
            self.inner.store.breaker.clone(),
        )
    }

    /// The value of `key`: from the cache when it holds a fresh one,
    /// otherwise from `loader`, which is then cached for `ttl` (jittered).
    /// `Ok(None)` is "not found", cached for `negative_ttl`.
    ///
    /// Concurrent callers of a key share one loader call (single flight);
    /// the loader runs in a task of its own, bounded by `load_timeout`. A
    /// read close to expiry may start a background refresh with its
    /// loader; a read that uses the cached value drops the loader unused.
    ///
    /// # Errors
    /// Only the loader's: [`LoadError::Loader`] with its error (shared by
    /// every caller of that load), [`LoadError::Timeout`],
    /// [`LoadError::Abandoned`] when it panicked. With a `stale_window`, a
    /// stale value is returned instead of the error when there is one.
    /// Cache failures never surface: the value comes from the loader then.
    ///
    /// ```no_run
    /// # async fn demo(cache: ringcache_client::CacheAside) {
    /// use std::time::Duration;
    ///
    /// # async fn query_price(_: u32) -> Result<Option<u64>, String> { Ok(Some(1)) }
    /// let price = cache
    ///     .get_or_load("price:42", Duration::from_secs(60), || query_price(42))
    ///     .await;
    /// match price {
    ///     Ok(Some(cents)) => println!("{cents}"),
    ///     Ok(None) => println!("no such product"),
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # }
    /// ```
    pub async fn get_or_load<V, F, Fut, E>(
        &self,
        key: &str,
        ttl: Duration,
        loader: F,
    ) -> std::result::Result<Option<V>, LoadError<E>>
    where
        V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Option<V>, E>> + Send + 'static,
        E: fmt::Display + Clone + Send + Sync + 'static,
    {
        let inner = &self.inner;
        let mut stale = None;
        let use_cache = match inner.store.get(key).await {
            Outcome::Done(Some(bytes)) => {
                let now = envelope::unix_millis();
                match inner.classify::<V>(&bytes, now) {
                    Found::Fresh { value, header } => {
                        if value.is_some() {
                            bump(&inner.counters.hits);
                        } else {
                            bump(&inner.counters.negative_hits);
                        }
                        if inner.should_refresh(&header, ttl, now) {
                            Inner::spawn_refresh(inner, key, ttl, loader, bytes, &header);
                        }
                        return Ok(value);
                    }
                    Found::Stale { value } => {
                        if inner.config.stale_window.is_some() {
                            stale = Some(value);
                        }
                    }
                    Found::Tombstone | Found::Foreign => {}
                }
                bump(&inner.counters.misses);
                true
            }
            Outcome::Done(None) => {
                bump(&inner.counters.misses);
                true
            }
            Outcome::Skipped | Outcome::Failed(_) => false,
        };
        // Concurrent callers of `key` share one load (single flight).
        let loaded = match inner.loads.join(key) {
            Join::Wait(waiter) => {
                bump(&inner.counters.coalesced);
                waiter.wait().await.unwrap_or(Err(LoadError::Abandoned))
            }
            Join::Lead(leader) => {
                let inner = Arc::clone(inner);
                let key = key.to_owned();
                // A task of its own: the waiters' result does not depend on
                // this caller staying around.
                let task = tokio::spawn(async move {
                    let result = inner.load(&key, ttl, loader, use_cache).await;
                    leader.finish(result.clone());
                    result
                });
                task.await.unwrap_or(Err(LoadError::Abandoned))
            }
            Join::Mismatch => inner.load(key, ttl, loader, use_cache).await,
        };
        match (loaded, stale) {
            (Err(error), Some(value)) => {
                bump(&inner.counters.stale_served);
                debug!(key, %error, "loader failed; serving the stale value");
                Ok(value)
            }
            (result, _) => result,
        }
    }

    /// Invalidates `key`: writes a tombstone living `fence_ttl`, so loads
    /// already running cannot put the old value back (a `DEL` would let
    /// them). Reads meanwhile call their loader and return its value without
    /// caching it.
    ///
    /// Returns [`CacheUpdate::Invalidated`], or [`CacheUpdate::Skipped`] /
    /// [`CacheUpdate::Failed`] when the cache was not reached (the old value
    /// may then live until its TTL).
    ///
    /// ```no_run
    /// # async fn demo(cache: ringcache_client::CacheAside) {
    /// if cache.invalidate("user:1").await.may_be_stale() {
    ///     eprintln!("user:1 may be served stale until its TTL");
    /// }
    /// # }
    /// ```
    pub async fn invalidate(&self, key: &str) -> CacheUpdate {
        match self
            .inner
            .store
            .tombstone(key, self.inner.config.fence_ttl)
            .await
        {
            Outcome::Done(()) => CacheUpdate::Invalidated,
            Outcome::Skipped => CacheUpdate::Skipped,
            Outcome::Failed(error) => {
                warn!(key, %error, "invalidation failed: the key may be stale until its TTL");
                CacheUpdate::Failed
            }
        }
    }

    /// The counters.
    pub fn stats(&self) -> CacheAsideStats {
        let c = &self.inner.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CacheAsideStats {
            hits: get(&c.hits),
            negative_hits: get(&c.negative_hits),
            misses: get(&c.misses),
            loads: get(&c.loads),
            load_errors: get(&c.load_errors),
            coalesced: get(&c.coalesced),
            populate_refused: get(&c.populate_refused),
            leased_loads: get(&c.leased_loads),
            lease_waits: get(&c.lease_waits),
            fills_refused: get(&c.fills_refused),
            stale_served: get(&c.stale_served),
            early_refreshes: get(&c.early_refreshes),
            refresh_conflicts: get(&c.refresh_conflicts),
            breaker_opens: self.inner.store.breaker.opens(),
            cache_errors: get(&self.inner.store.errors),
            cache_skipped: get(&self.inner.store.skipped),
            in_flight: self.inner.loads.len() + self.inner.refreshes.len(),
        }
    }

    /// The circuit breaker around the cache (shared with clones, and with
    /// helpers made by [`CacheAside::write_through`]).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.inner.store.breaker
    }

    /// The client.
    pub fn client(&self) -> &Client<C> {
        &self.inner.store.client
    }

    /// The configuration.
    pub fn config(&self) -> &CacheAsideConfig {
        &self.inner.config
    }

    /// Whether the cache took `SET ... IFEQ` (compare-and-set, used by early
    /// refresh): `None` until first tried, `Some(false)` against
    /// redis-server before 8.4 (early refresh is then off).
    pub fn compare_and_set_supported(&self) -> Option<bool> {
        self.inner.store.compare_and_set_supported()
    }
}
