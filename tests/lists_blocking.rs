//! End-to-end behaviour of the blocking list commands (BLPOP, BRPOP,
//! BLMOVE, BRPOPLPUSH, BLMPOP): served at once when a key has elements;
//! otherwise parked until a push from any client (in arrival order per
//! key), the timeout, CLIENT UNBLOCK, CLIENT KILL or shutdown; nothing
//! pipelined after a blocked request runs meanwhile.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::errors::{wrong_arity, SYNTAX, WRONGTYPE};
use common::info::wait_blocked;
use common::query::{assert_arity_errors, assert_errors, AssertReplies};
use common::wire::{Frame, RawConn};
use common::{bulk, eventually, info_u64, q, v, TestServer, DEADLINE};
use redis::Value;

fn bulk_frame(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec())
}

fn popped(key: &str, element: &str) -> Frame {
    Frame::Array(vec![bulk_frame(key), bulk_frame(element)])
}

/// A raw connection that sent `args` and is now blocked (the `n`-th).
fn block(node: &TestServer, c: &mut redis::Connection, args: &[&str], n: u64) -> RawConn {
    let mut raw = node.raw();
    raw.send_command(args);
    wait_blocked(c, n);
    raw
}

/// BLPOP over many keys queues the client on each once in linear time
/// (it once compared each key with every key before it, holding the
/// keys' shard locks), and is served by a push to the last of them.
#[test]
fn blpop_over_many_keys_waits_and_is_served() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut blpop = redis::cmd("BLPOP");
    for n in 0..200_000 {
        blpop.arg(format!("empty:{n}"));
    }
    blpop.arg("empty:0").arg("0.2");
    let nothing: Option<(String, String)> = blpop.query(&mut c).unwrap();
    assert_eq!(nothing, None);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "empty:0"]), 0);
}

#[test]
fn served_at_once_when_a_key_has_elements() {
    let node = TestServer::start();
    let mut c = node.conn();
    let pair = |k: &str, e: &str| Value::Array(vec![bulk(k), bulk(e)]);
    c.assert_replies(&[
        (&["RPUSH", "b", "1", "2", "3"], Value::Int(3)),
        (&["BLPOP", "a", "b", "0"], pair("b", "1")),
        (&["BRPOP", "a", "b", "0"], pair("b", "3")),
        (&["BLMOVE", "b", "d", "LEFT", "RIGHT", "0"], bulk("2")),
        (&["BRPOPLPUSH", "d", "b", "0"], bulk("2")),
        (
            &["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "5"],
            Value::Array(vec![bulk("b"), Value::Array(vec![bulk("2")])]),
        ),
        (&["EXISTS", "b", "d"], Value::Int(0)),
        (&["RPUSH", "l", "x"], Value::Int(1)),
        (&["SET", "s", "v"], Value::Okay),
        // Keys are looked at in order: a list before another type is served.
        (&["BLPOP", "l", "s", "0"], pair("l", "x")),
    ]);
    let _: i64 = q(&mut c, &["RPUSH", "l", "x"]);
    assert_errors(
        &mut c,
        &[
            (&["BLPOP", "s", "l", "0"], WRONGTYPE),
            (&["BLMOVE", "s", "d", "LEFT", "LEFT", "0"], WRONGTYPE),
            (&["BLMOVE", "l", "s", "LEFT", "LEFT", "0"], WRONGTYPE),
            (&["BLMPOP", "0", "1", "s", "LEFT"], WRONGTYPE),
            (&["BLPOP", "l", "-1"], "ERR timeout is negative"),
            (&["BLPOP", "l", "inf"], "ERR timeout is negative"),
            (
                &["BLPOP", "l", "x"],
                "ERR timeout is not a float or out of range",
            ),
            (
                &["BRPOP", "l", ""],
                "ERR timeout is not a float or out of range",
            ),
            (
                &["BRPOPLPUSH", "l", "d", "nan"],
                "ERR timeout is not a float or out of range",
            ),
            // BLMOVE reads its directions before its timeout.
            (&["BLMOVE", "l", "d", "UP", "LEFT", "x"], SYNTAX),
            (
                &["BLMOVE", "l", "d", "LEFT", "LEFT", "-1"],
                "ERR timeout is negative",
            ),
            (
                &["BLMPOP", "x", "1", "l", "LEFT"],
                "ERR timeout is not a float or out of range",
            ),
            (
                &["BLMPOP", "0", "0", "l", "LEFT"],
                "ERR numkeys should be greater than 0",
            ),
            // BLMPOP reads its timeout last.
            (
                &["BLMPOP", "x", "0", "l", "LEFT"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["BLMPOP", "-1", "1", "l", "LEFT", "COUNT", "0"],
                "ERR count should be greater than 0",
            ),
            (&["BLMPOP", "0", "1", "l", "UP"], SYNTAX),
        ],
    );
    assert_eq!(
        v(&mut c, &["LLEN", "l"]),
        Value::Int(1),
        "nothing popped by errors"
    );
    assert_arity_errors(
        &mut c,
        &[
            "BLPOP l",
            "BRPOP l",
            "BLMOVE a b LEFT LEFT",
            "BRPOPLPUSH a b",
            "BLMPOP 0 1 l",
        ],
    );
    assert_eq!(common::err(&mut c, &["BLPOP"]), wrong_arity("blpop"));
}

#[test]
fn clients_blocked_on_one_key_are_served_in_arrival_order() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut waiting: Vec<RawConn> = (1..=3)
        .map(|n| block(&node, &mut c, &["BLPOP", "q", "0"], n))
        .collect();
    // One push of three: each client gets the next element, first come
    // first served.
    let _: i64 = q(&mut c, &["RPUSH", "q", "1", "2", "3"]);
    for (raw, expected) in waiting.iter_mut().zip(["1", "2", "3"]) {
        assert_eq!(raw.reply(), popped("q", expected));
    }
    wait_blocked(&mut c, 0);
    // One push at a time, from the tail with BRPOP.
    let mut waiting: Vec<RawConn> = (1..=3)
        .map(|n| block(&node, &mut c, &["BRPOP", "q", "0"], n))
        .collect();
    for element in ["a", "b", "c"] {
        let _: i64 = q(&mut c, &["LPUSH", "q", element]);
    }
    for (raw, expected) in waiting.iter_mut().zip(["a", "b", "c"]) {
        assert_eq!(raw.reply(), popped("q", expected));
    }
    assert_eq!(v(&mut c, &["EXISTS", "q"]), Value::Int(0));
}

#[test]
fn a_push_to_one_of_several_keys_wakes_its_client() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut many = block(&node, &mut c, &["BLPOP", "k1", "k2", "k3", "0"], 1);
    let mut other = block(&node, &mut c, &["BLPOP", "k3", "0"], 2);
    let _: i64 = q(&mut c, &["RPUSH", "k2", "v"]);
    assert_eq!(many.reply(), popped("k2", "v"));
    wait_blocked(&mut c, 1);
    // LINSERT, LMOVE and RPOPLPUSH into the key wake too.
    let _: i64 = q(&mut c, &["RPUSH", "src", "moved"]);
    let _: String = q(&mut c, &["LMOVE", "src", "k3", "LEFT", "LEFT"]);
    assert_eq!(other.reply(), popped("k3", "moved"));
    let mut mpop = block(
        &node,
        &mut c,
        &["BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "2"],
        1,
    );
    let _: i64 = q(&mut c, &["RPUSH", "m2", "1", "2", "3"]);
    let expected = Frame::Array(vec![
        bulk_frame("m2"),
        Frame::Array(vec![bulk_frame("3"), bulk_frame("2")]),
    ]);
    assert_eq!(mpop.reply(), expected);
}

#[test]
fn blmove_chains_carry_an_element_through() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut first = block(
        &node,
        &mut c,
        &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
        1,
    );
    let mut second = block(&node, &mut c, &["BRPOPLPUSH", "b", "c", "0"], 2);
    let mut last = block(&node, &mut c, &["BLPOP", "c", "0"], 3);
    let _: i64 = q(&mut c, &["RPUSH", "a", "x"]);
    assert_eq!(first.reply(), bulk_frame("x"));
    assert_eq!(second.reply(), bulk_frame("x"));
    assert_eq!(last.reply(), popped("c", "x"));
    assert_eq!(v(&mut c, &["EXISTS", "a", "b", "c"]), Value::Int(0));
    wait_blocked(&mut c, 0);
}

#[test]
fn timeouts_end_the_wait_with_a_nil() {
    let node = TestServer::start();
    let mut raw = node.raw();
    let cases: [(&[&str], Frame); 4] = [
        (&["BLPOP", "k", "0.25"], Frame::NullArray),
        (&["BRPOP", "k", "k2", "0.1"], Frame::NullArray),
        (
            &["BLMOVE", "k", "d", "LEFT", "LEFT", "0.1"],
            Frame::NullArray,
        ),
        (&["BLMPOP", "0.1", "1", "k", "LEFT"], Frame::NullArray),
    ];
    for (request, expected) in cases {
        let started = Instant::now();
        assert_eq!(raw.call(request), expected, "{request:?}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(100),
            "{request:?} answered after {waited:?}"
        );
    }
    // The connection carries on.
    assert_eq!(raw.call(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    let mut c = node.conn();
    assert_eq!(info_u64(&mut c, "blocked_clients"), 0);
}

#[test]
fn client_unblock_ends_a_block() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut timeout = block(&node, &mut c, &["BLPOP", "q", "0"], 1);
    let id = client_id_of(&mut c, "blpop");
    assert_eq!(
        v(&mut c, &["CLIENT", "UNBLOCK", &id.to_string(), "TIMEOUT"]),
        Value::Int(1)
    );
    assert_eq!(timeout.reply(), Frame::NullArray);
    let mut error = block(&node, &mut c, &["BLMOVE", "q", "d", "LEFT", "LEFT", "0"], 1);
    let id = client_id_of(&mut c, "blmove");
    assert_eq!(
        v(&mut c, &["CLIENT", "UNBLOCK", &id.to_string(), "error"]),
        Value::Int(1)
    );
    assert_eq!(
        error.reply(),
        Frame::Error(b"UNBLOCKED client unblocked via CLIENT UNBLOCK".to_vec())
    );
    // The default is TIMEOUT; a client that is not blocked answers 0.
    let mut plain = block(&node, &mut c, &["BRPOPLPUSH", "q", "d", "0"], 1);
    let id = client_id_of(&mut c, "brpoplpush");
    assert_eq!(
        v(&mut c, &["CLIENT", "UNBLOCK", &id.to_string()]),
        Value::Int(1)
    );
    assert_eq!(plain.reply(), Frame::NullArray);
    assert_eq!(
        v(&mut c, &["CLIENT", "UNBLOCK", &id.to_string()]),
        Value::Int(0)
    );
    assert_eq!(v(&mut c, &["CLIENT", "UNBLOCK", "-5"]), Value::Int(0));
    for raw in [&mut timeout, &mut error, &mut plain] {
        assert_eq!(raw.call(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    }
    assert_errors(
        &mut c,
        &[
            (&["CLIENT", "UNBLOCK", "1", "bad"], "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
            (&["CLIENT", "UNBLOCK", "x", "bad"], "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
            (&["CLIENT", "UNBLOCK", "x"], "ERR value is not an integer or out of range"),
            (&["CLIENT", "UNBLOCK", "1", "timeout", "extra"], "ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP."),
            (&["CLIENT", "UNBLOCK"], "ERR wrong number of arguments for 'client|unblock' command"),
        ],
    );
}

/// The id of the (one) client whose last command is `command`.
fn client_id_of(c: &mut redis::Connection, command: &str) -> i64 {
    let list: String = q(c, &["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" cmd={command} ")))
        .unwrap_or_else(|| panic!("no client ran {command}: {list}"));
    assert!(
        line.contains(" flags=b "),
        "a blocked client shows flag b: {line}"
    );
    line.strip_prefix("id=")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|id| id.parse().ok())
        .expect("an id")
}

/// The id of the one blocked client (flag `b` in CLIENT LIST).
fn blocked_client_id(c: &mut redis::Connection) -> i64 {
    let list: String = q(c, &["CLIENT", "LIST"]);
    let blocked: Vec<&str> = list.lines().filter(|l| l.contains(" flags=b ")).collect();
    assert_eq!(blocked.len(), 1, "one blocked client: {list}");
    blocked[0]
        .strip_prefix("id=")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|id| id.parse().ok())
        .expect("an id")
}

#[test]
fn a_killed_or_departed_client_leaves_the_queue() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut killed = block(&node, &mut c, &["BLPOP", "q", "0"], 1);
    let id = client_id_of(&mut c, "blpop");
    assert_eq!(
        v(&mut c, &["CLIENT", "KILL", "ID", &id.to_string()]),
        Value::Int(1)
    );
    assert!(
        killed.read_until_closed().is_empty(),
        "no reply to a killed client"
    );
    wait_blocked(&mut c, 0);
    let gone = block(&node, &mut c, &["BLPOP", "q", "0"], 1);
    drop(gone);
    wait_blocked(&mut c, 0);
    // Nobody takes the element now.
    let _: i64 = q(&mut c, &["RPUSH", "q", "kept"]);
    assert_eq!(
        v(&mut c, &["LRANGE", "q", "0", "-1"]),
        Value::Array(vec![bulk("kept")])
    );
}

#[test]
fn requests_pipelined_after_a_blocked_one_wait_for_it() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut raw = node.raw();
    raw.send(&common::wire::commands(&[
        vec!["PING"],
        vec!["BLPOP", "q", "0"],
        vec!["SET", "after", "1"],
        vec!["INCR", "after"],
    ]));
    assert_eq!(
        raw.reply(),
        Frame::Simple(b"PONG".to_vec()),
        "replies before the block are written"
    );
    wait_blocked(&mut c, 1);
    assert_eq!(
        v(&mut c, &["EXISTS", "after"]),
        Value::Int(0),
        "nothing after the block ran"
    );
    let _: i64 = q(&mut c, &["RPUSH", "q", "go"]);
    assert_eq!(raw.reply(), popped("q", "go"));
    assert_eq!(raw.reply(), Frame::Simple(b"OK".to_vec()));
    assert_eq!(raw.reply(), Frame::Int(2));
}

#[test]
fn a_key_of_another_type_keeps_the_client_waiting() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut raw = block(&node, &mut c, &["BLPOP", "k", "0"], 1);
    let _: () = q(&mut c, &["SET", "k", "string"]);
    let _: i64 = q(&mut c, &["APPEND", "k", "more"]);
    let _: i64 = q(&mut c, &["DEL", "k"]);
    assert_eq!(info_u64(&mut c, "blocked_clients"), 1, "still waiting");
    let _: i64 = q(&mut c, &["RPUSH", "k", "v"]);
    assert_eq!(raw.reply(), popped("k", "v"));
    // A destination of another type when the element comes: the error,
    // and the element stays where it was.
    let mut mover = block(&node, &mut c, &["BRPOPLPUSH", "src", "dst", "0"], 1);
    let _: () = q(&mut c, &["SET", "dst", "string"]);
    let _: i64 = q(&mut c, &["RPUSH", "src", "x"]);
    assert_eq!(mover.reply().error_text().as_deref(), Some(WRONGTYPE));
    assert_eq!(
        v(&mut c, &["LRANGE", "src", "0", "-1"]),
        Value::Array(vec![bulk("x")])
    );
}

#[test]
fn blocked_clients_are_exempt_from_the_idle_timeout() {
    let node = TestServer::with(&[("timeout", "1")]);
    let mut c = node.conn();
    let mut raw = block(&node, &mut c, &["BLPOP", "q", "0"], 1);
    // An idle client that is not blocked is closed past the timeout...
    let mut idle = node.raw();
    assert_eq!(idle.call(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    let _ = idle.read_until_closed();
    // ...the blocked one still waits, and is served.
    let mut fresh = node.conn();
    assert_eq!(info_u64(&mut fresh, "blocked_clients"), 1);
    let _: i64 = q(&mut fresh, &["RPUSH", "q", "late"]);
    assert_eq!(raw.reply(), popped("q", "late"));
}

#[test]
fn concurrent_pushers_and_blocked_poppers_lose_nothing() {
    let node = TestServer::with(&[("io-threads", "2")]);
    const PUSHERS: usize = 3;
    const POPPERS: usize = 4;
    const EACH: usize = 300;
    let poppers: Vec<_> = (0..POPPERS)
        .map(|_| {
            let client = node.client();
            thread::spawn(move || {
                let mut conn = client.get_connection().expect("connection");
                let mut got = Vec::new();
                loop {
                    let reply: Option<(String, String)> = redis::cmd("BLPOP")
                        .arg("jobs")
                        .arg("done")
                        .arg(0)
                        .query(&mut conn)
                        .expect("BLPOP");
                    match reply {
                        Some((key, value)) if key == "jobs" => got.push(value),
                        _ => return got,
                    }
                }
            })
        })
        .collect();
    let pushers: Vec<_> = (0..PUSHERS)
        .map(|p| {
            let client = node.client();
            thread::spawn(move || {
                let mut conn = client.get_connection().expect("connection");
                for i in 0..EACH {
                    let _: i64 = redis::cmd("RPUSH")
                        .arg("jobs")
                        .arg(format!("{p}-{i}"))
                        .query(&mut conn)
                        .expect("RPUSH");
                }
            })
        })
        .collect();
    for pusher in pushers {
        pusher.join().expect("pusher");
    }
    let mut c = node.conn();
    assert!(eventually(DEADLINE, || v(&mut c, &["LLEN", "jobs"]) == Value::Int(0)));
    let _: i64 = q(&mut c, &["RPUSH", "done", "1", "2", "3", "4"]);
    let mut all: Vec<String> = poppers
        .into_iter()
        .flat_map(|p| p.join().expect("popper"))
        .collect();
    all.sort();
    let mut expected: Vec<String> = (0..PUSHERS)
        .flat_map(|p| (0..EACH).map(move |i| format!("{p}-{i}")))
        .collect();
    expected.sort();
    assert_eq!(all, expected, "every element popped exactly once");
    wait_blocked(&mut c, 0);
}

#[test]
fn shutdown_with_blocked_clients_exits_promptly() {
    let mut node = TestServer::start();
    let mut c = node.conn();
    let mut waiting = vec![
        block(&node, &mut c, &["BLPOP", "q", "0"], 1),
        block(
            &node,
            &mut c,
            &["BLMOVE", "q", "d", "LEFT", "LEFT", "1000"],
            2,
        ),
        block(&node, &mut c, &["BLMPOP", "0", "1", "q", "LEFT"], 3),
    ];
    drop(c);
    let started = Instant::now();
    assert!(node.stop(DEADLINE), "the node stops");
    // Well within the node's 10 s drain timeout: nobody held it.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(9), "stopping took {took:?}");
    for raw in &mut waiting {
        let _ = raw.read_until_closed();
    }
}

/// In a cluster: a client of the key's owner is woken by a push that
/// another node forwards, and its pop reaches the replicas; a client of
/// another node (its BLPOP forwarded) is woken by a push on the owner
/// too, times out and is unblocked there.
#[test]
fn blocking_pops_in_a_cluster() {
    let cluster = common::cluster::TestCluster::start(3, &["--failure-timeout", "3s"]);
    let owners = cluster.owners("queue");
    let owner = owners[0];
    let other = cluster
        .live()
        .into_iter()
        .find(|i| *i != owner)
        .expect("another node");
    let mut on_owner = RawConn::connect(cluster.node(owner).addr);
    on_owner.send_command(&["BLPOP", "queue", "0"]);
    let mut owner_conn = cluster.conn(owner);
    wait_blocked(&mut owner_conn, 1);
    let mut other_conn = cluster.conn(other);
    let _: i64 = q(&mut other_conn, &["RPUSH", "queue", "first"]);
    assert_eq!(on_owner.reply(), popped("queue", "first"));
    // The pop emptied the list on the primary and on its replica.
    assert!(
        eventually(DEADLINE, || cluster.total_keys() == 0),
        "no copy of the emptied list is left"
    );
    // Forwarded: the client waits on its own node, woken by a push on the
    // owner.
    let mut on_other = RawConn::connect(cluster.node(other).addr);
    on_other.send_command(&["BLPOP", "queue", "0"]);
    wait_blocked(&mut other_conn, 1);
    assert_eq!(
        info_u64(&mut owner_conn, "blocked_clients"),
        0,
        "the owner parks nobody"
    );
    let _: i64 = q(&mut owner_conn, &["LPUSH", "queue", "second"]);
    assert_eq!(on_other.reply(), popped("queue", "second"));
    wait_blocked(&mut other_conn, 0);
    // A timeout, and CLIENT UNBLOCK on the client's node.
    let started = Instant::now();
    assert_eq!(on_other.call(&["BRPOP", "queue", "0.3"]), Frame::NullArray);
    assert!(started.elapsed() >= Duration::from_millis(300));
    on_other.send_command(&["BLMOVE", "queue", "{queue}.done", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut other_conn, 1);
    let id = blocked_client_id(&mut other_conn);
    assert_eq!(
        v(
            &mut other_conn,
            &["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]
        ),
        Value::Int(1)
    );
    assert_eq!(
        on_other.reply().error_text().as_deref(),
        Some("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    );
    // Served at once when the list has elements, and errors come back.
    let _: i64 = q(&mut owner_conn, &["RPUSH", "queue", "third"]);
    assert_eq!(
        on_other.call(&["BLPOP", "queue", "0"]),
        popped("queue", "third")
    );
    assert!(on_other.call(&["BLPOP", "queue", "-1"]).is_error());
}
