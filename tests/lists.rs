//! End-to-end conformance of the list commands (LPUSH, RPUSH, LPUSHX,
//! RPUSHX, LPOP, RPOP, LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM,
//! LPOS, LMOVE, RPOPLPUSH, LMPOP) with Redis 7 semantics, in RESP2 and
//! RESP3, against a real node; the encodings (OBJECT ENCODING at Redis's
//! thresholds) and their memory. The blocking commands are in
//! `lists_blocking.rs`.

mod common;

use std::collections::VecDeque;

use common::errors::{wrong_arity, NOT_INTEGER, NO_SUCH_KEY, SYNTAX, WRONGTYPE};
use common::query::{assert_arity_errors, assert_errors, config_set, AssertReplies};
use common::wire::Frame;
use common::{bulk, info_u64, q, v, TestServer};
use redis::Value;

fn list(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|i| bulk(i)).collect())
}

fn range(c: &mut redis::Connection, key: &str) -> Vec<String> {
    q(c, &["LRANGE", key, "0", "-1"])
}

/// A list of many one-element nodes (`list-max-listpack-size 1`) loses
/// many nodes at once in linear time: LTRIM and RPOP with a count drain
/// them in one go, LREM drops its emptied nodes and merges the rest in one
/// pass each (they once shifted the node deque for every node).
#[test]
fn many_small_nodes_go_at_once() {
    let node = TestServer::start();
    let mut c = node.conn();
    config_set(&mut c, "list-max-listpack-size", "1");
    let n = 300_000;
    let mut pipe = redis::pipe();
    for chunk in 0..30 {
        let mut rpush = redis::cmd("RPUSH");
        rpush.arg("many");
        for i in chunk * (n / 30)..(chunk + 1) * (n / 30) {
            rpush.arg(if i % 2 == 0 { "x" } else { "y" });
        }
        pipe.add_command(rpush).ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    assert_eq!(q::<i64>(&mut c, &["LLEN", "many"]), n as i64);
    let () = q(&mut c, &["LTRIM", "many", "0", "199999"]);
    let popped: Vec<String> = q(&mut c, &["RPOP", "many", "50000"]);
    assert_eq!(popped.len(), 50_000);
    assert_eq!(q::<i64>(&mut c, &["LREM", "many", "0", "x"]), 75_000);
    assert_eq!(q::<i64>(&mut c, &["LLEN", "many"]), 75_000);
    let left: Vec<String> = q(&mut c, &["LRANGE", "many", "0", "2"]);
    assert_eq!(left, ["y", "y", "y"]);
}

#[test]
fn pushes_and_pops_at_both_ends() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        (&["RPUSH", "l", "b", "c"], Value::Int(2)),
        // LPUSH a b c leaves c first.
        (&["LPUSH", "l", "a", "z"], Value::Int(4)),
        (&["LRANGE", "l", "0", "-1"], list(&["z", "a", "b", "c"])),
        (&["LPUSHX", "l", "y"], Value::Int(5)),
        (&["RPUSHX", "l", "d", "e"], Value::Int(7)),
        (&["LPUSHX", "nokey", "x"], Value::Int(0)),
        (&["RPUSHX", "nokey", "x"], Value::Int(0)),
        (&["EXISTS", "nokey"], Value::Int(0)),
        (&["LLEN", "l"], Value::Int(7)),
        (&["LLEN", "nokey"], Value::Int(0)),
        (&["LPOP", "l"], bulk("y")),
        (&["RPOP", "l"], bulk("e")),
        (&["LPOP", "l", "2"], list(&["z", "a"])),
        // RPOP with a count answers from the tail inwards.
        (&["RPOP", "l", "2"], list(&["d", "c"])),
        (&["LPOP", "l", "0"], list(&[])),
        (&["RPOP", "l", "10"], list(&["b"])),
        (&["EXISTS", "l"], Value::Int(0)),
        (&["LPOP", "l"], Value::Nil),
        (&["LPOP", "l", "0"], Value::Nil),
        (&["RPOP", "l", "3"], Value::Nil),
        (&["TYPE", "l"], Value::SimpleString("none".into())),
    ]);
    // Binary and empty elements.
    let () = redis::cmd("RPUSH")
        .arg("b")
        .arg(&b"\0\r\n\xff"[..])
        .arg("")
        .query(&mut c)
        .unwrap();
    let all: Vec<Vec<u8>> = q(&mut c, &["LRANGE", "b", "0", "-1"]);
    assert_eq!(all, [b"\0\r\n\xff".to_vec(), Vec::new()]);
    assert_eq!(
        v(&mut c, &["TYPE", "b"]),
        Value::SimpleString("list".into())
    );
    let _: () = q(&mut c, &["SET", "s", "x"]);
    assert_errors(
        &mut c,
        &[
            (&["LPUSH", "s", "a"], WRONGTYPE),
            (&["RPUSHX", "s", "a"], WRONGTYPE),
            (&["LPOP", "s"], WRONGTYPE),
            (&["RPOP", "s", "0"], WRONGTYPE),
            (&["LLEN", "s"], WRONGTYPE),
            (
                &["LPOP", "b", "-1"],
                "ERR value is out of range, must be positive",
            ),
            (
                &["LPOP", "b", "x"],
                "ERR value is out of range, must be positive",
            ),
            (
                &["LPOP", "nokey", "x"],
                "ERR value is out of range, must be positive",
            ),
        ],
    );
    assert_arity_errors(
        &mut c,
        &[
            "LPUSH l",
            "RPUSH l",
            "LPUSHX l",
            "RPUSHX l",
            "LPOP",
            "LPOP l 1 2",
            "RPOP l 1 2",
            "LLEN",
            "LLEN l x",
        ],
    );
}

#[test]
fn ranges_and_indexes_follow_redis_arithmetic() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["RPUSH", "l", "a", "b", "c", "d", "e"]);
    let cases: &[(&str, &str, &[&str])] = &[
        ("0", "-1", &["a", "b", "c", "d", "e"]),
        ("1", "2", &["b", "c"]),
        ("-2", "-1", &["d", "e"]),
        ("-100", "1", &["a", "b"]),
        ("3", "100", &["d", "e"]),
        ("4", "4", &["e"]),
        ("5", "10", &[]),
        ("2", "1", &[]),
        ("-1", "-2", &[]),
        ("0", "-6", &[]),
        (
            "-9223372036854775808",
            "9223372036854775807",
            &["a", "b", "c", "d", "e"],
        ),
    ];
    for (start, stop, expected) in cases {
        assert_eq!(
            v(&mut c, &["LRANGE", "l", start, stop]),
            list(expected),
            "{start} {stop}"
        );
    }
    c.assert_replies(&[
        (&["LRANGE", "nokey", "0", "-1"], list(&[])),
        (&["LINDEX", "l", "0"], bulk("a")),
        (&["LINDEX", "l", "-1"], bulk("e")),
        (&["LINDEX", "l", "-5"], bulk("a")),
        (&["LINDEX", "l", "-6"], Value::Nil),
        (&["LINDEX", "l", "5"], Value::Nil),
        (&["LINDEX", "l", "-9223372036854775808"], Value::Nil),
        // The key is looked up before the index is read.
        (&["LINDEX", "nokey", "x"], Value::Nil),
        (&["LSET", "l", "-1", "E"], Value::Okay),
        (&["LSET", "l", "0", "A"], Value::Okay),
        (
            &["LRANGE", "l", "0", "-1"],
            list(&["A", "b", "c", "d", "E"]),
        ),
    ]);
    let _: () = q(&mut c, &["SET", "s", "x"]);
    assert_errors(
        &mut c,
        &[
            (&["LRANGE", "l", "x", "1"], NOT_INTEGER),
            (&["LRANGE", "s", "x", "1"], NOT_INTEGER),
            (&["LRANGE", "s", "0", "1"], WRONGTYPE),
            (&["LINDEX", "l", "1.5"], NOT_INTEGER),
            (&["LINDEX", "s", "x"], WRONGTYPE),
            (&["LSET", "nokey", "0", "x"], NO_SUCH_KEY),
            (&["LSET", "nokey", "x", "x"], NO_SUCH_KEY),
            (&["LSET", "s", "x", "x"], WRONGTYPE),
            (&["LSET", "l", "x", "x"], NOT_INTEGER),
            (&["LSET", "l", "5", "x"], "ERR index out of range"),
            (&["LSET", "l", "-6", "x"], "ERR index out of range"),
        ],
    );
    assert_arity_errors(&mut c, &["LRANGE l 0", "LINDEX l", "LSET l 0", "LTRIM l 0"]);
}

#[test]
fn insert_remove_and_trim() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["RPUSH", "l", "a", "b", "a", "c", "a"]);
    c.assert_replies(&[
        (&["LINSERT", "l", "BEFORE", "a", "x"], Value::Int(6)),
        (&["LINSERT", "l", "after", "c", "y"], Value::Int(7)),
        (&["LINSERT", "l", "after", "nothere", "y"], Value::Int(-1)),
        (&["LINSERT", "nokey", "after", "a", "y"], Value::Int(0)),
        (
            &["LRANGE", "l", "0", "-1"],
            list(&["x", "a", "b", "a", "c", "y", "a"]),
        ),
        (&["LREM", "l", "1", "a"], Value::Int(1)),
        (
            &["LRANGE", "l", "0", "-1"],
            list(&["x", "b", "a", "c", "y", "a"]),
        ),
        (&["LREM", "l", "-1", "a"], Value::Int(1)),
        (
            &["LRANGE", "l", "0", "-1"],
            list(&["x", "b", "a", "c", "y"]),
        ),
        (&["RPUSH", "l", "a", "a"], Value::Int(7)),
        (&["LREM", "l", "0", "a"], Value::Int(3)),
        (&["LREM", "l", "0", "nothere"], Value::Int(0)),
        (&["LREM", "nokey", "0", "a"], Value::Int(0)),
        (&["RPUSH", "m", "a", "b", "a"], Value::Int(3)),
        // Redis 7.0 negates the count in a long: the lowest one removes
        // every match.
        (&["LREM", "m", "-9223372036854775808", "a"], Value::Int(2)),
        (&["LRANGE", "l", "0", "-1"], list(&["x", "b", "c", "y"])),
        (&["LTRIM", "l", "1", "-2"], Value::Okay),
        (&["LRANGE", "l", "0", "-1"], list(&["b", "c"])),
        (&["LTRIM", "l", "-100", "100"], Value::Okay),
        (&["LLEN", "l"], Value::Int(2)),
        (&["LTRIM", "nokey", "0", "1"], Value::Okay),
        (&["LTRIM", "l", "2", "1"], Value::Okay),
        (&["EXISTS", "l"], Value::Int(0)),
        (&["LREM", "m", "1", "b"], Value::Int(1)),
        (&["EXISTS", "m"], Value::Int(0)),
    ]);
    let _: () = q(&mut c, &["SET", "s", "x"]);
    assert_errors(
        &mut c,
        &[
            (&["LINSERT", "l", "middle", "a", "b"], SYNTAX),
            (&["LINSERT", "s", "middle", "a", "b"], SYNTAX),
            (&["LINSERT", "s", "before", "a", "b"], WRONGTYPE),
            (&["LREM", "s", "x", "a"], NOT_INTEGER),
            (&["LREM", "s", "1", "a"], WRONGTYPE),
            (&["LTRIM", "s", "0", "x"], NOT_INTEGER),
            (&["LTRIM", "s", "0", "1"], WRONGTYPE),
        ],
    );
    assert_arity_errors(&mut c, &["LINSERT l before a", "LREM l 1", "LTRIM l 1 2 3"]);
}

#[test]
fn lpos_with_every_option() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["RPUSH", "l", "a", "b", "c", "d", "a", "b", "a"]);
    let ints = |items: &[i64]| Value::Array(items.iter().map(|&i| Value::Int(i)).collect());
    c.assert_replies(&[
        (&["LPOS", "l", "a"], Value::Int(0)),
        (&["LPOS", "l", "b"], Value::Int(1)),
        (&["LPOS", "l", "z"], Value::Nil),
        (&["LPOS", "l", "a", "RANK", "2"], Value::Int(4)),
        (&["LPOS", "l", "a", "RANK", "-1"], Value::Int(6)),
        (&["LPOS", "l", "a", "RANK", "-3"], Value::Int(0)),
        (&["LPOS", "l", "a", "RANK", "4"], Value::Nil),
        (&["LPOS", "l", "a", "COUNT", "0"], ints(&[0, 4, 6])),
        (&["LPOS", "l", "a", "COUNT", "2"], ints(&[0, 4])),
        (
            &["LPOS", "l", "a", "RANK", "-2", "COUNT", "2"],
            ints(&[4, 0]),
        ),
        (
            &["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "5"],
            ints(&[0, 4]),
        ),
        (
            &["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "1"],
            Value::Int(6),
        ),
        (
            &["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "2", "COUNT", "0"],
            ints(&[6]),
        ),
        (&["LPOS", "l", "z", "COUNT", "1"], ints(&[])),
        (&["LPOS", "nokey", "a"], Value::Nil),
        (&["LPOS", "nokey", "a", "COUNT", "1"], ints(&[])),
        // Later options win; Redis 7.0 keeps RANK -2^63 negative.
        (
            &["LPOS", "l", "a", "COUNT", "2", "RANK", "-1", "COUNT", "5"],
            ints(&[6, 4, 0]),
        ),
        (
            &["LPOS", "l", "a", "RANK", "-9223372036854775808"],
            Value::Int(6),
        ),
        (
            &[
                "LPOS",
                "l",
                "a",
                "RANK",
                "-9223372036854775808",
                "COUNT",
                "1",
            ],
            ints(&[6, 4, 0]),
        ),
        (
            &["LPOS", "l", "a", "RANK", "9223372036854775807"],
            Value::Nil,
        ),
    ]);
    let _: () = q(&mut c, &["SET", "s", "x"]);
    let rank_zero = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
    assert_errors(
        &mut c,
        &[
            (&["LPOS", "l", "a", "RANK", "0"], rank_zero),
            (&["LPOS", "l", "a", "RANK", "x"], NOT_INTEGER),
            (
                &["LPOS", "l", "a", "COUNT", "-1"],
                "ERR COUNT can't be negative",
            ),
            (
                &["LPOS", "l", "a", "COUNT", "x"],
                "ERR COUNT can't be negative",
            ),
            (
                &["LPOS", "l", "a", "MAXLEN", "-1"],
                "ERR MAXLEN can't be negative",
            ),
            (&["LPOS", "l", "a", "BAD"], SYNTAX),
            (&["LPOS", "l", "a", "COUNT"], SYNTAX),
            (&["LPOS", "s", "a"], WRONGTYPE),
            (&["LPOS", "s", "a", "RANK", "0"], rank_zero),
        ],
    );
    assert_arity_errors(&mut c, &["LPOS l"]);
}

#[test]
fn lmove_and_rpoplpush_in_every_direction() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["RPUSH", "src", "1", "2", "3", "4"]);
    c.assert_replies(&[
        (&["LMOVE", "src", "dst", "LEFT", "LEFT"], bulk("1")),
        (&["LMOVE", "src", "dst", "RIGHT", "RIGHT"], bulk("4")),
        (&["LMOVE", "src", "dst", "left", "right"], bulk("2")),
        (&["LRANGE", "dst", "0", "-1"], list(&["1", "4", "2"])),
        (&["LMOVE", "dst", "src", "RIGHT", "LEFT"], bulk("2")),
        (&["RPOPLPUSH", "src", "dst"], bulk("3")),
        (&["LRANGE", "src", "0", "-1"], list(&["2"])),
        (&["LRANGE", "dst", "0", "-1"], list(&["3", "1", "4"])),
        // Same key: a rotation; a list of one stays.
        (&["LMOVE", "dst", "dst", "LEFT", "RIGHT"], bulk("3")),
        (&["LRANGE", "dst", "0", "-1"], list(&["1", "4", "3"])),
        (&["RPOPLPUSH", "src", "src"], bulk("2")),
        (&["LRANGE", "src", "0", "-1"], list(&["2"])),
        (&["RPOPLPUSH", "src", "new"], bulk("2")),
        (&["EXISTS", "src"], Value::Int(0)),
        (&["LMOVE", "nokey", "dst", "LEFT", "LEFT"], Value::Nil),
        (&["RPOPLPUSH", "nokey", "dst"], Value::Nil),
    ]);
    let _: () = q(&mut c, &["SET", "s", "x"]);
    // A missing source answers nil before the destination's type counts.
    assert_eq!(
        v(&mut c, &["LMOVE", "nokey", "s", "LEFT", "LEFT"]),
        Value::Nil
    );
    assert_errors(
        &mut c,
        &[
            (&["LMOVE", "dst", "s", "LEFT", "LEFT"], WRONGTYPE),
            (&["LMOVE", "s", "dst", "LEFT", "LEFT"], WRONGTYPE),
            (&["RPOPLPUSH", "dst", "s"], WRONGTYPE),
            (&["LMOVE", "dst", "x", "UP", "LEFT"], SYNTAX),
            (&["LMOVE", "dst", "x", "LEFT", "DOWN"], SYNTAX),
        ],
    );
    assert_eq!(
        range(&mut c, "dst"),
        ["1", "4", "3"],
        "nothing moved on errors"
    );
    assert_arity_errors(
        &mut c,
        &["LMOVE a b LEFT", "RPOPLPUSH a", "RPOPLPUSH a b c"],
    );
}

#[test]
fn lmpop_pops_from_the_first_non_empty_list() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["RPUSH", "b", "1", "2", "3"]);
    let popped = |key: &str, items: &[&str]| Value::Array(vec![bulk(key), list(items)]);
    c.assert_replies(&[
        (&["LMPOP", "2", "a", "b", "LEFT"], popped("b", &["1"])),
        (
            &["LMPOP", "2", "a", "b", "RIGHT", "COUNT", "5"],
            popped("b", &["3", "2"]),
        ),
        (&["LMPOP", "2", "a", "b", "RIGHT"], Value::Nil),
        (&["EXISTS", "b"], Value::Int(0)),
    ]);
    let _: () = q(&mut c, &["SET", "s", "x"]);
    let _: i64 = q(&mut c, &["RPUSH", "l", "1"]);
    let not_positive = "ERR numkeys should be greater than 0";
    assert_errors(
        &mut c,
        &[
            (&["LMPOP", "0", "a", "LEFT"], not_positive),
            (&["LMPOP", "-1", "a", "LEFT"], not_positive),
            (&["LMPOP", "x", "a", "LEFT"], not_positive),
            (&["LMPOP", "2", "a", "LEFT"], SYNTAX),
            (&["LMPOP", "1", "a", "MIDDLE"], SYNTAX),
            (
                &["LMPOP", "1", "a", "LEFT", "COUNT", "0"],
                "ERR count should be greater than 0",
            ),
            (
                &["LMPOP", "1", "a", "LEFT", "COUNT", "x"],
                "ERR count should be greater than 0",
            ),
            (
                &["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"],
                SYNTAX,
            ),
            (&["LMPOP", "1", "a", "LEFT", "BAD"], SYNTAX),
            (&["LMPOP", "9223372036854775807", "a", "LEFT"], SYNTAX),
            (&["LMPOP", "2", "s", "l", "LEFT"], WRONGTYPE),
        ],
    );
    // A list before a key of another type is served.
    assert_eq!(
        v(&mut c, &["LMPOP", "2", "l", "s", "LEFT"]),
        popped("l", &["1"])
    );
    assert_arity_errors(&mut c, &["LMPOP 1 a"]);
    assert_eq!(common::err(&mut c, &["LMPOP"]), wrong_arity("lmpop"));
}

/// The reply shapes that differ between RESP2 and RESP3, byte for byte.
#[test]
fn nil_replies_take_each_protocols_shape() {
    let node = TestServer::start();
    for (version, null_bulk, null_array) in [(2, "$-1\r\n", "*-1\r\n"), (3, "_\r\n", "_\r\n")] {
        let mut raw = node.raw();
        raw.hello(version);
        raw.assert_replies(&[
            (&["LPOP", "nokey"], null_bulk),
            (&["RPOP", "nokey", "1"], null_array),
            (&["LINDEX", "nokey", "0"], null_bulk),
            (&["LPOS", "nokey", "a"], null_bulk),
            (&["LMOVE", "nokey", "d", "LEFT", "LEFT"], null_bulk),
            (&["LMPOP", "1", "nokey", "LEFT"], null_array),
            (&["BLPOP", "nokey", "0.01"], null_array),
            // Redis 7.0 times every blocked list command out with a null
            // array, BLMOVE's too.
            (
                &["BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.01"],
                null_array,
            ),
            (&["BRPOPLPUSH", "nokey", "d", "0.01"], null_array),
            (&["BLMPOP", "0.01", "1", "nokey", "LEFT"], null_array),
            (&["RPUSH", "k", "a"], ":1\r\n"),
            (&["LINDEX", "k", "9"], null_bulk),
            (&["LPOP", "k", "0"], "*0\r\n"),
            (&["LPOS", "k", "z"], null_bulk),
            (
                &["LMPOP", "1", "k", "LEFT"],
                "*2\r\n$1\r\nk\r\n*1\r\n$1\r\na\r\n",
            ),
        ]);
        assert_eq!(raw.call(&["EXISTS", "k"]), Frame::Int(0));
    }
}

/// OBJECT ENCODING at Redis 7.2's thresholds: `list-max-listpack-size`
/// counted in elements or in listpack bytes, back to a listpack when the
/// list shrinks to one node at most half the bound.
#[test]
fn encodings_follow_list_max_listpack_size() {
    let node = TestServer::start();
    let mut c = node.conn();
    let encoding =
        |c: &mut redis::Connection, key: &str| -> String { q(c, &["OBJECT", "ENCODING", key]) };
    // Default -2: 8 KiB of listpack. 100 elements of 62 bytes take
    // 100 * 64 + 7 bytes; 1785 more raw bytes still fit, 1786 do not.
    let item = "v".repeat(62);
    for _ in 0..100 {
        let _: i64 = q(&mut c, &["RPUSH", "sized", &item]);
    }
    assert_eq!(encoding(&mut c, "sized"), "listpack");
    let _: bool = q(&mut c, &["COPY", "sized", "edge"]);
    let _: i64 = q(&mut c, &["RPUSH", "edge", &"w".repeat(1785)]);
    assert_eq!(encoding(&mut c, "edge"), "listpack");
    let _: i64 = q(&mut c, &["RPUSH", "sized", &"w".repeat(1786)]);
    assert_eq!(encoding(&mut c, "sized"), "quicklist");
    // Back to a listpack at one node of at most 4 KiB: 63 elements.
    let _: Vec<String> = q(&mut c, &["RPOP", "sized", "1"]);
    assert_eq!(encoding(&mut c, "sized"), "quicklist");
    let _: Vec<String> = q(&mut c, &["LPOP", "sized", "36"]);
    assert_eq!(
        encoding(&mut c, "sized"),
        "quicklist",
        "64 elements: 4103 bytes"
    );
    let _: String = q(&mut c, &["LPOP", "sized"]);
    assert_eq!(
        encoding(&mut c, "sized"),
        "listpack",
        "63 elements: 4039 bytes"
    );
    // Counted: 4 elements per node, through the old name too.
    config_set(&mut c, "list-max-ziplist-size", "4");
    let _: i64 = q(&mut c, &["RPUSH", "counted", "1", "2", "3", "4"]);
    assert_eq!(encoding(&mut c, "counted"), "listpack");
    let _: i64 = q(&mut c, &["LPUSH", "counted", "0"]);
    assert_eq!(encoding(&mut c, "counted"), "quicklist");
    // Nodes [0] and [1 2 3 4]: two nodes stay a quicklist, one of at most
    // 4 / 2 elements packs.
    let _: Vec<String> = q(&mut c, &["RPOP", "counted", "2"]);
    assert_eq!(encoding(&mut c, "counted"), "quicklist", "two nodes");
    let _: String = q(&mut c, &["LPOP", "counted"]);
    assert_eq!(encoding(&mut c, "counted"), "listpack");
    assert_eq!(range(&mut c, "counted"), ["1", "2"]);
    // LINSERT converts before it looks for its pivot, LSET as an addition.
    let _: i64 = q(&mut c, &["RPUSH", "full", "a", "b", "c", "d"]);
    assert_eq!(
        v(&mut c, &["LINSERT", "full", "BEFORE", "zz", "x"]),
        Value::Int(-1)
    );
    assert_eq!(encoding(&mut c, "full"), "quicklist");
    // COPY and RENAME keep the encoding.
    let _: bool = q(&mut c, &["COPY", "full", "copy"]);
    assert_eq!(encoding(&mut c, "copy"), "quicklist");
    assert_eq!(range(&mut c, "copy"), ["a", "b", "c", "d"]);
}

/// A long list against a deque: pushes and pops at both ends, LINDEX,
/// LRANGE and LSET over many nodes, LINSERT and LREM in the middle.
#[test]
fn long_lists_behave_as_a_deque() {
    let node = TestServer::with(&[("list-max-listpack-size", "16")]);
    let mut c = node.conn();
    let mut model: VecDeque<String> = VecDeque::new();
    let mut rng = fastrand::Rng::with_seed(5);
    for round in 0..40 {
        let mut pipe = redis::pipe();
        for _ in 0..200 {
            let item = format!("e{}", rng.u32(..1000));
            if rng.bool() {
                pipe.cmd("LPUSH").arg("big").arg(&item).ignore();
                model.push_front(item);
            } else {
                pipe.cmd("RPUSH").arg("big").arg(&item).ignore();
                model.push_back(item);
            }
        }
        let () = pipe.query(&mut c).unwrap();
        if round % 3 == 0 {
            let got: Vec<String> = q(&mut c, &["LPOP", "big", "50"]);
            let expected: Vec<String> = model.drain(..50).collect();
            assert_eq!(got, expected);
            let got: Vec<String> = q(&mut c, &["RPOP", "big", "30"]);
            let expected: Vec<String> = (0..30).filter_map(|_| model.pop_back()).collect();
            assert_eq!(got, expected);
        }
        let at = rng.usize(..model.len());
        let _: () = q(&mut c, &["LSET", "big", &at.to_string(), "set"]);
        model[at] = "set".into();
        let pivot = model[rng.usize(..model.len())].clone();
        let _: i64 = q(&mut c, &["LINSERT", "big", "AFTER", &pivot, "ins"]);
        let found = model.iter().position(|e| *e == pivot).unwrap();
        model.insert(found + 1, "ins".into());
    }
    let removed: i64 = q(&mut c, &["LREM", "big", "-3", "ins"]);
    for _ in 0..removed {
        let last = model.iter().rposition(|e| e == "ins").unwrap();
        model.remove(last);
    }
    assert_eq!(range(&mut c, "big"), Vec::from(model.clone()));
    for at in [0, 1, model.len() / 3, model.len() / 2, model.len() - 1] {
        let got: String = q(&mut c, &["LINDEX", "big", &at.to_string()]);
        assert_eq!(got, model[at]);
        let back = -(model.len() as i64) + at as i64;
        let got: String = q(&mut c, &["LINDEX", "big", &back.to_string()]);
        assert_eq!(got, model[at]);
    }
    let got: Vec<String> = q(&mut c, &["LRANGE", "big", "1000", "1099"]);
    assert_eq!(
        got,
        model
            .iter()
            .skip(1000)
            .take(100)
            .cloned()
            .collect::<Vec<_>>()
    );
    let got: Vec<String> = q(&mut c, &["LRANGE", "big", "-150", "-101"]);
    let tail: Vec<String> = model
        .iter()
        .skip(model.len() - 150)
        .take(50)
        .cloned()
        .collect();
    assert_eq!(got, tail);
    let _: () = q(&mut c, &["LTRIM", "big", "100", "-100"]);
    let kept: Vec<String> = model
        .iter()
        .skip(100)
        .take(model.len() - 199)
        .cloned()
        .collect();
    assert_eq!(range(&mut c, "big"), kept);
}

/// MEMORY USAGE of a list and the memory the node really takes for many
/// small lists agree within a margin (eviction reads the former). A node
/// process of its own: the allocator's count is the whole process's.
#[test]
fn list_memory_is_accounted_close_to_the_allocator() {
    let node = common::TestNode::start(&[]);
    let mut c = node.conn();
    // A first batch grows the key table: measure the second.
    let fill = |c: &mut redis::Connection, prefix: &str| {
        for chunk in 0..20 {
            let mut pipe = redis::pipe();
            for i in 0..1000 {
                let key = format!("{prefix}:{chunk}:{i}");
                pipe.cmd("RPUSH").arg(&key);
                for e in 0..10 {
                    pipe.arg(format!("value-{e}"));
                }
                pipe.ignore();
            }
            let () = pipe.query(c).unwrap();
        }
    };
    fill(&mut c, "warm");
    let before = info_u64(&mut c, "used_memory");
    fill(&mut c, "list");
    let after = info_u64(&mut c, "used_memory");
    let per_key = (after - before) as f64 / 20_000.0;
    let usage: f64 = q(&mut c, &["MEMORY", "USAGE", "list:3:7"]);
    eprintln!("lists of 10: {per_key:.1} B/key allocated, MEMORY USAGE {usage}");
    assert!(
        (usage / per_key) > 0.6 && (usage / per_key) < 1.4,
        "MEMORY USAGE {usage} vs {per_key:.1} allocated per key"
    );
}
