//! Command execution: one table that knows every command's name, arity,
//! flags and key positions, and the dispatcher that checks a request against
//! it (arity, authentication, memory) before calling the family's handler.
//!
//! Handlers write their reply through [`Ctx::reply`]; a bad argument gets an
//! error reply and the connection stays open.

pub mod args;
mod cluster;
mod connection;
mod expiry_args;
mod hashes;
mod keys;
mod latency;
mod server;
mod strings;
mod table;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::clients::ClientHandle;
use crate::protocol::reply::c_string;
use crate::protocol::{Args, Reply};
use crate::state::NodeState;
use crate::stats::ServerStats;
use crate::store::{unix_ms, Store};

pub use cluster::node_id;
pub use table::{listed, lookup, lookup_indexed, lookup_listed, CommandSpec, COMMANDS};

/// Flag: changes data.
pub const WRITE: u16 = 1;
/// Flag: only reads data.
pub const READONLY: u16 = 1 << 1;
/// Flag: may grow memory, so it is refused or evicts first under maxmemory.
pub const DENYOOM: u16 = 1 << 2;
/// Flag: administrative.
pub const ADMIN: u16 = 1 << 3;
/// Flag: O(1) or O(log n).
pub const FAST: u16 = 1 << 4;
/// Flag: allowed before AUTH.
pub const NO_AUTH: u16 = 1 << 5;
/// Flag: connection-level command.
pub const CONNECTION: u16 = 1 << 6;
/// Flag: the peer handshake (RCPEER): runs on any connection, before AUTH
/// and in protected mode, and is left out of COMMAND.
pub const HANDSHAKE: u16 = 1 << 7;
/// Flag: only cluster nodes send it: on any other connection it is refused
/// as an unknown command, and it is left out of COMMAND.
pub const PEER: u16 = 1 << 8;

/// A reply that is not known when its handler returns (a forwarded
/// request, a KEYS walk that yields between shards): the connection keeps it
/// in request order and writes it when it resolves.
pub type Deferred = Pin<Box<dyn Future<Output = Bytes> + Send>>;

/// Failed AUTH attempts after which a connection is closed, so a password
/// cannot be guessed at the speed of a pipeline.
pub const MAX_AUTH_FAILURES: u32 = 10;

/// What the connection must do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Keep reading.
    Continue,
    /// Write pending replies, then close (QUIT, CLIENT KILL of itself).
    Close,
}

/// Per-connection state that commands read and change.
#[derive(Debug)]
pub struct Session {
    /// The handle other tasks see.
    pub handle: Arc<ClientHandle>,
    /// AUTH succeeded, or no password is required.
    pub authenticated: bool,
    /// RESP3 after HELLO 3.
    pub resp3: bool,
    /// Commands run since the last flush to the shared counter.
    pub commands: u64,
    /// A link from another cluster node (it proved the cluster key): run
    /// requests here, never forward.
    pub peer: bool,
    /// A non-loopback client of a cluster node in protected mode: only the
    /// peer handshake may run.
    pub protected: bool,
    /// The peer handshake's state between its two steps.
    pub peer_challenge: Option<crate::cluster::peer_auth::Challenge>,
    /// READONLY: reads may be served by replicas.
    pub readonly: bool,
    /// Replica confirmations of this connection's last write (WAIT).
    pub last_write: Option<crate::cluster::dispatch::LastWrite>,
    /// Failed AUTH attempts on this connection.
    pub auth_failures: u32,
}

/// Everything a handler can reach.
pub struct Ctx<'a> {
    /// The node (an `Arc`, so a deferred reply can keep it).
    pub node: &'a Arc<NodeState>,
    /// The connection.
    pub session: &'a mut Session,
    /// Where the reply goes.
    pub reply: Reply<'a>,
    /// Set by QUIT and friends.
    pub after: After,
    /// Set by a handler whose reply comes later (see [`Deferred`]); what it
    /// wrote to `reply` before comes first.
    pub deferred: Option<Deferred>,
}

impl Ctx<'_> {
    /// The key space.
    #[inline]
    pub fn store(&self) -> &Store {
        &self.node.store
    }

    /// Replies with a HELP text, one simple string per line.
    pub fn help(&mut self, lines: &[&str]) {
        self.reply.array(lines.len());
        for line in lines {
            self.reply.simple(line);
        }
    }

    /// Redis's error for an unknown subcommand of `command` (upper case).
    pub fn unknown_subcommand(&mut self, sub: &[u8], command: &str) {
        self.fail(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {command} HELP.",
            String::from_utf8_lossy(sub)
        ));
    }

    /// Replies with an error and returns nothing, for `return ctx.fail(..)`.
    pub fn fail(&mut self, message: &str) {
        self.reply.error(message);
    }

    /// Makes `reply` this command's reply, written when it resolves.
    pub fn defer(&mut self, reply: impl Future<Output = Bytes> + Send + 'static) {
        self.deferred = Some(Box::pin(reply));
    }
}

/// The Redis error for an unknown command, quoting its name and first
/// arguments as Redis 7 does: bytes as they came, each cut at a NUL (C
/// strings), the name at 128 bytes, and arguments while the quoted list
/// is shorter than 128 bytes, the last one cut to what is left of them.
pub fn unknown_command(args: Args<'_>) -> Vec<u8> {
    let name = c_string(args.get(0));
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(&name[..name.len().min(128)]);
    text.extend_from_slice(b"', with args beginning with: ");
    let mut quoted: Vec<u8> = Vec::new();
    for arg in args.iter_from(1) {
        if quoted.len() >= 128 {
            break;
        }
        let arg = c_string(arg);
        let room = 128 - quoted.len();
        quoted.push(b'\'');
        quoted.extend_from_slice(&arg[..arg.len().min(room)]);
        quoted.extend_from_slice(b"' ");
    }
    text.extend_from_slice(&quoted);
    text
}

/// The Redis error for a wrong argument count.
pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// True if `arity` (Redis convention: n exact, -n at least n) admits `n`.
pub fn arity_ok(arity: i32, n: usize) -> bool {
    if arity >= 0 {
        n == arity as usize
    } else {
        n >= arity.unsigned_abs() as usize
    }
}

/// Runs one request: table lookup, checks, the handler, the slow log.
/// Returns the command's index in [`COMMANDS`], if it is one.
pub fn execute(ctx: &mut Ctx<'_>, args: Args<'_>) -> Option<usize> {
    // Commands only nodes send look absent on any other connection (not
    // even CLIENT LIST's last command shows them).
    let found =
        lookup_indexed(args.get(0)).filter(|(_, spec)| spec.flags & PEER == 0 || ctx.session.peer);
    let Some((index, spec)) = found else {
        if ctx.session.protected {
            cluster::deny_protected(ctx);
            return None;
        }
        ctx.reply.error_bytes(&unknown_command(args));
        return None;
    };
    ctx.session
        .handle
        .last_command
        .store(index as u64, std::sync::atomic::Ordering::Relaxed);
    run(ctx, index, spec, args);
    Some(index)
}

fn run(ctx: &mut Ctx<'_>, index: usize, spec: &CommandSpec, args: Args<'_>) {
    if ctx.session.protected && spec.flags & HANDSHAKE == 0 {
        return cluster::deny_protected(ctx);
    }
    if !arity_ok(spec.arity, args.len()) {
        return ctx.fail(&wrong_arity(spec.name));
    }
    if !ctx.session.authenticated && spec.flags & NO_AUTH == 0 {
        return ctx.fail(args::NOAUTH);
    }
    if spec.flags & DENYOOM != 0 && ctx.store().make_room().is_err() {
        return ctx.fail(args::OOM);
    }
    ctx.session.commands += 1;
    let started = Instant::now();
    call_handler(ctx, spec, args);
    let elapsed = started.elapsed();
    match ctx.deferred.take() {
        None => record_run(ctx.node, index, args, &ctx.session.handle, elapsed),
        Some(deferred) => {
            // Recorded when the reply is ready, with the time spent running
            // it (not the time it waited for its turns on the worker).
            let node = ctx.node.clone();
            let handle = ctx.session.handle.clone();
            let owned = OwnedArgs::copy(args);
            ctx.deferred = Some(Box::pin(Timed {
                inner: deferred,
                spent: elapsed,
                finish: Some(Box::new(move |spent| {
                    record_run(&node, index, owned.args(), &handle, spent);
                })),
            }));
        }
    }
}

/// Counts one run of command `index` that took `elapsed`: metrics, the
/// slow log, the latency monitor.
fn record_run(
    node: &NodeState,
    index: usize,
    args: Args<'_>,
    handle: &ClientHandle,
    elapsed: std::time::Duration,
) {
    node.command_metrics.record(index, elapsed.as_secs_f64());
    let micros = elapsed.as_micros() as i64;
    if node.slowlog.is_slow(micros) {
        node.slowlog.record(
            args,
            &|position| is_redacted(args, position),
            micros,
            (unix_ms() / 1000) as i64,
            handle.peer.to_string(),
            handle.name_text(),
        );
    }
    if node.latency.is_notable(micros as u64) {
        node.latency.record(
            "command",
            (unix_ms() / 1000) as i64,
            elapsed.as_millis() as u64,
        );
    }
}

/// A request's arguments copied out of the read buffer, for a deferred
/// reply that outlives it.
struct OwnedArgs {
    bytes: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl OwnedArgs {
    fn copy(args: Args<'_>) -> OwnedArgs {
        let mut bytes = Vec::new();
        let mut ranges = Vec::with_capacity(args.len());
        for arg in args.iter_from(0) {
            ranges.push((bytes.len(), bytes.len() + arg.len()));
            bytes.extend_from_slice(arg);
        }
        OwnedArgs { bytes, ranges }
    }

    fn args(&self) -> Args<'_> {
        Args::new(&self.bytes, &self.ranges)
    }
}

/// A deferred reply that adds up the time spent polling it and reports it
/// once, when the reply is ready.
struct Timed {
    inner: Deferred,
    spent: std::time::Duration,
    finish: Option<Box<dyn FnOnce(std::time::Duration) + Send>>,
}

impl Future for Timed {
    type Output = Bytes;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Bytes> {
        let started = Instant::now();
        let polled = self.inner.as_mut().poll(cx);
        self.spent += started.elapsed();
        if polled.is_ready() {
            if let Some(finish) = self.finish.take() {
                finish(self.spent);
            }
        }
        polled
    }
}

/// Runs the handler; a panic inside it costs this request only: what the
/// handler wrote is taken back, the client gets `-ERR internal error`, and
/// the node keeps serving. Shard locks are parking_lot's, which a panic
/// does not poison, and every handler leaves the store consistent between
/// its own calls into it.
fn call_handler(ctx: &mut Ctx<'_>, spec: &CommandSpec, args: Args<'_>) {
    let mark = ctx.reply.written();
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| (spec.handler)(ctx, args)));
    if ran.is_err() {
        ServerStats::add(&ctx.node.stats.command_panics, 1);
        tracing::error!(
            command = spec.name,
            "command handler panicked; request answered with an error"
        );
        ctx.reply.truncate(mark);
        ctx.deferred = None;
        ctx.fail("ERR internal error");
    }
}

/// Which arguments of a request never leave the node in clear (SLOWLOG,
/// logs): AUTH's, HELLO's AUTH pair, and the value of a sensitive CONFIG SET
/// parameter, as Redis redacts them.
pub fn is_redacted(args: Args<'_>, position: usize) -> bool {
    let name = args.get(0);
    if name.eq_ignore_ascii_case(b"auth") {
        return position >= 1;
    }
    if name.eq_ignore_ascii_case(b"hello") {
        return args.iter_from(0).enumerate().any(|(i, arg)| {
            arg.eq_ignore_ascii_case(b"auth") && i >= 2 && (i + 1..=i + 2).contains(&position)
        });
    }
    if name.eq_ignore_ascii_case(b"config") && position >= 3 && position % 2 == 1 {
        let is_set = args
            .try_get(1)
            .is_some_and(|sub| sub.eq_ignore_ascii_case(b"set"));
        let parameter = args.get(position - 1);
        return is_set && crate::config::is_sensitive(parameter);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::protocol::{Limits, RequestParser};
    use bytes::BytesMut;

    fn panics(ctx: &mut Ctx<'_>, _args: Args<'_>) {
        ctx.reply.array(2);
        ctx.reply.bulk(b"half a reply");
        panic!("a handler bug");
    }

    #[test]
    fn a_panicking_handler_costs_one_request() {
        let node = NodeState::new(Config::default());
        let addr = "127.0.0.1:1".parse().unwrap();
        let mut session = Session {
            handle: node.clients.register(addr, addr),
            authenticated: true,
            resp3: false,
            commands: 0,
            peer: false,
            protected: false,
            peer_challenge: None,
            readonly: false,
            last_write: None,
            auth_failures: 0,
        };
        let spec = table::CommandSpec {
            handler: panics,
            ..*lookup(b"ping").unwrap()
        };
        let request = b"*1\r\n$4\r\nPING\r\n";
        let mut parser = RequestParser::new(Limits::default());
        parser.parse(request).unwrap();
        let mut output = BytesMut::new();
        output.extend_from_slice(b"+earlier\r\n");
        let mut ctx = Ctx {
            node: &node,
            reply: Reply::new(&mut output, false),
            session: &mut session,
            after: After::Continue,
            deferred: None,
        };
        run(&mut ctx, 0, &spec, parser.args(request));
        assert_eq!(&output[..], b"+earlier\r\n-ERR internal error\r\n");
        assert_eq!(ServerStats::get(&node.stats.command_panics), 1);
    }
}
