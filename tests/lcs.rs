//! End-to-end conformance of LCS with Redis 7: the subsequence, LEN, IDX
//! with MINMATCHLEN and WITHMATCHLEN in their RESP2 and RESP3 shapes, the
//! errors, and the bound on the memory the computation may take; then the
//! same requests on random strings compared with a real redis-server.

mod common;

use common::errors::{NOT_INTEGER, SYNTAX};
use common::query::{assert_arity_errors, assert_errors, config_set, AssertReplies};
use common::random::Gen;
use common::redis_server::{argvs, differing_replies, RedisServer};
use common::wire::Frame;
use common::{bulk, q, RawConn, TestServer};
use redis::Value;

const NOT_STRINGS: &str = "ERR The specified keys must contain string values";
const TOO_BIG: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";

fn b(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec())
}

/// One IDX match: the ranges in each string, and its length if asked.
fn range(a: (i64, i64), b: (i64, i64), len: Option<i64>) -> Frame {
    let pair = |(s, e)| Frame::Array(vec![Frame::Int(s), Frame::Int(e)]);
    let mut items = vec![pair(a), pair(b)];
    items.extend(len.map(Frame::Int));
    Frame::Array(items)
}

#[test]
fn lcs_text_length_and_options() {
    let node = TestServer::start();
    let mut c = node.conn();
    let () = q(&mut c, &["MSET", "a", "ohmytext", "b", "mynewtext"]);
    c.assert_replies(&[
        (&["LCS", "a", "b"], bulk("mytext")),
        (&["LCS", "a", "b", "LEN"], Value::Int(6)),
        (&["LCS", "a", "b", "len", "LEN"], Value::Int(6)),
        (&["LCS", "a", "missing"], bulk("")),
        (&["LCS", "missing", "other", "LEN"], Value::Int(0)),
        (&["LCS", "a", "a"], bulk("ohmytext")),
        // MINMATCHLEN and WITHMATCHLEN only shape IDX.
        (
            &["LCS", "a", "b", "MINMATCHLEN", "3", "WITHMATCHLEN"],
            bulk("mytext"),
        ),
    ]);
    // Binary strings.
    let () = redis::cmd("MSET")
        .arg("x")
        .arg(&b"\0\r\n\xffab"[..])
        .arg("y")
        .arg(&b"a\0\xff\nb"[..])
        .query(&mut c)
        .unwrap();
    let text: Vec<u8> = redis::cmd("LCS").arg("x").arg("y").query(&mut c).unwrap();
    assert_eq!(text, b"\0\xffb");
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_errors(
        &mut c,
        &[
            (&["LCS", "a", "h"], NOT_STRINGS),
            (&["LCS", "h", "missing"], NOT_STRINGS),
            // The types are checked before the options.
            (&["LCS", "h", "a", "BAD"], NOT_STRINGS),
            (&["LCS", "a", "b", "BAD"], SYNTAX),
            (&["LCS", "a", "b", "MINMATCHLEN"], SYNTAX),
            (&["LCS", "a", "b", "MINMATCHLEN", "x"], NOT_INTEGER),
            (
                &["LCS", "a", "b", "LEN", "IDX"],
                "ERR If you want both the length and indexes, please just use IDX.",
            ),
        ],
    );
    assert_arity_errors(&mut c, &["LCS a", "LCS"]);
}

#[test]
fn idx_replies_in_resp2_and_resp3() {
    let node = TestServer::start();
    let mut conn = node.raw();
    conn.call(&["MSET", "a", "ohmytext", "b", "mynewtext"]);
    let matches = vec![range((4, 7), (5, 8), None), range((2, 3), (0, 1), None)];
    assert_eq!(
        conn.call(&["LCS", "a", "b", "IDX"]),
        Frame::Array(vec![
            b("matches"),
            Frame::Array(matches),
            b("len"),
            Frame::Int(6)
        ])
    );
    // A negative MINMATCHLEN is zero.
    assert_eq!(
        conn.call(&["LCS", "a", "b", "IDX", "MINMATCHLEN", "-5"]),
        conn.call(&["LCS", "a", "b", "IDX"])
    );
    let long_only = vec![range((4, 7), (5, 8), Some(4))];
    let resp2 = Frame::Array(vec![
        b("matches"),
        Frame::Array(long_only.clone()),
        b("len"),
        Frame::Int(6),
    ]);
    let request = ["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"];
    assert_eq!(conn.call(&request), resp2);
    assert!(!conn.call(&["HELLO", "3"]).is_error());
    assert_eq!(
        conn.call(&request),
        Frame::Map(vec![
            (b("matches"), Frame::Array(long_only)),
            (b("len"), Frame::Int(6)),
        ])
    );
    // Nothing in common: no match, length 0.
    assert_eq!(
        conn.call(&["LCS", "a", "missing", "IDX"]),
        Frame::Map(vec![
            (b("matches"), Frame::Array(vec![])),
            (b("len"), Frame::Int(0)),
        ])
    );
}

#[test]
fn the_table_redis_would_fill_is_bounded_by_proto_max_bulk_len() {
    let node = TestServer::start();
    let mut c = node.conn();
    config_set(&mut c, "proto-max-bulk-len", "1mb");
    // 601 x 601 cells of 4 bytes is 1444804 bytes: refused.
    let a = "a".repeat(600);
    let () = q(&mut c, &["MSET", "x", &a, "y", &"b".repeat(600)]);
    assert_errors(
        &mut c,
        &[
            (&["LCS", "x", "y"], TOO_BIG),
            (&["LCS", "x", "y", "LEN"], TOO_BIG),
            (&["LCS", "x", "y", "IDX"], TOO_BIG),
        ],
    );
    // 601 x 436 cells (1048144 bytes) fit.
    let () = q(
        &mut c,
        &[
            "SET",
            "y",
            &format!("{}{}", "b".repeat(400), "a".repeat(35)),
        ],
    );
    assert_eq!(q::<i64>(&mut c, &["LCS", "x", "y", "LEN"]), 35);
    assert_eq!(q::<String>(&mut c, &["LCS", "x", "y"]), "a".repeat(35));
}

fn random_text(g: &mut Gen, alphabet: &[u8], max: usize) -> Vec<u8> {
    let n = g.below(max + 1);
    (0..n).map(|_| *g.pick(alphabet)).collect()
}

/// Random strings over small alphabets (so runs and ties are common), every
/// option combination, both protocols: the replies of redis-server.
#[test]
fn replies_match_redis_server() {
    let Some(redis) = RedisServer::start_or_skip("lcs::replies_match_redis_server") else {
        return;
    };
    let node = TestServer::start();
    let (mut theirs, mut ours) = (RawConn::connect(redis.addr), node.raw());
    let mut g = Gen::new(42);
    let options: &[&[&str]] = &[
        &[],
        &["LEN"],
        &["IDX"],
        &["IDX", "WITHMATCHLEN"],
        &["IDX", "MINMATCHLEN", "2"],
        &[
            "WITHMATCHLEN",
            "IDX",
            "MINMATCHLEN",
            "3",
            "MINMATCHLEN",
            "1",
        ],
    ];
    let mut differences = Vec::new();
    for round in 0..120 {
        if round == 60 {
            for conn in [&mut theirs, &mut ours] {
                assert!(!conn.call(&["HELLO", "3"]).is_error());
            }
        }
        let alphabet: &[u8] = if round % 3 == 0 { b"ab" } else { b"acgt\0\xff" };
        let (x, y) = (
            random_text(&mut g, alphabet, 40),
            random_text(&mut g, alphabet, 40),
        );
        let mut requests = vec![vec![b"MSET".to_vec(), b"x".to_vec(), x, b"y".to_vec(), y]];
        for option in options {
            for (k1, k2) in [("x", "y"), ("y", "x")] {
                let mut argv = argvs(&[&["LCS", k1, k2]]).remove(0);
                argv.extend(option.iter().map(|o| o.as_bytes().to_vec()));
                requests.push(argv);
            }
        }
        differences.extend(differing_replies(&mut theirs, &mut ours, &requests));
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
