//! Transactions end to end: MULTI/EXEC/DISCARD/WATCH/UNWATCH with the
//! `redis` crate's atomic pipelines and WATCH loops, the same replies as a
//! real redis-server for scripted sessions (queueing errors, EXECABORT,
//! runtime errors inside EXEC, nesting), atomicity against concurrent
//! clients, and the regression of queued commands applied before EXEC.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use common::redis_server::{assert_same_replies, RedisServer};
use common::{q, TestServer};
use redis::Commands;

#[test]
fn queued_commands_wait_for_exec() {
    let node = TestServer::start();
    let mut tx = node.raw();
    let mut other = node.conn();
    assert_eq!(tx.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(tx.roundtrip(&["SET", "a", "1"]), b"+QUEUED\r\n");
    assert_eq!(tx.roundtrip(&["DEL", "victim"]), b"+QUEUED\r\n");
    let _: () = other.set("victim", "safe").unwrap();
    assert_eq!(
        q::<Option<String>>(&mut other, &["GET", "a"]),
        None,
        "not applied before EXEC"
    );
    assert_eq!(tx.roundtrip(&["DISCARD"]), b"+OK\r\n");
    assert_eq!(
        q::<Option<String>>(&mut other, &["GET", "a"]),
        None,
        "DISCARD applies nothing"
    );
    assert_eq!(q::<String>(&mut other, &["GET", "victim"]), "safe");

    // A queueing error discards the whole transaction at EXEC.
    assert_eq!(tx.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(tx.roundtrip(&["SET", "a", "1"]), b"+QUEUED\r\n");
    assert!(tx
        .roundtrip(&["NOSUCHCOMMAND", "x"])
        .starts_with(b"-ERR unknown command"));
    assert_eq!(
        tx.roundtrip(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(q::<Option<String>>(&mut other, &["GET", "a"]), None);
}

#[test]
fn atomic_pipelines_of_the_redis_crate() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let (a, b, n): (String, i64, i64) = redis::pipe()
        .atomic()
        .set("k", "v")
        .ignore()
        .get("k")
        .hset("h", "f", "1")
        .incr("n", 5)
        .query(&mut conn)
        .unwrap();
    assert_eq!((a.as_str(), b, n), ("v", 1, 5));
    // A runtime error inside EXEC is that command's reply; the others run.
    let mut raw = node.raw();
    assert_eq!(raw.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(raw.roundtrip(&["INCR", "k"]), b"+QUEUED\r\n");
    assert_eq!(raw.roundtrip(&["SET", "k2", "x"]), b"+QUEUED\r\n");
    assert_eq!(
        raw.roundtrip(&["EXEC"]),
        &b"*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"[..]
    );
}

/// A client that never sends EXEC cannot grow the node's memory without
/// end: the queue is bounded by `client-query-buffer-limit`, and the
/// transaction then fails as one with a refused command does.
#[test]
fn a_transaction_queue_is_bounded_by_the_query_buffer_limit() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let () = q(
        &mut conn,
        &["CONFIG", "SET", "client-query-buffer-limit", "1mb"],
    );
    let value = "v".repeat(100 * 1024);
    let mut raw = node.raw();
    assert_eq!(raw.roundtrip(&["MULTI"]), b"+OK\r\n");
    let mut refused = 0;
    for n in 0..12 {
        let key = format!("raw:{n}");
        let reply = raw.roundtrip(&["SET", &key, &value]);
        if reply.starts_with(b"-ERR the transaction's queued commands") {
            refused += 1;
        } else {
            assert_eq!(reply, b"+QUEUED\r\n");
        }
    }
    assert!(refused >= 2, "{refused} refused");
    let exec = raw.roundtrip(&["EXEC"]);
    assert!(
        exec.starts_with(b"-EXECABORT"),
        "{}",
        String::from_utf8_lossy(&exec)
    );
    assert_eq!(q::<i64>(&mut conn, &["EXISTS", "raw:0"]), 0);
    // The next transaction starts from an empty queue.
    assert_eq!(raw.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(raw.roundtrip(&["SET", "raw:0", &value]), b"+QUEUED\r\n");
    assert_eq!(raw.roundtrip(&["EXEC"]), b"*1\r\n+OK\r\n");
}

/// WATCH of many keys at once checks each for a repeat in constant time
/// (it once compared each key with every key before it, for minutes
/// holding the node).
#[test]
fn watch_of_many_keys_completes() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let mut watch = redis::cmd("WATCH");
    for n in 0..200_000 {
        watch.arg(format!("w:{n}"));
    }
    watch.arg("w:0");
    let () = watch.query(&mut conn).unwrap();
    let mut other = node.conn();
    let () = q(&mut other, &["SET", "w:199999", "changed"]);
    let mut tx = redis::pipe();
    tx.atomic().cmd("SET").arg("w:1").arg("mine");
    let result: Option<Vec<redis::Value>> = tx.query(&mut conn).unwrap();
    assert_eq!(result, None, "a watched key changed: EXEC runs nothing");
    assert_eq!(q::<i64>(&mut other, &["EXISTS", "w:1"]), 0);
}

#[test]
fn watch_aborts_exec_when_a_key_changes() {
    let node = TestServer::start();
    let mut tx = node.raw();
    let mut other = node.conn();
    let _: () = other.set("w", "1").unwrap();

    // Unchanged: EXEC runs.
    assert_eq!(tx.roundtrip(&["WATCH", "w"]), b"+OK\r\n");
    assert_eq!(tx.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(tx.roundtrip(&["INCR", "w"]), b"+QUEUED\r\n");
    assert_eq!(tx.roundtrip(&["EXEC"]), b"*1\r\n:2\r\n");

    // Written by another client: EXEC answers nil and runs nothing.
    assert_eq!(tx.roundtrip(&["WATCH", "w"]), b"+OK\r\n");
    let _: () = other.set("w", "10").unwrap();
    assert_eq!(tx.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(tx.roundtrip(&["INCR", "w"]), b"+QUEUED\r\n");
    assert_eq!(tx.roundtrip(&["EXEC"]), b"*-1\r\n");
    assert_eq!(q::<String>(&mut other, &["GET", "w"]), "10");

    // Deleted, flushed, expired: each counts as a change.
    for change in [&["DEL", "w"][..], &["FLUSHALL"], &["PEXPIRE", "w", "1"]] {
        let _: () = other.set("w", "1").unwrap();
        assert_eq!(tx.roundtrip(&["WATCH", "w"]), b"+OK\r\n");
        let _: redis::Value = q(&mut other, change);
        if change[0] == "PEXPIRE" {
            assert!(common::eventually(common::DEADLINE, || {
                q::<i64>(&mut other, &["EXISTS", "w"]) == 0
            }));
        }
        assert_eq!(tx.roundtrip(&["MULTI"]), b"+OK\r\n");
        assert_eq!(tx.roundtrip(&["SET", "w", "mine"]), b"+QUEUED\r\n");
        assert_eq!(tx.roundtrip(&["EXEC"]), b"*-1\r\n", "{change:?}");
    }

    // UNWATCH forgets; RESP3 gets a null.
    assert_eq!(tx.roundtrip(&["WATCH", "w"]), b"+OK\r\n");
    let _: () = other.set("w", "2").unwrap();
    assert_eq!(tx.roundtrip(&["UNWATCH"]), b"+OK\r\n");
    assert_eq!(tx.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(tx.roundtrip(&["GET", "w"]), b"+QUEUED\r\n");
    assert_eq!(tx.roundtrip(&["EXEC"]), b"*1\r\n$1\r\n2\r\n");
    let mut resp3 = node.raw();
    let _ = resp3.roundtrip(&["HELLO", "3"]);
    assert_eq!(resp3.roundtrip(&["WATCH", "w"]), b"+OK\r\n");
    let _: () = other.set("w", "3").unwrap();
    assert_eq!(resp3.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(resp3.roundtrip(&["GET", "w"]), b"+QUEUED\r\n");
    assert_eq!(resp3.roundtrip(&["EXEC"]), b"_\r\n");
}

#[test]
fn a_watch_loop_of_the_redis_crate_counts_every_increment() {
    let node = TestServer::start();
    const THREADS: usize = 4;
    const EACH: usize = 100;
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let mut conn = node.conn();
            thread::spawn(move || {
                for _ in 0..EACH {
                    let _: () = redis::transaction(&mut conn, &["counter"], |conn, pipe| {
                        let value: Option<i64> = conn.get("counter")?;
                        pipe.set("counter", value.unwrap_or(0) + 1)
                            .ignore()
                            .query(conn)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let mut conn = node.conn();
    assert_eq!(
        q::<i64>(&mut conn, &["GET", "counter"]),
        (THREADS * EACH) as i64
    );
}

#[test]
fn exec_is_atomic_for_other_clients() {
    let node = TestServer::start();
    let stop = Arc::new(AtomicBool::new(false));
    // Another client keeps overwriting the key between our commands' turns.
    let writer = {
        let mut conn = node.conn();
        let stop = stop.clone();
        thread::spawn(move || {
            let mut writes = 0u64;
            while !stop.load(Ordering::Relaxed) && writes < 1_000_000 {
                let _: () = conn.set("shared", "theirs").unwrap();
                writes += 1;
            }
        })
    };
    let mut conn = node.conn();
    for round in 0..300 {
        let mine = format!("mine-{round}");
        let (first, second): (String, String) = redis::pipe()
            .atomic()
            .set("shared", &mine)
            .ignore()
            .get("shared")
            .append("shared", "!")
            .ignore()
            .get("shared")
            .query(&mut conn)
            .unwrap();
        assert_eq!(first, mine);
        assert_eq!(second, format!("{mine}!"), "another client ran inside EXEC");
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}

/// Sessions both servers must answer byte for byte alike.
const SESSIONS: &[&[&[&str]]] = &[
    &[
        &["EXEC"],
        &["DISCARD"],
        &["MULTI"],
        &["MULTI"],
        &["SET", "a", "1"],
        &["WATCH", "a"],
        &["GET", "a"],
        &["INCR", "a"],
        &["HSET", "a"],
        &["EXEC"],
        &["GET", "a"],
    ],
    &[
        &["SET", "s", "text"],
        &["MULTI"],
        &["INCR", "s"],
        &["SET", "t", "1"],
        &["HSET", "s", "f", "v"],
        &["GET", "t"],
        &["UNWATCH"],
        &["PING"],
        &["EXEC"],
        &["MULTI"],
        &["EXEC"],
        &["MULTI"],
        &["GET"],
        &["EXEC"],
        &["MULTI"],
        &["SELECT", "1"],
        &["SET", "in1", "x"],
        &["SELECT", "0"],
        &["EXEC"],
        &["EXISTS", "in1"],
        &["SELECT", "1"],
        &["GET", "in1"],
        &["SELECT", "0"],
        &["MULTI"],
        &["SET", "x", "1"],
        &["RESET"],
        &["EXEC"],
        &["WATCH"],
        &["MULTI", "extra"],
    ],
    // An EXEC refused before it runs (here by its arity) discards the
    // transaction and the watches, inside MULTI or not, with EXECABORT.
    &[
        &["SET", "w", "0"],
        &["MULTI"],
        &["SET", "w", "queued"],
        &["EXEC", "extra"],
        &["DISCARD"],
        &["EXEC"],
        &["GET", "w"],
        &["EXEC", "extra"],
        &["WATCH", "w"],
        &["EXEC", "x", "y"],
        &["SET", "w", "changed"],
        &["MULTI"],
        &["GET", "w"],
        &["EXEC"],
    ],
];

#[test]
fn transactions_answer_as_redis_does() {
    let Some(redis) = RedisServer::start_or_skip("transactions_answer_as_redis_does") else {
        return;
    };
    let node = TestServer::start();
    for session in SESSIONS {
        let (mut ours, mut theirs) = (node.raw(), redis.raw());
        let _ = ours.roundtrip(&["FLUSHALL"]);
        let _ = theirs.roundtrip(&["FLUSHALL"]);
        assert_same_replies(&mut ours, &mut theirs, session);
    }
}

/// A key of hash tag `tag` whose slot node `owner` is primary of.
fn key_owned_by(cluster: &common::cluster::TestCluster, owner: usize, tag: &str) -> String {
    (0..10_000)
        .map(|i| format!("{{{tag}{i}}}k"))
        .find(|k| cluster.owners(k)[0] == owner)
        .expect("a key for every node")
}

#[test]
fn transactions_in_a_cluster_run_on_their_slot_owner() {
    let cluster = common::cluster::TestCluster::start(3, &["--replicas", "1"]);
    let mut conn = cluster.conn(0);
    // A transaction whose slot node 2 owns, sent through node 0: one unit.
    let remote = key_owned_by(&cluster, 2, "t");
    let tag = &remote[..remote.find('}').map_or(0, |i| i + 1)];
    let other = format!("{tag}other");
    let (set, incr, get): (String, i64, String) = redis::pipe()
        .atomic()
        .set(&remote, "1")
        .incr(&other, 2)
        .get(&remote)
        .query(&mut conn)
        .unwrap();
    assert_eq!((set.as_str(), incr, get.as_str()), ("OK", 2, "1"));
    // Its writes reached the owner's replica like any write.
    let replica = cluster.owners(&remote)[1];
    let mut at_replica = cluster.conn(replica);
    let _: () = q(&mut at_replica, &["READONLY"]);
    assert!(common::eventually(common::DEADLINE, || {
        q::<Option<String>>(&mut at_replica, &["GET", &other]).as_deref() == Some("2")
    }));

    // Keys of two slots: CROSSSLOT while queueing, EXECABORT at EXEC.
    let mut raw = cluster.node(0).raw();
    assert_eq!(raw.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(raw.roundtrip(&["SET", "{a}1", "x"]), b"+QUEUED\r\n");
    assert_eq!(
        raw.roundtrip(&["SET", "{b}1", "x"]),
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    assert!(raw.roundtrip(&["EXEC"]).starts_with(b"-EXECABORT"));

    // WATCH needs the key's owner; there it works as on a single node.
    let local = key_owned_by(&cluster, 0, "w");
    let mut raw = cluster.node(0).raw();
    assert!(raw
        .roundtrip(&["WATCH", &remote])
        .starts_with(b"-ERR WATCH of a key owned by another node"));
    assert_eq!(raw.roundtrip(&["WATCH", &local]), b"+OK\r\n");
    let _: () = q(&mut conn, &["SET", &local, "changed"]);
    assert_eq!(raw.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(raw.roundtrip(&["SET", &local, "mine"]), b"+QUEUED\r\n");
    assert_eq!(raw.roundtrip(&["EXEC"]), b"*-1\r\n");
}

#[test]
fn transactions_in_redirect_mode_answer_moved_while_queueing() {
    let cluster =
        common::cluster::TestCluster::start(2, &["--replicas", "0", "--cluster-redirect"]);
    let remote = key_owned_by(&cluster, 1, "r");
    let mut raw = cluster.node(0).raw();
    assert_eq!(raw.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert!(raw
        .roundtrip(&["SET", &remote, "x"])
        .starts_with(b"-MOVED "));
    assert!(raw.roundtrip(&["EXEC"]).starts_with(b"-EXECABORT"));
    let mut owner = cluster.node(1).raw();
    assert_eq!(owner.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(owner.roundtrip(&["SET", &remote, "x"]), b"+QUEUED\r\n");
    assert_eq!(owner.roundtrip(&["EXEC"]), b"*1\r\n+OK\r\n");
}
