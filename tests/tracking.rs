//! Client-side caching (CLIENT TRACKING) end to end: RESP3 invalidation
//! pushes through the `redis` crate, and scripted sessions of several
//! connections whose every received frame (replies and pushes, in order)
//! is compared with a real redis-server's: default mode, BCAST with
//! prefixes, OPTIN/OPTOUT with CLIENT CACHING, NOLOOP, RESP2 REDIRECT to a
//! subscribed connection, a broken redirect, FLUSHALL/FLUSHDB, MULTI/EXEC
//! and script writes, and Redis's errors. Then the table's bound
//! (`tracking-table-max-keys`), INFO and CLIENT LIST.

mod common;

use std::sync::mpsc;

use common::redis_server::RedisServer;
use common::wire::Frame;
use common::{eventually, info_u64, q, RawConn, TestServer, DEADLINE};

/// A step of a session: which connection sends what. `{c0}`.. in an
/// argument become that connection's client id on the server at hand.
type Step = (usize, &'static [&'static str]);

/// Runs `steps` on `conns` and returns, per step, what each connection
/// received: the step's own connection its reply and anything pushed
/// before it, then every connection whatever was pushed to it since (read
/// up to the reply of a `PING` sent as a marker). Client ids in replies
/// are written as `{cN}`, so two servers' transcripts compare.
fn transcript(conns: &mut [RawConn], ids: &[i64], steps: &[Step]) -> Vec<String> {
    let mut lines = Vec::new();
    // Connections inside MULTI would queue the marker.
    let mut in_multi = vec![false; conns.len()];
    for (index, (who, template)) in steps.iter().enumerate() {
        if template[0].eq_ignore_ascii_case("multi") {
            in_multi[*who] = true;
        } else if template[0].eq_ignore_ascii_case("exec")
            || template[0].eq_ignore_ascii_case("discard")
        {
            in_multi[*who] = false;
        }
        let args: Vec<String> = template.iter().map(|a| with_ids(a, ids)).collect();
        conns[*who].send_command(&args);
        let getredir = args.len() == 2 && args[1].eq_ignore_ascii_case("getredir");
        let own = read_until_reply(&mut conns[*who], ids, getredir);
        lines.push(format!("#{index} c{who} {template:?} -> {own}"));
        eprintln!("{}", lines[lines.len() - 1]);
        if args[0].eq_ignore_ascii_case("quit") {
            continue;
        }
        for (other, conn) in conns.iter_mut().enumerate() {
            if in_multi[other] {
                continue;
            }
            if steps[..=index]
                .iter()
                .any(|(w, a)| *w == other && a[0].eq_ignore_ascii_case("quit"))
            {
                continue;
            }
            conn.send_command(&["PING", "marker"]);
            let pushed = read_until_marker(conn, ids);
            if !pushed.is_empty() {
                lines.push(format!("#{index} c{other} pushed {pushed}"));
                eprintln!("{}", lines[lines.len() - 1]);
            }
        }
    }
    lines
}

fn with_ids(arg: &str, ids: &[i64]) -> String {
    ids.iter().enumerate().fold(arg.to_string(), |a, (i, id)| {
        a.replace(&format!("{{c{i}}}"), &id.to_string())
    })
}

/// The frames up to the first that is not a push or a Pub/Sub message.
fn read_until_reply(conn: &mut RawConn, ids: &[i64], getredir: bool) -> String {
    let mut seen = Vec::new();
    loop {
        let frame = conn.next().expect("a frame");
        let done = !is_message(&frame);
        let shown = match frame {
            Frame::Int(n) if getredir => show_id(n, ids),
            _ => show(&frame, ids),
        };
        seen.push(shown);
        if done {
            return seen.join(" ");
        }
    }
}

/// The frames before the reply to `PING marker` (in RESP2's subscribed
/// mode, `[pong, marker]`).
fn read_until_marker(conn: &mut RawConn, ids: &[i64]) -> String {
    let mut seen = Vec::new();
    loop {
        let frame = conn.next().expect("a frame");
        let marker = frame.bytes() == Some(b"marker")
            || frame
                .items()
                .is_some_and(|items| items.len() == 2 && items[1].bytes() == Some(b"marker"));
        if marker {
            return seen.join(" ");
        }
        seen.push(show(&frame, ids));
    }
}

fn is_message(frame: &Frame) -> bool {
    match frame {
        Frame::Push(_) => true,
        Frame::Array(items) => items.len() == 3 && items[0].bytes() == Some(b"message"),
        _ => false,
    }
}

fn show(frame: &Frame, ids: &[i64]) -> String {
    let mut text = frame.show();
    let names_ids = text.contains("redirect") || text.contains("tracking-redir-broken");
    if !names_ids {
        return text;
    }
    for (i, id) in ids.iter().enumerate() {
        for end in [",", "]", "}"] {
            text = text.replace(&format!(":{id}{end}"), &format!("{{c{i}}}{end}"));
        }
    }
    text
}

fn show_id(n: i64, ids: &[i64]) -> String {
    match ids.iter().position(|id| *id == n) {
        Some(i) => format!("{{c{i}}}"),
        None => format!(":{n}"),
    }
}

/// Opens `n` connections to `addr`, the first `resp3` of them after HELLO
/// 3; their ids.
fn connect(addr: std::net::SocketAddr, n: usize, resp3: usize) -> (Vec<RawConn>, Vec<i64>) {
    let mut conns: Vec<RawConn> = (0..n).map(|_| RawConn::connect(addr)).collect();
    let mut ids = Vec::new();
    for (i, conn) in conns.iter_mut().enumerate() {
        if i < resp3 {
            let _ = conn.call(&["HELLO", "3"]);
        }
        ids.push(conn.client_id());
    }
    (conns, ids)
}

/// Runs `steps` on both servers (`n` connections, `resp3` of them RESP3)
/// and asserts the transcripts are the same.
fn same_as_redis(test: &str, n: usize, resp3: usize, steps: &[Step]) {
    let Some(redis) = RedisServer::start_or_skip(test) else {
        return;
    };
    let node = TestServer::start();
    let (mut theirs, their_ids) = connect(redis.addr, n, resp3);
    let (mut ours, our_ids) = connect(node.addr, n, resp3);
    let expected = transcript(&mut theirs, &their_ids, steps);
    let got = transcript(&mut ours, &our_ids, steps);
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(
            g,
            e,
            "\nours:\n{}\nredis:\n{}",
            got.join("\n"),
            expected.join("\n")
        );
    }
    assert_eq!(got.len(), expected.len());
}

#[test]
fn default_mode_pushes_as_redis_does() {
    same_as_redis(
        "default_mode_pushes_as_redis_does",
        2,
        1,
        &[
            (0, &["CLIENT", "TRACKING", "on"]),
            (0, &["GET", "a"]),
            (0, &["MGET", "b", "c", "d"]),
            (1, &["SET", "a", "1"]),
            (1, &["SET", "a", "2"]),
            (1, &["MSET", "c", "1", "b", "2"]),
            (0, &["GET", "a"]),
            (0, &["SET", "a", "3"]),
            (0, &["GET", "a"]),
            (0, &["STRLEN", "a"]),
            (1, &["DEL", "a"]),
            (0, &["HGET", "h", "f"]),
            (1, &["HSET", "h", "f", "v"]),
            (0, &["CLIENT", "TRACKINGINFO"]),
            (0, &["CLIENT", "GETREDIR"]),
            (0, &["GET", "x"]),
            (1, &["FLUSHALL"]),
            (0, &["GET", "x"]),
            (0, &["FLUSHDB"]),
            (0, &["GET", "y"]),
            (1, &["MULTI"]),
            (1, &["SET", "y", "1"]),
            (1, &["INCR", "y"]),
            (1, &["EXEC"]),
            (0, &["GET", "y"]),
            (
                1,
                &["EVAL", "redis.call('set', KEYS[1], 'x') return 1", "1", "y"],
            ),
            (0, &["EVAL", "return redis.call('get', KEYS[1])", "1", "z"]),
            (1, &["SET", "z", "1"]),
            (0, &["CLIENT", "TRACKING", "off"]),
            (0, &["CLIENT", "GETREDIR"]),
            (0, &["CLIENT", "TRACKINGINFO"]),
        ],
    );
}

#[test]
fn bcast_noloop_and_optin_push_as_redis_does() {
    same_as_redis(
        "bcast_noloop_and_optin_push_as_redis_does",
        3,
        3,
        &[
            (
                0,
                &[
                    "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:",
                ],
            ),
            (
                0,
                &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:1"],
            ),
            (
                0,
                &[
                    "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "ab",
                ],
            ),
            (0, &["CLIENT", "TRACKING", "on"]),
            (
                1,
                &[
                    "MSET", "user:2", "x", "obj:1", "y", "other", "z", "user:1", "w",
                ],
            ),
            (1, &["SET", "obj:9", "1"]),
            (0, &["SET", "user:3", "1"]),
            (0, &["CLIENT", "TRACKINGINFO"]),
            (1, &["CLIENT", "TRACKING", "on", "NOLOOP"]),
            (1, &["GET", "n"]),
            (1, &["SET", "n", "1"]),
            (2, &["SET", "n", "2"]),
            (1, &["GET", "n"]),
            (2, &["SET", "n", "3"]),
            (1, &["CLIENT", "TRACKINGINFO"]),
            (2, &["CLIENT", "TRACKING", "on", "OPTIN"]),
            (2, &["GET", "o"]),
            (1, &["SET", "o", "1"]),
            (2, &["CLIENT", "CACHING", "yes"]),
            (2, &["CLIENT", "TRACKINGINFO"]),
            (2, &["GET", "o"]),
            (2, &["GET", "p"]),
            (1, &["MSET", "o", "2", "p", "2"]),
            (2, &["CLIENT", "CACHING", "yes"]),
            (2, &["MULTI"]),
            (2, &["GET", "q"]),
            (2, &["EXEC"]),
            (1, &["SET", "q", "1"]),
            (2, &["CLIENT", "CACHING", "no"]),
            (2, &["CLIENT", "TRACKING", "on", "OPTOUT"]),
            (2, &["CLIENT", "TRACKING", "off"]),
            (2, &["CLIENT", "TRACKING", "on", "OPTOUT"]),
            (2, &["CLIENT", "CACHING", "no"]),
            (2, &["GET", "r"]),
            (2, &["GET", "s"]),
            (1, &["MSET", "r", "1", "s", "1"]),
            (0, &["FLUSHALL"]),
        ],
    );
}

#[test]
fn redirect_and_errors_answer_as_redis_does() {
    same_as_redis(
        "redirect_and_errors_answer_as_redis_does",
        4,
        1,
        &[
            (1, &["SUBSCRIBE", "__redis__:invalidate"]),
            (2, &["CLIENT", "TRACKING", "on", "REDIRECT", "{c1}"]),
            (2, &["CLIENT", "GETREDIR"]),
            (2, &["GET", "a"]),
            (3, &["SET", "a", "1"]),
            (2, &["GET", "a"]),
            (2, &["GET", "b"]),
            (3, &["FLUSHALL"]),
            (
                2,
                &[
                    "CLIENT", "TRACKING", "on", "REDIRECT", "{c1}", "REDIRECT", "{c1}",
                ],
            ),
            (2, &["CLIENT", "TRACKING", "on", "REDIRECT", "999999"]),
            (2, &["CLIENT", "TRACKING", "on", "REDIRECT", "x"]),
            (2, &["CLIENT", "TRACKING", "on", "PREFIX", "a"]),
            (2, &["CLIENT", "TRACKING", "on", "BCAST"]),
            (2, &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"]),
            (2, &["CLIENT", "TRACKING", "on", "BOGUS"]),
            (2, &["CLIENT", "TRACKING", "maybe"]),
            (2, &["CLIENT", "TRACKING", "on", "OPTIN"]),
            (2, &["CLIENT", "TRACKING", "on", "OPTOUT"]),
            (2, &["CLIENT", "CACHING", "no"]),
            (2, &["CLIENT", "CACHING", "maybe"]),
            (3, &["CLIENT", "CACHING", "yes"]),
            (3, &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"]),
            (3, &["CLIENT", "TRACKING", "off"]),
            (3, &["CLIENT", "TRACKINGINFO"]),
            (0, &["CLIENT", "TRACKING", "on", "REDIRECT", "{c3}"]),
            (0, &["GET", "c"]),
            (3, &["QUIT"]),
            (2, &["SET", "c", "1"]),
            (0, &["CLIENT", "TRACKINGINFO"]),
        ],
    );
}

#[test]
fn the_redis_crate_sees_resp3_invalidations() {
    let node = TestServer::start();
    let client = redis::Client::open(format!("redis://{}/?protocol=resp3", node.addr)).unwrap();
    let mut tracking = client.get_connection().unwrap();
    let (tx, rx) = mpsc::channel();
    tracking.set_push_sender(tx);
    let _: () = redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("on")
        .query(&mut tracking)
        .unwrap();
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut tracking).unwrap();
    let mut writer = node.conn();
    let _: () = q(&mut writer, &["SET", "k", "v"]);
    // The push is read with the next reply on the tracking connection.
    let _: String = redis::cmd("PING").query(&mut tracking).unwrap();
    let push = rx.recv_timeout(DEADLINE).expect("an invalidation");
    assert_eq!(push.kind, redis::PushKind::Invalidate);
    assert_eq!(
        push.data,
        vec![redis::Value::Array(vec![redis::Value::BulkString(
            b"k".to_vec()
        )])]
    );
    // Once: a second write with no read in between tells nothing.
    let _: () = q(&mut writer, &["SET", "k", "w"]);
    let _: String = redis::cmd("PING").query(&mut tracking).unwrap();
    assert!(rx.try_recv().is_err());
    assert_eq!(info_u64(&mut writer, "tracking_clients"), 1);
}

#[test]
fn an_invalidation_comes_before_the_reply_of_the_read_after_the_write() {
    let node = TestServer::start();
    let mut tracking = node.raw();
    let _ = tracking.call(&["HELLO", "3"]);
    let _ = tracking.call(&["CLIENT", "TRACKING", "on"]);
    let mut writer = node.conn();
    for round in 0..50 {
        let value = round.to_string();
        assert!(!tracking.call(&["GET", "k"]).is_error());
        let _: () = q(&mut writer, &["SET", "k", &value]);
        tracking.send_command(&["GET", "k"]);
        let first = tracking.next().unwrap();
        assert_eq!(
            first,
            Frame::Push(vec![
                Frame::Bulk(b"invalidate".to_vec()),
                Frame::Array(vec![Frame::Bulk(b"k".to_vec())]),
            ]),
            "round {round}"
        );
        assert_eq!(tracking.next().unwrap(), Frame::Bulk(value.into_bytes()));
    }
}

#[test]
fn the_table_stays_within_its_bound_and_says_so() {
    let node = TestServer::start();
    let mut tracking = node.raw();
    let _ = tracking.call(&["HELLO", "3"]);
    let _ = tracking.call(&["CLIENT", "TRACKING", "on"]);
    let mut admin = node.conn();
    assert_eq!(
        q::<Vec<String>>(&mut admin, &["CONFIG", "GET", "tracking-table-max-keys"]),
        ["tracking-table-max-keys", "1000000"]
    );
    for key in ["a", "b", "c", "d"] {
        assert!(!tracking.call(&["GET", key]).is_error());
    }
    assert_eq!(info_u64(&mut admin, "tracking_total_keys"), 4);
    assert_eq!(info_u64(&mut admin, "tracking_total_items"), 4);
    let _: () = q(
        &mut admin,
        &["CONFIG", "SET", "tracking-table-max-keys", "2"],
    );
    assert_eq!(info_u64(&mut admin, "tracking_total_keys"), 2);
    // The two keys forgotten are invalidated (once each).
    tracking.send_command(&["PING"]);
    let mut evicted = Vec::new();
    loop {
        match tracking.next().unwrap() {
            Frame::Push(items) => evicted.push(items[1].clone()),
            Frame::Simple(pong) => {
                assert_eq!(pong, b"PONG");
                break;
            }
            other => panic!("unexpected {}", other.show()),
        }
    }
    assert_eq!(evicted.len(), 2, "{evicted:?}");
    for key in ["e", "f", "g"] {
        assert!(!tracking.call(&["GET", key]).is_error());
    }
    assert!(info_u64(&mut admin, "tracking_total_keys") <= 2);
    let list: String = q(&mut admin, &["CLIENT", "LIST"]);
    assert!(list.contains("flags=t "), "{list}");
    let _ = tracking.call(&["CLIENT", "TRACKING", "on", "BCAST"]);
    let _ = tracking.call(&["CLIENT", "TRACKING", "off"]);
    let _ = tracking.call(&[
        "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p", "PREFIX", "q",
    ]);
    assert_eq!(info_u64(&mut admin, "tracking_total_prefixes"), 2);
    let list: String = q(&mut admin, &["CLIENT", "LIST"]);
    assert!(
        list.contains("flags=tB ") && list.contains("redir=0 "),
        "{list}"
    );
    drop(tracking);
    assert!(eventually(DEADLINE, || info_u64(
        &mut admin,
        "tracking_clients"
    ) == 0));
    assert_eq!(info_u64(&mut admin, "tracking_total_prefixes"), 0);
}

/// The pushes `conn` receives before the reply to a PING.
fn pushes_before_pong(conn: &mut RawConn) -> Vec<Frame> {
    conn.send_command(&["PING"]);
    let mut pushes = Vec::new();
    loop {
        match conn.next().expect("a frame") {
            Frame::Simple(pong) if pong == b"PONG" => return pushes,
            frame => pushes.push(frame),
        }
    }
}

/// Waits for the invalidation of `key` on `conn` (another node's write
/// reaches this one's clients a little after the writer's reply).
fn await_invalidation(conn: &mut RawConn, key: &str) {
    let expected = Frame::Push(vec![
        Frame::Bulk(b"invalidate".to_vec()),
        Frame::Array(vec![Frame::Bulk(key.as_bytes().to_vec())]),
    ]);
    let mut seen = Vec::new();
    let arrived = eventually(DEADLINE, || {
        seen.extend(pushes_before_pong(conn));
        seen.contains(&expected)
    });
    assert!(arrived, "no invalidation of {key}: {seen:?}");
    assert_eq!(seen, [expected], "once");
}

#[test]
fn a_client_tracking_through_one_node_hears_of_writes_at_the_owner() {
    let cluster = common::cluster::TestCluster::start(3, &["--replicas", "0"]);
    let key = "tracked-elsewhere";
    let owner = cluster.owners(key)[0];
    let edge = (owner + 1) % 3;
    let writer_node = (owner + 2) % 3;
    let mut tracking = cluster.node(edge).raw();
    let _ = tracking.call(&["HELLO", "3"]);
    assert_eq!(
        tracking.call(&["CLIENT", "TRACKING", "on"]),
        Frame::Simple(b"OK".to_vec())
    );
    // The read is forwarded to the owner, which remembers it for the edge.
    assert_eq!(tracking.call(&["GET", key]), Frame::Null);
    let mut writer = cluster.conn(writer_node);
    let _: () = q(&mut writer, &["SET", key, "1"]);
    await_invalidation(&mut tracking, key);
    // Once: the next write, with no read in between, tells nothing (the
    // owner forgot the key when it sent the first).
    let _: () = q(&mut writer, &["SET", key, "2"]);
    let mut at_owner = cluster.conn(owner);
    assert_eq!(info_u64(&mut at_owner, "tracking_total_keys"), 0);
    // Read again, then the owner's keys flushed.
    assert_eq!(tracking.call(&["GET", key]), Frame::Bulk(b"2".to_vec()));
    assert_eq!(info_u64(&mut at_owner, "tracking_total_keys"), 1);
    let _: () = q(&mut at_owner, &["DEL", key]);
    await_invalidation(&mut tracking, key);
    assert!(pushes_before_pong(&mut tracking).is_empty());

    // MGET split over two owners: each part remembered at its owner.
    let other_key = (0..1000)
        .map(|i| format!("other-{i}"))
        .find(|k| cluster.owners(k)[0] == writer_node)
        .expect("a key of the third node");
    let read: Frame = tracking.call(&["MGET", key, &other_key]);
    assert_eq!(read, Frame::Array(vec![Frame::Null, Frame::Null]));
    let _: () = q(&mut writer, &["SET", &other_key, "1"]);
    await_invalidation(&mut tracking, &other_key);
    let _: () = q(&mut at_owner, &["SET", key, "3"]);
    await_invalidation(&mut tracking, key);
}

#[test]
fn a_blocked_client_gets_its_invalidations_at_once() {
    let node = TestServer::start();
    let mut tracking = node.raw();
    let _ = tracking.call(&["HELLO", "3"]);
    let _ = tracking.call(&["CLIENT", "TRACKING", "on"]);
    assert_eq!(tracking.call(&["GET", "k"]), Frame::Null);
    tracking.send_command(&["BLPOP", "list", "0"]);
    let mut other = node.conn();
    assert!(eventually(DEADLINE, || info_u64(
        &mut other,
        "blocked_clients"
    ) == 1));
    let _: () = q(&mut other, &["SET", "k", "v"]);
    // Still blocked: the push comes before the pop's reply.
    assert_eq!(
        tracking.next().expect("a frame"),
        Frame::Push(vec![
            Frame::Bulk(b"invalidate".to_vec()),
            Frame::Array(vec![Frame::Bulk(b"k".to_vec())]),
        ])
    );
    let _: i64 = q(&mut other, &["RPUSH", "list", "x"]);
    assert_eq!(
        tracking.next().expect("a frame"),
        Frame::Array(vec![
            Frame::Bulk(b"list".to_vec()),
            Frame::Bulk(b"x".to_vec())
        ])
    );
}

/// Keys the node removes by itself reach tracking clients as writes do: an
/// expired key (found stale by a read, or reclaimed by the active cycle)
/// and an evicted one are invalidated, once each.
#[test]
fn expired_and_evicted_keys_are_invalidated() {
    let node = TestServer::start();
    let mut tracking = node.raw();
    let _ = tracking.call(&["HELLO", "3"]);
    let _ = tracking.call(&["CLIENT", "TRACKING", "on"]);
    let mut other = node.conn();
    // Reclaimed by the active expiry cycle, with nobody reading it.
    let _: () = q(&mut other, &["SET", "short", "v", "PX", "50"]);
    assert_eq!(tracking.call(&["GET", "short"]), Frame::Bulk(b"v".to_vec()));
    await_invalidation(&mut tracking, "short");

    // Expired while another client reads it (whichever of its read and
    // the active cycle finds it first).
    let _: () = q(&mut other, &["SET", "read", "v", "PX", "50"]);
    assert_eq!(tracking.call(&["GET", "read"]), Frame::Bulk(b"v".to_vec()));
    assert!(eventually(DEADLINE, || q::<Option<String>>(
        &mut other,
        &["GET", "read"]
    )
    .is_none()));
    await_invalidation(&mut tracking, "read");

    // Evicted under maxmemory.
    let _: () = q(&mut other, &["SET", "victim", "v"]);
    assert_eq!(
        tracking.call(&["GET", "victim"]),
        Frame::Bulk(b"v".to_vec())
    );
    let _: () = q(
        &mut other,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
    );
    let _: () = q(&mut other, &["CONFIG", "SET", "maxmemory", "1"]);
    // Any write now evicts everything it can, the tracked key among them.
    let _ = redis::cmd("SET")
        .arg("pressure")
        .arg("v")
        .query::<redis::Value>(&mut other);
    let _: () = q(&mut other, &["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(q::<i64>(&mut other, &["EXISTS", "victim"]), 0);
    await_invalidation(&mut tracking, "victim");
}
