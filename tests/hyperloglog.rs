//! End-to-end conformance of PFADD, PFCOUNT and PFMERGE with Redis 7: the
//! values are strings in Redis's HyperLogLog format, so besides replies and
//! errors the tests compare the bytes GET returns with redis-server's after
//! the same commands, across the switch from the sparse to the dense
//! encoding and with other `hll-sparse-max-bytes` settings.

mod common;

use common::errors::WRONGTYPE;
use common::query::{
    assert_arity_errors, assert_errors, config_set, config_value, get_bytes, set_bytes,
    AssertReplies,
};
use common::redis_server::{argvs, differing_replies, RedisServer};
use common::{q, v, RawConn, TestServer};
use redis::{Connection, Value};

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";
/// Length of a dense HyperLogLog string.
const DENSE: i64 = 12304;

/// PFADD of `count` elements `prefix0`, `prefix1`, ... in batches.
fn add_many(c: &mut Connection, key: &str, prefix: &str, count: usize) {
    let mut pipe = redis::pipe();
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}{i}")).collect();
    for batch in names.chunks(100) {
        pipe.cmd("PFADD").arg(key).arg(batch).ignore();
    }
    let () = pipe.query(c).unwrap_or_else(|e| panic!("PFADD {key}: {e}"));
}

#[test]
fn pfadd_and_pfcount_on_new_and_existing_keys() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        (&["PFCOUNT", "h"], Value::Int(0)),
        // A new key is a change even without elements; nothing new is not.
        (&["PFADD", "h"], Value::Int(1)),
        (&["PFADD", "h"], Value::Int(0)),
        (&["PFCOUNT", "h"], Value::Int(0)),
        (&["PFADD", "h", "a", "b", "c"], Value::Int(1)),
        (&["PFADD", "h", "a", "b"], Value::Int(0)),
        (&["PFCOUNT", "h"], Value::Int(3)),
        (&["TYPE", "h"], Value::SimpleString("string".into())),
    ]);
    // Redis's bytes: the sparse encoding, its cache valid after PFCOUNT.
    assert_eq!(
        get_bytes(&mut c, "h"),
        b"HYLL\x01\0\0\0\x03\0\0\0\0\0\0\0\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a"
    );
    // Binary elements are elements like any other.
    c.assert_replies(&[
        (&["PFADD", "h", "\0\r\n", ""], Value::Int(1)),
        (&["PFCOUNT", "h"], Value::Int(5)),
    ]);
    // A TTL stays through PFADD.
    c.assert_replies(&[
        (&["EXPIRE", "h", "1000"], Value::Int(1)),
        (&["PFADD", "h", "d"], Value::Int(1)),
    ]);
    assert!(q::<i64>(&mut c, &["TTL", "h"]) > 900);
    assert_arity_errors(&mut c, &["PFADD", "PFCOUNT", "PFMERGE"]);
}

#[test]
fn the_estimate_stays_within_redis_s_error() {
    let node = TestServer::start();
    let mut c = node.conn();
    add_many(&mut c, "big", "user:", 100_000);
    let count: i64 = q(&mut c, &["PFCOUNT", "big"]);
    // The standard error is 0.81%; 2% is about 2.5 standard errors.
    assert!((98_000..=102_000).contains(&count), "{count}");
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "big"]), DENSE);
    // Adding what is there changes nothing.
    add_many(&mut c, "big", "user:", 1000);
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "big"]), count);
}

#[test]
fn several_keys_count_their_union_and_merge_into_one() {
    let node = TestServer::start();
    let mut c = node.conn();
    add_many(&mut c, "a", "x", 600);
    add_many(&mut c, "b", "x", 300);
    add_many(&mut c, "b", "y", 300);
    let before_a = get_bytes(&mut c, "a");
    let union: i64 = q(&mut c, &["PFCOUNT", "a", "b", "missing"]);
    assert!((880..=920).contains(&union), "{union}");
    // The union leaves every key as it was (no cache written).
    assert_eq!(get_bytes(&mut c, "a"), before_a);
    c.assert_replies(&[
        (&["PFMERGE", "m", "a", "b", "missing"], Value::Okay),
        (&["PFCOUNT", "m"], Value::Int(union)),
        // The destination is a source too.
        (&["PFMERGE", "a", "b"], Value::Okay),
        (&["PFCOUNT", "a"], Value::Int(union)),
        // Nothing to merge: an empty HyperLogLog.
        (&["PFMERGE", "empty"], Value::Okay),
        (&["PFCOUNT", "empty"], Value::Int(0)),
        (&["EXPIRE", "m", "1000"], Value::Int(1)),
        (&["PFMERGE", "m", "empty"], Value::Okay),
    ]);
    assert!(q::<i64>(&mut c, &["TTL", "m"]) > 900);
    // PFCOUNT cached the zero: the stale flag is gone.
    assert_eq!(
        get_bytes(&mut c, "empty"),
        b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"
    );
    assert_eq!(v(&mut c, &["PFMERGE", "fresh"]), Value::Okay);
    assert_eq!(
        get_bytes(&mut c, "fresh"),
        b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff"
    );
}

#[test]
fn other_values_are_refused_and_corruption_is_detected() {
    let node = TestServer::start();
    let mut c = node.conn();
    let _: i64 = q(&mut c, &["HSET", "hash", "f", "v"]);
    set_bytes(&mut c, "text", b"HYLLxxxxxxxxxxxxxxxx");
    // Sparse opcodes that cover 16383 registers, not 16384.
    set_bytes(&mut c, "short", b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xfe");
    // A dense string of the wrong length is not a HyperLogLog.
    set_bytes(&mut c, "cut", &[&b"HYLL\0"[..], &[0; 100]].concat());
    let _: i64 = q(&mut c, &["PFADD", "ok", "a"]);
    assert_errors(
        &mut c,
        &[
            (&["PFADD", "hash", "a"], WRONGTYPE),
            (&["PFCOUNT", "hash"], WRONGTYPE),
            (&["PFCOUNT", "ok", "hash"], WRONGTYPE),
            (&["PFMERGE", "hash", "ok"], WRONGTYPE),
            (&["PFMERGE", "ok", "hash"], WRONGTYPE),
            (&["PFADD", "text", "a"], NOT_HLL),
            (&["PFCOUNT", "text"], NOT_HLL),
            (&["PFCOUNT", "cut"], NOT_HLL),
            (&["PFMERGE", "d", "ok", "text"], NOT_HLL),
            (&["PFCOUNT", "short"], INVALID),
            (&["PFCOUNT", "ok", "short"], INVALID),
            (&["PFMERGE", "d", "short"], INVALID),
        ],
    );
    // A refused PFMERGE writes nothing.
    assert_eq!(v(&mut c, &["EXISTS", "d"]), Value::Int(0));
    // A register past the last one: the first opcode still updates.
    set_bytes(
        &mut c,
        "long",
        b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff\x84",
    );
    assert_eq!(v(&mut c, &["PFADD", "long", "a"]), Value::Int(1));
    assert_errors(&mut c, &[(&["PFCOUNT", "long"], INVALID)]);
}

#[test]
fn hll_sparse_max_bytes_decides_when_a_key_turns_dense() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(config_value(&mut c, "hll-sparse-max-bytes"), "3000");
    add_many(&mut c, "default", "e", 1000);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "default"]), 1906);
    config_set(&mut c, "hll-sparse-max-bytes", "100");
    assert_eq!(config_value(&mut c, "hll-sparse-max-bytes"), "100");
    add_many(&mut c, "small", "e", 1000);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "small"]), DENSE);
    // The estimate does not depend on the encoding.
    assert_eq!(
        q::<i64>(&mut c, &["PFCOUNT", "small"]),
        q::<i64>(&mut c, &["PFCOUNT", "default"])
    );
}

/// One request per element batch, as argument vectors.
fn pfadd_requests(key: &str, prefix: &str, from: usize, to: usize) -> Vec<Vec<Vec<u8>>> {
    let names: Vec<String> = (from..to).map(|i| format!("{prefix}{i}")).collect();
    names
        .chunks(37)
        .map(|batch| {
            let mut argv = vec![b"PFADD".to_vec(), key.as_bytes().to_vec()];
            argv.extend(batch.iter().map(|n| n.as_bytes().to_vec()));
            argv
        })
        .collect()
}

/// For the same commands, GET returns the bytes redis-server holds, in
/// both encodings and through the switch between them, and PFCOUNT,
/// PFMERGE and the errors agree.
#[test]
fn bytes_and_counts_match_redis_server() {
    let Some(redis) =
        RedisServer::start_or_skip("hyperloglog::bytes_and_counts_match_redis_server")
    else {
        return;
    };
    let node = TestServer::start();
    let (mut theirs, mut ours) = (RawConn::connect(redis.addr), node.raw());
    let mut differences = Vec::new();
    for max_bytes in ["3000", "0", "500", "20000"] {
        let config = argvs(&[
            &["FLUSHALL"],
            &["CONFIG", "SET", "hll-sparse-max-bytes", max_bytes],
        ]);
        differences.extend(differing_replies(&mut theirs, &mut ours, &config));
        // Step by step from empty to dense, the bytes after every batch.
        let mut steps = 0;
        for (from, to) in [
            (0, 10),
            (10, 200),
            (200, 1500),
            (1500, 3000),
            (3000, 20_000),
        ] {
            for add in pfadd_requests("h", "el", from, to) {
                steps += 1;
                let mut batch = vec![add];
                if steps % 5 == 0 {
                    batch.push(argvs(&[&["GET", "h"]]).remove(0));
                }
                if steps % 7 == 0 {
                    batch.extend(argvs(&[&["PFCOUNT", "h"], &["GET", "h"]]));
                }
                differences.extend(differing_replies(&mut theirs, &mut ours, &batch));
            }
            let checks = argvs(&[
                &["GET", "h"],
                &["STRLEN", "h"],
                &["PFCOUNT", "h"],
                &["GET", "h"],
            ]);
            differences.extend(differing_replies(&mut theirs, &mut ours, &checks));
        }
        let mut merges = pfadd_requests("s1", "a", 0, 150);
        merges.extend(pfadd_requests("s2", "b", 0, 40));
        merges.extend(argvs(&[
            &["PFMERGE", "sparse", "s1", "s2"],
            &["GET", "sparse"],
            &["PFMERGE", "mixed", "s1", "h"],
            &["GET", "mixed"],
            &["PFCOUNT", "s1", "s2", "h", "missing"],
            &["PFMERGE", "s2", "s1"],
            &["GET", "s2"],
            &["PFCOUNT", "s2"],
            &["GET", "s2"],
        ]));
        differences.extend(differing_replies(&mut theirs, &mut ours, &merges));
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
