//! RESP encoding and decoding shared by the node and its clients.
//!
//! The writers append one RESP2 or RESP3 frame to a `BytesMut` without
//! intermediate allocation. [`decode`] reads one reply frame from a buffer,
//! returning `Ok(None)` while the frame is incomplete; it bounds nesting
//! depth and lengths so a hostile peer cannot exhaust memory or the stack.

use bytes::{BufMut, BytesMut};

/// Appends `<prefix><n>\r\n`.
#[inline]
pub fn write_len(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut digits = itoa::Buffer::new();
    let text = digits.format(n);
    out.reserve(text.len() + 3);
    out.put_u8(prefix);
    out.put_slice(text.as_bytes());
    out.put_slice(b"\r\n");
}

/// Appends a bulk string.
#[inline]
pub fn write_bulk(out: &mut BytesMut, data: &[u8]) {
    write_len(out, b'$', data.len() as i64);
    out.reserve(data.len() + 2);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Appends a simple string (`+OK`). `text` must not contain CR or LF.
#[inline]
pub fn write_simple(out: &mut BytesMut, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(b'+');
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

/// Appends an error (`-ERR ...`). CR and LF in `text` become spaces, so a
/// message quoting client input can never break the framing.
pub fn write_error(out: &mut BytesMut, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(b'-');
    for &b in text {
        out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.put_slice(b"\r\n");
}

/// Appends an integer.
#[inline]
pub fn write_int(out: &mut BytesMut, n: i64) {
    write_len(out, b':', n);
}

/// Appends a command as an array of bulk strings (the request format).
pub fn write_command<A: AsRef<[u8]>>(out: &mut BytesMut, args: &[A]) {
    write_len(out, b'*', args.len() as i64);
    for arg in args {
        write_bulk(out, arg.as_ref());
    }
}

/// A decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+text`
    Simple(Vec<u8>),
    /// `-text`, or a RESP3 bulk error `!`.
    Error(Vec<u8>),
    /// `:n`
    Int(i64),
    /// `$n` bulk string, or RESP3 verbatim string `=` (without its format).
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or RESP3 `_`.
    Nil,
    /// `*n`, RESP3 sets `~` and pushes `>`.
    Array(Vec<Value>),
    /// RESP3 map `%n` (attribute frames `|` are read and dropped).
    Map(Vec<(Value, Value)>),
    /// RESP3 double `,`.
    Double(f64),
    /// RESP3 boolean `#t` / `#f`.
    Bool(bool),
    /// RESP3 big number `(`, kept as text.
    BigNumber(Vec<u8>),
}

/// Why a reply could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid RESP reply: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Deepest nesting accepted in a reply.
pub const MAX_DEPTH: usize = 64;
/// Largest bulk string accepted in a reply.
pub const MAX_BULK: usize = 1 << 30;
/// Largest aggregate length accepted in a reply.
pub const MAX_ELEMENTS: usize = 1 << 26;

/// Decodes one frame from the front of `buf`: `Ok(Some((value, consumed)))`,
/// or `Ok(None)` if more bytes are needed.
///
/// # Errors
/// Malformed framing, a length over the limits, or nesting deeper than
/// [`MAX_DEPTH`].
pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, DecodeError> {
    let mut pos = 0;
    match decode_at(buf, &mut pos, 0)? {
        Some(v) => Ok(Some((v, pos))),
        None => Ok(None),
    }
}

fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], pos + end + 2))
}

fn parse_i64(text: &[u8]) -> Result<i64, DecodeError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| DecodeError(format!("bad integer {:?}", String::from_utf8_lossy(text))))
}

fn checked_len(n: i64, max: usize) -> Result<usize, DecodeError> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= max)
        .ok_or_else(|| DecodeError(format!("length {n} out of range")))
}

fn decode_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Value>, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError("nesting too deep".into()));
    }
    let Some(&kind) = buf.get(*pos) else {
        return Ok(None);
    };
    let Some((text, next)) = line(buf, *pos + 1) else {
        return Ok(None);
    };
    let value = match kind {
        b'+' => Value::Simple(text.to_vec()),
        b'-' => Value::Error(text.to_vec()),
        b':' => Value::Int(parse_i64(text)?),
        b'_' => Value::Nil,
        b'#' => Value::Bool(text == b"t"),
        b',' => {
            let s = String::from_utf8_lossy(text);
            let d = match s.as_ref() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                other => other
                    .parse()
                    .map_err(|_| DecodeError(format!("bad double {other:?}")))?,
            };
            Value::Double(d)
        }
        b'(' => Value::BigNumber(text.to_vec()),
        b'$' | b'=' | b'!' => {
            let n = parse_i64(text)?;
            if n < 0 {
                *pos = next;
                return Ok(Some(Value::Nil));
            }
            let n = checked_len(n, MAX_BULK)?;
            if buf.len() < next + n + 2 {
                return Ok(None);
            }
            let mut data = &buf[next..next + n];
            if &buf[next + n..next + n + 2] != b"\r\n" {
                return Err(DecodeError("bulk string not terminated by CRLF".into()));
            }
            *pos = next + n + 2;
            if kind == b'=' && data.len() >= 4 {
                data = &data[4..];
            }
            return Ok(Some(if kind == b'!' {
                Value::Error(data.to_vec())
            } else {
                Value::Bulk(data.to_vec())
            }));
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = parse_i64(text)?;
            *pos = next;
            if n < 0 {
                return Ok(Some(Value::Nil));
            }
            let n = checked_len(n, MAX_ELEMENTS)?;
            if kind == b'%' || kind == b'|' {
                let mut pairs = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let Some(k) = decode_at(buf, pos, depth + 1)? else {
                        return Ok(None);
                    };
                    let Some(v) = decode_at(buf, pos, depth + 1)? else {
                        return Ok(None);
                    };
                    pairs.push((k, v));
                }
                if kind == b'|' {
                    // An attribute precedes the real reply; skip it.
                    return decode_at(buf, pos, depth + 1);
                }
                return Ok(Some(Value::Map(pairs)));
            }
            let mut items = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let Some(v) = decode_at(buf, pos, depth + 1)? else {
                    return Ok(None);
                };
                items.push(v);
            }
            return Ok(Some(Value::Array(items)));
        }
        other => return Err(DecodeError(format!("unexpected type byte {other:#04x}"))),
    };
    *pos = next;
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_and_decoder_round_trip() {
        let mut out = BytesMut::new();
        write_command(&mut out, &["SET", "k", "v"]);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
        let (v, used) = decode(&out)
            .expect("the frame is well formed")
            .expect("the frame is complete");
        assert_eq!(used, out.len());
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Bulk(b"SET".to_vec()),
                Value::Bulk(b"k".to_vec()),
                Value::Bulk(b"v".to_vec())
            ])
        );
    }

    #[test]
    fn partial_frames_ask_for_more() {
        let frame = b"*2\r\n$3\r\nfoo\r\n:42\r\n";
        for cut in 0..frame.len() {
            assert_eq!(
                decode(&frame[..cut]).expect("a prefix is not an error"),
                None,
                "cut at {cut}"
            );
        }
        assert!(decode(frame).expect("the frame is well formed").is_some());
    }

    #[test]
    fn errors_have_line_breaks_removed() {
        let mut out = BytesMut::new();
        write_error(&mut out, b"ERR bad\r\nthing");
        assert_eq!(&out[..], b"-ERR bad  thing\r\n");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(decode(&deep).is_err());
    }
}
