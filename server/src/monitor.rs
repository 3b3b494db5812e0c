//! MONITOR: the clients that watch every command the node runs, and the
//! delivery of one line per command into each one's bounded feed, which
//! its connection drains and writes out between requests (`pipeline`), as
//! it does Pub/Sub messages.
//!
//! The line is Redis's: `+<unix secs>.<micros> [<db> <addr>] "CMD" "arg"`,
//! each argument escaped as Redis's `sdscatrepr`, secrets `(redacted)`,
//! `lua` for the address of a command a script runs. Nobody monitoring
//! costs one atomic load per command. A feed is bounded by
//! `client-output-buffer-limit normal` (or [`DEFAULT_HARD`] when that is
//! unlimited, as Redis's default is): a monitor that does not read is
//! disconnected, and the node never waits for it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::clients::ClientHandle;
use crate::config::OutputLimit;
use crate::protocol::Args;
use crate::soft_limit::SoftLimit;

/// The bound of a feed when `client-output-buffer-limit normal` has none:
/// a queue a client can make the node hold must have one.
pub const DEFAULT_HARD: u64 = 64 << 20;

/// Who ran a command, as the line shows it.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// A client at this address.
    Client(SocketAddr),
    /// A script (EVAL, FCALL).
    Lua,
}

/// One monitoring connection's feed.
#[derive(Debug)]
pub struct Feed {
    queue: Mutex<VecDeque<Bytes>>,
    bytes: AtomicUsize,
    /// When the feed went over the soft limit.
    soft: SoftLimit,
    limit: OutputLimit,
    /// Wakes the connection.
    pub ready: Notify,
    client: Arc<ClientHandle>,
}

impl Feed {
    /// An empty feed for `client`, bounded by `limit` (the normal clients'
    /// output limit).
    pub fn new(client: Arc<ClientHandle>, limit: OutputLimit) -> Arc<Feed> {
        let hard = if limit.hard == 0 {
            DEFAULT_HARD
        } else {
            limit.hard
        };
        Arc::new(Feed {
            queue: Mutex::new(VecDeque::new()),
            bytes: AtomicUsize::new(0),
            soft: SoftLimit::default(),
            limit: OutputLimit { hard, ..limit },
            ready: Notify::new(),
            client,
        })
    }

    /// The client this feed belongs to.
    pub fn id(&self) -> u64 {
        self.client.id
    }

    /// Queues `line`, or disconnects the client when its feed is over the
    /// limits (the line is then dropped). True when the client was cut.
    fn deliver(&self, line: &Bytes) -> bool {
        let size = line.len();
        let bytes = self.bytes.fetch_add(size, Ordering::Relaxed) + size;
        if bytes as u64 > self.limit.hard
            || self
                .soft
                .passed(bytes as u64, self.limit.soft, self.limit.soft_seconds)
        {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            self.client.kill();
            return true;
        }
        self.queue.lock().push_back(line.clone());
        self.ready.notify_one();
        false
    }

    /// Appends every queued line to `out`; returns how many.
    pub fn drain_into(&self, out: &mut bytes::BytesMut) -> usize {
        let lines: Vec<Bytes> = self.queue.lock().drain(..).collect();
        let size: usize = lines.iter().map(Bytes::len).sum();
        self.bytes.fetch_sub(size, Ordering::Relaxed);
        for line in &lines {
            out.extend_from_slice(line);
        }
        lines.len()
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Monitors {
    /// Feeds registered, read with one load on every command.
    count: AtomicUsize,
    feeds: RwLock<Vec<Arc<Feed>>>,
}

impl Monitors {
    /// True when some client monitors.
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Starts delivering to `feed`.
    pub fn add(&self, feed: Arc<Feed>) {
        let mut feeds = self.feeds.write();
        feeds.push(feed);
        self.count.store(feeds.len(), Ordering::Relaxed);
    }

    /// Stops delivering to client `id` (RESET, the connection closed).
    pub fn remove(&self, id: u64) {
        let mut feeds = self.feeds.write();
        feeds.retain(|feed| feed.id() != id);
        self.count.store(feeds.len(), Ordering::Relaxed);
    }

    /// Shows a command to every monitor: `redacted` picks the arguments
    /// shown as `(redacted)`. Returns how many monitors were cut for
    /// passing their limit.
    pub fn feed(
        &self,
        db: usize,
        origin: Origin,
        args: Args<'_>,
        redacted: &dyn Fn(usize) -> bool,
    ) -> u64 {
        let feeds = self.feeds.read();
        if feeds.is_empty() {
            return 0;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let line = Bytes::from(line(now, db, origin, args, redacted));
        feeds.iter().filter(|feed| feed.deliver(&line)).count() as u64
    }
}

/// One MONITOR line, a RESP simple string.
pub fn line(
    now: std::time::Duration,
    db: usize,
    origin: Origin,
    args: Args<'_>,
    redacted: &dyn Fn(usize) -> bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + args.iter_from(0).map(<[u8]>::len).sum::<usize>());
    let head = match origin {
        Origin::Client(addr) => format!(
            "+{}.{:06} [{db} {addr}]",
            now.as_secs(),
            now.subsec_micros()
        ),
        Origin::Lua => format!("+{}.{:06} [{db} lua]", now.as_secs(), now.subsec_micros()),
    };
    out.extend_from_slice(head.as_bytes());
    for (position, arg) in args.iter_from(0).enumerate() {
        out.push(b' ');
        if redacted(position) {
            out.extend_from_slice(b"\"(redacted)\"");
        } else {
            quote(arg, &mut out);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Appends `bytes` quoted and escaped as Redis's `sdscatrepr`: `\\` and
/// `\"`, `\n \r \t \a \b`, printable ASCII as is, anything else `\xHH`.
pub fn quote(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn args_of<'a>(buf: &'a [u8], ranges: &'a [(usize, usize)]) -> Args<'a> {
        Args::new(buf, ranges)
    }

    #[test]
    fn lines_are_redis_lines() {
        let buf = b"SETax y\"z\n\x01\xc3\xa9";
        let ranges = [(0, 3), (3, 4), (4, buf.len())];
        let addr: SocketAddr = "127.0.0.1:38740".parse().unwrap();
        let text = line(
            Duration::new(1_796_048_475, 258_265_123),
            0,
            Origin::Client(addr),
            args_of(buf, &ranges),
            &|_| false,
        );
        assert_eq!(
            text,
            b"+1796048475.258265 [0 127.0.0.1:38740] \"SET\" \"a\" \"x y\\\"z\\n\\x01\\xc3\\xa9\"\r\n"
        );
        let buf = b"AUTHuserpw";
        let ranges = [(0, 4), (4, 8), (8, 10)];
        let text = line(
            Duration::new(5, 7_000),
            3,
            Origin::Lua,
            args_of(buf, &ranges),
            &|p| p >= 1,
        );
        assert_eq!(
            text,
            b"+5.000007 [3 lua] \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"
        );
    }

    #[test]
    fn a_monitor_that_does_not_read_is_cut() {
        let clients = crate::clients::Clients::default();
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let handle = clients.register(addr, addr);
        let limit = OutputLimit {
            hard: 100,
            soft: 0,
            soft_seconds: 0,
        };
        let monitors = Monitors::default();
        assert!(!monitors.any());
        monitors.add(Feed::new(handle.clone(), limit));
        assert!(monitors.any());
        let buf = b"GETkey";
        let ranges = [(0, 3), (3, 6)];
        let cut: u64 = (0..10)
            .map(|_| monitors.feed(0, Origin::Client(addr), args_of(buf, &ranges), &|_| false))
            .sum();
        assert!(handle.is_killed());
        assert!(cut >= 1);
        monitors.remove(handle.id);
        assert!(!monitors.any());
    }
}
