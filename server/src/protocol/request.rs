//! Incremental request parser.
//!
//! Requests are RESP arrays of bulk strings, or inline commands (a line of
//! space-separated words, as typed in telnet). The parser remembers how far a
//! partial request got, so bytes that arrive in small pieces are scanned once.
//! Every length is checked against [`Limits`] before anything is allocated
//! for it; nested arrays are refused outright, so no input can recurse.
//!
//! Arguments are not copied: a complete request is a list of byte ranges into
//! the caller's read buffer (or into the parser's own buffer for inline
//! commands, whose quoting may rewrite bytes).

use std::fmt;

/// Redis's cap on the argument count of one request.
pub const MAX_ARGS: usize = 1024 * 1024;
/// Redis's cap on an inline request or a header line without its newline.
pub const MAX_INLINE: usize = 64 * 1024;
/// Most arguments a client that has not authenticated may send in one
/// request, as Redis: enough for AUTH and HELLO, too few to hold memory.
pub const UNAUTHENTICATED_MAX_ARGS: usize = 10;
/// Largest bulk string a client that has not authenticated may send.
pub const UNAUTHENTICATED_MAX_BULK: usize = 16 * 1024;

/// Size limits applied while parsing.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest bulk string (`proto-max-bulk-len`).
    pub max_bulk_len: u64,
    /// Most arguments in one request.
    pub max_args: usize,
    /// Longest inline request.
    pub max_inline: usize,
    /// The client has not authenticated: Redis's tighter limits apply
    /// ([`UNAUTHENTICATED_MAX_ARGS`], [`UNAUTHENTICATED_MAX_BULK`]), so a
    /// stranger cannot make the node hold large requests.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: crate::config::DEFAULT_PROTO_MAX_BULK_LEN,
            max_args: MAX_ARGS,
            max_inline: MAX_INLINE,
            unauthenticated: false,
        }
    }
}

/// A request the node cannot frame; the connection replies
/// `-ERR Protocol error: ...` and closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn error<T>(message: impl Into<String>) -> Result<T, ProtocolError> {
    Err(ProtocolError(message.into()))
}

/// The arguments of one request, borrowed from the buffer they arrived in.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    base: &'a [u8],
    ranges: &'a [(usize, usize)],
}

impl<'a> Args<'a> {
    /// Wraps `ranges` (start, end) into `base`.
    pub fn new(base: &'a [u8], ranges: &'a [(usize, usize)]) -> Self {
        Args { base, ranges }
    }

    /// Number of arguments, the command name included.
    #[inline]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// True when there are no arguments.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Argument `i` (0 is the command name). Panics when out of range;
    /// the command table checks arity before a handler runs.
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (start, end) = self.ranges[i];
        &self.base[start..end]
    }

    /// Argument `i`, or `None` past the end.
    #[inline]
    pub fn try_get(&self, i: usize) -> Option<&'a [u8]> {
        self.ranges.get(i).map(|&(s, e)| &self.base[s..e])
    }

    /// The arguments from `start` on.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &'a [u8]> + 'a {
        let base = self.base;
        self.ranges[start.min(self.ranges.len())..]
            .iter()
            .map(move |&(s, e)| &base[s..e])
    }

    /// Arguments `start..end` (clamped to the length), as a new view.
    pub fn slice(&self, start: usize, end: usize) -> Args<'a> {
        let end = end.min(self.ranges.len());
        Args {
            base: self.base,
            ranges: &self.ranges[start.min(end)..end],
        }
    }

    /// The arguments from `start` on, as a new view.
    pub fn slice_from(&self, start: usize) -> Args<'a> {
        Args {
            base: self.base,
            ranges: &self.ranges[start.min(self.ranges.len())..],
        }
    }
}

impl fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter_from(0).map(String::from_utf8_lossy))
            .finish()
    }
}

/// Parses requests one at a time out of a growing read buffer.
///
/// Call [`RequestParser::parse`] with the whole unconsumed buffer; on
/// `Ok(Some(n))` read the request with [`RequestParser::args`], then drop the
/// first `n` bytes of the buffer before the next call. On `Ok(None)` read more
/// bytes and call again with the same buffer start.
#[derive(Debug, Default)]
pub struct RequestParser {
    limits: Limits,
    /// Arguments parsed so far in the current request.
    ranges: Vec<(usize, usize)>,
    /// Arguments the current array declared; 0 when no array is open.
    expected: usize,
    /// Where parsing resumes in the buffer.
    pos: usize,
    /// Length of the bulk string whose header was read but whose data has
    /// not fully arrived.
    pending_bulk: Option<usize>,
    /// How far a newline was searched for without finding one.
    scanned: usize,
    /// The current request was inline; its arguments live in `inline`.
    inline: bool,
    inline_buf: Vec<u8>,
}

impl RequestParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            ..Default::default()
        }
    }

    /// Enforces `limits` from the next length read on (CONFIG SET on a
    /// connected client).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Forgets a request read only in part (its buffers are kept), so the
    /// next `parse` starts on a fresh request.
    pub fn reset(&mut self) {
        self.ranges.clear();
        self.expected = 0;
        self.pos = 0;
        self.pending_bulk = None;
        self.scanned = 0;
        self.inline = false;
    }

    /// The arguments of the request that the last `parse` completed.
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        let base = if self.inline {
            &self.inline_buf[..]
        } else {
            buf
        };
        Args::new(base, &self.ranges)
    }

    /// Bytes still needed to finish the bulk string being read, if known;
    /// lets the caller grow its buffer once for a large value.
    pub fn bulk_hint(&self) -> usize {
        self.pending_bulk.unwrap_or(0)
    }

    /// Parses the next request at the start of `buf`.
    ///
    /// Returns `Ok(Some(consumed))` for a complete request (possibly with
    /// zero arguments, for an empty line or `*0`, which callers skip), or
    /// `Ok(None)` when more input is needed.
    ///
    /// # Errors
    /// Framing the node cannot accept; the connection must be closed.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if self.expected == 0 && self.pos == 0 {
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            self.ranges.clear();
            self.pending_bulk = None;
            if first != b'*' {
                return self.parse_inline(buf);
            }
            self.inline = false;
            let Some((line, next)) = self.line(buf, 1, "too big mbulk count string")? else {
                return Ok(None);
            };
            let n =
                parse_len(line).ok_or_else(|| ProtocolError("invalid multibulk length".into()))?;
            // Redis takes any count below one as an empty request.
            if n <= 0 {
                return self.finish(next);
            }
            if n as u64 > self.limits.max_args as u64 {
                return error("invalid multibulk length");
            }
            if self.limits.unauthenticated && n as usize > UNAUTHENTICATED_MAX_ARGS {
                return error("unauthenticated multibulk length");
            }
            self.expected = n as usize;
            self.ranges.reserve(self.expected.min(1024));
            self.pos = next;
        }
        while self.ranges.len() < self.expected {
            let len = match self.pending_bulk {
                Some(len) => len,
                None => {
                    let Some(&kind) = buf.get(self.pos) else {
                        return Ok(None);
                    };
                    if kind != b'$' {
                        return error(format!("expected '$', got '{}'", kind as char));
                    }
                    let Some((line, next)) =
                        self.line(buf, self.pos + 1, "too big bulk count string")?
                    else {
                        return Ok(None);
                    };
                    let len = parse_len(line)
                        .filter(|&n| n >= 0 && n as u64 <= self.limits.max_bulk_len)
                        .ok_or_else(|| ProtocolError("invalid bulk length".into()))?;
                    if self.limits.unauthenticated && len as usize > UNAUTHENTICATED_MAX_BULK {
                        return error("unauthenticated bulk length");
                    }
                    self.pos = next;
                    self.pending_bulk = Some(len as usize);
                    len as usize
                }
            };
            let end = self.pos + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return error("expected CRLF after bulk string");
            }
            self.ranges.push((self.pos, end));
            self.pos = end + 2;
            self.pending_bulk = None;
        }
        let consumed = self.pos;
        self.finish(consumed)
    }

    fn finish(&mut self, consumed: usize) -> Result<Option<usize>, ProtocolError> {
        self.expected = 0;
        self.pos = 0;
        self.scanned = 0;
        self.pending_bulk = None;
        Ok(Some(consumed))
    }

    /// Finds the CRLF-terminated line starting at `from`; returns the line
    /// and the position after its CRLF. `too_big` names the header in the
    /// error for a line longer than the inline limit, as Redis words it.
    fn line<'b>(
        &mut self,
        buf: &'b [u8],
        from: usize,
        too_big: &str,
    ) -> Result<Option<(&'b [u8], usize)>, ProtocolError> {
        let search_from = from.max(self.scanned);
        match memchr::memchr(b'\r', buf.get(search_from..).unwrap_or(&[])) {
            Some(offset) => {
                let cr = search_from + offset;
                match buf.get(cr + 1) {
                    None => {
                        self.scanned = cr;
                        Ok(None)
                    }
                    Some(b'\n') => {
                        self.scanned = 0;
                        Ok(Some((&buf[from..cr], cr + 2)))
                    }
                    Some(_) => error("expected CRLF"),
                }
            }
            None => {
                if buf.len() - from > self.limits.max_inline {
                    return error(too_big);
                }
                self.scanned = buf.len();
                Ok(None)
            }
        }
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let from = self.scanned;
        let Some(offset) = memchr::memchr(b'\n', &buf[from..]) else {
            if buf.len() > self.limits.max_inline {
                return error("too big inline request");
            }
            self.scanned = buf.len();
            return Ok(None);
        };
        let newline = from + offset;
        let mut line = &buf[..newline];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.inline = true;
        self.inline_buf.clear();
        split_inline(line, &mut self.inline_buf, &mut self.ranges)?;
        if self.ranges.len() > self.limits.max_args {
            return error("invalid multibulk length");
        }
        self.scanned = 0;
        self.finish(newline + 1)
    }
}

/// Parses a decimal length the way Redis's `string2ll` does: an optional
/// `-`, then digits with no leading zero (`0` alone is fine), no `+`, no
/// spaces, and the value fits in an i64. `str::parse` alone would accept
/// `+4` and `007`, which Redis refuses as a protocol error.
fn parse_len(text: &[u8]) -> Option<i64> {
    if text == b"0" {
        return Some(0);
    }
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty() || digits.len() > 19 || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    // Accumulated negatively, so that i64::MIN fits; every request has a
    // few of these lines, so no string validation and parse run twice.
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(i64::from(b - b'0'))?;
    }
    if text[0] == b'-' {
        Some(n)
    } else {
        n.checked_neg()
    }
}

/// Splits an inline command into words with Redis's quoting rules
/// (`sdssplitargs`): double quotes with backslash escapes (`\n`, `\xff`, ...),
/// single quotes with only `\'`, and a closing quote must be followed by a
/// space or the end.
fn split_inline(
    line: &[u8],
    out: &mut Vec<u8>,
    ranges: &mut Vec<(usize, usize)>,
) -> Result<(), ProtocolError> {
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            return Ok(());
        }
        let start = out.len();
        i = inline_word(line, i, out)?;
        ranges.push((start, out.len()));
    }
}

/// Reads the word starting at `i` into `out`; returns where it ends.
fn inline_word(line: &[u8], mut i: usize, out: &mut Vec<u8>) -> Result<usize, ProtocolError> {
    loop {
        match line.get(i).copied() {
            None => return Ok(i),
            Some(b) if b.is_ascii_whitespace() => return Ok(i),
            Some(b'"') => i = quoted(line, i + 1, out, double_quoted_char)?,
            Some(b'\'') => i = quoted(line, i + 1, out, single_quoted_char)?,
            Some(other) => {
                out.push(other);
                i += 1;
            }
        }
    }
}

/// Reads a quoted part from `i` (after the opening quote) through its
/// closing quote, unescaping with `escape` (which returns the byte and the
/// bytes it used, or None at the closing quote).
fn quoted(
    line: &[u8],
    mut i: usize,
    out: &mut Vec<u8>,
    escape: fn(&[u8]) -> Option<(u8, usize)>,
) -> Result<usize, ProtocolError> {
    loop {
        if i >= line.len() {
            return error("unbalanced quotes in request");
        }
        match escape(&line[i..]) {
            Some((byte, used)) => {
                out.push(byte);
                i += used;
            }
            None => {
                if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                    return error("unbalanced quotes in request");
                }
                return Ok(i + 1);
            }
        }
    }
}

/// One character inside double quotes: `\xHH`, `\n`-style escapes, or a
/// byte; None at the closing quote.
fn double_quoted_char(rest: &[u8]) -> Option<(u8, usize)> {
    match rest {
        [b'"', ..] => None,
        [b'\\', b'x', hi, lo, ..] if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
            Some((hex_value(*hi) << 4 | hex_value(*lo), 4))
        }
        [b'\\', escaped, ..] => {
            let byte = match escaped {
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'b' => 8,
                b'a' => 7,
                other => *other,
            };
            Some((byte, 2))
        }
        [byte, ..] => Some((*byte, 1)),
        [] => None,
    }
}

/// One character inside single quotes: only `\'` is an escape; None at the
/// closing quote.
fn single_quoted_char(rest: &[u8]) -> Option<(u8, usize)> {
    match rest {
        [b'\'', ..] => None,
        [b'\\', b'\'', ..] => Some((b'\'', 2)),
        [byte, ..] => Some((*byte, 1)),
        [] => None,
    }
}

/// The value of an ASCII hex digit (the caller checked it is one).
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<String>>, ProtocolError> {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf = input.to_vec();
        let mut out = Vec::new();
        while let Some(n) = parser.parse(&buf)? {
            let args = parser.args(&buf);
            out.push(
                args.iter_from(0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect(),
            );
            buf.drain(..n);
        }
        Ok(out)
    }

    #[test]
    fn unauthenticated_clients_get_redis_limits() {
        let limits = Limits {
            unauthenticated: true,
            ..Limits::default()
        };
        let mut parser = RequestParser::new(limits);
        assert_eq!(
            parser.parse(b"*11\r\n").unwrap_err().to_string(),
            "Protocol error: unauthenticated multibulk length"
        );
        let mut parser = RequestParser::new(limits);
        assert_eq!(
            parser.parse(b"*2\r\n$16385\r\n").unwrap_err().to_string(),
            "Protocol error: unauthenticated bulk length"
        );
        let mut parser = RequestParser::new(limits);
        let auth = b"*2\r\n$4\r\nAUTH\r\n$16384\r\n";
        assert_eq!(parser.parse(auth).unwrap(), None, "16 KB is still allowed");
    }

    #[test]
    fn pipeline_of_arrays_and_inline() {
        let got =
            parse_all(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nSET a  b\r\n").unwrap();
        assert_eq!(
            got,
            vec![vec!["PING"], vec!["ECHO", "hi"], vec!["SET", "a", "b"]]
        );
    }

    #[test]
    fn every_split_point_gives_the_same_requests() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nGET key\r\n";
        for cut in 0..input.len() {
            let mut parser = RequestParser::new(Limits::default());
            let mut buf = input[..cut].to_vec();
            let mut got = Vec::new();
            while let Some(n) = parser.parse(&buf).unwrap() {
                got.push(parser.args(&buf).len());
                buf.drain(..n);
            }
            buf.extend_from_slice(&input[cut..]);
            while let Some(n) = parser.parse(&buf).unwrap() {
                got.push(parser.args(&buf).len());
                buf.drain(..n);
            }
            assert_eq!(got, vec![3, 2], "cut at {cut}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn byte_at_a_time_scans_each_byte_once() {
        let input = b"*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n";
        let mut parser = RequestParser::new(Limits::default());
        for end in 1..input.len() {
            assert_eq!(parser.parse(&input[..end]).unwrap(), None);
        }
        assert_eq!(parser.parse(input).unwrap(), Some(input.len()));
        assert_eq!(parser.args(input).get(1), b"0123456789");
    }

    #[test]
    fn inline_quoting() {
        let got = parse_all(b"SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\n").unwrap();
        assert_eq!(got, vec![vec!["SET", "a b", "c'd", "A\n"]]);
        assert_eq!(
            parse_all(b"SET \"abc\n").unwrap_err().0,
            "unbalanced quotes in request"
        );
    }

    #[test]
    fn empty_lines_and_empty_arrays_are_skipped_requests() {
        let got = parse_all(b"\r\n*0\r\n*-1\r\n*-5\r\nPING\r\n").unwrap();
        assert_eq!(got, vec![vec![], vec![], vec![], vec![], vec!["PING"]]);
    }

    /// Asserts that each input is refused with its error.
    fn assert_refused(cases: &[(&[u8], &str)]) {
        for (input, error) in cases {
            assert_eq!(parse_all(input).unwrap_err().0, *error, "{input:?}");
        }
    }

    #[test]
    fn limits_are_checked_before_allocating() {
        assert_refused(&[
            (&b"*99999999999\r\n"[..], "invalid multibulk length"),
            (&b"*1\r\n$99999999999\r\n"[..], "invalid bulk length"),
            (&b"*1\r\n$629145600\r\n"[..], "invalid bulk length"),
            (&b"*1\r\n$-3\r\n"[..], "invalid bulk length"),
            (&b"*x\r\n"[..], "invalid multibulk length"),
            (&b"*1\r\n*1\r\n"[..], "expected '$', got '*'"),
            (
                &b"*1\r\n$3\r\nabcde\r\n"[..],
                "expected CRLF after bulk string",
            ),
        ]);
    }

    #[test]
    fn lengths_are_as_strict_as_redis() {
        assert_refused(&[
            (&b"*01\r\n$4\r\nPING\r\n"[..], "invalid multibulk length"),
            (&b"*+1\r\n$4\r\nPING\r\n"[..], "invalid multibulk length"),
            (&b"*-0\r\n"[..], "invalid multibulk length"),
            (&b"*1\r\n$+4\r\nPING\r\n"[..], "invalid bulk length"),
            (&b"*1\r\n$00\r\n\r\n"[..], "invalid bulk length"),
            (&b"*1\r\n$ 4\r\nPING\r\n"[..], "invalid bulk length"),
        ]);
        assert_eq!(
            parse_all(b"*1\r\n$0\r\n\r\n*-1\r\n").unwrap(),
            vec![vec![String::new()], vec![]]
        );
        assert_eq!(parse_len(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_len(b"9223372036854775808"), None);
        assert_eq!(parse_len(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_len(b"-9223372036854775809"), None);
        assert_eq!(parse_len(b"-12"), Some(-12));
        assert_eq!(parse_len(b"1234567"), Some(1_234_567));
        assert_eq!(parse_len(b"12a"), None);
    }

    #[test]
    fn long_lines_without_newline_are_refused() {
        let long = vec![b'a'; MAX_INLINE + 1];
        assert_eq!(parse_all(&long).unwrap_err().0, "too big inline request");
        let mut header = b"*".to_vec();
        header.extend(std::iter::repeat_n(b'1', MAX_INLINE + 1));
        assert_eq!(
            parse_all(&header).unwrap_err().0,
            "too big mbulk count string"
        );
        let mut bulk_header = b"*1\r\n$".to_vec();
        bulk_header.extend(std::iter::repeat_n(b'1', MAX_INLINE + 1));
        assert_eq!(
            parse_all(&bulk_header).unwrap_err().0,
            "too big bulk count string"
        );
    }

    #[test]
    fn deep_nesting_fails_at_the_first_level() {
        let nested = b"*1\r\n".repeat(100_000);
        assert_eq!(parse_all(&nested).unwrap_err().0, "expected '$', got '*'");
    }

    #[test]
    fn custom_bulk_limit() {
        let mut parser = RequestParser::new(Limits {
            max_bulk_len: 4,
            ..Limits::default()
        });
        assert!(parser.parse(b"*1\r\n$5\r\n").is_err());
    }
}
