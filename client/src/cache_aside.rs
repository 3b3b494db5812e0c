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
//! A load started on a miss populates the key with `SET NX`: it never
//! overwrites anything. A reload of an entry it has seen (early refresh,
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
//! - cross-process single flight: each process loads a cold key once.
//!
//! `fresh_until` is compared with this machine's clock: writers' and
//! readers' clocks should agree to well under the TTLs.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::{debug, warn};

use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::client::Client;
use crate::codec::{Codec, JsonCodec};
use crate::envelope::{self, EntryKind, EntryStore, Header, Outcome, Swap};
use crate::error::{Error, ErrorKind, Result};
use crate::single_flight::{Claims, Join, SingleFlight};
use crate::write_through::{CacheUpdate, WriteThrough, WriteThroughConfig};

/// Default [`CacheAsideConfig::jitter`].
pub const DEFAULT_JITTER: f64 = 0.1;
/// Default [`CacheAsideConfig::negative_ttl`].
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// Default [`CacheAsideConfig::refresh_ahead`].
pub const DEFAULT_REFRESH_AHEAD: f64 = 0.2;
/// Default [`CacheAsideConfig::load_timeout`].
pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`CacheAsideConfig::fence_ttl`] and
/// [`WriteThroughConfig::fence_ttl`].
pub const DEFAULT_FENCE_TTL: Duration = Duration::from_secs(10);

/// How a [`CacheAside`] caches.
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
    /// How long a tombstone written by [`CacheAside::invalidate`] blocks
    /// loads from populating the key; a load does not populate once this
    /// long has passed since its loader was called. Every writer of the key
    /// ([`WriteThroughConfig::fence_ttl`]) must use at least this.
    pub fence_ttl: Duration,
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
        if !(0.0..1.0).contains(&self.jitter) {
            return Err(config_error("jitter must be in [0, 1)"));
        }
        if !(0.0..=1.0).contains(&self.refresh_ahead) {
            return Err(config_error("refresh_ahead must be in [0, 1]"));
        }
        if self.negative_ttl.is_some_and(|t| t.is_zero()) {
            return Err(config_error("negative_ttl must be above zero (or None)"));
        }
        if self.stale_window.is_some_and(|t| t.is_zero()) {
            return Err(config_error("stale_window must be above zero (or None)"));
        }
        if self.load_timeout.is_zero() {
            return Err(config_error("load_timeout must be above zero"));
        }
        if self.load_timeout >= self.fence_ttl {
            return Err(config_error("load_timeout must be below fence_ttl"));
        }
        if self.cache_timeout.is_some_and(|t| t.is_zero()) {
            return Err(config_error("cache_timeout must be above zero (or None)"));
        }
        Ok(())
    }
}

pub(crate) fn config_error(message: &str) -> Error {
    Error::new(ErrorKind::Config, message)
}

/// Why [`CacheAside::get_or_load`] returned no value. Cache failures are
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

/// Counters of a [`CacheAside`], since it was created.
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

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    negative_hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
    load_errors: AtomicU64,
    coalesced: AtomicU64,
    populate_refused: AtomicU64,
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
pub struct CacheAside<C: Codec = JsonCodec> {
    inner: Arc<Inner<C>>,
}

impl<C: Codec> Clone for CacheAside<C> {
    fn clone(&self) -> CacheAside<C> {
        CacheAside {
            inner: Arc::clone(&self.inner),
        }
    }
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
}

/// How long a key's refresh claim is held after its loader failed, so a
/// failing loader is not called again on every read in the window.
const REFRESH_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Whether an entry `remaining_ms` from expiry, with a refresh window of
/// `window_ms`, is due: always inside the window, or, when `chance` (a
/// uniform draw in `[0, 1)`) is given, with a probability growing linearly
/// from 0 at the window's start to 1 at expiry.
fn refresh_due(remaining_ms: f64, window_ms: f64, chance: Option<f64>) -> bool {
    if remaining_ms > window_ms {
        return false;
    }
    match chance {
        None => true,
        Some(draw) => draw < 1.0 - remaining_ms / window_ms,
    }
}

/// What one read of the cache found.
enum Found<V> {
    Fresh {
        value: Option<V>,
        header: Header,
    },
    Stale {
        value: Option<V>,
    },
    Tombstone,
    /// Not an entry, or a payload the codec does not decode as `V`.
    Foreign,
}

/// How a load may write what it loaded.
enum Populate {
    /// Do not write (the cache was skipped or failed).
    No,
    /// `SET NX`: the key was missing or a tombstone.
    IfAbsent,
    /// `SET IFEQ`: replace exactly these bytes (stale or foreign).
    Replace(Vec<u8>),
}

impl<C: Codec> CacheAside<C> {
    /// A helper over `client` with a circuit breaker of its own.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when [`CacheAsideConfig::validate`] fails.
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
            }),
        })
    }

    /// A [`WriteThrough`] over the same client sharing this helper's
    /// circuit breaker, with `config` (its `breaker` is ignored).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when `config` is invalid, or when its
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
        match (self.load_shared(key, ttl, loader, use_cache).await, stale) {
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

    /// Runs `loader` once for all concurrent callers of `key`.
    async fn load_shared<V, F, Fut, E>(
        &self,
        key: &str,
        ttl: Duration,
        loader: F,
        use_cache: bool,
    ) -> std::result::Result<Option<V>, LoadError<E>>
    where
        V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Option<V>, E>> + Send + 'static,
        E: fmt::Display + Clone + Send + Sync + 'static,
    {
        match self.inner.loads.join(key) {
            Join::Wait(waiter) => {
                bump(&self.inner.counters.coalesced);
                waiter.wait().await.unwrap_or(Err(LoadError::Abandoned))
            }
            Join::Lead(leader) => {
                let inner = Arc::clone(&self.inner);
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
            Join::Mismatch => self.inner.load(key, ttl, loader, use_cache).await,
        }
    }
}

impl<C: Codec> Inner<C> {
    fn classify<V: DeserializeOwned>(&self, bytes: &[u8], now_ms: u64) -> Found<V> {
        let Some((header, payload)) = Header::parse(bytes) else {
            return Found::Foreign;
        };
        let value = match header.kind {
            EntryKind::Tombstone => return Found::Tombstone,
            EntryKind::Negative => None,
            EntryKind::Value => match self.store.client.codec().decode::<V>(payload) {
                Ok(value) => Some(value),
                Err(_) => return Found::Foreign,
            },
        };
        if header.is_fresh_at(now_ms) {
            Found::Fresh { value, header }
        } else {
            Found::Stale { value }
        }
    }

    /// The leader's load: one more look at the cache, the loader, then the
    /// conditional write.
    async fn load<V, F, Fut, E>(
        &self,
        key: &str,
        ttl: Duration,
        loader: F,
        use_cache: bool,
    ) -> std::result::Result<Option<V>, LoadError<E>>
    where
        V: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Option<V>, E>>,
    {
        let mut populate = Populate::No;
        if use_cache {
            // A caller that missed just as another flight ended finds that
            // flight's value here instead of loading again.
            populate = match self.store.get(key).await {
                Outcome::Done(None) => Populate::IfAbsent,
                Outcome::Done(Some(bytes)) => {
                    match self.classify::<V>(&bytes, envelope::unix_millis()) {
                        Found::Fresh { value, .. } => return Ok(value),
                        Found::Tombstone => Populate::IfAbsent,
                        Found::Stale { .. } | Found::Foreign => Populate::Replace(bytes),
                    }
                }
                Outcome::Skipped | Outcome::Failed(_) => Populate::No,
            };
        }
        bump(&self.counters.loads);
        let started = Instant::now();
        let loaded = self.run_loader(loader).await?;
        let write = match populate {
            Populate::No => None,
            populate => self.entry(&loaded, ttl).map(|entry| (populate, entry)),
        };
        match write {
            Some((Populate::IfAbsent, (bytes, key_ttl))) => {
                // The fence: a tombstone written after the loader read the
                // system of record lives fence_ttl, so NX is safe only until
                // fence_ttl after the loader was called.
                let left = self.config.fence_ttl.saturating_sub(started.elapsed());
                if left.is_zero() {
                    bump(&self.counters.populate_refused);
                    debug!(key, "not cached: the load outlasted fence_ttl");
                    return Ok(loaded);
                }
                if let Outcome::Done(false) =
                    self.store.set_if_absent(key, &bytes, key_ttl, left).await
                {
                    bump(&self.counters.populate_refused);
                    debug!(
                        key,
                        "not cached: the key holds a newer value or a tombstone"
                    );
                }
            }
            Some((Populate::Replace(seen), (bytes, key_ttl))) => {
                if let Swap::Conflict = self
                    .store
                    .compare_and_set(key, &seen, &bytes, key_ttl)
                    .await
                {
                    bump(&self.counters.populate_refused);
                    debug!(key, "not cached: the key changed during the load");
                }
            }
            _ => {}
        }
        Ok(loaded)
    }

    /// Calls `loader`, bounded by `load_timeout`.
    async fn run_loader<V, F, Fut, E>(&self, loader: F) -> std::result::Result<V, LoadError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<V, E>>,
    {
        let limit = self.config.load_timeout;
        match tokio::time::timeout(limit, loader()).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                bump(&self.counters.load_errors);
                Err(LoadError::Loader(error))
            }
            Err(_) => {
                bump(&self.counters.load_errors);
                Err(LoadError::Timeout(limit))
            }
        }
    }

    /// The entry to cache for a loaded value and the key's TTL; `None` when
    /// nothing is to be cached (no negative caching, or the value does not
    /// encode).
    fn entry<V: Serialize>(
        &self,
        loaded: &Option<V>,
        ttl: Duration,
    ) -> Option<(Vec<u8>, Duration)> {
        let (kind, payload, fresh) = match loaded {
            Some(value) => match self.store.client.codec().encode(value) {
                Ok(payload) => (EntryKind::Value, payload, ttl),
                Err(error) => {
                    self.store.errors.fetch_add(1, Ordering::Relaxed);
                    warn!(%error, "loaded value does not encode; not cached");
                    return None;
                }
            },
            None => (EntryKind::Negative, Vec::new(), self.config.negative_ttl?),
        };
        Some(envelope::build(
            kind,
            &payload,
            fresh,
            self.config.jitter,
            self.config.stale_window,
        ))
    }

    /// Whether a read of this fresh entry should start a refresh.
    fn should_refresh(&self, header: &Header, ttl: Duration, now_ms: u64) -> bool {
        if self.config.refresh_ahead <= 0.0 || self.store.compare_and_set_supported() == Some(false)
        {
            return false;
        }
        let base = match header.kind {
            EntryKind::Negative => match self.config.negative_ttl {
                Some(negative) => negative,
                None => return false,
            },
            _ => ttl,
        };
        let window = base.as_secs_f64() * 1000.0 * self.config.refresh_ahead;
        let remaining = header.fresh_until_ms.saturating_sub(now_ms) as f64;
        let chance = self.config.probabilistic_refresh.then(fastrand::f64);
        refresh_due(remaining, window, chance)
    }

    /// Starts the background refresh of `key` unless one is running: the
    /// loader's value replaces `seen` by compare-and-set.
    fn spawn_refresh<V, F, Fut, E>(
        inner: &Arc<Inner<C>>,
        key: &str,
        ttl: Duration,
        loader: F,
        seen: Vec<u8>,
        header: &Header,
    ) where
        V: Serialize + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Option<V>, E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        let Some(claim) = inner.refreshes.try_claim(key) else {
            return;
        };
        let inner = Arc::clone(inner);
        let key = key.to_owned();
        let fresh_until_ms = header.fresh_until_ms;
        tokio::spawn(async move {
            let _claim = claim;
            // The reader may have seen the entry just before another refresh
            // (or a write) replaced it: load only if it is still there.
            match inner.store.get(&key).await {
                Outcome::Done(Some(bytes)) if bytes == seen => {}
                _ => return,
            }
            bump(&inner.counters.early_refreshes);
            let loaded = match inner.run_loader(loader).await {
                Ok(loaded) => loaded,
                Err(error) => {
                    debug!(key, %error, "early refresh failed; the entry stays until it expires");
                    let left = fresh_until_ms.saturating_sub(envelope::unix_millis());
                    let pause = REFRESH_RETRY_PAUSE.min(Duration::from_millis(left));
                    tokio::time::sleep(pause).await;
                    return;
                }
            };
            let Some((bytes, key_ttl)) = inner.entry(&loaded, ttl) else {
                return;
            };
            if let Swap::Conflict = inner
                .store
                .compare_and_set(&key, &seen, &bytes, key_ttl)
                .await
            {
                bump(&inner.counters.refresh_conflicts);
                debug!(key, "early refresh lost to a newer write; keeping it");
            }
        });
    }
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

    #[test]
    fn refresh_is_due_inside_the_window() {
        assert!(!refresh_due(2001.0, 2000.0, None));
        assert!(refresh_due(2000.0, 2000.0, None));
        assert!(refresh_due(0.0, 2000.0, None));
        // Probabilistic: never at the window's start, always at expiry,
        // half the draws half way.
        assert!(!refresh_due(2000.0, 2000.0, Some(0.0)));
        assert!(refresh_due(0.0, 2000.0, Some(0.999)));
        assert!(refresh_due(1000.0, 2000.0, Some(0.49)));
        assert!(!refresh_due(1000.0, 2000.0, Some(0.51)));
        assert!(!refresh_due(3000.0, 2000.0, Some(0.0)));
    }

    #[test]
    fn helpers_are_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<CacheAside>();
        check::<WriteThrough>();
        check::<CircuitBreaker>();
        check::<LoadError<String>>();
    }
}
