//! End-to-end tests of the Rust client (`ringcache-client`): typed round
//! trips against a standalone node, redis-server, and 3-node clusters in
//! proxy and redirect mode; multi-key commands split across nodes; MOVED,
//! ASK and TRYAGAIN handling; failover with a measured error window;
//! request timeouts; dropped connections and reconnects.
//!
//! Fake nodes (`mock`) are small Tokio tasks speaking RESP on 127.0.0.1:0,
//! for behaviour a real node does not show on demand (ASK, silence, closing
//! mid-request).

mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::cluster::TestCluster;
use common::redis_server::{free_port, skip_without, RedisServer};
use common::{eventually, eventually_async, TestServer, DEADLINE};
use ringcache_client::{
    key_slot, Client, ClientConfig, ErrorKind, Expiry, Mode, SetOptions, Ttl, Value,
};
use ringcache_proto::resp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// Quick failure detection for cluster tests.
const FAST: &[&str] = &["--failure-timeout", "3s"];
const REDIRECT: &[&str] = &["--failure-timeout", "3s", "--cluster-redirect"];

/// Cluster tests run one at a time: their timings (failure detection, the
/// failover error window) should not depend on other clusters on 2 cores.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A config with a patient timeout (the machine may be busy).
fn config(nodes: Vec<String>) -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(5),
        ..ClientConfig::new(nodes)
    }
}

fn seeds(cluster: &TestCluster) -> Vec<String> {
    cluster
        .live()
        .into_iter()
        .map(|i| cluster.node(i).addr.to_string())
        .collect()
}

/// SETs `key` with `options` and returns the TTL it then has.
async fn set_and_ttl(client: &Client, key: &str, options: SetOptions) -> Duration {
    client.set(key, &"v", options).await.expect("set succeeds");
    match client.ttl(key).await.expect("ttl succeeds") {
        Ttl::ExpiresIn(left) => left,
        other => panic!("expected a TTL, got {other:?}"),
    }
}

/// A structured value: (id, name, tags). Std types, since this package
/// has no serde dependency of its own; they go through serde all the same.
type User = (u64, String, Vec<String>);

fn user(id: u64) -> User {
    (id, format!("user {id}"), vec!["a".into(), format!("t{id}")])
}

/// Every typed command once, against whatever `client` is connected to.
/// Keys start with `prefix`, so several runs can share a node.
async fn exercise(client: &Client, prefix: &str) {
    let key = format!("{prefix}:user:1");
    let missing = format!("{prefix}:missing");

    // Typed round trip; NX, XX and GET.
    let written = client
        .set(&key, &user(1), SetOptions::new())
        .await
        .expect("set succeeds");
    assert!(written.written && written.previous.is_none());
    assert_eq!(
        client.get::<User>(&key).await.expect("get succeeds"),
        Some(user(1))
    );
    assert_eq!(
        client.get::<User>(&missing).await.expect("get succeeds"),
        None
    );
    let nx = client
        .set(&key, &user(2), SetOptions::new().if_absent())
        .await
        .expect("set succeeds");
    assert!(!nx.written);
    let xx = client
        .set(&missing, &1, SetOptions::new().if_present())
        .await
        .expect("set succeeds");
    assert!(!xx.written);
    assert!(!client.exists(&missing).await.expect("exists succeeds"));
    let swapped = client
        .set(&key, &user(2), SetOptions::new().get_previous())
        .await
        .expect("set succeeds");
    assert!(swapped.written);
    let previous: User = client
        .decode_bytes(&swapped.previous.expect("had a value"))
        .expect("a decodable value");
    assert_eq!(previous, user(1));
    let first = client
        .set(
            &format!("{prefix}:nx-get"),
            &"x",
            SetOptions::new().if_absent().get_previous(),
        )
        .await
        .expect("set succeeds");
    assert!(first.written && first.previous.is_none());

    // TTLs: missing, persistent, expiring; EX, PXAT, KEEPTTL, PEXPIRE.
    assert_eq!(
        client.ttl(&missing).await.expect("ttl succeeds"),
        Ttl::Missing
    );
    assert_eq!(
        client.ttl(&key).await.expect("ttl succeeds"),
        Ttl::Persistent
    );
    let ttl_key = format!("{prefix}:ttl");
    let left = set_and_ttl(
        client,
        &ttl_key,
        SetOptions::new().ttl(Duration::from_secs(100)),
    )
    .await;
    assert!(
        left > Duration::from_secs(90) && left <= Duration::from_secs(100),
        "{left:?}"
    );
    set_and_ttl(client, &ttl_key, SetOptions::new().keep_ttl()).await;
    let left = set_and_ttl(
        client,
        &ttl_key,
        SetOptions::new().expiry(Expiry::Seconds(1000)),
    )
    .await;
    assert!(left > Duration::from_secs(990), "{left:?}");
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock")
        .as_millis() as u64;
    let at = Expiry::AtUnixMillis(unix_ms + 500_000);
    let left = set_and_ttl(client, &ttl_key, SetOptions::new().expiry(at)).await;
    assert!(left > Duration::from_secs(400), "{left:?}");
    assert!(client
        .expire(&key, Duration::from_secs(50))
        .await
        .expect("expire succeeds"));
    assert!(!client
        .expire(&missing, Duration::from_secs(50))
        .await
        .expect("expire succeeds"));
    assert!(matches!(
        client.ttl(&key).await.expect("ttl succeeds"),
        Ttl::ExpiresIn(_)
    ));
    // A short TTL really expires (polled, not slept).
    let short = format!("{prefix}:short");
    client
        .set(&short, &1, SetOptions::new().ttl(Duration::from_millis(50)))
        .await
        .expect("set succeeds");
    let expired = eventually_async(DEADLINE, || async {
        !client.exists(&short).await.expect("exists succeeds")
    })
    .await;
    assert!(expired, "{short} never expired");

    // Raw bytes, not UTF-8.
    let raw_key = format!("{prefix}:raw");
    let raw = vec![0u8, 159, 146, 150, 255, b'\r', b'\n'];
    client
        .set_bytes(&raw_key, &raw, SetOptions::new())
        .await
        .expect("set_bytes succeeds");
    assert_eq!(
        client
            .get_bytes(&raw_key)
            .await
            .expect("get_bytes succeeds"),
        Some(raw.clone())
    );

    // Counters: JSON numbers are the integers INCR works on.
    let counter = format!("{prefix}:counter");
    assert_eq!(client.incr(&counter, 5).await.expect("incr succeeds"), 5);
    assert_eq!(client.incr(&counter, -2).await.expect("incr succeeds"), 3);
    assert_eq!(
        client.get::<i64>(&counter).await.expect("get succeeds"),
        Some(3)
    );
    client
        .set(&counter, &40, SetOptions::new())
        .await
        .expect("set succeeds");
    assert_eq!(client.incr(&counter, 2).await.expect("incr succeeds"), 42);

    // Error kinds, not strings.
    let err = client.incr(&key, 1).await.expect_err("incr fails");
    assert_eq!(err.kind(), &ErrorKind::Server("ERR".into()), "{err}");
    let err = client.get::<User>(&counter).await.expect_err("get fails");
    assert_eq!(err.kind(), &ErrorKind::Codec, "{err}");

    // Hashes.
    let hash = format!("{prefix}:hash");
    let fields = [("a", user(1)), ("b", user(2)), ("c", user(3))];
    assert_eq!(client.hset(&hash, &fields).await.expect("hset succeeds"), 3);
    assert_eq!(
        client
            .hset(&hash, &[("a", user(4))])
            .await
            .expect("hset succeeds"),
        0
    );
    assert_eq!(
        client
            .hget::<User>(&hash, "a")
            .await
            .expect("hget succeeds"),
        Some(user(4))
    );
    assert_eq!(
        client
            .hget::<User>(&hash, "zz")
            .await
            .expect("hget succeeds"),
        None
    );
    let all: HashMap<String, User> = client.hgetall(&hash).await.expect("hgetall succeeds");
    assert_eq!(all.len(), 3);
    assert_eq!(all["b"], user(2));
    assert_eq!(
        client
            .hdel(&hash, &["a", "zz"])
            .await
            .expect("hdel succeeds"),
        1
    );
    assert_eq!(
        client
            .hincrby(&hash, "n", 7)
            .await
            .expect("hincrby succeeds"),
        7
    );
    assert_eq!(
        client
            .hincrby(&hash, "n", 1)
            .await
            .expect("hincrby succeeds"),
        8
    );
    let empty: HashMap<String, User> = client.hgetall(&missing).await.expect("hgetall succeeds");
    assert!(empty.is_empty());
    let err = client.get_bytes(&hash).await.expect_err("get_bytes fails");
    assert_eq!(err.kind(), &ErrorKind::Server("WRONGTYPE".into()), "{err}");

    // Multi-key commands, in order, with a missing key in the middle.
    let keys: Vec<String> = (0..60).map(|i| format!("{prefix}:m{i}")).collect();
    let pairs: Vec<(String, HashMap<String, usize>)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), HashMap::from([("i".to_string(), i)])))
        .collect();
    client.mset(&pairs).await.expect("mset succeeds");
    let mut asked = keys.clone();
    asked.insert(30, missing.clone());
    let values: Vec<Option<HashMap<String, usize>>> =
        client.mget(&asked).await.expect("mget succeeds");
    assert_eq!(values.len(), asked.len());
    for (i, value) in values.iter().enumerate() {
        let expected = match i {
            30 => None,
            i if i < 30 => Some(HashMap::from([("i".to_string(), i)])),
            i => Some(HashMap::from([("i".to_string(), i - 1)])),
        };
        assert_eq!(value, &expected, "{}", asked[i]);
    }
    assert_eq!(client.del(&asked).await.expect("del succeeds"), 60);
    assert_eq!(client.del(&asked).await.expect("del succeeds"), 0);
    assert!(client
        .mget::<i32, &str>(&[])
        .await
        .expect("mget succeeds")
        .is_empty());

    // The escape hatch.
    assert_eq!(
        client
            .cmd(&[b"STRLEN", raw_key.as_bytes()])
            .await
            .expect("cmd succeeds"),
        Value::Int(raw.len() as i64)
    );
    assert_eq!(
        client.cmd(&[b"PING"]).await.expect("cmd succeeds"),
        Value::Simple(b"PONG".to_vec())
    );
    let err = client
        .cmd(&[b"NOSUCHCOMMAND", b"x"])
        .await
        .expect_err("cmd fails");
    assert!(matches!(err.kind(), ErrorKind::Server(_)), "{err}");
    client.ping().await.expect("ping succeeds");

    // A pipeline: replies in queue order, per-command errors.
    let mut pipeline = client.pipeline();
    for i in 0..40 {
        pipeline.set(format!("{prefix}:p{i}"), &i, SetOptions::new());
    }
    for i in 0..40 {
        pipeline.get(format!("{prefix}:p{i}"));
    }
    pipeline
        .incr(&hash, 1)
        .hset(format!("{prefix}:ph"), "f", &1)
        .hget(format!("{prefix}:ph"), "f");
    let replies = pipeline.execute().await;
    assert_eq!(replies.len(), 83);
    for i in 0..40 {
        let value: Option<i32> = client
            .decode(replies[40 + i].clone().expect("a reply"))
            .expect("a decodable value");
        assert_eq!(value, Some(i as i32));
    }
    assert_eq!(
        replies[80].as_ref().expect_err("an error reply").kind(),
        &ErrorKind::Server("WRONGTYPE".into())
    );
    let h: Option<i32> = client
        .decode(replies[82].clone().expect("a reply"))
        .expect("a decodable value");
    assert_eq!(h, Some(1));
    assert!(
        pipeline.query().await.is_err(),
        "the WRONGTYPE fails query()"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_node_round_trips() {
    let node = TestServer::start();
    let client = Client::connect(config(vec![node.addr.to_string()]))
        .await
        .unwrap();
    assert_eq!(client.mode(), Mode::Standalone);
    assert_eq!(client.nodes(), vec![node.addr.to_string()]);
    exercise(&client, "standalone").await;
    // Clones share the connection and work from other tasks.
    let clone = client.clone();
    let task = tokio::spawn(async move { clone.get::<User>("standalone:user:1").await });
    assert!(task.await.unwrap().unwrap().is_some());
    // A bad seed before a good one is skipped.
    let dead = free_port();
    let client = Client::connect(config(vec![
        format!("127.0.0.1:{dead}"),
        node.addr.to_string(),
    ]))
    .await
    .unwrap();
    assert_eq!(client.mode(), Mode::Standalone);
    client.ping().await.unwrap();
    let err = Client::connect(config(vec![])).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_is_sent_on_every_connection() {
    let node = TestServer::with(&[("requirepass", "s3cret")]);
    let err = Client::connect(config(vec![node.addr.to_string()]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Server("NOAUTH".into()), "{err}");
    let wrong = ClientConfig {
        password: Some("nope".into()),
        ..config(vec![node.addr.to_string()])
    };
    let err = Client::connect(wrong).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Server(_)), "{err}");
    let right = ClientConfig {
        password: Some("s3cret".into()),
        pool_size: 3,
        ..config(vec![node.addr.to_string()])
    };
    let client = Client::connect(right).await.unwrap();
    for i in 0..6 {
        client
            .set(format!("auth:{i}"), &i, SetOptions::new())
            .await
            .unwrap();
    }
    assert_eq!(client.get::<i32>("auth:5").await.unwrap(), Some(5));
}

// ---------------------------------------------------------------- redis-server

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_server_round_trips() {
    let Some(redis) = RedisServer::start_or_skip("redis_server_round_trips") else {
        return;
    };
    let client = Client::connect(config(vec![redis.addr.to_string()]))
        .await
        .unwrap();
    assert_eq!(client.mode(), Mode::Standalone);
    exercise(&client, "redis").await;
}

/// redis-server in cluster mode, its files in `dir`, on a port whose
/// cluster bus port (+10000) is free too.
fn cluster_member(dir: &str) -> RedisServer {
    for _ in 0..100 {
        let port = free_port();
        if port >= 55_000 || StdListener::bind(("127.0.0.1", port + 10_000)).is_err() {
            continue;
        }
        let conf = format!("nodes-{port}.conf");
        let flags = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            &conf,
            "--dir",
            dir,
        ];
        if let Ok(server) = RedisServer::start_on(port, &flags) {
            return server;
        }
    }
    panic!("no port for a redis-server cluster member");
}

#[test]
fn redis_cluster_round_trips() {
    if skip_without("redis_cluster_round_trips", &["redis-server", "redis-cli"]) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ringcache-rediscluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_text = dir.to_str().unwrap().to_string();
    let nodes: Vec<RedisServer> = (0..3).map(|_| cluster_member(&dir_text)).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        created.is_ok_and(|s| s.success()),
        "redis-cli --cluster create failed"
    );
    let rt = runtime();
    rt.block_on(async {
        // Every node must agree the cluster is up before routing works.
        let addrs = &addrs;
        let ready = eventually_async(DEADLINE, || async move {
            for addr in addrs {
                let Ok(client) = Client::connect(config(vec![addr.clone()])).await else {
                    return false;
                };
                match client.cmd(&[b"CLUSTER", b"INFO"]).await {
                    Ok(Value::Bulk(info))
                        if String::from_utf8_lossy(&info).contains("cluster_state:ok") => {}
                    _ => return false,
                }
            }
            true
        })
        .await;
        assert!(ready, "Redis Cluster did not come up");
        let client = Client::connect(config(vec![addrs[0].clone()]))
            .await
            .unwrap();
        assert_eq!(client.mode(), Mode::Cluster);
        assert_eq!(client.stats().known_nodes, 3);
        exercise(&client, "rediscluster").await;
    });
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn redis_server_restart_reconnects() {
    let Some(redis) = RedisServer::start_or_skip("redis_server_restart_reconnects") else {
        return;
    };
    let port = redis.port();
    let rt = runtime();
    let client = rt.block_on(async {
        let client = Client::connect(ClientConfig::new([redis.addr.to_string()]))
            .await
            .unwrap();
        client.set("restart", &1, SetOptions::new()).await.unwrap();
        client
    });
    redis.kill();
    rt.block_on(async {
        let err = client.get::<i32>("restart").await.unwrap_err();
        assert!(err.is_connection_dropped(), "{err}");
    });
    let restarted = RedisServer::start_on(port, &[]).expect("redis-server restarts");
    let started = Instant::now();
    let recovered = rt.block_on(async {
        let client = &client;
        let reconnected = eventually_async(DEADLINE, || async move {
            client.get::<i32>("restart").await.is_ok()
        })
        .await;
        assert!(reconnected, "never reconnected");
        // Nothing was persisted: the key is gone, the client works.
        client.get::<i32>("restart").await.expect("get succeeds")
    });
    eprintln!(
        "redis-server restart: client working again {:?} after the restart",
        started.elapsed()
    );
    assert_eq!(recovered, None);
    rt.block_on(async {
        client.set("restart", &2, SetOptions::new()).await.unwrap();
        assert_eq!(client.get::<i32>("restart").await.unwrap(), Some(2));
    });
    drop(restarted);
}

// -------------------------------------------------------------------- clusters

#[test]
fn proxy_mode_cluster_round_trips() {
    let _serial = serial();
    // Replica copies announced in CLUSTER SLOTS, for the replica reads.
    let cluster = TestCluster::start(
        3,
        &[
            "--failure-timeout",
            "3s",
            "--cluster-announce-replicas",
            "yes",
        ],
    );
    let rt = runtime();
    rt.block_on(async {
        // One seed is enough: the others come from CLUSTER SLOTS.
        let client = Client::connect(config(vec![cluster.node(2).addr.to_string()]))
            .await
            .unwrap();
        assert_eq!(client.mode(), Mode::Cluster);
        assert_eq!(client.stats().known_nodes, 3);
        let mut nodes = client.nodes();
        nodes.sort();
        let mut expected = seeds(&cluster);
        expected.sort();
        assert_eq!(nodes, expected);
        exercise(&client, "proxy").await;

        // Reads from replicas (READONLY connections) see the writes.
        let replicas = Client::connect(ClientConfig {
            read_from_replicas: true,
            ..config(seeds(&cluster))
        })
        .await
        .unwrap();
        for i in 0..50 {
            client
                .set(format!("rep:{i}"), &i, SetOptions::new())
                .await
                .unwrap();
        }
        for i in 0..50 {
            let replicas = &replicas;
            let replicated = eventually_async(DEADLINE, || async move {
                replicas.get::<i32>(format!("rep:{i}")).await.unwrap() == Some(i)
            })
            .await;
            assert!(replicated, "rep:{i} never reached its replica");
        }
        // Writes through a READONLY client still reach primaries.
        replicas.set("rep:w", &1, SetOptions::new()).await.unwrap();
        assert_eq!(client.get::<i32>("rep:w").await.unwrap(), Some(1));
    });
}

#[test]
fn redirect_mode_cluster_follows_moved_and_splits_multi_key_commands() {
    let _serial = serial();
    let mut cluster = TestCluster::start(3, REDIRECT);
    let rt = runtime();
    let keys: Vec<String> = (0..200).map(|i| format!("rd:{i}")).collect();
    let client = rt.block_on(async {
        let client = Client::connect(ClientConfig {
            // Only MOVED may refresh the map in this test.
            refresh_interval: Duration::from_secs(600),
            ..config(vec![cluster.node(0).addr.to_string()])
        })
        .await
        .unwrap();
        assert_eq!(client.mode(), Mode::Cluster);
        assert_eq!(client.stats().known_nodes, 3);
        exercise(&client, "redirect").await;
        // Multi-key commands over every node work because they are split.
        let pairs: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), k.clone())).collect();
        client.mset(&pairs).await.unwrap();
        let values: Vec<Option<String>> = client.mget(&keys).await.unwrap();
        for (key, value) in keys.iter().zip(&values) {
            assert_eq!(value.as_deref(), Some(key.as_str()));
        }
        client
    });
    // ...where a plain client gets CROSSSLOT for the same MGET.
    let mut plain = cluster.node(0).conn();
    let err = redis::cmd("MGET")
        .arg(&keys[..10])
        .query::<Vec<Option<String>>>(&mut plain)
        .unwrap_err();
    assert!(
        err.to_string().to_uppercase().contains("CROSSSLOT"),
        "{err}"
    );

    // A node joins: slots move, the client's map is stale, MOVED tells it.
    let before = rt.block_on(async { client.stats() });
    assert_eq!(before.moved, 0, "the map from CLUSTER SLOTS was right");
    cluster.add_node();
    cluster.wait_converged(4);
    rt.block_on(async {
        for key in &keys {
            let value: Option<String> = client.get(key).await.unwrap();
            assert_eq!(value.as_deref(), Some(key.as_str()), "{key}");
        }
        let values: Vec<Option<String>> = client.mget(&keys).await.unwrap();
        assert!(values
            .iter()
            .zip(&keys)
            .all(|(v, k)| v.as_deref() == Some(k.as_str())));
        let stats = client.stats();
        eprintln!("redirect mode after a join: {stats:?}");
        assert!(stats.moved > 0, "{stats:?}");
        // The MOVED replies asked for a refresh: the map now has 4 nodes.
        let refreshed = eventually_async(DEADLINE, || {
            std::future::ready(client.stats().known_nodes == 4)
        })
        .await;
        assert!(refreshed, "{:?}", client.stats());
        assert!(client.stats().slot_map_refreshes >= 2);
        // Later requests go straight to the owners.
        let moved = client.stats().moved;
        for key in &keys {
            let _: Option<String> = client.get(key).await.unwrap();
        }
        assert_eq!(client.stats().moved, moved, "no MOVED with a fresh map");
    });
}

/// Runs set+get in a loop while node 1 is SIGKILLed; returns the error
/// window (first to last error).
fn failover(flags: &[&str], label: &str) -> Duration {
    let _serial = serial();
    let mut cluster = TestCluster::start(3, flags);
    let rt = runtime();
    let client = rt
        .block_on(Client::connect(ClientConfig::new(seeds(&cluster))))
        .expect("the task");
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let errors: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let stale = Arc::new(AtomicUsize::new(0));
    let load = {
        let (client, stop, ok, errors, stale) = (
            client.clone(),
            stop.clone(),
            ok.clone(),
            errors.clone(),
            stale.clone(),
        );
        rt.spawn(async move {
            let started = Instant::now();
            let mut last_ok = None;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
                let key = format!("fo:{}", i % 500);
                let result = async {
                    client.set(&key, &i, SetOptions::new()).await?;
                    client.get::<u64>(&key).await
                }
                .await;
                match result {
                    Ok(value) => {
                        if value != Some(i) {
                            // Not acknowledged to a reader that waited:
                            // async replication may lose the last write of
                            // a dead primary.
                            stale.fetch_add(1, Ordering::Relaxed);
                        }
                        ok.fetch_add(1, Ordering::Relaxed);
                        last_ok = Some(Instant::now());
                    }
                    Err(e) => errors
                        .lock()
                        .expect("the lock")
                        .push((Instant::now(), e.to_string())),
                }
                i += 1;
            }
            last_ok
        })
    };
    assert!(eventually(DEADLINE, || ok.load(Ordering::Relaxed) > 300));
    let killed_at = Instant::now();
    cluster.kill(1);
    cluster.wait_converged(2);
    let converged_at = Instant::now();
    let after = ok.load(Ordering::Relaxed);
    assert!(
        eventually(DEADLINE * 2, || ok.load(Ordering::Relaxed) > after + 500),
        "the client did not recover"
    );
    stop.store(true, Ordering::Relaxed);
    let last_ok = rt
        .block_on(load)
        .expect("the task")
        .expect("some requests succeeded");
    let errors = errors.lock().expect("the lock");
    let window = match (errors.first(), errors.last()) {
        (Some(first), Some(last)) => last.0.duration_since(first.0),
        _ => Duration::ZERO,
    };
    eprintln!(
        "failover ({label}): {} ok ops, {} errors over a window of {:?}; first error {:?} after the kill, \
         last error {:?} after the kill; cluster converged {:?} after the kill; {} stale reads; stats {:?}; \
         first errors: {:?}",
        ok.load(Ordering::Relaxed),
        errors.len(),
        window,
        errors.first().map(|e| e.0.saturating_duration_since(killed_at)),
        errors.last().map(|e| e.0.saturating_duration_since(killed_at)),
        converged_at.duration_since(killed_at),
        stale.load(Ordering::Relaxed),
        client.stats(),
        errors.iter().take(3).map(|e| &e.1).collect::<Vec<_>>(),
    );
    assert!(window < Duration::from_secs(10), "error window {window:?}");
    if let Some(last) = errors.last() {
        assert!(last_ok > last.0, "requests succeed after the last error");
    }
    assert_eq!(client.stats().known_nodes, 2);
    window
}

#[test]
fn failover_in_proxy_mode_is_short() {
    failover(FAST, "proxy mode");
}

#[test]
fn failover_in_redirect_mode_is_short() {
    failover(REDIRECT, "redirect mode");
}

// ----------------------------------------------------------------- fake nodes

/// What a fake node does with one command.
enum Action {
    Reply(Vec<u8>),
    Silent,
    Close,
}

/// A fake node: `handler` sees each command (its words) and the commands
/// before it on the same connection.
struct Mock {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    /// Connections open now.
    open: Arc<AtomicUsize>,
}

type Handler = Arc<dyn Fn(&[Vec<u8>], &[Vec<Vec<u8>>]) -> Action + Send + Sync>;

/// Connection tasks of a fake server, to cut them all at once.
type Links = Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>;

/// Accepts up to 1000 connections on a new 127.0.0.1:0 listener, counting
/// them, and serves each with `serve` on a task of its own; returns the
/// address, the count and the connection tasks.
async fn accept_loop<F, Fut>(serve: F) -> (SocketAddr, Arc<AtomicUsize>, Links)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a listener");
    let addr = listener.local_addr().expect("its address");
    let accepted = Arc::new(AtomicUsize::new(0));
    let links: Links = Arc::default();
    let (counter, tasks) = (accepted.clone(), links.clone());
    tokio::spawn(async move {
        for _ in 0..1000 {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let task = tokio::spawn(serve(socket));
            tasks.lock().expect("the lock").push(task);
        }
    });
    (addr, accepted, links)
}

async fn mock(
    handler: impl Fn(&[Vec<u8>], &[Vec<Vec<u8>>]) -> Action + Send + Sync + 'static,
) -> Mock {
    let handler: Handler = Arc::new(handler);
    let open = Arc::new(AtomicUsize::new(0));
    let gauge = open.clone();
    let (addr, accepted, _) = accept_loop(move |socket| {
        gauge.fetch_add(1, Ordering::SeqCst);
        let (handler, gauge) = (handler.clone(), gauge.clone());
        async move {
            serve_mock(socket, handler).await;
            gauge.fetch_sub(1, Ordering::SeqCst);
        }
    })
    .await;
    Mock {
        addr,
        accepted,
        open,
    }
}

/// A fake node whose handler also gets the node's own address.
async fn mock_knowing_itself(
    handler: impl Fn(&[Vec<u8>], SocketAddr) -> Action + Send + Sync + 'static,
) -> Mock {
    let own: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let me = own.clone();
    let node = mock(move |args, _| {
        let addr = me.lock().expect("the lock").expect("address known");
        handler(args, addr)
    })
    .await;
    *own.lock().expect("the lock") = Some(node.addr);
    node
}

async fn serve_mock(mut socket: TcpStream, handler: Handler) {
    let mut buf = Vec::new();
    let mut history: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = socket.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some((value, used))) = resp::decode(&buf) {
            buf.drain(..used);
            let Value::Array(items) = value else { return };
            let args: Vec<Vec<u8>> = items
                .into_iter()
                .map(|v| match v {
                    Value::Bulk(b) => b,
                    _ => Vec::new(),
                })
                .collect();
            match handler(&args, &history) {
                Action::Reply(bytes) => {
                    if socket.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Action::Silent => {}
                Action::Close => return,
            }
            history.push(args);
        }
    }
}

fn is(args: &[Vec<u8>], name: &str) -> bool {
    args.first()
        .is_some_and(|a| a.eq_ignore_ascii_case(name.as_bytes()))
}

fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    resp::write_bulk(&mut out, data);
    out.to_vec()
}

/// A client of the (fake) node at `addr`, the default configuration but
/// for what `tweak` changes.
async fn connect_to(addr: SocketAddr, tweak: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config = ClientConfig::new([addr.to_string()]);
    tweak(&mut config);
    Client::connect(config).await.expect("connect")
}

/// A CLUSTER SLOTS reply: (first, last, node address) per range.
fn cluster_slots(ranges: &[(u16, u16, SocketAddr)]) -> Vec<u8> {
    let mut out = BytesMut::new();
    resp::write_len(&mut out, b'*', ranges.len() as i64);
    for (first, last, addr) in ranges {
        resp::write_len(&mut out, b'*', 3);
        resp::write_int(&mut out, i64::from(*first));
        resp::write_int(&mut out, i64::from(*last));
        resp::write_len(&mut out, b'*', 3);
        resp::write_bulk(&mut out, addr.ip().to_string().as_bytes());
        resp::write_int(&mut out, i64::from(addr.port()));
        resp::write_bulk(&mut out, b"0123456789012345678901234567890123456789");
    }
    out.to_vec()
}

const CLUSTER_DISABLED: &[u8] = b"-ERR This instance has cluster support disabled\r\n";

/// A key whose slot is in `range`.
fn key_in(range: std::ops::RangeInclusive<u16>, prefix: &str) -> String {
    (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| range.contains(&key_slot(k.as_bytes())))
        .expect("some key lands in the range")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_hits_only_the_silent_node() {
    let node = TestServer::start();
    let silent = mock(|_, _| Action::Silent).await;
    let real = node.addr;
    let silent_addr = silent.addr;
    // A seed that says: slots 0-8191 on the real node, the rest on the
    // silent one.
    let seed = mock(move |args, _| {
        if is(args, "CLUSTER") {
            Action::Reply(cluster_slots(&[
                (0, 8191, real),
                (8192, 16383, silent_addr),
            ]))
        } else {
            Action::Reply(b"-ERR not here\r\n".to_vec())
        }
    })
    .await;
    let timeout = Duration::from_millis(300);
    let client = connect_to(seed.addr, |c| c.request_timeout = timeout).await;
    assert_eq!(client.mode(), Mode::Cluster);
    let on_real = key_in(0..=8191, "r");
    let on_silent = key_in(8192..=16383, "s");
    for round in 0..3 {
        let started = Instant::now();
        let err = client.get::<i32>(&on_silent).await.unwrap_err();
        let took = started.elapsed();
        assert!(err.is_timeout(), "round {round}: {err}");
        assert!(err.is_retryable());
        assert!(
            took >= timeout && took < timeout * 5,
            "round {round}: took {took:?}"
        );
        // The other node is unaffected, even with requests stuck.
        client
            .set(&on_real, &round, SetOptions::new())
            .await
            .unwrap();
        assert_eq!(client.get::<i32>(&on_real).await.unwrap(), Some(round));
    }
    // The stuck connection is dropped once its oldest request is overdue
    // (deadline + stale_after), and the next request opens a new one.
    let until = Instant::now() + DEADLINE;
    while silent.accepted.load(Ordering::SeqCst) < 2 {
        assert!(
            Instant::now() < until,
            "the stuck connection was never replaced"
        );
        let err = client.get::<i32>(&on_silent).await.unwrap_err();
        assert!(err.is_timeout() || err.is_connection_dropped(), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_moved_and_tryagain_from_fake_nodes() {
    // B serves a GET only right after ASKING on the same connection.
    let b = mock(|args, history| {
        if is(args, "ASKING") {
            Action::Reply(b"+OK\r\n".to_vec())
        } else if is(args, "GET") && history.last().is_some_and(|h| is(h, "ASKING")) {
            Action::Reply(bulk(b"\"from b\""))
        } else if is(args, "GET") {
            Action::Reply(bulk(b"\"from b, moved\""))
        } else {
            Action::Reply(b"-ERR unexpected\r\n".to_vec())
        }
    })
    .await;
    let b_addr = b.addr;
    let tries = Arc::new(AtomicUsize::new(0));
    let a_tries = tries.clone();
    let a = mock_knowing_itself(move |args, me| {
        let key = args.get(1).cloned().unwrap_or_default();
        let slot = key_slot(&key);
        if is(args, "CLUSTER") {
            Action::Reply(cluster_slots(&[(0, 16383, me)]))
        } else if key.starts_with(b"ask") {
            Action::Reply(format!("-ASK {slot} {b_addr}\r\n").into_bytes())
        } else if key.starts_with(b"moved") {
            Action::Reply(format!("-MOVED {slot} {b_addr}\r\n").into_bytes())
        } else if key.starts_with(b"loop") {
            Action::Reply(format!("-MOVED {slot} {me}\r\n").into_bytes())
        } else if key.starts_with(b"busy") && a_tries.fetch_add(1, Ordering::SeqCst) < 3 {
            Action::Reply(b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n".to_vec())
        } else if key.starts_with(b"down") {
            Action::Reply(b"-CLUSTERDOWN The cluster is down\r\n".to_vec())
        } else {
            Action::Reply(bulk(b"\"from a\""))
        }
    })
    .await;
    let client = connect_to(a.addr, |c| c.request_timeout = Duration::from_secs(2)).await;
    let value: Option<String> = client.get("ask-me").await.unwrap();
    assert_eq!(value.as_deref(), Some("from b"));
    assert_eq!(client.stats().asked, 1);
    // ASK does not change the map: the next request asks A first again.
    let value: Option<String> = client.get("ask-me").await.unwrap();
    assert_eq!(value.as_deref(), Some("from b"));
    assert_eq!(client.stats().asked, 2);
    let value: Option<String> = client.get("moved-me").await.unwrap();
    assert_eq!(value.as_deref(), Some("from b, moved"));
    assert_eq!(client.stats().moved, 1);
    // A redirect loop ends after max_redirects.
    let err = client.get::<String>("loop").await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Moved { .. }), "{err}");
    // TRYAGAIN is retried after a pause, within the deadline.
    let value: Option<String> = client.get("busy").await.unwrap();
    assert_eq!(value.as_deref(), Some("from a"));
    assert_eq!(tries.load(Ordering::SeqCst), 4);
    assert!(client.stats().retries >= 3);
    // CLUSTERDOWN that never ends is returned at the deadline.
    let started = Instant::now();
    let err = client.get::<String>("down").await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::ClusterDown);
    assert!(started.elapsed() < Duration::from_secs(4));
    // Pipelines follow redirects per command, replies in order.
    let mut pipeline = client.pipeline();
    pipeline
        .get("plain")
        .get("ask-1")
        .get("moved-1")
        .get("plain");
    let replies = pipeline.query().await.unwrap();
    let texts: Vec<Option<String>> = replies
        .into_iter()
        .map(|r| client.decode(r).unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            Some("from a"),
            Some("from b"),
            Some("from b, moved"),
            Some("from a")
        ]
        .map(|s| s.map(String::from))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_ever_new_nodes_keep_a_bounded_number_of_pools() {
    // 40 nodes outside the slot map, each the MOVED target of one key;
    // the seed answers CLUSTER SLOTS only once, so no refresh succeeds to
    // prune their pools.
    let mut strays = Vec::new();
    for _ in 0..40 {
        strays
            .push(mock(|args, _| Action::Reply(bulk(format!("{}", args.len()).as_bytes()))).await);
    }
    let targets: Vec<SocketAddr> = strays.iter().map(|m| m.addr).collect();
    let maps = Arc::new(AtomicUsize::new(0));
    let served = maps.clone();
    let seed = mock_knowing_itself(move |args, me| {
        if is(args, "CLUSTER") {
            if served.fetch_add(1, Ordering::SeqCst) == 0 {
                return Action::Reply(cluster_slots(&[(0, 16383, me)]));
            }
            return Action::Reply(b"-ERR not now\r\n".to_vec());
        }
        let key = String::from_utf8_lossy(args.get(1).map_or(&[][..], Vec::as_slice)).to_string();
        let slot = key_slot(key.as_bytes());
        match key
            .strip_prefix("stray-")
            .and_then(|i| i.parse::<usize>().ok())
        {
            Some(i) => Action::Reply(format!("-MOVED {slot} {}\r\n", targets[i]).into_bytes()),
            None => Action::Reply(b"-ERR unexpected\r\n".to_vec()),
        }
    })
    .await;
    let client = connect_to(seed.addr, |c| c.request_timeout = Duration::from_secs(2)).await;
    for i in 0..strays.len() {
        let value: Option<i64> = client.get(format!("stray-{i}")).await.unwrap();
        assert_eq!(value, Some(2), "GET through the MOVED target");
    }
    assert_eq!(client.stats().moved, 40);
    assert_eq!(client.stats().slot_map_refreshes, 1, "no refresh succeeded");
    // At most 17 stray pools at a time (the 18th lets the others go): the
    // connections of the pools let go are closed.
    let open = || {
        strays
            .iter()
            .map(|m| m.open.load(Ordering::SeqCst))
            .sum::<usize>()
    };
    wait_until("the stray pools' connections closed", || open() <= 17).await;
    assert!(open() >= 1, "the latest target's pool stays");
}

/// Polls `check` until it holds; panics after [`DEADLINE`].
async fn wait_until(what: &str, check: impl Fn() -> bool) {
    let held = eventually_async(DEADLINE, || std::future::ready(check())).await;
    assert!(held, "timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_client_stops_its_background_work() {
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let seed = mock_knowing_itself(move |args, me| {
        if is(args, "CLUSTER") {
            counter.fetch_add(1, Ordering::SeqCst);
            Action::Reply(cluster_slots(&[(0, 16383, me)]))
        } else {
            Action::Reply(bulk(b"1"))
        }
    })
    .await;
    let client = connect_to(seed.addr, |c| {
        c.refresh_interval = Duration::from_millis(50)
    })
    .await;
    assert_eq!(client.get::<i32>("k").await.unwrap(), Some(1));
    // The refresh task asks for the map on its own.
    wait_until("periodic refreshes", || asked.load(Ordering::SeqCst) >= 4).await;
    // A clone keeps everything alive...
    let clone = client.clone();
    drop(client);
    let so_far = asked.load(Ordering::SeqCst);
    wait_until("refreshes with a clone alive", || {
        asked.load(Ordering::SeqCst) >= so_far + 2
    })
    .await;
    assert_eq!(clone.get::<i32>("k").await.unwrap(), Some(1));
    // ...and dropping the last one releases the router: its pools and
    // their sockets close, which they could not if the refresh task
    // still held it.
    drop(clone);
    wait_until("every connection closed", || {
        seed.open.load(Ordering::SeqCst) == 0
    })
    .await;
}

// ------------------------------------------------------ dropped connections

/// A TCP relay to `upstream` whose connections can all be cut at once.
struct Relay {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    links: Links,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let (addr, accepted, links) = accept_loop(move |mut inbound| async move {
            if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        })
        .await;
        Relay {
            addr,
            accepted,
            links,
        }
    }

    /// Closes every relayed connection (both sides).
    fn cut(&self) {
        for task in self.links.lock().expect("the lock").drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_reconnects_on_the_next_request() {
    let node = TestServer::start();
    let relay = Relay::start(node.addr).await;
    let client = Client::connect(config(vec![relay.addr.to_string()]))
        .await
        .unwrap();
    client
        .set("drop", &"before", SetOptions::new())
        .await
        .unwrap();
    let before = relay.accepted.load(Ordering::SeqCst);
    relay.cut();
    // The client notices the close and reconnects on the next request;
    // GET is idempotent, so even a request caught in flight is resent.
    let started = Instant::now();
    let value: Option<String> = client.get("drop").await.unwrap();
    assert_eq!(value.as_deref(), Some("before"));
    eprintln!(
        "reconnect after a cut: first request took {:?}",
        started.elapsed()
    );
    assert_eq!(relay.accepted.load(Ordering::SeqCst), before + 1);
    // Again, many times, with concurrent requests.
    for round in 0..5 {
        relay.cut();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    client
                        .set(format!("drop:{i}"), &round, SetOptions::new())
                        .await?;
                    client.get::<i32>(format!("drop:{i}")).await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), Some(round));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_fail_as_connection_dropped() {
    // Standalone, then closes the connection on any other command.
    let closer = mock(|args, _| {
        if is(args, "CLUSTER") {
            Action::Reply(CLUSTER_DISABLED.to_vec())
        } else {
            Action::Close
        }
    })
    .await;
    let client = connect_to(closer.addr, |c| c.request_timeout = Duration::from_secs(2)).await;
    assert_eq!(client.mode(), Mode::Standalone);
    // INCR is not idempotent: one attempt, then ConnectionDropped.
    let before = closer.accepted.load(Ordering::SeqCst);
    let err = client.incr("n", 1).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::ConnectionDropped, "{err}");
    assert!(err.is_connection_dropped() && !err.is_timeout());
    assert_eq!(closer.accepted.load(Ordering::SeqCst), before + 1);
    // GET is idempotent: resent on new connections until the deadline,
    // which ends it either on a dropped connection or, on a loaded
    // machine, while a resend is still waiting.
    let err = client.get::<i32>("n").await.unwrap_err();
    assert!(err.is_connection_dropped() || err.is_timeout(), "{err}");
    assert!(closer.accepted.load(Ordering::SeqCst) > before + 2);
}
