//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis ships it: `pack` (any number
//! of values, concatenated), `unpack`, `unpack_one`, `unpack_limit`, with
//! its encodings (the smallest integer form, float32 when exact, str8 and
//! up for strings, a table is an array when its keys are exactly 1..n) and
//! its error texts. The MessagePack crates encode to their own rules, so
//! the format is written here.

use mlua::{Lua, MultiValue, Table, Value};

use super::{bad_argument, check_bytes, function, to_number, Returned};

/// Tables nested deeper than this pack as nil, as lua-cmsgpack does.
const MAX_NESTING: usize = 16;
/// Deepest nesting unpacked (lua-cmsgpack recurses on the C stack).
const MAX_UNPACK_DEPTH: usize = 1000;

/// The `cmsgpack` table.
///
/// # Errors
/// Lua failed.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.raw_set("pack", function(lua, pack)?)?;
    table.raw_set(
        "unpack",
        function(lua, |lua, args| unpack_full(lua, args, "unpack", Mode::All))?,
    )?;
    table.raw_set(
        "unpack_one",
        function(lua, |lua, args| {
            unpack_full(lua, args, "unpack_one", Mode::One)
        })?,
    )?;
    table.raw_set(
        "unpack_limit",
        function(lua, |lua, args| {
            unpack_full(lua, args, "unpack_limit", Mode::Limit)
        })?,
    )?;
    table.raw_set("_NAME", "cmsgpack")?;
    table.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    table.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    table.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(table)
}

fn pack(lua: &Lua, args: MultiValue) -> Returned {
    if args.is_empty() {
        return Err(bad_argument(0, "pack", "MessagePack pack needs input."));
    }
    let mut out = Vec::new();
    for value in &args {
        encode(value, 0, &mut out);
    }
    Ok(vec![Value::String(
        lua.create_string(out).map_err(|e| e.to_string())?,
    )])
}

fn encode(value: &Value, level: usize, out: &mut Vec<u8>) {
    match value {
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_int(*n, out),
        Value::Number(n) => encode_number(*n, out),
        Value::Table(t) if level < MAX_NESTING => encode_table(t, level, out),
        _ => out.push(0xc0),
    }
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    if n.is_finite() && (n as i64) as f64 == n {
        encode_int(n as i64, out);
    } else if f64::from(n as f32) == n || n.is_nan() && (n as f32).is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    let len = bytes.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(bytes);
}

/// lua-cmsgpack's array test: every key a positive integer, as many keys
/// as the largest (no holes); an empty table is an array.
fn array_length(table: &Table) -> Option<usize> {
    let mut count = 0usize;
    let mut max = 0f64;
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair.ok()?;
        let n = match key {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return None,
        };
        if n <= 0.0 || (n as i64) as f64 != n {
            return None;
        }
        count += 1;
        max = max.max(n);
    }
    (max as usize == count).then_some(count)
}

fn encode_table(table: &Table, level: usize, out: &mut Vec<u8>) {
    if let Some(len) = array_length(table) {
        header(len, 0x90, 0xdc, 0xdd, out);
        for i in 1..=len {
            let value: Value = table.raw_get(i).unwrap_or(Value::Nil);
            encode(&value, level + 1, out);
        }
        return;
    }
    let pairs: Vec<(Value, Value)> = table
        .pairs::<Value, Value>()
        .filter_map(Result::ok)
        .collect();
    header(pairs.len(), 0x80, 0xde, 0xdf, out);
    for (key, value) in &pairs {
        encode(key, level + 1, out);
        encode(value, level + 1, out);
    }
}

fn header(len: usize, fix: u8, sixteen: u8, thirty_two: u8, out: &mut Vec<u8>) {
    if len <= 15 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(sixteen);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(thirty_two);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    One,
    Limit,
}

/// Why decoding stopped.
enum Stop {
    Eof,
    BadFormat,
    Lua(String),
}

fn unpack_full(lua: &Lua, args: MultiValue, name: &str, mode: Mode) -> Returned {
    let args: Vec<Value> = args.into_iter().collect();
    let data = check_bytes(&args, 1, name)?;
    let optional = |position: usize| -> Result<i64, String> {
        match args.get(position - 1) {
            None | Some(Value::Nil) => Ok(0),
            Some(v) => to_number(v)
                .map(|n| n as i64)
                .ok_or_else(|| super::type_error(position, name, "number", Some(v))),
        }
    };
    let (limit, offset) = match mode {
        Mode::All => (i64::from(i32::MAX), 0),
        Mode::One => (1, optional(2)?),
        Mode::Limit => (optional(2)?, optional(3)?),
    };
    let len = data.len() as i64;
    if offset < 0 || limit < 0 {
        return Err(format!(
            "Invalid request to unpack with offset of {offset} and limit of {len}."
        ));
    }
    if offset > len {
        return Err(format!(
            "Start offset {offset} greater than input length {len}."
        ));
    }
    let mut at = offset as usize;
    let mut values = Vec::new();
    let mut count = 0;
    while at < data.len() && count < limit {
        match decode(lua, &data, &mut at, 0) {
            Ok(value) => values.push(value),
            Err(Stop::Eof) => return Err("Missing bytes in input.".into()),
            Err(Stop::BadFormat) => return Err("Bad data format in input.".into()),
            Err(Stop::Lua(e)) => return Err(e),
        }
        count += 1;
    }
    if mode != Mode::All {
        let next = if at >= data.len() { -1 } else { at as i64 };
        values.insert(0, Value::Integer(next));
    }
    Ok(values)
}

fn take<'d>(data: &'d [u8], at: &mut usize, n: usize) -> Result<&'d [u8], Stop> {
    let bytes = data.get(*at..*at + n).ok_or(Stop::Eof)?;
    *at += n;
    Ok(bytes)
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

fn decode(lua: &Lua, data: &[u8], at: &mut usize, depth: usize) -> Result<Value, Stop> {
    if depth > MAX_UNPACK_DEPTH {
        return Err(Stop::BadFormat);
    }
    let tag = take(data, at, 1)?[0];
    let lua_err = |e: mlua::Error| Stop::Lua(e.to_string());
    let number = |n: f64| Ok(Value::Number(n));
    match tag {
        0x00..=0x7f => number(f64::from(tag)),
        0xe0..=0xff => number(f64::from(tag as i8)),
        0xcc => number(be(take(data, at, 1)?) as f64),
        0xcd => number(be(take(data, at, 2)?) as f64),
        0xce => number(be(take(data, at, 4)?) as f64),
        0xcf => number(be(take(data, at, 8)?) as f64),
        0xd0 => number(f64::from(be(take(data, at, 1)?) as u8 as i8)),
        0xd1 => number(f64::from(be(take(data, at, 2)?) as u16 as i16)),
        0xd2 => number(f64::from(be(take(data, at, 4)?) as u32 as i32)),
        0xd3 => number(be(take(data, at, 8)?) as i64 as f64),
        0xca => number(f64::from(f32::from_bits(be(take(data, at, 4)?) as u32))),
        0xcb => number(f64::from_bits(be(take(data, at, 8)?))),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
            let len = match tag {
                0xa0..=0xbf => usize::from(tag & 0x1f),
                0xd9 | 0xc4 => be(take(data, at, 1)?) as usize,
                0xda | 0xc5 => be(take(data, at, 2)?) as usize,
                _ => be(take(data, at, 4)?) as usize,
            };
            let bytes = take(data, at, len)?;
            Ok(Value::String(lua.create_string(bytes).map_err(lua_err)?))
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let len = match tag {
                0x90..=0x9f => usize::from(tag & 0x0f),
                0xdc => be(take(data, at, 2)?) as usize,
                _ => be(take(data, at, 4)?) as usize,
            };
            let table = lua.create_table().map_err(lua_err)?;
            for i in 1..=len {
                let value = decode(lua, data, at, depth + 1)?;
                table.raw_set(i, value).map_err(lua_err)?;
            }
            Ok(Value::Table(table))
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let len = match tag {
                0x80..=0x8f => usize::from(tag & 0x0f),
                0xde => be(take(data, at, 2)?) as usize,
                _ => be(take(data, at, 4)?) as usize,
            };
            let table = lua.create_table().map_err(lua_err)?;
            for _ in 0..len {
                let key = decode(lua, data, at, depth + 1)?;
                let value = decode(lua, data, at, depth + 1)?;
                if !key.is_nil() {
                    table.raw_set(key, value).map_err(lua_err)?;
                }
            }
            Ok(Value::Table(table))
        }
        _ => Err(Stop::BadFormat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_lua_cmsgpack() {
        let mut out = Vec::new();
        for n in [
            128.0,
            255.0,
            256.0,
            65536.0,
            4294967296.0,
            -33.0,
            -129.0,
            -32769.0,
            2147483648.0,
        ] {
            encode_number(n, &mut out);
        }
        encode_number(0.5, &mut out);
        assert_eq!(
            out,
            b"\xcc\x80\xcc\xff\xcd\x01\x00\xce\x00\x01\x00\x00\xcf\x00\x00\x00\x01\x00\x00\x00\x00\xd0\xdf\xd1\xff\x7f\xd2\xff\xff\x7f\xff\xce\x80\x00\x00\x00\xca?\x00\x00\x00"
        );
        let mut out = Vec::new();
        encode_bytes(&[b'x'; 40], &mut out);
        assert_eq!(&out[..2], b"\xd9(");
    }
}
