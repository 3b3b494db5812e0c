//! End-to-end tests of the client's caching helpers (`CacheAside`,
//! `WriteThrough`, the circuit breaker) against real ringcache nodes, and
//! redis-server where its behaviour differs (no `SET IFEQ` in 7.x) or a
//! restart on a fixed port is needed.
//!
//! Races are made deterministic with loaders that wait on a channel: the
//! test knows the load has read the "system of record" (a mutex here) before
//! it makes the competing write, and only then releases the load.
//!
//! Measured figures (loader calls under a stampede, hit-path overhead,
//! breaker timings) are printed; run with `--nocapture` to see them.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::redis_server::RedisServer;
use common::{eventually_async, TestServer, DEADLINE};
use ringcache_client::envelope::{EntryKind, Header};
use ringcache_client::{
    BreakerConfig, BreakerState, CacheAside, CacheAsideConfig, CacheUpdate, Client, ClientConfig,
    LoadError, Ttl, Value, WriteThrough, WriteThroughConfig,
};
use tokio::sync::{oneshot, watch};

const HOUR: Duration = Duration::from_secs(3600);

type Loaded = Result<Option<String>, LoadError<String>>;

async fn connect(addr: &str, request_timeout: Duration) -> Client {
    let config = ClientConfig {
        request_timeout,
        connect_timeout: request_timeout,
        ..ClientConfig::new([addr])
    };
    Client::connect(config).await.expect("connect")
}

/// A client of the node at `addr` (5 s request timeout) and a cache-aside
/// helper on it, [`plain`] but for what `tweak` changes.
async fn cache_at(
    addr: SocketAddr,
    tweak: impl FnOnce(&mut CacheAsideConfig),
) -> (Client, CacheAside) {
    let client = connect(&addr.to_string(), Duration::from_secs(5)).await;
    let mut config = plain();
    tweak(&mut config);
    let cache = CacheAside::new(client.clone(), config).expect("cache");
    (client, cache)
}

/// A loader that finds `text`.
fn loads(
    text: &'static str,
) -> impl Fn() -> std::future::Ready<Result<Option<String>, String>> + Copy {
    move || std::future::ready(Ok(Some(text.to_string())))
}

/// Deterministic entries: no jitter, no early refresh unless asked.
fn plain() -> CacheAsideConfig {
    CacheAsideConfig {
        jitter: 0.0,
        refresh_ahead: 0.0,
        ..CacheAsideConfig::default()
    }
}

fn writer_config() -> WriteThroughConfig {
    WriteThroughConfig {
        jitter: 0.0,
        ..WriteThroughConfig::default()
    }
}

fn some(text: &str) -> Loaded {
    Ok(Some(text.to_string()))
}

/// When `key` expires (PEXPIRETIME: Unix time in ms).
async fn expiry_ms(client: &Client, key: &str) -> i64 {
    match client.cmd(&[b"PEXPIRETIME", key.as_bytes()]).await {
        Ok(Value::Int(at)) if at > 0 => at,
        other => panic!("PEXPIRETIME {key}: {other:?}"),
    }
}

/// Now as Unix time in ms, by the clock the node reads.
fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `n` concurrent callers of `key`. The one loader that runs counts
/// itself in `calls`, waits for `gate` to open, then returns
/// `outcome(opened)` (`opened` is false if the gate was dropped instead).
fn gated_callers(
    cache: &CacheAside,
    n: usize,
    key: &'static str,
    calls: &Arc<AtomicUsize>,
    gate: &watch::Receiver<bool>,
    outcome: fn(bool) -> Result<Option<String>, String>,
) -> Vec<tokio::task::JoinHandle<Loaded>> {
    (0..n)
        .map(|_| {
            let cache = cache.clone();
            let calls = Arc::clone(calls);
            let mut gate = gate.clone();
            tokio::spawn(async move {
                cache
                    .get_or_load(key, HOUR, move || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        let opened = gate.wait_for(|open| *open).await.is_ok();
                        outcome(opened)
                    })
                    .await
            })
        })
        .collect()
}

/// Waits until `coalesced` callers in all have joined a flight.
async fn joined(cache: &CacheAside, coalesced: u64) -> bool {
    eventually_async(DEADLINE, || {
        let now = cache.stats().coalesced;
        async move { now == coalesced }
    })
    .await
}

/// A loader that must not run.
async fn never() -> Result<Option<String>, String> {
    Err("the loader must not run".to_string())
}

/// What the cache holds under `key`: kind and decoded payload.
async fn stored(client: &Client, key: &str) -> Option<(EntryKind, Option<String>)> {
    let bytes = client.get_bytes(key).await.expect("GET")?;
    let (header, payload) = Header::parse(&bytes).expect("an entry");
    let value = (header.kind == EntryKind::Value)
        .then(|| client.decode_bytes::<String>(payload).expect("a string"));
    Some((header.kind, value))
}

/// A system of record: one optional value behind a mutex.
#[derive(Clone, Default)]
struct Db(Arc<Mutex<Option<String>>>);

impl Db {
    fn new(value: &str) -> Db {
        Db(Arc::new(Mutex::new(Some(value.to_string()))))
    }

    fn read(&self) -> Option<String> {
        self.0.lock().expect("db").clone()
    }

    fn write(&self, value: Option<&str>) {
        *self.0.lock().expect("db") = value.map(String::from);
    }

    /// The system-of-record step of a write-through: writes `value`.
    async fn store(&self, value: Option<&str>) -> Result<(), String> {
        self.write(value);
        Ok(())
    }

    /// A loader that reads the system of record.
    fn loader(&self) -> impl FnOnce() -> std::future::Ready<Result<Option<String>, String>> {
        let db = self.clone();
        move || std::future::ready(Ok(db.read()))
    }
}

/// What a loader returns, boxed.
type LoaderFuture = std::pin::Pin<Box<dyn Future<Output = Result<Option<String>, String>> + Send>>;

/// A loader that reads `db`, says so on `started`, and returns what it
/// read once `release` fires.
fn blocked_loader(
    db: &Db,
    started: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
) -> impl FnOnce() -> LoaderFuture + Send + 'static {
    let db = db.clone();
    move || {
        Box::pin(async move {
            let value = db.read();
            let _ = started.send(());
            let _ = release.await;
            Ok(value)
        })
    }
}

/// The stage of a fence race: a node, the helpers on it, a system of record
/// holding v1, and a miss load of "item" that has read v1 and waits for
/// `release` before it returns.
struct Race {
    _node: TestServer,
    client: Client,
    cache: CacheAside,
    writer: WriteThrough,
    db: Db,
    load: tokio::task::JoinHandle<Loaded>,
    release: Option<oneshot::Sender<()>>,
}

impl Race {
    async fn start() -> Race {
        let node = TestServer::start();
        let (client, cache) = cache_at(node.addr, |_| {}).await;
        let writer = cache.write_through(writer_config()).expect("writer");
        let db = Db::new("v1");
        let (started_tx, started) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        let load = tokio::spawn({
            let cache = cache.clone();
            let loader = blocked_loader(&db, started_tx, release_rx);
            async move { cache.get_or_load("item", HOUR, loader).await }
        });
        started.await.expect("the load read the db");
        Race {
            _node: node,
            client,
            cache,
            writer,
            db,
            load,
            release: Some(release),
        }
    }

    /// Lets the blocked load finish; returns what its caller got.
    async fn finish_load(&mut self) -> Loaded {
        if let Some(release) = self.release.take() {
            release.send(()).expect("release");
        }
        (&mut self.load).await.expect("task")
    }

    /// What the cache holds under "item".
    async fn item(&self) -> Option<(EntryKind, Option<String>)> {
        stored(&self.client, "item").await
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

// ---------------------------------------------------------------- single flight

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stampede_on_a_cold_key_runs_the_loader_once() {
    let node = TestServer::start();
    let (client, cache) = cache_at(node.addr, |_| {}).await;
    const CALLERS: usize = 1000;

    // 1,000 callers of a cold key; the loader waits until all have joined.
    let calls = Arc::new(AtomicUsize::new(0));
    let (release, gate) = watch::channel(false);
    let tasks = gated_callers(&cache, CALLERS, "hot", &calls, &gate, |_| {
        Ok(Some("value".to_string()))
    });
    assert!(
        joined(&cache, CALLERS as u64 - 1).await,
        "callers did not all join: {:?}",
        cache.stats()
    );
    release.send_replace(true);
    for task in tasks {
        assert_eq!(task.await.expect("task"), some("value"));
    }
    let gated_calls = calls.load(Ordering::SeqCst);
    assert_eq!(gated_calls, 1);
    assert_eq!(
        stored(&client, "hot").await,
        Some((EntryKind::Value, Some("value".into())))
    );

    // Without a gate: the loader takes 20 ms, callers arrive as they are
    // scheduled; the ones that miss after the flight ended find the value
    // on the leader's second look.
    let calls = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(CALLERS);
    for _ in 0..CALLERS {
        let cache = cache.clone();
        let calls = Arc::clone(&calls);
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_load("hot2", HOUR, move || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok::<_, String>(Some("value2".to_string()))
                })
                .await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), some("value2"));
    }
    let ungated_calls = calls.load(Ordering::SeqCst);
    let stats = cache.stats();
    println!(
        "stampede: {CALLERS} concurrent callers of a cold key -> {gated_calls} loader call \
         (loader gated until all joined); ungated 20 ms loader -> {ungated_calls} loader call(s), \
         {:?} for all {CALLERS}; stats {stats:?}",
        started.elapsed()
    );
    assert_eq!(ungated_calls, 1);
    assert_eq!(stats.in_flight, 0, "flights must not leak");

    // Errors are shared too: one failing load, every caller gets its error.
    let calls = Arc::new(AtomicUsize::new(0));
    let (release, gate) = watch::channel(false);
    let before = cache.stats().coalesced;
    let tasks = gated_callers(&cache, 100, "failing", &calls, &gate, |_| {
        Err("db down".to_string())
    });
    assert!(joined(&cache, before + 99).await);
    release.send_replace(true);
    for task in tasks {
        assert_eq!(
            task.await.expect("task"),
            Err(LoadError::Loader("db down".to_string()))
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(client.get_bytes("failing").await.expect("GET"), None);
    assert_eq!(cache.stats().in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_or_slow_loader_fails_its_callers_and_leaks_nothing() {
    let node = TestServer::start();
    let (_client, cache) =
        cache_at(node.addr, |c| c.load_timeout = Duration::from_millis(200)).await;
    let (release, gate) = watch::channel(false);
    let calls = Arc::new(AtomicUsize::new(0));
    let tasks = gated_callers(&cache, 10, "panics", &calls, &gate, |released| {
        if released {
            panic!("loader panicked (expected by the test)");
        }
        Ok(None)
    });
    assert!(joined(&cache, 9).await);
    release.send_replace(true);
    for task in tasks {
        assert_eq!(task.await.expect("task"), Err(LoadError::Abandoned));
    }
    assert_eq!(cache.stats().in_flight, 0);

    let slow = cache
        .get_or_load("slow", HOUR, || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<Option<String>, String>(None)
        })
        .await;
    assert_eq!(slow, Err(LoadError::Timeout(Duration::from_millis(200))));
    assert_eq!(
        cache.get_or_load("slow", HOUR, loads("ok")).await,
        some("ok")
    );
}

// ---------------------------------------------------------------- entries

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_is_cached_for_the_negative_ttl() {
    let node = TestServer::start();
    let negative_ttl = Duration::from_millis(800);
    let (client, cache) = cache_at(node.addr, |c| c.negative_ttl = Some(negative_ttl)).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let loader = |calls: &Arc<AtomicUsize>, value: Option<&'static str>| {
        let calls = Arc::clone(calls);
        move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(value.map(String::from))
        }
    };
    assert_eq!(
        cache
            .get_or_load("user:404", HOUR, loader(&calls, None))
            .await,
        Ok(None)
    );
    assert_eq!(
        stored(&client, "user:404").await,
        Some((EntryKind::Negative, None))
    );
    let Ttl::ExpiresIn(left) = client.ttl("user:404").await.expect("PTTL") else {
        panic!("the negative entry expires");
    };
    assert!(left <= negative_ttl, "{left:?}");
    // While it lives, reads answer "not found" without loading.
    for _ in 0..5 {
        assert_eq!(
            cache
                .get_or_load("user:404", HOUR, loader(&calls, Some("created")))
                .await,
            Ok(None)
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!((stats.negative_hits, stats.loads), (5, 1));
    // Then it expires and the loader is asked again.
    let reloaded = eventually_async(DEADLINE, || {
        let cache = cache.clone();
        let next = loader(&calls, Some("created"));
        async move { cache.get_or_load("user:404", HOUR, next).await == some("created") }
    })
    .await;
    assert!(reloaded);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    println!("negative caching: {:?}", cache.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttls_are_jittered_within_bounds() {
    let node = TestServer::start();
    let (client, cache) = cache_at(node.addr, |c| c.jitter = 0.1).await;
    let ttl = Duration::from_secs(100);
    for i in 0..200 {
        let value = format!("v{i}");
        let loaded = cache
            .get_or_load(&format!("jitter:{i}"), ttl, move || async move {
                Ok::<_, String>(Some(value))
            })
            .await;
        assert_eq!(loaded, some(&format!("v{i}")));
    }
    let mut ttls = Vec::new();
    for i in 0..200 {
        match client.ttl(format!("jitter:{i}")).await.expect("PTTL") {
            Ttl::ExpiresIn(left) => ttls.push(left),
            other => panic!("jitter:{i}: {other:?}"),
        }
    }
    // PTTL is read a little after the write: allow 5 s of elapsed time
    // below the lower bound.
    let (min, max) = (
        *ttls.iter().min().expect("ttls"),
        *ttls.iter().max().expect("ttls"),
    );
    assert!(min >= Duration::from_secs(85), "{min:?}");
    assert!(max <= Duration::from_secs(110), "{max:?}");
    assert!(
        max - min > Duration::from_secs(5),
        "spread {min:?}..{max:?}"
    );
    println!("jitter 0.1 on 100 s: 200 PTTLs in {min:?}..{max:?}");
}

// ---------------------------------------------------------------- early refresh

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_key_is_refreshed_in_the_background_before_it_expires() {
    let node = TestServer::start();
    let (client, cache) = cache_at(node.addr, |c| c.refresh_ahead = 0.5).await;
    // Long enough that the refresh window (the second half) leaves seconds
    // of margin before the hard expiry on a loaded machine.
    let ttl = Duration::from_secs(8);
    let seeded = Instant::now();
    assert_eq!(cache.get_or_load("hot", ttl, loads("v1")).await, some("v1"));
    // Readers poll the key; their loader (used only by a refresh) counts
    // its calls and waits for the gate.
    let calls = Arc::new(AtomicUsize::new(0));
    let (release, gate) = watch::channel(false);
    let read = |cache: &CacheAside| {
        let calls = Arc::clone(&calls);
        let mut gate = gate.clone();
        let cache = cache.clone();
        async move {
            let started = Instant::now();
            let value = cache
                .get_or_load("hot", ttl, move || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let _ = gate.wait_for(|open| *open).await;
                    Ok::<_, String>(Some("v2".to_string()))
                })
                .await;
            (value, started.elapsed())
        }
    };
    let mut reads = 0;
    let mut slowest = Duration::ZERO;
    let until = Instant::now() + DEADLINE;
    while cache.stats().early_refreshes == 0 {
        assert!(Instant::now() < until, "no refresh started");
        let (value, took) = read(&cache).await;
        assert_eq!(value, some("v1"));
        slowest = slowest.max(took);
        reads += 1;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let refresh_started = seeded.elapsed();
    // The refresh's loader is blocked: readers in the window are served the
    // current value at once and start no other refresh.
    for _ in 0..10 {
        let (value, took) = read(&cache).await;
        assert_eq!(value, some("v1"));
        slowest = slowest.max(took);
        reads += 1;
    }
    assert!(
        eventually_async(DEADLINE, || {
            let n = calls.load(Ordering::SeqCst);
            async move { n == 1 }
        })
        .await
    );
    assert_eq!(cache.stats().early_refreshes, 1);
    // The key's expiry before the refresh lands, and the earliest expiry a
    // refresh written from now on can set: both by the clock, so the check
    // below holds however slowly a loaded machine runs.
    let expiry_before = expiry_ms(&client, "hot").await;
    let renewed_from = unix_ms();
    release.send_replace(true);
    // Landed: readers get v2, and the refresh task has finished (it records
    // the compare-and-set's support after its write).
    let refreshed = eventually_async(DEADLINE, || {
        let read = read(&cache);
        let finished = cache.stats().in_flight == 0 && cache.compare_and_set_supported().is_some();
        async move { read.await.0 == some("v2") && finished }
    })
    .await;
    assert!(refreshed, "the refresh did not land: {:?}", cache.stats());
    let stats = cache.stats();
    assert_eq!(
        stats.loads, 1,
        "a reader loaded on the read path: {stats:?}"
    );
    assert_eq!(stats.misses, 1, "a reader missed: {stats:?}");
    assert_eq!(stats.early_refreshes, 1);
    assert_eq!(stats.refresh_conflicts, 0);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.compare_and_set_supported(), Some(true));
    let expiry_after = expiry_ms(&client, "hot").await;
    assert!(
        expiry_after > expiry_before && expiry_after >= renewed_from + ttl.as_millis() as i64,
        "the refresh renewed the TTL: expiry {expiry_before} -> {expiry_after} ms \
         (refresh released at {renewed_from} ms, TTL {ttl:?})"
    );
    println!(
        "early refresh: started {refresh_started:?} into an 8 s TTL (window 4 s); {reads} reads, \
         slowest {slowest:?}; {stats:?}"
    );
}

// ---------------------------------------------------------------- serve-stale

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_values_are_served_when_the_loader_fails() {
    let node = TestServer::start();
    let (client, cache) = cache_at(node.addr, |c| {
        c.stale_window = Some(Duration::from_secs(60))
    })
    .await;
    let strict = CacheAside::new(client.clone(), plain()).expect("cache");
    let fresh = Duration::from_millis(300);
    let written_from = unix_ms();
    assert_eq!(
        cache.get_or_load("price", fresh, loads("v1")).await,
        some("v1")
    );
    // By the clock, not by PTTL, so a slow machine cannot fail it.
    let expiry = expiry_ms(&client, "price").await;
    assert!(
        expiry >= written_from + 60_300,
        "fresh TTL + stale window: expires at {expiry} ms, written from {written_from} ms"
    );
    let failing = || async { Err::<Option<String>, _>("db down".to_string()) };
    // Fresh reads do not load; once stale, the failed reload serves v1.
    let served = eventually_async(DEADLINE, || {
        let cache = cache.clone();
        async move {
            assert_eq!(cache.get_or_load("price", fresh, failing).await, some("v1"));
            cache.stats().stale_served > 0
        }
    })
    .await;
    assert!(served);
    // A helper without serve-stale returns the loader's error instead.
    assert_eq!(
        strict.get_or_load("price", fresh, failing).await,
        Err(LoadError::Loader("db down".to_string()))
    );
    // A working loader replaces the stale entry (compare-and-set).
    assert_eq!(
        cache.get_or_load("price", HOUR, loads("v2")).await,
        some("v2")
    );
    assert_eq!(cache.get_or_load("price", HOUR, never).await, some("v2"));
    println!("serve-stale: {:?}", cache.stats());
}

// ---------------------------------------------------------------- the fence

/// (a) A miss load reads v1, a write-through of v2 completes, then the load
/// finishes: the cache keeps v2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_load_cannot_overwrite_a_newer_write() {
    let mut race = Race::start().await;
    let outcome = race
        .writer
        .write("item", "v2", HOUR, race.db.store(Some("v2")))
        .await
        .expect("written");
    assert_eq!(outcome.cache, CacheUpdate::Written);
    // The slow caller gets what it read; the cache keeps the newer value.
    assert_eq!(race.finish_load().await, some("v1"));
    assert_eq!(
        race.item().await,
        Some((EntryKind::Value, Some("v2".into())))
    );
    assert_eq!(
        race.cache.get_or_load("item", HOUR, never).await,
        some("v2")
    );
    assert_eq!(race.cache.stats().populate_refused, 1);
}

/// (a') The same race when the write-through cannot write its value to the
/// cache: it leaves a tombstone, which the load cannot overwrite either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_cache_write_leaves_a_tombstone_that_fences_the_load() {
    let mut race = Race::start().await;
    // JSON cannot encode a map with non-string keys: the cache write fails
    // after the system of record took the write.
    let unencodable: std::collections::HashMap<Vec<u8>, u8> = [(vec![1], 1)].into();
    let outcome = race
        .writer
        .write("item", &unencodable, HOUR, race.db.store(Some("v2")))
        .await
        .expect("the system of record took it");
    assert_eq!(outcome.cache, CacheUpdate::Invalidated);
    assert!(!outcome.cache_may_be_stale());
    assert_eq!(race.finish_load().await, some("v1"));
    assert_eq!(race.item().await, Some((EntryKind::Tombstone, None)));
    // Readers go to the system of record while the tombstone lives.
    assert_eq!(
        race.cache.get_or_load("item", HOUR, race.db.loader()).await,
        some("v2")
    );
    let Ttl::ExpiresIn(left) = race.client.ttl("item").await.expect("PTTL") else {
        panic!("the tombstone expires")
    };
    assert!(left <= writer_config().fence_ttl, "{left:?}");
}

/// (b) An early refresh reads v1, a write-through of v2 completes, then the
/// refresh finishes: its compare-and-set fails and v2 stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_refresh_cannot_overwrite_a_newer_write() {
    let node = TestServer::start();
    // The whole TTL is the refresh window: every hit starts a refresh.
    let (client, cache) = cache_at(node.addr, |c| c.refresh_ahead = 1.0).await;
    let writer = cache.write_through(writer_config()).expect("writer");
    let db = Db::new("v1");
    assert_eq!(
        cache.get_or_load("item", HOUR, db.loader()).await,
        some("v1")
    );
    let (started_tx, started) = oneshot::channel();
    let (release, release_rx) = oneshot::channel();
    // A hit: returns v1 at once and starts the refresh with this loader.
    assert_eq!(
        cache
            .get_or_load("item", HOUR, blocked_loader(&db, started_tx, release_rx))
            .await,
        some("v1")
    );
    started.await.expect("the refresh read the db");
    assert_eq!(cache.stats().early_refreshes, 1);
    let outcome = writer
        .write("item", "v2", HOUR, db.store(Some("v2")))
        .await
        .expect("written");
    assert_eq!(outcome.cache, CacheUpdate::Written);
    release.send(()).expect("release");
    let done = eventually_async(DEADLINE, || {
        let stats = cache.stats();
        async move { stats.refresh_conflicts == 1 && stats.in_flight == 0 }
    })
    .await;
    assert!(done, "{:?}", cache.stats());
    assert_eq!(
        stored(&client, "item").await,
        Some((EntryKind::Value, Some("v2".into())))
    );
}

/// (c) A miss load reads v1, the key is deleted (system of record and
/// cache), then the load finishes: it cannot put v1 back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_during_a_load_keeps_the_old_value_out() {
    let mut race = Race::start().await;
    let outcome = race
        .writer
        .delete("item", race.db.store(None))
        .await
        .expect("deleted");
    assert_eq!(outcome.cache, CacheUpdate::Invalidated);
    assert_eq!(race.finish_load().await, some("v1"));
    assert_eq!(race.item().await, Some((EntryKind::Tombstone, None)));
    assert_eq!(
        race.cache.get_or_load("item", HOUR, race.db.loader()).await,
        Ok(None)
    );
    assert_eq!(race.item().await, Some((EntryKind::Tombstone, None)));
    // A store failure leaves the cache alone.
    let failed = race
        .writer
        .delete("item", async { Err::<(), _>("constraint".to_string()) })
        .await;
    assert!(failed.is_err());
    assert_eq!(race.writer.stats().store_errors, 1);
}

// ---------------------------------------------------------------- overhead

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hit_path_overhead_against_a_raw_get() {
    let node = TestServer::start();
    let (client, cache) = cache_at(node.addr, |_| {}).await;
    let value = "x".repeat(32);
    let v = value.clone();
    cache
        .get_or_load("bench:helper", HOUR, move || async move {
            Ok::<_, String>(Some(v))
        })
        .await
        .expect("seeded");
    client
        .set("bench:plain", &value, ringcache_client::SetOptions::new())
        .await
        .expect("SET");
    const N: usize = 2000;
    let (mut raw, mut typed, mut helper) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so drift in machine load hits all three alike.
    for _ in 0..N {
        let t = Instant::now();
        client
            .get_bytes("bench:helper")
            .await
            .expect("GET")
            .expect("hit");
        raw.push(t.elapsed());
        let t = Instant::now();
        let _: String = client.get("bench:plain").await.expect("GET").expect("hit");
        typed.push(t.elapsed());
        let t = Instant::now();
        cache
            .get_or_load("bench:helper", HOUR, never)
            .await
            .expect("hit")
            .expect("value");
        helper.push(t.elapsed());
    }
    assert_eq!(cache.stats().hits, N as u64);
    let (raw, typed, helper) = (median(&mut raw), median(&mut typed), median(&mut helper));
    println!(
        "hit path, median of {N} sequential calls ({} build): raw get_bytes {:.1} µs, typed get \
         {:.1} µs, get_or_load {:.1} µs: overhead {:.1} µs over raw, {:.1} µs over typed get",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        raw.as_secs_f64() * 1e6,
        typed.as_secs_f64() * 1e6,
        helper.as_secs_f64() * 1e6,
        (helper.as_secs_f64() - raw.as_secs_f64()) * 1e6,
        (helper.as_secs_f64() - typed.as_secs_f64()) * 1e6,
    );
}

// ---------------------------------------------------------------- redis-server

/// redis-server 7 has no `SET IFEQ`: early refresh switches itself off
/// after one try, everything else works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_compare_and_set_early_refresh_turns_itself_off() {
    let Some(redis) =
        RedisServer::start_or_skip("without_compare_and_set_early_refresh_turns_itself_off")
    else {
        return;
    };
    let (client, cache) = cache_at(redis.addr, |c| c.refresh_ahead = 1.0).await;
    let v1 = loads("v1");
    let v2 = loads("v2");
    assert_eq!(cache.get_or_load("k", HOUR, v1).await, some("v1"));
    // A hit in the window tries a refresh: IFEQ is refused.
    assert_eq!(cache.get_or_load("k", HOUR, v2).await, some("v1"));
    let off = eventually_async(DEADLINE, || {
        let supported = cache.compare_and_set_supported();
        let in_flight = cache.stats().in_flight;
        async move { supported == Some(false) && in_flight == 0 }
    })
    .await;
    assert!(off, "{:?}", cache.stats());
    for _ in 0..5 {
        assert_eq!(cache.get_or_load("k", HOUR, v2).await, some("v1"));
    }
    let stats = cache.stats();
    assert_eq!(stats.early_refreshes, 1, "{stats:?}");
    assert_eq!(
        stored(&client, "k").await,
        Some((EntryKind::Value, Some("v1".into())))
    );
    // NX population and write-through work as on ringcache.
    let writer = cache.write_through(writer_config()).expect("writer");
    let outcome = writer
        .write("k", "v3", HOUR, async { Ok::<(), String>(()) })
        .await
        .expect("written");
    assert_eq!(outcome.cache, CacheUpdate::Written);
    assert_eq!(cache.get_or_load("k", HOUR, never).await, some("v3"));
}

/// The cache dies: reads keep coming from the loader, fast once the circuit
/// is open; writes still reach the system of record. The cache comes back
/// on the same port: after the cool-down a probe closes the circuit and the
/// cache is used again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_cache_degrades_to_the_loader_through_the_breaker() {
    let node = TestServer::start();
    let port = node.addr.port();
    let request_timeout = Duration::from_millis(300);
    let client = connect(&node.addr.to_string(), request_timeout).await;
    let threshold = 3;
    let cool_down = Duration::from_secs(1);
    let cache = CacheAside::new(
        client.clone(),
        CacheAsideConfig {
            breaker: BreakerConfig {
                failure_threshold: threshold,
                cool_down,
            },
            ..plain()
        },
    )
    .expect("cache");
    let writer = cache.write_through(writer_config()).expect("writer");
    let load = |i: usize| move || async move { Ok::<_, String>(Some(format!("v{i}"))) };
    assert_eq!(cache.get_or_load("warm", HOUR, load(0)).await, some("v0"));
    assert_eq!(cache.get_or_load("warm", HOUR, never).await, some("v0"));

    drop(node);
    let mut before_open = Vec::new();
    let mut after_open = Vec::new();
    let mut opened_after = None;
    for i in 0..40 {
        let t = Instant::now();
        let value = cache.get_or_load(&format!("down:{i}"), HOUR, load(i)).await;
        let took = t.elapsed();
        assert_eq!(
            value,
            some(&format!("v{i}")),
            "call {i} must be served by the loader"
        );
        if opened_after.is_some() {
            after_open.push(took);
        } else {
            before_open.push(took);
            if cache.breaker().state() == BreakerState::Open {
                opened_after = Some(i + 1);
            }
        }
    }
    let stats = cache.stats();
    assert_eq!(opened_after, Some(threshold as usize), "{stats:?}");
    assert_eq!(stats.breaker_opens, 1);
    let slowest_open = *after_open.iter().max().expect("calls after opening");
    let median_open = median(&mut after_open.clone());
    assert!(
        slowest_open < Duration::from_millis(100),
        "calls with the circuit open must not wait for the cache: {slowest_open:?}"
    );

    // Write-through with the cache down: the system of record is written,
    // the cache is skipped and reported as possibly stale.
    let db = Db::new("v1");
    let outcome = writer
        .write("warm", "v2", HOUR, db.store(Some("v2")))
        .await
        .expect("the system of record took it");
    assert_eq!(outcome.cache, CacheUpdate::Skipped);
    assert!(outcome.cache_may_be_stale());
    assert_eq!(db.read().as_deref(), Some("v2"));

    // The cache comes back: a new node on the same port.
    let restarted_at = Instant::now();
    let _node = TestServer::builder().set("port", &port.to_string()).start();
    let ready = restarted_at.elapsed();
    let mut probes = 0;
    let closed = eventually_async(DEADLINE, || {
        probes += 1;
        let cache = cache.clone();
        async move {
            let _ = cache.get_or_load("back", HOUR, load(99)).await;
            cache.breaker().state() == BreakerState::Closed
        }
    })
    .await;
    let closed_after = restarted_at.elapsed();
    assert!(closed, "the circuit did not close: {:?}", cache.stats());
    // The cache is used again: a load is cached, then served from it.
    assert_eq!(cache.get_or_load("again", HOUR, load(7)).await, some("v7"));
    assert_eq!(cache.get_or_load("again", HOUR, never).await, some("v7"));
    assert_eq!(
        stored(&client, "again").await,
        Some((EntryKind::Value, Some("v7".into())))
    );
    let stats = cache.stats();
    println!(
        "breaker: threshold {threshold}, cool-down {cool_down:?}, request timeout \
         {request_timeout:?}; cache killed: {} calls before the circuit opened took {:?}; \
         {} calls with it open: median {:?}, max {:?}; restart on the same port (ready in \
         {ready:?}) -> circuit closed {closed_after:?} after the restart ({probes} reads); \
         {stats:?}",
        before_open.len(),
        before_open,
        after_open.len(),
        median_open,
        slowest_open,
    );
}
