//! The libraries Redis ships with its Lua, written against mlua: `bit`
//! (LuaBitOp), `cjson` (lua-cjson), `cmsgpack` (lua-cmsgpack) and `struct`
//! (Roberto Ierusalimschy's struct), with their names, behaviour and
//! error messages. No crate provides these for mlua; where a crate does
//! the work (serde_json is not used: lua-cjson's number printing, sparse
//! array rule and error texts are its own), it is said in each file.
//!
//! A library function's error is raised as `luaL_error` raises it
//! ([`super::raise`]).

mod bit;
mod cjson;
mod cjson_decode;
mod cmsgpack;
mod structs;

use mlua::{Function, Lua, MultiValue, Table, Value};

use super::raise;

/// Adds `bit`, `cjson`, `cmsgpack` and `struct` to `globals`.
///
/// # Errors
/// Lua failed.
pub fn register(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set("bit", bit::library(lua)?)?;
    globals.raw_set("cjson", cjson::library(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack::library(lua)?)?;
    globals.raw_set("struct", structs::library(lua)?)?;
    Ok(())
}

/// What a library function returns: its values, or an error to raise.
pub type Returned = Result<Vec<Value>, String>;

/// A Lua function that runs `f`; its error is raised as `luaL_error`
/// raises it (with the caller's position).
///
/// # Errors
/// Lua failed.
pub fn function<F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, MultiValue) -> Returned + Send + 'static,
{
    lua.create_function(move |lua, args: MultiValue| match f(lua, args) {
        Ok(values) => Ok(MultiValue::from_vec(values)),
        Err(text) => Err(raise::message(lua, &text)),
    })
}

/// A Lua number as `lua_tonumber` sees `value` (numbers, and strings that
/// read as numbers).
pub fn to_number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => parse_number(&s.as_bytes()),
        _ => None,
    }
}

/// A string as Lua 5.1 converts it to a number: decimal (strtod) or hex,
/// surrounded by spaces.
pub fn parse_number(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes)
        .ok()?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        let value = u64::from_str_radix(hex, 16).ok()? as f64;
        return Some(if negative { -value } else { value });
    }
    let lower = digits.to_ascii_lowercase();
    if lower.starts_with("inf") || lower.starts_with("nan") || digits.is_empty() {
        // strtod reads these, but Lua 5.1's conversion does too only for
        // "inf"/"nan" spelled out; keep them as strtod does.
        return match lower.as_str() {
            "inf" | "infinity" => Some(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }),
            "nan" => Some(f64::NAN),
            _ => None,
        };
    }
    if !digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
    {
        return None;
    }
    text.parse::<f64>().ok()
}

/// Lua's name of a value's type, as error messages print it.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) | Value::Error(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// `luaL_argerror`'s message for argument `position` (1-based) of
/// `function`.
pub fn bad_argument(position: usize, function: &str, detail: &str) -> String {
    format!("bad argument #{position} to '{function}' ({detail})")
}

/// `luaL_typerror`'s message: `expected` wanted, `got` given.
pub fn type_error(position: usize, function: &str, expected: &str, got: Option<&Value>) -> String {
    let got = got.map_or("no value", type_name);
    bad_argument(
        position,
        function,
        &format!("{expected} expected, got {got}"),
    )
}

/// `luaL_checknumber`: argument `position` (1-based) as a number.
///
/// # Errors
/// Lua's bad-argument message.
pub fn check_number(args: &[Value], position: usize, function: &str) -> Result<f64, String> {
    let value = args.get(position - 1);
    value
        .and_then(to_number)
        .ok_or_else(|| type_error(position, function, "number", value))
}

/// `luaL_checklstring`: argument `position` as bytes (numbers print as
/// Lua prints them).
///
/// # Errors
/// Lua's bad-argument message.
pub fn check_bytes(args: &[Value], position: usize, function: &str) -> Result<Vec<u8>, String> {
    match args.get(position - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(super::numbers::format_g(*n, 14).into_bytes()),
        other => Err(type_error(position, function, "string", other)),
    }
}
