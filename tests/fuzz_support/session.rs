//! One fuzzing connection: sends a batch of requests in one pipeline,
//! reads exactly one strictly decoded reply per request (RESP2, or RESP3
//! after HELLO 3 until RESET or HELLO 2), and classifies what went wrong.
//!
//! The node may close a connection only for a reason the client gave it:
//! QUIT, a CLIENT KILL that reached this client, a protocol error (its
//! reply comes first), failed AUTH attempts (a node may cap them), or a
//! cross-protocol request (`POST`, `Host:`), which Redis drops silently.

use std::io::Write;
use std::time::Duration;

use crate::common::wire::{
    encode_command, escape_short, is, protocol_after, protocol_asked, Frame, RawConn, ReadError,
};

/// How long one reply may take on a loaded machine before the node counts
/// as stuck.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong with one request of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The reply is not valid RESP (or is RESP3 on a RESP2 connection).
    Malformed(String),
    /// The connection closed with no reason the client gave.
    Closed,
    /// No reply within [`REPLY_TIMEOUT`]; what another client saw then.
    Stuck(String),
    /// The node answered that a handler failed.
    Internal(String),
    /// A socket error other than a close.
    Io(String),
}

impl Fault {
    /// A name for comparing failures while shrinking.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Malformed(_) => "malformed reply",
            Fault::Closed => "connection closed for no reason",
            Fault::Stuck(_) => "no reply (the node is busy with this request or one after it)",
            Fault::Internal(_) => "internal error reply",
            Fault::Io(_) => "socket error",
        }
    }
}

/// The outcome of one batch.
pub struct BatchResult {
    /// One reply per request answered, in order.
    pub replies: Vec<Frame>,
    /// The connection closed for a reason the client gave, after `replies`.
    pub closed: bool,
    /// What went wrong, at which request.
    pub fault: Option<(usize, Fault)>,
}

/// A connection to the node under test.
pub struct Session {
    reader: RawConn,
    /// AUTH and HELLO requests refused on this connection.
    pub auth_failures: usize,
    /// Inside MULTI: the requests queued so far. A queued HELLO changes
    /// the protocol when EXEC runs it, in the middle of EXEC's reply (the
    /// array's header in the old protocol, the replies after HELLO's in
    /// the new one), as Redis does.
    queued: Option<Vec<Vec<Vec<u8>>>>,
}

impl Session {
    /// Connects to `addr`.
    ///
    /// # Errors
    /// The connection is refused.
    pub fn connect(addr: std::net::SocketAddr) -> std::io::Result<Session> {
        let stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Session {
            reader: RawConn::new(stream),
            auth_failures: 0,
            queued: None,
        })
    }

    /// Sends `batch` as one pipeline and reads its replies.
    pub fn run(&mut self, batch: &[Vec<Vec<u8>>]) -> BatchResult {
        let mut bytes = Vec::new();
        for argv in batch {
            encode_command(&mut bytes, argv);
        }
        // A separate writer: the node writes replies while it reads, and a
        // large pipeline must not wait on replies nobody reads yet.
        let writer = self.reader.stream.try_clone().map(|mut stream| {
            std::thread::spawn(move || {
                let _ = stream.write_all(&bytes);
            })
        });
        let result = self.read_replies(batch);
        if let Ok(writer) = writer {
            if result.closed || result.fault.is_some() {
                let _ = self.reader.stream.shutdown(std::net::Shutdown::Both);
            }
            let _ = writer.join();
        }
        result
    }

    fn read_replies(&mut self, batch: &[Vec<Vec<u8>>]) -> BatchResult {
        let mut replies = Vec::with_capacity(batch.len());
        for (i, argv) in batch.iter().enumerate() {
            let resp3 =
                protocol_asked(argv).unwrap_or(self.reader.resp3) || self.exec_may_switch(argv);
            match self.next_reply(resp3) {
                Ok(frame) => {
                    if let Some(text) = frame.error_text() {
                        if text.to_ascii_lowercase().contains("internal error") {
                            return fault(replies, i, Fault::Internal(text));
                        }
                    }
                    if (is(argv.first(), "auth") || is(argv.first(), "hello")) && frame.is_error() {
                        self.auth_failures += 1;
                    }
                    self.follow_protocol(argv, &frame);
                    replies.push(frame);
                }
                Err(ReadError::Closed(pending)) => {
                    if !pending.is_empty() {
                        let text = format!("closed inside a reply: {}", escape_short(&pending));
                        return fault(replies, i, Fault::Malformed(text));
                    }
                    if closing_explained(batch, &replies, i) {
                        return BatchResult {
                            replies,
                            closed: true,
                            fault: None,
                        };
                    }
                    return fault(replies, i, Fault::Closed);
                }
                Err(ReadError::Malformed(e, bytes)) => {
                    let text = format!("{e}: {}", escape_short(&bytes));
                    return fault(replies, i, Fault::Malformed(text));
                }
                Err(ReadError::Timeout) => {
                    let others = self.ask_another_client();
                    return fault(replies, i, Fault::Stuck(others));
                }
                Err(ReadError::Io(e)) => return fault(replies, i, Fault::Io(e)),
            }
        }
        BatchResult {
            replies,
            closed: false,
            fault: None,
        }
    }

    /// Follows the protocol version a reply switched to, and the
    /// transaction's queue.
    fn follow_protocol(&mut self, argv: &[Vec<u8>], frame: &Frame) {
        let ok = *frame == Frame::Simple(b"OK".to_vec());
        if is(argv.first(), "exec") || is(argv.first(), "discard") || is(argv.first(), "reset") {
            let queued = self.queued.take();
            if let (Some(queued), Frame::Array(replies)) = (queued, frame) {
                if is(argv.first(), "exec") {
                    for (request, reply) in queued.iter().zip(replies) {
                        self.reader.resp3 = protocol_after(request, reply, self.reader.resp3);
                    }
                }
            }
        } else if is(argv.first(), "multi") && ok && self.queued.is_none() {
            self.queued = Some(Vec::new());
        } else if let Some(queued) = self.queued.as_mut() {
            if *frame == Frame::Simple(b"QUEUED".to_vec()) {
                queued.push(argv.to_vec());
            }
            return;
        }
        self.reader.resp3 = protocol_after(argv, frame, self.reader.resp3);
    }

    /// Whether `argv` is an EXEC whose queue holds a HELLO 3: its reply
    /// may switch to RESP3 part way (read leniently).
    fn exec_may_switch(&self, argv: &[Vec<u8>]) -> bool {
        is(argv.first(), "exec")
            && self
                .queued
                .iter()
                .flatten()
                .any(|request| protocol_asked(request) == Some(true))
    }

    /// Whether the node answers a new connection now (is the whole node
    /// busy, or only this connection waiting?), with its CLIENT LIST.
    fn ask_another_client(&self) -> String {
        let Ok(addr) = self.reader.stream.peer_addr() else {
            return "no peer address".into();
        };
        let mut other = match Session::connect(addr) {
            Ok(s) => s,
            Err(e) => return format!("another client cannot connect: {e}"),
        };
        match other.ping() {
            Ok(pong) => {
                let list = other.run(&[vec![b"CLIENT".to_vec(), b"LIST".to_vec()]]);
                let text = list
                    .replies
                    .first()
                    .and_then(Frame::bytes)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                format!("another client got {}; CLIENT LIST:\n{text}", pong.show())
            }
            Err(e) => format!("another client got no answer either ({e:?})"),
        }
    }

    /// PING and its reply.
    ///
    /// # Errors
    /// The reply did not come or was malformed.
    pub fn ping(&mut self) -> Result<Frame, ReadError> {
        // A batch may leave a MULTI open (which would queue the PING) or
        // the connection subscribed (where PING answers differently):
        // RESET ends both (the harness never sets a password).
        let mut bytes = Vec::new();
        encode_command(&mut bytes, &["RESET"]);
        encode_command(&mut bytes, &["PING"]);
        self.reader
            .stream
            .write_all(&bytes)
            .map_err(|e| ReadError::Io(e.to_string()))?;
        let resp3 = self.reader.resp3;
        self.next_reply(resp3)?;
        // What RESET ended, the model ends too: a transaction left open
        // (whose queue would swallow a later HELLO's switch) and RESP3.
        self.queued = None;
        self.reader.resp3 = false;
        self.next_reply(false)
    }

    /// The next reply, past the pushes the node sends on its own (a
    /// subscribed connection's messages, tracking invalidations): they
    /// answer no request, and a batch may publish to its own channel.
    fn next_reply(&mut self, resp3: bool) -> Result<Frame, ReadError> {
        loop {
            let frame = self.reader.next_as(resp3)?;
            if !unsolicited(&frame) {
                return Ok(frame);
            }
        }
    }
}

/// A RESP3 push that answers no request.
fn unsolicited(frame: &Frame) -> bool {
    let Frame::Push(items) = frame else {
        return false;
    };
    let kind = items.first().and_then(Frame::bytes).unwrap_or_default();
    [&b"message"[..], b"pmessage", b"smessage", b"invalidate"]
        .iter()
        .any(|k| kind.eq_ignore_ascii_case(k))
}

fn fault(replies: Vec<Frame>, at: usize, fault: Fault) -> BatchResult {
    BatchResult {
        replies,
        closed: false,
        fault: Some((at, fault)),
    }
}

/// True when the close before request `at`'s reply has a reason the client
/// gave (see the module docs).
fn closing_explained(batch: &[Vec<Vec<u8>>], replies: &[Frame], at: usize) -> bool {
    let silent = batch
        .get(at)
        .and_then(|argv| argv.first())
        .is_some_and(|name| {
            name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
        });
    if silent {
        return true;
    }
    let Some(last) = at.checked_sub(1) else {
        return false;
    };
    let argv = &batch[last];
    let reply = &replies[last];
    let quit = is(argv.first(), "quit") && *reply == Frame::Simple(b"OK".to_vec());
    let killed = is(argv.first(), "client")
        && is(argv.get(1), "kill")
        && matches!(reply, Frame::Simple(_) | Frame::Int(1..));
    let protocol = reply
        .error_text()
        .is_some_and(|e| e.starts_with("ERR Protocol error"));
    let failed_auth = (is(argv.first(), "auth") || is(argv.first(), "hello")) && reply.is_error();
    // A refused peer handshake closes the connection, as too many failed
    // AUTH attempts do.
    let failed_peer = is(argv.first(), "rcpeer") && reply.is_error();
    quit || killed || protocol || failed_auth || failed_peer
}
