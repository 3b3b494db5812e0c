//! The client's near cache against real nodes (in this process): hits from
//! memory, invalidation by another connection's write, a process's own
//! writes, a write racing a read in flight (made deterministic by a proxy
//! that holds the node's replies until the write's invalidation is behind
//! them), flushes, a dropped tracking connection, BCAST prefixes, expiry
//! bounded by the node's TTL, and the caching helpers over it; and the
//! same invalidation against redis-server.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::redis_server::RedisServer;
use common::{eventually_async, TestServer, DEADLINE};
use redis::AsyncCommands;
use ringcache_client::near_cache::{NearCacheConfig, NearCacheStats, Tracking};
use ringcache_client::{CacheAside, CacheAsideConfig, Client, ClientConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

async fn near_client(addr: SocketAddr, config: NearCacheConfig) -> Client {
    let client = Client::connect(ClientConfig::new([addr.to_string()]))
        .await
        .expect("connect");
    client.with_near_cache(config).expect("near cache")
}

fn stats(client: &Client) -> NearCacheStats {
    client.near_cache().expect("near cache").stats()
}

async fn get(client: &Client, key: &str) -> Option<String> {
    client
        .get_bytes(key)
        .await
        .expect("get")
        .map(|v| String::from_utf8(v).expect("utf-8"))
}

/// Polls until `client` reads `want` for `key`.
async fn reads_eventually(client: &Client, key: &str, want: Option<&str>) -> bool {
    eventually_async(DEADLINE, || async {
        get(client, key).await.as_deref() == want
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_come_from_memory_and_writes_elsewhere_invalidate_them() {
    let server = TestServer::start();
    let mut writer = server.async_conn().await;
    let _: () = writer.set("k", "v1").await.expect("set");
    let client = near_client(server.addr, NearCacheConfig::default()).await;
    assert_eq!(get(&client, "k").await.as_deref(), Some("v1"));
    assert_eq!(get(&client, "k").await.as_deref(), Some("v1"));
    let after_reads = stats(&client);
    assert_eq!((after_reads.misses, after_reads.hits), (1, 1));
    assert_eq!(after_reads.installed, 1);
    let _: () = writer.set("k", "v2").await.expect("set");
    assert!(reads_eventually(&client, "k", Some("v2")).await);
    assert!(stats(&client).invalidations >= 1);
    // "No such key" is cached and invalidated the same way.
    assert_eq!(get(&client, "absent").await, None);
    let hits = stats(&client).hits;
    assert_eq!(get(&client, "absent").await, None);
    assert_eq!(stats(&client).hits, hits + 1);
    let _: () = writer.set("absent", "now").await.expect("set");
    assert!(reads_eventually(&client, "absent", Some("now")).await);
    // Typed reads use it too.
    let typed: Option<String> = client.get("k").await.unwrap_or(None);
    assert_eq!(typed, None, "raw bytes are not JSON");
    let _: () = writer.set("n", "42").await.expect("set");
    assert_eq!(client.get::<i64>("n").await.expect("get"), Some(42));
    assert_eq!(client.get::<i64>("n").await.expect("get"), Some(42));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_reads_its_own_writes_at_once() {
    let server = TestServer::start();
    let client = near_client(server.addr, NearCacheConfig::default()).await;
    let options = ringcache_client::SetOptions::new();
    for i in 0..50 {
        let value = format!("v{i}");
        client
            .set_bytes("mine", value.as_bytes(), options)
            .await
            .expect("set");
        // No waiting for the node's push: the write dropped the key here.
        assert_eq!(get(&client, "mine").await, Some(value));
    }
    client.incr("count", 1).await.expect("incr");
    assert_eq!(client.get::<i64>("count").await.expect("get"), Some(1));
    client.incr("count", 1).await.expect("incr");
    assert_eq!(client.get::<i64>("count").await.expect("get"), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_live_no_longer_than_the_nodes_ttl() {
    let server = TestServer::start();
    let mut writer = server.async_conn().await;
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(300)
        .query_async(&mut writer)
        .await
        .expect("set");
    let client = near_client(server.addr, NearCacheConfig::default()).await;
    assert_eq!(get(&client, "short").await.as_deref(), Some("v"));
    // Expired on the node, so no push: the entry's own TTL ends it.
    assert!(reads_eventually(&client, "short", None).await);
    // And the configured maximum bounds keys without a TTL.
    let _: () = writer.set("long", "v1").await.expect("set");
    let capped = NearCacheConfig {
        max_ttl: Duration::from_millis(200),
        ..NearCacheConfig::default()
    };
    let client = near_client(server.addr, capped).await;
    assert_eq!(get(&client, "long").await.as_deref(), Some("v1"));
    let misses = stats(&client).misses;
    assert!(
        eventually_async(DEADLINE, || async {
            get(&client, "long").await;
            stats(&client).misses > misses
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_drops_everything_from_the_node() {
    let server = TestServer::start();
    let mut writer = server.async_conn().await;
    let _: () = writer.set("a", "1").await.expect("set");
    let _: () = writer.set("b", "2").await.expect("set");
    let client = near_client(server.addr, NearCacheConfig::default()).await;
    assert_eq!(get(&client, "a").await.as_deref(), Some("1"));
    assert_eq!(get(&client, "b").await.as_deref(), Some("2"));
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut writer)
        .await
        .expect("flush");
    assert!(reads_eventually(&client, "a", None).await);
    assert_eq!(get(&client, "b").await, None);
    assert!(stats(&client).node_drops >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_tracking_connection_drops_its_entries() {
    let server = TestServer::start();
    let mut writer = server.async_conn().await;
    let _: () = writer.set("k", "v1").await.expect("set");
    let client = near_client(server.addr, NearCacheConfig::default()).await;
    assert_eq!(get(&client, "k").await.as_deref(), Some("v1"));
    assert_eq!(get(&client, "k").await.as_deref(), Some("v1"));
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut writer)
        .await
        .expect("client list");
    let tracked = list
        .lines()
        .find(|line| line.contains("resp=3"))
        .and_then(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")))
        .expect("the near cache's RESP3 connection")
        .to_string();
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&tracked)
        .query_async(&mut writer)
        .await
        .expect("kill");
    assert!(eventually_async(DEADLINE, || async { stats(&client).node_drops >= 1 }).await);
    // The node no longer tracks the key for us: this write pushes nothing.
    let _: () = writer.set("k", "v2").await.expect("set");
    assert_eq!(get(&client, "k").await.as_deref(), Some("v2"));
    // Reconnected, with tracking on again.
    let _: () = writer.set("k", "v3").await.expect("set");
    assert!(reads_eventually(&client, "k", Some("v3")).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_mode_caches_only_its_prefixes() {
    let server = TestServer::start();
    let mut writer = server.async_conn().await;
    let _: () = writer.set("user:1", "ann").await.expect("set");
    let _: () = writer.set("order:1", "o").await.expect("set");
    let config = NearCacheConfig {
        tracking: Tracking::Broadcast {
            prefixes: vec![b"user:".to_vec()],
        },
        ..NearCacheConfig::default()
    };
    let client = near_client(server.addr, config).await;
    for _ in 0..2 {
        assert_eq!(get(&client, "user:1").await.as_deref(), Some("ann"));
        assert_eq!(get(&client, "order:1").await.as_deref(), Some("o"));
    }
    let seen = stats(&client);
    assert_eq!((seen.hits, seen.misses), (1, 1), "order:1 bypasses it");
    let _: () = writer.set("user:1", "bob").await.expect("set");
    assert!(reads_eventually(&client, "user:1", Some("bob")).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_aside_and_write_through_use_it_with_one_option() {
    let server = TestServer::start();
    let client = near_client(server.addr, NearCacheConfig::default()).await;
    let cache = CacheAside::new(client.clone(), CacheAsideConfig::default()).expect("cache");
    let writes = cache
        .write_through(ringcache_client::WriteThroughConfig::default())
        .expect("writer");
    let ttl = Duration::from_secs(60);
    let load = || std::future::ready(Ok::<_, String>(Some("from db".to_string())));
    // The load's write (in its own task) drops the key here; once it is
    // done, a read caches the entry and the next ones come from memory.
    let mut reads = 0;
    while stats(&client).hits < 3 {
        let found = cache.get_or_load("p:1", ttl, load).await.ok().flatten();
        assert_eq!(found.as_deref(), Some("from db"));
        reads += 1;
        assert!(reads < 1000, "no read came from memory");
    }
    let outcome = writes
        .write(
            "p:1",
            &"updated".to_string(),
            ttl,
            std::future::ready(Ok::<_, String>(())),
        )
        .await
        .expect("write");
    assert!(!outcome.cache_may_be_stale());
    let again = cache.get_or_load("p:1", ttl, load).await.ok().flatten();
    assert_eq!(again.as_deref(), Some("updated"));
}

/// A TCP proxy to a node whose node-to-client bytes can be held back and
/// then released in one write.
struct Gate {
    addr: SocketAddr,
    state: Arc<Mutex<GateState>>,
    wake: Arc<Notify>,
}

#[derive(Default)]
struct GateState {
    held: bool,
    /// Bytes from the node not yet passed on, per proxied connection.
    pending: Vec<Vec<u8>>,
}

impl Gate {
    async fn start(node: SocketAddr) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state: Arc<Mutex<GateState>> = Arc::default();
        let wake = Arc::new(Notify::new());
        let (s, w) = (Arc::clone(&state), Arc::clone(&wake));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = TcpStream::connect(node).await.expect("node");
                let index = {
                    let mut st = s.lock().expect("lock");
                    st.pending.push(Vec::new());
                    st.pending.len() - 1
                };
                tokio::spawn(Gate::pass(
                    client,
                    upstream,
                    index,
                    Arc::clone(&s),
                    Arc::clone(&w),
                ));
            }
        });
        Gate { addr, state, wake }
    }

    async fn pass(
        client: TcpStream,
        upstream: TcpStream,
        index: usize,
        state: Arc<Mutex<GateState>>,
        wake: Arc<Notify>,
    ) {
        let (mut client_in, mut client_out) = client.into_split();
        let (mut node_in, mut node_out) = upstream.into_split();
        tokio::spawn(async move { tokio::io::copy(&mut client_in, &mut node_out).await });
        let reader_state = Arc::clone(&state);
        let reader_wake = Arc::clone(&wake);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = node_in.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                reader_state.lock().expect("lock").pending[index].extend_from_slice(&buf[..n]);
                reader_wake.notify_waiters();
            }
        });
        loop {
            let notified = wake.notified();
            let out = {
                let mut st = state.lock().expect("lock");
                if st.held {
                    Vec::new()
                } else {
                    std::mem::take(&mut st.pending[index])
                }
            };
            if out.is_empty() {
                notified.await;
            } else if client_out.write_all(&out).await.is_err() {
                return;
            }
        }
    }

    fn hold(&self) {
        self.state.lock().expect("lock").held = true;
    }

    fn release(&self) {
        self.state.lock().expect("lock").held = false;
        self.wake.notify_waiters();
    }

    /// Whether some connection's held bytes contain `needle`.
    fn holds(&self, needle: &[u8]) -> bool {
        let st = self.state.lock().expect("lock");
        st.pending
            .iter()
            .any(|p| p.windows(needle.len()).any(|w| w == needle))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_racing_a_read_in_flight_never_leaves_the_old_value() {
    let server = TestServer::start();
    let mut writer = server.async_conn().await;
    let _: () = writer.set("k", "old-value").await.expect("set");
    let gate = Gate::start(server.addr).await;
    let client = near_client(gate.addr, NearCacheConfig::default()).await;
    // Opens the tracked connection.
    assert_eq!(get(&client, "warm").await, None);
    gate.hold();
    let reader = client.clone();
    let read = tokio::spawn(async move { get(&reader, "k").await });
    // The node answered the GET (old value) and the reply is held...
    assert!(eventually_async(DEADLINE, || async { gate.holds(b"old-value") }).await);
    // ...then another client writes, and the invalidation queues behind it.
    let _: () = writer.set("k", "new-value").await.expect("set");
    assert!(eventually_async(DEADLINE, || async { gate.holds(b"invalidate") }).await);
    gate.release();
    // The read happened before the write: it returns the old value...
    assert_eq!(read.await.expect("read").as_deref(), Some("old-value"));
    assert!(eventually_async(DEADLINE, || async { stats(&client).invalidations >= 1 }).await);
    // ...but did not leave it cached.
    assert_eq!(get(&client, "k").await.as_deref(), Some("new-value"));
    let seen = stats(&client);
    eprintln!("race: {seen:?}");
    assert_eq!(
        seen.refused + seen.installed,
        3,
        "warm, the raced read, the re-read"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_server_keeps_it_coherent_too() {
    let Some(server) = RedisServer::start_or_skip("redis_server_keeps_it_coherent_too") else {
        return;
    };
    let redis = redis::Client::open(format!("redis://{}/", server.addr)).expect("client");
    let mut writer = redis
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let _: () = writer.set("k", "v1").await.expect("set");
    let client = near_client(server.addr, NearCacheConfig::default()).await;
    assert_eq!(get(&client, "k").await.as_deref(), Some("v1"));
    assert_eq!(get(&client, "k").await.as_deref(), Some("v1"));
    assert_eq!(stats(&client).hits, 1);
    let _: () = writer.set("k", "v2").await.expect("set");
    assert!(reads_eventually(&client, "k", Some("v2")).await);
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut writer)
        .await
        .expect("flush");
    assert!(reads_eventually(&client, "k", None).await);
}
