//! Observability: the Prometheus endpoint agrees with INFO, and the
//! latency monitor records slow commands.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{info_field, TestNode};

fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).expect("metrics connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    response
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no metric {name}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn prometheus_endpoint_counts_commands_and_agrees_with_info() {
    // Port 0 for the metrics listener too: the node logs where it landed.
    let mut node = TestNode::start(&["--metrics-port", "0"]);
    let line = node
        .wait_for_log("metrics endpoint ready addr=", Duration::from_secs(30))
        .expect("metrics endpoint logged");
    let metrics_addr: SocketAddr = line.split("addr=").nth(1).unwrap().trim().parse().unwrap();
    let mut conn = node.conn();
    for i in 0..10 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("v")
            .query(&mut conn)
            .unwrap();
    }
    for i in 0..15 {
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query(&mut conn)
            .unwrap();
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
}

#[test]
fn latency_monitor_records_slow_commands() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let latest: Vec<redis::Value> = redis::cmd("LATENCY")
        .arg("LATEST")
        .query(&mut conn)
        .unwrap();
    assert!(latest.is_empty());
    // Enough keys that KEYS takes well over a millisecond.
    for batch in 0..20 {
        let mut mset = redis::cmd("MSET");
        for i in 0..5_000 {
            mset.arg(format!("key:{batch}:{i}")).arg("v");
        }
        let _: () = mset.query(&mut conn).unwrap();
    }
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("latency-monitor-threshold")
        .arg("1")
        .query(&mut conn)
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert_eq!(keys.len(), 100_000);
    let latest: Vec<(String, i64, i64, i64)> = redis::cmd("LATENCY")
        .arg("LATEST")
        .query(&mut conn)
        .unwrap();
    assert_eq!(latest.len(), 1, "{latest:?}");
    let (event, at, last_ms, max_ms) = &latest[0];
    assert_eq!(event, "command");
    assert!(*at > 1_600_000_000);
    assert!(*last_ms >= 1 && max_ms >= last_ms);
    let history: Vec<(i64, i64)> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut conn)
        .unwrap();
    assert!(!history.is_empty());
    let reset: i64 = redis::cmd("LATENCY").arg("RESET").query(&mut conn).unwrap();
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
    let line = node
        .wait_for_log("metrics endpoint ready addr=", Duration::from_secs(30))
        .expect("metrics endpoint logged");
    let metrics_addr: SocketAddr = line.split("addr=").nth(1).unwrap().trim().parse().unwrap();
    let mut conn = node.conn();
    assert!(common::eventually(Duration::from_secs(30), || {
        info_field(&mut conn, "cluster_nodes") == "1"
    }));
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut conn)
        .unwrap();
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
