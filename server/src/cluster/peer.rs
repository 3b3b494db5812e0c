//! Links to other nodes: one pipelined RESP connection per peer (and
//! protocol version), shared by every client connection of this node. The
//! link itself (bounded queue, batched writes, replies matched to requests
//! in order) is [`ringcache_proto::link`]; this pool dials peers, runs the
//! peer handshake on the stream before handing it over, relays each reply
//! as its raw frame, and keeps the counters.
//!
//! A link that fails fails every request on it and is replaced on the next
//! request, after a short back-off so a dead peer is not redialled in a loop.
//!
//! A link is closed abortively (RST, its unsent bytes discarded), and a
//! caller that gave up on a request aborts the link: otherwise TCP would
//! keep retransmitting the request and deliver it when a partition heals,
//! seconds after the client was told it failed, where it would overwrite
//! writes acknowledged meanwhile. What a peer may have missed that way
//! (or because a request failed at once) is noted per peer, with the time
//! from which writes may be missing, for the repair worker
//! ([`super::repair`]) to push again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use ringcache_proto::link::{self, EndReason, Link, LinkConfig, LinkError, SendError, Waiter};
use ringcache_proto::resp::{self, Value};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};
use tracing::{debug, warn};

use super::peer_auth::{self, HandshakeError};
use super::secret::ClusterKeys;
use crate::log_limit::LogLimit;
use crate::shutdown::Shutdown;
use crate::store::unix_ms;
use crate::tls::TlsState;

/// Requests queued per link before callers get an error (shed, not buffer).
const QUEUE_DEPTH: usize = 8192;
/// Requests written but not yet answered, per link.
const MAX_IN_FLIGHT: usize = 65_536;
/// How long dialling a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// After a failed dial, requests to that peer fail at once for this long.
const REDIAL_BACKOFF: Duration = Duration::from_millis(200);
/// Taken off the time from which a peer may have missed writes: covers a
/// write stamped just before the moment was read, and requests queued
/// during a dial.
const MISSED_MARGIN_MS: u64 = 2_000;

/// Why a peer request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// The peer cannot be reached (refused, reset, timed out).
    Unreachable(SocketAddr),
    /// The link's queue is full.
    Overloaded(SocketAddr),
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerError::Unreachable(addr) => write!(f, "peer {addr} unreachable"),
            PeerError::Overloaded(addr) => write!(f, "peer {addr} overloaded"),
        }
    }
}

/// A reply from a peer: its raw RESP bytes.
pub type PeerReply = Result<Bytes, PeerError>;

/// The reply slots of one request, one per command, filled in order.
struct Replies {
    addr: SocketAddr,
    count: usize,
    slots: std::vec::IntoIter<oneshot::Sender<PeerReply>>,
}

impl Waiter for Replies {
    fn count(&self) -> usize {
        self.count
    }

    fn reply(&mut self, frame: Bytes) {
        if let Some(slot) = self.slots.next() {
            // The caller may have given up: nothing to do then.
            let _ = slot.send(Ok(frame));
        }
    }

    fn finish(self) {}

    fn fail(self, _: LinkError) {
        for slot in self.slots {
            let _ = slot.send(Err(PeerError::Unreachable(self.addr)));
        }
    }
}

/// Every link of this node; cheap to clone.
#[derive(Clone)]
pub struct PeerPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    links: Mutex<HashMap<(SocketAddr, bool), Link<Replies>>>,
    down_until: Mutex<HashMap<SocketAddr, Instant>>,
    keys: ClusterKeys,
    /// With `tls-cluster`: links run over TLS with the node's certificate.
    tls: Option<Arc<TlsState>>,
    shutdown: Shutdown,
    /// Requests sent on any link and not answered yet.
    in_flight: Arc<AtomicUsize>,
    /// Requests that failed at once (peer down, queue full, link gone).
    failures: AtomicU64,
    /// Dials whose peer failed the handshake (or refused ours).
    auth_failures: AtomicU64,
    auth_warnings: LogLimit,
    /// Per peer, the wall-clock ms from which it may have missed requests.
    missed: Mutex<HashMap<SocketAddr, u64>>,
    missed_wake: Notify,
}

impl std::fmt::Debug for PeerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerPool")
            .field("links", &self.inner.links.lock().len())
            .finish()
    }
}

impl PeerPool {
    /// A pool whose links prove the cluster key `keys` (and check that
    /// the peer does) and stop on `shutdown`; with `tls`, over TLS with the
    /// TLS configuration in force when each link is dialled.
    pub fn new(keys: ClusterKeys, shutdown: Shutdown, tls: Option<Arc<TlsState>>) -> PeerPool {
        PeerPool {
            inner: Arc::new(PoolInner {
                links: Mutex::new(HashMap::new()),
                down_until: Mutex::new(HashMap::new()),
                keys,
                tls,
                shutdown,
                in_flight: Arc::new(AtomicUsize::new(0)),
                failures: AtomicU64::new(0),
                auth_failures: AtomicU64::new(0),
                auth_warnings: LogLimit::default(),
                missed: Mutex::new(HashMap::new()),
                missed_wake: Notify::new(),
            }),
        }
    }

    /// Sends one encoded command to `addr`; the receiver gets its reply.
    /// `resp3` picks a link speaking RESP3, so relayed replies match the
    /// client's protocol.
    pub fn send(
        &self,
        addr: SocketAddr,
        resp3: bool,
        command: Bytes,
    ) -> oneshot::Receiver<PeerReply> {
        let (tx, rx) = oneshot::channel();
        self.send_many(addr, resp3, command, vec![tx]);
        rx
    }

    /// Sends several encoded commands at once (`bytes` holds them back to
    /// back); each sender gets the reply to its command, in order.
    pub fn send_many(
        &self,
        addr: SocketAddr,
        resp3: bool,
        bytes: Bytes,
        replies: Vec<oneshot::Sender<PeerReply>>,
    ) {
        let fail = |replies: Replies, error: PeerError| {
            self.note_missed(addr, unix_ms());
            self.inner
                .failures
                .fetch_add(replies.count as u64, Ordering::Relaxed);
            for reply in replies.slots {
                let _ = reply.send(Err(error.clone()));
            }
        };
        let replies = Replies {
            addr,
            count: replies.len(),
            slots: replies.into_iter(),
        };
        if self
            .inner
            .down_until
            .lock()
            .get(&addr)
            .is_some_and(|&until| Instant::now() < until)
        {
            return fail(replies, PeerError::Unreachable(addr));
        }
        match self.link(addr, resp3).send(bytes, replies) {
            Ok(()) => {}
            Err(SendError::Full(request)) => fail(request.waiter, PeerError::Overloaded(addr)),
            Err(SendError::Closed(request)) => {
                // The link died since we looked it up; the next call makes
                // a new one.
                self.inner.links.lock().remove(&(addr, resp3));
                fail(request.waiter, PeerError::Unreachable(addr))
            }
        }
    }

    /// Requests sent to peers and not answered yet: for replication, the
    /// lag in writes.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// Requests to peers that failed so far.
    pub fn failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Dials whose peer failed the handshake so far.
    pub fn auth_failures(&self) -> u64 {
        self.inner.auth_failures.load(Ordering::Relaxed)
    }

    /// Notes that `addr` may have missed what was sent to it from `since`
    /// (wall-clock ms) on.
    pub fn note_missed(&self, addr: SocketAddr, since: u64) {
        self.restore_missed(addr, since.saturating_sub(MISSED_MARGIN_MS));
        self.inner.missed_wake.notify_one();
    }

    /// Takes the peers that may have missed requests, each with the
    /// wall-clock ms from which (see [`super::repair`]).
    pub fn take_missed(&self) -> Vec<(SocketAddr, u64)> {
        self.inner.missed.lock().drain().collect()
    }

    /// Puts back a peer [`PeerPool::take_missed`] gave (not repaired yet).
    pub fn restore_missed(&self, addr: SocketAddr, since: u64) {
        let mut missed = self.inner.missed.lock();
        let entry = missed.entry(addr).or_insert(since);
        *entry = (*entry).min(since);
    }

    /// Waits until a peer may have missed requests.
    pub async fn missed_noted(&self) {
        self.inner.missed_wake.notified().await;
    }

    /// Aborts every link to `addr` (a request on it was given up on): what
    /// it has not delivered yet never will be, and what it waits for fails.
    pub fn abort(&self, addr: SocketAddr) {
        self.inner.links.lock().retain(|(to, _), link| {
            if *to == addr {
                link.abort();
            }
            *to != addr
        });
    }

    /// Forgets links to peers not in `live` (called on ring changes).
    pub fn retain(&self, live: &[SocketAddr]) {
        self.inner
            .links
            .lock()
            .retain(|(addr, _), _| live.contains(addr));
    }

    fn link(&self, addr: SocketAddr, resp3: bool) -> Link<Replies> {
        let mut links = self.inner.links.lock();
        if let Some(link) = links.get(&(addr, resp3)) {
            if !link.is_closed() {
                return link.clone();
            }
        }
        let (link, queue) = link::channel(LinkConfig {
            queue_capacity: QUEUE_DEPTH,
            max_in_flight: MAX_IN_FLIGHT,
            stale_after: None,
            in_flight_gauge: Some(Arc::clone(&self.inner.in_flight)),
            pushes: None,
        });
        links.insert((addr, resp3), link.clone());
        let pool = self.clone();
        tokio::spawn(async move {
            let shutdown = pool.inner.shutdown.clone();
            tokio::select! {
                () = shutdown.wait() => {}
                () = pool.run_link(addr, resp3, queue) => {}
            }
        });
        link
    }

    /// Dials, then runs the link until it stops; notes what the peer may
    /// have missed.
    async fn run_link(&self, addr: SocketAddr, resp3: bool, queue: link::Queue<Replies>) {
        let stream = match self.dial(addr, resp3).await {
            Ok(stream) => stream,
            Err(e) => {
                debug!(peer = %addr, error = %e, "cannot reach peer");
                self.inner
                    .down_until
                    .lock()
                    .insert(addr, Instant::now() + REDIAL_BACKOFF);
                self.note_missed(addr, unix_ms());
                queue.fail(&e.to_string());
                return;
            }
        };
        self.inner.down_until.lock().remove(&addr);
        let end = match stream {
            PeerStream::Plain(tcp) => {
                let (reader, writer) = tcp.into_split();
                link::run(reader, writer, queue).await
            }
            PeerStream::Tls(tls) => {
                let (reader, writer) = tokio::io::split(*tls);
                link::run(reader, writer, queue).await
            }
        };
        if end.reason != EndReason::Released {
            warn!(peer = %addr, error = %end.reason, "peer link lost");
        }
        if end.unanswered + end.unsent > 0 {
            self.note_missed(addr, end.settled_at_ms);
        }
    }

    /// Connects (over TLS with `tls-cluster`, the node's certificate
    /// presented and the peer's checked) and runs the handshake
    /// ([`greet`]).
    async fn dial(&self, addr: SocketAddr, resp3: bool) -> std::io::Result<PeerStream> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        stream.set_nodelay(true)?;
        // Closing discards unsent bytes (see the module docs).
        stream.set_zero_linger()?;
        crate::idle_poll::watch(&stream);
        let keys = &self.inner.keys;
        let handshake = async {
            let Some(tls) = &self.inner.tls else {
                let mut stream = stream;
                greet(&mut stream, keys, resp3).await?;
                return Ok(PeerStream::Plain(stream));
            };
            let connector = tls
                .connector()
                .ok_or_else(|| HandshakeError::Tls("no TLS configuration loaded".into()))?;
            let name = ServerName::IpAddress(addr.ip().into());
            let mut stream = connector.connect(name, stream).await?;
            greet(&mut stream, keys, resp3).await?;
            Ok(PeerStream::Tls(Box::new(stream)))
        };
        let outcome = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .unwrap_or_else(|_| {
                Err(HandshakeError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "handshake timed out",
                )))
            });
        match outcome {
            Ok(stream) => Ok(stream),
            Err(HandshakeError::Io(e)) => Err(e),
            Err(e) => {
                self.inner.auth_failures.fetch_add(1, Ordering::Relaxed);
                if let Some(suppressed) = self.inner.auth_warnings.allow() {
                    warn!(peer = %addr, error = %e, suppressed, "peer link refused");
                }
                Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    e.to_string(),
                ))
            }
        }
    }
}

/// A dialled link's stream: plain TCP, or TLS with `tls-cluster`.
enum PeerStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// The peer handshake (which also makes the peer run what we send itself
/// instead of forwarding it again: a request makes one hop), then HELLO 3
/// for RESP3 links.
async fn greet<S>(stream: &mut S, keys: &ClusterKeys, resp3: bool) -> Result<(), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    peer_auth::prove(stream, keys).await?;
    if resp3 {
        let mut hello = BytesMut::new();
        resp::write_command(&mut hello, &[b"HELLO".as_slice(), b"3"]);
        stream.write_all(&hello).await?;
        let mut input = BytesMut::new();
        if let Value::Error(e) = peer_auth::read_reply(stream, &mut input).await? {
            let why = String::from_utf8_lossy(&e).into_owned();
            return Err(HandshakeError::Refused(why));
        }
    }
    Ok(())
}
