//! Redis's conversions between RESP and Lua, both ways.
//!
//! A command's reply (RESP2, or RESP3 after `redis.setresp(3)`) becomes a
//! Lua value: integers numbers, bulk strings strings, a RESP2 nil `false`
//! (RESP3's null `nil`), status replies `{ok=...}`, errors `{err=...}`,
//! arrays tables, and under RESP3 maps `{map={...}}`, sets
//! `{set={k=true}}`, doubles `{double=n}`, booleans, big numbers
//! `{big_number=s}` and verbatim strings `{verbatim_string={format, string}}`.
//!
//! A script's result becomes the reply in the caller's protocol: numbers
//! cast to integers as C casts them, strings bulk, `true` 1, `false` and
//! `nil` a null (under `setresp(3)` booleans stay booleans), tables as
//! the fields above say, otherwise an array up to the first nil.

use bytes::BytesMut;
use mlua::{Lua, Table, Value};
use ringcache_proto::resp;

use super::numbers::{c_cast_i64, format_g};
use crate::protocol::Reply;

/// Deepest nesting converted; deeper replies are refused as Redis's
/// "reached lua stack limit".
const MAX_DEPTH: usize = 1000;

/// A reply parsed into a Lua value; `is_error` for an error reply.
pub struct Converted {
    /// The value.
    pub value: Value,
    /// The reply was an error (`{err=...}`).
    pub is_error: bool,
}

/// Converts the one reply in `bytes` (written by a command) to Lua.
///
/// # Errors
/// Lua failed, or the bytes are not one reply.
pub fn reply_to_lua(lua: &Lua, bytes: &[u8]) -> mlua::Result<Converted> {
    let mut at = 0;
    let is_error = bytes.first() == Some(&b'-');
    let value = parse(lua, bytes, &mut at, 0)?;
    Ok(Converted { value, is_error })
}

fn malformed() -> mlua::Error {
    mlua::Error::RuntimeError("malformed reply from a command".into())
}

/// The line at `at` (without CRLF); moves past it.
fn line<'b>(bytes: &'b [u8], at: &mut usize) -> mlua::Result<&'b [u8]> {
    let rest = bytes.get(*at..).ok_or_else(malformed)?;
    let end = memchr::memmem::find(rest, b"\r\n").ok_or_else(malformed)?;
    *at += end + 2;
    Ok(&rest[..end])
}

fn length(text: &[u8]) -> mlua::Result<i64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(malformed)
}

fn table_with(lua: &Lua, key: &str, value: Value) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.raw_set(key, value)?;
    Ok(Value::Table(table))
}

fn parse(lua: &Lua, bytes: &[u8], at: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(malformed());
    }
    let kind = *bytes.get(*at).ok_or_else(malformed)?;
    *at += 1;
    let head = line(bytes, at)?;
    match kind {
        b'+' => table_with(lua, "ok", Value::String(lua.create_string(head)?)),
        b'-' => table_with(lua, "err", Value::String(lua.create_string(head)?)),
        b':' => Ok(Value::Number(length(head)? as f64)),
        b'$' | b'=' => {
            let n = length(head)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let n = n as usize;
            let body = bytes.get(*at..*at + n).ok_or_else(malformed)?;
            *at += n + 2;
            if kind == b'$' {
                return Ok(Value::String(lua.create_string(body)?));
            }
            let (format, text) = if body.len() >= 4 && body[3] == b':' {
                (&body[..3], &body[4..])
            } else {
                (&b"txt"[..], body)
            };
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            table_with(lua, "verbatim_string", Value::Table(inner))
        }
        b'*' | b'>' | b'%' | b'~' => parse_aggregate(lua, kind, head, bytes, at, depth),
        b'_' => Ok(Value::Nil),
        b'#' => Ok(Value::Boolean(head == b"t")),
        b',' => {
            let text = std::str::from_utf8(head).map_err(|_| malformed())?;
            let n = match text {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" | "-nan" => f64::NAN,
                _ => text.parse().map_err(|_| malformed())?,
            };
            table_with(lua, "double", Value::Number(n))
        }
        b'(' => table_with(lua, "big_number", Value::String(lua.create_string(head)?)),
        b'|' => {
            // An attribute: skipped, the reply follows.
            let n = length(head)?.max(0);
            for _ in 0..n * 2 {
                parse(lua, bytes, at, depth + 1)?;
            }
            parse(lua, bytes, at, depth + 1)
        }
        _ => Err(malformed()),
    }
}

/// An array (`false` for RESP2's null array), a map `{map=...}` or a set
/// `{set=...}` whose header is `head`.
fn parse_aggregate(
    lua: &Lua,
    kind: u8,
    head: &[u8],
    bytes: &[u8],
    at: &mut usize,
    depth: usize,
) -> mlua::Result<Value> {
    let n = length(head)?;
    if matches!(kind, b'*' | b'>') {
        if n < 0 {
            return Ok(Value::Boolean(false));
        }
        let table = lua.create_table()?;
        for i in 1..=n {
            let value = parse(lua, bytes, at, depth + 1)?;
            table.raw_set(i, value)?;
        }
        return Ok(Value::Table(table));
    }
    let inner = lua.create_table()?;
    for _ in 0..n.max(0) {
        let key = parse(lua, bytes, at, depth + 1)?;
        let value = if kind == b'%' {
            parse(lua, bytes, at, depth + 1)?
        } else {
            Value::Boolean(true)
        };
        if !key.is_nil() {
            inner.raw_set(key, value)?;
        }
    }
    let name = if kind == b'%' { "map" } else { "set" };
    table_with(lua, name, Value::Table(inner))
}

/// Writes a script's result `value` as the reply to its caller.
/// `script_resp3`: the script's `redis.setresp` (it decides what booleans
/// become).
pub fn lua_to_reply(value: &Value, reply: &mut Reply<'_>, script_resp3: bool) {
    write_value(value, reply, script_resp3, 0);
}

fn write_value(value: &Value, reply: &mut Reply<'_>, script_resp3: bool, depth: usize) {
    if depth > MAX_DEPTH {
        reply.error("ERR reached lua stack limit");
        return;
    }
    match value {
        Value::String(s) => reply.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                reply.boolean(*b);
            } else if *b {
                reply.int(1);
            } else {
                reply.null();
            }
        }
        Value::Integer(n) => reply.int(*n),
        Value::Number(n) => reply.int(c_cast_i64(*n)),
        Value::Table(table) => write_table(table, reply, script_resp3, depth),
        _ => reply.null(),
    }
}

fn string_field(table: &Table, key: &str) -> Option<Vec<u8>> {
    match table.raw_get::<Value>(key) {
        Ok(Value::String(s)) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

fn write_table(table: &Table, reply: &mut Reply<'_>, script_resp3: bool, depth: usize) {
    if let Some(message) = string_field(table, "err") {
        write_error(reply, c_string(&message));
        return;
    }
    if let Some(status) = string_field(table, "ok") {
        let status: Vec<u8> = c_string(&status)
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        let mut raw = BytesMut::new();
        resp::write_simple(&mut raw, &status);
        reply.raw(&raw);
        return;
    }
    let field = |key: &str| table.raw_get::<Value>(key).unwrap_or(Value::Nil);
    match field("double") {
        Value::Integer(n) => return write_double(reply, n as f64),
        Value::Number(n) => return write_double(reply, n),
        _ => {}
    }
    if let Some(number) = string_field(table, "big_number") {
        return write_big_number(reply, &number);
    }
    if let Value::Table(map) = field("map") {
        let pairs: Vec<(Value, Value)> =
            map.pairs::<Value, Value>().filter_map(Result::ok).collect();
        reply.map(pairs.len());
        for (key, value) in &pairs {
            write_value(key, reply, script_resp3, depth + 1);
            write_value(value, reply, script_resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(set) = field("set") {
        let keys: Vec<Value> = set
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok().map(|(k, _)| k))
            .collect();
        reply.set(keys.len());
        for key in &keys {
            write_value(key, reply, script_resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(verbatim) = field("verbatim_string") {
        if let (Some(format), Some(text)) = (
            string_field(&verbatim, "format"),
            string_field(&verbatim, "string"),
        ) {
            write_verbatim(reply, &format, &text);
            return;
        }
    }
    let mut items = Vec::new();
    for i in 1.. {
        match table.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(value) => items.push(value),
        }
    }
    reply.array(items.len());
    for item in &items {
        write_value(item, reply, script_resp3, depth + 1);
    }
}

/// A status or error text of a script as Redis reads it: a C string, up
/// to its first NUL byte.
pub fn c_string(text: &[u8]) -> &[u8] {
    &text[..memchr::memchr(0, text).unwrap_or(text.len())]
}

/// An error reply with the message as the script gave it (its code
/// included): trailing CR and LF bytes dropped and the others made spaces,
/// as Redis's error replies do.
pub fn write_error(reply: &mut Reply<'_>, message: &[u8]) {
    let kept = message
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |last| last + 1);
    let message = &message[..kept];
    let mut raw = Vec::with_capacity(message.len() + 3);
    raw.push(b'-');
    raw.extend(
        message
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    raw.extend_from_slice(b"\r\n");
    reply.raw(&raw);
}

/// A double as Redis's `addReplyDouble` writes it (`%.17g`).
fn write_double(reply: &mut Reply<'_>, n: f64) {
    let text = format_g(n, 17);
    if reply.resp3() {
        reply.raw(format!(",{text}\r\n").as_bytes());
    } else {
        reply.bulk(text.as_bytes());
    }
}

fn write_verbatim(reply: &mut Reply<'_>, format: &[u8], text: &[u8]) {
    if !reply.resp3() {
        reply.bulk(text);
        return;
    }
    let mut tag = [b' '; 3];
    for (dst, src) in tag.iter_mut().zip(format) {
        *dst = *src;
    }
    let mut raw = format!("={}\r\n", text.len() + 4).into_bytes();
    raw.extend_from_slice(&tag);
    raw.push(b':');
    raw.extend_from_slice(text);
    raw.extend_from_slice(b"\r\n");
    reply.raw(&raw);
}

/// A Lua value as an argument of `redis.call`: strings as they are,
/// numbers printed `%.17g`; anything else is refused.
pub fn to_argument(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(format_g(*n as f64, 17).into_bytes()),
        Value::Number(n) => Some(format_g(*n, 17).into_bytes()),
        _ => None,
    }
}

/// A `{big_number=s}` reply: RESP3's big number, a bulk string in RESP2.
/// Text that is not a number would make a malformed RESP3 frame (Redis
/// writes it anyway): it goes as a bulk string instead.
fn write_big_number(reply: &mut Reply<'_>, number: &[u8]) {
    let digits = number.strip_prefix(b"-").unwrap_or(number);
    let well_formed = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
    if reply.resp3() && well_formed {
        let mut raw = Vec::with_capacity(number.len() + 3);
        raw.push(b'(');
        raw.extend_from_slice(number);
        raw.extend_from_slice(b"\r\n");
        reply.raw(&raw);
    } else {
        reply.bulk(number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_of(lua: &Lua, code: &str, resp3: bool, script_resp3: bool) -> Vec<u8> {
        let value: Value = lua.load(code).eval().unwrap();
        let mut out = BytesMut::new();
        lua_to_reply(&value, &mut Reply::new(&mut out, resp3), script_resp3);
        out.to_vec()
    }

    #[test]
    fn lua_values_become_redis_replies() {
        let lua = Lua::new();
        assert_eq!(reply_of(&lua, "return 3.99", false, false), b":3\r\n");
        assert_eq!(
            reply_of(&lua, "return 1e20", false, false),
            b":-9223372036854775808\r\n"
        );
        assert_eq!(reply_of(&lua, "return false", false, false), b"$-1\r\n");
        assert_eq!(reply_of(&lua, "return false", true, false), b"_\r\n");
        assert_eq!(reply_of(&lua, "return false", true, true), b"#f\r\n");
        assert_eq!(reply_of(&lua, "return true", false, true), b":1\r\n");
        assert_eq!(
            reply_of(&lua, "return {1, nil, 3}", false, false),
            b"*1\r\n:1\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {err='x\\ny'}", false, false),
            b"-x y\r\n"
        );
        // As C strings: up to a NUL; an error's trailing newlines dropped.
        assert_eq!(
            reply_of(&lua, "return {err='E a\\r\\0b'}", false, false),
            b"-E a\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {ok='a\\r\\0b'}", false, false),
            b"+a \r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {ok='a\\r\\nb'}", false, false),
            b"+a  b\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {double=0.1}", true, false),
            b",0.10000000000000001\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {double=3.5}", false, false),
            b"$3\r\n3.5\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {double='x'}", false, false),
            b"*0\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {big_number='12'}", true, false),
            b"(12\r\n"
        );
        // Not a number: a bulk string rather than a malformed frame.
        assert_eq!(
            reply_of(&lua, "return {big_number='t'}", true, false),
            b"$1\r\nt\r\n"
        );
        assert_eq!(
            reply_of(&lua, "return {set={a=true}}", true, false),
            b"~1\r\n$1\r\na\r\n"
        );
        assert_eq!(
            reply_of(
                &lua,
                "return {verbatim_string={format='txt',string='hi'}}",
                true,
                false
            ),
            b"=6\r\ntxt:hi\r\n"
        );
    }

    #[test]
    fn replies_become_lua_values() {
        let lua = Lua::new();
        let check = |bytes: &[u8], code: &str| {
            let converted = reply_to_lua(&lua, bytes).unwrap();
            let f: mlua::Function = lua.load(code).eval().unwrap();
            assert!(f.call::<bool>(converted.value).unwrap(), "{bytes:?} {code}");
        };
        check(b"$-1\r\n", "return function(v) return v == false end");
        check(b"_\r\n", "return function(v) return v == nil end");
        check(b"+OK\r\n", "return function(v) return v.ok == 'OK' end");
        check(
            b"-ERR x\r\n",
            "return function(v) return v.err == 'ERR x' end",
        );
        check(
            b"*2\r\n:1\r\n$1\r\na\r\n",
            "return function(v) return v[1] == 1 and v[2] == 'a' end",
        );
        check(
            b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
            "return function(v) return v.map.f == 'v' end",
        );
        check(
            b"~1\r\n$1\r\na\r\n",
            "return function(v) return v.set.a == true end",
        );
        check(b",1.5\r\n", "return function(v) return v.double == 1.5 end");
        check(b"#t\r\n", "return function(v) return v == true end");
        check(
            b"|1\r\n+a\r\n+b\r\n:7\r\n",
            "return function(v) return v == 7 end",
        );
        assert!(reply_to_lua(&lua, b"-ERR x\r\n").unwrap().is_error);
    }
}
