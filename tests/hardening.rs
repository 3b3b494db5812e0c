//! What a stranger, a browser or a misbehaving client sends must not take
//! the node over or hold it: the cross-protocol guard, the limits on
//! clients that have not authenticated, the cap on failed AUTH attempts,
//! password redaction, the output buffer limits, clients that never read,
//! and CONFIG SET's checks.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::errors::config_set_failed;
use common::wire::{command, Frame};
use common::{err, eventually, info_field, q, RawConn, TestNode, TestServer, DEADLINE};

#[test]
fn http_requests_close_the_connection_and_run_nothing() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let _: () = q(&mut conn, &["SET", "victim", "safe"]);
    let mut raw = node.raw();
    let answer = raw
        .send_and_read_to_close(b"POST / HTTP/1.1\r\nHost: x\r\n\r\nSET pwned 1\r\nDEL victim\r\n");
    assert!(answer.is_empty(), "no reply to HTTP, got {answer:?}");
    let pwned: Option<String> = q(&mut conn, &["GET", "pwned"]);
    assert_eq!(pwned, None);
    let victim: Option<String> = q(&mut conn, &["GET", "victim"]);
    assert_eq!(victim.as_deref(), Some("safe"));
    let mut raw = node.raw();
    assert!(raw
        .send_and_read_to_close(b"GET / HTTP/1.1\r\nHost: cache\r\n\r\n")
        .starts_with(b"-ERR wrong number of arguments for 'get' command\r\n"));
    assert_eq!(info_field(&mut conn, "cross_protocol_rejections"), "2");
}

#[test]
fn unauthenticated_clients_cannot_send_large_requests() {
    let node = TestServer::with(&[("requirepass", "secret")]);
    let mut raw = node.raw();
    let answer = raw.send_and_read_to_close(b"*4\r\n$3\r\nSET\r\n$536870912\r\n");
    assert_eq!(
        answer,
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    let mut raw = node.raw();
    assert_eq!(
        raw.send_and_read_to_close(b"*11\r\n"),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    // Once authenticated, the configured limits apply again.
    let mut raw = node.raw();
    let big = vec![b'v'; 100_000];
    let replies = raw.pipeline(&[
        vec![&b"AUTH"[..], b"secret"],
        vec![b"SET", b"big", &big],
        vec![b"STRLEN", b"big"],
    ]);
    let ok = Frame::Simple(b"OK".to_vec());
    assert_eq!(replies, [ok.clone(), ok, Frame::Int(100_000)]);
}

#[test]
fn ten_failed_auth_attempts_close_the_connection() {
    let node = TestServer::with(&[("requirepass", "secret")]);
    let mut raw = node.raw();
    let mut guesses = Vec::new();
    for i in 0..50 {
        guesses.extend(command(&["AUTH", &format!("guess{i}")]));
    }
    let answer = raw.send_and_read_to_close(&guesses);
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(text.matches("-WRONGPASS").count(), 10, "{text}");
    let mut conn = node.conn();
    let _: () = q(&mut conn, &["AUTH", "secret"]);
    assert_eq!(info_field(&mut conn, "acl_access_denied_auth"), "10");
    assert_eq!(info_field(&mut conn, "auth_failure_disconnects"), "1");
}

#[test]
fn passwords_never_reach_the_slow_log() {
    let node = TestServer::with(&[("requirepass", "hunter2")]);
    let mut conn = node.conn();
    let _: () = q(&mut conn, &["AUTH", "hunter2"]);
    let _: () = q(
        &mut conn,
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
    );
    let _: () = q(&mut conn, &["AUTH", "default", "hunter2"]);
    let _: redis::Value = q(&mut conn, &["HELLO", "2", "AUTH", "default", "hunter2"]);
    let _: () = q(
        &mut conn,
        &["CONFIG", "SET", "maxmemory", "0", "requirepass", "hunter3"],
    );
    let log: redis::Value = q(&mut conn, &["SLOWLOG", "GET", "10"]);
    let text = format!("{log:?}");
    assert!(
        !text.contains("hunter"),
        "a password is in the slow log: {text}"
    );
    assert!(text.contains("redacted"), "{text}");
    assert!(text.contains("maxmemory"), "other arguments stay: {text}");
}

#[test]
fn config_set_checks_values_and_refuses_start_up_options() {
    let node = TestServer::start();
    let mut conn = node.conn();
    assert_eq!(
        err(
            &mut conn,
            &["CONFIG", "SET", "client-query-buffer-limit", "0"]
        ),
        config_set_failed(
            "client-query-buffer-limit",
            "argument must be between 1048576 and 9223372036854775807 inclusive"
        )
    );
    for (name, value) in [
        ("cluster-enabled", "yes"),
        ("metrics-port", "9999"),
        ("weight", "5"),
        ("port", "1234"),
    ] {
        assert_eq!(
            err(&mut conn, &["CONFIG", "SET", name, value]),
            config_set_failed(name, "can't set immutable config")
        );
    }
    assert_eq!(
        err(&mut conn, &["CONFIG", "SET", "maxmemory-policy", "lru"]),
        config_set_failed(
            "maxmemory-policy",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        )
    );
    // All or nothing: a bad pair leaves the good one unapplied.
    let _ = err(
        &mut conn,
        &["CONFIG", "SET", "maxmemory", "5mb", "timeout", "-1"],
    );
    let maxmemory: Vec<String> = q(&mut conn, &["CONFIG", "GET", "maxmemory"]);
    assert_eq!(maxmemory, ["maxmemory", "0"]);
    let _: () = q(
        &mut conn,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 512kb 10",
        ],
    );
    let limits: Vec<String> = q(&mut conn, &["CONFIG", "GET", "client-output-buffer-limit"]);
    assert_eq!(
        limits[1],
        "normal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
}

/// A connection that asks for a large reply many times and never reads.
fn flood_without_reading(addr: SocketAddr, requests: usize) -> TcpStream {
    let mut stream = RawConn::connect(addr).stream;
    let request = command(&["GET", "big"]).repeat(requests);
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    // The node stops reading once its replies back up, so the write may
    // not finish: what matters is that the node is blocked on this client.
    let _ = stream.write_all(&request);
    stream
}

fn load_big_value(conn: &mut redis::Connection) {
    let big = "x".repeat(1 << 20);
    let _: () = q(conn, &["SET", "big", &big]);
}

#[test]
fn a_client_that_never_reads_can_be_killed_and_times_out() {
    let node = TestServer::start();
    let mut conn = node.conn();
    load_big_value(&mut conn);
    let _stuck = flood_without_reading(node.addr, 64);
    let id_of_stuck = || -> Option<String> {
        let mut conn = node.conn();
        let list: String = q(&mut conn, &["CLIENT", "LIST"]);
        list.lines()
            .find(|l| l.contains("cmd=get"))
            .and_then(|l| l.split_whitespace().next())
            .map(|id| id.trim_start_matches("id=").to_string())
    };
    assert!(eventually(Duration::from_secs(10), || id_of_stuck().is_some()));
    let id = id_of_stuck().expect("stuck client listed");
    let killed: i64 = q(&mut conn, &["CLIENT", "KILL", "ID", &id]);
    assert_eq!(killed, 1);
    assert!(
        eventually(Duration::from_secs(10), || id_of_stuck().is_none()),
        "the killed client is still listed"
    );
    // The idle timeout closes a stuck client too.
    let _: () = q(&mut conn, &["CONFIG", "SET", "timeout", "1"]);
    let _stuck = flood_without_reading(node.addr, 64);
    assert!(eventually(Duration::from_secs(10), || id_of_stuck().is_some()));
    assert!(
        eventually(Duration::from_secs(20), || id_of_stuck().is_none()),
        "the idle timeout did not close a client stuck writing"
    );
}

#[test]
fn the_output_buffer_limit_closes_a_client_that_does_not_read() {
    let node = TestServer::start();
    let mut conn = node.conn();
    load_big_value(&mut conn);
    let _: () = q(
        &mut conn,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 512kb 1",
        ],
    );
    // The node stops reading from a client whose replies back up, so what
    // it holds for it is about one reply (1 MB here), over the soft limit.
    let mut stuck = flood_without_reading(node.addr, 64);
    assert!(
        eventually(Duration::from_secs(20), || info_field(
            &mut conn,
            "client_output_buffer_limit_disconnections"
        ) == "1"),
        "the soft limit did not close the client"
    );
    // The connection is gone: reading ends (after what was sent).
    stuck
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut sink = Vec::new();
    let _ = stuck.read_to_end(&mut sink);
    // A reply bigger than the hard limit closes at once, read or not.
    let _: () = q(
        &mut conn,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 512kb 0 0",
        ],
    );
    let mut raw = node.raw();
    let answer = raw.send_and_read_to_close(&command(&["GET", "big"]));
    assert!(answer.is_empty(), "got {} bytes", answer.len());
    assert_eq!(
        info_field(&mut conn, "client_output_buffer_limit_disconnections"),
        "2"
    );
}

#[test]
fn sigterm_stops_a_node_whose_clients_never_read() {
    let mut node = TestNode::start(&[]);
    let mut conn = node.conn();
    load_big_value(&mut conn);
    let _stuck: Vec<_> = (0..4)
        .map(|_| flood_without_reading(node.addr, 64))
        .collect();
    let mut probe = node.conn();
    assert!(eventually(Duration::from_secs(10), || {
        let list: String = q(&mut probe, &["CLIENT", "LIST"]);
        list.matches("cmd=get").count() == 4
    }));
    let started = Instant::now();
    node.signal("TERM");
    let code = node.wait_exit(DEADLINE);
    let took = started.elapsed();
    eprintln!("SIGTERM with 4 clients that never read: exited in {took:?}");
    assert_eq!(code, Some(0));
    // The drain gives up after 10 s; a node that waited for these clients
    // would take that long.
    assert!(took < Duration::from_secs(8), "took {took:?}");
}

/// A client that closes itself in the middle of a pipeline (QUIT, CLIENT
/// KILL of itself) gets every reply before that, deferred ones (KEYS)
/// included, and nothing after; the requests it sent after are not run.
#[test]
fn closing_mid_pipeline_keeps_the_replies_before() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let _: () = q(&mut conn, &["SET", "k", "v"]);
    for closer in [&b"QUIT\r\n"[..], b"CLIENT KILL SKIPME no\r\n"] {
        let mut raw = node.raw();
        let mut pipeline = b"PING\r\nKEYS *\r\nGET k\r\n".to_vec();
        pipeline.extend_from_slice(closer);
        // Unread input past the close: the node must not lose its replies
        // to a reset.
        pipeline.extend_from_slice(&b"SET after 1\r\n".repeat(10_000));
        let answer = raw.send_and_read_to_close(&pipeline);
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.starts_with("+PONG\r\n*1\r\n$1\r\nk\r\n$1\r\nv\r\n"),
            "{closer:?}: {text:?}"
        );
        // QUIT's OK, or how many clients CLIENT KILL ended (itself and
        // the connection above).
        assert!(
            text.ends_with("+OK\r\n") || text.ends_with(":2\r\n"),
            "{text:?}"
        );
    }
    let after: Option<String> = q(&mut node.conn(), &["GET", "after"]);
    assert_eq!(after, None);
}
