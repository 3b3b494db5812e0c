//! End-to-end conformance of the string commands (GET, SET and its options,
//! SETNX/SETEX/PSETEX, GETSET/GETDEL/GETEX, MGET/MSET/MSETNX, counters,
//! INCRBYFLOAT, APPEND/STRLEN, GETRANGE/SETRANGE) with Redis 7 semantics:
//! reply types, exact error strings and TTL handling, against a real node.

mod common;

use common::errors::{
    line, FLOAT_RESULT_NAN_OR_INFINITY, NOT_FLOAT, NOT_INTEGER, OVERFLOW, SYNTAX, WRONGTYPE,
};
use common::query::{assert_arity_errors, AssertReplies};
use common::{assert_ttl, bulk, err, eventually, q, unix_secs, v, TestServer, DEADLINE};
use redis::Value;

#[test]
fn get_and_set_reply_types_and_binary_values() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["GET", "missing"]), Value::Nil);
    assert_eq!(v(&mut c, &["SET", "k", "v"]), Value::Okay);
    assert_eq!(v(&mut c, &["GET", "k"]), bulk("v"));
    assert_eq!(v(&mut c, &["SET", "k", ""]), Value::Okay);
    assert_eq!(v(&mut c, &["GET", "k"]), bulk(""));
    // Binary safe: CR, LF and NUL survive.
    let binary: &[u8] = b"a\r\nb\0c\xff";
    let _: () = redis::cmd("SET")
        .arg("bin")
        .arg(binary)
        .query(&mut c)
        .unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg("bin").query(&mut c).unwrap();
    assert_eq!(back, binary);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "bin"]), binary.len() as i64);
    // Case-insensitive command names.
    assert_eq!(v(&mut c, &["gEt", "k"]), bulk(""));
    // A hash refuses GET; SET replaces it with a string.
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(err(&mut c, &["GET", "h"]), WRONGTYPE);
    assert_eq!(v(&mut c, &["SET", "h", "s"]), Value::Okay);
    assert_eq!(q::<String>(&mut c, &["TYPE", "h"]), "string");
    assert_eq!(v(&mut c, &["GET", "h"]), bulk("s"));
    // Arity.
    assert_arity_errors(&mut c, &["GET", "GET a b", "SET k"]);
    // The connection stays usable after errors.
    assert_eq!(v(&mut c, &["GET", "k"]), bulk(""));
}

#[test]
fn set_nx_xx_and_get_options() {
    let node = TestServer::start();
    let mut c = node.conn();
    // NX: only when absent; a refused SET answers nil.
    assert_eq!(v(&mut c, &["SET", "k", "1", "NX"]), Value::Okay);
    assert_eq!(v(&mut c, &["SET", "k", "2", "NX"]), Value::Nil);
    assert_eq!(v(&mut c, &["GET", "k"]), bulk("1"));
    // XX: only when present.
    assert_eq!(v(&mut c, &["SET", "absent", "1", "XX"]), Value::Nil);
    assert_eq!(v(&mut c, &["EXISTS", "absent"]), Value::Int(0));
    assert_eq!(v(&mut c, &["SET", "k", "3", "xx"]), Value::Okay);
    assert_eq!(v(&mut c, &["GET", "k"]), bulk("3"));
    // NX and XX exclude each other, in either order; repeats are fine.
    assert_eq!(err(&mut c, &["SET", "k", "v", "NX", "XX"]), SYNTAX);
    assert_eq!(err(&mut c, &["SET", "k", "v", "XX", "NX"]), SYNTAX);
    assert_eq!(v(&mut c, &["SET", "k", "v", "NX", "NX"]), Value::Nil);
    assert_eq!(err(&mut c, &["SET", "k", "v", "BOGUS"]), SYNTAX);
    // GET returns the old value (nil when absent) and still sets.
    assert_eq!(v(&mut c, &["SET", "k", "4", "GET"]), bulk("3"));
    assert_eq!(v(&mut c, &["SET", "new", "n", "GET"]), Value::Nil);
    assert_eq!(v(&mut c, &["GET", "new"]), bulk("n"));
    assert_eq!(v(&mut c, &["SET", "k", "5", "GET", "GET"]), bulk("4"));
    // NX GET on an existing key: the old value, nothing written.
    assert_eq!(v(&mut c, &["SET", "k", "6", "NX", "GET"]), bulk("5"));
    assert_eq!(v(&mut c, &["GET", "k"]), bulk("5"));
    // XX GET on an absent key: nil, nothing written.
    assert_eq!(v(&mut c, &["SET", "gone", "x", "XX", "GET"]), Value::Nil);
    assert_eq!(v(&mut c, &["EXISTS", "gone"]), Value::Int(0));
    // GET against a hash: WRONGTYPE and the hash stays.
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    for args in [
        &["SET", "h", "v", "GET"][..],
        &["SET", "h", "v", "NX", "GET"],
        &["SET", "h", "v", "XX", "GET"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    assert_eq!(q::<String>(&mut c, &["TYPE", "h"]), "hash");
    // SET NX on a hash: the key exists.
    assert_eq!(v(&mut c, &["SET", "h", "v", "NX"]), Value::Nil);
}

#[test]
fn set_expiry_options() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["SET", "ex", "v", "EX", "1000"]), Value::Okay);
    assert_ttl(&mut c, "ex", 990..=1000);
    assert_eq!(v(&mut c, &["SET", "px", "v", "PX", "1000000"]), Value::Okay);
    let pttl: i64 = q(&mut c, &["PTTL", "px"]);
    assert!((990_000..=1_000_000).contains(&pttl), "{pttl}");
    let at = unix_secs() + 1000;
    assert_eq!(
        v(&mut c, &["SET", "exat", "v", "EXAT", &at.to_string()]),
        Value::Okay
    );
    assert_ttl(&mut c, "exat", 985..=1001);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "exat"]), at);
    let pat = (unix_secs() + 1000) * 1000 + 123;
    assert_eq!(
        v(&mut c, &["SET", "pxat", "v", "PXAT", &pat.to_string()]),
        Value::Okay
    );
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "pxat"]), pat);
    // Options in any order and case.
    assert_eq!(
        v(&mut c, &["SET", "mix", "v", "ex", "1000", "nx"]),
        Value::Okay
    );
    assert_ttl(&mut c, "mix", 990..=1000);
    // KEEPTTL keeps it; a plain SET (or SET with other options) clears it.
    assert_eq!(v(&mut c, &["SET", "ex", "w", "KEEPTTL"]), Value::Okay);
    assert_ttl(&mut c, "ex", 990..=1000);
    assert_eq!(
        v(&mut c, &["SET", "ex", "w2", "KEEPTTL", "KEEPTTL", "XX"]),
        Value::Okay
    );
    assert_ttl(&mut c, "ex", 990..=1000);
    assert_eq!(v(&mut c, &["SET", "ex", "x", "XX"]), Value::Okay);
    assert_eq!(q::<i64>(&mut c, &["TTL", "ex"]), -1);
    assert_eq!(v(&mut c, &["SET", "px", "y"]), Value::Okay);
    assert_eq!(q::<i64>(&mut c, &["TTL", "px"]), -1);
    // KEEPTTL on a key without TTL (or an absent key) sets none.
    assert_eq!(v(&mut c, &["SET", "fresh", "v", "KEEPTTL"]), Value::Okay);
    assert_eq!(q::<i64>(&mut c, &["TTL", "fresh"]), -1);
    // GET with an expiry: old value back, new TTL set.
    assert_eq!(
        v(&mut c, &["SET", "fresh", "v2", "GET", "EX", "1000"]),
        bulk("v")
    );
    assert_ttl(&mut c, "fresh", 990..=1000);
    // The same expiry option twice: the last one wins.
    assert_eq!(
        v(&mut c, &["SET", "twice", "v", "EX", "abc", "EX", "2000"]),
        Value::Okay
    );
    assert_ttl(&mut c, "twice", 1990..=2000);
}

#[test]
fn set_expiry_errors() {
    let node = TestServer::start();
    let mut c = node.conn();
    let invalid = "ERR invalid expire time in 'set' command";
    for args in [
        &["SET", "k", "v", "EX", "0"][..],
        &["SET", "k", "v", "EX", "-1"],
        &["SET", "k", "v", "PX", "0"],
        &["SET", "k", "v", "PX", "-100"],
        &["SET", "k", "v", "EXAT", "0"],
        &["SET", "k", "v", "PXAT", "-5"],
        // Overflowing the unit conversion or the addition to now.
        &["SET", "k", "v", "EX", "9223372036854775807"],
        &["SET", "k", "v", "EX", "9223372036854776"],
        &["SET", "k", "v", "PX", "9223372036854775807"],
        &["SET", "k", "v", "EXAT", "9223372036854775807"],
    ] {
        assert_eq!(err(&mut c, args), invalid, "{args:?}");
    }
    for args in [
        &["SET", "k", "v", "EX", "abc"][..],
        &["SET", "k", "v", "PX", "1.5"],
        &["SET", "k", "v", "EX", "9223372036854775808"],
    ] {
        assert_eq!(err(&mut c, args), NOT_INTEGER, "{args:?}");
    }
    for args in [
        &["SET", "k", "v", "EX"][..],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "PX", "100", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "PX", "10"],
        &["SET", "k", "v", "EXAT", "10", "PXAT", "10"],
        // Redis reads every option before any amount: syntax wins.
        &["SET", "k", "v", "EX", "abc", "BOGUS"],
        &["SET", "k", "v", "EX", "0", "PX", "100"],
        // PERSIST is GETEX's, not SET's.
        &["SET", "k", "v", "PERSIST"],
    ] {
        assert_eq!(err(&mut c, args), SYNTAX, "{args:?}");
    }
    // None of them wrote anything.
    assert_eq!(v(&mut c, &["EXISTS", "k"]), Value::Int(0));
    // A far but valid PXAT is fine.
    assert_eq!(
        v(&mut c, &["SET", "k", "v", "PXAT", "9223372036854775807"]),
        Value::Okay
    );
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "k"]), i64::MAX);
}

#[test]
fn set_exat_pxat_in_the_past_deletes() {
    let node = TestServer::start();
    let mut c = node.conn();
    let past = unix_secs() - 10;
    let (past_secs, past_ms) = (past.to_string(), (past * 1000).to_string());
    // Each option with the earliest time and with a recent one, with and
    // without GET.
    for (option, at) in [
        ("EXAT", "1"),
        ("PXAT", "1"),
        ("EXAT", past_secs.as_str()),
        ("PXAT", past_ms.as_str()),
    ] {
        let set = ["SET", "k", "v", option, at];
        assert_eq!(v(&mut c, &set), Value::Okay, "{set:?}");
        assert_eq!(v(&mut c, &["GET", "k"]), Value::Nil, "{set:?}");
        assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -2, "{set:?}");
        assert_eq!(v(&mut c, &["SET", "k", "old"]), Value::Okay);
        let get_set = ["SET", "k", "new", option, at, "GET"];
        assert_eq!(v(&mut c, &get_set), bulk("old"), "{get_set:?}");
        assert_eq!(v(&mut c, &["EXISTS", "k"]), Value::Int(0), "{get_set:?}");
    }
}

#[test]
fn short_ttls_expire() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["SET", "px", "v", "PX", "1"]), Value::Okay);
    assert_eq!(v(&mut c, &["PSETEX", "psetex", "1", "v"]), Value::Okay);
    assert_eq!(v(&mut c, &["SET", "getex", "v"]), Value::Okay);
    assert_eq!(v(&mut c, &["GETEX", "getex", "PX", "1"]), bulk("v"));
    assert!(eventually(DEADLINE, || {
        let found: Vec<Option<String>> = q(&mut c, &["MGET", "px", "psetex", "getex"]);
        found.iter().all(Option::is_none)
    }));
    assert_eq!(
        v(&mut c, &["EXISTS", "px", "psetex", "getex"]),
        Value::Int(0)
    );
    assert_eq!(q::<i64>(&mut c, &["TTL", "px"]), -2);
}

#[test]
fn setnx_setex_psetex() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["SETNX", "k", "1"]), Value::Int(1));
    assert_eq!(v(&mut c, &["SETNX", "k", "2"]), Value::Int(0));
    assert_eq!(v(&mut c, &["GET", "k"]), bulk("1"));
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(v(&mut c, &["SETNX", "h", "x"]), Value::Int(0));

    assert_eq!(v(&mut c, &["SETEX", "k", "1000", "v"]), Value::Okay);
    assert_eq!(v(&mut c, &["GET", "k"]), bulk("v"));
    assert_ttl(&mut c, "k", 990..=1000);
    assert_eq!(v(&mut c, &["PSETEX", "p", "1000000", "v"]), Value::Okay);
    assert_ttl(&mut c, "p", 990..=1000);
    // SETEX replaces a hash too.
    assert_eq!(v(&mut c, &["SETEX", "h", "1000", "s"]), Value::Okay);
    assert_eq!(q::<String>(&mut c, &["TYPE", "h"]), "string");

    for (command, amount) in [
        ("SETEX", "0"),
        ("SETEX", "-5"),
        ("SETEX", "9223372036854775807"),
        ("PSETEX", "0"),
        ("PSETEX", "9223372036854775807"),
    ] {
        let expected = format!(
            "ERR invalid expire time in '{}' command",
            command.to_lowercase()
        );
        assert_eq!(err(&mut c, &[command, "e", amount, "v"]), expected);
    }
    assert_eq!(err(&mut c, &["SETEX", "e", "abc", "v"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["PSETEX", "e", "1.5", "v"]), NOT_INTEGER);
    assert_eq!(v(&mut c, &["EXISTS", "e"]), Value::Int(0));
    assert_arity_errors(&mut c, &["SETEX e 10", "SETNX e"]);
}

#[test]
fn getset_and_getdel() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        (&["GETSET", "k", "1"], Value::Nil),
        (&["GETSET", "k", "2"], bulk("1")),
        // GETSET clears the TTL, as SET does.
        (&["SETEX", "k", "1000", "3"], Value::Okay),
        (&["GETSET", "k", "4"], bulk("3")),
        (&["TTL", "k"], Value::Int(-1)),
        (&["GETDEL", "k"], bulk("4")),
        (&["EXISTS", "k"], Value::Int(0)),
        (&["GETDEL", "k"], Value::Nil),
    ]);

    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(err(&mut c, &["GETSET", "h", "x"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["GETDEL", "h"]), WRONGTYPE);
    assert_eq!(q::<String>(&mut c, &["TYPE", "h"]), "hash");
}

#[test]
fn getex_options() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["GETEX", "missing"]), Value::Nil);
    assert_eq!(v(&mut c, &["SET", "k", "v", "EX", "1000"]), Value::Okay);
    // No option: value back, TTL untouched.
    assert_eq!(v(&mut c, &["GETEX", "k"]), bulk("v"));
    assert_ttl(&mut c, "k", 990..=1000);
    assert_eq!(v(&mut c, &["GETEX", "k", "EX", "2000"]), bulk("v"));
    assert_ttl(&mut c, "k", 1990..=2000);
    assert_eq!(v(&mut c, &["GETEX", "k", "PX", "3000000"]), bulk("v"));
    assert_ttl(&mut c, "k", 2990..=3000);
    let at = unix_secs() + 4000;
    assert_eq!(
        v(&mut c, &["GETEX", "k", "EXAT", &at.to_string()]),
        bulk("v")
    );
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "k"]), at);
    let pat = at * 1000 + 7;
    assert_eq!(
        v(&mut c, &["GETEX", "k", "pxat", &pat.to_string()]),
        bulk("v")
    );
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "k"]), pat);
    assert_eq!(v(&mut c, &["GETEX", "k", "PERSIST"]), bulk("v"));
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    // Repeating an option is allowed; the last amount wins.
    assert_eq!(
        v(&mut c, &["GETEX", "k", "EX", "10", "EX", "5000"]),
        bulk("v")
    );
    assert_ttl(&mut c, "k", 4990..=5000);
    assert_eq!(v(&mut c, &["GETEX", "k", "PERSIST", "PERSIST"]), bulk("v"));
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]), -1);
    // EXAT in the past: the value comes back and the key is gone.
    assert_eq!(v(&mut c, &["GETEX", "k", "EXAT", "1"]), bulk("v"));
    assert_eq!(v(&mut c, &["EXISTS", "k"]), Value::Int(0));

    assert_eq!(v(&mut c, &["SET", "k", "v"]), Value::Okay);
    for args in [
        &["GETEX", "k", "EX"][..],
        &["GETEX", "k", "EX", "10", "PERSIST"],
        &["GETEX", "k", "PERSIST", "EX", "10"],
        &["GETEX", "k", "EX", "10", "PX", "10"],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "NX"],
        &["GETEX", "k", "GET"],
        &["GETEX", "k", "EX", "abc", "BOGUS"],
    ] {
        assert_eq!(err(&mut c, args), SYNTAX, "{args:?}");
    }
    let invalid = "ERR invalid expire time in 'getex' command";
    for args in [
        &["GETEX", "k", "EX", "0"][..],
        &["GETEX", "k", "PX", "-1"],
        &["GETEX", "k", "EXAT", "0"],
        &["GETEX", "k", "EX", "9223372036854775807"],
    ] {
        assert_eq!(err(&mut c, args), invalid, "{args:?}");
    }
    assert_eq!(err(&mut c, &["GETEX", "k", "EX", "ten"]), NOT_INTEGER);
    assert_eq!(
        q::<i64>(&mut c, &["TTL", "k"]),
        -1,
        "failed GETEX changed nothing"
    );
    // Redis looks the key up before checking the amount.
    assert_eq!(v(&mut c, &["GETEX", "missing", "EX", "0"]), Value::Nil);
    assert_eq!(v(&mut c, &["GETEX", "missing", "EX", "ten"]), Value::Nil);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(err(&mut c, &["GETEX", "h"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["GETEX", "h", "EX", "ten"]), WRONGTYPE);
}

#[test]
fn mget_mset_msetnx() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["MSET", "a", "1", "b", "2"]), Value::Okay);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    // Missing keys and other types read as nil.
    assert_eq!(
        v(&mut c, &["MGET", "a", "missing", "h", "b", "a"]),
        Value::Array(vec![
            bulk("1"),
            Value::Nil,
            Value::Nil,
            bulk("2"),
            bulk("1")
        ])
    );
    // The last of a repeated key wins; MSET clears TTLs.
    assert_eq!(v(&mut c, &["SETEX", "a", "1000", "x"]), Value::Okay);
    assert_eq!(v(&mut c, &["MSET", "a", "3", "a", "4"]), Value::Okay);
    assert_eq!(v(&mut c, &["GET", "a"]), bulk("4"));
    assert_eq!(q::<i64>(&mut c, &["TTL", "a"]), -1);
    // MSET replaces a hash.
    assert_eq!(v(&mut c, &["MSET", "h", "s"]), Value::Okay);
    assert_eq!(q::<String>(&mut c, &["TYPE", "h"]), "string");
    // MSETNX: all or nothing.
    assert_eq!(v(&mut c, &["MSETNX", "a", "9", "c", "9"]), Value::Int(0));
    assert_eq!(v(&mut c, &["EXISTS", "c"]), Value::Int(0));
    assert_eq!(v(&mut c, &["GET", "a"]), bulk("4"));
    assert_eq!(v(&mut c, &["MSETNX", "c", "1", "d", "2"]), Value::Int(1));
    assert_eq!(
        v(&mut c, &["MGET", "c", "d"]),
        Value::Array(vec![bulk("1"), bulk("2")])
    );
    assert_eq!(v(&mut c, &["MSETNX", "e", "1", "e", "2"]), Value::Int(1));
    assert_eq!(v(&mut c, &["GET", "e"]), bulk("2"));
    let _: i64 = q(&mut c, &["HSET", "h2", "f", "v"]);
    assert_eq!(v(&mut c, &["MSETNX", "h2", "x", "f", "y"]), Value::Int(0));
    // Arity: odd pairs name the command.
    assert_arity_errors(&mut c, &["MSET a 1 b", "MSET a", "MSETNX a 1 b", "MGET"]);
}

#[test]
fn integer_counters() {
    let node = TestServer::start();
    let mut c = node.conn();
    // Each counter command and the value it leaves (and answers).
    for (request, value) in [
        (&["INCR", "n"][..], 1),
        (&["INCRBY", "n", "41"], 42),
        (&["DECR", "n"], 41),
        (&["DECRBY", "n", "50"], -9),
        (&["INCRBY", "n", "-1"], -10),
        (&["DECR", "fresh"], -1),
        (&["DECRBY", "fresh2", "5"], -5),
    ] {
        assert_eq!(q::<i64>(&mut c, request), value, "{request:?}");
        assert_eq!(v(&mut c, &["GET", request[1]]), bulk(&value.to_string()));
    }
    // Values that are not canonical 64-bit integers.
    for bad in [
        " 1",
        "1 ",
        "01",
        "+1",
        "1.0",
        "-0",
        "abc",
        "",
        "12345678901234567890",
        "9223372036854775808",
    ] {
        assert_eq!(v(&mut c, &["SET", "bad", bad]), Value::Okay);
        assert_eq!(err(&mut c, &["INCR", "bad"]), NOT_INTEGER, "value {bad:?}");
        assert_eq!(v(&mut c, &["GET", "bad"]), bulk(bad), "unchanged");
    }
    assert_eq!(err(&mut c, &["INCRBY", "n", "1.5"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["INCRBY", "n", "abc"]), NOT_INTEGER);
    assert_eq!(
        err(&mut c, &["DECRBY", "n", "9223372036854775808"]),
        NOT_INTEGER
    );
    // Overflow in both directions.
    let overflow = OVERFLOW;
    assert_eq!(
        v(&mut c, &["SET", "max", "9223372036854775807"]),
        Value::Okay
    );
    assert_eq!(err(&mut c, &["INCR", "max"]), overflow);
    assert_eq!(err(&mut c, &["INCRBY", "max", "1"]), overflow);
    assert_eq!(err(&mut c, &["DECRBY", "max", "-1"]), overflow);
    assert_eq!(v(&mut c, &["GET", "max"]), bulk("9223372036854775807"));
    assert_eq!(
        v(&mut c, &["SET", "min", "-9223372036854775808"]),
        Value::Okay
    );
    assert_eq!(err(&mut c, &["DECR", "min"]), overflow);
    assert_eq!(err(&mut c, &["INCRBY", "min", "-1"]), overflow);
    assert_eq!(
        v(&mut c, &["INCRBY", "min", "9223372036854775807"]),
        Value::Int(-1)
    );
    // Negating i64::MIN cannot be done: Redis has its own message.
    assert_eq!(
        err(&mut c, &["DECRBY", "min", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );
    assert_eq!(
        v(&mut c, &["DECRBY", "edge", "9223372036854775807"]),
        Value::Int(-i64::MAX)
    );
    assert_eq!(v(&mut c, &["DECR", "edge"]), Value::Int(i64::MIN));
    // Counters keep the TTL.
    assert_eq!(v(&mut c, &["SETEX", "t", "1000", "5"]), Value::Okay);
    assert_eq!(v(&mut c, &["INCR", "t"]), Value::Int(6));
    assert_eq!(v(&mut c, &["DECRBY", "t", "2"]), Value::Int(4));
    assert_ttl(&mut c, "t", 990..=1000);
    // Wrong type.
    let _: i64 = q(&mut c, &["HSET", "h", "f", "1"]);
    for command in ["INCR", "DECR"] {
        assert_eq!(err(&mut c, &[command, "h"]), WRONGTYPE);
    }
    for command in ["INCRBY", "DECRBY"] {
        assert_eq!(err(&mut c, &[command, "h", "1"]), WRONGTYPE);
    }
}

#[test]
fn incrbyfloat_results_and_errors() {
    let node = TestServer::start();
    let mut c = node.conn();
    // The examples of the Redis documentation.
    assert_eq!(v(&mut c, &["SET", "f", "10.50"]), Value::Okay);
    assert_eq!(v(&mut c, &["INCRBYFLOAT", "f", "0.1"]), bulk("10.6"));
    assert_eq!(v(&mut c, &["INCRBYFLOAT", "f", "-5"]), bulk("5.6"));
    assert_eq!(v(&mut c, &["GET", "f"]), bulk("5.6"));
    assert_eq!(v(&mut c, &["SET", "f", "5.0e3"]), Value::Okay);
    assert_eq!(v(&mut c, &["INCRBYFLOAT", "f", "2.0e2"]), bulk("5200"));
    assert_eq!(v(&mut c, &["SET", "f", "5.0e3"]), Value::Okay);
    assert_eq!(v(&mut c, &["INCRBYFLOAT", "f", "10.6"]), bulk("5010.6"));
    // No exponent, no trailing zeros, integers without a point.
    assert_eq!(v(&mut c, &["INCRBYFLOAT", "new", "1"]), bulk("1"));
    assert_eq!(v(&mut c, &["INCRBYFLOAT", "new", "0.25"]), bulk("1.25"));
    assert_eq!(v(&mut c, &["INCRBYFLOAT", "new", "-1.25"]), bulk("0"));
    assert_eq!(v(&mut c, &["SET", "big", "17179869184"]), Value::Okay);
    assert_eq!(
        v(&mut c, &["INCRBYFLOAT", "big", "1.5"]),
        bulk("17179869185.5")
    );
    assert_eq!(
        v(&mut c, &["INCRBYFLOAT", "e", "1e10"]),
        bulk("10000000000")
    );
    assert_eq!(v(&mut c, &["SET", "i", "3"]), Value::Okay);
    assert_eq!(v(&mut c, &["INCRBYFLOAT", "i", "1.1"]), bulk("4.1"));
    assert_eq!(v(&mut c, &["SET", "s", "1.23e1"]), Value::Okay);
    assert_eq!(v(&mut c, &["INCRBYFLOAT", "s", "0"]), bulk("12.3"));
    // Errors leave the value alone.
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "i", "abc"]), NOT_FLOAT);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "i", "nan"]), NOT_FLOAT);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "i", " 1"]), NOT_FLOAT);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "i", ""]), NOT_FLOAT);
    for bad in [" 1", "1 ", "abc", "1.5.5"] {
        assert_eq!(v(&mut c, &["SET", "bad", bad]), Value::Okay);
        assert_eq!(
            err(&mut c, &["INCRBYFLOAT", "bad", "1"]),
            NOT_FLOAT,
            "value {bad:?}"
        );
    }
    let nan_or_inf = FLOAT_RESULT_NAN_OR_INFINITY;
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "i", "inf"]), nan_or_inf);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "i", "-inf"]), nan_or_inf);
    assert_eq!(v(&mut c, &["SET", "huge", "1.5e308"]), Value::Okay);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "huge", "1.5e308"]), nan_or_inf);
    assert_eq!(v(&mut c, &["GET", "i"]), bulk("4.1"));
    assert_eq!(v(&mut c, &["EXISTS", "missing"]), Value::Int(0));
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "missing", "inf"]), nan_or_inf);
    assert_eq!(v(&mut c, &["EXISTS", "missing"]), Value::Int(0));
    // Keeps the TTL; a hash is the wrong type.
    assert_eq!(v(&mut c, &["SETEX", "t", "1000", "1.5"]), Value::Okay);
    assert_eq!(v(&mut c, &["INCRBYFLOAT", "t", "1"]), bulk("2.5"));
    assert_ttl(&mut c, "t", 990..=1000);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "1"]);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "h", "1"]), WRONGTYPE);
}

#[test]
fn append_and_strlen() {
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        (&["STRLEN", "k"], Value::Int(0)),
        (&["APPEND", "k", "Hello"], Value::Int(5)),
        (&["APPEND", "k", " World"], Value::Int(11)),
        (&["APPEND", "k", ""], Value::Int(11)),
        (&["GET", "k"], bulk("Hello World")),
        (&["STRLEN", "k"], Value::Int(11)),
        // APPEND to a number keeps it a number for INCR.
        (&["SET", "n", "1"], Value::Okay),
        (&["APPEND", "n", "2"], Value::Int(2)),
        (&["INCR", "n"], Value::Int(13)),
        // APPEND keeps the TTL.
        (&["SETEX", "t", "1000", "a"], Value::Okay),
        (&["APPEND", "t", "b"], Value::Int(2)),
    ]);
    assert_ttl(&mut c, "t", 990..=1000);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(err(&mut c, &["APPEND", "h", "x"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["STRLEN", "h"]), WRONGTYPE);
}

#[test]
fn getrange_indexes_like_redis() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["SET", "s", "This is a string"]), Value::Okay);
    for (start, end, expected) in [
        (0, 3, "This"),
        (-3, -1, "ing"),
        (0, -1, "This is a string"),
        (10, 100, "string"),
        (0, -100, "T"),
        (-100, -50, "T"),
        (-100, 2, "Thi"),
        (-1, -5, ""),
        (5, 3, ""),
        (16, 20, ""),
        (15, 15, "g"),
        (i64::MAX, i64::MIN, ""),
    ] {
        let (from, to) = (start.to_string(), end.to_string());
        assert_eq!(
            v(&mut c, &["GETRANGE", "s", &from, &to]),
            bulk(expected),
            "GETRANGE {start} {end}"
        );
    }
    assert_eq!(v(&mut c, &["SUBSTR", "s", "0", "3"]), bulk("This"));
    // A missing key and an empty string give an empty string, not nil.
    assert_eq!(v(&mut c, &["GETRANGE", "missing", "0", "-1"]), bulk(""));
    assert_eq!(v(&mut c, &["SET", "empty", ""]), Value::Okay);
    assert_eq!(v(&mut c, &["GETRANGE", "empty", "0", "0"]), bulk(""));
    assert_eq!(err(&mut c, &["GETRANGE", "s", "a", "1"]), NOT_INTEGER);
    assert_eq!(err(&mut c, &["GETRANGE", "s", "0", "1.5"]), NOT_INTEGER);
    assert_arity_errors(&mut c, &["GETRANGE s 0"]);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(err(&mut c, &["GETRANGE", "h", "0", "1"]), WRONGTYPE);
}

#[test]
fn setrange_pads_and_limits() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["SET", "s", "Hello World"]), Value::Okay);
    assert_eq!(v(&mut c, &["SETRANGE", "s", "6", "Redis"]), Value::Int(11));
    assert_eq!(v(&mut c, &["GET", "s"]), bulk("Hello Redis"));
    // Growing past the end.
    assert_eq!(
        v(&mut c, &["SETRANGE", "s", "6", "Redis!!"]),
        Value::Int(13)
    );
    assert_eq!(v(&mut c, &["GET", "s"]), bulk("Hello Redis!!"));
    // Past the end of a missing key: zero bytes pad the gap.
    assert_eq!(v(&mut c, &["SETRANGE", "pad", "3", "abc"]), Value::Int(6));
    let padded: Vec<u8> = q(&mut c, &["GET", "pad"]);
    assert_eq!(padded, b"\0\0\0abc");
    assert_eq!(v(&mut c, &["SETRANGE", "pad", "8", "z"]), Value::Int(9));
    let padded: Vec<u8> = q(&mut c, &["GET", "pad"]);
    assert_eq!(padded, b"\0\0\0abc\0\0z");
    // An empty value writes nothing: no key created, the length answered.
    assert_eq!(v(&mut c, &["SETRANGE", "none", "0", ""]), Value::Int(0));
    assert_eq!(v(&mut c, &["SETRANGE", "none", "100", ""]), Value::Int(0));
    assert_eq!(v(&mut c, &["EXISTS", "none"]), Value::Int(0));
    assert_eq!(v(&mut c, &["SETRANGE", "s", "100", ""]), Value::Int(13));
    assert_eq!(v(&mut c, &["STRLEN", "s"]), Value::Int(13));
    // Errors.
    assert_eq!(
        err(&mut c, &["SETRANGE", "s", "-1", "x"]),
        "ERR offset is out of range"
    );
    assert_eq!(err(&mut c, &["SETRANGE", "s", "abc", "x"]), NOT_INTEGER);
    let too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(err(&mut c, &["SETRANGE", "s", "536870911", "ab"]), too_big);
    assert_eq!(err(&mut c, &["SETRANGE", "big", "536870912", "a"]), too_big);
    assert_eq!(v(&mut c, &["EXISTS", "big"]), Value::Int(0));
    // At the limit exactly is allowed (a 512 MB string is not built here:
    // a smaller limit shows the boundary).
    assert_eq!(
        v(&mut c, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"]),
        Value::Okay
    );
    assert_eq!(
        v(&mut c, &["SETRANGE", "edge", "1048575", "a"]),
        Value::Int(1_048_576)
    );
    assert_eq!(err(&mut c, &["SETRANGE", "edge", "1048576", "a"]), too_big);
    assert_eq!(err(&mut c, &["APPEND", "edge", "b"]), too_big);
    // Keeps the TTL; wrong type even for an empty value.
    assert_eq!(v(&mut c, &["SETEX", "t", "1000", "abc"]), Value::Okay);
    assert_eq!(v(&mut c, &["SETRANGE", "t", "1", "X"]), Value::Int(3));
    assert_eq!(v(&mut c, &["GET", "t"]), bulk("aXc"));
    assert_ttl(&mut c, "t", 990..=1000);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(err(&mut c, &["SETRANGE", "h", "0", "x"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SETRANGE", "h", "0", ""]), WRONGTYPE);
}

#[test]
fn wire_format_resp2_and_resp3() {
    let node = TestServer::start();
    let mut raw = node.raw();
    raw.assert_replies(&[
        (&["GET", "missing"], "$-1\r\n"),
        (&["SET", "k", "v"], "+OK\r\n"),
        (&["SET", "k", "v", "NX"], "$-1\r\n"),
        (&["GET", "k"], "$1\r\nv\r\n"),
        (&["INCR", "n"], ":1\r\n"),
        (&["INCRBYFLOAT", "f", "1.5"], "$3\r\n1.5\r\n"),
        (&["MGET", "k", "missing"], "*2\r\n$1\r\nv\r\n$-1\r\n"),
        (&["HSET", "h", "f", "v"], ":1\r\n"),
    ]);
    assert_eq!(raw.roundtrip(&["INCR", "k"]), line(NOT_INTEGER));
    assert_eq!(raw.roundtrip(&["GET", "h"]), line(WRONGTYPE));
    // RESP3: nulls are `_`, everything else keeps its type.
    raw.hello(3);
    raw.assert_replies(&[
        (&["GET", "missing"], "_\r\n"),
        (&["SET", "k", "v", "NX"], "_\r\n"),
        (&["SET", "new", "v", "GET"], "_\r\n"),
        (&["GETDEL", "missing"], "_\r\n"),
        (&["GETEX", "missing"], "_\r\n"),
        (&["MGET", "k", "missing"], "*2\r\n$1\r\nv\r\n_\r\n"),
        (&["GET", "k"], "$1\r\nv\r\n"),
        (&["INCR", "n"], ":2\r\n"),
        (&["INCRBYFLOAT", "f", "1"], "$3\r\n2.5\r\n"),
    ]);
    // Back to RESP2.
    raw.hello(2);
    assert_eq!(raw.roundtrip(&["GET", "missing"]), b"$-1\r\n");
}

#[test]
fn set_ifeq_and_ifne_compare_and_set() {
    // Redis 8.4's conditional SET: the building block of a version fence.
    let node = TestServer::start();
    let mut c = node.conn();
    c.assert_replies(&[
        // IFEQ on a missing key never matches; IFNE does.
        (&["SET", "k", "1", "IFEQ", "0"], Value::Nil),
        (&["EXISTS", "k"], Value::Int(0)),
        (&["SET", "k", "1", "IFNE", "1"], Value::Okay),
        // IFEQ writes only over the exact value.
        (&["SET", "k", "2", "IFEQ", "9"], Value::Nil),
        (&["SET", "k", "2", "IFEQ", "1", "PX", "60000"], Value::Okay),
        (&["GET", "k"], bulk("2")),
    ]);
    assert!(q::<i64>(&mut c, &["PTTL", "k"]) > 0);
    c.assert_replies(&[
        // IFNE refuses the same value; GET returns the old value either way.
        (&["SET", "k", "3", "IFNE", "2", "GET"], bulk("2")),
        (&["GET", "k"], bulk("2")),
        (&["SET", "k", "3", "IFNE", "x", "GET"], bulk("2")),
        (&["GET", "k"], bulk("3")),
    ]);
    // Exclusive with NX, XX and each other; the value is required.
    for args in [
        &["SET", "k", "v", "NX", "IFEQ", "3"][..],
        &["SET", "k", "v", "IFEQ", "3", "XX"],
        &["SET", "k", "v", "IFEQ", "3", "IFNE", "4"],
        &["SET", "k", "v", "IFEQ"],
    ] {
        assert_eq!(err(&mut c, args), SYNTAX, "{args:?}");
    }
    // Against a hash: WRONGTYPE, the hash stays.
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    assert!(err(&mut c, &["SET", "h", "v", "IFNE", "x"]).starts_with("WRONGTYPE"));
    assert_eq!(
        v(&mut c, &["TYPE", "h"]),
        Value::SimpleString("hash".into())
    );
}
