//! Exact wire checks shared by the fuzz and differential tests: a strict
//! RESP2/RESP3 reply decoder that keeps every reply type apart (a null bulk
//! is not a null array, a set is not an array), a request encoder, and a
//! buffered reader of replies from a socket.
//!
//! The client crate's decoder is lenient on purpose (it reads `#x` as false,
//! any negative length as nil, `+5` as an integer); this one refuses every
//! frame Redis would never send, so a malformed reply fails the test.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;

/// One reply, with its exact RESP type.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text`
    Simple(Vec<u8>),
    /// `-text`
    Error(Vec<u8>),
    /// `!len` (RESP3 blob error)
    BlobError(Vec<u8>),
    /// `:n`
    Int(i64),
    /// `$len`
    Bulk(Vec<u8>),
    /// `$-1`
    NullBulk,
    /// `*-1`
    NullArray,
    /// `_` (RESP3)
    Null,
    /// `*n`
    Array(Vec<Frame>),
    /// `~n` (RESP3)
    Set(Vec<Frame>),
    /// `>n` (RESP3)
    Push(Vec<Frame>),
    /// `%n` (RESP3)
    Map(Vec<(Frame, Frame)>),
    /// `,text` (RESP3), kept as sent.
    Double(String),
    /// `#t` / `#f` (RESP3)
    Bool(bool),
    /// `(digits` (RESP3)
    BigNumber(Vec<u8>),
    /// `=len` (RESP3): the three-letter format and the text.
    Verbatim([u8; 3], Vec<u8>),
}

impl Frame {
    /// True for `-` and `!` errors.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_) | Frame::BlobError(_))
    }

    /// The error text, for `-` and `!` errors.
    pub fn error_text(&self) -> Option<String> {
        match self {
            Frame::Error(e) | Frame::BlobError(e) => Some(String::from_utf8_lossy(e).into_owned()),
            _ => None,
        }
    }

    /// The elements of an array, set or push.
    pub fn items(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Some(v),
            _ => None,
        }
    }

    /// The bytes of a bulk, simple or verbatim string.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Bulk(b) | Frame::Simple(b) | Frame::Verbatim(_, b) => Some(b),
            _ => None,
        }
    }

    /// A short human-readable rendering for failure messages (strings
    /// escaped as in [`escape`]).
    pub fn show(&self) -> String {
        let text = self.render();
        if text.len() > 400 {
            let cut = (0..=400)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            format!("{}... ({} chars)", &text[..cut], text.len())
        } else {
            text
        }
    }

    fn render(&self) -> String {
        let list = |items: &[Frame]| {
            items
                .iter()
                .map(Frame::render)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Frame::Simple(b) => format!("+\"{}\"", escape(b)),
            Frame::Error(b) => format!("-\"{}\"", escape(b)),
            Frame::BlobError(b) => format!("!\"{}\"", escape(b)),
            Frame::Int(n) => format!(":{n}"),
            Frame::Bulk(b) => format!("\"{}\"", escape(b)),
            Frame::NullBulk => "$-1".into(),
            Frame::NullArray => "*-1".into(),
            Frame::Null => "_".into(),
            Frame::Array(items) => format!("[{}]", list(items)),
            Frame::Set(items) => format!("~[{}]", list(items)),
            Frame::Push(items) => format!(">[{}]", list(items)),
            Frame::Map(pairs) => format!(
                "{{{}}}",
                pairs
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.render(), v.render()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Frame::Double(d) => format!(",{d}"),
            Frame::Bool(b) => format!("#{b}"),
            Frame::BigNumber(b) => format!("({}", escape(b)),
            Frame::Verbatim(f, b) => format!("={}:\"{}\"", escape(f), escape(b)),
        }
    }
}

/// Deepest nesting accepted (the node never nests more than a few levels).
pub const MAX_DEPTH: usize = 32;
/// Largest bulk accepted in a reply.
pub const MAX_BULK: usize = 1 << 30;

/// Decodes one reply from the front of `buf`: `Ok(Some((frame, used)))`,
/// `Ok(None)` when more bytes are needed, `Err` for anything malformed.
/// With `resp3` false, RESP3-only types are malformed too.
pub fn decode(buf: &[u8], resp3: bool) -> Result<Option<(Frame, usize)>, String> {
    let mut pos = 0;
    Ok(decode_at(buf, &mut pos, resp3, 0)?.map(|f| (f, pos)))
}

/// The line starting at `from` up to CRLF; a lone CR or LF inside is
/// malformed.
fn line(buf: &[u8], from: usize) -> Result<Option<(&[u8], usize)>, String> {
    let rest = buf.get(from..).unwrap_or(&[]);
    for (i, &b) in rest.iter().enumerate() {
        match b {
            b'\n' => return Err("LF without CR in a line".into()),
            b'\r' => {
                return match rest.get(i + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some((&rest[..i], from + i + 2))),
                    Some(_) => Err("CR without LF in a line".into()),
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

/// An integer as Redis writes one: `0`, or an optional `-` and digits with
/// no leading zero, within i64.
pub fn strict_int(text: &[u8]) -> Option<i64> {
    if text == b"0" {
        return Some(0);
    }
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty()
        || !(b'1'..=b'9').contains(&digits[0])
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn length(text: &[u8], what: &str) -> Result<i64, String> {
    strict_int(text).ok_or_else(|| format!("bad {what} {:?}", String::from_utf8_lossy(text)))
}

fn is_big_number(text: &[u8]) -> bool {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

fn valid_double(text: &[u8]) -> bool {
    match text {
        b"inf" | b"-inf" | b"nan" => true,
        _ => {
            !text.is_empty()
                && text
                    .iter()
                    .all(|b| b.is_ascii_digit() || b"-+.eE".contains(b))
                && std::str::from_utf8(text)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .is_some()
        }
    }
}

fn decode_at(
    buf: &[u8],
    pos: &mut usize,
    resp3: bool,
    depth: usize,
) -> Result<Option<Frame>, String> {
    if depth > MAX_DEPTH {
        return Err("nesting too deep".into());
    }
    let Some(&kind) = buf.get(*pos) else {
        return Ok(None);
    };
    if !resp3 && !b"+-:$*".contains(&kind) {
        return Err(format!("type byte {:?} in a RESP2 reply", kind as char));
    }
    let Some((text, next)) = line(buf, *pos + 1)? else {
        return Ok(None);
    };
    let frame = match kind {
        b'+' => Frame::Simple(text.to_vec()),
        b'-' if text.is_empty() => return Err("empty error".into()),
        b'-' => Frame::Error(text.to_vec()),
        b':' => Frame::Int(length(text, "integer")?),
        b'_' if text.is_empty() => Frame::Null,
        b'#' => match text {
            b"t" => Frame::Bool(true),
            b"f" => Frame::Bool(false),
            _ => return Err("bad boolean".into()),
        },
        b',' if valid_double(text) => Frame::Double(String::from_utf8_lossy(text).into_owned()),
        b'(' if is_big_number(text) => Frame::BigNumber(text.to_vec()),
        b'$' | b'!' | b'=' => {
            let n = length(text, "bulk length")?;
            if n == -1 && kind == b'$' {
                *pos = next;
                return Ok(Some(Frame::NullBulk));
            }
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= MAX_BULK)
                .ok_or_else(|| format!("bulk length {n} out of range"))?;
            if buf.len() < next + n + 2 {
                return Ok(None);
            }
            if &buf[next + n..next + n + 2] != b"\r\n" {
                return Err("bulk not followed by CRLF".into());
            }
            let data = buf[next..next + n].to_vec();
            *pos = next + n + 2;
            return Ok(Some(match kind {
                b'$' => Frame::Bulk(data),
                b'!' => Frame::BlobError(data),
                _ => {
                    if data.len() < 4 || data[3] != b':' {
                        return Err("verbatim string without a format".into());
                    }
                    Frame::Verbatim([data[0], data[1], data[2]], data[4..].to_vec())
                }
            }));
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = length(text, "aggregate length")?;
            *pos = next;
            if n == -1 && kind == b'*' {
                return Ok(Some(Frame::NullArray));
            }
            let n = usize::try_from(n).map_err(|_| format!("aggregate length {n}"))?;
            let per_item = if kind == b'%' { 2 } else { 1 };
            // Every element takes at least three bytes: a count beyond what
            // can still arrive is only checked as bytes come, never
            // allocated up front.
            let mut items = Vec::with_capacity(n.min(4096) * per_item);
            for _ in 0..n * per_item {
                let Some(item) = decode_at(buf, pos, resp3, depth + 1)? else {
                    return Ok(None);
                };
                items.push(item);
            }
            return Ok(Some(match kind {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                _ => {
                    let mut pairs = Vec::with_capacity(n);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                }
            }));
        }
        other => {
            return Err(format!(
                "malformed {:?} frame {:?}",
                other as char,
                String::from_utf8_lossy(text)
            ))
        }
    };
    *pos = next;
    Ok(Some(frame))
}

/// A request as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Why reading a reply failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadError {
    /// The peer closed the connection; the bytes of an unfinished reply.
    Closed(Vec<u8>),
    /// The bytes are not a valid reply.
    Malformed(String, Vec<u8>),
    /// No reply within the socket's read timeout.
    Timeout,
    /// Another socket error.
    Io(String),
}

/// Reads replies one after another from a socket with a read timeout,
/// keeping bytes of later replies that arrived early.
pub struct FrameReader {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    /// Decode RESP3 types (after HELLO 3).
    pub resp3: bool,
}

impl FrameReader {
    /// Wraps a connected socket (RESP2 until told otherwise).
    pub fn new(stream: TcpStream) -> FrameReader {
        FrameReader {
            stream,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
            resp3: false,
        }
    }

    /// The next reply.
    ///
    /// # Errors
    /// The connection closed, timed out, or sent a malformed reply.
    pub fn next(&mut self) -> Result<Frame, ReadError> {
        self.next_as(self.resp3)
    }

    /// The next reply, decoded as RESP3 or RESP2 whatever the connection
    /// speaks (the reply to HELLO comes in the version it asks for).
    ///
    /// # Errors
    /// The connection closed, timed out, or sent a malformed reply.
    pub fn next_as(&mut self, resp3: bool) -> Result<Frame, ReadError> {
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            match decode(&self.buf[self.start..], resp3) {
                Ok(Some((frame, used))) => {
                    self.start += used;
                    if self.start == self.buf.len() {
                        self.buf.clear();
                        self.start = 0;
                    }
                    return Ok(frame);
                }
                Ok(None) => {}
                Err(e) => return Err(ReadError::Malformed(e, self.pending())),
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadError::Closed(self.pending())),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(ReadError::Timeout)
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    return Err(ReadError::Closed(self.pending()))
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e.to_string())),
            }
        }
    }

    /// Bytes received and not yet decoded (at most 200 of them).
    pub fn pending(&self) -> Vec<u8> {
        let rest = &self.buf[self.start..];
        rest[..rest.len().min(200)].to_vec()
    }
}

/// Escapes bytes for a failure message: printable ASCII as is, the rest
/// as `\xNN` (so a printed input can be pasted back as a Rust byte string).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// `escape` of a long input cut to its first and last bytes.
pub fn escape_short(bytes: &[u8]) -> String {
    if bytes.len() <= 300 {
        return escape(bytes);
    }
    format!(
        "{}...({} bytes)...{}",
        escape(&bytes[..200]),
        bytes.len(),
        escape(&bytes[bytes.len() - 60..])
    )
}
