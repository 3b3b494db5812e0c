//! The encodings OBJECT ENCODING reports for sets (intset, listpack,
//! hashtable, at Redis 7.2's thresholds and by its rules) and hashes
//! (listpack, hashtable), end to end, and the memory the compact
//! encodings take, measured against MEMORY USAGE in a node process.

mod common;

use common::query::config_set;
use common::{bulk, info_u64, q, v, TestNode, TestServer};
use redis::{Connection, Value};

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
fn set_encodings_follow_redis_thresholds() {
    let node = TestServer::start();
    let mut c = node.conn();
    let ints: Vec<String> = (0..512).map(|i| i.to_string()).collect();
    sadd(&mut c, "ints", &ints);
    assert_eq!(encoding(&mut c, "ints"), "intset");
    sadd(&mut c, "ints", &["-1".to_string()]);
    assert_eq!(encoding(&mut c, "ints"), "hashtable");
    // A string joins a small intset as a listpack; past 128 members, or
    // with a member over 64 bytes, a listpack becomes a table.
    sadd(&mut c, "mixed", &words("1 2 3"));
    sadd(&mut c, "mixed", &["x".to_string()]);
    assert_eq!(encoding(&mut c, "mixed"), "listpack");
    sadd(&mut c, "mixed", &numbered("m", 0..124));
    assert_eq!(
        (
            encoding(&mut c, "mixed"),
            q::<i64>(&mut c, &["SCARD", "mixed"])
        ),
        ("listpack".into(), 128)
    );
    sadd(&mut c, "mixed", &["one more".to_string()]);
    assert_eq!(encoding(&mut c, "mixed"), "hashtable");
    sadd(&mut c, "long", &["x".repeat(64)]);
    assert_eq!(encoding(&mut c, "long"), "listpack");
    sadd(&mut c, "long", &["x".repeat(65)]);
    assert_eq!(encoding(&mut c, "long"), "hashtable");
    // Never back: removing members keeps the table.
    let _: i64 = q(&mut c, &["SREM", "long", &"x".repeat(65)]);
    assert_eq!(encoding(&mut c, "long"), "hashtable");
    // SADD sizes a new set for the members it names, duplicates and all.
    let repeated = vec!["a".to_string(); 129];
    assert_eq!(sadd(&mut c, "hinted", &repeated), 1);
    assert_eq!(encoding(&mut c, "hinted"), "hashtable");
    // CONFIG SET moves the thresholds for the next adds.
    config_set(&mut c, "set-max-intset-entries", "2");
    config_set(&mut c, "set-max-listpack-entries", "3");
    config_set(&mut c, "set-max-listpack-value", "4");
    sadd(&mut c, "t1", &words("1 2"));
    assert_eq!(encoding(&mut c, "t1"), "intset");
    sadd(&mut c, "t1", &words("3"));
    assert_eq!(encoding(&mut c, "t1"), "hashtable");
    sadd(&mut c, "t2", &words("1 a"));
    assert_eq!(encoding(&mut c, "t2"), "listpack");
    sadd(&mut c, "t2", &words("abcde"));
    assert_eq!(encoding(&mut c, "t2"), "hashtable");
    config_set(&mut c, "set-max-intset-entries", "512");
    config_set(&mut c, "set-max-listpack-entries", "128");
    config_set(&mut c, "set-max-listpack-value", "64");
    // Stored results are built as Redis builds them.
    sadd(&mut c, "words", &numbered("w", 0..200));
    sadd(&mut c, "few", &words("w1 w2 w3 5"));
    for (request, expected) in [
        (&["SINTERSTORE", "d", "words", "few"][..], "listpack"),
        (&["SINTERSTORE", "d", "ints", "ints"], "hashtable"),
        (&["SUNIONSTORE", "d", "few"], "listpack"),
        (&["SUNIONSTORE", "d", "words"], "hashtable"),
        (&["SDIFFSTORE", "d", "few", "words"], "intset"),
        (&["SDIFFSTORE", "d", "words", "few"], "hashtable"),
    ] {
        let _: i64 = q(&mut c, request);
        assert_eq!(encoding(&mut c, "d"), expected, "{request:?}");
    }
    // SPOP that leaves a few members of a table rebuilds them compact.
    let _: Vec<String> = q(&mut c, &["SPOP", "words", "190"]);
    assert_eq!(encoding(&mut c, "words"), "listpack");
    // COPY keeps the encoding.
    let _: i64 = q(&mut c, &["COPY", "hinted", "copied"]);
    assert_eq!(encoding(&mut c, "copied"), "hashtable");
}

#[test]
fn hash_encodings_follow_redis_thresholds() {
    let node = TestServer::start();
    let mut c = node.conn();
    // A listpack hash lists fields in insertion order.
    let _: i64 = q(&mut c, &["HSET", "h", "c", "1", "a", "2", "b", "3"]);
    let _: i64 = q(&mut c, &["HSET", "h", "a", "changed"]);
    assert_eq!(encoding(&mut c, "h"), "listpack");
    assert_eq!(q::<Vec<String>>(&mut c, &["HKEYS", "h"]), ["c", "a", "b"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["HVALS", "h"]),
        ["1", "changed", "3"]
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["HGETALL", "h"]),
        ["c", "1", "a", "changed", "b", "3"]
    );
    // Past 128 fields, or a value over 64 bytes: a table, for good.
    let mut fill = redis::cmd("HSET");
    fill.arg("big");
    for i in 0..128 {
        fill.arg(format!("f{i}")).arg(i);
    }
    let _: i64 = fill.query(&mut c).unwrap();
    assert_eq!(encoding(&mut c, "big"), "listpack");
    let _: i64 = q(&mut c, &["HSET", "big", "one", "more"]);
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    let _: i64 = q(&mut c, &["HDEL", "big", "one", "f1", "f2"]);
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    let long = "v".repeat(65);
    let _: i64 = q(&mut c, &["HSET", "h2", "f", &"v".repeat(64)]);
    assert_eq!(encoding(&mut c, "h2"), "listpack");
    // HSET checks its arguments before writing: a long value set and then
    // overwritten in the same command still converts (as Redis 7.0).
    let _: i64 = q(&mut c, &["HSET", "h2", "f", &long, "f", "short"]);
    assert_eq!(encoding(&mut c, "h2"), "hashtable");
    assert_eq!(v(&mut c, &["HGET", "h2", "f"]), bulk("short"));
    // HSETNX on an existing field writes nothing and converts nothing.
    let _: i64 = q(&mut c, &["HSET", "h3", "f", "v"]);
    assert_eq!(v(&mut c, &["HSETNX", "h3", "f", &long]), Value::Int(0));
    assert_eq!(encoding(&mut c, "h3"), "listpack");
    let _: String = q(&mut c, &["HINCRBYFLOAT", "h3", &"n".repeat(65), "1.5"]);
    assert_eq!(encoding(&mut c, "h3"), "hashtable");
    // The thresholds are CONFIG SET's, including the old names.
    config_set(&mut c, "hash-max-ziplist-entries", "2");
    let _: i64 = q(&mut c, &["HSET", "h4", "a", "1", "b", "2"]);
    assert_eq!(encoding(&mut c, "h4"), "listpack");
    let _: i64 = q(&mut c, &["HINCRBY", "h4", "c", "1"]);
    assert_eq!(encoding(&mut c, "h4"), "hashtable");
}

/// Used memory per key for `keys` keys filled by `fill`, and the sum of
/// MEMORY USAGE over them, per key.
fn memory_per_key(
    c: &mut Connection,
    keys: usize,
    fill: impl Fn(&mut redis::Pipeline, usize),
) -> (f64, f64) {
    let _: () = q(c, &["FLUSHALL"]);
    let before = info_u64(c, "used_memory");
    for start in (0..keys).step_by(1000) {
        let mut pipe = redis::pipe();
        (start..start + 1000).for_each(|i| fill(&mut pipe, i));
        let () = pipe.query(c).expect("fill");
    }
    let used = info_u64(c, "used_memory").saturating_sub(before) as f64 / keys as f64;
    let mut usage = 0u64;
    for start in (0..keys).step_by(1000) {
        let mut pipe = redis::pipe();
        (start..start + 1000).for_each(|i| {
            pipe.cmd("MEMORY").arg("USAGE").arg(format!("key:{i:06}"));
        });
        let sizes: Vec<u64> = pipe.query(c).expect("MEMORY USAGE");
        usage += sizes.iter().sum::<u64>();
    }
    (used, usage as f64 / keys as f64)
}

#[test]
fn compact_sets_and_hashes_take_what_memory_usage_says() {
    // A node process of its own: INFO used_memory counts nothing else.
    let node = TestNode::start(&[]);
    let mut c = node.conn();
    let sets = memory_per_key(&mut c, 100_000, |pipe, i| {
        pipe.cmd("SADD")
            .arg(format!("key:{i:06}"))
            .arg((0..10).map(|n| (i * 10 + n) % 30_000).collect::<Vec<_>>())
            .ignore();
    });
    let hashes = memory_per_key(&mut c, 100_000, |pipe, i| {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(format!("key:{i:06}"));
        for f in 0..5 {
            cmd.arg(format!("field{f}")).arg(format!("value{i}"));
        }
        pipe.add_command(cmd).ignore();
    });
    assert_eq!(encoding(&mut c, "key:000001"), "listpack");
    for (what, (used, usage)) in [
        ("sets of 10 integers", sets),
        ("hashes of 5 fields", hashes),
    ] {
        eprintln!("{what}: {used:.1} B/key used, MEMORY USAGE {usage:.1} B/key");
        // The accounting is close to what the allocator handed out: below
        // it by the spare room of the key table and of the slab of
        // collections (a vector that doubles), never above it.
        assert!(
            usage <= used * 1.05 && usage >= used * 0.75,
            "{what}: used {used:.1}, MEMORY USAGE {usage:.1}"
        );
    }
}
