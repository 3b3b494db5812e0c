//! Reply writer: appends replies to a connection's output buffer in RESP2 or
//! RESP3, choosing the RESP3 types (null, map, double, ...) when the client
//! said `HELLO 3` and their RESP2 equivalents otherwise.

use bytes::{BufMut, BytesMut};
use ringcache_proto::resp;

/// Writes replies for one connection.
pub struct Reply<'a> {
    out: &'a mut BytesMut,
    resp3: bool,
}

impl<'a> Reply<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut BytesMut, resp3: bool) -> Self {
        Reply { out, resp3 }
    }

    /// True when the connection speaks RESP3.
    pub fn resp3(&self) -> bool {
        self.resp3
    }

    /// Switches protocol version (HELLO).
    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    /// Bytes written so far (for SLOWLOG and tests).
    pub fn written(&self) -> usize {
        self.out.len()
    }

    /// Takes back what was written after `mark` (a [`Reply::written`]
    /// value): a handler that failed half-way leaves no partial reply.
    pub fn truncate(&mut self, mark: usize) {
        self.out.truncate(mark);
    }

    /// Appends an already encoded reply.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// `+OK`
    #[inline]
    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string.
    #[inline]
    pub fn simple(&mut self, text: &str) {
        resp::write_simple(self.out, text.as_bytes());
    }

    /// An error line; `text` includes its code (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(&mut self, text: &str) {
        resp::write_error(self.out, text.as_bytes());
    }

    /// An error line from bytes that may quote client input as it came
    /// (CR and LF become spaces; everything else is kept, as Redis does).
    pub fn error_bytes(&mut self, text: &[u8]) {
        resp::write_error(self.out, text);
    }

    /// An integer.
    #[inline]
    pub fn int(&mut self, n: i64) {
        resp::write_int(self.out, n);
    }

    /// A bulk string.
    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        resp::write_bulk(self.out, data);
    }

    /// A bulk string, or null.
    #[inline]
    pub fn opt_bulk(&mut self, data: Option<&[u8]>) {
        match data {
            Some(d) => self.bulk(d),
            None => self.null(),
        }
    }

    /// An integer formatted as a bulk string.
    pub fn bulk_int(&mut self, n: i64) {
        let mut digits = itoa::Buffer::new();
        self.bulk(digits.format(n).as_bytes());
    }

    /// The null reply: `_` in RESP3, `$-1` in RESP2.
    #[inline]
    pub fn null(&mut self) {
        self.out
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A null array: `_` in RESP3, `*-1` in RESP2.
    pub fn null_array(&mut self) {
        self.out
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// The header of an array of `n` elements.
    #[inline]
    pub fn array(&mut self, n: usize) {
        resp::write_len(self.out, b'*', n as i64);
    }

    /// The header of a push of `n` elements (RESP3's out-of-band `>`; an
    /// array in RESP2): Pub/Sub messages and confirmations.
    pub fn push(&mut self, n: usize) {
        resp::write_len(self.out, if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// The header of a map of `n` pairs (a flat array of 2n in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            resp::write_len(self.out, b'%', n as i64);
        } else {
            self.array(2 * n);
        }
    }

    /// The header of a set of `n` elements (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        if self.resp3 {
            resp::write_len(self.out, b'~', n as i64);
        } else {
            self.array(n);
        }
    }

    /// A double (a bulk string in RESP2).
    pub fn double(&mut self, value: f64) {
        let text = format_double(value);
        if self.resp3 {
            self.out.reserve(text.len() + 3);
            self.out.put_u8(b',');
            self.out.put_slice(text.as_bytes());
            self.out.put_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// A boolean (integer 1 or 0 in RESP2).
    pub fn boolean(&mut self, value: bool) {
        if self.resp3 {
            self.out
                .extend_from_slice(if value { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(value));
        }
    }

    /// A verbatim text (`=` with format `txt` in RESP3, a bulk string in RESP2).
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            resp::write_len(self.out, b'=', text.len() as i64 + 4);
            self.out.put_slice(b"txt:");
            self.out.put_slice(text);
            self.out.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }
}

/// The part of an argument a C string sees: everything before the first
/// NUL. Redis quotes arguments in its errors with `%s`, which stops there.
pub fn c_string(arg: &[u8]) -> &[u8] {
    arg.split(|&b| b == 0).next().unwrap_or_default()
}

/// Formats a double as Redis does for INCRBYFLOAT and friends: the shortest
/// representation that round-trips, no exponent, `inf`/`-inf`.
pub fn format_double(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if value == value.trunc() && value.abs() < 1e17 {
        return format!("{}", value as i64);
    }
    let text = format!("{value}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_map_follow_the_protocol_version() {
        let mut out = BytesMut::new();
        let mut reply = Reply::new(&mut out, false);
        reply.null();
        reply.map(1);
        reply.set_resp3(true);
        reply.null();
        reply.map(1);
        reply.double(1.5);
        assert_eq!(&out[..], b"$-1\r\n*2\r\n_\r\n%1\r\n,1.5\r\n");
    }

    #[test]
    fn errors_keep_the_bytes_they_quote() {
        let mut out = BytesMut::new();
        Reply::new(&mut out, false).error_bytes(b"ERR bad \xff\r\nend");
        assert_eq!(&out[..], b"-ERR bad \xff  end\r\n");
        assert_eq!(c_string(b"ab\0cd"), b"ab");
        assert_eq!(c_string(b"\0"), b"");
        assert_eq!(c_string(b"abc"), b"abc");
    }

    #[test]
    fn doubles_print_like_redis() {
        assert_eq!(format_double(10.5), "10.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(5.0e3), "5000");
        assert_eq!(format_double(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_double(f64::INFINITY), "inf");
    }
}
