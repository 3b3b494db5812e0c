//! The near cache's coherence in a cluster of node processes, with writers
//! in other processes (`examples/near_writer.rs`), through a failover
//! (SIGKILL of a node) and a slot move (a node joining): no read returns a
//! value older than one that a write acknowledged more than [`WINDOW`]
//! before the read began had replaced. And a slot move alone, with the
//! client's slot map refresh far off: the old primaries' invalidations are
//! what keep the near cache fresh.
//!
//! The window is the one the near cache documents for a slot moving under
//! it: the client's `refresh_interval` (1 s here) until its slot map drops
//! the old owner's entries, plus slack for a loaded machine. A killed
//! node's entries go at once (its tracked connection ends).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::cluster::TestCluster;
use common::{eventually, DEADLINE};
use ringcache_client::near_cache::{NearCacheConfig, Tracking};
use ringcache_client::{Client, ClientConfig};

/// Reads may lag a completed write by at most this much.
const WINDOW: Duration = Duration::from_secs(5);
const WRITERS: u64 = 3;
const KEYS: u64 = 10;

fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn writer_binary() -> PathBuf {
    let profile_dir = common::process::profile_dir();
    let release = profile_dir.file_name().and_then(|n| n.to_str()) == Some("release");
    common::process::cargo_build(&["--example", "near_writer"], release);
    profile_dir.join("examples").join("near_writer")
}

/// An acknowledged write: key, value, acknowledged at (µs).
type Ack = (String, u64, u64);

/// The writer processes, killed when dropped.
struct Writers(Vec<Child>);

impl Drop for Writers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_writers(nodes: &str, acks: &Arc<Mutex<Vec<Ack>>>) -> Writers {
    let binary = writer_binary();
    let mut writers = Writers(Vec::new());
    for id in 0..WRITERS {
        let mut child = Command::new(&binary)
            .args(["--nodes", nodes, "--id", &id.to_string()])
            .args(["--keys", &KEYS.to_string(), "--seconds", "300"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn a writer");
        let stdout = child.stdout.take().expect("stdout");
        writers.0.push(child);
        let acks = Arc::clone(acks);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let words: Vec<&str> = line.split(' ').collect();
                if let [key, value, at] = words[..] {
                    let parsed = (value.parse(), at.parse());
                    if let (Ok(value), Ok(at)) = parsed {
                        acks.lock()
                            .expect("acks")
                            .push((key.to_string(), value, at));
                    }
                }
            }
        });
    }
    writers
}

/// A read: key, began at (µs), value read.
type Read = (String, u64, Option<u64>);

fn start_readers(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    stop: &Arc<AtomicBool>,
    reads: &Arc<Mutex<Vec<Read>>>,
) {
    for task in 0..4u64 {
        let (client, stop, reads) = (client.clone(), Arc::clone(stop), Arc::clone(reads));
        runtime.spawn(async move {
            let mut i = task;
            while !stop.load(Ordering::Relaxed) {
                i = i.wrapping_add(7);
                let key = format!("near:{}:{}", i % WRITERS, (i / WRITERS) % KEYS);
                let began = wall_us();
                if let Ok(value) = client.get_bytes(&key).await {
                    let value = value.and_then(|v| String::from_utf8(v).ok()?.parse().ok());
                    reads.lock().expect("reads").push((key, began, value));
                }
                if i % 64 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
    }
}

/// Reads older than a write acknowledged `WINDOW` before they began, and
/// the largest lag seen (µs) of any read behind a completed write.
fn check(acks: &[Ack], reads: &[Read]) -> (Vec<String>, u64) {
    let mut by_key: HashMap<&str, Vec<(u64, u64)>> = HashMap::new();
    for (key, value, at) in acks {
        by_key.entry(key).or_default().push((*at, *value));
    }
    let window = WINDOW.as_micros() as u64;
    let mut stale = Vec::new();
    let mut worst = 0;
    for (key, began, value) in reads {
        let read = value.unwrap_or(0);
        let writes = by_key.get(key.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        // The first completed write this read is behind.
        let behind = writes
            .iter()
            .filter(|(at, v)| *v > read && *at < *began)
            .map(|(at, _)| *at)
            .min();
        if let Some(at) = behind {
            worst = worst.max(began - at);
            if began - at > window {
                stale.push(format!(
                    "{key}: read {value:?} {} ms after a newer write",
                    (began - at) / 1000
                ));
            }
        }
    }
    (stale, worst)
}

#[test]
fn reads_stay_coherent_through_a_failover_and_a_slot_move() {
    let mut cluster = TestCluster::start(3, &["--failure-timeout", "3s", "--write-quorum", "2"]);
    let nodes: Vec<String> = (0..3).map(|i| cluster.node(i).addr.to_string()).collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let config = ClientConfig {
        request_timeout: Duration::from_secs(2),
        refresh_interval: Duration::from_secs(1),
        ..ClientConfig::new(nodes.clone())
    };
    let client = runtime
        .block_on(Client::connect(config))
        .expect("connect")
        .with_near_cache(NearCacheConfig::default())
        .expect("near cache");
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let reads: Arc<Mutex<Vec<Read>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers = start_writers(&nodes.join(","), &acks);
    start_readers(&runtime, &client, &stop, &reads);
    let acked = || acks.lock().expect("acks").len();
    let more_writes = |n: usize| {
        let from = acked();
        assert!(
            eventually(DEADLINE, || acked() >= from + n),
            "writes stalled"
        );
    };
    more_writes(1000);
    cluster.kill(2);
    cluster.wait_converged(2);
    more_writes(1000);
    let joined = cluster.add_node();
    cluster.wait_converged(3);
    more_writes(1000);
    // The near cache holds a tracked connection to each live node and
    // has let go of the killed one's.
    let near_cache = client.near_cache().expect("near cache");
    let live = [0, 1, joined];
    assert!(
        eventually(DEADLINE, || {
            live.iter().all(|&i| tracking_clients(&cluster, i) > 0)
                && near_cache.stats().links == live.len() as u64
        }),
        "links: {:?}",
        near_cache.stats()
    );
    stop.store(true, Ordering::Relaxed);
    drop(writers);
    let near = client.near_cache().expect("near cache").stats();
    let acks = acks.lock().expect("acks").clone();
    let reads = reads.lock().expect("reads").clone();
    let (stale, worst) = check(&acks, &reads);
    eprintln!(
        "coherence: {} acknowledged writes, {} reads, largest lag behind a completed write {:.1} ms; {near:?}",
        acks.len(),
        reads.len(),
        worst as f64 / 1000.0
    );
    assert!(near.hits > 0 && near.node_drops > 0, "{near:?}");
    assert!(
        stale.is_empty(),
        "{} stale reads: {:?}",
        stale.len(),
        &stale[..stale.len().min(10)]
    );
}

/// Clients of node `index` with tracking on (CLIENT LIST's `t` flag).
fn tracking_clients(cluster: &TestCluster, index: usize) -> usize {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut cluster.conn(index))
        .expect("CLIENT LIST");
    list.lines()
        .filter(|line| {
            line.split(' ').any(|field| {
                field
                    .strip_prefix("flags=")
                    .is_some_and(|f| f.contains('t'))
            })
        })
        .count()
}

/// Reads `keys` through `client`, as text.
fn read_all(runtime: &tokio::runtime::Runtime, client: &Client, keys: &[&str]) -> Vec<String> {
    runtime.block_on(async {
        let mut values = Vec::new();
        for key in keys {
            let value = client
                .get_bytes(key)
                .await
                .expect("GET")
                .unwrap_or_default();
            values.push(String::from_utf8(value).expect("text"));
        }
        values
    })
}

#[test]
fn a_slot_move_invalidates_what_the_near_cache_read_of_it() {
    // No replicas: an old primary that stays a replica of its slot hears
    // the new primary's writes by replication; here it keeps no copy, and
    // only the ring change can tell its clients.
    let mut cluster = TestCluster::start(2, &["--replicas", "0"]);
    let nodes: Vec<String> = (0..2).map(|i| cluster.node(i).addr.to_string()).collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // No slot map refresh during the test: only the nodes' invalidations
    // can tell the near cache that a slot moved.
    let config = ClientConfig {
        refresh_interval: Duration::from_secs(600),
        ..ClientConfig::new(nodes)
    };
    let near_client = |tracking: Tracking| {
        runtime
            .block_on(Client::connect(config.clone()))
            .expect("connect")
            .with_near_cache(NearCacheConfig {
                tracking,
                ..NearCacheConfig::default()
            })
            .expect("near cache")
    };
    let client = near_client(Tracking::Default);
    // BCAST: the nodes keep no keys for it, so the old primaries flush it.
    let broadcast = near_client(Tracking::Broadcast {
        prefixes: vec![b"move:".to_vec()],
    });
    let names: Vec<String> = (0..64).map(|i| format!("move:{i}")).collect();
    let keys: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut conn = cluster.conn(0);
    for key in &keys {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("old")
            .query(&mut conn)
            .expect("SET");
    }
    assert!(read_all(&runtime, &client, &keys)
        .iter()
        .all(|v| v == "old"));
    assert!(read_all(&runtime, &broadcast, &keys)
        .iter()
        .all(|v| v == "old"));
    let before: Vec<usize> = keys.iter().map(|k| cluster.owners(k)[0]).collect();

    let joined = cluster.add_node();
    cluster.wait_converged(3);
    let after: Vec<usize> = keys.iter().map(|k| cluster.owners(k)[0]).collect();
    let (moved, stayed): (Vec<usize>, Vec<usize>) =
        (0..keys.len()).partition(|&i| before[i] != after[i]);
    assert!(
        !moved.is_empty() && !stayed.is_empty(),
        "64 keys over 2 then 3 nodes: some move, some stay ({} moved)",
        moved.len()
    );
    assert!(
        moved.iter().all(|&i| after[i] == joined),
        "a join moves slots to the joiner"
    );
    let mut new_owner = cluster.conn(joined);
    for &i in &moved {
        let _: () = redis::cmd("SET")
            .arg(keys[i])
            .arg("new")
            .query(&mut new_owner)
            .expect("SET");
    }
    let moved_keys: Vec<&str> = moved.iter().map(|&i| keys[i]).collect();
    let fresh = eventually(DEADLINE, || {
        read_all(&runtime, &client, &moved_keys)
            .iter()
            .all(|v| v == "new")
    });
    let broadcast_fresh = eventually(DEADLINE, || {
        read_all(&runtime, &broadcast, &moved_keys)
            .iter()
            .all(|v| v == "new")
    });
    let flushed = broadcast.near_cache().expect("near cache").stats();
    assert!(
        broadcast_fresh && flushed.node_drops > 0,
        "BCAST: {flushed:?}"
    );
    let near = client.near_cache().expect("near cache");
    assert!(
        fresh,
        "moved keys still read old values: {:?}",
        near.stats()
    );
    assert!(
        near.stats().invalidations >= moved.len() as u64,
        "{:?}",
        near.stats()
    );

    // The keys whose primary stayed are still answered from memory.
    let hits = near.stats().hits;
    let stayed_keys: Vec<&str> = stayed.iter().map(|&i| keys[i]).collect();
    assert!(read_all(&runtime, &client, &stayed_keys)
        .iter()
        .all(|v| v == "old"));
    assert_eq!(
        near.stats().hits,
        hits + stayed.len() as u64,
        "{:?}",
        near.stats()
    );
}
