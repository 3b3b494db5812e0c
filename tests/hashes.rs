//! End-to-end conformance of the hash commands (HSET, HSETNX, HGET, HMGET,
//! HMSET, HGETALL, HDEL, HEXISTS, HLEN, HKEYS, HVALS, HSTRLEN, HINCRBY,
//! HINCRBYFLOAT, HRANDFIELD, HSCAN) with Redis 7 semantics, in RESP2 and
//! RESP3, against a real node.

mod common;

use std::collections::{HashMap, HashSet};

use common::errors::{
    wrong_arity, FLOAT_RESULT_NAN_OR_INFINITY, INVALID_CURSOR, NAN_OR_INFINITY, NOT_FLOAT,
    NOT_INTEGER, OVERFLOW, SYNTAX, WRONGTYPE,
};
use common::query::{assert_arity_errors, AssertReplies};
use common::wire::Frame;
use common::{bulk, err, q, v, TestServer};
use redis::Value;

#[test]
fn hset_hget_hmget_hmset_hsetnx() {
    let node = TestServer::start();
    let mut c = node.conn();
    // HSET answers the number of new fields; a repeated field counts once.
    assert_eq!(
        v(&mut c, &["HSET", "h", "a", "1", "b", "2", "a", "3"]),
        Value::Int(2)
    );
    assert_eq!(v(&mut c, &["HGET", "h", "a"]), bulk("3"));
    assert_eq!(v(&mut c, &["HSET", "h", "a", "4", "c", "5"]), Value::Int(1));
    assert_eq!(v(&mut c, &["HGET", "h", "a"]), bulk("4"));
    assert_eq!(v(&mut c, &["HGET", "h", "missing"]), Value::Nil);
    assert_eq!(v(&mut c, &["HGET", "nokey", "a"]), Value::Nil);
    // Binary-safe fields and values, and empty ones.
    let _: i64 = redis::cmd("HSET")
        .arg("h")
        .arg(&b"f\r\n\0"[..])
        .arg(&b"v\0\xff"[..])
        .query(&mut c)
        .unwrap();
    let value: Vec<u8> = redis::cmd("HGET")
        .arg("h")
        .arg(&b"f\r\n\0"[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(value, b"v\0\xff");
    assert_eq!(v(&mut c, &["HSET", "h", "", ""]), Value::Int(1));
    assert_eq!(v(&mut c, &["HGET", "h", ""]), bulk(""));
    // HMGET: nil per missing field, also for a missing key.
    assert_eq!(
        v(&mut c, &["HMGET", "h", "a", "missing", "b", "a"]),
        Value::Array(vec![bulk("4"), Value::Nil, bulk("2"), bulk("4")])
    );
    assert_eq!(
        v(&mut c, &["HMGET", "nokey", "a", "b"]),
        Value::Array(vec![Value::Nil, Value::Nil])
    );
    // HMSET answers OK.
    assert_eq!(v(&mut c, &["HMSET", "h", "d", "6", "a", "7"]), Value::Okay);
    assert_eq!(
        v(&mut c, &["HMGET", "h", "d", "a"]),
        Value::Array(vec![bulk("6"), bulk("7")])
    );
    // HSETNX only adds.
    assert_eq!(v(&mut c, &["HSETNX", "h", "a", "x"]), Value::Int(0));
    assert_eq!(v(&mut c, &["HGET", "h", "a"]), bulk("7"));
    assert_eq!(v(&mut c, &["HSETNX", "h", "new", "x"]), Value::Int(1));
    assert_eq!(v(&mut c, &["HSETNX", "fresh", "f", "x"]), Value::Int(1));
    assert_eq!(v(&mut c, &["HGET", "fresh", "f"]), bulk("x"));
    // Arity: odd field/value lists name the command.
    for args in [
        &["HSET", "h"][..],
        &["HSET", "h", "f"],
        &["HSET", "h", "f", "v", "g"],
    ] {
        assert_eq!(err(&mut c, args), wrong_arity("hset"), "{args:?}");
    }
    assert_arity_errors(
        &mut c,
        &["HMSET h f v g", "HSETNX h f", "HGET h", "HMGET h"],
    );
    // Nothing was created by the failed HSETs.
    assert_eq!(v(&mut c, &["HGET", "h", "g"]), Value::Nil);
}

#[test]
fn whole_hash_listings() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    let all: HashMap<String, String> = q(&mut c, &["HGETALL", "h"]);
    let expected: HashMap<String, String> = [("a", "1"), ("b", "2"), ("c", "3")]
        .into_iter()
        .map(|(f, v)| (f.to_string(), v.to_string()))
        .collect();
    assert_eq!(all, expected);
    // RESP2 HGETALL is a flat array of field, value, field, value.
    match v(&mut c, &["HGETALL", "h"]) {
        Value::Array(items) => {
            assert_eq!(items.len(), 6);
            for pair in items.chunks(2) {
                let (Value::BulkString(f), Value::BulkString(val)) = (&pair[0], &pair[1]) else {
                    panic!("{pair:?}");
                };
                assert_eq!(
                    expected[&String::from_utf8_lossy(f).to_string()],
                    String::from_utf8_lossy(val)
                );
            }
        }
        other => panic!("HGETALL answered {other:?}"),
    }
    let mut keys: Vec<String> = q(&mut c, &["HKEYS", "h"]);
    keys.sort();
    assert_eq!(keys, ["a", "b", "c"]);
    let mut vals: Vec<String> = q(&mut c, &["HVALS", "h"]);
    vals.sort();
    assert_eq!(vals, ["1", "2", "3"]);
    assert_eq!(v(&mut c, &["HLEN", "h"]), Value::Int(3));
    // A missing key is an empty hash.
    assert_eq!(v(&mut c, &["HGETALL", "nokey"]), Value::Array(vec![]));
    assert_eq!(v(&mut c, &["HKEYS", "nokey"]), Value::Array(vec![]));
    assert_eq!(v(&mut c, &["HVALS", "nokey"]), Value::Array(vec![]));
    assert_eq!(v(&mut c, &["HLEN", "nokey"]), Value::Int(0));
    // A larger hash comes back whole.
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("HSET")
            .arg("big")
            .arg(format!("f{i}"))
            .arg(i)
            .ignore();
    }
    let _: () = pipe.query(&mut c).expect("fill");
    let big: HashMap<String, i64> = q(&mut c, &["HGETALL", "big"]);
    assert_eq!(big.len(), 1000);
    assert!((0..1000).all(|i| big[&format!("f{i}")] == i));
    assert_eq!(v(&mut c, &["HLEN", "big"]), Value::Int(1000));
}

#[test]
fn hdel_hexists_hstrlen_and_emptied_hash_disappears() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["HSET", "h", "a", "hello", "b", "", "c", "3"]);
    assert_eq!(v(&mut c, &["HEXISTS", "h", "a"]), Value::Int(1));
    assert_eq!(v(&mut c, &["HEXISTS", "h", "z"]), Value::Int(0));
    assert_eq!(v(&mut c, &["HEXISTS", "nokey", "a"]), Value::Int(0));
    assert_eq!(v(&mut c, &["HSTRLEN", "h", "a"]), Value::Int(5));
    assert_eq!(v(&mut c, &["HSTRLEN", "h", "b"]), Value::Int(0));
    assert_eq!(v(&mut c, &["HSTRLEN", "h", "z"]), Value::Int(0));
    assert_eq!(v(&mut c, &["HSTRLEN", "nokey", "a"]), Value::Int(0));
    // HDEL counts fields actually removed.
    assert_eq!(v(&mut c, &["HDEL", "h", "a", "a", "z"]), Value::Int(1));
    assert_eq!(v(&mut c, &["HDEL", "nokey", "a"]), Value::Int(0));
    assert_eq!(v(&mut c, &["HLEN", "h"]), Value::Int(2));
    // Removing the last fields removes the key, TTL and all.
    let _: i64 = q(&mut c, &["EXPIRE", "h", "1000"]);
    assert_eq!(v(&mut c, &["HDEL", "h", "b", "c", "z"]), Value::Int(2));
    assert_eq!(v(&mut c, &["EXISTS", "h"]), Value::Int(0));
    assert_eq!(
        v(&mut c, &["TYPE", "h"]),
        Value::SimpleString("none".into())
    );
    assert_eq!(v(&mut c, &["TTL", "h"]), Value::Int(-2));
    assert_eq!(v(&mut c, &["DBSIZE"]), Value::Int(0));
    assert_eq!(
        q::<Vec<String>>(&mut c, &["KEYS", "*"]),
        Vec::<String>::new()
    );
    // The name is free for any type again, and a new hash has no TTL.
    assert_eq!(v(&mut c, &["SET", "h", "s"]), Value::Okay);
    assert_eq!(v(&mut c, &["DEL", "h"]), Value::Int(1));
    assert_eq!(v(&mut c, &["HSET", "h", "x", "1"]), Value::Int(1));
    assert_eq!(v(&mut c, &["TTL", "h"]), Value::Int(-1));
    assert_arity_errors(&mut c, &["HDEL h"]);
}

#[test]
fn failed_writes_to_a_missing_key_leave_no_empty_hash() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(err(&mut c, &["HINCRBY", "h", "f", "abc"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["HINCRBYFLOAT", "h", "f", "abc"]), NOT_FLOAT);
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "f", "inf"]),
        NAN_OR_INFINITY
    );
    assert_eq!(v(&mut c, &["HDEL", "h", "f"]), Value::Int(0));
    assert_eq!(v(&mut c, &["EXISTS", "h"]), Value::Int(0));
    assert_eq!(v(&mut c, &["DBSIZE"]), Value::Int(0));
}

#[test]
fn hincrby_counts_and_errors() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["HINCRBY", "h", "n", "5"]), Value::Int(5));
    assert_eq!(v(&mut c, &["HINCRBY", "h", "n", "-7"]), Value::Int(-2));
    assert_eq!(v(&mut c, &["HINCRBY", "h", "n", "0"]), Value::Int(-2));
    assert_eq!(v(&mut c, &["HGET", "h", "n"]), bulk("-2"));
    assert_eq!(err(&mut c, &["HINCRBY", "h", "n", "1.5"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["HINCRBY", "h", "n", "abc"]), NOT_INTEGER);
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "n", "9223372036854775808"]),
        NOT_INTEGER
    );
    for bad in ["abc", " 1", "1.0", "01", ""] {
        let _: i64 = q(&mut c, &["HSET", "h", "bad", bad]);
        assert_eq!(
            err(&mut c, &["HINCRBY", "h", "bad", "1"]),
            "ERR hash value is not an integer",
            "{bad:?}"
        );
        assert_eq!(v(&mut c, &["HGET", "h", "bad"]), bulk(bad));
    }
    let overflow = OVERFLOW;
    let _: i64 = q(
        &mut c,
        &[
            "HSET",
            "h",
            "max",
            "9223372036854775807",
            "min",
            "-9223372036854775808",
        ],
    );
    assert_eq!(err(&mut c, &["HINCRBY", "h", "max", "1"]), overflow);
    assert_eq!(err(&mut c, &["HINCRBY", "h", "min", "-1"]), overflow);
    assert_eq!(
        v(&mut c, &["HGET", "h", "max"]),
        bulk("9223372036854775807")
    );
    assert_eq!(
        v(&mut c, &["HINCRBY", "h", "min", "9223372036854775807"]),
        Value::Int(-1)
    );
    // The hash's TTL survives.
    let _: i64 = q(&mut c, &["EXPIRE", "h", "1000"]);
    assert_eq!(v(&mut c, &["HINCRBY", "h", "n", "1"]), Value::Int(-1));
    let ttl: i64 = q(&mut c, &["TTL", "h"]);
    assert!((990..=1000).contains(&ttl), "{ttl}");
    assert_arity_errors(&mut c, &["HINCRBY h n"]);
}

#[test]
fn hincrbyfloat_results_and_errors() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        // The examples of the Redis documentation.
        (&["HSET", "h", "f", "10.50"], Value::Int(1)),
        (&["HINCRBYFLOAT", "h", "f", "0.1"], bulk("10.6")),
        (&["HINCRBYFLOAT", "h", "f", "-5"], bulk("5.6")),
        (&["HSET", "h", "f", "5.0e3"], Value::Int(0)),
        (&["HINCRBYFLOAT", "h", "f", "2.0e2"], bulk("5200")),
        (&["HGET", "h", "f"], bulk("5200")),
        (&["HSET", "h", "g", "5000"], Value::Int(1)),
        (&["HINCRBYFLOAT", "h", "g", "10.6"], bulk("5010.6")),
        (&["HINCRBYFLOAT", "h", "new", "1.5"], bulk("1.5")),
        (&["HINCRBYFLOAT", "h", "new", "-1.5"], bulk("0")),
        (&["HSET", "h", "big", "17179869184"], Value::Int(1)),
        (&["HINCRBYFLOAT", "h", "big", "1.5"], bulk("17179869185.5")),
        (&["HINCRBYFLOAT", "h", "e", "1e10"], bulk("10000000000")),
    ]);
    // Errors.
    // An infinite increment is refused by itself, with its own message.
    for (increment, error) in [
        ("abc", NOT_FLOAT),
        ("nan", NOT_FLOAT),
        ("1 ", NOT_FLOAT),
        ("inf", NAN_OR_INFINITY),
        ("-inf", NAN_OR_INFINITY),
    ] {
        assert_eq!(err(&mut c, &["HINCRBYFLOAT", "h", "f", increment]), error);
    }
    let _: i64 = q(&mut c, &["HSET", "h", "huge", "1.5e308"]);
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "huge", "1.5e308"]),
        FLOAT_RESULT_NAN_OR_INFINITY
    );
    for bad in ["abc", " 1", "1.5.5"] {
        let _: i64 = q(&mut c, &["HSET", "h", "bad", bad]);
        assert_eq!(
            err(&mut c, &["HINCRBYFLOAT", "h", "bad", "1"]),
            "ERR hash value is not a float",
            "{bad:?}"
        );
    }
    assert_eq!(v(&mut c, &["HGET", "h", "f"]), bulk("5200"));
}

#[test]
fn wrong_type_for_every_hash_command() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: () = q(&mut c, &["SET", "s", "string"]);
    for request in [
        "HSET s f v",
        "HMSET s f v",
        "HSETNX s f v",
        "HGET s f",
        "HMGET s f",
        "HGETALL s",
        "HDEL s f",
        "HEXISTS s f",
        "HLEN s",
        "HKEYS s",
        "HVALS s",
        "HSTRLEN s f",
        "HINCRBY s f 1",
        "HINCRBYFLOAT s f 1",
        "HRANDFIELD s",
        "HRANDFIELD s 2",
        "HRANDFIELD s -2 WITHVALUES",
        "HSCAN s 0",
    ] {
        let words: Vec<&str> = request.split(' ').collect();
        assert_eq!(err(&mut c, &words), WRONGTYPE, "{request}");
    }
    assert_eq!(
        v(&mut c, &["GET", "s"]),
        bulk("string"),
        "the string is untouched"
    );
}

/// HRANDFIELD on a hashtable-encoded hash: picks by random probes (a
/// count small against the hash, no count, a negative count) and by a
/// shuffle (a large count) alike give fields of the hash with their
/// values, distinct where they must be.
#[test]
fn hrandfield_on_a_large_hash() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut hset = redis::cmd("HSET");
    hset.arg("big");
    for i in 0..1000 {
        hset.arg(format!("f{i}")).arg(format!("v{i}"));
    }
    let _: i64 = hset.query(&mut c).unwrap();
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "big"]),
        "hashtable"
    );
    let is_field = |f: &str| {
        f.strip_prefix('f')
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n < 1000)
    };
    let one: String = q(&mut c, &["HRANDFIELD", "big"]);
    assert!(is_field(&one), "{one}");
    for count in [5usize, 333, 334, 500, 1000, 2000] {
        let got: Vec<String> = q(&mut c, &["HRANDFIELD", "big", &count.to_string()]);
        let distinct: HashSet<&String> = got.iter().collect();
        assert_eq!(got.len(), count.min(1000), "count {count}");
        assert_eq!(distinct.len(), got.len(), "count {count} repeated a field");
        assert!(got.iter().all(|f| is_field(f)), "count {count}");
    }
    for count in ["7", "-300"] {
        let flat: Vec<String> = q(&mut c, &["HRANDFIELD", "big", count, "WITHVALUES"]);
        assert_eq!(
            flat.len(),
            2 * count.trim_start_matches('-').parse::<usize>().unwrap()
        );
        for pair in flat.chunks(2) {
            assert_eq!(pair[1], format!("v{}", &pair[0][1..]), "count {count}");
        }
    }
}

#[test]
fn hrandfield_counts() {
    let node = TestServer::start();
    let mut c = node.conn();
    let fields: HashMap<String, String> = (0..10)
        .map(|i| (format!("f{i}"), format!("v{i}")))
        .collect();
    for (f, val) in &fields {
        let _: i64 = q(&mut c, &["HSET", "h", f, val]);
    }
    // No count: one field as a bulk string.
    for _ in 0..20 {
        match v(&mut c, &["HRANDFIELD", "h"]) {
            Value::BulkString(f) => assert!(fields.contains_key(&*String::from_utf8_lossy(&f))),
            other => panic!("{other:?}"),
        }
    }
    // Positive count: distinct fields, at most all of them.
    for n in [1usize, 5, 10, 11, 100, 9_223_372_036_854_775_807] {
        let got: Vec<String> = q(&mut c, &["HRANDFIELD", "h", &n.to_string()]);
        let distinct: HashSet<&String> = got.iter().collect();
        assert_eq!(got.len(), n.min(10), "count {n}");
        assert_eq!(distinct.len(), got.len(), "count {n} repeated a field");
        assert!(got.iter().all(|f| fields.contains_key(f)));
    }
    // Negative count: exactly that many, repeats allowed.
    for n in [1usize, 5, 25] {
        let got: Vec<String> = q(&mut c, &["HRANDFIELD", "h", &format!("-{n}")]);
        assert_eq!(got.len(), n);
        assert!(got.iter().all(|f| fields.contains_key(f)));
    }
    // With 25 picks from a 2-field hash, a repeat is certain.
    let _: i64 = q(&mut c, &["HSET", "small", "a", "1", "b", "2"]);
    let got: Vec<String> = q(&mut c, &["HRANDFIELD", "small", "-25"]);
    assert_eq!(got.len(), 25);
    assert!(got.iter().all(|f| f == "a" || f == "b"));
    // WITHVALUES: field, value pairs that belong together.
    for count in ["3", "20", "-30"] {
        let flat: Vec<String> = q(&mut c, &["HRANDFIELD", "h", count, "withvalues"]);
        let expected_pairs = match count {
            "3" => 3,
            "20" => 10,
            _ => 30,
        };
        assert_eq!(flat.len(), 2 * expected_pairs, "count {count}");
        for pair in flat.chunks(2) {
            assert_eq!(fields[&pair[0]], pair[1], "count {count}");
        }
    }
    // Zero: an empty array.
    assert_eq!(v(&mut c, &["HRANDFIELD", "h", "0"]), Value::Array(vec![]));
    assert_eq!(
        v(&mut c, &["HRANDFIELD", "h", "0", "WITHVALUES"]),
        Value::Array(vec![])
    );
    // A missing key: nil without a count, an empty array with one.
    assert_eq!(v(&mut c, &["HRANDFIELD", "nokey"]), Value::Nil);
    assert_eq!(
        v(&mut c, &["HRANDFIELD", "nokey", "5"]),
        Value::Array(vec![])
    );
    assert_eq!(
        v(&mut c, &["HRANDFIELD", "nokey", "-5", "WITHVALUES"]),
        Value::Array(vec![])
    );
    // Errors, in Redis's order: the count, then the syntax, then the range.
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "abc"]), NOT_INTEGER);
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "abc", "BOGUS"]),
        NOT_INTEGER
    );
    assert_eq!(err(&mut c, &["HRANDFIELD", "h", "1", "BOGUS"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
        SYNTAX
    );
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(
            &mut c,
            &["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"]
        ),
        "ERR value is out of range"
    );
    assert_eq!(
        err(
            &mut c,
            &["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"]
        ),
        "ERR value is out of range"
    );
    assert_eq!(err(&mut c, &["HRANDFIELD", "nokey", "x"]), NOT_INTEGER);
    // Repeated picks are capped so one request cannot exhaust memory; the
    // node stays up and answers.
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "-1000000000000"]),
        "ERR value is out of range, a negative count must be at least -1000000"
    );
    let picks: Vec<String> = q(&mut c, &["HRANDFIELD", "h", "-1000"]);
    assert_eq!(picks.len(), 1000);
}

#[test]
fn hscan_returns_every_field() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("HSET")
            .arg("h")
            .arg(format!("f{i}"))
            .arg(format!("v{i}"))
            .ignore();
    }
    let _: () = pipe.query(&mut c).expect("fill");
    for options in [
        &[][..],
        &["COUNT", "1"],
        &["COUNT", "10"],
        &["COUNT", "1000"],
    ] {
        let mut cursor = "0".to_string();
        let mut found: HashMap<String, String> = HashMap::new();
        for call in 0.. {
            assert!(call < 10_000, "HSCAN did not finish");
            let mut args = vec!["HSCAN", "h", cursor.as_str()];
            args.extend_from_slice(options);
            let (next, flat): (String, Vec<String>) = q(&mut c, &args);
            assert_eq!(flat.len() % 2, 0);
            for pair in flat.chunks(2) {
                found.insert(pair[0].clone(), pair[1].clone());
            }
            if next == "0" {
                break;
            }
            cursor = next;
        }
        assert_eq!(found.len(), 500, "{options:?}");
        assert!((0..500).all(|i| found[&format!("f{i}")] == format!("v{i}")));
    }
    // A table is walked COUNT fields at a time, as Redis walks it; fields
    // added during the walk (rehashing the table) lose none of the others.
    let (next, flat): (String, Vec<String>) = q(&mut c, &["HSCAN", "h", "0", "COUNT", "10"]);
    assert_ne!(next, "0");
    assert!(
        flat.len() / 2 <= 20,
        "{} fields for COUNT 10",
        flat.len() / 2
    );
    let mut found: HashSet<String> = flat.chunks(2).map(|p| p[0].clone()).collect();
    let mut cursor = next;
    for call in 0.. {
        assert!(call < 10_000, "HSCAN did not finish");
        let extra = format!("added{call}");
        let _: i64 = q(&mut c, &["HSET", "h", &extra, "x"]);
        let (next, flat): (String, Vec<String>) =
            q(&mut c, &["HSCAN", "h", &cursor, "COUNT", "10"]);
        found.extend(flat.chunks(2).map(|p| p[0].clone()));
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert!((0..500).all(|i| found.contains(&format!("f{i}"))));
    // MATCH filters (the whole hash fits one call here).
    let (next, flat): (String, Vec<String>) = q(
        &mut c,
        &["HSCAN", "h", "0", "MATCH", "f1?", "COUNT", "1000"],
    );
    assert_eq!(next, "0");
    let matched: HashSet<String> = flat.chunks(2).map(|p| p[0].clone()).collect();
    let expected: HashSet<String> = (10..20).map(|i| format!("f{i}")).collect();
    assert_eq!(matched, expected);
    let (_, flat): (String, Vec<String>) = q(&mut c, &["HSCAN", "h", "0", "MATCH", "nomatch*"]);
    assert!(flat.is_empty());
    // A missing key is an empty scan, whatever the options.
    assert_eq!(
        v(&mut c, &["HSCAN", "nokey", "0"]),
        Value::Array(vec![bulk("0"), Value::Array(vec![])])
    );
    assert_eq!(
        v(&mut c, &["HSCAN", "nokey", "0", "BOGUS", "x"]),
        Value::Array(vec![bulk("0"), Value::Array(vec![])])
    );
    // Errors.
    assert_eq!(err(&mut c, &["HSCAN", "h", "abc"]), INVALID_CURSOR);
    assert_eq!(err(&mut c, &["HSCAN", "nokey", "abc"]), INVALID_CURSOR);
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "COUNT", "-1"]), SYNTAX);
    assert_eq!(
        err(&mut c, &["HSCAN", "h", "0", "COUNT", "abc"]),
        NOT_INTEGER
    );
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "MATCH"]), SYNTAX);
    assert_eq!(err(&mut c, &["HSCAN", "h", "0", "BOGUS", "x"]), SYNTAX);
    assert_arity_errors(&mut c, &["HSCAN h"]);
}

#[test]
fn resp3_maps_nulls_and_pairs() {
    let node = TestServer::start();
    let mut raw = node.raw();
    let pair = |f: &str, v: &str| vec![Frame::Bulk(f.into()), Frame::Bulk(v.into())];
    // RESP2 first: flat arrays and `$-1` nulls.
    raw.assert_replies(&[
        (&["HSET", "h", "a", "1", "b", "2"], ":2\r\n"),
        (&["HGET", "h", "zz"], "$-1\r\n"),
        (&["HGETALL", "nokey"], "*0\r\n"),
        (&["HRANDFIELD", "nokey"], "$-1\r\n"),
    ]);
    raw.hello(3);
    // GET miss is the RESP3 null; HGETALL is a map (empty for a missing
    // key).
    raw.assert_replies(&[
        (&["GET", "missing"], "_\r\n"),
        (&["HGET", "h", "zz"], "_\r\n"),
        (&["HRANDFIELD", "nokey"], "_\r\n"),
        (&["HMGET", "h", "a", "zz"], "*2\r\n$1\r\n1\r\n_\r\n"),
        (&["HGETALL", "nokey"], "%0\r\n"),
    ]);
    match raw.call(&["HGETALL", "h"]) {
        Frame::Map(mut pairs) => {
            pairs.sort_by_key(|x| x.0.show());
            let pairs: Vec<Vec<Frame>> = pairs.into_iter().map(|(f, v)| vec![f, v]).collect();
            assert_eq!(pairs, vec![pair("a", "1"), pair("b", "2")]);
        }
        other => panic!("HGETALL in RESP3 answered {other:?}"),
    }
    let single = raw.roundtrip(&["HGETALL", "h"]);
    assert!(
        single.starts_with(b"%2\r\n"),
        "{:?}",
        String::from_utf8_lossy(&single)
    );
    // HRANDFIELD WITHVALUES: an array of [field, value] pairs.
    match raw.call(&["HRANDFIELD", "h", "-3", "WITHVALUES"]) {
        Frame::Array(items) => {
            assert_eq!(items.len(), 3);
            for item in items {
                match item {
                    Frame::Array(p) => {
                        assert!(p == pair("a", "1") || p == pair("b", "2"), "{p:?}");
                    }
                    other => panic!("not a pair: {other:?}"),
                }
            }
        }
        other => panic!("{other:?}"),
    }
    // Without WITHVALUES it stays a flat array of fields.
    match raw.call(&["HRANDFIELD", "h", "2"]) {
        Frame::Array(items) => {
            assert!(items.iter().all(|i| matches!(i, Frame::Bulk(_))) && items.len() == 2)
        }
        other => panic!("{other:?}"),
    }
    // HKEYS stays an array, HLEN an integer.
    assert!(raw.roundtrip(&["HKEYS", "h"]).starts_with(b"*2\r\n"));
    raw.assert_replies(&[
        (&["HLEN", "h"], ":2\r\n"),
        (&["HINCRBYFLOAT", "h", "a", "0.5"], "$3\r\n1.5\r\n"),
    ]);
}
