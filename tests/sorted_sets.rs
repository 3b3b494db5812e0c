//! End-to-end conformance of the sorted-set commands with Redis 7
//! semantics, in RESP2 and RESP3, against a real node: ZADD and its
//! options, scores as Redis parses and prints them, ranks, pops, random
//! members, ZSCAN, reply shapes and WRONGTYPE. Ranges and the set algebra
//! are in `sorted_set_ranges.rs`.

mod common;

use common::errors::{wrong_arity, INVALID_CURSOR, NOT_FLOAT, NOT_INTEGER, SYNTAX, WRONGTYPE};
use common::query::{assert_arity_errors, assert_errors, AssertReplies};
use common::wire::Frame;
use common::{bulk, err, q, v, TestServer};
use redis::Value;

/// A RESP2 array of bulk strings, as the wire carries it.
fn arr(items: &[&str]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for item in items {
        out.push_str(&format!("${}\r\n{item}\r\n", item.len()));
    }
    out
}

/// A RESP3 array of [member, double] pairs.
fn pairs3(items: &[(&str, &str)]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for (m, s) in items {
        out.push_str(&format!("*2\r\n${}\r\n{m}\r\n,{s}\r\n", m.len()));
    }
    out
}

fn strings(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    q(c, args)
}

/// ZDIFF of a large sorted set and many small inputs takes the small
/// inputs' members out of a copy (Redis's second algorithm) instead of
/// looking each member up in every input: the same answer, in linear time.
#[test]
fn zdiff_of_one_large_and_many_small_inputs() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut pipe = redis::pipe();
    for chunk in 0..10 {
        let mut zadd = redis::cmd("ZADD");
        zadd.arg("big");
        for n in chunk * 10_000..(chunk + 1) * 10_000 {
            zadd.arg(n).arg(format!("m{n}"));
        }
        pipe.add_command(zadd).ignore();
    }
    let smalls = 20_000;
    for n in 0..smalls {
        // Each small input holds one member of the big one: every fifth.
        pipe.cmd("ZADD")
            .arg(format!("small{n}"))
            .arg(1)
            .arg(format!("m{}", n * 5))
            .ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    let mut zdiff = redis::cmd("ZDIFF");
    zdiff.arg(smalls + 1).arg("big");
    for n in 0..smalls {
        zdiff.arg(format!("small{n}"));
    }
    let left: Vec<String> = zdiff.query(&mut c).unwrap();
    assert_eq!(left.len(), 100_000 - smalls);
    assert_eq!(left[0], "m1");
    assert!(!left.contains(&"m5".to_string()));
    assert_eq!(left.last().map(String::as_str), Some("m99999"));
}

#[test]
fn zadd_options_and_their_errors() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        (&["ZADD", "z", "1", "a", "2", "b", "3", "c"], Value::Int(3)),
        // Same score twice: counted once, nothing changed.
        (&["ZADD", "z", "1", "a", "5", "d"], Value::Int(1)),
        (
            &["ZADD", "z", "CH", "10", "a", "5", "d", "6", "e"],
            Value::Int(2),
        ),
        (&["ZADD", "z", "NX", "99", "a", "7", "f"], Value::Int(1)),
        (&["ZSCORE", "z", "a"], bulk("10")),
        (
            &["ZADD", "z", "XX", "CH", "11", "a", "8", "new"],
            Value::Int(1),
        ),
        (&["ZSCORE", "z", "new"], Value::Nil),
        // GT/LT update existing members only one way, and still add new ones.
        (
            &["ZADD", "z", "GT", "CH", "5", "a", "12", "b", "1", "g"],
            Value::Int(2),
        ),
        (
            &["ZMSCORE", "z", "a", "b", "g"],
            Value::Array(vec![bulk("11"), bulk("12"), bulk("1")]),
        ),
        (
            &["ZADD", "z", "LT", "CH", "100", "a", "0", "b"],
            Value::Int(1),
        ),
        (
            &["ZADD", "z", "XX", "GT", "CH", "0", "a", "50", "b"],
            Value::Int(1),
        ),
        (
            &["ZMSCORE", "z", "a", "b"],
            Value::Array(vec![bulk("11"), bulk("50")]),
        ),
        // INCR answers the new score, or nil when a condition stops it.
        (&["ZADD", "z", "INCR", "1.5", "a"], bulk("12.5")),
        (&["ZADD", "z", "INCR", "NX", "1", "a"], Value::Nil),
        (&["ZADD", "z", "INCR", "XX", "1", "missing"], Value::Nil),
        (&["ZADD", "z", "GT", "INCR", "-1", "a"], Value::Nil),
        (&["ZADD", "z", "LT", "INCR", "0", "a"], Value::Nil),
        (&["ZADD", "z", "INCR", "0", "a"], bulk("12.5")),
        (&["ZADD", "z", "incr", "+inf", "a"], bulk("inf")),
        // XX on a missing key creates nothing.
        (&["ZADD", "none", "XX", "1", "a"], Value::Int(0)),
        (&["EXISTS", "none"], Value::Int(0)),
    ]);
    assert_errors(
        &mut c,
        &[
            (
                &["ZADD", "z", "XX", "NX", "1", "a"],
                "ERR XX and NX options at the same time are not compatible",
            ),
            (
                &["ZADD", "z", "GT", "LT", "1", "a"],
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            (
                &["ZADD", "z", "NX", "GT", "1", "a"],
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            (
                &["ZADD", "z", "INCR", "1", "a", "2", "b"],
                "ERR INCR option supports a single increment-element pair",
            ),
            (&["ZADD", "z", "1", "a", "2"], SYNTAX),
            (&["ZADD", "z", "NX", "XX"], SYNTAX),
            (&["ZADD", "z", "nan", "a"], NOT_FLOAT),
            (&["ZADD", "z", "1", "a", "x", "b"], NOT_FLOAT),
            (
                &["ZADD", "z", "INCR", "-inf", "a"],
                "ERR resulting score is not a number (NaN)",
            ),
        ],
    );
    // A bad score anywhere leaves the set as it was.
    assert_eq!(v(&mut c, &["ZSCORE", "z", "b"]), bulk("50"));
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert_eq!(err(&mut c, &["ZADD", "str", "1", "a"]), WRONGTYPE);
    assert_arity_errors(
        &mut c,
        &[
            "ZADD z",
            "ZADD z 1",
            "ZINCRBY z 1",
            "ZREM z",
            "ZCARD",
            "ZSCORE z",
        ],
    );
}

#[test]
fn scores_parse_and_print_as_redis() {
    let node = TestServer::start();
    let mut raw = node.raw();
    raw.assert_replies(&[
        (
            &["ZADD", "z", "1.1", "a", "0x10", "b", "1e20", "c", "-0", "d"],
            ":4\r\n",
        ),
        (
            &[
                "ZADD",
                "z",
                "1e-310",
                "e",
                "123456789.123",
                "f",
                "-1.5e-300",
                "g",
            ],
            ":3\r\n",
        ),
        (&["ZSCORE", "z", "a"], "$18\r\n1.1000000000000001\r\n"),
        (&["ZSCORE", "z", "b"], "$2\r\n16\r\n"),
        (&["ZSCORE", "z", "c"], "$5\r\n1e+20\r\n"),
        // A compact set keeps -0 as 0, as Redis's listpack does.
        (&["ZSCORE", "z", "d"], "$1\r\n0\r\n"),
        (&["ZSCORE", "z", "e"], "$23\r\n9.9999999999999694e-311\r\n"),
        (&["ZSCORE", "z", "f"], "$13\r\n123456789.123\r\n"),
        (&["ZSCORE", "z", "g"], "$24\r\n-1.5000000000000001e-300\r\n"),
        (
            &["ZINCRBY", "z", "0.1", "x"],
            "$19\r\n0.10000000000000001\r\n",
        ),
        (&["ZADD", "z", "inf", "h", "-inf", "i"], ":2\r\n"),
        (
            &["ZRANGE", "z", "0", "0", "WITHSCORES"],
            &arr(&["i", "-inf"]),
        ),
        (
            &["ZRANGE", "z", "-1", "-1", "WITHSCORES"],
            &arr(&["h", "inf"]),
        ),
    ]);
    for bad in [
        "", " 1", "1 ", "1e400", "1e-400", "abc", "1e", "0x", "nan", "-nan", "inf1",
    ] {
        raw.assert_replies(&[(
            &["ZADD", "z", bad, "m"],
            "-ERR value is not a valid float\r\n",
        )]);
    }
    // RESP3: doubles.
    raw.hello(3);
    raw.assert_replies(&[
        (&["ZSCORE", "z", "a"], ",1.1000000000000001\r\n"),
        (&["ZSCORE", "z", "h"], ",inf\r\n"),
        (&["ZSCORE", "z", "missing"], "_\r\n"),
        (&["ZINCRBY", "z", "1", "b"], ",17\r\n"),
        (&["ZMSCORE", "z", "b", "nope"], "*2\r\n,17\r\n_\r\n"),
        (&["ZMSCORE", "nokey", "a"], "*1\r\n_\r\n"),
    ]);
}

#[test]
fn zincrby_zrem_zcard_zscore() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        (&["ZINCRBY", "z", "2", "a"], bulk("2")),
        (&["ZINCRBY", "z", "-0.5", "a"], bulk("1.5")),
        (&["ZINCRBY", "z", "inf", "a"], bulk("inf")),
        (&["ZCARD", "z"], Value::Int(1)),
        (&["ZCARD", "nokey"], Value::Int(0)),
        (&["ZSCORE", "nokey", "a"], Value::Nil),
        (&["ZADD", "z", "1", "b", "2", "c"], Value::Int(2)),
        (&["ZREM", "z", "b", "nope", "b"], Value::Int(1)),
        (&["ZREM", "nokey", "a"], Value::Int(0)),
        (&["ZREM", "z", "a", "c"], Value::Int(2)),
        // The last member removed takes the key with it.
        (&["EXISTS", "z"], Value::Int(0)),
    ]);
    assert_errors(
        &mut c,
        &[
            (&["ZINCRBY", "z", "abc", "a"], NOT_FLOAT),
            (&["ZINCRBY", "z", "", "a"], NOT_FLOAT),
        ],
    );
    q::<()>(&mut c, &["ZADD", "z", "-inf", "a"]);
    assert_eq!(
        err(&mut c, &["ZINCRBY", "z", "+inf", "a"]),
        "ERR resulting score is not a number (NaN)"
    );
    q::<()>(&mut c, &["SET", "str", "v"]);
    for args in [
        &["ZINCRBY", "str", "1", "a"][..],
        &["ZREM", "str", "a"],
        &["ZCARD", "str"],
        &["ZSCORE", "str", "a"],
        &["ZMSCORE", "str", "a"],
        &["ZRANK", "str", "a"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    // Binary members and the empty member.
    let member = b"m\0\r\n\xff";
    let added: i64 = redis::cmd("ZADD")
        .arg("bin")
        .arg(3)
        .arg(&member[..])
        .arg(1)
        .arg("")
        .query(&mut c)
        .unwrap();
    assert_eq!(added, 2);
    let score: f64 = redis::cmd("ZSCORE")
        .arg("bin")
        .arg(&member[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(score, 3.0);
    let all: Vec<Vec<u8>> = redis::cmd("ZRANGE")
        .arg("bin")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(all, vec![b"".to_vec(), member.to_vec()]);
}

#[test]
fn ranks_with_and_without_scores() {
    let node = TestServer::start();
    let mut raw = node.raw();
    raw.assert_replies(&[
        (
            &["ZADD", "z", "1", "a", "2", "b", "2", "c", "3", "d"],
            ":4\r\n",
        ),
        (&["ZRANK", "z", "a"], ":0\r\n"),
        (&["ZRANK", "z", "c"], ":2\r\n"),
        (&["ZREVRANK", "z", "a"], ":3\r\n"),
        (&["ZRANK", "z", "nope"], "$-1\r\n"),
        (&["ZRANK", "nokey", "a"], "$-1\r\n"),
        (&["ZRANK", "z", "b", "WITHSCORE"], "*2\r\n:1\r\n$1\r\n2\r\n"),
        (
            &["ZREVRANK", "z", "d", "withscore"],
            "*2\r\n:0\r\n$1\r\n3\r\n",
        ),
        (&["ZRANK", "z", "nope", "WITHSCORE"], "*-1\r\n"),
        (&["ZRANK", "nokey", "a", "WITHSCORE"], "*-1\r\n"),
        (&["ZRANK", "z", "a", "WITHSCORES"], "-ERR syntax error\r\n"),
        (
            &["ZRANK", "z", "a", "WITHSCORE", "x"],
            "-ERR wrong number of arguments for 'zrank' command\r\n",
        ),
    ]);
    raw.hello(3);
    raw.assert_replies(&[
        (&["ZRANK", "z", "b", "WITHSCORE"], "*2\r\n:1\r\n,2\r\n"),
        (&["ZRANK", "z", "nope", "WITHSCORE"], "_\r\n"),
        (&["ZRANK", "z", "nope"], "_\r\n"),
    ]);
}

#[test]
fn resp3_range_and_pop_shapes() {
    let node = TestServer::start();
    let mut raw = node.raw();
    raw.assert_replies(&[
        (
            &["ZADD", "z", "1", "a", "2.5", "b", "3", "c", "4", "d"],
            ":4\r\n",
        ),
        (&["ZPOPMIN", "z"], &arr(&["a", "1"])),
        (&["ZPOPMAX", "z", "1"], &arr(&["d", "4"])),
        (
            &["ZMPOP", "1", "z", "MIN"],
            "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n$3\r\n2.5\r\n",
        ),
        (&["ZMPOP", "1", "nokey", "MIN"], "*-1\r\n"),
        (&["ZADD", "z", "1", "a", "2.5", "b", "4", "d"], ":3\r\n"),
    ]);
    raw.hello(3);
    raw.assert_replies(&[
        (
            &["ZRANGE", "z", "0", "1", "WITHSCORES"],
            &pairs3(&[("a", "1"), ("b", "2.5")]),
        ),
        (&["ZRANGE", "z", "0", "1"], &arr(&["a", "b"])),
        (
            &["ZUNION", "1", "z", "WITHSCORES"],
            &pairs3(&[("a", "1"), ("b", "2.5"), ("c", "3"), ("d", "4")]),
        ),
        (&["ZRANDMEMBER", "nokey"], "_\r\n"),
        (&["ZRANDMEMBER", "nokey", "2"], "*0\r\n"),
        (&["ZPOPMIN", "z"], "*2\r\n$1\r\na\r\n,1\r\n"),
        (&["ZPOPMIN", "z", "1"], &pairs3(&[("b", "2.5")])),
        (&["ZPOPMAX", "z", "2"], &pairs3(&[("d", "4"), ("c", "3")])),
        (&["ZPOPMIN", "z"], "*0\r\n"),
        (&["ZMPOP", "1", "z", "MIN"], "_\r\n"),
        (&["ZADD", "q", "7", "x"], ":1\r\n"),
        (
            &["ZMPOP", "2", "z", "q", "MAX", "COUNT", "5"],
            "*2\r\n$1\r\nq\r\n*1\r\n*2\r\n$1\r\nx\r\n,7\r\n",
        ),
    ]);
    let pair = match raw.call(&["ZADD", "r", "1", "a"]) {
        Frame::Int(1) => raw.call(&["ZRANDMEMBER", "r", "-2", "WITHSCORES"]),
        other => panic!("{other:?}"),
    };
    let expected = Frame::Array(vec![Frame::Bulk(b"a".to_vec()), Frame::Double("1".into())]);
    assert_eq!(pair, Frame::Array(vec![expected.clone(), expected]));
}

#[test]
fn pops_and_their_errors() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(
        &mut c,
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
    );
    c.assert_replies(&[
        (&["ZPOPMIN", "z", "0"], Value::Array(vec![])),
        (
            &["ZPOPMIN", "z", "2"],
            Value::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("2")]),
        ),
        (&["ZPOPMAX", "z"], Value::Array(vec![bulk("e"), bulk("5")])),
        (&["ZPOPMIN", "nokey"], Value::Array(vec![])),
        (
            &["ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "10"],
            Value::Array(vec![
                bulk("z"),
                Value::Array(vec![
                    Value::Array(vec![bulk("d"), bulk("4")]),
                    Value::Array(vec![bulk("c"), bulk("3")]),
                ]),
            ]),
        ),
        (&["EXISTS", "z"], Value::Int(0)),
        (&["ZMPOP", "1", "z", "MIN"], Value::Nil),
        (&["ZADD", "z", "1", "a"], Value::Int(1)),
        (
            &["ZPOPMIN", "z", "9223372036854775807"],
            Value::Array(vec![bulk("a"), bulk("1")]),
        ),
    ]);
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert_errors(
        &mut c,
        &[
            (
                &["ZPOPMIN", "z", "-1"],
                "ERR value is out of range, must be positive",
            ),
            (
                &["ZPOPMAX", "z", "x"],
                "ERR value is out of range, must be positive",
            ),
            (&["ZPOPMIN", "z", "1", "2"], SYNTAX),
            (&["ZPOPMIN", "str"], WRONGTYPE),
            (
                &["ZMPOP", "0", "z", "MIN"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["ZMPOP", "x", "z", "MIN"],
                "ERR numkeys should be greater than 0",
            ),
            (&["ZMPOP", "2", "z", "MIN"], SYNTAX),
            (&["ZMPOP", "1", "z", "BOTH"], SYNTAX),
            (
                &["ZMPOP", "1", "z", "MIN", "COUNT", "0"],
                "ERR count should be greater than 0",
            ),
            (
                &["ZMPOP", "1", "z", "MIN", "COUNT", "x"],
                "ERR count should be greater than 0",
            ),
            (&["ZMPOP", "1", "z", "MIN", "COUNT"], SYNTAX),
            (
                &["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"],
                SYNTAX,
            ),
            (&["ZMPOP", "2", "nokey", "str", "MIN"], WRONGTYPE),
        ],
    );
    assert_arity_errors(&mut c, &["ZPOPMIN", "ZMPOP 1 z"]);
}

#[test]
fn zrandmember_counts() {
    let node = TestServer::start();
    let mut c = node.conn();
    let members = ["a", "b", "c", "d", "e"];
    let _: i64 = q(
        &mut c,
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
    );
    for _ in 0..20 {
        let one: String = q(&mut c, &["ZRANDMEMBER", "z"]);
        assert!(members.contains(&one.as_str()));
        let mut three = strings(&mut c, &["ZRANDMEMBER", "z", "3"]);
        three.sort();
        three.dedup();
        assert_eq!(three.len(), 3, "distinct members");
        let repeated = strings(&mut c, &["ZRANDMEMBER", "z", "-20"]);
        assert_eq!(repeated.len(), 20);
        assert!(repeated.iter().all(|m| members.contains(&m.as_str())));
    }
    // A count past the size returns every member once, with its score.
    let all = strings(&mut c, &["ZRANDMEMBER", "z", "100", "WITHSCORES"]);
    assert_eq!(all, ["a", "1", "b", "2", "c", "3", "d", "4", "e", "5"]);
    let pairs = strings(&mut c, &["ZRANDMEMBER", "z", "-3", "WITHSCORES"]);
    for pair in pairs.chunks(2) {
        let rank = members.iter().position(|m| *m == pair[0]).unwrap();
        assert_eq!(pair[1], (rank + 1).to_string());
    }
    c.assert_replies(&[
        (&["ZRANDMEMBER", "z", "0"], Value::Array(vec![])),
        (&["ZRANDMEMBER", "nokey"], Value::Nil),
        (&["ZRANDMEMBER", "nokey", "3"], Value::Array(vec![])),
    ]);
    assert_errors(
        &mut c,
        &[
            (&["ZRANDMEMBER", "z", "x"], NOT_INTEGER),
            (&["ZRANDMEMBER", "z", "1", "FOO"], SYNTAX),
            (&["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"], SYNTAX),
            (&["ZRANDMEMBER", "z", "-9223372036854775808"], "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
            (&["ZRANDMEMBER", "z", "9223372036854775807", "WITHSCORES"], "ERR value is out of range"),
        ],
    );
}

#[test]
fn zscan_returns_everything_once() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["ZADD", "z", "1.5", "a", "2", "b", "0.1", "ab"]);
    let page: (String, Vec<String>) = q(&mut c, &["ZSCAN", "z", "0"]);
    assert_eq!(page.0, "0");
    assert_eq!(page.1, ["ab", "0.10000000000000001", "a", "1.5", "b", "2"]);
    let page: (String, Vec<String>) = q(&mut c, &["ZSCAN", "z", "0", "MATCH", "a*", "COUNT", "1"]);
    assert_eq!(page.1, ["ab", "0.10000000000000001", "a", "1.5"]);
    let page: (String, Vec<String>) = q(&mut c, &["ZSCAN", "nokey", "0"]);
    assert!(page.1.is_empty());
    assert_errors(
        &mut c,
        &[
            (&["ZSCAN", "z", "x"], INVALID_CURSOR),
            (&["ZSCAN", "z", "0", "COUNT", "0"], SYNTAX),
            (&["ZSCAN", "z", "0", "COUNT", "x"], NOT_INTEGER),
            (&["ZSCAN", "z", "0", "NOVALUES"], SYNTAX),
        ],
    );
    // A skip list is walked COUNT members at a time, as Redis walks it;
    // members added during the walk (rehashing the index) lose none of the
    // others, and each comes with its score.
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.cmd("ZADD")
            .arg("big")
            .arg(i)
            .arg(format!("m{i}"))
            .ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    let (next, first): (String, Vec<String>) = q(&mut c, &["ZSCAN", "big", "0"]);
    assert_ne!(next, "0");
    assert!(
        first.len() / 2 <= 20,
        "{} members for COUNT 10",
        first.len() / 2
    );
    let mut found: std::collections::HashMap<String, String> = first
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    let mut cursor = next;
    for call in 0.. {
        assert!(call < 10_000, "ZSCAN did not finish");
        let extra = format!("added{call}");
        let _: i64 = q(&mut c, &["ZADD", "big", "1000", &extra]);
        let (next, page): (String, Vec<String>) = q(&mut c, &["ZSCAN", "big", &cursor]);
        found.extend(page.chunks(2).map(|p| (p[0].clone(), p[1].clone())));
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert!((0..300).all(|i| found.get(&format!("m{i}")) == Some(&i.to_string())));
    // A large COUNT takes the whole set in one call.
    let (next, all): (String, Vec<String>) = q(&mut c, &["ZSCAN", "big", "0", "COUNT", "100000"]);
    assert_eq!(next, "0");
    assert!(all.len() >= 600);
}

#[test]
fn every_command_answers_wrongtype_on_a_string() {
    let node = TestServer::start();
    let mut c = node.conn();
    q::<()>(&mut c, &["SET", "s", "v"]);
    let requests: &[&[&str]] = &[
        &["ZADD", "s", "1", "a"],
        &["ZINCRBY", "s", "1", "a"],
        &["ZREM", "s", "a"],
        &["ZCARD", "s"],
        &["ZSCORE", "s", "a"],
        &["ZMSCORE", "s", "a"],
        &["ZRANK", "s", "a"],
        &["ZREVRANK", "s", "a"],
        &["ZCOUNT", "s", "0", "1"],
        &["ZLEXCOUNT", "s", "-", "+"],
        &["ZRANGE", "s", "0", "1"],
        &["ZREVRANGE", "s", "0", "1"],
        &["ZRANGEBYSCORE", "s", "0", "1"],
        &["ZREVRANGEBYSCORE", "s", "1", "0"],
        &["ZRANGEBYLEX", "s", "-", "+"],
        &["ZREVRANGEBYLEX", "s", "+", "-"],
        &["ZRANGESTORE", "d", "s", "0", "1"],
        &["ZREMRANGEBYSCORE", "s", "0", "1"],
        &["ZREMRANGEBYRANK", "s", "0", "1"],
        &["ZREMRANGEBYLEX", "s", "-", "+"],
        &["ZPOPMIN", "s"],
        &["ZPOPMAX", "s"],
        &["ZMPOP", "1", "s", "MIN"],
        &["ZRANDMEMBER", "s"],
        &["ZSCAN", "s", "0"],
        &["ZUNION", "1", "s"],
        &["ZINTER", "1", "s"],
        &["ZDIFF", "1", "s"],
        &["ZUNIONSTORE", "d", "1", "s"],
        &["ZINTERSTORE", "d", "1", "s"],
        &["ZDIFFSTORE", "d", "1", "s"],
        &["ZINTERCARD", "1", "s"],
    ];
    for request in requests {
        assert_eq!(err(&mut c, request), WRONGTYPE, "{request:?}");
    }
    assert_eq!(v(&mut c, &["GET", "s"]), bulk("v"));
    let count: i64 = q(&mut c, &["COMMAND", "COUNT"]);
    assert!(count >= 32);
    let info: Value = v(&mut c, &["COMMAND", "INFO", "zunionstore", "zmpop"]);
    assert!(format!("{info:?}").contains("movablekeys"), "{info:?}");
    assert_eq!(err(&mut c, &["ZADD", "s"]), wrong_arity("zadd"));
}

#[test]
fn memory_usage_follows_the_encoding() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["ZADD", "small", "1", "a", "2", "b"]);
    let small: i64 = q(&mut c, &["MEMORY", "USAGE", "small"]);
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("ZADD")
            .arg("big")
            .arg(i)
            .arg(format!("member:{i}"))
            .ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    let big: i64 = q(&mut c, &["MEMORY", "USAGE", "big"]);
    assert!(small < 200, "{small}");
    // A skip-list member costs its node, its bytes and its index slot.
    assert!((60_000..200_000).contains(&big), "{big}");
}
