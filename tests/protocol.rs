//! End-to-end wire protocol tests: pipelining, many concurrent clients,
//! inline commands, malformed input (answered with `-ERR Protocol error`
//! and a close of that connection only), frames split into single bytes,
//! RESP3 reply types and the request size limits.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use common::errors::{line, wrong_arity};
use common::info::field;
use common::random::Gen;
use common::wire::{command, frame_of, Frame};
use common::{info_u64, q, TestServer};

/// What a connection received before the node closed it.
struct Closed {
    output: Vec<u8>,
}

/// Sends `bytes` on a fresh connection from a writer thread while reading,
/// so a node that answers early and closes (possibly resetting the
/// connection under our unsent bytes) is still heard. Panics if the node
/// keeps the connection open past the read timeout.
fn send_expect_close(node: &TestServer, bytes: Vec<u8>) -> Closed {
    let mut stream = node.raw().stream;
    let mut writer = stream.try_clone().expect("a second handle on the socket");
    let sender = std::thread::spawn(move || {
        // The node may close before taking everything: a write error here
        // is expected.
        let _ = writer.write_all(&bytes);
    });
    let mut output = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => output.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "the node did not close the connection ({e}); got {:?}",
                String::from_utf8_lossy(&output)
            ),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    sender.join().expect("the thread");
    Closed { output }
}

/// A node and a connection to it opened before any malformed input.
struct Victim {
    node: TestServer,
    other: redis::Connection,
}

impl Victim {
    fn new(node: TestServer) -> Victim {
        let other = node.conn();
        Victim { node, other }
    }

    /// Sends `bytes` on a new connection, expects exactly `-ERR Protocol
    /// error: <message>` and a close, then checks that the other connection
    /// still works and the node counted the error.
    fn refuses(&mut self, bytes: Vec<u8>, message: &str) {
        let before = info_u64(&mut self.other, "protocol_errors");
        let closed = send_expect_close(&self.node, bytes);
        assert_eq!(
            String::from_utf8_lossy(&closed.output),
            format!("-ERR Protocol error: {message}\r\n")
        );
        assert_eq!(
            q::<String>(&mut self.other, &["PING"]),
            "PONG",
            "the other connection keeps working"
        );
        assert_eq!(info_u64(&mut self.other, "protocol_errors"), before + 1);
    }
}

#[test]
fn pipeline_of_ten_thousand_commands_is_answered_in_order() {
    const COUNT: usize = 10_000;
    let node = TestServer::start();
    let mut conn = node.raw();
    let mut requests = Vec::new();
    for i in 0..COUNT {
        if i % 2 == 0 {
            requests.extend(command(&["INCR", "counter"]));
        } else {
            requests.extend(command(&["ECHO", &i.to_string()]));
        }
    }
    // Write from another thread: the replies (~100 KB) fill the socket
    // buffers while the requests (~300 KB) are still going out.
    let mut writer = conn.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&requests));
    for i in 0..COUNT {
        let reply = conn.reply();
        if i % 2 == 0 {
            assert_eq!(reply, Frame::Int((i / 2 + 1) as i64), "reply {i}");
        } else {
            assert_eq!(reply, Frame::Bulk(i.to_string().into_bytes()), "reply {i}");
        }
    }
    sender.join().unwrap().unwrap();
    assert!(conn.drained(), "no reply beyond the requests");
    let total = info_u64(&mut node.conn(), "total_commands_processed");
    assert!(total >= COUNT as u64, "total_commands_processed {total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_connections_set_and_get() {
    const CLIENTS: usize = 200;
    const OPS: usize = 10;
    let node = tokio::task::spawn_blocking(TestServer::start)
        .await
        .unwrap();
    let client = node.client();
    // redis-rs times out connects after 1 s and replies after 500 ms by
    // default: far too tight for 200 connections on a loaded 2-core box.
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(60)))
        .set_response_timeout(Some(Duration::from_secs(60)));
    // Every task connects, then waits until all have tried, so the node
    // really holds 200 connections at once. A task that fails still reaches
    // the barrier, so a failure is reported instead of a hang.
    let all_connected = Arc::new(tokio::sync::Barrier::new(CLIENTS + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let (client, config) = (client.clone(), config.clone());
        let all_connected = all_connected.clone();
        tasks.spawn(async move {
            let connected = client
                .get_multiplexed_async_connection_with_config(&config)
                .await;
            all_connected.wait().await;
            let mut conn = connected.unwrap();
            for i in 0..OPS {
                let key = format!("client:{c}:key:{i}");
                let value = format!("value-{c}-{i}");
                let () = redis::cmd("SET")
                    .arg(&key)
                    .arg(&value)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                let got: String = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                assert_eq!(got, value);
            }
            conn
        });
    }
    let run = async {
        all_connected.wait().await;
        let mut admin = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .unwrap();
        let info: String = redis::cmd("INFO")
            .arg("clients")
            .query_async(&mut admin)
            .await
            .unwrap();
        let mut conns = Vec::new();
        while let Some(done) = tasks.join_next().await {
            conns.push(done.expect("client task"));
        }
        let keys: usize = redis::cmd("DBSIZE").query_async(&mut admin).await.unwrap();
        (info, conns.len(), keys)
    };
    let (info, finished, keys) = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("clients finished in time");
    let connected: usize = field(&info, "connected_clients").unwrap().parse().unwrap();
    assert!(
        connected > CLIENTS,
        "connected_clients {connected} while all were connected"
    );
    assert_eq!(finished, CLIENTS);
    assert_eq!(keys, CLIENTS * OPS);
}

#[test]
fn inline_commands_are_split_like_redis() {
    let node = TestServer::start();
    let mut conn = node.raw();
    conn.assert_raw_replies(&[
        ("PING\r\n", "+PONG\r\n"),
        // A bare LF ends a line too.
        ("PING\n", "+PONG\r\n"),
        ("  ping   hello  \r\n", "$5\r\nhello\r\n"),
        // Empty lines are skipped.
        ("\r\n\r\nPING\r\n", "+PONG\r\n"),
        // An array count below one is an empty request, as in Redis.
        ("*0\r\n*-1\r\n*-5\r\nPING\r\n", "+PONG\r\n"),
        ("ECHO \"a b\"\r\n", "$3\r\na b\r\n"),
        ("ECHO 'it\\'s'\r\n", "$4\r\nit's\r\n"),
        ("ECHO \"\\x41\\n\\t\"\r\n", "$3\r\nA\n\t\r\n"),
        ("SET \"my key\" 'my value'\r\n", "+OK\r\n"),
    ]);
    assert_eq!(conn.roundtrip(&["GET", "my key"]), b"$8\r\nmy value\r\n");
    assert_eq!(
        conn.roundtrip_bytes(b"ECHO\r\n"),
        line(&wrong_arity("echo"))
    );
    // Inline and array requests mix in one pipeline.
    let mut mixed = b"PING\r\n".to_vec();
    mixed.extend(command(&["ECHO", "x"]));
    mixed.extend_from_slice(b"ECHO y\r\n");
    conn.send(&mixed);
    assert_eq!(conn.reply(), Frame::Simple(b"PONG".to_vec()));
    assert_eq!(conn.reply(), Frame::Bulk(b"x".to_vec()));
    assert_eq!(conn.reply(), Frame::Bulk(b"y".to_vec()));
}

#[test]
fn garbage_without_a_star_is_an_unknown_inline_command() {
    let node = TestServer::start();
    let mut conn = node.raw();
    // Random bytes that are not `*`, CR, LF, whitespace or quotes: Redis
    // reads them as one inline word, an unknown command, and keeps the
    // connection.
    let mut rng = Gen::new(0x2545_f491);
    let mut garbage = Vec::new();
    while garbage.len() < 40 {
        let b = rng.rng().u8(..);
        if !(b.is_ascii_whitespace()
            || b == b'"'
            || b == b'\''
            || (garbage.is_empty() && b == b'*'))
        {
            garbage.push(b);
        }
    }
    garbage.extend_from_slice(b"\r\n");
    match conn.roundtrip_bytes(&garbage).as_slice() {
        [b'-', rest @ ..] => assert!(
            rest.starts_with(b"ERR unknown command '"),
            "{:?}",
            String::from_utf8_lossy(rest)
        ),
        other => panic!(
            "expected an error, got {:?}",
            String::from_utf8_lossy(other)
        ),
    }
    conn.assert_raw_replies(&[
        (
            "+OK\r\n",
            "-ERR unknown command '+OK', with args beginning with: \r\n",
        ),
        (
            "-ERR x\r\n",
            "-ERR unknown command '-ERR', with args beginning with: 'x' \r\n",
        ),
        (
            "hello world\r\n",
            "-ERR Protocol version is not an integer or out of range\r\n",
        ),
        // The connection stays open.
        ("PING\r\n", "+PONG\r\n"),
    ]);
}

#[test]
fn malformed_lengths_close_only_that_connection() {
    let mut victim = Victim::new(TestServer::start());
    let cases: [(&[u8], &str); 9] = [
        (b"*-\r\n", "invalid multibulk length"),
        (b"*x\r\n", "invalid multibulk length"),
        (b"*01\r\n$4\r\nPING\r\n", "invalid multibulk length"),
        (b"*1\r\n$99999999999\r\n", "invalid bulk length"),
        (b"*1\r\n$-3\r\n", "invalid bulk length"),
        (b"*1\r\n$+4\r\nPING\r\n", "invalid bulk length"),
        (b"*1\r\n$4\r\nPINGxx\r\n", "expected CRLF after bulk string"),
        (b"*2\r\n$4\r\nECHO\r\n:1\r\n", "expected '$', got ':'"),
        (b"ECHO \"unbalanced\r\n", "unbalanced quotes in request"),
    ];
    for (input, message) in cases {
        victim.refuses(input.to_vec(), message);
    }
}

#[test]
fn a_six_hundred_megabyte_bulk_header_is_refused_before_allocating() {
    let mut victim = Victim::new(TestServer::start());
    victim.refuses(b"*1\r\n$629145600\r\n".to_vec(), "invalid bulk length");
    let used = info_u64(&mut victim.other, "used_memory");
    assert!(used < 100 << 20, "used_memory {used} after a 600 MB header");
}

#[test]
fn lines_longer_than_64k_without_a_newline_are_refused() {
    let mut victim = Victim::new(TestServer::start());
    victim.refuses(vec![b'a'; 70 * 1024], "too big inline request");
    let mut count = b"*".to_vec();
    count.extend(std::iter::repeat_n(b'1', 70 * 1024));
    victim.refuses(count, "too big mbulk count string");
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat_n(b'1', 70 * 1024));
    victim.refuses(bulk, "too big bulk count string");
}

#[test]
fn a_hundred_thousand_nested_arrays_fail_at_the_first_level() {
    let mut victim = Victim::new(TestServer::start());
    victim.refuses(b"*1\r\n".repeat(100_000), "expected '$', got '*'");
}

#[test]
fn frames_sent_one_byte_at_a_time() {
    let node = TestServer::start();
    let mut conn = node.raw();
    let set = command(&["SET", "key", "value"]);
    let get = command(&["GET", "key"]);
    for &b in &set {
        conn.send(&[b]);
    }
    // The SET is whole and a GET has begun: the SET is answered without
    // waiting for the rest.
    for &b in &get[..5] {
        conn.send(&[b]);
    }
    assert_eq!(conn.reply_bytes().1, b"+OK\r\n");
    for &b in &get[5..] {
        conn.send(&[b]);
    }
    for &b in b"PING\r\n" {
        conn.send(&[b]);
    }
    assert_eq!(conn.reply_bytes().1, b"$5\r\nvalue\r\n");
    assert_eq!(conn.reply_bytes().1, b"+PONG\r\n");
}

#[test]
fn resp3_types_after_hello_3() {
    let node = TestServer::start();
    let mut conn = node.raw();
    let mut resp2 = node.raw();
    let raw = conn.roundtrip(&["HELLO", "3"]);
    assert!(
        raw.starts_with(b"%7\r\n"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
    let Frame::Map(fields) = frame_of(&raw, true) else {
        panic!("HELLO 3 gives a map")
    };
    assert!(fields.contains(&(Frame::Bulk(b"proto".to_vec()), Frame::Int(3))));

    assert_eq!(conn.roundtrip(&["GET", "missing"]), b"_\r\n", "RESP3 null");
    assert_eq!(
        resp2.roundtrip(&["GET", "missing"]),
        b"$-1\r\n",
        "other connections stay RESP2"
    );
    assert_eq!(
        conn.roundtrip(&["CONFIG", "GET", "maxmemory"]),
        b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
        "RESP3 map"
    );
    assert_eq!(
        resp2.roundtrip(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    conn.call(&["HSET", "h", "f", "v"]);
    assert_eq!(
        conn.roundtrip(&["HGETALL", "h"]),
        b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    // No command the node has replies with a double: Redis answers
    // INCRBYFLOAT with a bulk string in RESP3 too.
    assert_eq!(
        conn.roundtrip(&["INCRBYFLOAT", "f", "1.5"]),
        b"$3\r\n1.5\r\n"
    );
    let info = conn.roundtrip(&["INFO", "server"]);
    assert!(info.starts_with(b"="), "INFO is verbatim text in RESP3");
    assert!(String::from_utf8_lossy(&info).contains("txt:# Server"));
    // HELLO 2 goes back.
    assert!(conn.roundtrip(&["HELLO", "2"]).starts_with(b"*14\r\n"));
    assert_eq!(conn.roundtrip(&["GET", "missing"]), b"$-1\r\n");
}

/// The limit on bulk strings (its flag is read by
/// server_commands.rs's config file test).
#[test]
fn proto_max_bulk_len_limits_bulk_strings() {
    let mut victim = Victim::new(TestServer::with(&[("proto-max-bulk-len", "2kb")]));
    let limit: Vec<String> = q(&mut victim.other, &["CONFIG", "GET", "proto-max-bulk-len"]);
    assert_eq!(limit, ["proto-max-bulk-len", "2048"]);
    let mut conn = victim.node.raw();
    let fits = vec![b'x'; 2048];
    assert_eq!(conn.roundtrip(&[&b"SET"[..], b"k", &fits]), b"+OK\r\n");
    let too_big = vec![b'x'; 2049];
    victim.refuses(
        command(&[&b"SET"[..], b"k", &too_big]),
        "invalid bulk length",
    );
    let len: usize = q(&mut victim.other, &["STRLEN", "k"]);
    assert_eq!(len, 2048, "the refused SET did not run");
}

#[test]
fn query_buffer_limit_closes_a_client_that_sends_too_much() {
    let Victim { node, mut other } = Victim::new(TestServer::start());
    let () = q(
        &mut other,
        &["CONFIG", "SET", "client-query-buffer-limit", "1mb"],
    );
    // A 4 MB argument is under proto-max-bulk-len but its bytes pile up
    // in the query buffer past 1 MB.
    let mut request = b"*2\r\n$4\r\nECHO\r\n$4194304\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'x', 3 << 20));
    let closed = send_expect_close(&node, request);
    assert!(
        closed.output.is_empty(),
        "closed without a reply, got {:?}",
        String::from_utf8_lossy(&closed.output)
    );
    assert_eq!(q::<String>(&mut other, &["PING"]), "PONG");
}
