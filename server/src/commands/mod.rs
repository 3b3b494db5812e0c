//! Commands: the table that describes every command ([`spec`], [`table`]),
//! the families' handlers (one file each, its section of the table at the
//! top), and the steps that run one request: find it, admit it (arity,
//! authentication, protected mode), run it (memory bound, the handler, its
//! statistics).
//!
//! A handler writes its reply through [`Ctx::reply`] and returns an
//! [`Outcome`]: what it changed, so replication and statistics never read
//! reply bytes; it raises its keyspace events as it runs (`events.rs`,
//! `Ctx::notify`). A bad argument gets an error reply ([`Ctx::fail`]) and
//! the connection stays open. The cluster's own commands reach the cluster
//! layer through [`ClusterPort`], which it implements: no dependency here.

mod acl;
pub mod acl_sync;
pub mod args;
mod bitfield;
mod bitmaps;
mod client_admin;
pub mod client_modes;
mod client_tracking;
mod cluster_port;
mod clustering;
mod command;
mod configuration;
mod databases;
mod effects;
mod events;
mod expiry_args;
mod functions;
mod hashes;
mod hyperloglog;
mod info;
mod introspection;
pub mod key_flags;
mod keyless;
mod keys;
mod latency;
mod lcs;
pub mod leases;
mod lists;
mod lists_blocking;
mod lists_multi;
mod memory_report;
pub mod monitoring;
mod owned_args;
pub mod pubsub;
mod scan_options;
mod script_host;
pub mod scripting;
mod server_admin;
mod session;
mod sets;
mod sorted_set_algebra;
mod sorted_set_args;
mod sorted_set_blocking;
mod sorted_set_pops;
mod sorted_set_ranges;
mod sorted_sets;
pub mod spec;
pub mod statistics;
mod strings;
pub mod subcommands;
mod table;
mod timed;
pub mod transactions;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::blocking::Block;
use crate::clients::ClientHandle;
use crate::notify::Classes;
use crate::protocol::reply::c_string;
use crate::protocol::{Args, Reply};
use crate::state::NodeState;
use crate::stats::ServerStats;
use crate::store::{unix_ms, CollectionType, CommandTime, SlotSet, Store, WrongType};

pub use cluster_port::{
    Asked, ClusterPort, KeylessRing, RingNode, ScriptReplication, Verdict, NOT_PRIMARY_HERE,
};
pub use clustering::{ClusterOp, DISABLED};
pub use effects::{after_request, tracked_positions, wake_written, written_keys};
pub use info::SECTIONS as INFO_SECTIONS;
pub(crate) use owned_args::OwnedArgs;
pub use script_host::{effective_flags, LocalKeys, ScriptDone, ScriptEffect};
pub use session::{default_auth, REDIS_COMPAT_VERSION};
pub use spec::{Categories, CommandSpec, Flags, KeySpec, Merge, Routing};
pub use subcommands::SubSpec;
pub use table::{commands, listed, lookup, lookup_indexed, lookup_listed};
use timed::Timed;

/// A reply that is not known when its handler returns (a forwarded
/// request, a KEYS walk that yields between shards): the connection keeps it
/// in request order and writes it when it resolves.
pub type Deferred = Pin<Box<dyn Future<Output = Bytes> + Send>>;
/// Completes when other nodes have run a request ([`ClusterPort::broadcast`]).
pub type Ran = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A script's run, when it ends (its reply, the keys it wrote, its
/// effect). The connection waits for it before its next request.
pub type Awaiting = Pin<Box<dyn Future<Output = script_host::ScriptDone> + Send>>;

/// How often a command waiting at the gate looks whether a script has run
/// past `busy-reply-threshold`.
const GATE_POLL: Duration = Duration::from_millis(10);

/// Failed AUTH attempts after which a connection is closed, so a password
/// cannot be guessed at the speed of a pipeline.
pub const MAX_AUTH_FAILURES: u32 = 10;

/// What a command changed in the key space.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing: a read, or a write whose condition did not hold.
    Unchanged,
    /// Refused with an error reply; nothing changed.
    Failed,
    /// The keys at the command's key positions changed (written, expired or
    /// deleted).
    Wrote,
    /// The key at this argument position changed, and no other.
    WroteKey(usize),
    /// The whole key space changed (FLUSHALL, FLUSHDB).
    Flushed,
    /// A transaction ran: the keys its commands wrote are in `Ctx::written`.
    Transaction,
}

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
    /// The ACL user its requests run as.
    pub user: Arc<crate::acl::User>,
    /// The ACL version `user` was read at: a newer one reads it again.
    pub acl_version: u64,
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
    /// Failed AUTH attempts on this connection.
    pub auth_failures: u32,
    /// The selected database (SELECT), below the node's `databases`.
    pub db: usize,
    /// The open MULTI, if any.
    pub multi: Option<transactions::Transaction>,
    /// The keys WATCHed for the next EXEC.
    pub watching: Option<crate::watches::WatchSet>,
    /// Pub/Sub subscriptions and the inbox their messages arrive in.
    pub subscriptions: Option<crate::pubsub::Subscriptions>,
    /// MONITOR's feed, while this client monitors.
    pub monitor: Option<Arc<crate::monitor::Feed>>,
    /// The place in line of a request held by CLIENT PAUSE.
    pub pause_ticket: Option<crate::pause::Ticket>,
    /// CLIENT REPLY.
    pub reply_mode: client_modes::ReplyMode,
    /// CLIENT NO-TOUCH: reads do not update the keys' LRU/LFU access.
    pub no_touch: bool,
    /// The request runs again after its blocked client was woken: a
    /// blocking command keeps its place and deadline, and waits on where
    /// a first run would fail (a key of another type).
    pub woken: bool,
}

impl Session {
    /// The state of a new connection.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool, protected: bool) -> Session {
        Session {
            handle,
            authenticated,
            user: crate::acl::unrestricted(),
            acl_version: 0,
            resp3: false,
            commands: 0,
            peer: false,
            db: 0,
            multi: None,
            watching: None,
            subscriptions: None,
            monitor: None,
            pause_ticket: None,
            reply_mode: client_modes::ReplyMode::default(),
            no_touch: false,
            protected,
            auth_failures: 0,
            woken: false,
        }
    }

    /// True when a blocking command may park this client (not a link from
    /// another node, which carries other clients' requests too).
    pub fn may_block(&self) -> bool {
        !self.peer
    }
}

/// Everything a handler can reach.
pub struct Ctx<'a> {
    /// The node (an `Arc`, so a deferred reply can keep it).
    pub node: &'a Arc<NodeState>,
    /// The key space the command runs against: the node's, or a scratch
    /// store holding copies of keys gathered from other nodes.
    pub store: &'a Store,
    /// The connection.
    pub session: &'a mut Session,
    /// Where the reply goes.
    pub reply: Reply<'a>,
    /// Set by QUIT and friends.
    pub after: After,
    /// Set by a handler whose reply comes later (see [`Deferred`]); what it
    /// wrote to `reply` before comes first.
    pub deferred: Option<Deferred>,
    /// The cluster layer, on a cluster node.
    pub cluster: Option<&'a mut dyn ClusterPort>,
    /// Inside EXEC: commands answer at once (no deferred reply) and do not
    /// pass the gate again.
    pub atomic: bool,
    /// The keys a transaction wrote ([`Outcome::Transaction`]).
    pub written: Vec<Vec<u8>>,
    /// Set by a blocking command that found nothing to serve: the
    /// connection parks the client (nothing is written to `reply`).
    pub block: Option<Block>,
    /// Set by EVAL and FCALL: the script's run, which the connection waits
    /// for (nothing is written to `reply`).
    pub awaiting: Option<Awaiting>,
    /// A command a script runs: the script checked memory when it started.
    pub script: bool,
    /// The command raised a keyspace event itself (its table row's
    /// default event is then not raised for it).
    pub notified: bool,
    /// With the `n` class on: the command's keys that did not exist before
    /// it ran; the first event about one of them is preceded by `new`.
    /// Made only when the `n` class is on, so other commands build no set.
    pub absent: Option<std::collections::HashSet<Vec<u8>>>,
    /// What a replica runs for this command's effect when it is not the
    /// command itself: a pop from the first non-empty of several keys
    /// (BLPOP, LMPOP, BZPOPMIN...) as the pop from the key it took, SPOP as
    /// the SREM of what it drew (`cluster::effects`).
    pub rewrite: Option<OwnedArgs>,
    /// An EXEC run armed for replication by effect: its commands as a
    /// replica replays them, or `None` when one of its writes cannot be.
    pub replayed: Option<Vec<OwnedArgs>>,
}

impl<'a> Ctx<'a> {
    /// A context for one request on a connection.
    pub fn new(
        node: &'a Arc<NodeState>,
        session: &'a mut Session,
        reply: Reply<'a>,
        cluster: Option<&'a mut dyn ClusterPort>,
    ) -> Ctx<'a> {
        Ctx {
            node,
            store: node.database(session.db, session.no_touch),
            session,
            reply,
            after: After::Continue,
            deferred: None,
            cluster,
            atomic: false,
            written: Vec::new(),
            block: None,
            awaiting: None,
            script: false,
            notified: false,
            absent: None,
            rewrite: None,
            replayed: None,
        }
    }

    /// Replies with a HELP text, one simple string per line.
    pub fn help(&mut self, lines: &[&str]) -> Outcome {
        self.reply.array(lines.len());
        for line in lines {
            self.reply.simple(line);
        }
        Outcome::Unchanged
    }

    /// Redis's error for an unknown subcommand of `command` (upper case).
    pub fn unknown_subcommand(&mut self, sub: &[u8], command: &str) -> Outcome {
        self.fail(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {command} HELP.",
            String::from_utf8_lossy(sub)
        ))
    }

    /// Replies with an error: `return ctx.fail(..)`.
    pub fn fail(&mut self, message: &str) -> Outcome {
        self.node.error_stats.count(message.as_bytes());
        self.reply.error(message);
        Outcome::Failed
    }

    /// Makes `reply` this command's reply, written when it resolves.
    pub fn defer(&mut self, reply: impl Future<Output = Bytes> + Send + 'static) {
        self.deferred = Some(Box::pin(reply));
    }

    /// Replies with the encoded `reply`: now, or once every other node
    /// ran what `others` broadcast (SCRIPT LOAD, ACL SETUSER, ...), so a
    /// client that goes on to another node finds it there.
    pub fn reply_after(&mut self, reply: bytes::BytesMut, others: Option<Ran>) {
        match others {
            None => self.reply.raw(&reply),
            Some(ran) => {
                let reply = reply.freeze();
                self.defer(async move {
                    ran.await;
                    reply
                });
            }
        }
    }

    /// On a cluster node, the slots it is primary for: the key space its
    /// keyless commands (DBSIZE, KEYS, SCAN, RANDOMKEY) answer for.
    pub fn own_slots(&self) -> Option<Arc<SlotSet>> {
        self.cluster.as_deref().map(|port| port.primary_slots())
    }

    /// Runs `f` with the cluster layer, if this node has one.
    pub fn with_cluster<R>(
        &mut self,
        f: impl FnOnce(&mut dyn ClusterPort, &mut Ctx<'a>) -> R,
    ) -> Option<R> {
        let port = self.cluster.take()?;
        let result = f(&mut *port, self);
        self.cluster = Some(port);
        Some(result)
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

/// Runs `f` on the value of type `T` at `key` for reading (a keyspace hit
/// or miss): `Ok(None)` when the key is absent, `Err(WrongType)` when it
/// holds another type.
pub fn read_value<T: CollectionType, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(&T, &mut Ctx<'_>) -> R,
) -> Result<Option<R>, WrongType> {
    // Copy the store reference so the lock borrows the store, not `ctx`.
    let store = ctx.store;
    let mut lock = store.lock(key);
    Ok(lock.read_as::<T>(key)?.map(|value| f(&value, ctx)))
}

/// Replies with the integer `f` reads from the value of type `T` at
/// `key` (0 when the key is absent), or WRONGTYPE: LLEN, SCARD, SISMEMBER,
/// HLEN, HEXISTS, HSTRLEN, ZCOUNT and the like.
pub fn reply_count<T: CollectionType>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(&T) -> i64,
) -> Outcome {
    match read_value::<T, _>(ctx, key, |value, _| f(value)) {
        Ok(n) => ctx.reply.int(n.unwrap_or(0)),
        Err(WrongType) => return ctx.fail(args::WRONGTYPE),
    }
    Outcome::Unchanged
}

/// The Redis error for a wrong argument count.
pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// The handler of a container command (CLIENT, CONFIG, ...), which runs
/// only when no subcommand is named: the dispatcher runs the subcommands.
pub fn container(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let name = String::from_utf8_lossy(args.get(0)).to_ascii_lowercase();
    ctx.fail(&wrong_arity(&name))
}

/// Why a request is not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The error to reply; the connection stays.
    Error(String),
    /// A protected-mode connection ran something other than the peer
    /// handshake: Redis's DENIED, then the connection closes.
    Protected,
}

/// Finds the command a request names, as this session may see it:
/// commands only nodes send look absent on any other connection.
#[inline]
pub fn find(session: &Session, name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    lookup_indexed(name).filter(|(_, spec)| !spec.has(Flags::PEER) || session.peer)
}

/// Whether a command carried inside another may run where no `admit`
/// checked it (a peer's RCEXEC or RCEFFECT): Redis's arity error, and a
/// refusal of the commands that only run on their own (MULTI, EXEC,
/// WATCH, RCEXEC...), which would otherwise nest.
///
/// # Errors
/// The error reply for that command.
pub fn check_carried(spec: &CommandSpec, args: Args<'_>) -> Result<(), String> {
    if spec.has(Flags::NOT_QUEUED) {
        return Err(format!(
            "ERR '{}' can't run inside a transaction",
            spec.name
        ));
    }
    if !spec.arity_ok(args.len()) {
        return Err(wrong_arity(spec.name));
    }
    Ok(())
}

/// The checks a request passes before it runs anywhere: protected mode,
/// arity, authentication.
///
/// # Errors
/// The refusal to answer.
#[inline]
pub fn admit(session: &Session, spec: &CommandSpec, args: Args<'_>) -> Result<(), Refusal> {
    if session.protected && !spec.has(Flags::HANDSHAKE) {
        return Err(Refusal::Protected);
    }
    if !spec.arity_ok(args.len()) {
        return Err(Refusal::Error(wrong_arity(spec.name)));
    }
    if !session.authenticated && !spec.has(Flags::NO_AUTH) {
        return Err(Refusal::Error(args::NOAUTH.into()));
    }
    Ok(())
}

/// Runs an admitted request here: the memory bound, the handler, its
/// statistics (metrics, slow log, latency monitor).
pub fn run(ctx: &mut Ctx<'_>, index: usize, spec: &CommandSpec, args: Args<'_>) -> Outcome {
    ctx.session
        .handle
        .last_command
        .store(index as u64, std::sync::atomic::Ordering::Relaxed);
    // No eviction while clients are paused, as Redis.
    if spec.has(Flags::DENYOOM)
        && !ctx.script
        && !ctx.node.pause.is_paused()
        && ctx.store.make_room().is_err()
    {
        statistics::reject(ctx.node, index, spec, args);
        return ctx.fail(args::OOM);
    }
    // A woken blocking command was counted when it first ran.
    let counted = !ctx.session.woken;
    ctx.session.commands += u64::from(counted);
    let node = ctx.node;
    // The gate: shared by ordinary commands, alone for EXEC, not again
    // for a command EXEC or a script runs.
    let (_shared, _alone) = match pass_gate(node, spec, args, ctx.atomic) {
        Ok(held) => held,
        Err(busy) => {
            statistics::reject(node, index, spec, args);
            return ctx.fail(busy);
        }
    };
    let tracked = effects::before(ctx, spec, args);
    let events_on = node.events.classes() != Classes::NONE;
    if events_on {
        events::before(ctx, spec, args);
    }
    let first = counted && node.monitors.any() && monitoring::shown_first(spec);
    if first {
        show_to_monitors(ctx, spec, args, true);
    }
    let time = CommandTime::start();
    let outcome = call_handler(ctx, spec, args);
    let elapsed = time.elapsed();
    if events_on {
        events::defaults(ctx, spec, args, outcome);
    }
    if counted && !first {
        show_to_monitors(ctx, spec, args, false);
    }
    if tracked {
        let _again = effects::remember_reads(ctx, spec, args);
    }
    effects::after_write(ctx, spec, args, outcome);
    record(
        ctx,
        index,
        spec,
        args,
        counted.then_some((elapsed, outcome)),
    );
    outcome
}

/// MONITOR's line for the command (`first`: before it runs, as for EVAL,
/// whose script's commands follow it).
fn show_to_monitors(ctx: &Ctx<'_>, spec: &CommandSpec, args: Args<'_>, first: bool) {
    let session = &*ctx.session;
    monitoring::show(ctx.node, session, session.db, spec, args, ctx.script, first);
}

/// Records a command's run in the statistics (`ran`: its time and
/// outcome; `None` for a woken blocking command, counted when it first
/// ran); a deferred reply's run is recorded when the reply is ready.
fn record(
    ctx: &mut Ctx<'_>,
    index: usize,
    spec: &CommandSpec,
    args: Args<'_>,
    ran: Option<(Duration, Outcome)>,
) {
    let Some((elapsed, outcome)) = ran else {
        return;
    };
    match ctx.deferred.take() {
        None => record_run(
            ctx.node,
            index,
            spec,
            args,
            &ctx.session.handle,
            (elapsed, outcome),
        ),
        Some(deferred) => {
            // Recorded when the reply is ready, with the time spent running
            // it (not the time it waited for its turns on the worker).
            let node = ctx.node.clone();
            let handle = ctx.session.handle.clone();
            let owned = OwnedArgs::copy(args);
            let spec = *spec;
            ctx.deferred = Some(Box::pin(Timed {
                inner: deferred,
                spent: elapsed,
                finish: Some(Box::new(move |spent| {
                    record_run(&node, index, &spec, owned.args(), &handle, (spent, outcome));
                })),
            }));
        }
    }
}

/// What a command holds of the gate while it runs.
type Held<'n> = (
    Option<parking_lot::RwLockReadGuard<'n, ()>>,
    Vec<parking_lot::RwLockWriteGuard<'n, ()>>,
);

/// Passes the gate: shared, or alone for EXEC, or not at all inside an
/// atomic batch. While a script holds it past `busy-reply-threshold`, the
/// command is refused with BUSY, or runs without the gate if it is allowed
/// then (SCRIPT KILL, MULTI, ...), as Redis answers while a script runs.
fn pass_gate<'n>(
    node: &'n NodeState,
    spec: &CommandSpec,
    args: Args<'_>,
    atomic: bool,
) -> Result<Held<'n>, &'static str> {
    if atomic {
        return Ok((None, Vec::new()));
    }
    let exclusive = spec.has(Flags::EXCLUSIVE);
    loop {
        if exclusive {
            if let Some(alone) = node.gate.try_exclusive_for(GATE_POLL) {
                return Ok((None, alone));
            }
        } else if let Some(shared) = node.gate.try_shared_for(GATE_POLL) {
            return Ok((Some(shared), Vec::new()));
        }
        if let Some(busy) = node.scripts.running.busy() {
            if script_host::effective_flags(spec, args).has(Flags::ALLOW_BUSY) {
                return Ok((None, Vec::new()));
            }
            return Err(busy);
        }
    }
}

/// Finds, admits and runs a request here, for callers that run commands
/// on behalf of another (RCREAD): a refusal is answered as an error.
pub fn execute(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some((index, spec)) = find(ctx.session, args.get(0)) else {
        ctx.reply.error_bytes(&unknown_command(args));
        return Outcome::Failed;
    };
    match admit(ctx.session, spec, args) {
        Ok(()) => run(ctx, index, spec, args),
        Err(Refusal::Error(text)) => ctx.fail(&text),
        Err(Refusal::Protected) => ctx.fail(args::DENIED),
    }
}

/// Runs the handler; a panic inside it costs this request only: what the
/// handler wrote is taken back, the client gets `-ERR internal error`, and
/// the node keeps serving. Shard locks are parking_lot's, which a panic
/// does not poison, and every handler leaves the store consistent between
/// its own calls into it.
fn call_handler(ctx: &mut Ctx<'_>, spec: &CommandSpec, args: Args<'_>) -> Outcome {
    let mark = ctx.reply.written();
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
        if spec.subcommands.is_empty() || args.len() < 2 {
            (spec.handler)(ctx, args)
        } else {
            subcommands::dispatch(ctx, spec, args)
        }
    }));
    ran.unwrap_or_else(|_| {
        ServerStats::add(&ctx.node.stats.command_panics, 1);
        tracing::error!(
            command = spec.name,
            "command handler panicked; request answered with an error"
        );
        ctx.reply.truncate(mark);
        ctx.deferred = None;
        ctx.fail("ERR internal error")
    })
}

/// Counts one run of command `index` that took `elapsed` and ended with
/// `outcome`: metrics, INFO commandstats, the slow log, the latency
/// monitor.
fn record_run(
    node: &NodeState,
    index: usize,
    spec: &CommandSpec,
    args: Args<'_>,
    handle: &ClientHandle,
    (elapsed, outcome): (Duration, Outcome),
) {
    node.command_metrics(|| commands().iter().map(|c| c.name))
        .record(index, elapsed.as_secs_f64());
    let micros = elapsed.as_micros() as i64;
    statistics::stats(node).record(
        statistics::slot(index, spec, args),
        micros as u64,
        outcome == Outcome::Failed,
    );
    if node.slowlog.is_slow(micros) {
        node.slowlog.record(
            args,
            &|position| spec.redacts(args, position),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::protocol::{Limits, RequestParser};
    use bytes::BytesMut;

    fn panics(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
        ctx.reply.array(2);
        ctx.reply.bulk(b"half a reply");
        panic!("a handler bug");
    }

    #[test]
    fn a_panicking_handler_costs_one_request() {
        let node = NodeState::new(Config::default());
        let addr = "127.0.0.1:1".parse().unwrap();
        let mut session = Session::new(node.clients.register(addr, addr), true, false);
        let spec = CommandSpec {
            handler: panics,
            ..*lookup(b"ping").unwrap()
        };
        let request = b"*1\r\n$4\r\nPING\r\n";
        let mut parser = RequestParser::new(Limits::default());
        parser.parse(request).unwrap();
        let mut output = BytesMut::new();
        output.extend_from_slice(b"+earlier\r\n");
        let mut ctx = Ctx::new(&node, &mut session, Reply::new(&mut output, false), None);
        let outcome = run(&mut ctx, 0, &spec, parser.args(request));
        assert_eq!(outcome, Outcome::Failed);
        assert_eq!(&output[..], b"+earlier\r\n-ERR internal error\r\n");
        assert_eq!(ServerStats::get(&node.stats.command_panics), 1);
    }
}
