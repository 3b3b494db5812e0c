//! `cjson`: lua-cjson 2.1.0 as Redis ships it: `encode`, `decode`, `null`,
//! and the configuration functions with their defaults (sparse arrays
//! refused past a ratio of 2 beyond 10 elements, numbers printed with 14
//! significant digits, 1000 levels of nesting). Its number printing, array
//! rule and error texts are lua-cjson's own, so no JSON crate is used.

use std::sync::Arc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;

use super::{bad_argument, function, to_number};
use crate::scripting::numbers::format_g;

/// `cjson.null`: a light userdata holding NULL, as lua-cjson's.
pub fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// The deepest nesting converted whatever the depth setting says. Redis's
/// cjson stops near 8000 (Lua 5.1's `LUAI_MAXCSTACK`, when
/// `lua_checkstack` fails) with its usual nesting error; Lua's stack here
/// also holds the bindings' references, and ran out at 7,976 levels
/// (measured), so the same error comes a little earlier, at 7,900, instead
/// of the script failing with a stack overflow. Decoding counts one level
/// more than encoding, as Redis's does.
pub(super) const STACK_DEPTH: i64 = 7900;

/// The settings the configuration functions change.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    pub(super) encode_max_depth: i64,
    pub(super) decode_max_depth: i64,
    precision: usize,
    keep_buffer: bool,
    encode_invalid: Invalid,
    pub(super) decode_invalid: bool,
}

/// What `encode` does with NaN and infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Invalid {
    Refuse,
    Allow,
    Null,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            keep_buffer: true,
            encode_invalid: Invalid::Refuse,
            decode_invalid: true,
        }
    }
}

/// The `cjson` table.
///
/// # Errors
/// Lua failed.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let settings = Arc::new(Mutex::new(Settings::default()));
    let table = lua.create_table()?;
    let s = settings.clone();
    table.raw_set(
        "encode",
        function(lua, move |lua, args| {
            let args: Vec<Value> = args.into_iter().collect();
            if args.len() != 1 {
                return Err(bad_argument(1, "encode", "expected 1 argument"));
            }
            let settings = *s.lock();
            let mut out = Vec::new();
            encode(&args[0], &settings, 1, &mut out)?;
            Ok(vec![Value::String(
                lua.create_string(out).map_err(|e| e.to_string())?,
            )])
        })?,
    )?;
    let s = settings.clone();
    table.raw_set(
        "decode",
        function(lua, move |lua, args| {
            let args: Vec<Value> = args.into_iter().collect();
            if args.len() != 1 {
                return Err(bad_argument(1, "decode", "expected 1 argument"));
            }
            let text = super::check_bytes(&args, 1, "decode")?;
            let settings = *s.lock();
            Ok(vec![super::cjson_decode::decode(lua, &text, &settings)?])
        })?,
    )?;
    configure(lua, &table, &settings)?;
    table.raw_set("null", null())?;
    table.raw_set("_NAME", "cjson")?;
    table.raw_set("_VERSION", "2.1.0")?;
    table.raw_set(
        "new",
        function(lua, |lua, _| {
            Ok(vec![Value::Table(library(lua).map_err(|e| e.to_string())?)])
        })?,
    )?;
    Ok(table)
}

/// The configuration functions: each returns the settings now, and
/// changes them when given arguments.
fn configure(lua: &Lua, table: &Table, settings: &Arc<Mutex<Settings>>) -> mlua::Result<()> {
    let s = settings.clone();
    table.raw_set(
        "encode_sparse_array",
        function(lua, move |_, args| {
            let args: Vec<Value> = args.into_iter().collect();
            let mut current = s.lock();
            if let Some(v) = args.first().filter(|v| !v.is_nil()) {
                current.sparse_convert = truthy(v, 1, "encode_sparse_array")?;
            }
            if let Some(v) = args.get(1).filter(|v| !v.is_nil()) {
                current.sparse_ratio = int_in(v, 2, "encode_sparse_array", 0, i64::from(i32::MAX))?;
            }
            if let Some(v) = args.get(2).filter(|v| !v.is_nil()) {
                current.sparse_safe = int_in(v, 3, "encode_sparse_array", 0, i64::from(i32::MAX))?;
            }
            Ok(vec![
                Value::Boolean(current.sparse_convert),
                Value::Integer(current.sparse_ratio),
                Value::Integer(current.sparse_safe),
            ])
        })?,
    )?;
    let depth_fn = |name: &'static str, field: fn(&mut Settings) -> &mut i64| {
        let s = settings.clone();
        function(lua, move |_, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let mut current = s.lock();
            if let Some(v) = args.first().filter(|v| !v.is_nil()) {
                *field(&mut current) = int_in(v, 1, name, 1, i64::from(i32::MAX))?;
            }
            Ok(vec![Value::Integer(*field(&mut current))])
        })
    };
    table.raw_set(
        "encode_max_depth",
        depth_fn("encode_max_depth", |s| &mut s.encode_max_depth)?,
    )?;
    table.raw_set(
        "decode_max_depth",
        depth_fn("decode_max_depth", |s| &mut s.decode_max_depth)?,
    )?;
    configure_encoding(lua, table, settings)
}

/// The number precision, buffer and invalid-number settings.
fn configure_encoding(
    lua: &Lua,
    table: &Table,
    settings: &Arc<Mutex<Settings>>,
) -> mlua::Result<()> {
    let s = settings.clone();
    table.raw_set(
        "encode_number_precision",
        function(lua, move |_, args| {
            let args: Vec<Value> = args.into_iter().collect();
            let mut current = s.lock();
            if let Some(v) = args.first().filter(|v| !v.is_nil()) {
                current.precision = int_in(v, 1, "encode_number_precision", 1, 14)? as usize;
            }
            Ok(vec![Value::Integer(current.precision as i64)])
        })?,
    )?;
    let s = settings.clone();
    table.raw_set(
        "encode_keep_buffer",
        function(lua, move |_, args| {
            let args: Vec<Value> = args.into_iter().collect();
            let mut current = s.lock();
            if let Some(v) = args.first().filter(|v| !v.is_nil()) {
                current.keep_buffer = truthy(v, 1, "encode_keep_buffer")?;
            }
            Ok(vec![Value::Boolean(current.keep_buffer)])
        })?,
    )?;
    let s = settings.clone();
    table.raw_set(
        "encode_invalid_numbers",
        function(lua, move |lua, args| {
            let args: Vec<Value> = args.into_iter().collect();
            let mut current = s.lock();
            if let Some(v) = args.first().filter(|v| !v.is_nil()) {
                current.encode_invalid = match v {
                    Value::String(s) if &*s.as_bytes() == b"null" => Invalid::Null,
                    other => {
                        if truthy(other, 1, "encode_invalid_numbers")? {
                            Invalid::Allow
                        } else {
                            Invalid::Refuse
                        }
                    }
                };
            }
            Ok(vec![match current.encode_invalid {
                Invalid::Null => {
                    Value::String(lua.create_string("null").map_err(|e| e.to_string())?)
                }
                other => Value::Boolean(other == Invalid::Allow),
            }])
        })?,
    )?;
    let s = settings.clone();
    table.raw_set(
        "decode_invalid_numbers",
        function(lua, move |_, args| {
            let args: Vec<Value> = args.into_iter().collect();
            let mut current = s.lock();
            if let Some(v) = args.first().filter(|v| !v.is_nil()) {
                current.decode_invalid = truthy(v, 1, "decode_invalid_numbers")?;
            }
            Ok(vec![Value::Boolean(current.decode_invalid)])
        })?,
    )?;
    Ok(())
}

/// A boolean setting: `true`/`false`, or `"on"`/`"off"`.
fn truthy(value: &Value, position: usize, name: &str) -> Result<bool, String> {
    match value {
        Value::Boolean(b) => Ok(*b),
        Value::String(s) if &*s.as_bytes() == b"on" => Ok(true),
        Value::String(s) if &*s.as_bytes() == b"off" => Ok(false),
        _ => Err(bad_argument(position, name, "invalid option")),
    }
}

fn int_in(value: &Value, position: usize, name: &str, min: i64, max: i64) -> Result<i64, String> {
    let n =
        to_number(value).ok_or_else(|| super::type_error(position, name, "number", Some(value)))?;
    let n = n as i64;
    if n < min || n > max {
        return Err(bad_argument(
            position,
            name,
            &format!("expected integer between {min} and {max}"),
        ));
    }
    Ok(n)
}

fn type_of(value: &Value) -> &'static str {
    super::type_name(value)
}

fn encode(value: &Value, settings: &Settings, depth: i64, out: &mut Vec<u8>) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(ud) if ud.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => {
            out.extend_from_slice(format_g(*n as f64, settings.precision).as_bytes())
        }
        Value::Number(n) => encode_number(*n, settings, out)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(table) => encode_table(table, settings, depth, out)?,
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                type_of(other)
            ));
        }
    }
    Ok(())
}

fn encode_number(n: f64, settings: &Settings, out: &mut Vec<u8>) -> Result<(), String> {
    if !n.is_finite() {
        match settings.encode_invalid {
            Invalid::Refuse => {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            Invalid::Null => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
            Invalid::Allow => {}
        }
    }
    out.extend_from_slice(format_g(n, settings.precision).as_bytes());
    Ok(())
}

fn encode_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// lua-cjson's array test: the largest positive integer key if every key
/// is one (and the array is not too sparse), otherwise `None` (an object).
fn array_length(table: &Table, settings: &Settings) -> Result<Option<i64>, String> {
    let mut max = 0i64;
    let mut items = 0i64;
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair.map_err(|e| e.to_string())?;
        let k = match key {
            Value::Integer(k) => k as f64,
            Value::Number(k) => k,
            _ => return Ok(None),
        };
        if k.floor() != k || k < 1.0 {
            return Ok(None);
        }
        max = max.max(k as i64);
        items += 1;
    }
    if settings.sparse_ratio > 0
        && max > items * settings.sparse_ratio
        && max > settings.sparse_safe
    {
        if !settings.sparse_convert {
            return Err("Cannot serialise table: excessively sparse array".into());
        }
        return Ok(None);
    }
    Ok(Some(max))
}

fn encode_table(
    table: &Table,
    settings: &Settings,
    depth: i64,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if depth > settings.encode_max_depth.min(STACK_DEPTH - 1) {
        return Err(format!("Cannot serialise, excessive nesting ({depth})"));
    }
    match array_length(table, settings)? {
        Some(length) if length > 0 => {
            out.push(b'[');
            for i in 1..=length {
                if i > 1 {
                    out.push(b',');
                }
                let value: Value = table.raw_get(i).map_err(|e| e.to_string())?;
                encode(&value, settings, depth + 1, out)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            let mut first = true;
            for pair in table.pairs::<Value, Value>() {
                let (key, value) = pair.map_err(|e| e.to_string())?;
                if !first {
                    out.push(b',');
                }
                first = false;
                match &key {
                    Value::Integer(n) => {
                        out.push(b'"');
                        out.extend_from_slice(format_g(*n as f64, settings.precision).as_bytes());
                        out.extend_from_slice(b"\":");
                    }
                    Value::Number(n) => {
                        out.push(b'"');
                        encode_number(*n, settings, out)?;
                        out.extend_from_slice(b"\":");
                    }
                    Value::String(s) => {
                        encode_string(&s.as_bytes(), out);
                        out.push(b':');
                    }
                    other => {
                        return Err(format!(
                            "Cannot serialise {}: table key must be a number or string",
                            type_of(other)
                        ));
                    }
                }
                encode(&value, settings, depth + 1, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}
