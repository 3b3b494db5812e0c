//! `struct`: Roberto Ierusalimschy's struct library as Redis ships it:
//! `pack`, `unpack` and `size` over format strings (`<`, `>`, `!n`
//! alignment, `b B h H l L T i[n] I[n] f d s c[n] x`), with its quirks (a
//! signed integer is read by sign extension of `n` bytes; more than 8
//! bytes are zeros beyond the 64-bit value) and error texts.

use mlua::{Lua, MultiValue, Table, Value};

use super::{bad_argument, check_bytes, check_number, function, Returned};

/// Largest integer size (`i32`).
const MAX_INT_SIZE: usize = 32;
/// `!` without a size: the platform's largest alignment.
const MAX_ALIGN: usize = 8;

/// The `struct` table.
///
/// # Errors
/// Lua failed.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.raw_set("pack", function(lua, pack)?)?;
    table.raw_set("unpack", function(lua, unpack)?)?;
    table.raw_set("size", function(lua, size)?)?;
    Ok(table)
}

#[derive(Clone, Copy)]
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }
}

/// Reads a number in the format, or `default`.
fn number(fmt: &[u8], at: &mut usize, default: usize) -> Result<usize, String> {
    if !fmt.get(*at).is_some_and(u8::is_ascii_digit) {
        return Ok(default);
    }
    let mut n: usize = 0;
    while let Some(d) = fmt.get(*at).filter(|d| d.is_ascii_digit()) {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(d - b'0')))
            .filter(|&n| n <= i32::MAX as usize)
            .ok_or("integral size overflow")?;
        *at += 1;
    }
    Ok(n)
}

fn option_size(opt: u8, fmt: &[u8], at: &mut usize) -> Result<usize, String> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => number(fmt, at, 1)?,
        b'i' | b'I' => {
            let size = number(fmt, at, 4)?;
            if size > MAX_INT_SIZE {
                return Err(format!(
                    "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                ));
            }
            size
        }
        _ => 0,
    })
}

fn to_align(len: usize, header: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    (size - (len & (size - 1))) & (size - 1)
}

fn control(
    opt: u8,
    fmt: &[u8],
    at: &mut usize,
    header: &mut Header,
    function: &str,
) -> Result<(), String> {
    match opt {
        b' ' => {}
        b'>' => header.little = false,
        b'<' => header.little = true,
        b'!' => {
            let align = number(fmt, at, MAX_ALIGN)?;
            if !align.is_power_of_two() {
                return Err(format!("alignment {align} is not a power of 2"));
            }
            header.align = align;
        }
        _ => {
            return Err(bad_argument(
                1,
                function,
                &format!("invalid format option '{}'", char::from(opt)),
            ))
        }
    }
    Ok(())
}

fn pack(lua: &Lua, args: MultiValue) -> Returned {
    let mut args: Vec<Value> = args.into_iter().collect();
    // struct.c pushes a nil above the arguments before reading them: the
    // first missing one reads as nil.
    args.push(Value::Nil);
    let fmt = check_bytes(&args, 1, "pack")?;
    let mut header = Header::default();
    let mut out: Vec<u8> = Vec::new();
    let mut arg = 2;
    let mut at = 0;
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let mut size = option_size(opt, &fmt, &mut at)?;
        let align = to_align(out.len(), &header, opt, size);
        out.resize(out.len() + align, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(&args, arg, "pack")?;
                arg += 1;
                let mut value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let mut bytes = vec![0u8; size];
                for i in 0..size {
                    let slot = if header.little { i } else { size - 1 - i };
                    bytes[slot] = (value & 0xff) as u8;
                    value = value.checked_shr(8).unwrap_or(0);
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(&args, arg, "pack")? as f32;
                arg += 1;
                out.extend_from_slice(&if header.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = check_number(&args, arg, "pack")?;
                arg += 1;
                out.extend_from_slice(&if header.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let text = check_bytes(&args, arg, "pack")?;
                arg += 1;
                if size == 0 {
                    size = text.len();
                }
                if text.len() < size {
                    return Err(bad_argument(arg, "pack", "string too short"));
                }
                out.extend_from_slice(&text[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => control(opt, &fmt, &mut at, &mut header, "pack")?,
        }
    }
    Ok(vec![Value::String(
        lua.create_string(out).map_err(|e| e.to_string())?,
    )])
}

fn unpack(lua: &Lua, args: MultiValue) -> Returned {
    let args: Vec<Value> = args.into_iter().collect();
    let fmt = check_bytes(&args, 1, "unpack")?;
    let data = check_bytes(&args, 2, "unpack")?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(_) => check_number(&args, 3, "unpack")? as i64,
    };
    let mut pos = usize::try_from(start - 1).unwrap_or(usize::MAX);
    if pos > data.len() {
        return Err(bad_argument(3, "unpack", "offset must be 1 or greater"));
    }
    let mut header = Header::default();
    let mut values: Vec<Value> = Vec::new();
    let too_short = || bad_argument(2, "unpack", "data string too short");
    let mut at = 0;
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let mut size = option_size(opt, &fmt, &mut at)?;
        pos += to_align(pos, &header, opt, size);
        if size > data.len() || pos > data.len() - size {
            return Err(too_short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                values.push(Value::Number(read_integer(
                    &data[pos..pos + size],
                    header.little,
                    signed,
                )));
            }
            b'x' => {}
            b'f' | b'd' => {
                let float = read_float(&data[pos..], opt == b'd', header.little);
                values.push(Value::Number(float.ok_or_else(too_short)?));
            }
            b'c' => {
                if size == 0 {
                    size = previous_size(&mut values)?;
                    if size > data.len() || pos > data.len() - size {
                        return Err(too_short());
                    }
                }
                let text = lua
                    .create_string(&data[pos..pos + size])
                    .map_err(|e| e.to_string())?;
                values.push(Value::String(text));
            }
            b's' => {
                let Some(end) = memchr::memchr(0, &data[pos..]) else {
                    return Err("unfinished string in data".into());
                };
                let text = lua
                    .create_string(&data[pos..pos + end])
                    .map_err(|e| e.to_string())?;
                values.push(Value::String(text));
                size = end + 1;
            }
            _ => control(opt, &fmt, &mut at, &mut header, "unpack")?,
        }
        pos += size;
    }
    values.push(Value::Integer(pos as i64 + 1));
    Ok(values)
}

/// A float (`double`: 8 bytes, else 4) at the start of `bytes`; `None`
/// when too few bytes are left.
fn read_float(bytes: &[u8], double: bool, little: bool) -> Option<f64> {
    if double {
        let bytes: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
        Some(if little {
            f64::from_le_bytes(bytes)
        } else {
            f64::from_be_bytes(bytes)
        })
    } else {
        let bytes: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        let f = if little {
            f32::from_le_bytes(bytes)
        } else {
            f32::from_be_bytes(bytes)
        };
        Some(f64::from(f))
    }
}

/// An integer of `bytes.len()` bytes, sign-extended from its top bit when
/// `signed` (as struct.c reads it, in 64 bits).
fn read_integer(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let mut value: u64 = 0;
    let mut push = |b: u8| value = (value << 8) | u64::from(b);
    if little {
        bytes.iter().rev().for_each(|&b| push(b));
    } else {
        bytes.iter().for_each(|&b| push(b));
    }
    if signed && !bytes.is_empty() {
        let shift = (bytes.len() * 8 - 1).min(63) as u32;
        let mask = u64::MAX << shift;
        if value & mask != 0 {
            value |= mask;
        }
        return value as i64 as f64;
    }
    value as f64
}

/// `c0`'s size: the number unpacked just before it, taken off the results.
fn previous_size(values: &mut Vec<Value>) -> Result<usize, String> {
    match values.last() {
        Some(Value::Number(n)) => {
            let size = *n as usize;
            values.pop();
            Ok(size)
        }
        _ => Err("format 'c0' needs a previous size".into()),
    }
}

fn size(_lua: &Lua, args: MultiValue) -> Returned {
    let args: Vec<Value> = args.into_iter().collect();
    let fmt = check_bytes(&args, 1, "size")?;
    let mut header = Header::default();
    let mut pos = 0;
    let mut at = 0;
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let size = option_size(opt, &fmt, &mut at)?;
        pos += to_align(pos, &header, opt, size);
        if opt == b's' {
            return Err(bad_argument(1, "size", "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(bad_argument(1, "size", "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            control(opt, &fmt, &mut at, &mut header, "size")?;
        }
        pos += size;
    }
    Ok(vec![Value::Integer(pos as i64)])
}
