//! Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH with Redis 7's
//! semantics. Inside MULTI the pipeline queues commands here instead of
//! running them (`queue`); a queueing error (unknown command, wrong arity,
//! OOM) marks the transaction so EXEC answers EXECABORT. EXEC runs the
//! queue holding the node's gate alone, so no other client's command runs
//! in between, and aborts (a null reply) when a watched key changed.

use futures_util::FutureExt;

use super::args::OOM;
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec, Routing};
use super::{find, run, Ctx, Outcome, OwnedArgs, Session};
use crate::protocol::{Args, Reply};
use crate::state::NodeState;
use crate::watches::WatchSet;

/// The commands that run at once inside MULTI (the others are queued).
const AT_ONCE: F = F::NOT_QUEUED
    .with(F::NOSCRIPT)
    .with(F::LOADING)
    .with(F::STALE);
const T: C = C::TRANSACTION;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("multi", multi, 1, AT_ONCE.with(F::FAST).with(F::ALLOW_BUSY), "transactions", "Starts a transaction.").acl(T),
    Cmd::new("exec", exec, 1, AT_ONCE.with(F::SKIP_SLOWLOG).with(F::EXCLUSIVE).with(F::REPLAYABLE), "transactions", "Executes all commands in a transaction.").acl(T),
    Cmd::new("discard", discard, 1, AT_ONCE.with(F::FAST).with(F::ALLOW_BUSY), "transactions", "Discards a transaction.").acl(T),
    Cmd::new("watch", watch, -2, AT_ONCE.with(F::FAST).with(F::ALLOW_BUSY), "transactions", "Monitors changes to keys to determine the execution of a transaction.").keys(KeySpec::ALL).acl(T).routing(Routing::ThisNode),
    Cmd::new("rcexec", rcexec, -2, F::PEER.with(F::EXCLUSIVE).with(F::NOT_QUEUED).with(F::NOSCRIPT).with(F::REPLAYABLE), "transactions", "Runs a transaction a forwarding node queued (its commands as counted groups).").acl(T).routing(Routing::Cluster),
    Cmd::new("unwatch", unwatch, 1, F::NOSCRIPT.with(F::LOADING).with(F::STALE).with(F::FAST).with(F::ALLOW_BUSY), "transactions", "Forgets about watched keys of a transaction.").acl(T),
];

/// The commands of an open MULTI.
#[derive(Debug, Default)]
pub struct Transaction {
    commands: Vec<OwnedArgs>,
    /// The memory `commands` holds: bounded by `client-query-buffer-limit`,
    /// as the input they came from was.
    queued_bytes: usize,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    failed: bool,
    /// On a cluster node: the one slot the keys so far hash to.
    pub slot: Option<u16>,
    /// On a cluster node in proxy mode: the slot's owner, when another
    /// node, which runs the whole transaction (RCEXEC).
    pub owner: Option<std::net::SocketAddr>,
}

impl Transaction {
    /// True if a command was refused while queueing.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The keys of the queued commands.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.commands.iter().flat_map(|command| {
            let args = command.args();
            let positions = super::lookup(args.get(0))
                .map(|spec| spec.keys.positions(args))
                .unwrap_or_default();
            positions.into_iter().filter_map(move |p| args.try_get(p))
        })
    }

    /// True if a queued command may write or replicate (CLIENT PAUSE
    /// WRITE holds such an EXEC).
    pub fn may_write(&self) -> bool {
        self.commands.iter().any(|command| {
            let args = command.args();
            super::lookup(args.get(0)).is_some_and(|spec| {
                let flags = super::script_host::effective_flags(spec, args);
                flags.has(F::WRITE) || flags.has(F::MAY_REPLICATE)
            })
        })
    }

    /// Appends `RCEXEC <argc> <arg>... <argc> <arg>...`: the queued
    /// commands for the owner to run as one transaction.
    pub fn encode_for_owner(&self, out: &mut bytes::BytesMut) {
        let mut parts: Vec<Vec<u8>> = vec![b"RCEXEC".to_vec()];
        for command in &self.commands {
            let args = command.args();
            parts.push(args.len().to_string().into_bytes());
            parts.extend(args.iter_from(0).map(<[u8]>::to_vec));
        }
        ringcache_proto::resp::write_command(out, &parts);
    }
}

/// Queues a command of an open transaction and answers `+QUEUED` (or
/// refuses it, as Redis does, when it may not run for lack of memory, or
/// when the queue would hold more than `client-query-buffer-limit`: a
/// client cannot grow a node's memory without end by never sending EXEC).
pub fn queue(
    node: &NodeState,
    session: &mut Session,
    spec: &Cmd,
    args: Args<'_>,
    output: &mut bytes::BytesMut,
) {
    let mut reply = Reply::new(output, session.resp3);
    if spec.has(F::DENYOOM) && node.databases[session.db].make_room().is_err() {
        reply.error(OOM);
        fail_queueing(session);
        return;
    }
    let limit = node.config.read().client_query_buffer_limit;
    if let Some(transaction) = session.multi.as_mut() {
        let command = OwnedArgs::copy(args);
        let queued = transaction.queued_bytes + command.footprint();
        if queued as u64 > limit {
            reply.error(QUEUE_TOO_LARGE);
            transaction.failed = true;
            return;
        }
        transaction.queued_bytes = queued;
        transaction.commands.push(command);
        reply.simple("QUEUED");
    }
}

/// The refusal of a command that would take the queue of an open
/// transaction past the limit (EXEC then answers EXECABORT).
const QUEUE_TOO_LARGE: &str =
    "ERR the transaction's queued commands would exceed client-query-buffer-limit";

/// Marks an open transaction as failed (a command was refused while
/// queueing); nothing without one.
pub fn fail_queueing(session: &mut Session) {
    if let Some(transaction) = session.multi.as_mut() {
        transaction.failed = true;
    }
}

/// The refusal of an EXEC before it runs (wrong arity, NOAUTH ...): as
/// Redis does, the transaction and the watches are discarded (open or not)
/// and the error is given as `EXECABORT Transaction discarded because of:
/// <error>` (a plain `ERR` loses its code). Other commands' refusals are
/// returned as they are.
pub fn refusal(session: &mut Session, spec: &Cmd, error: &str) -> String {
    if spec.name != "exec" {
        return error.to_string();
    }
    session.multi = None;
    session.watching = None;
    let error = error.strip_prefix("ERR ").unwrap_or(error);
    format!("EXECABORT Transaction discarded because of: {error}")
}

/// True while a MULTI is open: the pipeline queues what is not `AT_ONCE`.
pub fn queueing(session: &Session, spec: &Cmd) -> bool {
    session.multi.is_some() && !spec.has(F::NOT_QUEUED)
}

/// MULTI
fn multi(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    if ctx.session.multi.is_some() {
        return ctx.fail("ERR MULTI calls can not be nested");
    }
    ctx.session.multi = Some(Transaction::default());
    ctx.reply.ok();
    Outcome::Unchanged
}

/// DISCARD
fn discard(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    if ctx.session.multi.take().is_none() {
        return ctx.fail("ERR DISCARD without MULTI");
    }
    ctx.session.watching = None;
    ctx.reply.ok();
    Outcome::Unchanged
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if ctx.session.multi.is_some() {
        return ctx.fail("ERR WATCH inside MULTI is not allowed");
    }
    if let Some(cluster) = ctx.cluster.as_deref() {
        if let Some(Err(error)) = args
            .iter_from(1)
            .map(|k| cluster.owned_here(k, "WATCH"))
            .find(Result::is_err)
        {
            return ctx.fail(&error);
        }
    }
    let db = ctx.store.db();
    let registry = ctx.node.watches.clone();
    let set = ctx
        .session
        .watching
        .get_or_insert_with(|| WatchSet::new(registry));
    for key in args.iter_from(1) {
        let exists = ctx.store.lock(key).peek(key).is_some();
        set.add(db, key, exists);
    }
    ctx.reply.ok();
    Outcome::Unchanged
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.session.watching = None;
    ctx.reply.ok();
    Outcome::Unchanged
}

/// True if a watched key changed since WATCH: written (touched), or gone
/// (expired, evicted) although it existed then.
fn watched_keys_changed(ctx: &Ctx<'_>, watching: &WatchSet) -> bool {
    watching.touched()
        || watching.existing().any(|(db, key)| {
            let store = &ctx.node.databases[db];
            store.lock(key).peek(key).is_none()
        })
}

/// EXEC: runs the queue, alone (the gate held exclusively by the caller,
/// see `commands::run`), each command's reply an element of the array.
fn exec(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let Some(transaction) = ctx.session.multi.take() else {
        return ctx.fail("ERR EXEC without MULTI");
    };
    // Unwatched once EXEC is over, whatever happens.
    let watching = ctx.session.watching.take();
    if transaction.failed {
        return ctx.fail("EXECABORT Transaction discarded because of previous errors.");
    }
    if watching
        .as_ref()
        .is_some_and(|w| watched_keys_changed(ctx, w))
    {
        ctx.reply.null_array();
        return Outcome::Unchanged;
    }
    drop(watching);
    ctx.reply.array(transaction.commands.len());
    let was_atomic = ctx.atomic;
    ctx.atomic = true;
    let mut written = Vec::new();
    // Armed for replication by effect: the commands a replica replays.
    let mut replayed = crate::store::versioning::armed().then(Vec::new);
    for command in &transaction.commands {
        run_queued(ctx, command.args(), &mut written, &mut replayed);
    }
    ctx.atomic = was_atomic;
    ctx.written = written;
    ctx.replayed = replayed;
    Outcome::Transaction
}

/// Runs one queued command inside EXEC and notes the keys it wrote, and
/// (`replayed`) what a replica runs for it: the command or what it
/// described as its effect; a write that cannot be replayed ends the list.
fn run_queued(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    written: &mut Vec<Vec<u8>>,
    replayed: &mut Option<Vec<OwnedArgs>>,
) {
    let Some((index, spec)) = find(ctx.session, args.get(0)) else {
        // Checked when queued; a session cannot lose a command since.
        ctx.reply.error("ERR unknown command");
        return;
    };
    // A client's queue passed these checks when queued; a peer's RCEXEC
    // did not.
    if let Err(error) = super::check_carried(spec, args) {
        ctx.reply.error(&error);
        return;
    }
    let context = crate::acl::Context::Multi;
    if let Err(error) =
        crate::acl::check::check(&ctx.node.acl, ctx.session, index, spec, args, context)
    {
        ctx.reply.error(&error);
        return;
    }
    let outcome = run(ctx, index, spec, args);
    let rewrite = ctx.rewrite.take();
    super::effects::note_replayed(replayed, spec, args, outcome, rewrite, true);
    if let Some(deferred) = ctx.deferred.take() {
        // A reply that would come later (a cluster command's) must be
        // ready now: a transaction does not wait.
        match deferred.now_or_never() {
            Some(bytes) => ctx.reply.raw(&bytes),
            None => ctx
                .reply
                .error("ERR this command can't wait inside a transaction"),
        }
    }
    let positions = match outcome {
        Outcome::Wrote => spec.keys.positions(args),
        Outcome::WroteKey(position) => vec![position],
        // A script's writes.
        Outcome::Transaction => {
            written.append(&mut ctx.written);
            Vec::new()
        }
        _ => Vec::new(),
    };
    written.extend(
        positions
            .into_iter()
            .filter_map(|p| args.try_get(p))
            .map(<[u8]>::to_vec),
    );
}

/// RCEXEC <argc> <arg>... ...: a transaction queued on a forwarding node,
/// run here as EXEC runs one (this node owns its slot).
fn rcexec(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let mut commands = Vec::new();
    let mut at = 1;
    while at < args.len() {
        let count = super::args::parse_i64(args.get(at))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0 && at + n < args.len());
        let Some(count) = count else {
            return ctx.fail("ERR malformed RCEXEC");
        };
        commands.push(OwnedArgs::copy(args.slice(at + 1, at + 1 + count)));
        at += 1 + count;
    }
    let transaction = Transaction {
        commands,
        ..Transaction::default()
    };
    // The forwarder's ring made this node the slot's primary; when this
    // node's ring no longer does, its writes would be acknowledged with no
    // replica and could be lost to the slot's new primary.
    if let Some(cluster) = ctx.cluster.as_deref() {
        if transaction
            .keys()
            .any(|key| cluster.owned_here(key, "RCEXEC").is_err())
        {
            return ctx.fail(super::cluster_port::NOT_PRIMARY_HERE);
        }
    }
    ctx.session.multi = Some(transaction);
    exec(ctx, args)
}
