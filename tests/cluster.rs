//! Cluster behaviour end to end: real node processes on 127.0.0.1 joined by
//! gossip, driven with redis-rs (plain and cluster clients) and our own
//! RESP helpers. Covers routing from every node, multi-key splits, MOVED
//! mode, replication and write quorum, failover after SIGKILL without
//! losing acknowledged writes, re-replication, warm joins and leaves, and
//! churn.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::{eventually, q, DEADLINE};
use redis::{Commands, Connection, Value};

/// Flags for a quick failure detector in tests.
const FAST: &[&str] = &["--failure-timeout", "3s"];

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key:{i}")).collect()
}

/// `n` keys, each SET to its own name through node 0, and that connection.
fn keys_written(cluster: &TestCluster, n: usize) -> (Vec<String>, Connection) {
    let keys = keys(n);
    let mut conn = cluster.node(0).conn();
    for key in &keys {
        let _: () = conn.set(key, key).expect("SET");
    }
    (keys, conn)
}

#[test]
fn any_node_serves_any_key() {
    let cluster = TestCluster::start(3, FAST);
    let keys = keys(300);
    let mut writer = cluster.node(0).conn();
    for key in &keys {
        let _: () = writer.set(key, format!("value of {key}")).unwrap();
    }
    for index in cluster.live() {
        let mut conn = cluster.node(index).conn();
        for key in &keys {
            let value: Option<String> = conn.get(key).unwrap();
            assert_eq!(
                value.as_deref(),
                Some(format!("value of {key}").as_str()),
                "{key} via node {index}"
            );
        }
        // Counters, hashes and TTLs work through forwarding too.
        let n: i64 = conn.incr("counter", 1).unwrap();
        assert_eq!(n, index as i64 + 1);
        let _: () = conn.hset("session:{u1}", format!("f{index}"), "x").unwrap();
        let ttl: i64 = conn.ttl("key:1").unwrap();
        assert_eq!(ttl, -1);
    }
    let mut conn = cluster.node(2).conn();
    let fields: HashMap<String, String> = conn.hgetall("session:{u1}").unwrap();
    assert_eq!(fields.len(), 3);
    // Each key lives on its primary and one replica: two copies in all.
    assert!(eventually(Duration::from_secs(10), || cluster.total_keys()
        == 2 * (keys.len() as u64 + 2)));
    // Forwarding was really used: some keys were not on node 0.
    assert!(cluster.figure(0, "cluster_forwarded") > 0);
}

#[test]
fn multi_key_commands_split_across_owners() {
    let cluster = TestCluster::start(3, FAST);
    let mut conn = cluster.node(1).conn();
    let keys = keys(50);
    let pairs: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), format!("v-{k}"))).collect();
    let _: () = conn.mset(&pairs).unwrap();
    let mut asked = keys.clone();
    asked.insert(7, "missing".into());
    let values: Vec<Option<String>> = conn.mget(&asked).unwrap();
    for (key, value) in asked.iter().zip(&values) {
        let expected = (key != "missing").then(|| format!("v-{key}"));
        assert_eq!(value, &expected, "{key}");
    }
    let existing: i64 = redis::cmd("EXISTS").arg(&asked).query(&mut conn).unwrap();
    assert_eq!(existing, 50);
    let touched: i64 = redis::cmd("TOUCH")
        .arg(&keys[..10])
        .query(&mut conn)
        .unwrap();
    assert_eq!(touched, 10);
    let deleted: i64 = conn.del(&keys[..20]).unwrap();
    assert_eq!(deleted, 20);
    let unlinked: i64 = conn.unlink(&asked[20..]).unwrap();
    assert_eq!(unlinked, 30);
    // A multi-key command that cannot be split is refused, as Redis Cluster does.
    let error = redis::cmd("RENAME")
        .arg("key:1")
        .arg("key:2")
        .query::<()>(&mut conn)
        .unwrap_err();
    let text = error.to_string().to_uppercase();
    assert!(
        text.contains("CROSSSLOT") || text.contains("NO SUCH KEY"),
        "{error}"
    );
    let same_slot: i64 = conn.del(&["{tag}a", "{tag}b"]).unwrap();
    assert_eq!(same_slot, 0);
}

#[test]
fn redirect_mode_works_with_cluster_clients() {
    let cluster = TestCluster::start(3, &["--failure-timeout", "3s", "--cluster-redirect"]);
    let urls: Vec<String> = cluster
        .live()
        .into_iter()
        .map(|i| format!("redis://{}/", cluster.node(i).addr))
        .collect();
    let client = redis::cluster::ClusterClient::new(urls).unwrap();
    let mut conn = client.get_connection().unwrap();
    for key in keys(200) {
        let _: () = conn.set(&key, &key).unwrap();
    }
    for key in keys(200) {
        let value: String = conn.get(&key).unwrap();
        assert_eq!(value, key);
    }
    // A plain connection gets Redis Cluster's MOVED and CROSSSLOT errors.
    let mut plain = cluster.node(0).conn();
    let mut moved = 0;
    for key in keys(50) {
        match plain.get::<_, Option<String>>(&key) {
            Ok(value) => assert_eq!(value.as_deref(), Some(key.as_str())),
            Err(e) => {
                assert!(e.to_string().to_uppercase().contains("MOVED"), "{e}");
                moved += 1;
            }
        }
    }
    assert!(moved > 0, "some keys belong to other nodes");
    let error = plain
        .mget::<_, Vec<Option<String>>>(&["key:1", "key:2", "key:3"])
        .unwrap_err();
    assert!(
        error.to_string().to_uppercase().contains("CROSSSLOT"),
        "{error}"
    );
    let slot: i64 = q(&mut plain, &["CLUSTER", "KEYSLOT", "{user1000}.following"]);
    assert_eq!(slot, 3443, "Redis's documented example");
}

#[test]
fn cluster_commands_describe_the_ring() {
    let cluster = TestCluster::start(3, FAST);
    let mut conn = cluster.node(0).conn();
    let info: String = q(&mut conn, &["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(info.contains("cluster_known_nodes:3"), "{info}");
    let nodes: String = q(&mut conn, &["CLUSTER", "NODES"]);
    assert_eq!(nodes.lines().count(), 3);
    assert_eq!(nodes.lines().filter(|l| l.contains("myself")).count(), 1);
    let id: String = q(&mut conn, &["CLUSTER", "MYID"]);
    assert_eq!(id.len(), 40);
    assert!(nodes.contains(&id));
    // SLOTS covers every slot once, each range with its primary only (no
    // client takes a node for a replica), contiguous ranges merged.
    let covered_by = |slots: &[Value], width: usize| {
        let mut covered = 0;
        let mut previous: Option<(i64, Value)> = None;
        for range in slots {
            let Value::Array(parts) = range else {
                panic!("range {range:?}")
            };
            let (Value::Int(start), Value::Int(end)) = (&parts[0], &parts[1]) else {
                panic!()
            };
            covered += end - start + 1;
            assert_eq!(parts.len(), width, "{parts:?}");
            if width == 3 {
                if let Some((last_end, last_primary)) = &previous {
                    assert!(
                        *last_end + 1 != *start || *last_primary != parts[2],
                        "contiguous ranges of one primary are merged"
                    );
                }
                previous = Some((*end, parts[2].clone()));
            } else {
                assert_ne!(parts[2], parts[3], "distinct owners");
            }
        }
        covered
    };
    let slots: Vec<Value> = q(&mut conn, &["CLUSTER", "SLOTS"]);
    assert_eq!(covered_by(&slots, 3), 16384);
    // With cluster-announce-replicas yes, each range lists its replica.
    let _: () = q(
        &mut conn,
        &["CONFIG", "SET", "cluster-announce-replicas", "yes"],
    );
    let announced: Vec<Value> = q(&mut conn, &["CLUSTER", "SLOTS"]);
    assert_eq!(covered_by(&announced, 4), 16384);
    assert!(announced.len() >= slots.len());
    let _: () = q(
        &mut conn,
        &["CONFIG", "SET", "cluster-announce-replicas", "no"],
    );
    // NODES: three masters, each with its merged ranges, whose sizes add up.
    let mut slots_in_nodes = 0;
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert!(fields[2].ends_with("master"), "{line}");
        assert_eq!(fields[3], "-", "{line}");
        for range in &fields[8..] {
            let (start, end) = range.split_once('-').unwrap_or((range, range));
            slots_in_nodes += end.parse::<u32>().unwrap() - start.parse::<u32>().unwrap() + 1;
        }
    }
    assert_eq!(slots_in_nodes, 16384);
    // SHARDS: one shard per node, the node its only member, a master.
    let shards: Vec<Value> = q(&mut conn, &["CLUSTER", "SHARDS"]);
    assert_eq!(shards.len(), 3);
    for shard in &shards {
        let text = format!("{shard:?}");
        assert_eq!(text.matches("\"master\"").count(), 1, "{text}");
        assert!(!text.contains("\"replica\""), "{text}");
    }
    for i in 0..20 {
        let _: () = conn.set(format!("{{slotkey}}{i}"), i).unwrap();
    }
    let slot: u16 = q(&mut conn, &["CLUSTER", "KEYSLOT", "{slotkey}"]);
    let mut found = 0;
    for index in cluster.live() {
        let mut c = cluster.node(index).conn();
        let count: i64 = redis::cmd("CLUSTER")
            .arg("COUNTKEYSINSLOT")
            .arg(slot)
            .query(&mut c)
            .unwrap();
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(5)
            .query(&mut c)
            .unwrap();
        assert!(count == 0 || count == 20, "{count}");
        assert_eq!(keys.len(), if count == 20 { 5 } else { 0 });
        found += count;
    }
    assert_eq!(found, 40, "primary and replica (the counts of copies held)");
    let error = redis::cmd("CLUSTER")
        .arg("COUNTKEYSINSLOT")
        .arg(16384)
        .query::<i64>(&mut conn)
        .unwrap_err();
    assert!(error.to_string().contains("Invalid slot"));
}

#[test]
fn writes_reach_replicas_and_quorum_waits_for_them() {
    let cluster = TestCluster::start(3, &["--failure-timeout", "3s", "--write-quorum", "2"]);
    let mut conn = cluster.node(0).conn();
    for i in 0..100 {
        let key = format!("q:{i}");
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(i)
            .arg("EX")
            .arg(1000)
            .query(&mut conn)
            .unwrap();
        let _: i64 = conn.incr(&key, 5).unwrap();
        let owners = cluster.owners(&key);
        assert_eq!(owners.len(), 2);
        // Acknowledged with W=2, so the replica holds the result already:
        // the effect (the value after INCR, the absolute expiry) was shipped.
        let mut replica = cluster.node(owners[1]).conn();
        let _: () = q(&mut replica, &["READONLY"]);
        let value: i64 = replica.get(&key).unwrap();
        assert_eq!(value, i + 5, "{key} on its replica");
        let ttl: i64 = replica.ttl(&key).unwrap();
        assert!((990..=1000).contains(&ttl), "{ttl}");
    }
    // WAIT reports the replica that confirmed the last write.
    let mut direct = cluster.node(cluster.owners("w")[0]).conn();
    let _: () = direct.set("w", 1).unwrap();
    let confirmed: i64 = q(&mut direct, &["WAIT", "1", "1000"]);
    assert_eq!(confirmed, 1);
    // Deletes reach the replica too.
    let _: i64 = conn.del("q:1").unwrap();
    let owners = cluster.owners("q:1");
    let mut replica = cluster.node(owners[1]).conn();
    let _: () = q(&mut replica, &["READONLY"]);
    let gone: Option<i64> = replica.get("q:1").unwrap();
    assert_eq!(gone, None);
}

/// A thread that SETs `prefix:<i mod keys>` to `i` (i = 0, 1, ...) through
/// the node at `entry` until `stop` is set or `limit` passes, telling
/// `record` each key, value and whether the write was acknowledged.
fn background_writer(
    entry: SocketAddr,
    prefix: &'static str,
    keys: i64,
    limit: Duration,
    stop: &Arc<AtomicBool>,
    mut record: impl FnMut(String, i64, bool) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let stop = stop.clone();
    std::thread::spawn(move || {
        let client = redis::Client::open(format!("redis://{entry}/")).expect("client");
        let mut conn = client.get_connection().expect("connection");
        let started = Instant::now();
        let mut i = 0i64;
        while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
            let key = format!("{prefix}:{}", i % keys);
            let ok = conn.set::<_, _, ()>(&key, i).is_ok();
            record(key, i, ok);
            i += 1;
        }
    })
}

#[test]
fn sigkill_under_write_load_loses_no_acknowledged_write() {
    let mut cluster = TestCluster::start(3, &["--failure-timeout", "3s", "--write-quorum", "2"]);
    let entry = cluster.node(0).addr;
    let acknowledged: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let errors: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acknowledged, errors) = (acknowledged.clone(), errors.clone());
        let limit = Duration::from_secs(120);
        background_writer(entry, "acked", 2000, limit, &stop, move |key, i, ok| {
            if ok {
                acknowledged.lock().unwrap().push((key, i));
            } else {
                errors.lock().unwrap().push(Instant::now());
            }
        })
    };
    assert!(eventually(DEADLINE, || acknowledged.lock().unwrap().len() > 3000));
    let killed_at = Instant::now();
    cluster.kill(2);
    cluster.wait_converged(2);
    // Keep writing a little after the new ring is in place.
    let after = acknowledged.lock().unwrap().len();
    assert!(eventually(DEADLINE, || acknowledged.lock().unwrap().len()
        > after + 1000));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    // Every key holds its last acknowledged value, or a later write's that
    // reached the primary but got an error reply (not acknowledged, so the
    // client cannot rely on it either way).
    let mut last: HashMap<String, i64> = HashMap::new();
    for (key, value) in acknowledged.lock().unwrap().iter() {
        last.insert(key.clone(), *value);
    }
    let mut conn = cluster.node(1).conn();
    let mut lost = Vec::new();
    for (key, value) in &last {
        let held: Option<i64> = conn.get(key).unwrap();
        if held.is_none_or(|held| held < *value) {
            lost.push((key.clone(), *value, held));
        }
    }
    let errors = errors.lock().unwrap();
    let window = match (errors.first(), errors.last()) {
        (Some(first), Some(last)) => last.duration_since(*first),
        _ => Duration::ZERO,
    };
    eprintln!(
        "failover: {} acknowledged writes, {} keys, {} lost, {} errors over {:?} (first error {:?} after the kill)",
        acknowledged.lock().unwrap().len(),
        last.len(),
        lost.len(),
        errors.len(),
        window,
        errors.first().map(|e| e.saturating_duration_since(killed_at)),
    );
    assert!(
        lost.is_empty(),
        "lost acknowledged writes: {:?}",
        &lost[..lost.len().min(10)]
    );
    // Errors only around the failure (detection and ring change).
    assert!(window < Duration::from_secs(15), "error window {window:?}");

    // Every key is back to two copies on the survivors.
    let expected = 2 * last.len() as u64;
    assert!(
        eventually(Duration::from_secs(60), || cluster.total_keys() == expected),
        "copies: {} of {expected}",
        cluster.total_keys()
    );
}

/// Reads every key once through `conn`; returns the hit ratio.
fn hit_ratio(conn: &mut Connection, keys: &[String]) -> f64 {
    let mut hits = 0;
    for key in keys {
        let value: Option<String> = conn.get(key).expect("get succeeds");
        if value.as_deref() == Some(key.as_str()) {
            hits += 1;
        }
    }
    hits as f64 / keys.len() as f64
}

#[test]
fn joins_and_graceful_leaves_keep_the_cache_warm() {
    let mut cluster = TestCluster::start(3, FAST);
    let (keys, mut conn) = keys_written(&cluster, 3000);
    let before = hit_ratio(&mut conn, &keys);
    assert_eq!(before, 1.0);

    // A fourth node joins: reads right after the join still hit, through
    // the new owner reading through to the old one while data streams.
    cluster.add_node();
    let mut during = Vec::new();
    let joined = Instant::now();
    while joined.elapsed() < Duration::from_secs(3) {
        during.push(hit_ratio(&mut conn, &keys[..500]));
    }
    cluster.wait_converged(4);
    let after_join = hit_ratio(&mut conn, &keys);
    let moved = cluster.figure(3, "cluster_slots_primary");
    eprintln!("join: hit ratio before {before}, during {during:?}, after {after_join}; new node is primary of {moved} slots");
    assert!(during.iter().all(|&r| r >= 0.95 * before), "{during:?}");
    assert!(after_join >= 0.95 * before);
    assert!(
        (2000..=6500).contains(&moved),
        "about a quarter of the slots: {moved}"
    );
    let mut newcomer = cluster.node(3).conn();
    let held: u64 = q(&mut newcomer, &["DBSIZE"]);
    assert!(held > 0, "the new node holds data of its slots");

    // Node 1 leaves gracefully: it hands its slots off before exiting.
    assert_eq!(cluster.leave(1), Some(0));
    cluster.wait_converged(3);
    let after_leave = hit_ratio(&mut conn, &keys);
    eprintln!("leave: hit ratio after {after_leave}");
    assert_eq!(after_leave, 1.0);
    assert!(eventually(DEADLINE, || cluster.total_keys() == 2 * keys.len() as u64));
}

#[test]
fn churn_ends_consistent() {
    // With a write quorum of 2 an acknowledged write survives the crash too.
    let mut cluster = TestCluster::start(3, &["--failure-timeout", "3s", "--write-quorum", "2"]);
    let entry = cluster.node(0).addr;
    let stop = Arc::new(AtomicBool::new(false));
    let last: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let writer = {
        let last = last.clone();
        let limit = Duration::from_secs(240);
        background_writer(entry, "churn", 500, limit, &stop, move |key, i, ok| {
            if ok {
                last.lock().unwrap().insert(key, i);
            }
        })
    };
    // Nodes come and go: a join, a graceful leave, a join, a crash.
    let joined = cluster.add_node();
    cluster.wait_converged(4);
    cluster.leave(joined);
    cluster.wait_converged(3);
    let joined = cluster.add_node();
    cluster.wait_converged(4);
    cluster.kill(joined);
    cluster.wait_converged(3);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let last = last.lock().unwrap();
    assert!(last.len() > 100, "the writer made progress");
    for index in cluster.live() {
        let mut conn = cluster.node(index).conn();
        let mut stale = Vec::new();
        for (key, value) in last.iter() {
            // The last acknowledged value, or a later one whose write got an
            // error reply during the crash (applied, not acknowledged).
            let held: Option<i64> = q(&mut conn, &["GET", key]);
            if held.is_none_or(|held| held < *value) {
                stale.push(format!("{key}: {held:?}, acknowledged {value}"));
            }
        }
        assert!(
            stale.is_empty(),
            "node {index} sees {} stale or missing values: {:?}",
            stale.len(),
            &stale[..stale.len().min(5)]
        );
    }
}

#[test]
fn evictions_on_a_primary_reach_its_replicas() {
    // About 4 MB of a node is not keys (a cluster node's per-slot key
    // counts take 128 KB of it); 7 MB leaves room for the keys and the
    // replication buffers while 20 MB of values force evictions.
    let cluster = TestCluster::start(3, &["--failure-timeout", "3s", "--maxmemory", "7mb"]);
    let mut conn = cluster.node(0).conn();
    let value = "x".repeat(1000);
    let keys = keys(20_000);
    for key in &keys {
        let _: () = conn.set(key, &value).unwrap();
    }
    let evicted: u64 = cluster
        .live()
        .into_iter()
        .map(|i| {
            common::info_field(&mut cluster.node(i).conn(), "evicted_keys")
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(evicted > 0, "the load must overflow maxmemory");
    // A key its primary evicted must not linger on its replica.
    let mut readers: Vec<Connection> = cluster
        .live()
        .into_iter()
        .map(|i| {
            let mut c = cluster.node(i).conn();
            let _: () = q(&mut c, &["READONLY"]);
            c
        })
        .collect();
    let sample: Vec<&String> = keys.iter().step_by(97).collect();
    let lingering = |readers: &mut Vec<Connection>| {
        let mut lingering = 0;
        for key in &sample {
            let owners = cluster.owners(key);
            let on_primary: bool = readers[owners[0]].exists(key.as_str()).unwrap();
            let on_replica: bool = readers[owners[1]].exists(key.as_str()).unwrap();
            if on_replica && !on_primary {
                lingering += 1;
            }
        }
        lingering
    };
    assert!(
        eventually(Duration::from_secs(20), || lingering(&mut readers) == 0),
        "{} sampled keys evicted on their primary still on a replica",
        lingering(&mut readers)
    );
}

#[test]
fn a_restarted_node_gets_its_slots_back_warm() {
    let mut cluster = TestCluster::start(3, FAST);
    let (keys, mut conn) = keys_written(&cluster, 2000);
    let slots_before = cluster.figure(2, "cluster_slots_primary");
    cluster.kill(2);
    cluster.wait_converged(2);
    assert_eq!(hit_ratio(&mut conn, &keys), 1.0, "the replicas took over");
    cluster.restart(2);
    cluster.wait_converged(3);
    assert_eq!(
        cluster.figure(2, "cluster_slots_primary"),
        slots_before,
        "same name, same slots"
    );
    assert_eq!(hit_ratio(&mut conn, &keys), 1.0);
    let mut restarted = cluster.node(2).conn();
    let held: u64 = q(&mut restarted, &["DBSIZE"]);
    assert!(held > 0, "it pulled its slots back");
    assert!(eventually(DEADLINE, || cluster.total_keys() == 2 * keys.len() as u64));
}

#[test]
fn the_local_cluster_command_starts_a_working_cluster() {
    // `--local-cluster 3` as the README shows it, on free ports.
    use std::process::{Command, Stdio};
    let base = common::cluster::free_port_run(3, true);
    let mut child = Command::new(common::process::server_binary())
        .args(["--local-cluster", "3", "--port", &base.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = eventually(Duration::from_secs(60), || {
        (0..3).all(|i| {
            redis::Client::open(format!("redis://127.0.0.1:{}/", base + i))
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut c))
                .is_ok_and(|info| info.contains("cluster_size:3"))
        })
    });
    if !ready {
        let _ = child.kill();
        panic!("local cluster did not come up");
    }
    let mut first = redis::Client::open(format!("redis://127.0.0.1:{base}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut last = redis::Client::open(format!("redis://127.0.0.1:{}/", base + 2))
        .unwrap()
        .get_connection()
        .unwrap();
    for i in 0..50 {
        let _: () = first.set(format!("lc:{i}"), i).unwrap();
    }
    for i in 0..50 {
        let value: i64 = last.get(format!("lc:{i}")).unwrap();
        assert_eq!(value, i);
    }
    // SIGTERM stops all three, promptly.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stopped = eventually(DEADLINE, || matches!(child.try_wait(), Ok(Some(_))));
    if !stopped {
        let _ = child.kill();
    }
    assert!(stopped, "the local cluster did not stop on SIGTERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
