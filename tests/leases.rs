//! The lease commands end to end (RC.LEASE.GET, RC.LEASE.FILL,
//! RC.LEASE.RELEASE): one lease per missing key, the wait answer for the
//! others, fills accepted only with a live token, expiry on the store's
//! clock, every kind of write ending a key's leases (SET, DEL of a missing
//! key, MULTI, scripts, FLUSHALL, FLUSHDB, an expired key), Redis-style
//! argument errors, the exact wire form in RESP2 and RESP3, COMMAND's
//! description, a lease taken and filled through a forwarding node of a
//! 3-node cluster, and a lease lost in a failover. With `BLOCK`: waiters
//! parked on the node get the fill, the first of them a new lease when
//! the lease is released or expires, `-LEASEWAIT` at their timeout, and
//! CLIENT UNBLOCK ends the wait; MULTI and a forwarding node never park.
//! `lease-max-count` bounds the table, set at run time.

mod common;

use common::cluster::TestCluster;
use common::errors::{NOT_INTEGER, SYNTAX, WRONGTYPE};
use common::info::wait_blocked;
use common::query::assert_arity_errors;
use common::wire::Frame;
use common::{bulk, err, eventually, info_u64, q, v, TestServer, DEADLINE};
use redis::{Connection, Value};
use ringcache_server::store::Clock;

/// A lease token for `key` (the key must be missing and unleased).
fn lease(conn: &mut Connection, key: &str, ttl_ms: u64) -> i64 {
    match v(conn, &["RC.LEASE.GET", key, &ttl_ms.to_string()]) {
        Value::Int(token) if token > 0 => token,
        other => panic!("no lease for {key}: {other:?}"),
    }
}

fn fill(conn: &mut Connection, key: &str, token: i64, value: &str) -> i64 {
    q(conn, &["RC.LEASE.FILL", key, &token.to_string(), value])
}

#[test]
fn one_caller_gets_the_lease_the_others_wait_and_a_fill_needs_its_token() {
    let node = TestServer::start();
    let (mut a, mut b) = (node.conn(), node.conn());
    let token = lease(&mut a, "k", 60_000);
    let wait = err(&mut b, &["RC.LEASE.GET", "k", "60000"]);
    let ms: u64 = wait
        .strip_prefix("LEASEWAIT ")
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("{wait}"));
    assert!((1..=60_000).contains(&ms), "{wait}");
    // Another key, and the same key in another database, are free.
    let _other = lease(&mut b, "j", 60_000);
    let _: () = q(&mut b, &["SELECT", "1"]);
    let _elsewhere = lease(&mut b, "k", 60_000);
    // A wrong token is refused and leaves the lease alone.
    assert_eq!(fill(&mut b, "k", token + 1, "forged"), 0);
    assert_eq!(info_u64(&mut a, "leases_outstanding"), 3);
    assert_eq!(fill(&mut a, "k", token, "loaded"), 1);
    assert_eq!(info_u64(&mut a, "leases_outstanding"), 2);
    assert_eq!(v(&mut a, &["GET", "k"]), bulk("loaded"));
    // The value is now what RC.LEASE.GET answers; a token ends once.
    assert_eq!(v(&mut a, &["RC.LEASE.GET", "k", "1000"]), bulk("loaded"));
    assert_eq!(fill(&mut a, "k", token, "again"), 0);
    assert_eq!(v(&mut a, &["GET", "k"]), bulk("loaded"));
}

#[test]
fn a_fill_may_set_a_ttl_and_a_release_frees_the_key_at_once() {
    let node = TestServer::start();
    let (mut a, mut b) = (node.conn(), node.conn());
    let token = lease(&mut a, "k", 60_000);
    assert_eq!(
        q::<i64>(&mut a, &["RC.LEASE.RELEASE", "k", &token.to_string()]),
        1
    );
    assert_eq!(
        q::<i64>(&mut a, &["RC.LEASE.RELEASE", "k", &token.to_string()]),
        0
    );
    assert_eq!(fill(&mut a, "k", token, "late"), 0);
    let token = lease(&mut b, "k", 60_000);
    let filled: i64 = q(
        &mut b,
        &["RC.LEASE.FILL", "k", &token.to_string(), "v", "PX", "50000"],
    );
    assert_eq!(filled, 1);
    let ttl: i64 = q(&mut b, &["PTTL", "k"]);
    assert!((1..=50_000).contains(&ttl), "{ttl}");
    let token = lease(&mut b, "s", 60_000);
    let filled: i64 = q(
        &mut b,
        &["RC.LEASE.FILL", "s", &token.to_string(), "v", "ex", "100"],
    );
    assert_eq!(filled, 1);
    assert!((1..=100).contains(&q::<i64>(&mut b, &["TTL", "s"])));
}

#[test]
fn leases_expire_on_the_store_clock() {
    let clock = Clock::manual(1_700_000_000_000);
    let node = TestServer::builder().clock(clock.clone()).start();
    let (mut a, mut b) = (node.conn(), node.conn());
    let old = lease(&mut a, "k", 1000);
    clock.advance(400);
    assert_eq!(err(&mut b, &["RC.LEASE.GET", "k", "1000"]), "LEASEWAIT 600");
    clock.advance(600);
    // Expired: the next miss takes a new lease, the old token is refused.
    let new = lease(&mut b, "k", 1000);
    assert_ne!(old, new);
    assert_eq!(fill(&mut a, "k", old, "stale"), 0);
    assert_eq!(fill(&mut b, "k", new, "fresh"), 1);
    // An expired key is a miss again, and gets a lease.
    let _: () = q(&mut a, &["SET", "t", "v", "PX", "100"]);
    assert_eq!(v(&mut a, &["RC.LEASE.GET", "t", "1000"]), bulk("v"));
    clock.advance(100);
    let _t = lease(&mut a, "t", 1000);
    // A lease's own expiry is checked at fill time too.
    let late = lease(&mut a, "late", 100);
    clock.advance(100);
    assert_eq!(fill(&mut a, "late", late, "v"), 0);
    assert_eq!(v(&mut a, &["EXISTS", "late"]), Value::Int(0));
}

/// Every write of the key ends its lease, so the slow loader's fill is
/// refused and the key keeps what the write left.
#[test]
fn any_write_of_the_key_ends_its_lease() {
    let node = TestServer::start();
    let (mut loader, mut writer) = (node.conn(), node.conn());
    let writes: &[(&[&str], Option<&str>)] = &[
        (&["SET", "k", "new"], Some("new")),
        (&["SET", "k", "new", "NX", "EX", "100"], Some("new")),
        // The writer's invalidation of a key nobody cached yet.
        (&["DEL", "k"], None),
        (&["UNLINK", "k"], None),
        (&["APPEND", "k", "x"], Some("x")),
        (&["INCR", "k"], Some("1")),
        (&["EXPIRE", "k", "100"], None),
        (
            &["EVAL", "return redis.call('SET', KEYS[1], 'lua')", "1", "k"],
            Some("lua"),
        ),
        (&["FLUSHDB"], None),
        (&["FLUSHALL"], None),
    ];
    for (write, left) in writes {
        let _: i64 = q(&mut writer, &["DEL", "k"]);
        let token = lease(&mut loader, "k", 60_000);
        let _: Value = q(&mut writer, write);
        assert_eq!(fill(&mut loader, "k", token, "stale"), 0, "after {write:?}");
        let now = v(&mut writer, &["GET", "k"]);
        assert_eq!(now, left.map_or(Value::Nil, bulk), "after {write:?}");
    }
    // A transaction's write, and a write of the key name in another
    // database (MOVE, COPY ... DB reach other databases by name).
    let _: i64 = q(&mut writer, &["DEL", "k"]);
    let token = lease(&mut loader, "k", 60_000);
    let _: () = q(&mut writer, &["MULTI"]);
    let _: () = q(&mut writer, &["SET", "k", "multi"]);
    let _: Value = q(&mut writer, &["EXEC"]);
    assert_eq!(fill(&mut loader, "k", token, "stale"), 0);
    assert_eq!(v(&mut writer, &["GET", "k"]), bulk("multi"));
    let _: i64 = q(&mut writer, &["DEL", "k"]);
    let token = lease(&mut loader, "k", 60_000);
    let _: () = q(&mut writer, &["SELECT", "1"]);
    let _: () = q(&mut writer, &["SET", "k", "db1"]);
    assert_eq!(fill(&mut loader, "k", token, "stale"), 0);
    // Reads and writes of other keys leave it alone.
    let _: i64 = q(&mut writer, &["DEL", "k"]);
    let _: () = q(&mut writer, &["SELECT", "0"]);
    let token = lease(&mut loader, "k", 60_000);
    let _: () = q(&mut writer, &["SET", "other", "1"]);
    let _: Value = q(&mut writer, &["GET", "k"]);
    let _: i64 = q(&mut writer, &["EXISTS", "k"]);
    assert_eq!(fill(&mut loader, "k", token, "loaded"), 1);
}

#[test]
fn bad_arguments_get_redis_style_errors_and_the_connection_stays_open() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_arity_errors(
        &mut c,
        &[
            "rc.lease.get",
            "rc.lease.get k",
            "rc.lease.fill k 1",
            "rc.lease.release k",
            "rc.lease.release k 1 2",
        ],
    );
    assert_eq!(err(&mut c, &["RC.LEASE.GET", "k", "x"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["RC.LEASE.GET", "k", "1", "2"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["RC.LEASE.GET", "k", "1", "WAIT", "2"]),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["RC.LEASE.GET", "k", "1", "BLOCK", "x"]),
        "ERR timeout is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["RC.LEASE.GET", "k", "1", "block", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut c, &["RC.LEASE.GET", "k", "0"]),
        "ERR invalid expire time in 'rc.lease.get' command"
    );
    assert_eq!(
        err(&mut c, &["RC.LEASE.GET", "k", "-5"]),
        "ERR invalid expire time in 'rc.lease.get' command"
    );
    assert_eq!(err(&mut c, &["RC.LEASE.FILL", "k", "x", "v"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["RC.LEASE.FILL", "k", "1", "v", "PX"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["RC.LEASE.FILL", "k", "1", "v", "KEEPTTL", "1"]),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["RC.LEASE.FILL", "k", "1", "v", "PX", "x"]),
        NOT_INTEGER
    );
    assert_eq!(
        err(&mut c, &["RC.LEASE.FILL", "k", "1", "v", "PX", "0"]),
        "ERR invalid expire time in 'rc.lease.fill' command"
    );
    assert_eq!(err(&mut c, &["RC.LEASE.RELEASE", "k", "x"]), NOT_INTEGER);
    assert_eq!(q::<i64>(&mut c, &["RC.LEASE.RELEASE", "k", "-1"]), 0);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(err(&mut c, &["RC.LEASE.GET", "h", "1000"]), WRONGTYPE);
    // A filled key is never overwritten, whatever it holds.
    let token = lease(&mut c, "n", 60_000);
    let _: i64 = q(&mut c, &["HSET", "n", "f", "v"]);
    assert_eq!(fill(&mut c, "n", token, "v"), 0);
    assert_eq!(q::<String>(&mut c, &["TYPE", "n"]), "hash");
    // As Redis names a command in its arity error: the table's name.
    assert_eq!(
        err(&mut c, &["RC.LEASE.GET", "k"]),
        "ERR wrong number of arguments for 'rc.lease.get' command"
    );
    assert_eq!(v(&mut c, &["PING"]), Value::SimpleString("PONG".into()));
}

#[test]
fn wire_form_in_resp2_and_resp3() {
    let node = TestServer::start();
    for version in [2u8, 3] {
        let mut raw = node.raw();
        if version == 3 {
            raw.hello(3);
        }
        let key = format!("wire{version}");
        let token = raw.roundtrip(&["RC.LEASE.GET", &key, "60000"]);
        let text = String::from_utf8(token).unwrap();
        let number = text
            .strip_prefix(':')
            .and_then(|t| t.strip_suffix("\r\n"))
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("{text:?}"));
        assert!(number > 0);
        let mut other = node.raw();
        let wait = String::from_utf8(other.roundtrip(&["RC.LEASE.GET", &key, "60000"])).unwrap();
        assert!(
            wait.starts_with("-LEASEWAIT ") && wait.ends_with("\r\n"),
            "{wait:?}"
        );
        raw.assert_replies(&[
            (&["RC.LEASE.FILL", &key, &number.to_string(), "v"], ":1\r\n"),
            (&["RC.LEASE.GET", &key, "60000"], "$1\r\nv\r\n"),
            (&["RC.LEASE.RELEASE", &key, "1"], ":0\r\n"),
        ]);
    }
}

#[test]
fn command_describes_the_lease_commands() {
    let node = TestServer::start();
    let mut c = node.conn();
    let info = v(
        &mut c,
        &[
            "COMMAND",
            "INFO",
            "rc.lease.get",
            "rc.lease.fill",
            "rc.lease.release",
        ],
    );
    let Value::Array(rows) = info else {
        panic!("{info:?}")
    };
    let expected = [
        (
            "rc.lease.get",
            -3,
            vec!["write", "fast"],
            vec!["@write", "@string", "@fast"],
        ),
        (
            "rc.lease.fill",
            -4,
            vec!["write", "denyoom", "fast"],
            vec!["@write", "@string", "@fast"],
        ),
        (
            "rc.lease.release",
            3,
            vec!["write", "fast"],
            vec!["@write", "@string", "@fast"],
        ),
    ];
    for (row, (name, arity, flags, categories)) in rows.iter().zip(expected) {
        let Value::Array(fields) = row else {
            panic!("{row:?}")
        };
        assert_eq!(fields[0], bulk(name));
        assert_eq!(fields[1], Value::Int(arity), "{name}");
        let words = |value: &Value| -> Vec<String> {
            let Value::Array(items) = value else {
                panic!("{value:?}")
            };
            items
                .iter()
                .map(|item| match item {
                    Value::SimpleString(s) => s.clone(),
                    Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let mut got = words(&fields[2]);
        got.sort();
        let mut want: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{name} flags");
        // First key, last key, step.
        assert_eq!(
            &fields[3..6],
            &[Value::Int(1), Value::Int(1), Value::Int(1)],
            "{name}"
        );
        let mut got = words(&fields[6]);
        got.sort();
        let mut want: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{name} categories");
    }
    let keys: Vec<String> = q(
        &mut c,
        &["COMMAND", "GETKEYS", "RC.LEASE.FILL", "key", "1", "v"],
    );
    assert_eq!(keys, vec!["key".to_string()]);
}

/// On a cluster a lease lives on the key's primary: a node that does not
/// own the key forwards the commands, and every node sees the same lease.
#[test]
fn leases_are_routed_to_the_primary_through_a_forwarding_node() {
    let cluster = TestCluster::start(3, &["--failure-timeout", "3s"]);
    cluster.wait_converged(3);
    let key = (0..)
        .map(|i| format!("lease:{i}"))
        .find(|key| cluster.owners(key)[0] != 0)
        .expect("a key node 0 does not own");
    let primary = cluster.owners(&key)[0];
    let others: Vec<usize> = (0..3).filter(|&i| i != primary).collect();
    let mut forwarding = cluster.conn(0);
    let mut direct = cluster.conn(primary);
    let mut third = cluster.conn(others[1]);
    let token = lease(&mut forwarding, &key, 60_000);
    let wait = err(&mut direct, &["RC.LEASE.GET", &key, "60000"]);
    assert!(wait.starts_with("LEASEWAIT "), "{wait}");
    let wait = err(&mut third, &["RC.LEASE.GET", &key, "60000"]);
    assert!(wait.starts_with("LEASEWAIT "), "{wait}");
    // BLOCK parks only on the primary; forwarded, it answers at once.
    let wait = err(&mut third, &["RC.LEASE.GET", &key, "60000", "BLOCK", "0"]);
    assert!(wait.starts_with("LEASEWAIT "), "{wait}");
    assert_eq!(fill(&mut forwarding, &key, token, "filled"), 1);
    assert_eq!(v(&mut direct, &["GET", &key]), bulk("filled"));
    assert_eq!(
        v(&mut third, &["RC.LEASE.GET", &key, "1000"]),
        bulk("filled")
    );
    // A write through yet another node ends the lease on the primary.
    let _: i64 = q(&mut third, &["DEL", &key]);
    let token = lease(&mut forwarding, &key, 60_000);
    let _: i64 = q(&mut third, &["DEL", &key]);
    assert_eq!(fill(&mut forwarding, &key, token, "stale"), 0);
    assert_eq!(v(&mut direct, &["EXISTS", &key]), Value::Int(0));
}

/// A lease lost with its node is harmless: after the failover the new
/// primary has no lease, so the next miss takes a new one and the old
/// token's fill is refused.
#[test]
fn a_lease_lost_in_a_failover_is_refused_and_replaced() {
    let mut cluster = TestCluster::start(3, &["--failure-timeout", "3s"]);
    cluster.wait_converged(3);
    let key = (0..)
        .map(|i| format!("failover:{i}"))
        .find(|key| cluster.owners(key)[0] != 0)
        .expect("a key node 0 does not own");
    let primary = cluster.owners(&key)[0];
    let mut entry = cluster.conn(0);
    let old = lease(&mut entry, &key, 600_000);
    cluster.kill(primary);
    cluster.wait_converged(2);
    let mut new = None;
    let granted = eventually(DEADLINE, || {
        match common::cmd(&["RC.LEASE.GET", &key, "600000"]).query::<Value>(&mut entry) {
            Ok(Value::Int(token)) => {
                new = Some(token);
                true
            }
            _ => false,
        }
    });
    assert!(granted, "the new primary gives a lease");
    let new = new.expect("token");
    assert_eq!(fill(&mut entry, &key, old, "lost"), 0);
    assert_eq!(fill(&mut entry, &key, new, "filled"), 1);
    assert_eq!(v(&mut entry, &["GET", &key]), bulk("filled"));
}

/// A token from a frame, or a panic showing what came.
fn token_of(frame: Frame) -> i64 {
    match frame {
        Frame::Int(token) if token > 0 => token,
        other => panic!("expected a lease token, got {}", other.show()),
    }
}

#[test]
fn parked_waiters_get_the_fill_in_turn() {
    let node = TestServer::start();
    let mut holder = node.conn();
    let mut watcher = node.conn();
    let token = lease(&mut holder, "k", 60_000);
    let mut waiters: Vec<_> = (0..3).map(|_| node.raw()).collect();
    for waiter in &mut waiters {
        waiter.send_command(&["RC.LEASE.GET", "k", "60000", "BLOCK", "0"]);
    }
    wait_blocked(&mut watcher, 3);
    assert_eq!(fill(&mut holder, "k", token, "loaded"), 1);
    for waiter in &mut waiters {
        assert_eq!(waiter.reply(), Frame::Bulk(b"loaded".to_vec()));
        assert_eq!(waiter.call(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    }
    assert_eq!(info_u64(&mut watcher, "blocked_clients"), 0);
    // Any write of the key answers them too: a SET, with its value.
    let _: i64 = q(&mut holder, &["DEL", "k"]);
    let _token = lease(&mut holder, "k", 60_000);
    waiters[0].send_command(&["RC.LEASE.GET", "k", "60000", "BLOCK", "0"]);
    wait_blocked(&mut watcher, 1);
    let _: () = q(&mut watcher, &["SET", "k", "written"]);
    assert_eq!(waiters[0].reply(), Frame::Bulk(b"written".to_vec()));
}

#[test]
fn the_first_parked_waiter_takes_a_lease_released_or_expired() {
    let node = TestServer::start();
    let mut holder = node.conn();
    let mut watcher = node.conn();
    let token = lease(&mut holder, "k", 60_000);
    let (mut first, mut second) = (node.raw(), node.raw());
    first.send_command(&["RC.LEASE.GET", "k", "60000", "BLOCK", "0"]);
    wait_blocked(&mut watcher, 1);
    second.send_command(&["RC.LEASE.GET", "k", "60000", "BLOCK", "0"]);
    wait_blocked(&mut watcher, 2);
    let released: i64 = q(&mut holder, &["RC.LEASE.RELEASE", "k", &token.to_string()]);
    assert_eq!(released, 1);
    // The first in line holds the lease now; the second waits for its fill.
    let taken = token_of(first.reply());
    wait_blocked(&mut watcher, 1);
    assert_eq!(
        fill(&mut holder, "k", token, "late"),
        0,
        "the released token"
    );
    let filled: i64 = q(
        &mut holder,
        &["RC.LEASE.FILL", "k", &taken.to_string(), "by-first"],
    );
    assert_eq!(filled, 1);
    assert_eq!(second.reply(), Frame::Bulk(b"by-first".to_vec()));
    // A lease that expires unfilled passes to the waiter when it ends.
    let _short = lease(&mut holder, "e", 300);
    first.send_command(&["RC.LEASE.GET", "e", "60000", "BLOCK", "0"]);
    let next = token_of(first.reply());
    assert_eq!(fill(&mut holder, "e", next, "after-expiry"), 1);
    assert_eq!(v(&mut holder, &["GET", "e"]), bulk("after-expiry"));
}

#[test]
fn a_parked_wait_ends_at_its_timeout_or_by_client_unblock() {
    let node = TestServer::start();
    let mut holder = node.conn();
    let _token = lease(&mut holder, "k", 60_000);
    let mut waiter = node.raw();
    let reply = waiter.call(&["RC.LEASE.GET", "k", "60000", "BLOCK", "50"]);
    let text = reply
        .error_text()
        .unwrap_or_else(|| panic!("{}", reply.show()));
    let ms: u64 = text
        .strip_prefix("LEASEWAIT ")
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((1..=60_000).contains(&ms), "{text}");
    let id = waiter.client_id();
    for (how, expected) in [("TIMEOUT", "LEASEWAIT"), ("ERROR", "UNBLOCKED")] {
        waiter.send_command(&["RC.LEASE.GET", "k", "60000", "BLOCK", "0"]);
        wait_blocked(&mut holder, 1);
        let unblocked: i64 = q(&mut holder, &["CLIENT", "UNBLOCK", &id.to_string(), how]);
        assert_eq!(unblocked, 1);
        let text = waiter.reply().error_text().unwrap_or_default();
        assert!(text.starts_with(expected), "{how}: {text}");
    }
    // Inside MULTI nothing parks: the wait answer comes at once.
    assert_eq!(waiter.call(&["MULTI"]), Frame::Simple(b"OK".to_vec()));
    let queued = waiter.call(&["RC.LEASE.GET", "k", "60000", "BLOCK", "0"]);
    assert_eq!(queued, Frame::Simple(b"QUEUED".to_vec()));
    let exec = waiter.call(&["EXEC"]);
    let text = exec.items().and_then(|items| items[0].error_text());
    assert!(
        text.is_some_and(|t| t.starts_with("LEASEWAIT ")),
        "{}",
        exec.show()
    );
    assert_eq!(info_u64(&mut holder, "blocked_clients"), 0);
}

#[test]
fn lease_max_count_bounds_the_table_and_is_set_at_runtime() {
    let node = TestServer::start();
    let mut c = node.conn();
    let max: Vec<String> = q(&mut c, &["CONFIG", "GET", "lease-max-count"]);
    assert_eq!(max, ["lease-max-count", "65536"]);
    let _: () = q(&mut c, &["CONFIG", "SET", "lease-max-count", "2"]);
    let (_a, _b) = (lease(&mut c, "a", 60_000), lease(&mut c, "b", 60_000));
    assert_eq!(v(&mut c, &["RC.LEASE.GET", "c", "60000"]), Value::Nil);
    // A lease that ends makes room at once.
    let _: () = q(&mut c, &["SET", "a", "written"]);
    let _c = lease(&mut c, "c", 60_000);
    let _: () = q(&mut c, &["CONFIG", "SET", "lease-max-count", "3"]);
    let _d = lease(&mut c, "d", 60_000);
    assert_eq!(info_u64(&mut c, "leases_outstanding"), 3);
    let refused = err(&mut c, &["CONFIG", "SET", "lease-max-count", "0"]);
    assert!(refused.starts_with("ERR CONFIG SET failed"), "{refused}");
    assert_eq!(v(&mut c, &["RC.LEASE.GET", "e", "60000"]), Value::Nil);
}
