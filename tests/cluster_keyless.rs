//! `cluster-keyless-scope cluster`: in proxy mode, a plain client's DBSIZE,
//! KEYS, SCAN, RANDOMKEY, FLUSHALL and FLUSHDB sent to one node answer for
//! the whole cluster (the node asks the others for their parts); a node
//! that cannot answer makes the reply an error naming it; `node` restores
//! per-node answers; redirect mode refuses the option.

mod common;

use std::collections::HashSet;

use common::cluster::TestCluster;
use common::query::{config_set, config_value};
use common::redis_server::{redis_cli, skip_without};
use common::{err, q, RawConn};
use redis::{Commands, Connection};

/// Proxy mode, cluster-wide keyless answers.
const WIDE: &[&str] = &[
    "--failure-timeout",
    "3s",
    "--cluster-keyless-scope",
    "cluster",
];

/// Writes strings, hashes and lists through `conn`; returns their names
/// by type.
fn write_keys(conn: &mut Connection) -> (HashSet<String>, HashSet<String>, HashSet<String>) {
    let strings: HashSet<String> = (0..300).map(|i| format!("str:{i}")).collect();
    let hashes: HashSet<String> = (0..30).map(|i| format!("hash:{i}")).collect();
    let lists: HashSet<String> = (0..30).map(|i| format!("list:{i}")).collect();
    for key in &strings {
        let () = conn.set(key, "v").expect("SET");
    }
    for key in &hashes {
        let _: i64 = conn.hset(key, "f", "v").expect("HSET");
    }
    for key in &lists {
        let _: i64 = conn.rpush(key, "x").expect("RPUSH");
    }
    (strings, hashes, lists)
}

/// Every key a full SCAN loop with `options` returns (a key may come more
/// than once, as SCAN allows; the loop is bounded).
fn scan_all(conn: &mut Connection, options: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    for _ in 0..100_000 {
        let mut request = vec!["SCAN", cursor.as_str()];
        request.extend_from_slice(options);
        let (next, page): (String, Vec<String>) = q(conn, &request);
        keys.extend(page);
        if next == "0" {
            return keys;
        }
        cursor = next;
    }
    panic!("SCAN {options:?} did not finish");
}

/// DBSIZE of every node, each answering for itself.
fn per_node_dbsize(cluster: &TestCluster) -> Vec<u64> {
    // The scope is a node setting: each node answers for itself while it
    // is counted, then goes back to the cluster scope.
    let counts = cluster.dbsize_each(|conn| config_set(conn, "cluster-keyless-scope", "node"));
    for i in cluster.live() {
        config_set(&mut cluster.conn(i), "cluster-keyless-scope", "cluster");
    }
    counts
}

#[test]
fn one_node_answers_for_the_whole_cluster() {
    let cluster = TestCluster::start(3, WIDE);
    let mut conn = cluster.conn(0);
    assert_eq!(config_value(&mut conn, "cluster-keyless-scope"), "cluster");
    let (strings, hashes, lists) = write_keys(&mut conn);
    let all: HashSet<String> = strings
        .iter()
        .chain(&hashes)
        .chain(&lists)
        .cloned()
        .collect();
    for index in cluster.live() {
        let size: u64 = q(&mut cluster.conn(index), &["DBSIZE"]);
        assert_eq!(size, all.len() as u64, "DBSIZE through node {index}");
    }
    let counts = per_node_dbsize(&cluster);
    assert_eq!(counts.iter().sum::<u64>(), all.len() as u64, "{counts:?}");
    assert!(
        counts.iter().all(|&c| c > 0),
        "keys on every node: {counts:?}"
    );

    let keys: Vec<String> = q(&mut conn, &["KEYS", "*"]);
    assert_eq!(keys.len(), all.len(), "KEYS lists each key once");
    assert_eq!(keys.into_iter().collect::<HashSet<_>>(), all);
    let listed: Vec<String> = q(&mut cluster.conn(1), &["KEYS", "hash:*"]);
    assert_eq!(listed.into_iter().collect::<HashSet<_>>(), hashes);

    let scanned = scan_all(&mut conn, &[]);
    assert_eq!(scanned.into_iter().collect::<HashSet<_>>(), all);
    let matched = scan_all(&mut conn, &["MATCH", "str:*", "COUNT", "7"]);
    assert_eq!(matched.into_iter().collect::<HashSet<_>>(), strings);
    let typed = scan_all(&mut cluster.conn(2), &["COUNT", "1000", "TYPE", "list"]);
    assert_eq!(typed.into_iter().collect::<HashSet<_>>(), lists);
    // The redis crate's own SCAN iterator follows the cluster-wide cursor.
    let iterated: HashSet<String> = conn.scan().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(iterated, all);

    for _ in 0..20 {
        let key: String = q(&mut conn, &["RANDOMKEY"]);
        assert!(all.contains(&key), "RANDOMKEY {key}");
    }

    if !skip_without("one_node_answers_for_the_whole_cluster", &["redis-cli"]) {
        let port = cluster.node(1).addr.port();
        let listed = redis_cli(port, &["--scan"]);
        let lines: HashSet<String> = listed.lines().map(String::from).collect();
        assert_eq!(lines, all, "redis-cli --scan against one node");
    }

    let () = redis::cmd("FLUSHALL").arg("SYNC").query(&mut conn).unwrap();
    assert_eq!(
        per_node_dbsize(&cluster),
        [0, 0, 0],
        "FLUSHALL reached every node"
    );
    let size: u64 = q(&mut conn, &["DBSIZE"]);
    assert_eq!(size, 0);
    let none: Option<String> = q(&mut conn, &["RANDOMKEY"]);
    assert_eq!(none, None, "RANDOMKEY of an empty cluster");
    let (next, page): (String, Vec<String>) = q(&mut conn, &["SCAN", "0"]);
    assert!(page.is_empty(), "{next} {page:?}");
    // The merged replies on the wire, RESP2 and RESP3.
    let mut raw = RawConn::connect(cluster.node(1).addr);
    assert_eq!(raw.roundtrip(&["RANDOMKEY"]), b"$-1\r\n");
    // One node per call: the first page of an empty cluster is empty, its
    // cursor at the next node.
    let page = String::from_utf8(raw.roundtrip(&["SCAN", "0"])).unwrap();
    assert!(
        page.starts_with("*2\r\n$") && page.ends_with("\r\n*0\r\n"),
        "{page:?}"
    );
    raw.hello(3);
    assert_eq!(raw.roundtrip(&["DBSIZE"]), b":0\r\n");
    assert_eq!(raw.roundtrip(&["RANDOMKEY"]), b"_\r\n");
    assert_eq!(raw.roundtrip(&["SET", "only", "v"]), b"+OK\r\n");
    assert_eq!(raw.roundtrip(&["KEYS", "*"]), b"*1\r\n$4\r\nonly\r\n");
    assert_eq!(raw.roundtrip(&["RANDOMKEY"]), b"$4\r\nonly\r\n");
    assert_eq!(raw.roundtrip(&["FLUSHALL", "ASYNC"]), b"+OK\r\n");
    assert_eq!(raw.roundtrip(&["DBSIZE"]), b":0\r\n");

    // Back to per-node answers: each node counts its own slots only.
    let (strings, _, _) = write_keys(&mut conn);
    let () = redis::cmd("FLUSHDB").query(&mut conn).unwrap();
    assert_eq!(
        per_node_dbsize(&cluster),
        [0, 0, 0],
        "FLUSHDB reached every node"
    );
    for key in &strings {
        let () = conn.set(key, "v").expect("SET");
    }
    config_set(&mut conn, "cluster-keyless-scope", "node");
    let own: u64 = q(&mut conn, &["DBSIZE"]);
    let own_keys: Vec<String> = q(&mut conn, &["KEYS", "*"]);
    assert!(own > 0 && own < strings.len() as u64, "node 0 alone: {own}");
    assert_eq!(own_keys.len() as u64, own);
    let own_scan = scan_all(&mut conn, &[]);
    assert_eq!(
        own_scan.into_iter().collect::<HashSet<_>>().len() as u64,
        own
    );
    let others: u64 = q(&mut cluster.conn(1), &["DBSIZE"]);
    assert_eq!(others, strings.len() as u64, "node 1 still answers for all");
}

#[test]
fn an_unreachable_node_is_named_not_left_out() {
    // A slow failure detector: the killed node stays in the ring while the
    // test asks.
    let flags = [
        "--failure-timeout",
        "60s",
        "--cluster-keyless-scope",
        "cluster",
    ];
    let mut cluster = TestCluster::start(3, &flags);
    let mut conn = cluster.conn(0);
    write_keys(&mut conn);
    cluster.kill(2);
    for request in [
        &["DBSIZE"][..],
        &["KEYS", "*"],
        &["FLUSHALL"],
        &["RANDOMKEY"],
    ] {
        let error = err(&mut conn, request);
        assert!(
            error.contains("node-2") && error.contains("did not answer"),
            "{request:?}: {error}"
        );
    }
    // A SCAN reaches the dead node at its turn and fails there.
    let mut cursor = "0".to_string();
    let mut failed = None;
    for _ in 0..10_000 {
        match redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(1000)
            .query::<(String, Vec<String>)>(&mut conn)
        {
            Ok((next, _)) if next == "0" => break,
            Ok((next, _)) => cursor = next,
            Err(error) => {
                failed = Some(error.to_string());
                break;
            }
        }
    }
    let failed = failed.expect("SCAN reached the dead node");
    assert!(failed.contains("node-2"), "{failed}");
    // The connection stays usable.
    let pong: String = q(&mut conn, &["PING"]);
    assert_eq!(pong, "PONG");
}

#[test]
fn redirect_mode_answers_for_the_node_only() {
    let cluster = TestCluster::start(1, &["--cluster-redirect", "yes"]);
    let mut conn = cluster.conn(0);
    let error = err(
        &mut conn,
        &["CONFIG", "SET", "cluster-keyless-scope", "cluster"],
    );
    assert!(error.contains("proxy mode"), "{error}");
    assert_eq!(config_value(&mut conn, "cluster-keyless-scope"), "node");
    let error = err(
        &mut conn,
        &["CONFIG", "SET", "cluster-keyless-scope", "everything"],
    );
    assert!(error.contains("node, cluster"), "{error}");
}

#[test]
fn a_scan_across_a_ring_change_loses_no_key() {
    let mut cluster = TestCluster::start(3, WIDE);
    let mut conn = cluster.conn(0);
    let (strings, hashes, lists) = write_keys(&mut conn);
    let all: HashSet<String> = strings
        .iter()
        .chain(&hashes)
        .chain(&lists)
        .cloned()
        .collect();
    // Scan until the cursor stands on the second node (its position is the
    // cursor's top 8 bits): the first node is done.
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor = 0u64;
    for _ in 0..100_000 {
        let (next, page): (u64, Vec<String>) =
            q(&mut conn, &["SCAN", &cursor.to_string(), "COUNT", "20"]);
        seen.extend(page);
        assert_ne!(next, 0, "the scan reaches the second node before its end");
        cursor = next;
        if cursor >> 56 == 1 {
            break;
        }
    }
    // The third node leaves: its slots go to the other two, the first
    // (already walked) among them. The old ring's cursor starts the walk
    // over, so none of its keys is lost.
    assert!(cluster.leave(2).is_some(), "node 2 left");
    cluster.wait_converged(2);
    let mut done = false;
    for _ in 0..100_000 {
        let (next, page): (u64, Vec<String>) =
            q(&mut conn, &["SCAN", &cursor.to_string(), "COUNT", "20"]);
        seen.extend(page);
        if next == 0 {
            done = true;
            break;
        }
        cursor = next;
    }
    assert!(done, "the scan finished");
    let lost: Vec<&String> = all.difference(&seen).collect();
    assert!(lost.is_empty(), "lost across the ring change: {lost:?}");
    assert!(seen.is_subset(&all), "nothing but the keys written");
    let size: u64 = q(&mut conn, &["DBSIZE"]);
    assert_eq!(size, all.len() as u64, "DBSIZE of the two-node ring");
}
