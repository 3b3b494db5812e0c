//! The way of a request, for one client connection, top to bottom:
//!
//! 1. **read** what the client sent ([`Connection::read`]);
//! 2. **parse** every complete request in the buffer
//!    ([`Connection::run_batch`]);
//! 3. **session checks**: the cross-protocol guard, the command's name as
//!    this session may see it, protected mode, arity, authentication
//!    ([`run_request`]);
//! 4. **route**: here, or at the key's owner, split across owners, or
//!    redirected ([`cluster::Link::route`](crate::cluster::Link::route));
//! 5. **execute** here: the memory bound, the handler, its statistics
//!    ([`commands::run`]);
//! 6. **effects**: a write shipped to its replicas, its reply held for the
//!    write quorum ([`cluster::Link::after_write`](crate::cluster::Link::after_write));
//! 7. **reply**: the batch's replies in request order with one write
//!    (pipelining costs one read and one write per batch, not per command),
//!    within the client's output buffer limits ([`replies`]), once the
//!    other connections ready in the same pass of the runtime have run
//!    theirs ([`Connection::let_others_run`]).
//!
//! A blocking command that finds nothing to serve parks the client
//! ([`parked`]): the replies before it are written, nothing after it runs
//! until it is woken (then it runs again, from step 3), times out, or is
//! unblocked.
//!
//! A reply error keeps the connection; a protocol error gets
//! `-ERR Protocol error: ...` and closes this connection only. What ends a
//! connection: the client closing, a protocol error, QUIT, CLIENT KILL, the
//! idle timeout, shutdown, the query or output buffer limits, too many
//! failed AUTH attempts, and an HTTP request (`POST`, `Host:`).

mod admission;
mod held;
mod parked;
mod replies;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tracing::debug;

use crate::blocking::Block;
use crate::clients::ClientHandle;
use crate::cluster::{effects, Link, Route};
use crate::commands::{
    self, pubsub, transactions, After, ClusterPort, CommandSpec, Ctx, Deferred, Flags, Session,
};
use crate::config::OutputLimit;
use crate::node::Node;
use crate::protocol::{Args, Limits, Reply, RequestParser};
use crate::state::NodeState;
use crate::stats::ServerStats;
use crate::store::unix_ms;
use crate::stream::ClientStream;
use admission::{admit, is_cross_protocol, refuse_cross_protocol, refuse_unknown};
use held::Held;
use parked::Parked;
use replies::{Outlet, Replies};

/// Initial size of the read and write buffers.
const BUFFER_SIZE: usize = 16 * 1024;
/// Replies beyond this are written out before more requests run, so one
/// pipeline cannot grow the output buffer without bound.
const FLUSH_AT: usize = 256 * 1024;
/// Replies waiting on peers before the connection stops reading more
/// requests and writes what it has (bounds memory per connection).
const MAX_WAITING: usize = 2048;
/// Requests of a pipeline whose keys are prefetched before it runs.
const PREFETCH_AHEAD: usize = 32;
/// Whether the processor takes prefetch hints (`store/prefetch.rs`);
/// elsewhere the scouting would be pure cost.
const PREFETCHES: bool = cfg!(target_arch = "x86_64");
/// Buffers grown past this are given back once empty.
const SHRINK_ABOVE: usize = 1024 * 1024;

/// Why a connection ends before the client leaves on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The client closed, or the socket failed.
    Gone,
    /// The node closes it after writing the replies so far: QUIT, a
    /// protocol error, the query buffer limit, too many failed AUTH
    /// attempts, an HTTP request, protected mode.
    Closing,
    /// CLIENT KILL, the idle timeout or shutdown.
    Killed,
    /// Replies piled up past the output buffer limits.
    OutputLimit,
}

/// Serves `stream` until the client leaves or the connection is ended (see
/// the module docs).
pub async fn serve(node: Node, stream: ClientStream, handle: Arc<ClientHandle>) {
    let _ = stream.tcp().set_nodelay(true);
    let mut connection = Connection::new(node, stream, handle);
    let ended = connection.run().await;
    debug!(client = %connection.handle.peer, ?ended, "connection closed");
    // Ends our side at once (no wait, even for a client that never reads).
    connection.stream.shutdown().await;
    if ended == Ended::Closing {
        linger(&mut connection.stream).await;
    }
}

/// After the node closes a connection on purpose (QUIT, a protocol error),
/// reads and drops what the client still sends, for a short while: closing
/// a socket with unread input makes the kernel reset the connection, and a
/// reset can make the client lose the replies written just before it (the
/// reply to QUIT, the protocol error). Bounded in bytes and time.
async fn linger(stream: &mut ClientStream) {
    const LINGER_BYTES: usize = 1 << 20;
    const LINGER_TIME: std::time::Duration = std::time::Duration::from_millis(500);
    let mut sink = Vec::with_capacity(16 * 1024);
    let mut dropped = 0;
    let drain = async {
        while dropped < LINGER_BYTES {
            sink.clear();
            match stream.recv(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => dropped += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// A connection's state across batches.
struct Connection {
    node: Arc<NodeState>,
    /// The cluster's side of this connection, on a cluster node.
    link: Option<Link>,
    stream: ClientStream,
    handle: Arc<ClientHandle>,
    session: Session,
    requests: Requests,
    replies: Replies,
    settings: Settings,
    /// The blocking command this client waits on, if any.
    parked: Option<Parked>,
    /// The first request in the input is the parked one, to run again.
    rerun: bool,
    /// The first request in the input is held by CLIENT PAUSE.
    held: Option<Held>,
}

/// What the connection does after one request.
enum Step {
    /// The next request.
    Next,
    /// Write the replies so far, then close.
    Close,
    /// Park the client on the request's keys.
    Block(Block),
    /// A blocking request went to its keys' owner: hold the client until
    /// its answer (it may say "would block").
    Forwarded(Deferred),
    /// A script runs: wait for its reply (nothing after it runs
    /// meanwhile), then ship the keys it wrote; its reply goes at `start`
    /// of the output.
    Script(commands::Awaiting),
    /// CLIENT PAUSE holds the request: wait, then run it again.
    Held(Held),
}

/// The read buffer and the parser working through it.
struct Requests {
    parser: RequestParser,
    /// Reads ahead of `parser` for the keys to prefetch (`prefetch_keys`),
    /// with the same limits; kept to reuse its buffers.
    scout: RequestParser,
    /// Bytes read and not yet consumed; requests not yet run start at the
    /// batch's `start`, the consumed prefix is cut once per read.
    input: Vec<u8>,
    /// Whether `parser` has the limits of an authenticated client.
    authenticated: bool,
}

/// Settings read from the configuration, refreshed when CONFIG SET changes
/// it (one atomic load per read to notice).
struct Settings {
    config_version: u64,
    query_limit: u64,
    output_limit: OutputLimit,
}

impl Requests {
    /// Room for the next read: a buffer nearly full grows (once for the
    /// whole of a large bulk string whose length is known).
    fn make_room(&mut self) {
        let input = &mut self.input;
        if input.capacity() - input.len() < 4096 {
            let hint = self.parser.bulk_hint().min(SHRINK_ABOVE);
            input.reserve(BUFFER_SIZE.max(hint));
        }
    }
}

impl Connection {
    fn new(served: Node, stream: ClientStream, handle: Arc<ClientHandle>) -> Connection {
        let node = served.state;
        // Only a cluster node serves such a client at all (server.rs),
        // and only for the peer handshake.
        let protected = node.config.read().protected_mode_refuses(handle.peer.ip());
        let mut session = Session::new(handle.clone(), false, protected);
        commands::default_auth(&node, &mut session);
        let authenticated = session.authenticated;
        let mut connection = Connection {
            link: served
                .cluster
                .map(|cluster| Link::new(node.clone(), cluster, stream.has_client_certificate())),
            session,
            requests: Requests {
                parser: RequestParser::new(Limits::default()),
                scout: RequestParser::new(Limits::default()),
                input: Vec::with_capacity(BUFFER_SIZE),
                authenticated,
            },
            replies: Replies::with_capacity(BUFFER_SIZE),
            settings: Settings {
                config_version: u64::MAX,
                query_limit: 0,
                output_limit: OutputLimit::default(),
            },
            parked: None,
            rerun: false,
            held: None,
            node,
            stream,
            handle,
        };
        connection.refresh_settings();
        connection
    }

    /// Reads and answers batches of requests until the connection ends.
    async fn run(&mut self) -> Ended {
        let ended = loop {
            let waited = if self.parked.is_some() {
                self.wait_parked().await
            } else if let Some(held) = self.held.take() {
                self.wait_held(held).await
            } else {
                self.read().await
            };
            if let Err(ended) = waited {
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
            self.take_pushes();
            self.let_others_run().await;
            if let Err(ended) = self.flush().await {
                break ended;
            }
            self.shrink_buffers();
        };
        self.count_commands();
        self.unpark();
        self.node.tracking.disable(&self.handle);
        self.release_pause_ticket();
        commands::monitoring::stop(&self.node, &mut self.session);
        self.node.clients.unregister(self.handle.id);
        ended
    }

    /// Step 1: reads what the client sent into the input buffer.
    async fn read(&mut self) -> Result<(), Ended> {
        self.requests.make_room();
        let handle = &self.handle;
        let feed = self.session.monitor.clone();
        let monitor_lines = async {
            match &feed {
                Some(feed) => feed.ready.notified().await,
                None => std::future::pending().await,
            }
        };
        let read = tokio::select! {
            biased;
            () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
            // Pub/Sub messages, tracking invalidations, MONITOR lines:
            // written out by the batch step's end.
            () = std::future::poll_fn(|cx| handle.poll_pushes(cx)) => return Ok(()),
            () = monitor_lines => return Ok(()),
            r = self.stream.recv(&mut self.requests.input) => r,
        };
        self.count_read(read)
    }

    /// Adds what waits for this client (Pub/Sub messages, tracking
    /// invalidations, MONITOR lines) to its replies: an atomic load each
    /// when there is nothing. While replies are off (CLIENT REPLY), MONITOR
    /// lines and RESP2 messages are dropped too.
    fn take_pushes(&mut self) {
        let off = self.session.reply_mode.off();
        let mut dropped = bytes::BytesMut::new();
        if let Some(feed) = &self.session.monitor {
            feed.drain_into(if off {
                &mut dropped
            } else {
                &mut self.replies.output
            });
        }
        if self.handle.inbox.is_empty() {
            return;
        }
        let subscribed = self.session.subscriptions.as_ref().is_some_and(|s| s.any());
        let out = if off && !self.session.resp3 {
            &mut dropped
        } else {
            &mut self.replies.output
        };
        let mut reply = Reply::new(out, self.session.resp3);
        pubsub::write_pushes(&self.handle.inbox, &mut reply, subscribed);
    }

    /// Counts what a read brought; a closed or failed socket ends the
    /// connection.
    fn count_read(&self, read: std::io::Result<usize>) -> Result<(), Ended> {
        match read {
            Ok(0) | Err(_) => Err(Ended::Gone),
            Ok(n) => {
                ServerStats::add(&self.node.stats.net_input_bytes, n as u64);
                Ok(())
            }
        }
    }

    /// Step 2: parses every complete request in the input and runs each
    /// (steps 3 to 6), writing out early when replies pile up.
    async fn run_batch(&mut self) -> Result<(), Ended> {
        let mut start = 0;
        // The input before this has had its keys prefetched.
        let mut prefetched = 0;
        let result = loop {
            // What arrived while the requests before ran goes before the
            // next reply (an invalidation before the read that follows the
            // write).
            self.take_pushes();
            let requests = &mut self.requests;
            match requests.parser.parse(&requests.input[start..]) {
                Ok(Some(consumed)) => {
                    if PREFETCHES
                        && start >= prefetched
                        && start + consumed < requests.input.len()
                        && self.session.authenticated
                    {
                        let input = &requests.input[start..];
                        let scout = &mut requests.scout;
                        prefetched = start + prefetch_keys(&self.node, &self.session, scout, input);
                    }
                    let args = requests.parser.args(&requests.input[start..]);
                    let rerun = std::mem::take(&mut self.rerun);
                    // CLIENT REPLY OFF or SKIP: this request's replies are
                    // taken back once it ran.
                    let muted = self
                        .session
                        .reply_mode
                        .suppressing()
                        .then(|| self.replies.seal());
                    let step = run_request(
                        &self.node,
                        self.link.as_mut(),
                        &mut self.session,
                        &mut self.replies,
                        args,
                    );
                    if let Step::Held(held) = step {
                        self.rerun = rerun;
                        self.held = Some(held);
                        break Ok(());
                    }
                    commands::after_request(&self.session, args);
                    self.release_pause_ticket();
                    self.session.woken = false;
                    let close = matches!(step, Step::Close);
                    // A parking request stays at the front of the input,
                    // to run again when the client is woken.
                    match step {
                        Step::Block(block) => {
                            self.park(block, consumed);
                            break Ok(());
                        }
                        Step::Forwarded(answer) => {
                            self.park_forwarded(answer, consumed);
                            break Ok(());
                        }
                        Step::Script(run) => self.finish_script(run).await,
                        Step::Held(_) => {}
                        _ if rerun => self.unpark(),
                        _ => {}
                    }
                    if let Some(mark) = muted.filter(|_| self.session.reply_mode.suppressing()) {
                        self.replies.drop_since(mark);
                    }
                    self.session.reply_mode.next_request();
                    start += consumed;
                    if close {
                        break Err(Ended::Closing);
                    }
                    self.match_auth_limits();
                    if self.replies.output.len() >= FLUSH_AT
                        || self.replies.waiting() >= MAX_WAITING
                    {
                        if let Err(ended) = self.flush().await {
                            break Err(ended);
                        }
                    }
                }
                Ok(None) => break self.incomplete(start),
                Err(e) => break Err(self.protocol_error(&e)),
            }
        };
        self.requests.input.drain(..start);
        result
    }

    /// The input ends with part of a request: wait for the rest, unless
    /// it is already over the query buffer limit.
    fn incomplete(&self, start: usize) -> Result<(), Ended> {
        let pending = self.requests.input.len() - start;
        if pending as u64 > self.settings.query_limit {
            debug!(client = %self.handle.peer, "query buffer limit reached");
            return Err(Ended::Closing);
        }
        Ok(())
    }

    /// A request that is not RESP: answered with the error, then the
    /// connection closes (the rest of its input cannot be framed).
    fn protocol_error(&mut self, error: &dyn std::fmt::Display) -> Ended {
        debug!(client = %self.handle.peer, %error, "protocol error");
        ServerStats::add(&self.node.stats.protocol_errors, 1);
        Reply::new(&mut self.replies.output, self.session.resp3).error(&format!("ERR {error}"));
        Ended::Closing
    }

    /// Waits for a script (step 5), then its effects (step 6): the thread
    /// that ran it shipped the keys it wrote to their replicas (as the
    /// commands it called when it ran armed and they can be replayed, see
    /// `commands::ScriptReplication`); its reply waits for the write quorum.
    async fn finish_script(&mut self, run: commands::Awaiting) {
        let done = run.await;
        let start = self.replies.output.len();
        self.replies.output.extend_from_slice(&done.reply);
        if let Some(link) = self.link.as_mut() {
            let held =
                link.after_script(&done.written, done.verdict, &mut self.replies.output, start);
            self.replies.defer(held);
        }
    }

    /// Before step 7: lets every other connection that is ready run its
    /// batch first, so the replies of one pass of the runtime go out
    /// together, as Redis writes its replies just before it sleeps. A reply
    /// sent as soon as its batch ran finds the client asleep and pays for
    /// waking it; sent together, the first reply wakes it and the others
    /// find it running. Under `redis-benchmark -t zadd -P 16 -c 50` the
    /// client slept 60 times per 1,000 requests against 2.5 against Redis,
    /// and waking it (`sock_def_readable`) was 19% of the node's time; with
    /// this, 3.5 per 1,000 (see BENCHMARKS.md). Replies that fill the write
    /// buffer go at once: a client reading that much is busy with it
    /// anyway, and holding them back only leaves it idle (`LRANGE_300` at
    /// pipeline 16 lost 8% when they waited).
    async fn let_others_run(&mut self) {
        if self.replies.has_output() && self.replies.len() < BUFFER_SIZE {
            behind_the_ready().await;
        }
    }

    /// Step 7: writes the batch's replies.
    async fn flush(&mut self) -> Result<(), Ended> {
        let mut outlet = Outlet {
            stream: &mut self.stream,
            handle: &self.handle,
            limit: self.settings.output_limit,
            stats: &self.node.stats,
        };
        self.replies.flush(&mut outlet).await
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
        self.requests.scout.set_limits(limits);
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
            self.replies.output = bytes::BytesMut::with_capacity(BUFFER_SIZE);
        }
    }
}

/// Steps 3 to 6 for one request. Its reply goes to `replies`, now or
/// later (in request order).
fn run_request(
    node: &Arc<NodeState>,
    mut link: Option<&mut Link>,
    session: &mut Session,
    replies: &mut Replies,
    args: Args<'_>,
) -> Step {
    // 3. Session checks.
    if args.is_empty() {
        return Step::Next;
    }
    if is_cross_protocol(args.get(0)) {
        return step(refuse_cross_protocol(node, session));
    }
    let Some((index, spec)) = commands::find(session, args.get(0)) else {
        return refuse_unknown(node, session, replies, args);
    };
    if let Some(refused) = admit(node, session, replies, (index, spec), args) {
        return refused;
    }
    if let Some(held) = held::check(node, session, spec, args) {
        return Step::Held(held);
    }
    if held_back(node, link.as_deref(), session, spec, args, replies) {
        return Step::Next;
    }
    // 4. Route.
    if let Some(link) = link.as_deref_mut() {
        let route = link.route(session, spec, args);
        if !matches!(route, Route::Local) {
            let first = commands::monitoring::shown_first(spec);
            commands::monitoring::show(node, session, session.db, spec, args, false, first);
            let blocking = spec.has(Flags::BLOCKING) && matches!(route, Route::Forward(_));
            let deferred = link.dispatch(route, session, spec, &mut replies.output, args);
            return match (blocking, deferred) {
                (true, Some(answer)) => Step::Forwarded(answer),
                (_, deferred) => {
                    replies.defer(deferred);
                    Step::Next
                }
            };
        }
    }
    // 5. Execute here.
    let start = replies.output.len();
    let armed = link.as_deref().and_then(|l| l.arm_effect(spec, args));
    let port = link.as_deref_mut().map(|l| l as &mut dyn ClusterPort);
    let resp3 = session.resp3;
    let mut ctx = Ctx::new(node, session, Reply::new(&mut replies.output, resp3), port);
    let outcome = commands::run(&mut ctx, index, spec, args);
    let (after, mut deferred) = (ctx.after, ctx.deferred.take());
    if let Some(block) = ctx.block.take() {
        return Step::Block(block);
    }
    if let Some(run) = ctx.awaiting.take() {
        return Step::Script(run);
    }
    let written = std::mem::take(&mut ctx.written);
    let (rewrite, replayed) = (ctx.rewrite.take(), ctx.replayed.take());
    // 6. Effects.
    if let (Some(link), None) = (link, &deferred) {
        let keys = commands::written_keys(spec, args, outcome, &written);
        let replayed = replayed.as_deref();
        let effect = armed.and_then(|_| effects::taken(args, rewrite.as_ref(), replayed));
        deferred = link.after_write(keys, effect, &mut replies.output, start);
    }
    replies.defer(deferred);
    step(after)
}

/// The last session checks: RESP2's subscribed mode (only the Pub/Sub
/// commands, PING, QUIT, RESET) and MULTI (the command is queued, not run;
/// on a cluster node its keys must fit the transaction's slot). True when
/// the request was answered here.
fn held_back(
    node: &NodeState,
    link: Option<&Link>,
    session: &mut Session,
    spec: &CommandSpec,
    args: Args<'_>,
    replies: &mut Replies,
) -> bool {
    if !session.resp3
        && session.subscriptions.as_ref().is_some_and(|s| s.any())
        && !pubsub::allowed_while_subscribed(spec)
    {
        let error = pubsub::refused_while_subscribed(args.get(0));
        node.error_stats.count(error.as_bytes());
        Reply::new(&mut replies.output, false).error(&error);
        return true;
    }
    if !transactions::queueing(session, spec) {
        return false;
    }
    if let Some(Err(error)) = link.map(|l| l.check_queued(session, spec, args)) {
        transactions::fail_queueing(session);
        node.error_stats.count(error.as_bytes());
        Reply::new(&mut replies.output, session.resp3).error(&error);
        return true;
    }
    transactions::queue(node, session, spec, args, &mut replies.output);
    true
}

/// Before the requests of a pipeline run: starts loading the table memory
/// of the first key of each of the [`PREFETCH_AHEAD`] requests at the
/// start of `input` (the one about to run and those after it), read with
/// `scout`, a parser of their own ([`crate::store::Store::prefetch`]), so
/// that their probes' cache misses overlap rather than come one after
/// another. Returns the bytes of `input` those requests span.
fn prefetch_keys(
    node: &NodeState,
    session: &Session,
    scout: &mut RequestParser,
    input: &[u8],
) -> usize {
    let store = node.database(session.db, session.no_touch);
    // The last scouting may have stopped inside a request.
    scout.reset();
    let mut at = 0;
    let mut located = [(0, 0); PREFETCH_AHEAD];
    let mut count = 0;
    for _ in 0..PREFETCH_AHEAD {
        let Ok(Some(consumed)) = scout.parse(&input[at..]) else {
            break;
        };
        let args = scout.args(&input[at..]);
        if let Some(key) = args
            .try_get(0)
            .and_then(|name| first_key(session, name, args))
        {
            located[count] = store.prefetch(key);
            count += 1;
        }
        at += consumed;
    }
    // The slots have had the first pass's time to arrive: the entries
    // they point to next.
    for &key in &located[..count] {
        store.prefetch_entry(key);
    }
    at
}

/// The first key of a request whose keys are at fixed positions.
fn first_key<'a>(session: &Session, name: &[u8], args: Args<'a>) -> Option<&'a [u8]> {
    let (_, spec) = commands::find(session, name)?;
    args.try_get(spec.keys.first_fixed()?)
}

/// Puts the task behind the tasks ready now and returns when it is run
/// again. Not `tokio::task::yield_now`: that one waits for the runtime's
/// next poll of its sockets as well, an `epoll_wait` more per batch (1.3
/// per request instead of 0.7 at pipeline 1, measured with `perf stat`).
/// Waking itself once cannot starve the runtime's poll: the poll comes
/// when the ready tasks are done, and this task is one of them once only.
fn behind_the_ready() -> impl std::future::Future<Output = ()> {
    let mut queued = false;
    std::future::poll_fn(move |cx| {
        if queued {
            return std::task::Poll::Ready(());
        }
        queued = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
}

fn step(after: After) -> Step {
    match after {
        After::Continue => Step::Next,
        After::Close => Step::Close,
    }
}
