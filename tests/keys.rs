//! End-to-end conformance of the keyspace commands (DEL, UNLINK, EXISTS,
//! TOUCH, TYPE, RENAME, RENAMENX, COPY, the EXPIRE family with NX/XX/GT/LT,
//! TTL/PTTL/EXPIRETIME/PEXPIRETIME, PERSIST, KEYS, SCAN, RANDOMKEY, DBSIZE,
//! FLUSHDB/FLUSHALL) with Redis 7 semantics, against a real node.

mod common;

use std::collections::HashSet;

use common::errors::{INVALID_CURSOR, NOT_INTEGER, NO_SUCH_KEY, SYNTAX};
use common::query::{assert_arity_errors, set_keys, AssertReplies};
use common::{assert_ttl, bulk, err, eventually, q, unix_secs, v, TestServer, DEADLINE};
use redis::{Connection, Value};
/// Upper bound on SCAN calls in one iteration (the key counts here are far
/// below it with any sane COUNT).
const MAX_SCAN_CALLS: usize = 100_000;

/// Iterates SCAN from cursor 0 back to 0 with extra `options`, returning
/// every key returned (with repeats) and the number of calls.
fn scan_all(conn: &mut Connection, options: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    for calls in 1..=MAX_SCAN_CALLS {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(options);
        let (next, batch): (String, Vec<String>) = q(conn, &args);
        keys.extend(batch);
        if next == "0" {
            return (keys, calls);
        }
        cursor = next;
    }
    panic!("SCAN {options:?} did not return to cursor 0 in {MAX_SCAN_CALLS} calls");
}

fn fill(conn: &mut Connection, prefix: &str, n: usize) -> HashSet<String> {
    let keys: HashSet<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    set_keys(conn, &keys, b"v");
    keys
}

#[test]
fn del_unlink_exists_touch_type() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: () = q(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    // EXISTS and TOUCH count repeats.
    assert_eq!(
        v(&mut c, &["EXISTS", "a", "a", "missing", "h"]),
        Value::Int(3)
    );
    assert_eq!(
        v(&mut c, &["TOUCH", "a", "a", "missing", "h"]),
        Value::Int(3)
    );
    assert_eq!(
        v(&mut c, &["TYPE", "a"]),
        Value::SimpleString("string".into())
    );
    assert_eq!(
        v(&mut c, &["TYPE", "h"]),
        Value::SimpleString("hash".into())
    );
    assert_eq!(
        v(&mut c, &["TYPE", "missing"]),
        Value::SimpleString("none".into())
    );
    // DEL counts each key once.
    assert_eq!(v(&mut c, &["DEL", "a", "a", "missing"]), Value::Int(1));
    assert_eq!(v(&mut c, &["UNLINK", "b", "h", "missing"]), Value::Int(2));
    assert_eq!(v(&mut c, &["EXISTS", "a", "b", "h"]), Value::Int(0));
    assert_eq!(v(&mut c, &["DEL", "c"]), Value::Int(1));
    assert_eq!(v(&mut c, &["DBSIZE"]), Value::Int(0));
    assert_arity_errors(&mut c, &["DEL", "UNLINK", "EXISTS", "TOUCH", "TYPE"]);
}

#[test]
fn rename_and_renamenx() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(err(&mut c, &["RENAME", "missing", "x"]), NO_SUCH_KEY);
    assert_eq!(err(&mut c, &["RENAMENX", "missing", "x"]), NO_SUCH_KEY);
    let _: () = q(&mut c, &["SET", "a", "1", "EX", "1000"]);
    // Onto itself: OK (RENAME) or 0 (RENAMENX), nothing changes.
    assert_eq!(v(&mut c, &["RENAME", "a", "a"]), Value::Okay);
    assert_eq!(v(&mut c, &["RENAMENX", "a", "a"]), Value::Int(0));
    assert_ttl(&mut c, "a", 990..=1000);
    // The TTL moves with the value.
    assert_eq!(v(&mut c, &["RENAME", "a", "b"]), Value::Okay);
    assert_eq!(v(&mut c, &["EXISTS", "a"]), Value::Int(0));
    assert_eq!(v(&mut c, &["GET", "b"]), bulk("1"));
    assert_ttl(&mut c, "b", 990..=1000);
    // Over an existing key (of another type, with its own TTL): replaced,
    // and the destination takes the source's TTL (here none).
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    let _: i64 = q(&mut c, &["EXPIRE", "h", "5000"]);
    let _: () = q(&mut c, &["SET", "plain", "p"]);
    assert_eq!(v(&mut c, &["RENAME", "plain", "h"]), Value::Okay);
    assert_eq!(
        v(&mut c, &["TYPE", "h"]),
        Value::SimpleString("string".into())
    );
    assert_eq!(v(&mut c, &["GET", "h"]), bulk("p"));
    assert_eq!(q::<i64>(&mut c, &["TTL", "h"]), -1);
    // A hash moves whole.
    let _: i64 = q(&mut c, &["HSET", "h2", "x", "1", "y", "2"]);
    assert_eq!(v(&mut c, &["RENAME", "h2", "h3"]), Value::Okay);
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h3"]), 2);
    // RENAMENX refuses an existing destination.
    assert_eq!(v(&mut c, &["RENAMENX", "b", "h"]), Value::Int(0));
    assert_eq!(v(&mut c, &["GET", "b"]), bulk("1"));
    assert_eq!(v(&mut c, &["RENAMENX", "b", "fresh"]), Value::Int(1));
    assert_eq!(v(&mut c, &["GET", "fresh"]), bulk("1"));
    assert_ttl(&mut c, "fresh", 990..=1000);
    assert_eq!(v(&mut c, &["EXISTS", "b"]), Value::Int(0));
    assert_arity_errors(&mut c, &["RENAME fresh"]);
}

#[test]
fn copy_keeps_ttl_and_is_deep() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["COPY", "missing", "x"]), Value::Int(0));
    let _: () = q(&mut c, &["SET", "s", "v", "EX", "1000"]);
    assert_eq!(v(&mut c, &["COPY", "s", "d"]), Value::Int(1));
    assert_eq!(v(&mut c, &["GET", "d"]), bulk("v"));
    assert_ttl(&mut c, "d", 990..=1000);
    assert_ttl(&mut c, "s", 990..=1000);
    // An existing destination needs REPLACE.
    let _: () = q(&mut c, &["SET", "s", "v2"]);
    assert_eq!(v(&mut c, &["COPY", "s", "d"]), Value::Int(0));
    assert_eq!(v(&mut c, &["GET", "d"]), bulk("v"));
    assert_eq!(v(&mut c, &["COPY", "s", "d", "REPLACE"]), Value::Int(1));
    assert_eq!(v(&mut c, &["GET", "d"]), bulk("v2"));
    assert_eq!(q::<i64>(&mut c, &["TTL", "d"]), -1, "the source had no TTL");
    assert_eq!(
        v(&mut c, &["COPY", "s", "d", "db", "0", "replace", "REPLACE"]),
        Value::Int(1)
    );
    // A copied hash is independent of its source.
    let _: i64 = q(&mut c, &["HSET", "h", "f", "1"]);
    assert_eq!(v(&mut c, &["COPY", "h", "h2"]), Value::Int(1));
    let _: i64 = q(&mut c, &["HSET", "h2", "f", "2", "g", "3"]);
    assert_eq!(v(&mut c, &["HGET", "h", "f"]), bulk("1"));
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h"]), 1);
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h2"]), 2);
    // Errors.
    assert_eq!(
        err(&mut c, &["COPY", "s", "s"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(err(&mut c, &["COPY", "s", "d", "BOGUS"]), SYNTAX);
    assert_eq!(err(&mut c, &["COPY", "s", "d", "DB"]), SYNTAX);
    assert_eq!(err(&mut c, &["COPY", "s", "d", "DB", "abc"]), NOT_INTEGER);
    assert_eq!(
        err(&mut c, &["COPY", "s", "d", "DB", "16"]),
        "ERR DB index is out of range"
    );
    assert_arity_errors(&mut c, &["COPY s"]);
}

#[test]
fn ttl_family_replies() {
    let node = TestServer::start();
    let mut c = node.conn();
    for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(
            v(&mut c, &[command, "missing"]),
            Value::Int(-2),
            "{command}"
        );
    }
    let _: () = q(&mut c, &["SET", "k", "v"]);
    for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(v(&mut c, &[command, "k"]), Value::Int(-1), "{command}");
    }
    assert_eq!(v(&mut c, &["EXPIRE", "k", "1000"]), Value::Int(1));
    assert_ttl(&mut c, "k", 990..=1000);
    let pttl: i64 = q(&mut c, &["PTTL", "k"]);
    assert!((990_000..=1_000_000).contains(&pttl), "{pttl}");
    let expiretime: i64 = q(&mut c, &["EXPIRETIME", "k"]);
    let now = unix_secs();
    assert!(
        (now + 985..=now + 1001).contains(&expiretime),
        "{expiretime} vs now {now}"
    );
    assert_eq!(v(&mut c, &["PEXPIRE", "k", "2000000"]), Value::Int(1));
    assert_ttl(&mut c, "k", 1990..=2000);
    c.assert_replies(&[
        // Absolute times are reported exactly; EXPIRETIME rounds to the
        // nearest second, as Redis does.
        (&["EXPIREAT", "k", "4000000000"], Value::Int(1)),
        (&["EXPIRETIME", "k"], Value::Int(4_000_000_000)),
        (&["PEXPIRETIME", "k"], Value::Int(4_000_000_000_000)),
        (&["PEXPIREAT", "k", "3999999999499"], Value::Int(1)),
        (&["EXPIRETIME", "k"], Value::Int(3_999_999_999)),
        (&["PEXPIREAT", "k", "3999999999500"], Value::Int(1)),
        (&["EXPIRETIME", "k"], Value::Int(4_000_000_000)),
        (&["PEXPIRETIME", "k"], Value::Int(3_999_999_999_500)),
        (&["PEXPIREAT", "k", "9223372036854775807"], Value::Int(1)),
        (&["PEXPIRETIME", "k"], Value::Int(i64::MAX)),
        (&["EXPIRETIME", "k"], Value::Int(9_223_372_036_854_776)),
        // PERSIST.
        (&["PERSIST", "k"], Value::Int(1)),
        (&["PERSIST", "k"], Value::Int(0)),
        (&["PERSIST", "missing"], Value::Int(0)),
        (&["TTL", "k"], Value::Int(-1)),
    ]);
    // Missing keys cannot get a TTL.
    for command in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        assert_eq!(
            v(&mut c, &[command, "missing", "4000000000"]),
            Value::Int(0),
            "{command}"
        );
    }
    assert_eq!(v(&mut c, &["EXISTS", "missing"]), Value::Int(0));
    // Hashes take TTLs too, and keep them through HSET.
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(v(&mut c, &["EXPIRE", "h", "1000"]), Value::Int(1));
    let _: i64 = q(&mut c, &["HSET", "h", "g", "w"]);
    assert_ttl(&mut c, "h", 990..=1000);
}

#[test]
fn expire_conditions_nx_xx_gt_lt() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: () = q(&mut c, &["SET", "k", "v"]);
    // Without a TTL: XX and GT refuse, NX and LT (no TTL = infinite) set.
    assert_eq!(v(&mut c, &["EXPIRE", "k", "1000", "XX"]), Value::Int(0));
    assert_eq!(v(&mut c, &["EXPIRE", "k", "1000", "GT"]), Value::Int(0));
    assert_eq!(
        v(&mut c, &["EXPIRE", "k", "1000", "XX", "LT"]),
        Value::Int(0),
        "XX also applies with LT"
    );
    assert_eq!(
        v(&mut c, &["EXPIRE", "k", "1000", "XX", "GT"]),
        Value::Int(0)
    );
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    assert_eq!(v(&mut c, &["EXPIRE", "k", "1000", "LT"]), Value::Int(1));
    assert_ttl(&mut c, "k", 990..=1000);
    let _: i64 = q(&mut c, &["PERSIST", "k"]);
    assert_eq!(v(&mut c, &["EXPIRE", "k", "1000", "NX"]), Value::Int(1));
    assert_ttl(&mut c, "k", 990..=1000);
    // With a TTL of ~1000 s.
    assert_eq!(v(&mut c, &["EXPIRE", "k", "5000", "NX"]), Value::Int(0));
    assert_eq!(v(&mut c, &["EXPIRE", "k", "500", "GT"]), Value::Int(0));
    assert_eq!(v(&mut c, &["EXPIRE", "k", "5000", "LT"]), Value::Int(0));
    assert_ttl(&mut c, "k", 990..=1000);
    assert_eq!(v(&mut c, &["EXPIRE", "k", "2000", "GT"]), Value::Int(1));
    assert_ttl(&mut c, "k", 1990..=2000);
    assert_eq!(
        v(&mut c, &["EXPIRE", "k", "3000", "XX", "GT"]),
        Value::Int(1)
    );
    assert_ttl(&mut c, "k", 2990..=3000);
    assert_eq!(
        v(&mut c, &["EXPIRE", "k", "1500", "lt", "xx"]),
        Value::Int(1)
    );
    assert_ttl(&mut c, "k", 1490..=1500);
    assert_eq!(v(&mut c, &["PEXPIRE", "k", "1200000", "XX"]), Value::Int(1));
    assert_ttl(&mut c, "k", 1190..=1200);
    // An equal absolute time is neither greater nor less.
    assert_eq!(
        v(&mut c, &["PEXPIREAT", "k", "4000000000000"]),
        Value::Int(1)
    );
    assert_eq!(
        v(&mut c, &["PEXPIREAT", "k", "4000000000000", "GT"]),
        Value::Int(0)
    );
    assert_eq!(
        v(&mut c, &["EXPIREAT", "k", "4000000000", "LT"]),
        Value::Int(0)
    );
    assert_eq!(
        v(&mut c, &["EXPIREAT", "k", "4000000001", "GT"]),
        Value::Int(1)
    );
    assert_eq!(v(&mut c, &["EXPIRETIME", "k"]), Value::Int(4_000_000_001));
    // Repeated options are fine.
    assert_eq!(
        v(&mut c, &["EXPIRE", "k", "100", "NX", "NX"]),
        Value::Int(0)
    );
    // Incompatible and unknown options; options are checked before the
    // amount, as Redis does.
    let nx_and = "ERR NX and XX, GT or LT options at the same time are not compatible";
    assert_eq!(err(&mut c, &["EXPIRE", "k", "100", "NX", "XX"]), nx_and);
    assert_eq!(err(&mut c, &["EXPIRE", "k", "100", "GT", "NX"]), nx_and);
    assert_eq!(err(&mut c, &["PEXPIRE", "k", "100", "NX", "LT"]), nx_and);
    let gt_lt = "ERR GT and LT options at the same time are not compatible";
    assert_eq!(err(&mut c, &["EXPIRE", "k", "100", "GT", "LT"]), gt_lt);
    assert_eq!(
        err(&mut c, &["EXPIREAT", "k", "100", "xx", "lt", "gt"]),
        gt_lt
    );
    // The option is checked before the time.
    for time in ["100", "abc"] {
        assert_eq!(
            err(&mut c, &["EXPIRE", "k", time, "FOO"]),
            "ERR Unsupported option FOO"
        );
    }
    assert_eq!(
        err(&mut c, &["EXPIRE", "missing", "100", "bar"]),
        "ERR Unsupported option bar"
    );
    assert_eq!(
        v(&mut c, &["EXPIRETIME", "k"]),
        Value::Int(4_000_000_001),
        "errors changed nothing"
    );
}

#[test]
fn expire_in_the_past_deletes_and_overflow_is_refused() {
    let node = TestServer::start();
    let mut c = node.conn();
    for (i, args) in [
        &["EXPIRE", "", "-1"][..],
        &["EXPIRE", "", "0"],
        &["PEXPIRE", "", "-1000"],
        &["EXPIREAT", "", "1"],
        &["PEXPIREAT", "", "0"],
        &["EXPIREAT", "", "-9223372036854775"],
        &["PEXPIRE", "", "-9223372036854775808"],
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("k{i}");
        let mut args = args.to_vec();
        args[1] = &key;
        let _: () = q(&mut c, &["SET", &key, "v"]);
        assert_eq!(v(&mut c, &args), Value::Int(1), "{args:?}");
        assert_eq!(v(&mut c, &["EXISTS", &key]), Value::Int(0), "{args:?}");
    }
    // A past time under GT is not greater than no TTL: refused, key kept.
    let _: () = q(&mut c, &["SET", "k", "v"]);
    assert_eq!(v(&mut c, &["EXPIRE", "k", "0", "GT"]), Value::Int(0));
    assert_eq!(v(&mut c, &["EXISTS", "k"]), Value::Int(1));
    assert_eq!(v(&mut c, &["EXPIRE", "k", "0", "LT"]), Value::Int(1));
    assert_eq!(v(&mut c, &["EXISTS", "k"]), Value::Int(0));

    let _: () = q(&mut c, &["SET", "k", "v"]);
    for (command, amount) in [
        ("EXPIRE", "9223372036854775807"),
        ("EXPIRE", "9223372036854775"),
        ("EXPIRE", "-9223372036854775808"),
        ("PEXPIRE", "9223372036854775807"),
        ("EXPIREAT", "9223372036854775807"),
        ("EXPIREAT", "9223372036854776"),
    ] {
        let expected = format!(
            "ERR invalid expire time in '{}' command",
            command.to_lowercase()
        );
        assert_eq!(
            err(&mut c, &[command, "k", amount]),
            expected,
            "{command} {amount}"
        );
    }
    for amount in ["abc", "1.5", "9223372036854775808", ""] {
        assert_eq!(
            err(&mut c, &["EXPIRE", "k", amount]),
            NOT_INTEGER,
            "{amount:?}"
        );
    }
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    // The largest valid amounts.
    assert_eq!(
        v(&mut c, &["EXPIREAT", "k", "9223372036854775"]),
        Value::Int(1)
    );
    assert_eq!(
        v(&mut c, &["EXPIRETIME", "k"]),
        Value::Int(9_223_372_036_854_775)
    );
    assert_arity_errors(&mut c, &["EXPIRE k"]);
}

#[test]
fn expired_keys_disappear() {
    let node = TestServer::start();
    let mut c = node.conn();
    // Read lazily: PEXPIRE 1 and poll until gone.
    let _: () = q(&mut c, &["SET", "lazy", "v"]);
    assert_eq!(v(&mut c, &["PEXPIRE", "lazy", "1"]), Value::Int(1));
    assert!(eventually(DEADLINE, || q::<i64>(
        &mut c,
        &["EXISTS", "lazy"]
    ) == 0));
    assert_eq!(v(&mut c, &["GET", "lazy"]), Value::Nil);
    assert_eq!(v(&mut c, &["TTL", "lazy"]), Value::Int(-2));
    // Never read: active expiry reclaims them, DBSIZE drops to the rest.
    let _: () = q(&mut c, &["SET", "stays", "v"]);
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("SET")
            .arg(format!("gone{i}"))
            .arg("v")
            .arg("PX")
            .arg(1)
            .ignore();
    }
    let _: () = pipe.query(&mut c).expect("pipeline");
    let _: i64 = q(&mut c, &["HSET", "hash", "f", "v"]);
    assert_eq!(v(&mut c, &["PEXPIRE", "hash", "1"]), Value::Int(1));
    assert!(
        eventually(DEADLINE, || q::<i64>(&mut c, &["DBSIZE"]) == 1),
        "active expiry left {} keys",
        q::<i64>(&mut c, &["DBSIZE"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["KEYS", "*"]),
        vec!["stays".to_string()]
    );
}

#[test]
fn keys_patterns() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: () = q(
        &mut c,
        &[
            "MSET", "hello", "1", "hallo", "1", "hxllo", "1", "hllo", "1", "heeeello", "1", "a*b",
            "1",
        ],
    );
    let mut check = |pattern: &str, expected: &[&str]| {
        let mut got: Vec<String> = q(&mut c, &["KEYS", pattern]);
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "KEYS {pattern}");
    };
    check("*", &["hello", "hallo", "hxllo", "hllo", "heeeello", "a*b"]);
    check("h?llo", &["hello", "hallo", "hxllo"]);
    check("h*llo", &["hello", "hallo", "hxllo", "hllo", "heeeello"]);
    check("h[ae]llo", &["hello", "hallo"]);
    check("h[^e]llo", &["hallo", "hxllo"]);
    check("h[a-b]llo", &["hallo"]);
    check("a\\*b", &["a*b"]);
    check("nomatch*", &[]);
    // Expired keys are not listed.
    let _: () = q(&mut c, &["SET", "hexp", "v", "PX", "1"]);
    assert!(eventually(DEADLINE, || !q::<Vec<String>>(
        &mut c,
        &["KEYS", "hexp"]
    )
    .contains(&"hexp".to_string())));
}

#[test]
fn scan_returns_every_key() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(scan_all(&mut c, &[]).0, Vec::<String>::new());
    let strings = fill(&mut c, "s:", 1500);
    let mut hashes = HashSet::new();
    for i in 0..300 {
        let key = format!("h:{i}");
        let _: i64 = q(&mut c, &["HSET", &key, "f", "v"]);
        hashes.insert(key);
    }
    let all: HashSet<String> = strings.union(&hashes).cloned().collect();
    for count in [None, Some("1"), Some("7"), Some("1000"), Some("100000")] {
        let options: Vec<&str> = count.map_or(vec![], |n| vec!["COUNT", n]);
        let (keys, calls) = scan_all(&mut c, &options);
        let seen: HashSet<String> = keys.iter().cloned().collect();
        assert_eq!(seen, all, "SCAN COUNT {count:?}");
        // Without changes during the scan nothing repeats.
        assert_eq!(keys.len(), all.len(), "SCAN COUNT {count:?} repeated keys");
        if count == Some("1") {
            assert!(calls > 10, "COUNT 1 should take many calls, took {calls}");
        }
    }
    // MATCH and TYPE filter; iteration still ends at 0.
    let (keys, _) = scan_all(&mut c, &["MATCH", "h:*", "COUNT", "50"]);
    assert_eq!(keys.into_iter().collect::<HashSet<_>>(), hashes);
    let (keys, _) = scan_all(&mut c, &["MATCH", "s:1??", "COUNT", "50"]);
    let expected: HashSet<String> = (100..200).map(|i| format!("s:{i}")).collect();
    assert_eq!(keys.into_iter().collect::<HashSet<_>>(), expected);
    let (keys, _) = scan_all(&mut c, &["TYPE", "hash"]);
    assert_eq!(keys.into_iter().collect::<HashSet<_>>(), hashes);
    let (keys, _) = scan_all(&mut c, &["type", "STRING", "count", "100"]);
    assert_eq!(keys.into_iter().collect::<HashSet<_>>(), strings);
    let (keys, _) = scan_all(&mut c, &["TYPE", "list"]);
    assert!(keys.is_empty());
    let (keys, _) = scan_all(&mut c, &["MATCH", "h:1", "TYPE", "hash", "COUNT", "10"]);
    assert_eq!(keys, vec!["h:1".to_string()]);
    // The reply shape: [cursor as bulk string, array of keys].
    match v(&mut c, &["SCAN", "0", "COUNT", "5"]) {
        Value::Array(parts) => {
            assert_eq!(parts.len(), 2);
            assert!(matches!(&parts[0], Value::BulkString(_)), "{:?}", parts[0]);
            assert!(matches!(&parts[1], Value::Array(_)), "{:?}", parts[1]);
        }
        other => panic!("SCAN answered {other:?}"),
    }
    // Errors.
    assert_eq!(err(&mut c, &["SCAN", "abc"]), INVALID_CURSOR);
    assert_eq!(
        err(&mut c, &["SCAN", "18446744073709551616"]),
        INVALID_CURSOR
    );
    assert_eq!(err(&mut c, &["SCAN", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["SCAN", "0", "COUNT", "-1"]), SYNTAX);
    assert_eq!(err(&mut c, &["SCAN", "0", "COUNT", "abc"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["SCAN", "0", "MATCH"]), SYNTAX);
    assert_eq!(err(&mut c, &["SCAN", "0", "BOGUS", "x"]), SYNTAX);
    assert_arity_errors(&mut c, &["SCAN"]);
}

/// One SCAN iteration (COUNT 20) from cursor 0 back to 0, calling
/// `between(round)` after every call but the last; returns the keys seen.
fn scan_with(c: &mut Connection, mut between: impl FnMut(usize)) -> HashSet<String> {
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    for round in 0.. {
        assert!(round < MAX_SCAN_CALLS, "SCAN did not finish");
        let (next, batch): (String, Vec<String>) = q(c, &["SCAN", &cursor, "COUNT", "20"]);
        seen.extend(batch);
        if next == "0" {
            break;
        }
        cursor = next;
        between(round);
    }
    seen
}

/// SCAN's guarantee over `attempts` iterations: before each, the keyspace
/// is flushed, `stable` keys are written and `prepare` writes its own
/// (keeping what it returns as `state`); between SCAN calls `between(state,
/// round, writer)` changes the keyspace from another connection. Every
/// stable key must be returned.
fn assert_scan_guarantee<S>(
    attempts: usize,
    stable: usize,
    mut prepare: impl FnMut(&mut Connection) -> S,
    mut between: impl FnMut(&mut S, usize, &mut Connection),
) {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut writer = node.conn();
    let mut missed = Vec::new();
    // Several iterations, as whether a rehash moves an unvisited key
    // below the cursor depends on the (per-process random) hash seed.
    for attempt in 0..attempts {
        let _: () = q(&mut c, &["FLUSHALL"]);
        let keys = fill(&mut c, &format!("stable:{attempt}:"), stable);
        let mut state = prepare(&mut c);
        let seen = scan_with(&mut c, |round| between(&mut state, round, &mut writer));
        missed.extend(keys.into_iter().filter(|k| !seen.contains(k)));
    }
    assert!(
        missed.is_empty(),
        "SCAN missed {} stable keys, e.g. {:?}",
        missed.len(),
        &missed[..missed.len().min(5)]
    );
}

/// SCAN's guarantee: a key present for the whole iteration is returned at
/// least once, even while other keys are added between calls (growing and
/// rehashing the shard tables under the cursor).
#[test]
fn scan_guarantee_holds_while_the_keyspace_grows() {
    assert_scan_guarantee(
        10,
        2000,
        |_| (),
        |_, round, writer| {
            // New keys between the first calls: 16000 on top of 2000 makes
            // every shard's table rehash about three times. Growth stops so
            // the iteration can finish.
            if round < 40 {
                fill(writer, &format!("churn:{round}:"), 400);
            }
        },
    );
}

/// Keys removed between SCAN calls must not make SCAN skip the keys that
/// stay, when the maintenance thread shrinks (rehashes) a shard's table once
/// it is under a quarter full.
#[test]
fn scan_guarantee_holds_while_keys_are_removed() {
    assert_scan_guarantee(
        5,
        1000,
        |c| fill(c, "doomed:", 3000).into_iter().collect::<Vec<_>>(),
        |doomed, _, writer| {
            if !doomed.is_empty() {
                let gone: Vec<String> = doomed.drain(..doomed.len().min(30)).collect();
                let _: i64 = redis::cmd("DEL").arg(gone).query(writer).expect("DEL");
            }
        },
    );
}

#[test]
fn randomkey_dbsize_flush() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["RANDOMKEY"]), Value::Nil);
    assert_eq!(v(&mut c, &["DBSIZE"]), Value::Int(0));
    let _: () = q(&mut c, &["SET", "only", "v"]);
    assert_eq!(v(&mut c, &["RANDOMKEY"]), bulk("only"));
    let keys = fill(&mut c, "k", 50);
    assert_eq!(v(&mut c, &["DBSIZE"]), Value::Int(51));
    for _ in 0..20 {
        let key: String = q(&mut c, &["RANDOMKEY"]);
        assert!(key == "only" || keys.contains(&key), "{key}");
    }
    // An expired key is never returned.
    let _: () = q(&mut c, &["FLUSHDB"]);
    let _: () = q(&mut c, &["SET", "exp", "v", "PX", "1"]);
    let _: () = q(&mut c, &["SET", "live", "v"]);
    assert!(eventually(DEADLINE, || q::<i64>(
        &mut c,
        &["EXISTS", "exp"]
    ) == 0));
    for _ in 0..20 {
        assert_eq!(v(&mut c, &["RANDOMKEY"]), bulk("live"));
    }
    assert_eq!(v(&mut c, &["FLUSHDB"]), Value::Okay);
    assert_eq!(v(&mut c, &["DBSIZE"]), Value::Int(0));
    assert_eq!(v(&mut c, &["RANDOMKEY"]), Value::Nil);
    fill(&mut c, "k", 10);
    assert_eq!(v(&mut c, &["FLUSHALL", "ASYNC"]), Value::Okay);
    assert_eq!(v(&mut c, &["DBSIZE"]), Value::Int(0));
    fill(&mut c, "k", 10);
    assert_eq!(v(&mut c, &["FLUSHDB", "sync"]), Value::Okay);
    assert_eq!(v(&mut c, &["DBSIZE"]), Value::Int(0));
    assert_eq!(v(&mut c, &["GET", "k1"]), Value::Nil);
    assert_eq!(err(&mut c, &["FLUSHDB", "BOGUS"]), SYNTAX);
    assert_eq!(err(&mut c, &["FLUSHALL", "ASYNC", "SYNC"]), SYNTAX);
    assert_arity_errors(&mut c, &["DBSIZE x", "RANDOMKEY x"]);
}
