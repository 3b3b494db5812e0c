//! RESP encoding and decoding shared by the node and its clients.
//!
//! The writers append one RESP2 or RESP3 frame to a `BytesMut` without
//! intermediate allocation. [`decode`] reads one reply frame from a buffer,
//! returning `Ok(None)` while the frame is incomplete; it bounds nesting
//! depth and lengths so a hostile peer cannot exhaust memory or the stack.
//! [`frame_len`] finds where a frame ends without building a [`Value`], with
//! the same limits and the same verdict as [`decode`] on every input: the
//! pipelined link ([`crate::link`]) cuts replies out of its read buffer with
//! it and hands them on as raw frames.

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RESP reply: {0}")]
pub struct DecodeError(pub String);

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

/// The length of the frame at the front of `buf`: `Ok(Some(len))`, or
/// `Ok(None)` if more bytes are needed. Agrees with [`decode`] on every
/// input (the same `len`, the same incompleteness, an error where it errs)
/// but allocates nothing.
///
/// # Errors
/// As [`decode`]: malformed framing, a length over the limits, or nesting
/// deeper than [`MAX_DEPTH`].
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    let mut pos = 0;
    Ok(skip_at(buf, &mut pos, 0)?.map(|()| pos))
}

fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let end = find_crlf(rest)?;
    Some((&rest[..end], pos + end + 2))
}

/// Where the first CRLF in `bytes` starts. A byte search for CR: lines are
/// short, and a substring searcher's set-up would cost more than the scan.
pub(crate) fn find_crlf(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let cr = from + memchr::memchr(b'\r', bytes.get(from..)?)?;
        if *bytes.get(cr + 1)? == b'\n' {
            return Some(cr);
        }
        from = cr + 1;
    }
}

/// A frame's type byte, the text of its first line, and where that line
/// ends.
type Head<'a> = (u8, &'a [u8], usize);

/// The type byte, the text of the first line and the position after it of
/// the frame at `pos`, `depth` aggregates deep; `Ok(None)` while the line
/// is incomplete.
fn head(buf: &[u8], pos: usize, depth: usize) -> Result<Option<Head<'_>>, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError("nesting too deep".into()));
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    Ok(line(buf, pos + 1).map(|(text, next)| (kind, text, next)))
}

/// The `n` bytes of a bulk string starting at `at` (its header read),
/// checked for length and the CRLF after them; `Ok(None)` while incomplete.
fn bulk_body(buf: &[u8], at: usize, n: i64) -> Result<Option<&[u8]>, DecodeError> {
    let n = checked_len(n, MAX_BULK)?;
    if buf.len() < at + n + 2 {
        return Ok(None);
    }
    if &buf[at + n..at + n + 2] != b"\r\n" {
        return Err(DecodeError("bulk string not terminated by CRLF".into()));
    }
    Ok(Some(&buf[at..at + n]))
}

/// Checks a double's text as [`decode`] reads it.
fn parse_double(text: &[u8]) -> Result<f64, DecodeError> {
    let s = String::from_utf8_lossy(text);
    match s.as_ref() {
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        other => other
            .parse()
            .map_err(|_| DecodeError(format!("bad double {other:?}"))),
    }
}

/// Moves `pos` past one frame, checking it as [`decode_at`] does;
/// `Ok(None)` when the frame is incomplete.
fn skip_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<()>, DecodeError> {
    let Some((kind, text, next)) = head(buf, *pos, depth)? else {
        return Ok(None);
    };
    match kind {
        b'+' | b'-' | b'_' | b'#' | b'(' => {}
        b':' => {
            parse_i64(text)?;
        }
        b',' => {
            parse_double(text)?;
        }
        b'$' | b'=' | b'!' => {
            let n = parse_i64(text)?;
            if n >= 0 {
                let Some(data) = bulk_body(buf, next, n)? else {
                    return Ok(None);
                };
                *pos = next + data.len() + 2;
                return Ok(Some(()));
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = parse_i64(text)?;
            *pos = next;
            if n < 0 {
                return Ok(Some(()));
            }
            let n = checked_len(n, MAX_ELEMENTS)?;
            let per_item = if kind == b'%' || kind == b'|' { 2 } else { 1 };
            for _ in 0..n * per_item {
                if skip_at(buf, pos, depth + 1)?.is_none() {
                    return Ok(None);
                }
            }
            if kind == b'|' {
                // An attribute precedes the real reply, which is part of
                // this frame.
                return skip_at(buf, pos, depth + 1);
            }
            return Ok(Some(()));
        }
        other => return Err(DecodeError(format!("unexpected type byte {other:#04x}"))),
    }
    *pos = next;
    Ok(Some(()))
}

fn parse_i64(text: &[u8]) -> Result<i64, DecodeError> {
    // Lengths and counts are short runs of digits: read those directly.
    // Anything else (a sign, 19 digits or more) takes `str::parse`, so the
    // verdict is always `i64::from_str`'s.
    if !text.is_empty() && text.len() < 19 && text.iter().all(u8::is_ascii_digit) {
        return Ok(text.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0')));
    }
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
    let Some((kind, text, next)) = head(buf, *pos, depth)? else {
        return Ok(None);
    };
    let value = match kind {
        b'+' => Value::Simple(text.to_vec()),
        b'-' => Value::Error(text.to_vec()),
        b':' => Value::Int(parse_i64(text)?),
        b'_' => Value::Nil,
        b'#' => Value::Bool(text == b"t"),
        b',' => Value::Double(parse_double(text)?),
        b'(' => Value::BigNumber(text.to_vec()),
        b'$' | b'=' | b'!' => {
            let n = parse_i64(text)?;
            if n < 0 {
                *pos = next;
                return Ok(Some(Value::Nil));
            }
            let Some(mut data) = bulk_body(buf, next, n)? else {
                return Ok(None);
            };
            *pos = next + data.len() + 2;
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

    /// Frames of every kind the decoder reads, nested and not.
    fn sample_frames() -> Vec<Vec<u8>> {
        let mut frames: Vec<Vec<u8>> = [
            &b"+OK\r\n"[..],
            b"-ERR wrong\r\n",
            b":-42\r\n",
            b"$5\r\nhello\r\n",
            b"$0\r\n\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"_\r\n",
            b"#t\r\n",
            b",3.25\r\n",
            b",-inf\r\n",
            b"(12345678901234567890\r\n",
            b"=8\r\ntxt:abcd\r\n",
            b"!9\r\nERR stuff\r\n",
            b"*0\r\n",
            b"*3\r\n$3\r\nfoo\r\n:1\r\n*2\r\n+a\r\n$-1\r\n",
            b"%2\r\n+k\r\n:1\r\n$2\r\nk2\r\n*1\r\n#f\r\n",
            b"~2\r\n+a\r\n+b\r\n",
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n",
            b"|1\r\n+ttl\r\n:3\r\n$3\r\nval\r\n",
            b"$4\r\na\r\nb\r\n",
        ]
        .iter()
        .map(|f| f.to_vec())
        .collect();
        frames.push(
            b"*1\r\n"
                .repeat(MAX_DEPTH)
                .into_iter()
                .chain(*b":1\r\n")
                .collect(),
        );
        let mut command = BytesMut::new();
        write_command(&mut command, &["SET", "key", "value with \r\n inside"]);
        frames.push(command.to_vec());
        frames
    }

    /// `frame_len` and `decode` give the same verdict on `buf`.
    fn assert_agree(buf: &[u8]) {
        let by_decode = decode(buf).map(|found| found.map(|(_, len)| len));
        match (by_decode, frame_len(buf)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{:?}", String::from_utf8_lossy(buf)),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{a:?} vs {b:?} on {:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn frame_len_agrees_with_decode_on_every_prefix() {
        for frame in sample_frames() {
            let len = frame_len(&frame).expect("valid").expect("complete");
            assert_eq!(len, frame.len(), "{:?}", String::from_utf8_lossy(&frame));
            for cut in 0..=frame.len() {
                assert_agree(&frame[..cut]);
            }
            // Followed by more bytes, only the first frame is measured.
            let mut two = frame.clone();
            two.extend_from_slice(b"+next\r\n");
            assert_eq!(frame_len(&two).expect("valid"), Some(frame.len()));
        }
    }

    #[test]
    fn frame_len_agrees_with_decode_on_garbage() {
        // xorshift: deterministic, no dependency.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"+-:$*%~>|_#,(=!\r\n0123456789-abc";
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            assert_agree(&buf);
        }
        for frame in sample_frames() {
            for _ in 0..200 {
                let mut mutated = frame.clone();
                let at = (next() % mutated.len() as u64) as usize;
                mutated[at] = alphabet[(next() % alphabet.len() as u64) as usize];
                assert_agree(&mutated);
                let raw = (next() & 0xff) as u8;
                mutated[at] = raw;
                assert_agree(&mutated);
            }
        }
        // Lengths over the limits, odd numbers, unknown types, a bad end.
        let hostile =
            "$99999999999\r\n|*99999999999\r\n|$-99\r\n|:12a\r\n|,nan?\r\n|?\r\n|$3\r\nabcXY";
        for input in hostile.split('|') {
            assert_agree(input.as_bytes());
        }
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(frame_len(&deep).is_err());
        assert_agree(&deep);
        let deep_map = b"%1\r\n".repeat(MAX_DEPTH + 2);
        assert_agree(&deep_map);
    }
}
