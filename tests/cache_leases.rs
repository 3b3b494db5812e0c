//! `CacheAside` with server leases (`RC.LEASE.*`): a cold key is loaded
//! once across operating-system processes (the `ringcache-stampede`
//! binary, N processes of many callers, counting loader calls with INCR on
//! the node), a slow loader's fill is refused after a newer write or a
//! delete (the stale-fill race, made deterministic with a gated loader), a
//! failed loader hands the lease on, and against redis-server the helper
//! falls back to per-process single flight.
//!
//! Two helpers on one node stand for two processes where a test needs to
//! hold a loader: each has its own single flight, as two processes do.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::info::{field, info_section, wait_blocked};
use common::process::{cargo_build, profile_dir};
use common::redis_server::RedisServer;
use common::{eventually, eventually_async, TestServer, DEADLINE};
use ringcache_client::{
    CacheAside, CacheAsideConfig, CacheUpdate, Client, ClientConfig, LoadError, WriteThroughConfig,
};
use tokio::sync::watch;

const HOUR: Duration = Duration::from_secs(3600);

type Loaded = Result<Option<String>, LoadError<String>>;
/// What a gated loader's call returns.
type Loading =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<String>, String>> + Send>>;

async fn helper(addr: std::net::SocketAddr) -> CacheAside {
    let client = Client::connect(ClientConfig::new([addr.to_string()]))
        .await
        .expect("connect");
    let config = CacheAsideConfig {
        jitter: 0.0,
        refresh_ahead: 0.0,
        ..CacheAsideConfig::default()
    };
    CacheAside::new(client, config).expect("cache")
}

/// A loader that reads `db` (the system of record), counts its call, waits
/// for `gate` to open, then returns what it read (fails if the gate is
/// dropped instead).
fn gated_loader(
    db: &Arc<Mutex<String>>,
    calls: &Arc<AtomicUsize>,
    gate: &watch::Receiver<bool>,
) -> impl FnOnce() -> Loading + Send + 'static {
    let (db, calls, mut gate) = (Arc::clone(db), Arc::clone(calls), gate.clone());
    move || {
        Box::pin(async move {
            let read = db.lock().expect("db").clone();
            calls.fetch_add(1, Ordering::SeqCst);
            let opened = gate.wait_for(|open| *open).await.is_ok();
            if opened {
                Ok(Some(read))
            } else {
                Err("the system of record failed".to_string())
            }
        })
    }
}

async fn cached(cache: &CacheAside, key: &str) -> Option<String> {
    cache
        .get_or_load(key, HOUR, || async {
            Err::<Option<String>, String>("only a cached value is wanted".into())
        })
        .await
        .ok()
        .flatten()
}

/// Starts a gated load of `key` in the background and waits until its
/// loader has read the system of record.
async fn slow_load(
    cache: &CacheAside,
    key: &'static str,
    db: &Arc<Mutex<String>>,
    gate: &watch::Receiver<bool>,
) -> (tokio::task::JoinHandle<Loaded>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let loader = gated_loader(db, &calls, gate);
    let task = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get_or_load(key, HOUR, loader).await })
    };
    let started = eventually_async(DEADLINE, || {
        let calls = Arc::clone(&calls);
        async move { calls.load(Ordering::SeqCst) == 1 }
    })
    .await;
    assert!(started, "the loader runs");
    (task, calls)
}

/// The stale-fill race against a write-through: the slow loader read v1,
/// the write of v2 completes, then the load finishes. Its fill is refused
/// (the SET ended the lease) and the cache holds v2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_after_a_write_through_is_refused() {
    let node = TestServer::start();
    let cache = helper(node.addr).await;
    let writer = cache
        .write_through(WriteThroughConfig {
            jitter: 0.0,
            ..WriteThroughConfig::default()
        })
        .expect("writer");
    let db = Arc::new(Mutex::new("v1".to_string()));
    let (open, gate) = watch::channel(false);
    let (load, _) = slow_load(&cache, "item", &db, &gate).await;
    let write = writer
        .write("item", &"v2".to_string(), HOUR, async {
            *db.lock().expect("db") = "v2".to_string();
            Ok::<_, String>(())
        })
        .await
        .expect("written");
    assert_eq!(write.cache, CacheUpdate::Written);
    open.send(true).expect("gate");
    assert_eq!(load.await.expect("task"), Ok(Some("v1".into())));
    assert_eq!(cached(&cache, "item").await.as_deref(), Some("v2"));
    let stats = cache.stats();
    assert_eq!(
        (stats.leased_loads, stats.fills_refused),
        (1, 1),
        "{stats:?}"
    );
}

/// The race that only leases close: the writer updates the system of
/// record, then invalidates with a `DEL` of a key nobody cached yet. The
/// slow loader's fill comes after that and is refused, so the next read
/// loads v2 instead of finding v1 (a `SET NX` populate would have won).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_after_a_delete_of_the_missing_key_is_refused() {
    let node = TestServer::start();
    let cache = helper(node.addr).await;
    let db = Arc::new(Mutex::new("v1".to_string()));
    let (open, gate) = watch::channel(false);
    let (load, _) = slow_load(&cache, "item", &db, &gate).await;
    *db.lock().expect("db") = "v2".to_string();
    let deleted = cache.client().del(&["item"]).await.expect("DEL");
    assert_eq!(deleted, 0, "nothing was cached yet");
    open.send(true).expect("gate");
    assert_eq!(load.await.expect("task"), Ok(Some("v1".into())));
    assert!(!cache.client().exists("item").await.expect("EXISTS"));
    let fresh = Arc::clone(&db);
    let value = cache
        .get_or_load("item", HOUR, move || async move {
            Ok::<_, String>(Some(fresh.lock().expect("db").clone()))
        })
        .await;
    assert_eq!(value, Ok(Some("v2".into())));
    assert_eq!(cache.stats().fills_refused, 1);
}

/// Two helpers (two processes): while the first loads, the second waits
/// for the lease, parked on the node after its first ask (no polling), and
/// returns the first one's value without loading; when the first one's
/// loader fails, its lease is released and the second, still parked,
/// takes it and loads itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_gets_the_holders_fill_or_takes_over_when_its_loader_fails() {
    let node = TestServer::start();
    let (first, second) = (helper(node.addr).await, helper(node.addr).await);
    let db = Arc::new(Mutex::new("v1".to_string()));
    for (key, succeed) in [("filled", true), ("failed", false)] {
        let (open, gate) = watch::channel(false);
        let (load, _) = slow_load(&first, key, &db, &gate).await;
        let second_calls = Arc::new(AtomicUsize::new(0));
        // Counted before the waiter starts: a parked waiter is answered
        // LEASEWAIT once, which may come before the count is read.
        let answered = waits_answered(&node) + 1;
        let waiter = {
            let (cache, calls) = (second.clone(), Arc::clone(&second_calls));
            tokio::spawn(async move {
                cache
                    .get_or_load(key, HOUR, move || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, String>(Some("second".to_string()))
                    })
                    .await
            })
        };
        // The waiter has been told to wait (a LEASEWAIT answered) before
        // the holder goes on.
        let mut conn = node.conn();
        let waiting = tokio::task::spawn_blocking(move || {
            eventually(DEADLINE, || lease_waits(&mut conn) >= answered)
        });
        assert!(waiting.await.expect("poll"), "the second helper waits");
        let mut conn = node.conn();
        tokio::task::spawn_blocking(move || wait_blocked(&mut conn, 1))
            .await
            .expect("parked");
        if succeed {
            open.send(true).expect("gate");
            assert_eq!(load.await.expect("task"), Ok(Some("v1".into())));
            assert_eq!(waiter.await.expect("task"), Ok(Some("v1".into())));
            assert_eq!(second_calls.load(Ordering::SeqCst), 0);
        } else {
            drop(open);
            assert!(matches!(
                load.await.expect("task"),
                Err(LoadError::Loader(_))
            ));
            assert_eq!(waiter.await.expect("task"), Ok(Some("second".into())));
            assert_eq!(second_calls.load(Ordering::SeqCst), 1);
        }
    }
    let stats = second.stats();
    assert_eq!((stats.lease_waits, stats.leased_loads), (1, 1), "{stats:?}");
    // One wait answer per key: the rest of each wait was parked.
    assert_eq!(waits_answered(&node), 2);
}

/// LEASEWAIT answers the node gave so far (INFO errorstats).
fn lease_waits(conn: &mut redis::Connection) -> u64 {
    let errors = info_section(conn, "errorstats");
    field(&errors, "errorstat_LEASEWAIT")
        .and_then(|v| v.strip_prefix("count=")?.parse().ok())
        .unwrap_or(0)
}

fn waits_answered(node: &TestServer) -> u64 {
    lease_waits(&mut node.conn())
}

/// Against redis-server there are no leases: the first miss learns it and
/// the helper keeps to per-process single flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_leases_on_the_server_single_flight_stays() {
    let Some(redis) =
        RedisServer::start_or_skip("without_leases_on_the_server_single_flight_stays")
    else {
        return;
    };
    let cache = helper(redis.addr).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let (cache, calls) = (cache.clone(), Arc::clone(&calls));
            tokio::spawn(async move {
                cache
                    .get_or_load("cold", HOUR, move || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, String>(Some("v".to_string()))
                    })
                    .await
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.expect("task"), Ok(Some("v".into())));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().leased_loads, 0);
    assert_eq!(cached(&cache, "cold").await.as_deref(), Some("v"));
}

/// Stampede processes, killed and reaped on drop.
struct Fleet(Vec<Child>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn stampede_binary() -> std::path::PathBuf {
    let dir = profile_dir();
    let release = dir.file_name().and_then(|n| n.to_str()) == Some("release");
    cargo_build(
        &["-p", "ringcache-bench", "--bin", "ringcache-stampede"],
        release,
    );
    dir.join("ringcache-stampede")
}

/// Runs `processes` stampede processes of `callers` each against `node`
/// and returns the fleet's loader calls (the INCR counter) and each
/// process's JSON line.
fn stampede(
    node: &TestServer,
    binary: &std::path::Path,
    prefix: &str,
    processes: usize,
    leases: bool,
) -> (i64, Vec<String>) {
    let mut fleet = Fleet(Vec::new());
    for _ in 0..processes {
        let mut command = Command::new(binary);
        command
            .args(["--server", &node.addr.to_string(), "--prefix", prefix])
            .args(["--callers", "50", "--load-ms", "100"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if !leases {
            command.arg("--no-leases");
        }
        fleet
            .0
            .push(command.spawn().expect("spawn ringcache-stampede"));
    }
    let mut conn = node.conn();
    let ready = format!("{prefix}:ready");
    let all_ready = eventually(DEADLINE, || {
        common::q::<Option<i64>>(&mut conn, &["GET", &ready]) == Some(processes as i64)
    });
    assert!(all_ready, "every process connected");
    let _: () = common::q(&mut conn, &["SET", &format!("{prefix}:go"), "1"]);
    let until = Instant::now() + DEADLINE;
    let mut lines = Vec::new();
    for child in &mut fleet.0 {
        let done = eventually(until.saturating_duration_since(Instant::now()), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        assert!(done, "a stampede process did not finish");
        let mut out = String::new();
        use std::io::Read;
        child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read");
        assert!(child.wait().expect("status").success(), "{out}");
        lines.push(out.trim().to_string());
    }
    let loads: i64 = common::q(&mut conn, &["GET", &format!("{prefix}:loads")]);
    (loads, lines)
}

/// Eight processes of fifty callers each ask for one cold key at once:
/// with leases the loader runs once for all of them; without, once per
/// process at most (printed).
#[test]
fn a_cold_key_is_loaded_once_across_processes() {
    let binary = stampede_binary();
    let node = TestServer::start();
    let (loads, lines) = stampede(&node, &binary, "leased", 8, true);
    for line in &lines {
        assert!(line.contains("\"served\":50,\"errors\":0"), "{line}");
    }
    assert_eq!(loads, 1, "{lines:#?}");
    let leased: usize = lines
        .iter()
        .filter(|l| l.contains("\"leased_loads\":1"))
        .count();
    assert_eq!(leased, 1, "{lines:#?}");
    let (unleased, lines) = stampede(&node, &binary, "single-flight", 8, false);
    for line in &lines {
        assert!(line.contains("\"served\":50,\"errors\":0"), "{line}");
    }
    assert!((1..=8).contains(&unleased), "{unleased}");
    println!("loader calls, 8 processes x 50 callers: {loads} with leases, {unleased} without");
}
