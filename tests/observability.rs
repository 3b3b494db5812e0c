//! Observability: the Prometheus endpoint agrees with INFO (node
//! processes: the metrics recorder is one per process), and the latency
//! monitor records slow commands (an in-process node).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::query::set_keys;
use common::{eventually, info_field, q, TestNode, TestServer, DEADLINE};

/// Where a node started with `--metrics-port 0` serves its metrics (it
/// logs the port it landed on).
fn metrics_addr(node: &mut TestNode) -> SocketAddr {
    let line = node
        .wait_for_log("metrics endpoint ready addr=", DEADLINE)
        .expect("metrics endpoint logged");
    line.split("addr=")
        .nth(1)
        .expect("the field")
        .trim()
        .parse()
        .expect("a number")
}

fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).expect("metrics connect");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("a read timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    response
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no metric {name}"))
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn prometheus_endpoint_counts_commands_and_agrees_with_info() {
    // Port 0 for the metrics listener too: the node logs where it landed.
    let mut node = TestNode::start(&["--metrics-port", "0"]);
    let metrics_addr = metrics_addr(&mut node);
    let mut conn = node.conn();
    for i in 0..10 {
        let () = q(&mut conn, &["SET", &format!("k{i}"), "v"]);
    }
    for i in 0..15 {
        let _: Option<String> = q(&mut conn, &["GET", &format!("k{i}")]);
    }
    let text = scrape(metrics_addr);
    assert_eq!(
        metric(&text, "ringcache_commands_total{command=\"set\"}"),
        10.0
    );
    assert_eq!(
        metric(&text, "ringcache_commands_total{command=\"get\"}"),
        15.0
    );
    assert_eq!(
        metric(
            &text,
            "ringcache_command_duration_seconds_count{command=\"get\"}"
        ),
        15.0
    );
    assert_eq!(metric(&text, "ringcache_keyspace_hits_total"), 10.0);
    assert_eq!(metric(&text, "ringcache_keyspace_misses_total"), 5.0);
    assert_eq!(metric(&text, "ringcache_keys"), 10.0);
    assert_eq!(metric(&text, "ringcache_connected_clients"), 1.0);
    assert_eq!(info_field(&mut conn, "keyspace_hits"), "10");
    assert_eq!(info_field(&mut conn, "keyspace_misses"), "5");
    assert!(metric(&text, "ringcache_used_memory_bytes") > 0.0);

    let mut other = TcpStream::connect(metrics_addr).unwrap();
    other.write_all(b"GET /nothing HTTP/1.1\r\n\r\n").unwrap();
    let mut response = String::new();
    other.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");

    // Scrapers that connect and send nothing hold at most 16 of the
    // endpoint's tasks: one more is closed without an answer, and a scrape
    // works again once they are gone.
    let full_request_answered = || {
        let mut stream = TcpStream::connect(metrics_addr).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.starts_with("HTTP/1.1 200 OK")
    };
    // Each try connects its own idle scrapers (a try that ran slower than
    // the endpoint's request timeout saw them closed already).
    let refused = eventually(DEADLINE, || {
        let _idle: Vec<TcpStream> = (0..16)
            .map(|_| TcpStream::connect(metrics_addr).unwrap())
            .collect();
        !full_request_answered()
    });
    assert!(refused, "a 17th scraper was served beside 16 idle ones");
    assert!(
        eventually(DEADLINE, full_request_answered),
        "no scrape after the idle scrapers left"
    );
}

#[test]
fn latency_monitor_records_slow_commands() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let latest: Vec<redis::Value> = q(&mut conn, &["LATENCY", "LATEST"]);
    assert!(latest.is_empty());
    // Enough keys that KEYS takes well over a millisecond.
    set_keys(&mut conn, (0..100_000).map(|i| format!("key:{i}")), b"v");
    let _: () = q(
        &mut conn,
        &["CONFIG", "SET", "latency-monitor-threshold", "1"],
    );
    let keys: Vec<String> = q(&mut conn, &["KEYS", "*"]);
    assert_eq!(keys.len(), 100_000);
    let latest: Vec<(String, i64, i64, i64)> = q(&mut conn, &["LATENCY", "LATEST"]);
    assert_eq!(latest.len(), 1, "{latest:?}");
    let (event, at, last_ms, max_ms) = &latest[0];
    assert_eq!(event, "command");
    assert!(*at > 1_600_000_000);
    assert!(*last_ms >= 1 && max_ms >= last_ms);
    let history: Vec<(i64, i64)> = q(&mut conn, &["LATENCY", "HISTORY", "command"]);
    assert!(!history.is_empty());
    let reset: i64 = q(&mut conn, &["LATENCY", "RESET"]);
    assert_eq!(reset, 1);
    let err = redis::cmd("LATENCY")
        .arg("BOGUS")
        .query::<()>(&mut conn)
        .unwrap_err();
    assert!(err.to_string().contains("Try LATENCY HELP"), "{err}");
}

#[test]
fn cluster_figures_reach_info_and_the_metrics_endpoint() {
    let mut node = TestNode::start(&[
        "--metrics-port",
        "0",
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        "0",
        "--node-name",
        "solo",
    ]);
    let metrics_addr = metrics_addr(&mut node);
    let mut conn = node.conn();
    assert!(eventually(DEADLINE, || {
        info_field(&mut conn, "cluster_nodes") == "1"
    }));
    let _: () = q(&mut conn, &["SET", "k", "v"]);
    assert_eq!(info_field(&mut conn, "cluster_enabled"), "1");
    let version: f64 = info_field(&mut conn, "cluster_ring_version")
        .parse()
        .unwrap();
    let text = scrape(metrics_addr);
    assert_eq!(metric(&text, "ringcache_cluster_ring_version"), version);
    assert_eq!(metric(&text, "ringcache_cluster_nodes"), 1.0);
    assert_eq!(metric(&text, "ringcache_cluster_slots_primary"), 16384.0);
    for name in [
        "ringcache_cluster_replication_lag",
        "ringcache_cluster_importing_slots",
        "ringcache_cluster_handoff_slots_pending",
        "ringcache_cluster_forwarded",
    ] {
        metric(&text, name);
    }
}
