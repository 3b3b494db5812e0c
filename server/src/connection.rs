//! One client connection, as named steps: read what the client sent, parse
//! every complete request in the buffer, check and run each one (here, or
//! through the cluster layer), and write the batch's replies in request
//! order with one write (pipelining costs one read and one write per batch,
//! not per command), within the client's output buffer limits.
//!
//! A reply error keeps the connection; a protocol error gets
//! `-ERR Protocol error: ...` and closes this connection only. What ends a
//! connection: the client closing, a protocol error, QUIT, CLIENT KILL, the
//! idle timeout, shutdown, the query or output buffer limits, too many
//! failed AUTH attempts, and an HTTP request (`POST`, `Host:`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;
use tracing::{debug, warn};

use crate::clients::ClientHandle;
use crate::cluster::{dispatch, Cluster};
use crate::commands::{self, After, Ctx, Deferred, Session};
use crate::config::OutputLimit;
use crate::log_limit::LogLimit;
use crate::protocol::{Args, Limits, Reply, RequestParser};
use crate::socket;
use crate::state::NodeState;
use crate::stats::ServerStats;
use crate::store::unix_ms;

/// Initial size of the read and write buffers.
const BUFFER_SIZE: usize = 16 * 1024;
/// Replies beyond this are written out before more requests run, so one
/// pipeline cannot grow the output buffer without bound.
const FLUSH_AT: usize = 256 * 1024;
/// Replies waiting on peers before the connection stops reading more
/// requests and writes what it has (bounds memory per connection).
const MAX_WAITING: usize = 2048;
/// Buffers grown past this are given back once empty.
const SHRINK_ABOVE: usize = 1024 * 1024;
/// Deferred replies this large are written as they are, not copied into
/// one buffer with their neighbours.
const DIRECT_WRITE: usize = 64 * 1024;

static CROSS_PROTOCOL_LOG: LogLimit = LogLimit::new(10_000);
static OUTPUT_LIMIT_LOG: LogLimit = LogLimit::new(10_000);

/// Why a connection ends before the client leaves on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The client closed, or the socket failed.
    Gone,
    /// The node closes it after writing the replies so far: QUIT, a
    /// protocol error, the query buffer limit, too many failed AUTH
    /// attempts, an HTTP request.
    Closing,
    /// CLIENT KILL, the idle timeout or shutdown.
    Killed,
    /// Replies piled up past the output buffer limits.
    OutputLimit,
}

/// Serves `stream` until the client leaves or the connection is ended (see
/// the module docs).
pub async fn serve(node: Arc<NodeState>, stream: TcpStream, handle: Arc<ClientHandle>) {
    let _ = stream.set_nodelay(true);
    let mut connection = Connection::new(node, stream, handle);
    let ended = connection.run().await;
    debug!(client = %connection.handle.peer, ?ended, "connection closed");
    // Ends our side at once (no wait, even for a client that never reads).
    let _ = tokio::io::AsyncWriteExt::shutdown(&mut connection.stream).await;
}

/// A connection's state across batches.
struct Connection {
    node: Arc<NodeState>,
    cluster: Option<Arc<Cluster>>,
    stream: TcpStream,
    handle: Arc<ClientHandle>,
    session: Session,
    requests: Requests,
    replies: Replies,
    settings: Settings,
}

/// The read buffer and the parser working through it.
struct Requests {
    parser: RequestParser,
    /// Bytes read and not yet consumed; requests not yet run start at the
    /// batch's `start`, the consumed prefix is cut once per read.
    input: Vec<u8>,
    /// Whether `parser` has the limits of an authenticated client.
    authenticated: bool,
}

/// Replies of the current batch, in request order.
struct Replies {
    /// Replies known now, after the last deferred one.
    output: BytesMut,
    /// Replies not known yet (forwarded, split, held for replicas, KEYS),
    /// with the ready bytes between them.
    segments: Vec<Segment>,
}

/// A reply in the ordered output of a connection.
enum Segment {
    /// Bytes ready to write.
    Ready(Bytes),
    /// A reply still coming.
    Waiting(Deferred),
}

/// Settings read from the configuration, refreshed when CONFIG SET changes
/// it (one atomic load per read to notice).
struct Settings {
    config_version: u64,
    query_limit: u64,
    output_limit: OutputLimit,
}

impl Connection {
    fn new(node: Arc<NodeState>, stream: TcpStream, handle: Arc<ClientHandle>) -> Connection {
        let (authenticated, protected) = {
            let config = node.config.read();
            // Only a cluster node serves such a client at all (server.rs),
            // and only for the peer handshake.
            let protected = crate::server::protected_mode_refuses(&config, handle.peer.ip());
            (config.requirepass.is_none() && !protected, protected)
        };
        let session = Session {
            handle: handle.clone(),
            authenticated,
            resp3: false,
            commands: 0,
            peer: false,
            protected,
            peer_challenge: None,
            readonly: false,
            last_write: None,
            auth_failures: 0,
        };
        let mut connection = Connection {
            cluster: node.cluster.get().cloned(),
            requests: Requests {
                parser: RequestParser::new(Limits::default()),
                input: Vec::with_capacity(BUFFER_SIZE),
                authenticated,
            },
            replies: Replies {
                output: BytesMut::with_capacity(BUFFER_SIZE),
                segments: Vec::new(),
            },
            settings: Settings {
                config_version: u64::MAX,
                query_limit: 0,
                output_limit: OutputLimit::default(),
            },
            node,
            stream,
            handle,
            session,
        };
        connection.refresh_settings();
        connection
    }

    /// Reads and answers batches of requests until the connection ends.
    async fn run(&mut self) -> Ended {
        let ended = loop {
            if let Err(ended) = self.read().await {
                break ended;
            }
            self.refresh_settings();
            let batch = self.run_batch().await;
            self.handle
                .query_buffer
                .store(self.requests.input.len() as u64, Ordering::Relaxed);
            self.handle
                .last_active_ms
                .store(unix_ms(), Ordering::Relaxed);
            self.count_commands();
            match batch {
                Ok(()) => {}
                Err(Ended::Closing) => {
                    let _ = self.flush().await;
                    break Ended::Closing;
                }
                Err(ended) => break ended,
            }
            if let Err(ended) = self.flush().await {
                break ended;
            }
            self.shrink_buffers();
        };
        self.count_commands();
        self.node.clients.unregister(self.handle.id);
        ended
    }

    /// Step 1: reads what the client sent into the input buffer.
    async fn read(&mut self) -> Result<(), Ended> {
        let input = &mut self.requests.input;
        if input.capacity() - input.len() < 4096 {
            let hint = self.requests.parser.bulk_hint().min(SHRINK_ABOVE);
            input.reserve(BUFFER_SIZE.max(hint));
        }
        let handle = &self.handle;
        let read = tokio::select! {
            biased;
            () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
            r = socket::recv(&self.stream, input) => r,
        };
        match read {
            Ok(0) | Err(_) => Err(Ended::Gone),
            Ok(n) => {
                ServerStats::add(&self.node.stats.net_input_bytes, n as u64);
                Ok(())
            }
        }
    }

    /// CONFIG SET applies to connected clients too, as in Redis, from the
    /// requests read after it (the idle timeout is enforced by the
    /// maintenance thread).
    fn refresh_settings(&mut self) {
        let version = self.node.config_version.load(Ordering::Acquire);
        if version == self.settings.config_version {
            return;
        }
        self.settings.config_version = version;
        let config = self.node.config.read();
        self.settings.query_limit = config.client_query_buffer_limit;
        self.settings.output_limit = config.client_output_buffer_limit.normal;
        drop(config);
        self.set_parser_limits();
    }

    /// Gives the parser the limits of the session's authentication state
    /// when it changed (AUTH, RESET).
    fn match_auth_limits(&mut self) {
        if self.requests.authenticated != self.session.authenticated {
            self.set_parser_limits();
        }
    }

    /// The configured limits, or Redis's tighter ones before AUTH.
    fn set_parser_limits(&mut self) {
        self.requests.authenticated = self.session.authenticated;
        let limits = Limits {
            unauthenticated: !self.session.authenticated,
            ..self.node.limits()
        };
        self.requests.parser.set_limits(limits);
    }

    /// Steps 2 and 3: parses every complete request in the input and runs
    /// each, writing out early when replies pile up.
    async fn run_batch(&mut self) -> Result<(), Ended> {
        let mut start = 0;
        let result = loop {
            let requests = &mut self.requests;
            match requests.parser.parse(&requests.input[start..]) {
                Ok(Some(consumed)) => {
                    let args = requests.parser.args(&requests.input[start..]);
                    let after = run_request(
                        &self.node,
                        self.cluster.as_ref(),
                        &mut self.session,
                        &mut self.replies,
                        args,
                    );
                    start += consumed;
                    if after == After::Close {
                        break Err(Ended::Closing);
                    }
                    self.match_auth_limits();
                    if self.replies.output.len() >= FLUSH_AT
                        || self.replies.segments.len() >= MAX_WAITING
                    {
                        if let Err(ended) = self.flush().await {
                            break Err(ended);
                        }
                    }
                }
                Ok(None) => {
                    let pending = requests.input.len() - start;
                    if pending as u64 > self.settings.query_limit {
                        debug!(client = %self.handle.peer, "query buffer limit reached");
                        break Err(Ended::Closing);
                    }
                    break Ok(());
                }
                Err(e) => {
                    debug!(client = %self.handle.peer, error = %e, "protocol error");
                    ServerStats::add(&self.node.stats.protocol_errors, 1);
                    Reply::new(&mut self.replies.output, self.session.resp3)
                        .error(&format!("ERR {e}"));
                    break Err(Ended::Closing);
                }
            }
        };
        self.requests.input.drain(..start);
        result
    }

    /// Step 4: writes the replies in request order (waiting for those not
    /// yet known), small ones joined into one write, within the output
    /// buffer limits.
    async fn flush(&mut self) -> Result<(), Ended> {
        let pieces = self.resolve_segments().await?;
        let output = &mut self.replies.output;
        let total = pieces.iter().map(Bytes::len).sum::<usize>() + output.len();
        if total == 0 {
            return Ok(());
        }
        let limit = self.settings.output_limit;
        let mut result = if limit.hard > 0 && total as u64 > limit.hard {
            Err(Ended::OutputLimit)
        } else {
            Ok(())
        };
        for piece in pieces.iter().map(|p| &p[..]).chain([&output[..]]) {
            if result.is_ok() && !piece.is_empty() {
                result = send(&self.stream, piece, total, &self.handle, limit).await;
            }
        }
        match result {
            Ok(()) => {
                ServerStats::add(&self.node.stats.net_output_bytes, total as u64);
                output.clear();
                Ok(())
            }
            Err(Ended::OutputLimit) => {
                ServerStats::add(&self.node.stats.output_limit_disconnects, 1);
                if let Some(more) = OUTPUT_LIMIT_LOG.allow() {
                    warn!(
                        client = %self.handle.peer,
                        waiting = total,
                        suppressed = more,
                        "closing a client over its output buffer limits (client-output-buffer-limit)"
                    );
                }
                Err(Ended::OutputLimit)
            }
            Err(ended) => Err(ended),
        }
    }

    /// Waits for the deferred replies in request order; returns the replies
    /// before `output`, small ones joined (one write for a pipeline of
    /// forwarded requests) and large ones as they are (no copy of a large
    /// KEYS reply).
    async fn resolve_segments(&mut self) -> Result<Vec<Bytes>, Ended> {
        let replies = &mut self.replies;
        let mut pieces = Vec::new();
        if replies.segments.is_empty() {
            return Ok(pieces);
        }
        let mut small = BytesMut::new();
        for segment in replies.segments.drain(..) {
            let bytes = match segment {
                Segment::Ready(bytes) => bytes,
                Segment::Waiting(reply) => {
                    let handle = &self.handle;
                    tokio::select! {
                        biased;
                        () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
                        bytes = reply => bytes,
                    }
                }
            };
            if bytes.len() < DIRECT_WRITE {
                small.extend_from_slice(&bytes);
            } else {
                if !small.is_empty() {
                    pieces.push(small.split().freeze());
                }
                pieces.push(bytes);
            }
        }
        if replies.output.len() < DIRECT_WRITE {
            small.extend_from_slice(&replies.output);
            replies.output.clear();
        }
        if !small.is_empty() {
            pieces.push(small.freeze());
        }
        Ok(pieces)
    }

    fn count_commands(&mut self) {
        let ran = std::mem::take(&mut self.session.commands);
        ServerStats::add(&self.node.stats.commands_processed, ran);
    }

    fn shrink_buffers(&mut self) {
        let input = &mut self.requests.input;
        if input.is_empty() && input.capacity() > SHRINK_ABOVE {
            *input = Vec::with_capacity(BUFFER_SIZE);
        }
        if self.replies.output.capacity() > SHRINK_ABOVE {
            self.replies.output = BytesMut::with_capacity(BUFFER_SIZE);
        }
    }
}

/// Runs one request: the cross-protocol guard, then the command here or
/// through the cluster layer. A reply not known yet joins the ordered
/// segments.
fn run_request(
    node: &Arc<NodeState>,
    cluster: Option<&Arc<Cluster>>,
    session: &mut Session,
    replies: &mut Replies,
    args: Args<'_>,
) -> After {
    if args.is_empty() {
        return After::Continue;
    }
    if is_cross_protocol(args.get(0)) {
        ServerStats::add(&node.stats.cross_protocol_rejections, 1);
        if let Some(more) = CROSS_PROTOCOL_LOG.allow() {
            warn!(
                client = %session.handle.peer,
                suppressed = more,
                "possible security attack: a client sent POST or Host: (cross-protocol scripting); connection closed"
            );
        }
        return After::Close;
    }
    let (after, deferred) = match cluster {
        None => {
            let mut ctx = Ctx {
                node,
                reply: Reply::new(&mut replies.output, session.resp3),
                session,
                after: After::Continue,
                deferred: None,
            };
            commands::execute(&mut ctx, args);
            (ctx.after, ctx.deferred)
        }
        Some(cluster) => {
            let mut after = After::Continue;
            let deferred = dispatch::run(
                node,
                cluster,
                session,
                &mut replies.output,
                args,
                &mut after,
            );
            (after, deferred)
        }
    };
    if let Some(deferred) = deferred {
        if !replies.output.is_empty() {
            replies
                .segments
                .push(Segment::Ready(replies.output.split().freeze()));
        }
        replies.segments.push(Segment::Waiting(deferred));
    }
    after
}

/// An HTTP request line or header sent to the node: Redis treats `POST`
/// and `Host:` as an attack (a web page making a browser talk to the cache)
/// and closes the connection without running anything more.
fn is_cross_protocol(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

/// Sends `bytes`, waiting while the client does not read, until it is
/// killed or stays over the soft output limit longer than allowed. The
/// limit is compared with `held`, all the replies of the write: they stay
/// allocated until the last byte is written, so that is what the client
/// makes the node hold.
async fn send(
    stream: &TcpStream,
    mut bytes: &[u8],
    held: usize,
    handle: &ClientHandle,
    limit: OutputLimit,
) -> Result<(), Ended> {
    let held = held as u64;
    let mut over_soft_since: Option<Instant> = None;
    let mut waited = false;
    loop {
        match socket::try_send(stream, bytes) {
            Ok(Some(n)) => {
                bytes = &bytes[n..];
                if waited {
                    // A client that reads slowly is not idle.
                    handle.last_active_ms.store(unix_ms(), Ordering::Relaxed);
                }
                if bytes.is_empty() {
                    return Ok(());
                }
                continue;
            }
            Ok(None) => {}
            Err(_) => return Err(Ended::Gone),
        }
        waited = true;
        let over_soft = limit.soft > 0 && held > limit.soft;
        let deadline = if over_soft {
            let since = *over_soft_since.get_or_insert_with(Instant::now);
            Some(since + Duration::from_secs(limit.soft_seconds))
        } else {
            over_soft_since = None;
            None
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Ended::OutputLimit);
        }
        let soft_timer = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
            ready = stream.writable() => {
                if ready.is_err() {
                    return Err(Ended::Gone);
                }
            }
            () = soft_timer => return Err(Ended::OutputLimit),
        }
    }
}
