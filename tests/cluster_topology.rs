//! The cluster as Redis Cluster clients read it: CLUSTER SLOTS, SHARDS and
//! NODES show every node as a primary of its merged ranges (redis-rs's
//! ClusterClient, `redis-cli --cluster check` and `--cluster info`), and a
//! node's key space is the slots it is primary for (DBSIZE, KEYS, SCAN,
//! RANDOMKEY, INFO keyspace, `redis-cli --scan` and `--bigkeys`), through
//! writes, deletes, expiries, a flush and a node joining.

mod common;

use std::collections::{HashMap, HashSet};

use common::cluster::TestCluster;
use common::info::field_u64;
use common::redis_server::{redis_cli, skip_without};
use common::wire::RawConn;
use common::{eventually, q, DEADLINE};
use redis::{Commands, Value};

/// Flags for a quick failure detector in tests.
const FAST: &[&str] = &["--failure-timeout", "3s"];

/// The (host:port) of every primary CLUSTER SLOTS lists, with its slots.
fn primaries_in_slots(slots: &[Value]) -> HashMap<i64, i64> {
    let mut primaries = HashMap::new();
    for range in slots {
        let Value::Array(parts) = range else {
            panic!("range {range:?}")
        };
        let (Value::Int(start), Value::Int(end), Value::Array(node)) =
            (&parts[0], &parts[1], &parts[2])
        else {
            panic!("range {parts:?}")
        };
        let Value::Int(port) = node[1] else {
            panic!("node {node:?}")
        };
        *primaries.entry(port).or_insert(0) += end - start + 1;
    }
    primaries
}

#[test]
fn cluster_clients_see_every_node_as_a_primary() {
    let cluster = TestCluster::start(3, FAST);
    let mut conn = cluster.node(0).conn();
    let slots: Vec<Value> = q(&mut conn, &["CLUSTER", "SLOTS"]);
    let primaries = primaries_in_slots(&slots);
    assert_eq!(primaries.len(), 3, "every node a primary: {primaries:?}");
    assert_eq!(primaries.values().sum::<i64>(), 16384);
    for (index, node) in cluster.live().into_iter().map(|i| (i, cluster.node(i))) {
        let port = i64::from(node.addr.port());
        assert_eq!(
            primaries.get(&port).copied(),
            Some(cluster.figure(index, "cluster_slots_primary") as i64),
            "node {index}'s slots"
        );
    }
    // redis-rs's cluster client routes each key straight to its primary:
    // no node forwards anything.
    let urls: Vec<String> = cluster
        .live()
        .into_iter()
        .map(|i| format!("redis://{}/", cluster.node(i).addr))
        .collect();
    let client = redis::cluster::ClusterClient::new(urls).unwrap();
    let mut routed = client.get_connection().unwrap();
    let forwarded_before: u64 = cluster
        .live()
        .into_iter()
        .map(|i| cluster.figure(i, "cluster_forwarded"))
        .sum();
    for i in 0..500 {
        let _: () = routed.set(format!("k:{i}"), i).unwrap();
    }
    for i in 0..500 {
        let value: i64 = routed.get(format!("k:{i}")).unwrap();
        assert_eq!(value, i);
    }
    let forwarded_after: u64 = cluster
        .live()
        .into_iter()
        .map(|i| cluster.figure(i, "cluster_forwarded"))
        .sum();
    assert_eq!(
        forwarded_after, forwarded_before,
        "every request at its primary"
    );
    // The option is a runtime one, shown by CONFIG GET.
    let shown: Vec<String> = q(&mut conn, &["CONFIG", "GET", "cluster-announce-replicas"]);
    assert_eq!(shown, ["cluster-announce-replicas", "no"]);
}

#[test]
fn topology_replies_in_exact_bytes_on_one_node() {
    let cluster = TestCluster::start(1, FAST);
    let node = cluster.node(0);
    let mut conn = node.conn();
    let id: String = q(&mut conn, &["CLUSTER", "MYID"]);
    let port = node.addr.port();
    let mut raw = RawConn::connect(node.addr);
    let slots = raw.roundtrip(&["CLUSTER", "SLOTS"]);
    let expected = format!(
        "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$40\r\n{id}\r\n*0\r\n"
    );
    assert_eq!(String::from_utf8_lossy(&slots), expected);
    let shards = raw.roundtrip(&["CLUSTER", "SHARDS"]);
    let expected = format!(
        "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*14\r\n\
         $2\r\nid\r\n$40\r\n{id}\r\n$4\r\nport\r\n:{port}\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
         $8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
         $18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n"
    );
    assert_eq!(String::from_utf8_lossy(&shards), expected);
    let nodes: String = q(&mut conn, &["CLUSTER", "NODES"]);
    let fields: Vec<&str> = nodes.trim_end().split(' ').collect();
    assert_eq!(fields[0], id);
    assert!(
        fields[1].starts_with(&format!("127.0.0.1:{port}@")),
        "{nodes}"
    );
    assert_eq!(
        &fields[2..],
        ["myself,master", "-", "0", "0", "1", "connected", "0-16383"]
    );
    let info: String = q(&mut conn, &["CLUSTER", "INFO"]);
    assert_eq!(field_u64(&info, "cluster_my_epoch"), Some(1), "{info}");
}

/// `redis-cli --cluster <what> <node>`'s output.
fn cluster_tool(port: u16, what: &str) -> String {
    redis_cli(port, &["--cluster", what, &format!("127.0.0.1:{port}")])
}

#[test]
fn redis_cli_cluster_check_reads_a_healthy_cluster() {
    if skip_without(
        "redis_cli_cluster_check_reads_a_healthy_cluster",
        &["redis-cli"],
    ) {
        return;
    }
    let cluster = TestCluster::start(3, FAST);
    let mut conn = cluster.node(0).conn();
    for i in 0..600 {
        let _: () = conn.set(format!("key:{i}"), i).unwrap();
    }
    let port = cluster.node(1).addr.port();
    let check = cluster_tool(port, "check");
    eprintln!("{check}");
    assert!(
        check.contains("[OK] All nodes agree about slots configuration."),
        "{check}"
    );
    assert!(check.contains("[OK] All 16384 slots covered."), "{check}");
    assert!(
        !check.contains("[WARNING]") && !check.contains("[ERR]"),
        "{check}"
    );
    assert_eq!(check.matches("M: ").count(), 3, "three masters: {check}");
    // --cluster info: the keys of each master's slots, 600 in all (the
    // replica copies are not counted twice), and every slot.
    let info = cluster_tool(port, "info");
    eprintln!("{info}");
    let (mut keys, mut slots) = (0, 0);
    for line in info.lines().filter(|l| l.contains(" keys | ")) {
        let number_before = |marker: &str| -> u64 {
            let head = line.split(marker).next().expect("a field");
            let word = head.split_whitespace().last().expect("a number");
            word.parse().unwrap_or_else(|_| panic!("{line}"))
        };
        keys += number_before(" keys |");
        slots += number_before(" slots |");
    }
    assert_eq!((keys, slots), (600, 16384), "{info}");
    assert!(info.contains("600 keys in 3 masters."), "{info}");
}

#[test]
fn redis_cli_scan_and_bigkeys_find_each_key_once_in_redirect_mode() {
    if skip_without(
        "redis_cli_scan_and_bigkeys_find_each_key_once_in_redirect_mode",
        &["redis-cli"],
    ) {
        return;
    }
    let cluster = TestCluster::start(3, &["--failure-timeout", "3s", "--cluster-redirect"]);
    let urls: Vec<String> = cluster
        .live()
        .into_iter()
        .map(|i| format!("redis://{}/", cluster.node(i).addr))
        .collect();
    let client = redis::cluster::ClusterClient::new(urls).unwrap();
    let mut routed = client.get_connection().unwrap();
    let written: HashSet<String> = (0..400).map(|i| format!("key:{i}")).collect();
    for key in &written {
        let _: () = routed.set(key, "v").unwrap();
    }
    let mut seen: Vec<String> = Vec::new();
    let mut sampled = 0;
    for index in cluster.live() {
        let port = cluster.node(index).addr.port();
        let scanned = redis_cli(port, &["-c", "--scan"]);
        seen.extend(scanned.lines().map(String::from));
        let big = redis_cli(port, &["-c", "--bigkeys"]);
        assert!(!big.contains("MOVED") && !big.contains("error"), "{big}");
        let line = big
            .lines()
            .find(|l| l.starts_with("Sampled "))
            .unwrap_or_else(|| panic!("no summary: {big}"));
        let count: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let dbsize: u64 = q(&mut cluster.node(index).conn(), &["DBSIZE"]);
        assert_eq!(count, dbsize, "{line}");
        sampled += count;
    }
    let distinct: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), written.len(), "each key exactly once");
    assert_eq!(distinct, written);
    assert_eq!(sampled, written.len() as u64);
}

/// Every node's own-keyspace views agree: DBSIZE, INFO keyspace, KEYS, a
/// full SCAN (with MATCH and TYPE) and RANDOMKEY name only keys it is
/// primary for. Returns the keys found over all nodes.
fn own_keys_everywhere(cluster: &TestCluster) -> Vec<String> {
    let mut all = Vec::new();
    for index in cluster.live() {
        let mut conn = cluster.node(index).conn();
        let dbsize: u64 = q(&mut conn, &["DBSIZE"]);
        let info: String = q(&mut conn, &["INFO", "keyspace"]);
        let in_info = info
            .split("db0:keys=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse::<u64>().expect("a key count"));
        assert_eq!(in_info, dbsize, "INFO keyspace of node {index}: {info}");
        let keys: Vec<String> = q(&mut conn, &["KEYS", "*"]);
        assert_eq!(keys.len() as u64, dbsize, "KEYS of node {index}");
        let scanned: Vec<String> = conn
            .scan_match::<_, String>("k*")
            .expect("SCAN MATCH")
            .collect::<Result<_, _>>()
            .expect("SCAN MATCH pages");
        assert_eq!(scanned.len(), keys.len(), "SCAN MATCH of node {index}");
        let strings: Vec<String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("TYPE")
            .arg("string")
            .clone()
            .iter(&mut conn)
            .expect("SCAN TYPE")
            .collect::<Result<_, _>>()
            .expect("SCAN TYPE pages");
        assert_eq!(strings.len(), keys.len(), "SCAN TYPE of node {index}");
        // Each key is of a slot this node is primary for (CLUSTER SLOTS).
        let slots: Vec<Value> = q(&mut conn, &["CLUSTER", "SLOTS"]);
        let port = i64::from(cluster.node(index).addr.port());
        let mine: Vec<(i64, i64)> = slots
            .iter()
            .filter_map(|range| {
                let Value::Array(parts) = range else {
                    return None;
                };
                let (Value::Int(start), Value::Int(end), Value::Array(node)) =
                    (&parts[0], &parts[1], &parts[2])
                else {
                    return None;
                };
                (node[1] == Value::Int(port)).then_some((*start, *end))
            })
            .collect();
        for key in &keys {
            let slot: i64 = q(&mut conn, &["CLUSTER", "KEYSLOT", key]);
            assert!(
                mine.iter()
                    .any(|&(start, end)| (start..=end).contains(&slot)),
                "{key} (slot {slot}) listed by node {index}, not its primary"
            );
        }
        if let Some(key) = q::<Option<String>>(&mut conn, &["RANDOMKEY"]) {
            assert!(keys.contains(&key), "RANDOMKEY {key} of node {index}");
        }
        all.extend(keys);
    }
    all
}

#[test]
fn dbsize_over_nodes_counts_each_key_once() {
    let mut cluster = TestCluster::start(3, FAST);
    let mut conn = cluster.node(0).conn();
    let mut expected: HashSet<String> = HashSet::new();
    for i in 0..600 {
        let key = format!("key:{i}");
        let _: () = conn.set(&key, i).unwrap();
        expected.insert(key);
    }
    for i in 0..100 {
        let _: i64 = conn.del(format!("key:{i}")).unwrap();
        expected.remove(&format!("key:{i}"));
    }
    for i in 100..150 {
        let _: () = redis::cmd("SET")
            .arg(format!("key:{i}"))
            .arg(i)
            .arg("PX")
            .arg(300)
            .query(&mut conn)
            .unwrap();
        expected.remove(&format!("key:{i}"));
    }
    for i in 150..200 {
        let _: () = redis::cmd("EXPIRE")
            .arg(format!("key:{i}"))
            .arg(1000)
            .query(&mut conn)
            .unwrap();
    }
    // The expired keys go once the expiry cycle reclaims them (DBSIZE
    // counts expired keys not yet reclaimed, as Redis does).
    assert!(
        eventually(DEADLINE, || cluster.dbsize_sum() == expected.len() as u64),
        "DBSIZE summed {} for {} keys",
        cluster.dbsize_sum(),
        expected.len()
    );
    assert_eq!(
        cluster.total_keys(),
        2 * expected.len() as u64,
        "one replica each"
    );
    let expires: u64 = cluster
        .live()
        .into_iter()
        .map(|i| {
            let info: String = q(&mut cluster.node(i).conn(), &["INFO", "keyspace"]);
            info.split("expires=")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .map_or(0, |n| n.parse::<u64>().unwrap())
        })
        .sum();
    assert_eq!(expires, 50, "the keys with a TTL, once each");
    let found = own_keys_everywhere(&cluster);
    assert_eq!(found.len(), expected.len());
    assert_eq!(found.into_iter().collect::<HashSet<_>>(), expected);

    // A node joins: slots move, and each key is still counted once.
    let joined = cluster.add_node();
    cluster.wait_converged(4);
    assert!(
        eventually(DEADLINE, || cluster.dbsize_sum() == expected.len() as u64),
        "after the join: {} for {}",
        cluster.dbsize_sum(),
        expected.len()
    );
    let held: u64 = q(&mut cluster.node(joined).conn(), &["DBSIZE"]);
    assert!(held > 0, "the new node is primary of some keys");
    let found = own_keys_everywhere(&cluster);
    assert_eq!(found.into_iter().collect::<HashSet<_>>(), expected);

    // FLUSHALL sent to every node, as a cluster client's flushall does,
    // empties the cluster, replica copies included.
    for index in cluster.live() {
        let _: () = q(&mut cluster.node(index).conn(), &["FLUSHALL"]);
    }
    assert_eq!(cluster.dbsize_sum(), 0);
    assert_eq!(cluster.total_keys(), 0);
    let gone: Option<String> = conn.get("key:300").unwrap();
    assert_eq!(gone, None);
}
