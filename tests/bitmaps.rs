//! End-to-end conformance of the bitmap commands (SETBIT GETBIT BITCOUNT
//! BITPOS BITOP BITFIELD BITFIELD_RO) with Redis 7: replies, exact errors,
//! ranges, growth and limits, through redis-rs against a node in this
//! process, plus the same requests compared with a real redis-server.

mod common;

use common::errors::{wrong_arity, NOT_INTEGER, SYNTAX, WRONGTYPE};
use common::query::{
    assert_arity_errors, assert_errors, config_set, get_bytes, set_bytes, AssertReplies,
};
use common::redis_server::{argvs, differing_replies, RedisServer};
use common::{err, q, v, RawConn, TestServer};
use redis::Value;
use ringcache_server::store::ValueRef;

const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

fn int(n: i64) -> Value {
    Value::Int(n)
}

fn ints(values: &[i64]) -> Value {
    Value::Array(values.iter().map(|&n| Value::Int(n)).collect())
}

#[test]
fn setbit_and_getbit_grow_the_string_with_zeros() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        (&["SETBIT", "b", "7", "1"], int(0)),
        (&["SETBIT", "b", "7", "1"], int(1)),
        (&["GETBIT", "b", "7"], int(1)),
        (&["GETBIT", "b", "6"], int(0)),
        (&["SETBIT", "b", "100", "1"], int(0)),
        (&["STRLEN", "b"], int(13)),
        (&["SETBIT", "b", "7", "0"], int(1)),
        (&["GETBIT", "b", "100000"], int(0)),
        (&["GETBIT", "missing", "3"], int(0)),
        (&["TYPE", "b"], Value::SimpleString("string".into())),
    ]);
    assert_eq!(get_bytes(&mut c, "b"), b"\0\0\0\0\0\0\0\0\0\0\0\0\x08");
    // Bits of a binary string, most significant first.
    set_bytes(&mut c, "bin", b"\x80\0\xff\r\n");
    c.assert_replies(&[
        (&["GETBIT", "bin", "0"], int(1)),
        (&["GETBIT", "bin", "1"], int(0)),
        (&["SETBIT", "bin", "9", "1"], int(0)),
        (&["GETBIT", "bin", "23"], int(1)),
    ]);
    assert_eq!(get_bytes(&mut c, "bin"), b"\x80\x40\xff\r\n");
    // A TTL stays.
    c.assert_replies(&[
        (&["EXPIRE", "bin", "1000"], int(1)),
        (&["SETBIT", "bin", "100", "1"], int(0)),
    ]);
    assert!(q::<i64>(&mut c, &["TTL", "bin"]) > 900);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_errors(
        &mut c,
        &[
            (&["SETBIT", "b", "-1", "1"], BIT_OFFSET),
            (&["SETBIT", "b", "x", "1"], BIT_OFFSET),
            (&["SETBIT", "b", "4294967296", "1"], BIT_OFFSET),
            (&["SETBIT", "b", "1", "2"], BIT_VALUE),
            (&["SETBIT", "b", "1", "-1"], BIT_VALUE),
            (&["SETBIT", "b", "1", "x"], BIT_VALUE),
            (&["GETBIT", "b", "-1"], BIT_OFFSET),
            (&["GETBIT", "b", "#1"], BIT_OFFSET),
            // The offset and the value are checked before the key's type.
            (&["SETBIT", "h", "1", "2"], BIT_VALUE),
            (&["GETBIT", "h", "x"], BIT_OFFSET),
            (&["SETBIT", "h", "1", "1"], WRONGTYPE),
            (&["GETBIT", "h", "1"], WRONGTYPE),
        ],
    );
    assert_arity_errors(&mut c, &["SETBIT b 1", "GETBIT b", "GETBIT b 1 2"]);
}

#[test]
fn offsets_stop_at_proto_max_bulk_len() {
    let node = TestServer::start();
    let mut c = node.conn();
    config_set(&mut c, "proto-max-bulk-len", "1mb");
    let last = (1 << 23) - 1;
    assert_eq!(v(&mut c, &["SETBIT", "b", &last.to_string(), "1"]), int(0));
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "b"]), 1 << 20);
    assert_eq!(v(&mut c, &["BITCOUNT", "b"]), int(1));
    let past = (last + 1).to_string();
    assert_errors(
        &mut c,
        &[
            (&["SETBIT", "b", &past, "1"], BIT_OFFSET),
            (&["GETBIT", "b", &past], BIT_OFFSET),
            (&["BITFIELD", "b", "GET", "u8", &past], BIT_OFFSET),
            (&["BITFIELD", "b", "SET", "u8", "#1048576", "1"], BIT_OFFSET),
        ],
    );
    // The last byte is still addressable by a field that reaches it.
    assert_eq!(
        v(&mut c, &["BITFIELD", "b", "GET", "u8", "#1048575"]),
        ints(&[1])
    );
}

/// The bytes of the string at `key`, where they are in memory.
fn value_address(node: &TestServer, key: &[u8]) -> (usize, usize) {
    let mut lock = node.state.store.lock(key);
    let index = lock.find(key).expect("the key exists");
    match lock.shard.value(index) {
        ValueRef::Str(v) => (v.as_ptr() as usize, v.len()),
        other => panic!("{other:?} is not a string"),
    }
}

#[test]
fn setbit_on_a_large_bitmap_writes_in_place() {
    let node = TestServer::start();
    let mut c = node.conn();
    // A 64 MiB bitmap, made by SETBIT and by SET.
    assert_eq!(v(&mut c, &["SETBIT", "grown", "536870911", "1"]), int(0));
    set_bytes(&mut c, "set", &vec![0u8; 64 << 20]);
    for key in ["grown", "set"] {
        let before = value_address(&node, key.as_bytes());
        assert_eq!(before.1, 64 << 20);
        let mut pipe = redis::pipe();
        for i in 0..2000u64 {
            pipe.cmd("SETBIT").arg(key).arg(i * 262_139).arg(1).ignore();
        }
        let () = pipe.query(&mut c).unwrap();
        // Not one copy of the string: the bytes did not move.
        assert_eq!(value_address(&node, key.as_bytes()), before, "{key}");
        assert_eq!(v(&mut c, &["GETBIT", key, "524015861"]), int(1));
        assert_eq!(
            v(&mut c, &["BITFIELD", key, "SET", "u8", "0", "7"]),
            ints(&[128])
        );
        assert_eq!(value_address(&node, key.as_bytes()), before, "{key}");
    }
    let count: i64 = q(&mut c, &["BITCOUNT", "set"]);
    assert_eq!(count, 2000 + 2);
}

#[test]
fn bitcount_ranges_in_bytes_and_bits() {
    let node = TestServer::start();
    let mut c = node.conn();
    set_bytes(&mut c, "s", b"foobar");
    set_bytes(&mut c, "empty", b"");
    c.assert_replies(&[
        (&["BITCOUNT", "s"], int(26)),
        (&["BITCOUNT", "s", "0", "0"], int(4)),
        (&["BITCOUNT", "s", "1", "1"], int(6)),
        (&["BITCOUNT", "s", "1", "1", "BYTE"], int(6)),
        (&["BITCOUNT", "s", "5", "30", "BIT"], int(17)),
        (&["BITCOUNT", "s", "0", "-1", "bit"], int(26)),
        (&["BITCOUNT", "s", "-2", "-1"], int(7)),
        (&["BITCOUNT", "s", "-100", "100"], int(26)),
        (&["BITCOUNT", "s", "3", "1"], int(0)),
        (&["BITCOUNT", "s", "6", "100"], int(0)),
        // Both from the end and crossed: zero, before the unit is read.
        (&["BITCOUNT", "s", "-1", "-2"], int(0)),
        (&["BITCOUNT", "s", "-1", "-2", "bad"], int(0)),
        (&["BITCOUNT", "s", "-10", "-20"], int(0)),
        (
            &[
                "BITCOUNT",
                "s",
                "-9223372036854775808",
                "9223372036854775807",
            ],
            int(26),
        ),
        (&["BITCOUNT", "empty"], int(0)),
        (&["BITCOUNT", "empty", "0", "-1", "BIT"], int(0)),
        // A missing key is looked up first: zero whatever the arguments.
        (&["BITCOUNT", "missing"], int(0)),
        (&["BITCOUNT", "missing", "x", "y", "z"], int(0)),
    ]);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_errors(
        &mut c,
        &[
            (&["BITCOUNT", "s", "0"], SYNTAX),
            (&["BITCOUNT", "s", "0", "1", "2"], SYNTAX),
            (&["BITCOUNT", "s", "0", "1", "BIT", "x"], SYNTAX),
            (&["BITCOUNT", "s", "x", "1"], NOT_INTEGER),
            (&["BITCOUNT", "s", "1", "1.5"], NOT_INTEGER),
            (&["BITCOUNT", "h"], WRONGTYPE),
            (&["BITCOUNT", "h", "x"], WRONGTYPE),
        ],
    );
    assert_arity_errors(&mut c, &["BITCOUNT"]);
}

#[test]
fn bitpos_finds_set_and_clear_bits_with_redis_s_end_rules() {
    let node = TestServer::start();
    let mut c = node.conn();
    set_bytes(&mut c, "s", b"\xff\xf0\x00");
    set_bytes(&mut c, "ones", b"\xff\xff\xff");
    set_bytes(&mut c, "zeros", b"\x00\x00\x00");
    set_bytes(&mut c, "empty", b"");
    c.assert_replies(&[
        (&["BITPOS", "s", "0"], int(12)),
        (&["BITPOS", "s", "1"], int(0)),
        (&["BITPOS", "s", "1", "2"], int(-1)),
        (&["BITPOS", "s", "0", "2"], int(16)),
        (&["BITPOS", "s", "1", "1", "-1"], int(8)),
        (&["BITPOS", "s", "1", "5", "13", "BIT"], int(5)),
        (&["BITPOS", "s", "0", "5", "13", "BIT"], int(12)),
        (&["BITPOS", "s", "0", "5", "11", "BIT"], int(-1)),
        (&["BITPOS", "s", "1", "-1", "-1", "BYTE"], int(-1)),
        (&["BITPOS", "s", "1", "100"], int(-1)),
        // No clear bit without an end: the first bit past the string; with
        // an end, -1.
        (&["BITPOS", "ones", "0"], int(24)),
        (&["BITPOS", "ones", "0", "1"], int(24)),
        (&["BITPOS", "ones", "0", "1", "-1"], int(-1)),
        (&["BITPOS", "ones", "0", "3", "20", "BIT"], int(-1)),
        (&["BITPOS", "zeros", "1"], int(-1)),
        (&["BITPOS", "zeros", "0", "-1"], int(16)),
        // Negative indexes clamp to the start.
        (&["BITPOS", "s", "1", "-10", "-20"], int(0)),
        // An empty string holds neither bit; a missing key reads as zeros.
        (&["BITPOS", "empty", "0"], int(-1)),
        (&["BITPOS", "empty", "1"], int(-1)),
        (&["BITPOS", "missing", "0"], int(0)),
        (&["BITPOS", "missing", "1"], int(-1)),
        (&["BITPOS", "missing", "0", "x", "y", "z", "w"], int(0)),
    ]);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_errors(
        &mut c,
        &[
            (
                &["BITPOS", "s", "2"],
                "ERR The bit argument must be 1 or 0.",
            ),
            (
                &["BITPOS", "missing", "-1"],
                "ERR The bit argument must be 1 or 0.",
            ),
            (&["BITPOS", "s", "x"], NOT_INTEGER),
            (&["BITPOS", "s", "1", "x"], NOT_INTEGER),
            (&["BITPOS", "s", "1", "0", "x"], NOT_INTEGER),
            // The unit is read before the end.
            (&["BITPOS", "s", "1", "0", "x", "bad"], SYNTAX),
            (&["BITPOS", "s", "1", "0", "1", "BIT", "x"], SYNTAX),
            (&["BITPOS", "h", "1"], WRONGTYPE),
            (
                &["BITPOS", "h", "2"],
                "ERR The bit argument must be 1 or 0.",
            ),
        ],
    );
    assert_arity_errors(&mut c, &["BITPOS s"]);
}

#[test]
fn bitop_combines_strings_of_any_length() {
    let node = TestServer::start();
    let mut c = node.conn();
    set_bytes(&mut c, "a", b"\xff\x0f\xf0");
    set_bytes(&mut c, "b", b"\x0f");
    c.assert_replies(&[
        (&["BITOP", "AND", "d", "a", "b"], int(3)),
        (&["BITOP", "or", "o", "a", "b"], int(3)),
        (&["BITOP", "Xor", "x", "a", "b", "b"], int(3)),
        (&["BITOP", "NOT", "n", "b"], int(1)),
        (&["BITOP", "AND", "m", "a", "missing"], int(3)),
    ]);
    assert_eq!(get_bytes(&mut c, "d"), b"\x0f\0\0");
    assert_eq!(get_bytes(&mut c, "o"), b"\xff\x0f\xf0");
    assert_eq!(get_bytes(&mut c, "x"), b"\xff\x0f\xf0");
    assert_eq!(get_bytes(&mut c, "n"), b"\xf0");
    assert_eq!(get_bytes(&mut c, "m"), b"\0\0\0");
    // The result replaces any value and its TTL; an empty one deletes.
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    c.assert_replies(&[
        (&["EXPIRE", "d", "1000"], int(1)),
        (&["BITOP", "OR", "d", "b"], int(1)),
        (&["TTL", "d"], int(-1)),
        (&["BITOP", "OR", "h", "a"], int(3)),
        (&["TYPE", "h"], Value::SimpleString("string".into())),
        (&["BITOP", "OR", "d", "missing", "other"], int(0)),
        (&["EXISTS", "d"], int(0)),
        (&["BITOP", "NOT", "d", "missing"], int(0)),
    ]);
    let _: i64 = q(&mut c, &["HSET", "hash", "f", "v"]);
    assert_errors(
        &mut c,
        &[
            (&["BITOP", "NAND", "d", "a"], SYNTAX),
            (
                &["BITOP", "NOT", "d", "a", "b"],
                "ERR BITOP NOT must be called with a single source key.",
            ),
            (&["BITOP", "AND", "d", "a", "hash"], WRONGTYPE),
        ],
    );
    // A refused BITOP writes nothing.
    assert_eq!(v(&mut c, &["EXISTS", "d"]), int(0));
    assert_arity_errors(&mut c, &["BITOP AND d", "BITOP NOT d", "BITOP"]);
}

#[test]
fn bitfield_reads_writes_and_overflows() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        (&["BITFIELD", "f"], Value::Array(vec![])),
        (&["BITFIELD", "f", "GET", "i8", "0"], ints(&[0])),
        (&["EXISTS", "f"], int(0)),
        (
            &[
                "BITFIELD", "f", "SET", "u8", "0", "255", "GET", "u8", "0", "GET", "i8", "0",
            ],
            ints(&[0, 255, -1]),
        ),
        (
            &["BITFIELD", "f", "SET", "u4", "#3", "17", "GET", "u4", "12"],
            ints(&[0, 1]),
        ),
        (
            &[
                "BITFIELD", "f", "INCRBY", "i5", "100", "1", "GET", "i5", "100",
            ],
            ints(&[1, 1]),
        ),
        (
            &[
                "BITFIELD",
                "f",
                "SET",
                "i64",
                "0",
                "-9223372036854775808",
                "GET",
                "u63",
                "1",
            ],
            ints(&[-71_776_119_061_217_280, 0]),
        ),
    ]);
    // Overflow: WRAP by default; SAT clamps; FAIL answers nil and writes
    // nothing; each applies to the operations after it.
    let nil_and = |n: i64| Value::Array(vec![Value::Nil, Value::Int(n)]);
    c.assert_replies(&[
        (
            &[
                "BITFIELD", "o", "SET", "i8", "0", "127", "INCRBY", "i8", "0", "1",
            ],
            ints(&[0, -128]),
        ),
        (
            &[
                "BITFIELD", "o", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-1000", "INCRBY", "u8",
                "8", "1000",
            ],
            ints(&[-128, 255]),
        ),
        (
            &[
                "BITFIELD", "o", "OVERFLOW", "FAIL", "INCRBY", "u8", "8", "1", "GET", "u8", "8",
            ],
            nil_and(255),
        ),
        (
            &[
                "BITFIELD", "o", "OVERFLOW", "SAT", "SET", "u8", "16", "-1", "OVERFLOW", "WRAP",
                "SET", "u8", "24", "-1",
            ],
            ints(&[0, 0]),
        ),
        (
            &["BITFIELD", "o", "GET", "u8", "16", "GET", "u8", "24"],
            ints(&[255, 255]),
        ),
        // Redis's quirk: SAT of a value far below i8's range gives 127.
        (
            &[
                "BITFIELD",
                "o",
                "OVERFLOW",
                "SAT",
                "SET",
                "i8",
                "0",
                "-9223372036854775808",
                "GET",
                "i8",
                "0",
            ],
            ints(&[-128, 127]),
        ),
        (
            &[
                "BITFIELD",
                "o",
                "SET",
                "i64",
                "0",
                "9223372036854775807",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "i64",
                "0",
                "1",
                "OVERFLOW",
                "WRAP",
                "INCRBY",
                "i64",
                "0",
                "1",
            ],
            ints(&[9_223_372_032_559_808_512, i64::MAX, i64::MIN]),
        ),
    ]);
    // A FAIL that writes nothing still creates (and grows) the key.
    c.assert_replies(&[
        (
            &[
                "BITFIELD", "g", "OVERFLOW", "FAIL", "SET", "i8", "80", "200",
            ],
            Value::Array(vec![Value::Nil]),
        ),
        (&["STRLEN", "g"], int(11)),
        (
            &["BITFIELD_RO", "g", "GET", "u8", "0", "GET", "i64", "#1000"],
            ints(&[0, 0]),
        ),
        (&["BITFIELD_RO", "missing", "GET", "i64", "0"], ints(&[0])),
    ]);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_errors(
        &mut c,
        &[
            (&["BITFIELD", "f", "GET"], SYNTAX),
            (&["BITFIELD", "f", "GET", "i8"], SYNTAX),
            (&["BITFIELD", "f", "SET", "i8", "0"], SYNTAX),
            (&["BITFIELD", "f", "FOO"], SYNTAX),
            (&["BITFIELD", "f", "OVERFLOW"], SYNTAX),
            (
                &["BITFIELD", "f", "OVERFLOW", "MAYBE", "GET", "i8", "0"],
                "ERR Invalid OVERFLOW type specified",
            ),
            (&["BITFIELD", "f", "GET", "u64", "0"], BAD_TYPE),
            (&["BITFIELD", "f", "GET", "i65", "0"], BAD_TYPE),
            (&["BITFIELD", "f", "GET", "i0", "0"], BAD_TYPE),
            (&["BITFIELD", "f", "GET", "I8", "0"], BAD_TYPE),
            (&["BITFIELD", "f", "GET", "i08", "0"], BAD_TYPE),
            (&["BITFIELD", "f", "GET", "i8", "-1"], BIT_OFFSET),
            (&["BITFIELD", "f", "GET", "i8", "#-1"], BIT_OFFSET),
            (
                &["BITFIELD", "f", "GET", "i64", "#9223372036854775807"],
                BIT_OFFSET,
            ),
            (&["BITFIELD", "f", "SET", "i8", "0", "x"], NOT_INTEGER),
            (&["BITFIELD", "f", "INCRBY", "i8", "0", "1.5"], NOT_INTEGER),
            (&["BITFIELD", "h", "GET", "i8", "0"], WRONGTYPE),
            (&["BITFIELD", "h", "SET", "i8", "0", "1"], WRONGTYPE),
            (&["BITFIELD", "h"], WRONGTYPE),
            (
                &["BITFIELD_RO", "f", "GET", "i8", "0", "SET", "i8", "0", "1"],
                "ERR BITFIELD_RO only supports the GET subcommand",
            ),
            (&["BITFIELD_RO", "f", "INCRBY", "i8", "0", "x"], NOT_INTEGER),
            (&["BITFIELD_RO", "h", "GET", "i8", "0"], WRONGTYPE),
        ],
    );
    assert_eq!(err(&mut c, &["BITFIELD"]), wrong_arity("bitfield"));
    assert_arity_errors(&mut c, &["BITFIELD_RO"]);
}

/// COMMAND INFO's first seven fields (name, arity, flags, first key, last
/// key, step, ACL categories) of `name`, on a raw connection.
fn command_info(conn: &mut RawConn, name: &str) -> Vec<common::wire::Frame> {
    let reply = conn.call(&["COMMAND", "INFO", name]);
    let info = reply
        .items()
        .and_then(|all| all.first())
        .and_then(|i| i.items());
    info.map(|fields| fields[..7].to_vec())
        .unwrap_or_else(|| panic!("COMMAND INFO {name}: {}", reply.show()))
}

/// The table rows of the bitmap, HyperLogLog and LCS commands, and the
/// bit commands' replies, as redis-server's.
#[test]
fn rows_and_replies_match_redis_server() {
    let Some(redis) = RedisServer::start_or_skip("bitmaps::rows_and_replies_match_redis_server")
    else {
        return;
    };
    let node = TestServer::start();
    let (mut theirs, mut ours) = (RawConn::connect(redis.addr), node.raw());
    for name in [
        "setbit",
        "getbit",
        "bitcount",
        "bitpos",
        "bitop",
        "bitfield",
        "bitfield_ro",
        "pfadd",
        "pfcount",
        "pfmerge",
        "lcs",
    ] {
        assert_eq!(
            command_info(&mut ours, name),
            command_info(&mut theirs, name),
            "{name}"
        );
    }
    let mut requests = argvs(&[
        &["SET", "s", "foobar"],
        &["HSET", "h", "f", "v"],
        &["SETBIT", "b", "77", "1"],
        &[
            "BITFIELD", "b", "SET", "i13", "#7", "-300", "INCRBY", "u9", "3", "511", "GET", "i64",
            "5",
        ],
        &["BITOP", "XOR", "x", "s", "b", "missing"],
        &["GET", "x"],
        &["BITCOUNT", "x", "1", "-2", "BIT"],
        &["BITPOS", "x", "0", "-3"],
    ]);
    // Every range over a 6-byte string, in both units, for both commands.
    for start in ["-8", "-6", "-1", "0", "2", "5", "6", "47", "48"] {
        for end in ["-9", "-1", "0", "3", "5", "6", "40", "100"] {
            for unit in ["BYTE", "BIT"] {
                requests.push(argvs(&[&["BITCOUNT", "s", start, end, unit]]).remove(0));
                for bit in ["0", "1"] {
                    requests.push(argvs(&[&["BITPOS", "s", bit, start, end, unit]]).remove(0));
                }
            }
            requests.push(argvs(&[&["BITPOS", "s", "0", start]]).remove(0));
        }
    }
    let mut differences = differing_replies(&mut theirs, &mut ours, &requests);
    for conn in [&mut theirs, &mut ours] {
        assert!(!conn.call(&["HELLO", "3"]).is_error());
    }
    differences.extend(differing_replies(&mut theirs, &mut ours, &requests));
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
