//! Commands through redis-rs, in the few shapes the conformance tests use:
//! one that must succeed ([`q`], [`v`]), one that must fail with Redis's
//! exact error ([`err`], [`error_text`]), and CONFIG and TTL shortcuts.

use std::time::{SystemTime, UNIX_EPOCH};

use redis::{Connection, Value};

/// A command from its words.
pub fn cmd<A: AsRef<[u8]>>(args: &[A]) -> redis::Cmd {
    let mut c = redis::cmd(&String::from_utf8_lossy(args[0].as_ref()));
    for a in &args[1..] {
        c.arg(a.as_ref());
    }
    c
}

/// Runs a command that must succeed and converts its reply.
pub fn q<T: redis::FromRedisValue>(conn: &mut Connection, args: &[&str]) -> T {
    cmd(args)
        .query(conn)
        .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

/// The raw reply value of a command that must not fail.
pub fn v(conn: &mut Connection, args: &[&str]) -> Value {
    q(conn, args)
}

/// Runs a command that must fail and returns the whole error line as the
/// server sent it (code and message).
pub fn err(conn: &mut Connection, args: &[&str]) -> String {
    match cmd(args).query::<Value>(conn) {
        Ok(Value::ServerError(e)) => format!("{} {}", e.code(), e.details().unwrap_or(""))
            .trim_end()
            .to_string(),
        Ok(other) => panic!("{args:?} should fail, got {other:?}"),
        Err(e) => server_error(&e).unwrap_or_else(|| panic!("{args:?}: not a server error: {e}")),
    }
}

/// The text of the error a redis-rs call must have got (code and message,
/// as sent).
pub fn error_text<T: std::fmt::Debug>(result: redis::RedisResult<T>) -> String {
    let e = result.expect_err("an error reply");
    server_error(&e).unwrap_or_else(|| e.to_string())
}

fn server_error(e: &redis::RedisError) -> Option<String> {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => Some(format!("{code} {detail}")),
        (Some(code), None) => Some(code.to_string()),
        _ => None,
    }
}

/// SET of a binary value, which must succeed.
pub fn set_bytes(conn: &mut Connection, key: &str, value: &[u8]) {
    let () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query(conn)
        .unwrap_or_else(|e| panic!("SET {key}: {e}"));
}

/// GET of a string as bytes (empty when the key is missing).
pub fn get_bytes(conn: &mut Connection, key: &str) -> Vec<u8> {
    redis::cmd("GET")
        .arg(key)
        .query(conn)
        .unwrap_or_else(|e| panic!("GET {key}: {e}"))
}

/// A bulk string reply.
pub fn bulk(text: &str) -> Value {
    Value::BulkString(text.as_bytes().to_vec())
}

/// Seconds since the Unix epoch, by this machine's clock.
pub fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Asserts that `key`'s TTL in seconds lies in `range` (long TTLs only, so
/// a slow machine cannot make it flaky).
pub fn assert_ttl(conn: &mut Connection, key: &str, range: std::ops::RangeInclusive<i64>) {
    let ttl: i64 = q(conn, &["TTL", key]);
    assert!(
        range.contains(&ttl),
        "TTL {key} = {ttl}, expected {range:?}"
    );
}

/// CONFIG GET `pattern` as (name, value) pairs.
pub fn config_get(conn: &mut Connection, pattern: &str) -> Vec<(String, String)> {
    let flat: Vec<String> = q(conn, &["CONFIG", "GET", pattern]);
    flat.chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

/// The value of the one parameter `name`.
pub fn config_value(conn: &mut Connection, name: &str) -> String {
    let pairs = config_get(conn, name);
    assert_eq!(pairs.len(), 1, "CONFIG GET {name}: {pairs:?}");
    pairs[0].1.clone()
}

/// CONFIG SET of one parameter, which must succeed.
pub fn config_set(conn: &mut Connection, name: &str, value: &str) {
    let () = q(conn, &["CONFIG", "SET", name, value]);
}

/// DBSIZE.
pub fn dbsize(conn: &mut Connection) -> u64 {
    q(conn, &["DBSIZE"])
}

/// A conversation as a table: `c.assert_replies(&[(request, reply), ...])`.
pub trait AssertReplies {
    /// Sends each request in turn and asserts its reply.
    fn assert_replies(&mut self, steps: &[(&[&str], Value)]);
}

impl AssertReplies for Connection {
    #[track_caller]
    fn assert_replies(&mut self, steps: &[(&[&str], Value)]) {
        for (request, expected) in steps {
            assert_eq!(v(self, request), *expected, "{request:?}");
        }
    }
}

/// Asserts that each request fails with exactly its error line.
pub fn assert_errors(conn: &mut Connection, cases: &[(&[&str], &str)]) {
    for (request, expected) in cases {
        assert_eq!(err(conn, request), *expected, "{request:?}");
    }
}

/// Asserts that each request (its words separated by spaces) fails with
/// Redis's arity error for its command.
pub fn assert_arity_errors(conn: &mut Connection, requests: &[&str]) {
    for request in requests {
        let words: Vec<&str> = request.split(' ').collect();
        assert_eq!(
            err(conn, &words),
            super::errors::wrong_arity(words[0]),
            "{request:?}"
        );
    }
}

/// SETs every key of `keys` to `value` in one pipeline.
pub fn set_keys<K: redis::ToRedisArgs>(
    conn: &mut Connection,
    keys: impl IntoIterator<Item = K>,
    value: &[u8],
) {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("SET").arg(key).arg(value).ignore();
    }
    let () = pipe
        .query(conn)
        .unwrap_or_else(|e| panic!("pipelined SETs failed: {e}"));
}
