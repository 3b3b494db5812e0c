//! End-to-end conformance of the sorted-set ranges and set algebra with
//! Redis 7 semantics, against a real node: ZRANGE in all its forms, the
//! counts and range removals, ZRANGESTORE, ZUNION/ZINTER/ZDIFF and their
//! STORE forms (plain sets as inputs), ZINTERCARD, and the encodings at
//! Redis's thresholds on large sets.

mod common;

use common::errors::{NOT_INTEGER, SYNTAX, WRONGTYPE};
use common::query::{assert_arity_errors, assert_errors, config_set, AssertReplies};
use common::{bulk, err, q, v, TestServer};
use redis::Value;
use ringcache_server::store::SetValue;

fn strings(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    q(c, args)
}

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    q(c, &["OBJECT", "ENCODING", key])
}

#[test]
fn ranges_by_rank_score_and_lex() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(
        &mut c,
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
    );
    let cases: &[(&[&str], &[&str])] = &[
        (&["ZRANGE", "z", "0", "-1"], &["a", "b", "c", "d", "e"]),
        (&["ZRANGE", "z", "-2", "100"], &["d", "e"]),
        (&["ZRANGE", "z", "-100", "0"], &["a"]),
        (&["ZRANGE", "z", "3", "1"], &[]),
        (&["ZRANGE", "z", "5", "10"], &[]),
        (&["ZRANGE", "z", "0", "1", "REV"], &["e", "d"]),
        (&["ZREVRANGE", "z", "1", "2"], &["d", "c"]),
        (
            &["ZRANGE", "z", "0", "1", "WITHSCORES"],
            &["a", "1", "b", "2"],
        ),
        (&["ZRANGE", "z", "(1", "3", "BYSCORE"], &["b", "c"]),
        (
            &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"],
            &["b", "c"],
        ),
        // A negative count means no limit; a negative offset selects nothing.
        (
            &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "3", "-1"],
            &["d", "e"],
        ),
        (
            &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"],
            &[],
        ),
        (
            &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "0"],
            &[],
        ),
        (
            &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "9", "9"],
            &[],
        ),
        (
            &["ZRANGE", "z", "(5", "(1", "BYSCORE", "REV", "WITHSCORES"],
            &["d", "4", "c", "3", "b", "2"],
        ),
        (
            &["ZRANGE", "z", "5", "1", "BYSCORE", "REV", "LIMIT", "1", "2"],
            &["d", "c"],
        ),
        (
            &["ZRANGEBYSCORE", "z", "2", "(4", "WITHSCORES"],
            &["b", "2", "c", "3"],
        ),
        (&["ZRANGEBYSCORE", "z", "3", "2"], &[]),
        (&["ZRANGEBYSCORE", "z", "(2", "(2"], &[]),
        (&["ZRANGEBYSCORE", "z", "2", "2"], &["b"]),
        (
            &["ZREVRANGEBYSCORE", "z", "+inf", "3", "LIMIT", "0", "2"],
            &["e", "d"],
        ),
        (&["ZRANGE", "nokey", "0", "-1"], &[]),
    ];
    for (args, expected) in cases {
        assert_eq!(strings(&mut c, args), *expected, "{args:?}");
    }
    // Lex ranges over members of one score, ordered by their bytes.
    let _: i64 = q(
        &mut c,
        &[
            "ZADD", "l", "0", "b", "0", "a", "0", "d", "0", "c", "0", "e", "0", "aa",
        ],
    );
    let lex: &[(&[&str], &[&str])] = &[
        (
            &["ZRANGEBYLEX", "l", "-", "+"],
            &["a", "aa", "b", "c", "d", "e"],
        ),
        (&["ZRANGEBYLEX", "l", "[aa", "(c"], &["aa", "b"]),
        (&["ZRANGEBYLEX", "l", "(a", "[b"], &["aa", "b"]),
        (
            &["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "2", "2"],
            &["b", "c"],
        ),
        (&["ZRANGEBYLEX", "l", "+", "-"], &[]),
        (&["ZREVRANGEBYLEX", "l", "+", "[c"], &["e", "d", "c"]),
        (&["ZRANGE", "l", "[d", "(b", "BYLEX", "REV"], &["d", "c"]),
        (
            &["ZRANGE", "l", "+", "-", "BYLEX", "REV", "LIMIT", "1", "1"],
            &["d"],
        ),
    ];
    for (args, expected) in lex {
        assert_eq!(strings(&mut c, args), *expected, "{args:?}");
    }
    assert_errors(
        &mut c,
        &[
            (&["ZRANGE", "z", "0", "-1", "BYSCORE", "BYLEX"], SYNTAX),
            (&["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"], "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
            (&["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"], "ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
            (&["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"], "ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
            (&["ZRANGE", "z", "a", "b", "BYLEX"], "ERR min or max not valid string range item"),
            (&["ZRANGE", "z", "a", "b", "BYSCORE"], "ERR min or max is not a float"),
            (&["ZRANGE", "z", "(nan", "1", "BYSCORE"], "ERR min or max is not a float"),
            (&["ZRANGE", "z", "0", "x"], NOT_INTEGER),
            (&["ZRANGE", "z", "0", "-1", "BYSCORE", "LIMIT", "x", "1"], NOT_INTEGER),
            (&["ZRANGE", "z", "0", "-1", "BYSCORE", "LIMIT", "0"], SYNTAX),
            (&["ZRANGE", "z", "0", "-1", "FOO"], SYNTAX),
            (&["ZRANGEBYSCORE", "z", "0", "1", "REV"], SYNTAX),
            (&["ZREVRANGE", "z", "0", "1", "BYSCORE"], SYNTAX),
            (&["ZRANGEBYSCORE", "z", "0", "10", "WITHSCORES", "LIMIT", "1"], SYNTAX),
        ],
    );
    // C's strtod rules for bounds: the empty string is 0, a leading space
    // is fine, an overflow is infinite.
    assert_eq!(strings(&mut c, &["ZRANGEBYSCORE", "z", "", "1"]), ["a"]);
    assert_eq!(
        strings(&mut c, &["ZRANGEBYSCORE", "z", " 4", "1e400"]),
        ["d", "e"]
    );
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert_eq!(err(&mut c, &["ZRANGE", "str", "0", "-1"]), WRONGTYPE);
    assert_arity_errors(
        &mut c,
        &[
            "ZRANGE z 0",
            "ZRANGEBYSCORE z 0",
            "ZRANGEBYLEX z -",
            "ZREVRANGE z 0",
        ],
    );
}

#[test]
fn counts_and_range_removals() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(
        &mut c,
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f",
        ],
    );
    c.assert_replies(&[
        (&["ZCOUNT", "z", "(1", "3"], Value::Int(2)),
        (&["ZCOUNT", "z", "-inf", "+inf"], Value::Int(6)),
        (&["ZCOUNT", "z", "3", "1"], Value::Int(0)),
        (&["ZCOUNT", "nokey", "0", "1"], Value::Int(0)),
        (&["ZREMRANGEBYRANK", "z", "0", "1"], Value::Int(2)),
        (&["ZREMRANGEBYRANK", "z", "-1", "-1"], Value::Int(1)),
        (&["ZREMRANGEBYRANK", "z", "5", "1"], Value::Int(0)),
        (&["ZREMRANGEBYSCORE", "z", "(3", "4"], Value::Int(1)),
        (
            &["ZRANGE", "z", "0", "-1"],
            Value::Array(vec![bulk("c"), bulk("e")]),
        ),
        (&["ZREMRANGEBYSCORE", "z", "-inf", "+inf"], Value::Int(2)),
        (&["EXISTS", "z"], Value::Int(0)),
        (&["ZREMRANGEBYRANK", "nokey", "0", "1"], Value::Int(0)),
        (
            &["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d"],
            Value::Int(4),
        ),
        (&["ZLEXCOUNT", "l", "-", "+"], Value::Int(4)),
        (&["ZLEXCOUNT", "l", "[b", "(d"], Value::Int(2)),
        (&["ZLEXCOUNT", "l", "+", "-"], Value::Int(0)),
        (&["ZREMRANGEBYLEX", "l", "(a", "[c"], Value::Int(2)),
        (
            &["ZRANGE", "l", "0", "-1"],
            Value::Array(vec![bulk("a"), bulk("d")]),
        ),
    ]);
    assert_errors(
        &mut c,
        &[
            (&["ZCOUNT", "z", "a", "b"], "ERR min or max is not a float"),
            (
                &["ZLEXCOUNT", "l", "a", "b"],
                "ERR min or max not valid string range item",
            ),
            (&["ZREMRANGEBYRANK", "z", "x", "1"], NOT_INTEGER),
            (
                &["ZREMRANGEBYSCORE", "z", "x", "1"],
                "ERR min or max is not a float",
            ),
            (
                &["ZREMRANGEBYLEX", "z", "x", "y"],
                "ERR min or max not valid string range item",
            ),
        ],
    );
    q::<()>(&mut c, &["SET", "str", "v"]);
    for name in ["ZCOUNT", "ZREMRANGEBYSCORE"] {
        assert_eq!(err(&mut c, &[name, "str", "0", "1"]), WRONGTYPE);
    }
    assert_arity_errors(
        &mut c,
        &["ZCOUNT z 0", "ZLEXCOUNT z -", "ZREMRANGEBYRANK z 0 1 2"],
    );
}

#[test]
fn zrangestore_writes_or_deletes_the_destination() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["ZADD", "src", "1", "a", "2", "b", "3", "c"]);
    q::<()>(&mut c, &["SET", "dst", "a string"]);
    c.assert_replies(&[
        (&["ZRANGESTORE", "dst", "src", "0", "1"], Value::Int(2)),
        (&["TYPE", "dst"], Value::SimpleString("zset".into())),
        (
            &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
            Value::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("2")]),
        ),
        (
            &[
                "ZRANGESTORE",
                "dst",
                "src",
                "5",
                "(1",
                "BYSCORE",
                "REV",
                "LIMIT",
                "0",
                "1",
            ],
            Value::Int(1),
        ),
        (&["ZRANGE", "dst", "0", "-1"], Value::Array(vec![bulk("c")])),
        (
            &["ZRANGESTORE", "dst", "src", "[b", "+", "BYLEX"],
            Value::Int(2),
        ),
        (&["ZRANGESTORE", "dst", "nokey", "0", "-1"], Value::Int(0)),
        (&["EXISTS", "dst"], Value::Int(0)),
        (&["ZRANGESTORE", "src", "src", "0", "0"], Value::Int(1)),
        (&["ZRANGE", "src", "0", "-1"], Value::Array(vec![bulk("a")])),
    ]);
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert_eq!(
        err(&mut c, &["ZRANGESTORE", "dst", "str", "0", "1"]),
        WRONGTYPE
    );
    assert_eq!(
        err(
            &mut c,
            &["ZRANGESTORE", "dst", "src", "0", "1", "WITHSCORES"]
        ),
        SYNTAX
    );
    assert_arity_errors(&mut c, &["ZRANGESTORE dst src 0"]);
}

/// Puts a plain set at `key` straight into the store (the set commands
/// are another family's).
fn put_set(node: &TestServer, key: &str, members: &[&str]) {
    let mut lock = node.state.store.lock(key.as_bytes());
    let index = lock
        .for_write::<SetValue>(key.as_bytes())
        .expect("a set key");
    lock.shard.with_mut::<SetValue, _>(index, |s| {
        for m in members {
            s.insert(m.as_bytes());
        }
    });
}

#[test]
fn union_inter_diff_with_weights_and_aggregates() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    let _: i64 = q(&mut c, &["ZADD", "z2", "10", "a", "20", "d"]);
    put_set(&node, "s", &["x", "y", "a"]);
    let _: i64 = q(&mut c, &["ZADD", "inf", "inf", "a", "1", "b"]);
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["ZUNION", "2", "z", "z2", "WITHSCORES"],
            &["b", "2", "c", "3", "a", "11", "d", "20"],
        ),
        (
            &[
                "ZUNION",
                "2",
                "z",
                "z2",
                "WITHSCORES",
                "AGGREGATE",
                "MAX",
                "WEIGHTS",
                "2",
                "3",
            ],
            &["b", "4", "c", "6", "a", "30", "d", "60"],
        ),
        (
            &["ZUNION", "2", "z", "z2", "AGGREGATE", "MIN", "WITHSCORES"],
            &["a", "1", "b", "2", "c", "3", "d", "20"],
        ),
        (&["ZINTER", "2", "z", "z2", "WITHSCORES"], &["a", "11"]),
        (&["ZINTER", "2", "z", "z2"], &["a"]),
        (
            &["ZDIFF", "2", "z", "z2", "WITHSCORES"],
            &["b", "2", "c", "3"],
        ),
        // Plain sets: every member scores 1.
        (
            &["ZUNION", "2", "z", "s", "WITHSCORES"],
            &["x", "1", "y", "1", "a", "2", "b", "2", "c", "3"],
        ),
        (&["ZINTER", "2", "z", "s", "WITHSCORES"], &["a", "2"]),
        (&["ZDIFF", "2", "z", "s"], &["b", "c"]),
        // inf * 0 is 0, and inf + -inf is 0, as Redis.
        (
            &[
                "ZUNION",
                "2",
                "z",
                "z2",
                "WEIGHTS",
                "inf",
                "0",
                "WITHSCORES",
            ],
            &["d", "0", "a", "inf", "b", "inf", "c", "inf"],
        ),
        (
            &[
                "ZINTER",
                "2",
                "z",
                "z2",
                "WEIGHTS",
                "inf",
                "-inf",
                "WITHSCORES",
            ],
            &["a", "0"],
        ),
        // Only the first input's inf * 0 becomes 0: MAX keeps -inf over a
        // later NaN.
        (
            &[
                "ZINTER",
                "2",
                "inf",
                "inf",
                "WEIGHTS",
                "-1",
                "0",
                "AGGREGATE",
                "MAX",
                "WITHSCORES",
            ],
            &["a", "-inf", "b", "0"],
        ),
        (&["ZUNION", "1", "nokey"], &[]),
        (&["ZINTER", "2", "z", "nokey"], &[]),
    ];
    for (args, expected) in cases {
        assert_eq!(strings(&mut c, args), *expected, "{args:?}");
    }
    c.assert_replies(&[
        (&["ZUNIONSTORE", "out", "2", "z", "z2"], Value::Int(4)),
        (
            &["ZRANGE", "out", "0", "-1", "WITHSCORES"],
            Value::Array(
                ["b", "2", "c", "3", "a", "11", "d", "20"]
                    .map(bulk)
                    .to_vec(),
            ),
        ),
        (
            &["ZINTERSTORE", "out", "2", "z", "z2", "WEIGHTS", "1", "0.5"],
            Value::Int(1),
        ),
        (&["ZSCORE", "out", "a"], bulk("6")),
        (&["ZDIFFSTORE", "out", "2", "z", "s"], Value::Int(2)),
        (&["ZDIFFSTORE", "out", "1", "nokey"], Value::Int(0)),
        (&["EXISTS", "out"], Value::Int(0)),
        // The destination may be an input.
        (&["ZUNIONSTORE", "z", "2", "z", "z2"], Value::Int(4)),
        (&["ZINTERCARD", "2", "z", "z2"], Value::Int(2)),
        (&["ZINTERCARD", "2", "z", "z2", "LIMIT", "1"], Value::Int(1)),
        (&["ZINTERCARD", "2", "z", "z2", "LIMIT", "0"], Value::Int(2)),
        (&["ZINTERCARD", "2", "z", "s"], Value::Int(1)),
    ]);
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert_errors(
        &mut c,
        &[
            (
                &["ZUNION", "0", "z"],
                "ERR at least 1 input key is needed for 'zunion' command",
            ),
            (
                &["ZINTERSTORE", "d", "-1", "z"],
                "ERR at least 1 input key is needed for 'zinterstore' command",
            ),
            (
                &["ZINTERCARD", "0", "z"],
                "ERR at least 1 input key is needed for 'zintercard' command",
            ),
            (&["ZUNION", "x", "z"], NOT_INTEGER),
            (&["ZUNION", "3", "z"], SYNTAX),
            (&["ZUNION", "1", "z", "z2"], SYNTAX),
            (&["ZUNION", "2", "z", "z2", "WEIGHTS", "1"], SYNTAX),
            (
                &["ZUNION", "2", "z", "z2", "WEIGHTS", "1", "x"],
                "ERR weight value is not a float",
            ),
            (&["ZUNION", "2", "z", "z2", "AGGREGATE", "AVG"], SYNTAX),
            (&["ZDIFF", "2", "z", "z2", "WEIGHTS", "1", "2"], SYNTAX),
            (&["ZDIFF", "2", "z", "z2", "AGGREGATE", "SUM"], SYNTAX),
            (&["ZUNIONSTORE", "d", "2", "z", "z2", "WITHSCORES"], SYNTAX),
            (&["ZINTER", "2", "z", "z2", "LIMIT", "1"], SYNTAX),
            (
                &["ZINTERCARD", "2", "z", "z2", "LIMIT", "-1"],
                "ERR LIMIT can't be negative",
            ),
            (&["ZINTERCARD", "2", "z", "z2", "WITHSCORES"], SYNTAX),
            (&["ZUNION", "2", "z", "str"], WRONGTYPE),
            // The keys' types are checked before the options.
            (&["ZUNION", "2", "str", "z", "BOGUS"], WRONGTYPE),
        ],
    );
    assert_arity_errors(&mut c, &["ZUNION 1", "ZUNIONSTORE d 1", "ZINTERCARD 1"]);
}

#[test]
fn encodings_follow_redis_thresholds() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut pipe = redis::pipe();
    for i in 0..128 {
        pipe.cmd("ZADD")
            .arg("e")
            .arg(i)
            .arg(format!("m{i}"))
            .ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    assert_eq!(encoding(&mut c, "e"), "listpack");
    let _: i64 = q(&mut c, &["ZADD", "e", "200", "m200"]);
    assert_eq!(encoding(&mut c, "e"), "skiplist");
    // Shrinking does not convert back; a stored result takes the compact
    // encoding when it fits.
    let _: i64 = q(&mut c, &["ZREMRANGEBYRANK", "e", "0", "119"]);
    assert_eq!(encoding(&mut c, "e"), "skiplist");
    let _: i64 = q(&mut c, &["ZUNIONSTORE", "e2", "1", "e"]);
    assert_eq!(encoding(&mut c, "e2"), "listpack");
    let _: i64 = q(&mut c, &["ZRANGESTORE", "e3", "e", "0", "-1"]);
    assert_eq!(encoding(&mut c, "e3"), "listpack");
    let long = "x".repeat(65);
    let _: i64 = q(&mut c, &["ZADD", "v", "1", &"y".repeat(64)]);
    assert_eq!(encoding(&mut c, "v"), "listpack");
    let _: i64 = q(&mut c, &["ZADD", "v", "1", &long]);
    assert_eq!(encoding(&mut c, "v"), "skiplist");
    let _: f64 = q(&mut c, &["ZINCRBY", "w", "1", &long]);
    assert_eq!(encoding(&mut c, "w"), "skiplist");
    // Thresholds from CONFIG SET, old names included; a score update
    // never converts.
    config_set(&mut c, "zset-max-ziplist-entries", "2");
    let _: i64 = q(&mut c, &["ZADD", "k", "1", "a", "2", "b"]);
    assert_eq!(encoding(&mut c, "k"), "listpack");
    config_set(&mut c, "zset-max-listpack-entries", "1");
    let _: i64 = q(&mut c, &["ZADD", "k", "5", "a"]);
    assert_eq!(encoding(&mut c, "k"), "listpack");
    let _: i64 = q(&mut c, &["ZADD", "k", "6", "c"]);
    assert_eq!(encoding(&mut c, "k"), "skiplist");
    config_set(&mut c, "zset-max-listpack-entries", "0");
    let _: i64 = q(&mut c, &["ZADD", "n", "1", "a"]);
    assert_eq!(encoding(&mut c, "n"), "skiplist");
    // The skip list answers as the compact encoding did.
    assert_eq!(
        strings(&mut c, &["ZRANGE", "k", "0", "-1", "WITHSCORES"]),
        ["b", "2", "a", "5", "c", "6"]
    );
    assert_eq!(v(&mut c, &["ZRANK", "k", "c"]), Value::Int(2));
}

#[test]
fn large_sets_rank_range_and_pop_in_order() {
    let node = TestServer::start();
    let mut c = node.conn();
    let n = 5000;
    let mut pipe = redis::pipe();
    for i in (0..n).rev() {
        // Equal scores in threes: ties ordered by member bytes.
        pipe.cmd("ZADD")
            .arg("big")
            .arg(i / 3)
            .arg(format!("m{i:05}"))
            .ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    assert_eq!(encoding(&mut c, "big"), "skiplist");
    for i in [0, 1, 2, 777, 2500, n - 1] {
        let member = format!("m{i:05}");
        assert_eq!(
            v(&mut c, &["ZRANK", "big", &member]),
            Value::Int(i),
            "{member}"
        );
        assert_eq!(
            v(&mut c, &["ZREVRANK", "big", &member]),
            Value::Int(n - 1 - i)
        );
        let at: Vec<String> = q(&mut c, &["ZRANGE", "big", &i.to_string(), &i.to_string()]);
        assert_eq!(at, [member]);
    }
    assert_eq!(v(&mut c, &["ZCOUNT", "big", "10", "(20"]), Value::Int(30));
    let limited = strings(
        &mut c,
        &["ZRANGEBYSCORE", "big", "100", "+inf", "LIMIT", "2", "3"],
    );
    assert_eq!(limited, ["m00302", "m00303", "m00304"]);
    let rev = strings(&mut c, &["ZREVRANGE", "big", "0", "1"]);
    assert_eq!(rev, ["m04999", "m04998"]);
    assert_eq!(
        v(&mut c, &["ZREMRANGEBYSCORE", "big", "-inf", "(1000"]),
        Value::Int(3000)
    );
    let popped = strings(&mut c, &["ZPOPMIN", "big", "2"]);
    assert_eq!(popped, ["m03000", "1000", "m03001", "1000"]);
    assert_eq!(v(&mut c, &["ZCARD", "big"]), Value::Int(1998));
    assert_eq!(v(&mut c, &["ZRANK", "big", "m03002"]), Value::Int(0));
}
