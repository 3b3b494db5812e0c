//! One multiplexed connection to one node: RESP2, or RESP3 with a
//! [`Listener`] for the node's pushes.
//!
//! A [`Connection`] is a cheap `Clone` handle. The socket runs as a
//! [`ringcache_proto::link`]: requests (one or more encoded commands and a
//! oneshot for the replies) go over a bounded queue to a task that writes
//! everything queued with one syscall and hands the replies, as raw frames,
//! to the requests in the order they were written; the caller decodes its
//! own frames into [`Value`]s. The commands in flight are bounded; a full
//! request queue sheds the request with [`ErrorKind::Overloaded`]. This
//! module adds what is the client's: dialing, the `AUTH`/`READONLY`
//! handshake (`handshake`: or `HELLO 3` and a [`Listener`]'s setup),
//! reconnecting with back-off, and the client's errors.
//!
//! When the socket fails, every request in flight fails with
//! [`ErrorKind::ConnectionDropped`] and every queued one that was not written
//! with [`ErrorKind::Io`] (safe to retry). The next request reconnects
//! (lazily); failed connects back off exponentially, with jitter, capped at
//! [`RECONNECT_BACKOFF_MAX`], and requests made during the back-off fail at
//! once with [`ErrorKind::Io`] instead of waiting. A connection whose oldest
//! request has gone unanswered for its deadline plus `stale_after` is
//! dropped, so a node that stopped answering (but did not close the socket)
//! is eventually reconnected.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringcache_proto::link::{
    self, Batch, BatchReply, EndReason, Link, LinkConfig, Request, SendError,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tracing::{debug, warn};

use crate::client::ClientConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::resp::{self, Value};
use crate::tls::TlsOptions;

mod handshake;

use handshake::greet;

/// First pause after a failed connect.
pub const RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(25);
/// Longest pause between connect attempts.
pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How to open and run a connection.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    /// `AUTH` user name (ACL); `None` for the default user.
    pub username: Option<String>,
    /// `AUTH` password, sent on every new socket; `None` for no `AUTH`.
    pub password: Option<String>,
    /// Send `READONLY` on every new socket (cluster replicas may then serve
    /// reads).
    pub readonly: bool,
    /// Longest a TCP connect plus handshake may take.
    pub connect_timeout: Duration,
    /// Speak TLS to the node (`rediss://`); `None` for plain TCP.
    pub tls: Option<TlsOptions>,
    /// Requests that may wait for the writer; more are shed with
    /// [`ErrorKind::Overloaded`].
    pub queue_capacity: usize,
    /// Commands written and not yet answered, at most.
    pub max_in_flight: usize,
    /// A connection is dropped when its oldest request is still unanswered
    /// this long after that request's deadline.
    pub stale_after: Duration,
    /// Speak RESP3 (`HELLO 3`) and hand the node's pushes to this listener;
    /// `None`: RESP2.
    pub listener: Option<Arc<dyn Listener>>,
}

/// What a RESP3 connection tells its owner: the setup of each new socket,
/// the node's pushes, and the socket's end.
pub trait Listener: std::fmt::Debug + Send + Sync + 'static {
    /// Commands run on each new socket after `HELLO 3`, before any request
    /// (such as `CLIENT TRACKING on`).
    fn setup(&self) -> Vec<Vec<Vec<u8>>>;
    /// A push frame, raw, in stream order: replies after it on the socket
    /// are handed out after this returns. It must not block.
    fn push(&self, frame: Bytes);
    /// The socket stopped (pushes it would have carried are lost).
    fn closed(&self);
}

impl Default for ConnectionOptions {
    /// The connections of a [`ClientConfig`] with its defaults.
    fn default() -> ConnectionOptions {
        ConnectionOptions::from(&ClientConfig::default())
    }
}

/// A handle on one node's multiplexed connection. Cloning is cheap and all
/// clones share the socket.
///
/// ```no_run
/// # async fn demo() -> ringcache_client::Result<()> {
/// use std::time::Duration;
/// use ringcache_client::connection::{Connection, ConnectionOptions};
///
/// let conn = Connection::new("127.0.0.1:6379", ConnectionOptions::default());
/// let pong = conn.query(&[b"PING"], Duration::from_secs(1)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.shared.addr)
            .field("connected", &self.is_connected())
            .finish()
    }
}

struct Shared {
    addr: String,
    options: ConnectionOptions,
    /// The live socket's link. A std mutex: held only to clone or replace
    /// the handle, never across an `.await`.
    link: Mutex<Option<Link<Batch>>>,
    /// Serializes connect attempts and remembers the back-off.
    reconnect: tokio::sync::Mutex<Backoff>,
}

#[derive(Default)]
struct Backoff {
    failures: u32,
    retry_at: Option<Instant>,
    last_error: String,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data
    // half-updated (single push/pop/replace), so poisoning is ignored.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Connection {
    /// A handle for the node at `addr` (`host:port`). Nothing is opened
    /// until the first request.
    pub fn new(addr: impl Into<String>, options: ConnectionOptions) -> Connection {
        Connection {
            shared: Arc::new(Shared {
                addr: addr.into(),
                options,
                link: Mutex::new(None),
                reconnect: tokio::sync::Mutex::new(Backoff::default()),
            }),
        }
    }

    /// The node's address, as given.
    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// True while a socket is open (it may still fail on the next request).
    pub fn is_connected(&self) -> bool {
        self.current().is_some()
    }

    /// Sends one command (`args[0]` is its name) and waits for its reply.
    /// Error replies become errors ([`Error::from_reply`]).
    ///
    /// # Errors
    /// The node's error reply, [`ErrorKind::Timeout`] after `timeout`, or a
    /// connection error (see [`Connection::send`]).
    pub async fn query(&self, args: &[&[u8]], timeout: Duration) -> Result<Value> {
        let mut frame = BytesMut::new();
        resp::write_command(&mut frame, args);
        let mut replies = self
            .send(frame.freeze(), 1, Instant::now() + timeout)
            .await?;
        match replies.pop() {
            Some(Value::Error(line)) => Err(Error::from_reply(&line)),
            Some(value) => Ok(value),
            None => Err(Error::protocol("no reply")),
        }
    }

    /// Sends `frames` (`count` encoded commands, written back to back with
    /// nothing in between) and returns their `count` replies, in order,
    /// error replies included as [`Value::Error`].
    ///
    /// # Errors
    /// [`ErrorKind::Io`] when the node cannot be reached (nothing was sent),
    /// [`ErrorKind::Overloaded`] when the queue is full (nothing was sent),
    /// [`ErrorKind::ConnectionDropped`] when the connection broke with the
    /// request in flight, [`ErrorKind::Timeout`] at `deadline`, or a
    /// handshake error reply (such as a wrong password).
    pub async fn send(&self, frames: Bytes, count: usize, deadline: Instant) -> Result<Vec<Value>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let (waiter, replies) = Batch::new(count, Some(deadline));
        let mut request = Request { frames, waiter };
        // A link that died between the check and the send is replaced once.
        for _ in 0..2 {
            let sent = match self.send_on_current(request) {
                Ok(sent) => sent,
                Err(back) => self.link(deadline).await?.send(back.frames, back.waiter),
            };
            match sent {
                Ok(()) => return self.wait(replies, deadline).await,
                Err(SendError::Full(_)) => {
                    return Err(Error::new(
                        ErrorKind::Overloaded,
                        format!("request queue to {} is full", self.shared.addr),
                    ))
                }
                Err(SendError::Closed(back)) => {
                    request = back;
                    self.forget_closed();
                }
            }
        }
        Err(Error::io(format!(
            "connection to {} closed before the request was sent",
            self.shared.addr
        )))
    }

    /// Queues `request` on the live link, under the lock (queueing never
    /// waits), so the common path clones no handle; gives the request back
    /// when there is no live link.
    fn send_on_current(
        &self,
        request: Request<Batch>,
    ) -> std::result::Result<std::result::Result<(), SendError<Batch>>, Request<Batch>> {
        let link = lock(&self.shared.link);
        match link.as_ref() {
            Some(link) if !link.is_closed() => Ok(link.send(request.frames, request.waiter)),
            _ => Err(request),
        }
    }

    /// Waits for a sent request's replies and decodes them.
    async fn wait(&self, replies: BatchReply, deadline: Instant) -> Result<Vec<Value>> {
        let addr = &self.shared.addr;
        match timeout_at(deadline, replies).await {
            Ok(Ok(Ok(frames))) => frames.iter().map(|frame| decode_frame(frame)).collect(),
            Ok(Ok(Err(e))) if e.was_written() => Err(Error::dropped(format!(
                "connection to {addr} lost with the request in flight: {}",
                e.reason()
            ))),
            Ok(Ok(Err(e))) => Err(Error::io(format!(
                "connection to {addr} lost before the request was sent: {}",
                e.reason()
            ))),
            Ok(Err(_)) => Err(Error::dropped(format!(
                "connection to {addr} lost with the request in flight"
            ))),
            Err(_) => Err(Error::timeout(format!("no reply from {addr} in time"))),
        }
    }

    /// The live link, if any.
    fn current(&self) -> Option<Link<Batch>> {
        let link = lock(&self.shared.link);
        link.as_ref().filter(|link| !link.is_closed()).cloned()
    }

    /// Drops the current link if it has stopped (a new one replacing it
    /// meanwhile is kept).
    fn forget_closed(&self) {
        let mut link = lock(&self.shared.link);
        if link.as_ref().is_some_and(Link::is_closed) {
            *link = None;
        }
    }

    /// The live link, connecting first if there is none and the back-off
    /// allows it.
    async fn link(&self, deadline: Instant) -> Result<Link<Batch>> {
        if let Some(tx) = self.current() {
            return Ok(tx);
        }
        let shared = &self.shared;
        let Ok(mut backoff) = timeout_at(deadline, shared.reconnect.lock()).await else {
            return Err(Error::timeout(format!(
                "still connecting to {} at the deadline",
                shared.addr
            )));
        };
        if let Some(tx) = self.current() {
            return Ok(tx);
        }
        let now = Instant::now();
        if let Some(at) = backoff.retry_at.filter(|&at| at > now) {
            return Err(Error::io(format!(
                "{} unreachable ({}); next connect attempt in {:?}",
                shared.addr,
                backoff.last_error,
                at - now
            )));
        }
        let full_attempt = now + shared.options.connect_timeout;
        let connect_deadline = deadline.min(full_attempt);
        match open(&shared.addr, &shared.options, connect_deadline).await {
            Ok(link) => {
                if backoff.failures > 0 {
                    debug!(node = %shared.addr, failures = backoff.failures, "reconnected");
                }
                *backoff = Backoff::default();
                *lock(&shared.link) = Some(link.clone());
                Ok(link)
            }
            // Out of the caller's time, not the node's: a request nearly at
            // its deadline says nothing of the node, and must not hold
            // every other request back.
            Err(e) if e.is_timeout() && connect_deadline < full_attempt => Err(e),
            Err(e) => {
                backoff.failures = backoff.failures.saturating_add(1);
                let delay = backoff_delay(backoff.failures);
                backoff.retry_at = Some(Instant::now() + delay);
                backoff.last_error = e.message().to_string();
                debug!(node = %shared.addr, error = %e, retry_in = ?delay, "connect failed");
                Err(e)
            }
        }
    }
}

/// The pause after `failures` failed connects in a row: doubling from
/// [`RECONNECT_BACKOFF_MIN`] up to [`RECONNECT_BACKOFF_MAX`], then scaled by a
/// random factor in [0.5, 1) so many clients do not reconnect in lockstep.
fn backoff_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    let full = RECONNECT_BACKOFF_MIN
        .saturating_mul(1 << doublings)
        .min(RECONNECT_BACKOFF_MAX);
    full.mul_f64(0.5 + fastrand::f64() / 2.0)
}

/// One reply frame, decoded.
fn decode_frame(frame: &[u8]) -> Result<Value> {
    match resp::decode(frame)? {
        Some((value, _)) => Ok(value),
        None => Err(Error::protocol("incomplete reply frame")),
    }
}

/// Connects, runs the handshake and starts the socket task.
async fn open(addr: &str, options: &ConnectionOptions, deadline: Instant) -> Result<Link<Batch>> {
    let mut stream = match timeout_at(deadline, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(Error::io(format!("connect to {addr}: {e}"))),
        Err(_) => return Err(Error::io(format!("connect to {addr} timed out"))),
    };
    // Small requests must not wait for Nagle's algorithm.
    stream
        .set_nodelay(true)
        .map_err(|e| Error::io(format!("{addr}: {e}")))?;
    let (link, queue) = link::channel(LinkConfig {
        queue_capacity: options.queue_capacity,
        max_in_flight: options.max_in_flight,
        stale_after: Some(options.stale_after),
        in_flight_gauge: None,
        pushes: options
            .listener
            .clone()
            .map(|listener| link::PushSink(Arc::new(move |frame: Bytes| listener.push(frame)))),
    });
    let ended = options.listener.clone();
    let Some(tls) = &options.tls else {
        greet(&mut stream, addr, options, deadline).await?;
        let (reader, writer) = stream.into_split();
        tokio::spawn(run_socket(reader, writer, queue, addr.to_string(), ended));
        return Ok(link);
    };
    let mut stream = match timeout_at(deadline, tls.connect(addr, stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(Error::io(format!("TLS handshake with {addr} timed out"))),
    };
    greet(&mut stream, addr, options, deadline).await?;
    let (reader, writer) = tokio::io::split(stream);
    tokio::spawn(run_socket(reader, writer, queue, addr.to_string(), ended));
    Ok(link)
}

/// The socket task: runs the link until it stops, says why, and tells the
/// listener.
async fn run_socket<R, W>(
    reader: R,
    writer: W,
    queue: link::Queue<Batch>,
    addr: String,
    listener: Option<Arc<dyn Listener>>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let end = link::run(reader, writer, queue).await;
    if let Some(listener) = listener {
        listener.closed();
    }
    match end.reason {
        // Every handle is gone: nobody is waiting.
        EndReason::Released => {}
        reason if end.unanswered == 0 => {
            debug!(node = %addr, reason = %reason, "connection closed");
        }
        reason => {
            warn!(node = %addr, reason = %reason, in_flight = end.unanswered, "connection lost");
        }
    }
}

/// `size` connections to one node, used round-robin.
#[derive(Clone, Debug)]
pub(crate) struct Pool {
    connections: Arc<[Connection]>,
    next: Arc<AtomicUsize>,
}

impl Pool {
    pub(crate) fn new(addr: &str, size: usize, options: &ConnectionOptions) -> Pool {
        let connections: Vec<Connection> = (0..size.max(1))
            .map(|_| Connection::new(addr, options.clone()))
            .collect();
        Pool {
            connections: connections.into(),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The next connection, round-robin.
    pub(crate) fn get(&self) -> &Connection {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        &self.connections[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A fake node answering `+PONG` to every command, in order, after
    /// reading all of them (so replies arrive in one segment).
    async fn echo_server() -> (String, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = BytesMut::new();
                    loop {
                        if socket.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let mut out = BytesMut::new();
                        let mut used = 0;
                        while let Ok(Some((value, len))) = resp::decode(&buf[used..]) {
                            used += len;
                            match value {
                                Value::Array(args)
                                    if args.first() == Some(&Value::Bulk(b"ECHO".to_vec())) =>
                                {
                                    if let Some(Value::Bulk(text)) = args.get(1) {
                                        resp::write_bulk(&mut out, text);
                                    }
                                }
                                _ => resp::write_simple(&mut out, b"PONG"),
                            }
                        }
                        buf.advance(used);
                        if socket.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn concurrent_requests_get_their_own_replies() {
        let (addr, server) = echo_server().await;
        let conn = Connection::new(addr, ConnectionOptions::default());
        let mut tasks = Vec::new();
        for i in 0..200 {
            let conn = conn.clone();
            tasks.push(tokio::spawn(async move {
                let text = format!("message {i}");
                let reply = conn
                    .query(&[b"ECHO", text.as_bytes()], Duration::from_secs(5))
                    .await
                    .expect("reply");
                assert_eq!(reply, Value::Bulk(text.into_bytes()));
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        server.abort();
    }

    #[tokio::test]
    async fn small_in_flight_budget_still_passes_big_batches() {
        let (addr, server) = echo_server().await;
        let options = ConnectionOptions {
            max_in_flight: 2,
            ..ConnectionOptions::default()
        };
        let conn = Connection::new(addr, options);
        let mut frames = BytesMut::new();
        for _ in 0..10 {
            resp::write_command(&mut frames, &[b"PING"]);
        }
        let replies = conn
            .send(frames.freeze(), 10, Instant::now() + Duration::from_secs(5))
            .await
            .expect("replies");
        assert_eq!(replies.len(), 10);
        server.abort();
    }

    #[tokio::test]
    async fn unreachable_node_backs_off_and_fails_fast() {
        // Bind then drop: nothing listens on the port.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let conn = Connection::new(format!("127.0.0.1:{port}"), ConnectionOptions::default());
        let first = conn
            .query(&[b"PING"], Duration::from_secs(1))
            .await
            .expect_err("nothing listens");
        assert_eq!(first.kind(), &ErrorKind::Io);
        let second = conn
            .query(&[b"PING"], Duration::from_secs(1))
            .await
            .expect_err("backing off");
        assert_eq!(second.kind(), &ErrorKind::Io);
        assert!(
            second.message().contains("next connect attempt"),
            "{second}"
        );
    }

    /// A listener that accepts connections and never reads or answers.
    async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn a_full_queue_sheds_requests() {
        let (addr, server) = silent_server().await;
        let options = ConnectionOptions {
            queue_capacity: 1,
            max_in_flight: 1,
            ..ConnectionOptions::default()
        };
        let conn = Connection::new(addr, options);
        // Open the link first, so every request below meets a live socket.
        let _ = conn.query(&[b"PING"], Duration::from_millis(50)).await;
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let conn = conn.clone();
                tokio::spawn(
                    async move { conn.query(&[b"PING"], Duration::from_millis(300)).await },
                )
            })
            .collect();
        let mut overloaded = 0;
        for task in tasks {
            let err = task.await.expect("task").expect_err("nobody answers");
            match err.kind() {
                ErrorKind::Overloaded => overloaded += 1,
                ErrorKind::Timeout => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        // One in flight (the PING above holds it), one held by the writer,
        // one queued: the rest are shed.
        assert!(overloaded >= 7, "{overloaded} shed");
        server.abort();
    }

    #[tokio::test]
    async fn a_connection_without_replies_is_dropped() {
        let (addr, server) = silent_server().await;
        let options = ConnectionOptions {
            stale_after: Duration::from_millis(100),
            ..ConnectionOptions::default()
        };
        let conn = Connection::new(addr, options);
        let err = conn
            .query(&[b"PING"], Duration::from_millis(100))
            .await
            .expect_err("nobody answers");
        assert!(err.is_timeout());
        assert!(conn.is_connected());
        let until = Instant::now() + Duration::from_secs(10);
        while conn.is_connected() {
            assert!(Instant::now() < until, "the stuck connection was kept");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.abort();
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        for failures in 1..40 {
            let d = backoff_delay(failures);
            assert!(
                d >= RECONNECT_BACKOFF_MIN / 2 && d < RECONNECT_BACKOFF_MAX,
                "{d:?}"
            );
        }
        assert!(backoff_delay(1) < RECONNECT_BACKOFF_MIN);
        assert!(backoff_delay(30) >= RECONNECT_BACKOFF_MAX / 2);
    }
}
