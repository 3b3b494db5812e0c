//! Exact wire checks: a strict RESP2/RESP3 reply decoder that keeps every
//! reply type apart (a null bulk is not a null array, a set is not an
//! array), requests encoded by the protocol crate, and [`RawConn`], the one
//! reader of replies from a socket that every raw-byte test uses.
//!
//! The protocol crate's decoder (`ringcache_proto::resp`) is lenient on
//! purpose (it reads `#x` as false, any negative length as nil, `+5` as an
//! integer); this one refuses every frame Redis would never send, so a
//! malformed reply fails the test.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

use bytes::BytesMut;
use ringcache_proto::resp;

use super::DEADLINE;

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

    /// The value of `key` in a map, or in an array of key-value pairs
    /// (a RESP2 map, as HELLO 2 sends).
    pub fn field(&self, key: &[u8]) -> Option<Frame> {
        match self {
            Frame::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.bytes() == Some(key))
                .map(|(_, v)| v.clone()),
            Frame::Array(items) => items
                .chunks(2)
                .find(|pair| pair[0].bytes() == Some(key))
                .and_then(|pair| pair.get(1).cloned()),
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

/// The one whole reply `bytes` hold; panics on anything else.
pub fn frame_of(bytes: &[u8], resp3: bool) -> Frame {
    match decode(bytes, resp3) {
        Ok(Some((frame, used))) if used == bytes.len() => frame,
        other => panic!("not one whole reply ({other:?}): {}", escape_short(bytes)),
    }
}

/// A request as a RESP array of bulk strings, appended to `out` (the
/// protocol crate's encoder, as clients send it).
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.extend_from_slice(&command(args));
}

/// A request as a RESP array of bulk strings.
pub fn command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = BytesMut::new();
    resp::write_command(&mut out, args);
    out.to_vec()
}

/// Several requests, one after another, as one pipeline.
pub fn commands<A: AsRef<[u8]>>(requests: &[Vec<A>]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for args in requests {
        resp::write_command(&mut out, args);
    }
    out.to_vec()
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

/// A raw connection that reads replies one after another, strictly
/// decoded, keeping bytes of later replies that arrived early. The
/// `Result` methods are for the fuzzer, which classifies failures; the
/// others panic with what arrived, for tests that expect a reply.
pub struct RawConn {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    /// Decode RESP3 types (after HELLO 3; the panicking methods follow
    /// HELLO and RESET by themselves).
    pub resp3: bool,
}

impl RawConn {
    /// Wraps a connected socket (RESP2 until told otherwise).
    pub fn new(stream: TcpStream) -> RawConn {
        RawConn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
            resp3: false,
        }
    }

    /// Connects to `addr` with a read timeout of [`DEADLINE`] and no Nagle
    /// delay.
    pub fn connect(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect(addr).expect("raw connect");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        RawConn::new(stream)
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
        self.next_with_bytes(resp3).map(|(frame, _)| frame)
    }

    /// The next reply and its exact bytes.
    fn next_with_bytes(&mut self, resp3: bool) -> Result<(Frame, Vec<u8>), ReadError> {
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            match decode(&self.buf[self.start..], resp3) {
                Ok(Some((frame, used))) => {
                    let bytes = self.buf[self.start..self.start + used].to_vec();
                    self.start += used;
                    if self.start == self.buf.len() {
                        self.buf.clear();
                        self.start = 0;
                    }
                    return Ok((frame, bytes));
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

    /// True when no byte beyond the replies read so far has arrived.
    pub fn drained(&self) -> bool {
        self.start == self.buf.len()
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends one request.
    pub fn send_command<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send(&command(args));
    }

    /// The next reply and its exact bytes; panics on anything but a whole,
    /// valid reply.
    pub fn reply_bytes(&mut self) -> (Frame, Vec<u8>) {
        self.next_with_bytes(self.resp3)
            .unwrap_or_else(|e| panic!("no valid reply: {e:?}"))
    }

    /// The next reply; panics on anything but a whole, valid reply.
    pub fn reply(&mut self) -> Frame {
        self.reply_bytes().0
    }

    /// Sends one request and returns its reply, following the protocol
    /// version HELLO and RESET switch to.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        self.call_bytes(args).0
    }

    /// This connection's `CLIENT ID`.
    pub fn client_id(&mut self) -> i64 {
        match self.call(&["CLIENT", "ID"]) {
            Frame::Int(id) => id,
            other => panic!("CLIENT ID answered {}", other.show()),
        }
    }

    /// Sends one request and returns the exact bytes of its reply, which
    /// must be all that arrived.
    pub fn roundtrip<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        let (_, bytes) = self.call_bytes(args);
        assert!(
            self.drained(),
            "one reply expected, then got {:?}",
            String::from_utf8_lossy(&self.pending())
        );
        bytes
    }

    fn call_bytes<A: AsRef<[u8]>>(&mut self, args: &[A]) -> (Frame, Vec<u8>) {
        self.send_command(args);
        let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_ref().to_vec()).collect();
        let resp3 = protocol_asked(&argv).unwrap_or(self.resp3);
        let (frame, bytes) = self.next_with_bytes(resp3).unwrap_or_else(|e| {
            let peer = self.stream.peer_addr().map(|a| a.to_string());
            panic!(
                "{}: no valid reply to {}: {e:?}",
                peer.unwrap_or_default(),
                show_argv(&argv)
            )
        });
        self.resp3 = protocol_after(&argv, &frame, self.resp3);
        (frame, bytes)
    }

    /// Switches the connection to RESP `version` with HELLO and returns the
    /// reply, asserted to be a map in RESP3 and a flat array in RESP2.
    pub fn hello(&mut self, version: u8) -> Frame {
        let bytes = self.roundtrip(&["HELLO", &version.to_string()]);
        let kind = if version == 3 { b'%' } else { b'*' };
        assert_eq!(
            bytes.first(),
            Some(&kind),
            "HELLO {version} answered {:?}",
            String::from_utf8_lossy(&bytes)
        );
        frame_of(&bytes, version == 3)
    }

    /// Sends each request of `cases` in turn and asserts the exact text of
    /// its reply.
    pub fn assert_replies(&mut self, cases: &[(&[&str], &str)]) {
        for (request, expected) in cases {
            let reply = self.roundtrip(request);
            assert_eq!(
                String::from_utf8_lossy(&reply),
                *expected,
                "reply to {request:?}"
            );
        }
    }

    /// Sends each raw input of `cases` in turn (inline requests, several
    /// frames) and asserts the exact text of the one reply it gets.
    pub fn assert_raw_replies(&mut self, cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            let reply = self.roundtrip_bytes(input.as_bytes());
            assert_eq!(
                String::from_utf8_lossy(&reply),
                *expected,
                "reply to {input:?}"
            );
        }
    }

    /// Sends `bytes` (raw, inline or several requests) and returns the exact
    /// bytes of the one reply they get.
    pub fn roundtrip_bytes(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.send(bytes);
        self.reply_bytes().1
    }

    /// Sends all `requests` in one write and returns their replies in order.
    pub fn pipeline<A: AsRef<[u8]>>(&mut self, requests: &[Vec<A>]) -> Vec<Frame> {
        self.send(&commands(requests));
        (0..requests.len()).map(|_| self.reply()).collect()
    }

    /// Reads until the node closes the connection; panics if it stays open
    /// past the read timeout. Returns what arrived before the close.
    pub fn read_until_closed(&mut self) -> Vec<u8> {
        let mut out = self.buf.split_off(self.start);
        self.buf.clear();
        self.start = 0;
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return out,
                Err(e) => panic!(
                    "connection still open ({e}); got {:?}",
                    String::from_utf8_lossy(&out)
                ),
            }
        }
    }

    /// Sends `bytes` and returns everything the node writes until it
    /// closes the connection or the read timeout passes (a node that
    /// resets the connection under unsent bytes is fine here).
    pub fn send_and_read_to_close(&mut self, bytes: &[u8]) -> Vec<u8> {
        let _ = self.stream.write_all(bytes);
        let mut out = self.buf.split_off(self.start);
        self.buf.clear();
        self.start = 0;
        let _ = self.stream.read_to_end(&mut out);
        out
    }
}

/// The protocol version `argv` asks for (HELLO 2 or 3), which its reply
/// already speaks.
pub fn protocol_asked(argv: &[Vec<u8>]) -> Option<bool> {
    if !is(argv.first(), "hello") {
        return None;
    }
    match argv.get(1).map(Vec::as_slice) {
        Some(b"3") => Some(true),
        Some(b"2") => Some(false),
        _ => None,
    }
}

/// Whether the connection speaks RESP3 after `argv` got `frame`.
pub fn protocol_after(argv: &[Vec<u8>], frame: &Frame, resp3: bool) -> bool {
    if is(argv.first(), "reset") && *frame == Frame::Simple(b"RESET".to_vec()) {
        return false;
    }
    if !is(argv.first(), "hello") {
        return resp3;
    }
    match frame.field(b"proto") {
        Some(Frame::Int(3)) => true,
        Some(Frame::Int(2)) => false,
        _ => resp3,
    }
}

/// True when `arg` is `word`, in any case.
pub fn is(arg: Option<&Vec<u8>>, word: &str) -> bool {
    arg.is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
}

/// A request for a failure message.
pub fn show_argv(argv: &[Vec<u8>]) -> String {
    argv.iter()
        .map(|a| format!("\"{}\"", escape_short(a)))
        .collect::<Vec<_>>()
        .join(" ")
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
