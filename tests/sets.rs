//! End-to-end conformance of the set commands (SADD, SREM, SMEMBERS,
//! SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE, SINTER,
//! SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN)
//! with Redis 7 semantics in RESP2 and RESP3, against a real node (the
//! encodings are `set_encodings.rs`'s).

mod common;

use std::collections::{HashMap, HashSet};

use common::errors::{wrong_arity, INVALID_CURSOR, NOT_INTEGER, SYNTAX, WRONGTYPE};
use common::query::{assert_arity_errors, assert_errors, AssertReplies};
use common::wire::Frame;
use common::{bulk, err, q, v, TestServer};
use redis::{Connection, Value};

/// The members of a set reply, sorted.
fn sorted(mut members: Vec<String>) -> Vec<String> {
    members.sort();
    members
}

fn members(c: &mut Connection, key: &str) -> Vec<String> {
    sorted(q(c, &["SMEMBERS", key]))
}

fn encoding(c: &mut Connection, key: &str) -> String {
    q(c, &["OBJECT", "ENCODING", key])
}

fn words(list: &str) -> Vec<String> {
    list.split(' ').map(str::to_string).collect()
}

/// SADD of `members` in one command.
fn sadd(c: &mut Connection, key: &str, members: &[String]) -> i64 {
    let mut cmd = redis::cmd("SADD");
    cmd.arg(key).arg(members);
    cmd.query(c).expect("SADD")
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn sadd_srem_and_membership() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        // A repeated member counts once.
        (&["SADD", "s", "a", "b", "a", "1"], Value::Int(3)),
        (&["SADD", "s", "b", "c"], Value::Int(1)),
        (&["SCARD", "s"], Value::Int(4)),
        (&["SISMEMBER", "s", "a"], Value::Int(1)),
        (&["SISMEMBER", "s", "z"], Value::Int(0)),
        (&["SISMEMBER", "nokey", "a"], Value::Int(0)),
        (
            &["SMISMEMBER", "s", "a", "z", "1", "a"],
            Value::Array(vec![
                Value::Int(1),
                Value::Int(0),
                Value::Int(1),
                Value::Int(1),
            ]),
        ),
        (
            &["SMISMEMBER", "nokey", "a", "b"],
            Value::Array(vec![Value::Int(0), Value::Int(0)]),
        ),
        (&["SCARD", "nokey"], Value::Int(0)),
        (&["SMEMBERS", "nokey"], Value::Array(vec![])),
        // SREM counts what it removed.
        (&["SREM", "s", "a", "a", "zz"], Value::Int(1)),
        (&["SREM", "nokey", "a"], Value::Int(0)),
    ]);
    assert_eq!(members(&mut c, "s"), ["1", "b", "c"]);
    // Binary-safe and empty members; integers only in canonical text.
    let binary: &[u8] = b"m\r\n\0\xff";
    let added: i64 = redis::cmd("SADD")
        .arg("bin")
        .arg(binary)
        .arg("")
        .query(&mut c)
        .unwrap();
    assert_eq!(added, 2);
    let got: HashSet<Vec<u8>> = redis::cmd("SMEMBERS").arg("bin").query(&mut c).unwrap();
    assert_eq!(got, HashSet::from([binary.to_vec(), Vec::new()]));
    let found: i64 = redis::cmd("SISMEMBER")
        .arg("bin")
        .arg(binary)
        .query(&mut c)
        .unwrap();
    assert_eq!(found, 1);
    let _: i64 = q(&mut c, &["SADD", "ints", "1", "-5", "9223372036854775807"]);
    for absent in ["01", "+1", "1.0", " 1", "-05"] {
        assert_eq!(
            v(&mut c, &["SISMEMBER", "ints", absent]),
            Value::Int(0),
            "{absent}"
        );
        assert_eq!(
            v(&mut c, &["SREM", "ints", absent]),
            Value::Int(0),
            "{absent}"
        );
    }
    assert_eq!(members(&mut c, "ints"), ["-5", "1", "9223372036854775807"]);
    // Removing the last members removes the key, TTL and all.
    let _: i64 = q(&mut c, &["EXPIRE", "s", "1000"]);
    assert_eq!(v(&mut c, &["SREM", "s", "1", "b", "c", "x"]), Value::Int(3));
    assert_eq!(v(&mut c, &["EXISTS", "s"]), Value::Int(0));
    assert_eq!(v(&mut c, &["TTL", "s"]), Value::Int(-2));
    assert_eq!(v(&mut c, &["SADD", "s", "new"]), Value::Int(1));
    assert_eq!(v(&mut c, &["TTL", "s"]), Value::Int(-1));
    assert_eq!(v(&mut c, &["TYPE", "s"]), Value::SimpleString("set".into()));
    assert_arity_errors(
        &mut c,
        &[
            "SADD s",
            "SREM s",
            "SMEMBERS",
            "SISMEMBER s",
            "SMISMEMBER s",
            "SCARD",
            "SMEMBERS s t",
        ],
    );
}

#[test]
fn wrong_type_for_every_set_command() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: () = q(&mut c, &["SET", "str", "v"]);
    let _: i64 = q(&mut c, &["SADD", "s", "a"]);
    for request in [
        "SADD str a",
        "SREM str a",
        "SMEMBERS str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SCARD str",
        "SPOP str",
        "SPOP str 0",
        "SRANDMEMBER str",
        "SRANDMEMBER str -2",
        "SMOVE str s a",
        "SMOVE s str a",
        "SINTER s str",
        "SINTER nokey str",
        "SINTERCARD 2 nokey str",
        "SINTERSTORE d nokey str",
        "SUNION str",
        "SUNIONSTORE d s str",
        "SDIFF nokey str",
        "SDIFFSTORE d s str",
        "SSCAN str 0",
        "SSCAN str 0 BOGUS",
    ] {
        let words: Vec<&str> = request.split(' ').collect();
        assert_eq!(err(&mut c, &words), WRONGTYPE, "{request}");
    }
    // A missing source answers 0 before the destination's type matters.
    assert_eq!(v(&mut c, &["SMOVE", "nokey", "str", "a"]), Value::Int(0));
    assert_eq!(v(&mut c, &["GET", "str"]), bulk("v"));
    assert_eq!(v(&mut c, &["EXISTS", "d"]), Value::Int(0));
}

#[test]
fn spop_counts_shapes_and_errors() {
    let node = TestServer::start();
    let mut c = node.conn();
    let all = numbered("m", 0..20);
    sadd(&mut c, "s", &all);
    // One member: a bulk string, removed.
    let popped: String = q(&mut c, &["SPOP", "s"]);
    assert!(all.contains(&popped));
    assert_eq!(v(&mut c, &["SISMEMBER", "s", &popped]), Value::Int(0));
    // A count: distinct members, all removed.
    let mut seen: HashSet<String> = HashSet::from([popped]);
    for count in ["3", "12"] {
        let got: Vec<String> = q(&mut c, &["SPOP", "s", count]);
        assert_eq!(got.len(), count.parse::<usize>().unwrap());
        for m in got {
            assert!(all.contains(&m) && seen.insert(m.clone()), "{m}");
        }
    }
    assert_eq!(v(&mut c, &["SCARD", "s"]), Value::Int(4));
    assert_eq!(v(&mut c, &["SPOP", "s", "0"]), Value::Array(vec![]));
    // More than there is: the rest, and the key goes.
    let rest: Vec<String> = q(&mut c, &["SPOP", "s", "9223372036854775807"]);
    assert_eq!(rest.len(), 4);
    seen.extend(rest);
    assert_eq!(sorted(seen.into_iter().collect()), sorted(all));
    assert_eq!(v(&mut c, &["EXISTS", "s"]), Value::Int(0));
    // Missing keys: nil, or an empty set with a count.
    assert_eq!(v(&mut c, &["SPOP", "nokey"]), Value::Nil);
    assert_eq!(v(&mut c, &["SPOP", "nokey", "3"]), Value::Array(vec![]));
    // Popping the last member removes the key.
    let _: i64 = q(&mut c, &["SADD", "one", "x"]);
    assert_eq!(v(&mut c, &["SPOP", "one"]), bulk("x"));
    assert_eq!(v(&mut c, &["EXISTS", "one"]), Value::Int(0));
    // The count is checked before the key.
    let positive = "ERR value is out of range, must be positive";
    assert_errors(
        &mut c,
        &[
            (&["SPOP", "s", "-1"], positive),
            (&["SPOP", "nokey", "-1"], positive),
            (&["SPOP", "s", "x"], positive),
            (&["SPOP", "s", "1.5"], positive),
            (&["SPOP", "s", "1", "2"], SYNTAX),
        ],
    );
    assert_arity_errors(&mut c, &["SPOP"]);
    // Every encoding pops its own members.
    for list in ["1 2 3 4 5 6 7 8 9 10", "a b c d e f g h i j"] {
        let members = words(list);
        sadd(&mut c, "e", &members);
        let mut got: Vec<String> = q(&mut c, &["SPOP", "e", "9"]);
        got.extend(q::<Vec<String>>(&mut c, &["SMEMBERS", "e"]));
        assert_eq!(sorted(got), sorted(members));
        let _: i64 = q(&mut c, &["DEL", "e"]);
    }
}

#[test]
fn srandmember_counts_shapes_and_errors() {
    let node = TestServer::start();
    let mut c = node.conn();
    for (key, list) in [
        ("ints", "1 2 3 4 5 6 7 8 9 10"),
        ("words", "a b c d e f g h i j"),
    ] {
        let all: HashSet<String> = words(list).into_iter().collect();
        sadd(&mut c, key, &words(list));
        for _ in 0..20 {
            let one: String = q(&mut c, &["SRANDMEMBER", key]);
            assert!(all.contains(&one));
        }
        // Positive: distinct, at most all.
        for n in [1usize, 5, 10, 11, 9_223_372_036_854_775_807] {
            let got: Vec<String> = q(&mut c, &["SRANDMEMBER", key, &n.to_string()]);
            let distinct: HashSet<&String> = got.iter().collect();
            assert_eq!((got.len(), distinct.len()), (n.min(10), n.min(10)), "{n}");
            assert!(got.iter().all(|m| all.contains(m)));
        }
        // Negative: exactly that many, repeats allowed.
        let got: Vec<String> = q(&mut c, &["SRANDMEMBER", key, "-100"]);
        assert_eq!(got.len(), 100);
        assert!(got.iter().all(|m| all.contains(m)));
        assert!(got.iter().collect::<HashSet<_>>().len() < 100, "repeats");
        assert_eq!(
            v(&mut c, &["SCARD", key]),
            Value::Int(10),
            "nothing removed"
        );
    }
    // Every member comes out, about as often as the others.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..10 {
        for m in q::<Vec<String>>(&mut c, &["SRANDMEMBER", "words", "-1000"]) {
            *counts.entry(m).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), 10);
    assert!(
        counts.values().all(|&n| (700..1300).contains(&n)),
        "{counts:?}"
    );
    assert_eq!(
        v(&mut c, &["SRANDMEMBER", "words", "0"]),
        Value::Array(vec![])
    );
    assert_eq!(v(&mut c, &["SRANDMEMBER", "nokey"]), Value::Nil);
    assert_eq!(
        v(&mut c, &["SRANDMEMBER", "nokey", "5"]),
        Value::Array(vec![])
    );
    assert_eq!(
        v(&mut c, &["SRANDMEMBER", "nokey", "-5"]),
        Value::Array(vec![])
    );
    assert_errors(
        &mut c,
        &[
            (&["SRANDMEMBER", "words", "x"], NOT_INTEGER),
            (&["SRANDMEMBER", "nokey", "x"], NOT_INTEGER),
            (&["SRANDMEMBER", "words", "1", "2"], SYNTAX),
            (
                &["SRANDMEMBER", "words", "-9223372036854775808"],
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ),
            // Repeated picks are capped so one request cannot exhaust
            // memory (a documented difference from Redis).
            (
                &["SRANDMEMBER", "words", "-1000001"],
                "ERR value is out of range, a negative count must be at least -1000000",
            ),
        ],
    );
    assert_arity_errors(&mut c, &["SRANDMEMBER"]);
}

#[test]
fn smove_moves_one_member() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        (&["SADD", "src", "a", "b", "1"], Value::Int(3)),
        (&["SADD", "dst", "c"], Value::Int(1)),
        (&["SMOVE", "src", "dst", "a"], Value::Int(1)),
        (&["SMOVE", "src", "dst", "a"], Value::Int(0)),
        (&["SMOVE", "src", "dst", "zz"], Value::Int(0)),
        // Already in the destination: still moved out of the source.
        (&["SADD", "dst", "b"], Value::Int(1)),
        (&["SMOVE", "src", "dst", "b"], Value::Int(1)),
        // The same key: 1 if a member, nothing changes.
        (&["SMOVE", "dst", "dst", "c"], Value::Int(1)),
        (&["SMOVE", "dst", "dst", "zz"], Value::Int(0)),
        (&["SMOVE", "nokey", "dst", "a"], Value::Int(0)),
        // The last member leaves: the source goes; a new destination is
        // created.
        (&["EXPIRE", "src", "1000"], Value::Int(1)),
        (&["SMOVE", "src", "new", "1"], Value::Int(1)),
        (&["EXISTS", "src"], Value::Int(0)),
        (&["SMEMBERS", "new"], Value::Array(vec![bulk("1")])),
        (&["TTL", "new"], Value::Int(-1)),
    ]);
    assert_eq!(members(&mut c, "dst"), ["a", "b", "c"]);
    assert_eq!(encoding(&mut c, "new"), "intset");
    let _: i64 = q(&mut c, &["SMOVE", "dst", "fresh", "a"]);
    assert_eq!(encoding(&mut c, "fresh"), "listpack");
    assert_arity_errors(&mut c, &["SMOVE a b", "SMOVE a b c d"]);
}

#[test]
fn intersections_unions_and_differences() {
    let node = TestServer::start();
    let mut c = node.conn();
    sadd(&mut c, "a", &words("1 2 3 x y"));
    sadd(&mut c, "b", &words("2 3 4 y z"));
    sadd(&mut c, "c", &words("3 y q"));
    let cases: [(&[&str], &str); 12] = [
        (&["SINTER", "a", "b"], "2 3 y"),
        (&["SINTER", "a", "b", "c"], "3 y"),
        (&["SINTER", "a"], "1 2 3 x y"),
        (&["SINTER", "a", "a"], "1 2 3 x y"),
        (&["SINTER", "a", "nokey"], ""),
        (&["SUNION", "a", "b"], "1 2 3 4 x y z"),
        (&["SUNION", "a", "nokey", "c"], "1 2 3 q x y"),
        (&["SUNION", "nokey"], ""),
        (&["SDIFF", "a", "b"], "1 x"),
        (&["SDIFF", "a", "b", "c"], "1 x"),
        (&["SDIFF", "a", "nokey"], "1 2 3 x y"),
        (&["SDIFF", "a", "c", "a"], ""),
    ];
    for (request, expected) in cases {
        let got: Vec<String> = q(&mut c, request);
        let expected: Vec<String> = expected.split_whitespace().map(str::to_string).collect();
        assert_eq!(sorted(got), sorted(expected), "{request:?}");
    }
    assert_eq!(v(&mut c, &["SDIFF", "nokey", "a"]), Value::Array(vec![]));
    // SINTERCARD: the size, at most LIMIT (0: no limit).
    c.assert_replies(&[
        (&["SINTERCARD", "2", "a", "b"], Value::Int(3)),
        (&["SINTERCARD", "2", "a", "b", "LIMIT", "2"], Value::Int(2)),
        (&["SINTERCARD", "2", "a", "b", "limit", "0"], Value::Int(3)),
        (
            &["SINTERCARD", "2", "a", "b", "LIMIT", "9", "LIMIT", "1"],
            Value::Int(1),
        ),
        (&["SINTERCARD", "1", "c"], Value::Int(3)),
        (&["SINTERCARD", "2", "a", "nokey"], Value::Int(0)),
    ]);
    assert_errors(
        &mut c,
        &[
            (
                &["SINTERCARD", "0", "a"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["SINTERCARD", "x", "a"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["SINTERCARD", "-1", "a"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["SINTERCARD", "3", "a", "b"],
                "ERR Number of keys can't be greater than number of args",
            ),
            (
                &["SINTERCARD", "1", "a", "LIMIT", "-1"],
                "ERR LIMIT can't be negative",
            ),
            (
                &["SINTERCARD", "1", "a", "LIMIT", "x"],
                "ERR LIMIT can't be negative",
            ),
            (&["SINTERCARD", "1", "a", "LIMIT"], SYNTAX),
            (&["SINTERCARD", "1", "a", "b"], SYNTAX),
        ],
    );
    assert_arity_errors(
        &mut c,
        &[
            "SINTER",
            "SUNION",
            "SDIFF",
            "SINTERCARD 1",
            "SINTERSTORE d",
            "SUNIONSTORE d",
            "SDIFFSTORE d",
        ],
    );
}

#[test]
fn stores_replace_the_destination_or_delete_it() {
    let node = TestServer::start();
    let mut c = node.conn();
    sadd(&mut c, "a", &words("1 2 3 x"));
    sadd(&mut c, "b", &words("2 3 y"));
    // A string destination with a TTL is replaced, TTL and all.
    let _: () = q(&mut c, &["SET", "d", "string", "EX", "1000"]);
    c.assert_replies(&[
        (&["SINTERSTORE", "d", "a", "b"], Value::Int(2)),
        (&["TYPE", "d"], Value::SimpleString("set".into())),
        (&["TTL", "d"], Value::Int(-1)),
        (&["SUNIONSTORE", "d", "a", "b"], Value::Int(5)),
        (&["SDIFFSTORE", "d", "a", "b"], Value::Int(2)),
    ]);
    assert_eq!(members(&mut c, "d"), ["1", "x"]);
    // A destination that is also a source is read first.
    assert_eq!(v(&mut c, &["SUNIONSTORE", "a", "a", "b"]), Value::Int(5));
    assert_eq!(members(&mut c, "a"), ["1", "2", "3", "x", "y"]);
    assert_eq!(v(&mut c, &["SDIFFSTORE", "a", "a", "b"]), Value::Int(2));
    assert_eq!(members(&mut c, "a"), ["1", "x"]);
    // An empty result deletes the destination, whatever it held.
    for (i, request) in [
        &["SINTERSTORE", "d", "a", "b"][..],
        &["SINTERSTORE", "d", "a", "nokey"],
        &["SDIFFSTORE", "d", "a", "a"],
        &["SUNIONSTORE", "d", "nokey"],
    ]
    .into_iter()
    .enumerate()
    {
        if i % 2 == 0 {
            let _: () = q(&mut c, &["SET", "d", "string"]);
        } else {
            let _: i64 = q(&mut c, &["SADD", "d", "old"]);
        }
        assert_eq!(v(&mut c, request), Value::Int(0), "{request:?}");
        assert_eq!(v(&mut c, &["EXISTS", "d"]), Value::Int(0), "{request:?}");
    }
    assert_eq!(v(&mut c, &["SDIFFSTORE", "d", "nokey", "a"]), Value::Int(0));
    assert_eq!(v(&mut c, &["EXISTS", "d"]), Value::Int(0));
    // A failed STORE leaves the destination alone.
    let _: i64 = q(&mut c, &["SADD", "d", "kept"]);
    let _: () = q(&mut c, &["SET", "str", "v"]);
    assert_eq!(err(&mut c, &["SUNIONSTORE", "d", "a", "str"]), WRONGTYPE);
    assert_eq!(members(&mut c, "d"), ["kept"]);
}

/// Iterates SSCAN with `options` to cursor 0; returns what it saw and the
/// number of calls.
fn sscan_all(c: &mut Connection, key: &str, options: &[&str]) -> (HashSet<String>, usize) {
    let mut cursor = "0".to_string();
    let mut found = HashSet::new();
    for call in 1.. {
        assert!(call < 100_000, "SSCAN did not finish");
        let mut args = vec!["SSCAN", key, cursor.as_str()];
        args.extend_from_slice(options);
        let (next, page): (String, Vec<String>) = q(c, &args);
        found.extend(page);
        if next == "0" {
            return (found, call);
        }
        cursor = next;
    }
    unreachable!()
}

#[test]
fn sscan_returns_every_member() {
    let node = TestServer::start();
    let mut c = node.conn();
    // A compact set comes in one call, whatever the cursor and COUNT.
    sadd(&mut c, "small", &words("1 2 3 a b"));
    assert_eq!(
        sscan_all(&mut c, "small", &["COUNT", "1"]),
        (words("1 2 3 a b").into_iter().collect(), 1)
    );
    let (next, page): (String, Vec<String>) = q(&mut c, &["SSCAN", "small", "12345"]);
    assert_eq!((next.as_str(), page.len()), ("0", 5));
    // A table comes in pages of about COUNT members.
    let all = numbered("member:", 0..2000);
    sadd(&mut c, "big", &all);
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    let expected: HashSet<String> = all.iter().cloned().collect();
    for (options, fewest_calls) in [
        (&[][..], 100),
        (&["COUNT", "1"][..], 1000),
        (&["COUNT", "5000"][..], 1),
    ] {
        let (found, calls) = sscan_all(&mut c, "big", options);
        assert_eq!(found, expected, "{options:?}");
        assert!(calls >= fewest_calls, "{options:?}: {calls} calls");
    }
    // Members present throughout are all returned while the set grows.
    let mut cursor = "0".to_string();
    let mut found = HashSet::new();
    for call in 0.. {
        let (next, page): (String, Vec<String>) =
            q(&mut c, &["SSCAN", "big", &cursor, "COUNT", "20"]);
        found.extend(page);
        if call < 30 {
            sadd(&mut c, "big", &numbered(&format!("grown{call}:"), 0..100));
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert!(expected.is_subset(&found));
    // MATCH filters members; a lone `*` keeps the empty member.
    let (found, _) = sscan_all(&mut c, "big", &["MATCH", "member:1?", "COUNT", "100"]);
    assert_eq!(found, numbered("member:", 10..20).into_iter().collect());
    sadd(&mut c, "withempty", &["".to_string(), "x".to_string()]);
    assert_eq!(sscan_all(&mut c, "withempty", &["MATCH", "*"]).0.len(), 2);
    let _: i64 = q(&mut c, &["SADD", "ints", "10", "11", "20"]);
    assert_eq!(
        sscan_all(&mut c, "ints", &["MATCH", "1*"]).0,
        words("10 11").into_iter().collect()
    );
    // A missing key is an empty scan, whatever the options.
    for request in [
        &["SSCAN", "nokey", "0"][..],
        &["SSCAN", "nokey", "0", "BOGUS"],
    ] {
        assert_eq!(
            v(&mut c, request),
            Value::Array(vec![bulk("0"), Value::Array(vec![])])
        );
    }
    assert_errors(
        &mut c,
        &[
            (&["SSCAN", "small", "x"], INVALID_CURSOR),
            (&["SSCAN", "nokey", "x"], INVALID_CURSOR),
            (&["SSCAN", "small", "0", "COUNT", "0"], SYNTAX),
            (&["SSCAN", "small", "0", "COUNT", "x"], NOT_INTEGER),
            (&["SSCAN", "small", "0", "MATCH"], SYNTAX),
            (&["SSCAN", "small", "0", "TYPE", "set"], SYNTAX),
            (&["SSCAN", "small", "0", "NOVALUES"], SYNTAX),
        ],
    );
    assert_eq!(err(&mut c, &["SSCAN", "small"]), wrong_arity("sscan"));
}

#[test]
fn resp3_sets_and_raw_replies() {
    let node = TestServer::start();
    let mut raw = node.raw();
    raw.assert_replies(&[
        (&["SADD", "s", "1", "2"], ":2\r\n"),
        (&["SMEMBERS", "s"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
        (&["SPOP", "nokey"], "$-1\r\n"),
        (&["SPOP", "nokey", "1"], "*0\r\n"),
        (&["SRANDMEMBER", "nokey"], "$-1\r\n"),
    ]);
    raw.hello(3);
    raw.assert_replies(&[
        (&["SMEMBERS", "s"], "~2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
        (&["SMEMBERS", "nokey"], "~0\r\n"),
        (&["SINTER", "s", "s"], "~2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
        (&["SUNION", "nokey"], "~0\r\n"),
        (&["SDIFF", "s", "nokey"], "~2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
        (&["SPOP", "nokey"], "_\r\n"),
        (&["SPOP", "nokey", "2"], "~0\r\n"),
        (&["SPOP", "s", "0"], "~0\r\n"),
        (&["SRANDMEMBER", "nokey"], "_\r\n"),
        (&["SRANDMEMBER", "nokey", "2"], "*0\r\n"),
        (&["SRANDMEMBER", "s", "5"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
        (&["SMISMEMBER", "s", "1", "3"], "*2\r\n:1\r\n:0\r\n"),
        (
            &["SSCAN", "s", "0"],
            "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
        ),
        (&["SINTERCARD", "1", "s"], ":2\r\n"),
    ]);
    match raw.call(&["SPOP", "s", "2"]) {
        Frame::Set(items) => assert_eq!(items.len(), 2),
        other => panic!("SPOP with a count in RESP3 answered {other:?}"),
    }
}

#[test]
fn sintercard_counts_large_sets_up_to_the_limit() {
    let node = TestServer::start();
    let mut c = node.conn();
    // Hash-table sets: 3,000 members in common among 5,000 and 4,000; a
    // third set shares 500 of them.
    sadd(&mut c, "big", &numbered("m", 0..5000));
    sadd(&mut c, "mid", &numbered("m", 2000..6000));
    sadd(&mut c, "few", &numbered("m", 4000..4500));
    sadd(&mut c, "few", &numbered("x", 0..500));
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    for (limit, expected) in [
        (0, 3000),
        (1, 1),
        (511, 511),
        (513, 513),
        (2999, 2999),
        (3000, 3000),
        (9000, 3000),
    ] {
        let limit = limit.to_string();
        let got: i64 = q(&mut c, &["SINTERCARD", "2", "big", "mid", "LIMIT", &limit]);
        assert_eq!(got, expected, "LIMIT {limit}");
    }
    let three: i64 = q(&mut c, &["SINTERCARD", "3", "big", "mid", "few"]);
    assert_eq!(three, 500);
    let limited: i64 = q(
        &mut c,
        &["SINTERCARD", "3", "big", "mid", "few", "LIMIT", "200"],
    );
    assert_eq!(limited, 200);
    // The same key twice is the set itself.
    let itself: i64 = q(&mut c, &["SINTERCARD", "2", "big", "big"]);
    assert_eq!(itself, 5000);
    let sinter: Vec<String> = q(&mut c, &["SINTER", "big", "mid"]);
    assert_eq!(sinter.len(), 3000);
}
