//! What EVAL and FCALL share: how a script reaches the key space (a
//! [`Host`] running its calls as a client of its own, the way Redis runs
//! them through its Lua client), and how a script runs as one atomic
//! batch.
//!
//! A script holds the node's gate alone, as EXEC does, and its commands
//! run with `ctx.atomic` (never deferred or blocked). It runs on the Lua
//! thread (`scripting::lua_thread`), which takes the gate itself, not on
//! the connection's worker, so the node keeps answering while it runs:
//! other connections wait at the gate up to `busy-reply-threshold`, then
//! get `-BUSY` (and may SCRIPT KILL it), see `commands::run`. The caller's
//! connection waits for the result before its next request
//! ([`Ctx::awaiting`]); the keys the script wrote come back with the
//! reply, for replication as a transaction's. Inside EXEC (the gate held
//! by the transaction) the caller's thread waits for the script.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;

use super::args::OOM;
use super::spec::{CommandSpec, Flags};
use super::{
    find, run, ClusterOp, ClusterPort, Ctx, Outcome, OwnedArgs, ScriptReplication, Session, Verdict,
};
use crate::clients::ClientHandle;
use crate::protocol::{Args, Reply};
use crate::scripting::{CallOptions, Engine, Host, Job, Kind, LogLevel, ScriptFlags};
use crate::state::NodeState;
use crate::store::versioning::{self, Changes};
use crate::store::SlotSet;

/// Redis's refusals of a command a script calls.
const UNKNOWN: &str = "ERR Unknown Redis command called from script";
const WRONG_ARITY: &str = "ERR Wrong number of args calling Redis command from script";
const NOT_ALLOWED: &str = "ERR This Redis command is not allowed from script";
const READ_ONLY: &str = "ERR Write commands are not allowed from read-only scripts.";
const OTHER_SLOT: &str = "ERR Script attempted to access keys that do not hash to the same slot";
const NOT_LOCAL: &str = "ERR Script attempted to access a non local key in a cluster node";

/// On a cluster node: whether this node serves a key, for a write (its
/// slot's primary) or a read (also a replica, on a READONLY connection).
pub type LocalKeys = Arc<dyn Fn(&[u8], bool) -> bool + Send + Sync>;

/// What a script's run needs from its caller's connection.
pub struct Caller {
    /// The caller's client (its name and id for logs and CLIENT LIST).
    pub handle: Arc<ClientHandle>,
    /// The caller's database.
    pub db: usize,
    /// The caller speaks RESP3.
    pub resp3: bool,
    /// Its ACL user (a script's commands run as it).
    pub user: Arc<crate::acl::User>,
    /// The ACL version `user` was read at.
    pub acl_version: u64,
    /// On a cluster node, the keys served here.
    pub local: Option<LocalKeys>,
    /// On a cluster node, the slots it is primary for (its key space).
    pub own: Option<Arc<SlotSet>>,
}

/// What a script's run leaves.
pub struct ScriptDone {
    /// Its reply.
    pub reply: Bytes,
    /// The keys it wrote.
    pub written: Vec<Vec<u8>>,
    /// On a cluster node, the write quorum's verdict on them (shipped
    /// already, see [`ScriptReplication`]), when the reply waits for it.
    pub verdict: Option<Verdict>,
}

/// A script's writes as a replica replays them, as an EXEC's: the
/// replayable commands it called (or what they described as their
/// effect, `Ctx::rewrite`) and the versions they moved its keys between.
pub struct ScriptEffect {
    /// The versions.
    pub changes: Changes,
    /// The commands, in the order it called them.
    pub commands: Vec<OwnedArgs>,
}

impl Caller {
    /// The caller of the request in `ctx`.
    pub fn of(ctx: &mut Ctx<'_>) -> Caller {
        let local = ctx.with_cluster(|port, _| port.local_keys());
        Caller {
            user: ctx.session.user.clone(),
            acl_version: ctx.session.acl_version,
            handle: ctx.session.handle.clone(),
            db: ctx.session.db,
            resp3: ctx.session.resp3,
            local,
            own: ctx.own_slots(),
        }
    }
}

/// See the module docs.
pub struct ScriptHost<'n> {
    node: &'n Arc<NodeState>,
    session: Session,
    local: Option<LocalKeys>,
    own: Option<Arc<SlotSet>>,
    /// The one slot a script may touch on a cluster node (the declared
    /// keys', or the first key it touched).
    slot: Option<u16>,
    /// Over `maxmemory` when the script started (after eviction).
    oom: bool,
    /// A write command ran.
    wrote: bool,
    /// Keys written, for replication.
    pub written: Vec<Vec<u8>>,
    /// While the run is armed: the commands a replica replays for its
    /// writes; `None` once a write cannot be replayed.
    replayed: Option<Vec<OwnedArgs>>,
}

impl<'n> ScriptHost<'n> {
    /// A host for one run by `caller`; `keys` are its declared keys.
    pub fn new(node: &'n Arc<NodeState>, caller: &Caller, keys: &[Vec<u8>]) -> ScriptHost<'n> {
        let mut session = Session::new(caller.handle.clone(), true, false);
        session.db = caller.db;
        session.user = caller.user.clone();
        session.acl_version = caller.acl_version;
        let oom = node.databases[caller.db].make_room().is_err();
        ScriptHost {
            node,
            session,
            local: caller.local.clone(),
            own: caller.own.clone(),
            slot: keys.first().map(|k| ringcache_proto::key_slot(k)),
            oom,
            wrote: false,
            written: Vec::new(),
            replayed: None,
        }
    }

    /// The refusal of a command at its keys on a cluster node.
    fn check_keys(
        &mut self,
        spec: &CommandSpec,
        args: Args<'_>,
        writes: bool,
        cross_slot: bool,
    ) -> Result<(), &'static str> {
        let Some(local) = &self.local else {
            return Ok(());
        };
        for position in spec.keys.positions(args) {
            let key = args.get(position);
            if !local(key, writes) {
                return Err(NOT_LOCAL);
            }
            let slot = ringcache_proto::key_slot(key);
            match self.slot {
                Some(s) if s != slot && !cross_slot => return Err(OTHER_SLOT),
                Some(_) => {}
                None => self.slot = Some(slot),
            }
        }
        Ok(())
    }
}

/// The flags of the command a request names: its subcommand's, for a
/// container command.
pub fn effective_flags(spec: &CommandSpec, args: Args<'_>) -> Flags {
    if spec.subcommands.is_empty() || args.len() < 2 {
        return spec.flags;
    }
    let name = args.get(1);
    spec.subcommands
        .iter()
        .find(|sub| name.eq_ignore_ascii_case(sub.name().as_bytes()))
        .map_or(spec.flags, |sub| sub.command.flags)
}

impl ScriptHost<'_> {
    /// The checks a command called by a script passes before it runs:
    /// arity, the user's permissions, what scripts may not call, a
    /// read-only script's writes, OOM, and its keys. `Ok` says whether it
    /// writes; `Err` is the error to answer.
    fn admit(
        &mut self,
        index: usize,
        spec: &CommandSpec,
        args: Args<'_>,
        options: &CallOptions,
    ) -> Result<bool, Cow<'static, str>> {
        if !spec.arity_ok(args.len()) {
            return Err(WRONG_ARITY.into());
        }
        let context = crate::acl::Context::Lua;
        crate::acl::check::check(
            &self.node.acl,
            &mut self.session,
            index,
            spec,
            args,
            context,
        )?;
        let flags = effective_flags(spec, args);
        if flags.has(Flags::NOSCRIPT) || flags.has(Flags::BLOCKING) || flags.has(Flags::PEER) {
            return Err(NOT_ALLOWED.into());
        }
        let writes = flags.has(Flags::WRITE);
        if writes && options.read_only {
            return Err(READ_ONLY.into());
        }
        if flags.has(Flags::DENYOOM) && self.oom && !self.wrote && !options.allow_oom {
            return Err(OOM.into());
        }
        self.check_keys(spec, args, writes, options.allow_cross_slot)
            .map_err(Cow::from)?;
        Ok(writes)
    }
}

impl Host for ScriptHost<'_> {
    fn call(&mut self, argv: &[&[u8]], options: CallOptions, out: &mut BytesMut) {
        let owned = OwnedArgs::copy_slices(argv);
        let args = owned.args();
        let mut reply = Reply::new(out, options.resp3);
        let Some((index, spec)) = find(&self.session, args.get(0)) else {
            return reply.error(UNKNOWN);
        };
        let writes = match self.admit(index, spec, args, &options) {
            Ok(writes) => writes,
            Err(error) => return reply.error(&error),
        };
        if writes {
            self.wrote = true;
            self.node.scripts.running.note_write();
        }
        let mut port = ScriptPort {
            own: self
                .own
                .clone()
                .unwrap_or_else(|| Arc::new(SlotSet::from_fn(|_| true))),
        };
        let cluster = self
            .local
            .is_some()
            .then_some(&mut port as &mut dyn ClusterPort);
        let mut ctx = Ctx::new(self.node, &mut self.session, reply, cluster);
        ctx.atomic = true;
        ctx.script = true;
        let outcome = run(&mut ctx, index, spec, args);
        if let Some(deferred) = ctx.deferred.take() {
            match deferred.now_or_never() {
                Some(bytes) => ctx.reply.raw(&bytes),
                None => ctx
                    .reply
                    .error("ERR this command can't wait inside a script"),
            }
        }
        let nested = std::mem::take(&mut ctx.written);
        let rewrite = ctx.rewrite.take();
        drop(ctx);
        let replicate = options.replicate;
        super::effects::note_replayed(&mut self.replayed, spec, args, outcome, rewrite, replicate);
        if !options.replicate {
            return;
        }
        match outcome {
            Outcome::Wrote => self.written.extend(
                spec.keys
                    .positions(args)
                    .into_iter()
                    .filter_map(|p| args.try_get(p))
                    .map(<[u8]>::to_vec),
            ),
            Outcome::WroteKey(position) => self
                .written
                .extend(args.try_get(position).map(<[u8]>::to_vec)),
            Outcome::Transaction => self.written.extend(nested),
            Outcome::Unchanged | Outcome::Failed | Outcome::Flushed => {}
        }
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        match level {
            LogLevel::Warning => tracing::warn!(target: "script", "{message}"),
            LogLevel::Notice => tracing::info!(target: "script", "{message}"),
            LogLevel::Verbose | LogLevel::Debug => tracing::debug!(target: "script", "{message}"),
        }
    }

    fn command_exists(&self, name: &[u8]) -> bool {
        find(&self.session, name).is_some()
    }

    fn admit(&mut self, flags: ScriptFlags) -> Result<(), String> {
        if flags.no_cluster && self.local.is_some() {
            return Err("ERR Can not run script on cluster, 'no-cluster' flag is set.".into());
        }
        // A script that declares it may write is refused as a whole, as
        // any command that may grow memory.
        if !flags.allow_oom && !flags.no_writes && self.oom {
            return Err(OOM.into());
        }
        Ok(())
    }
}

/// The cluster as commands inside a script see it: SELECT is refused as on
/// any cluster connection, and the cluster's own commands are not for
/// scripts; keyless commands see the caller's node's primary slots.
struct ScriptPort {
    own: Arc<SlotSet>,
}

impl ClusterPort for ScriptPort {
    fn run(&mut self, ctx: &mut Ctx<'_>, _op: ClusterOp, _args: Args<'_>) -> Outcome {
        ctx.fail(NOT_ALLOWED)
    }
    fn info(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    fn reset(&mut self) {}
    // WATCH and SSUBSCRIBE are not allowed in scripts (no-script flags):
    // nothing reaches this.
    fn owned_here(&self, _key: &[u8], _what: &str) -> Result<(), String> {
        Ok(())
    }
    // A script runs away from its connection's peer links: its PUBLISH
    // reaches this node's subscribers only (README, differences).
    fn publish_elsewhere(&mut self, _channel: &[u8], _message: &[u8]) {}
    fn local_keys(&self) -> LocalKeys {
        Arc::new(|_, _| true)
    }
    fn primary_slots(&self) -> Arc<SlotSet> {
        self.own.clone()
    }
    fn broadcast(&mut self, _args: Args<'_>) -> Option<super::Ran> {
        None
    }
    // A script runs on one node at once: its keyless commands answer for
    // that node.
    fn keyless_ring(&self) -> Option<super::KeylessRing> {
        None
    }
    fn ask_node(&self, _node: &super::RingNode, _args: &[&[u8]]) -> super::Asked {
        Box::pin(async { Err("not asked from a script".to_string()) })
    }

    fn script_replication(&self, _keys: &[Vec<u8>]) -> Option<ScriptReplication> {
        None
    }
}

/// A script's work: given the engine and a host, writes its reply.
pub type Work = Box<dyn FnOnce(&mut Engine, &mut ScriptHost<'_>, &mut Reply<'_>) + Send>;

/// What a script run is.
pub struct Run {
    /// EVAL or a function.
    pub kind: Kind,
    /// Its name (SHA or function name), for FUNCTION STATS and logs.
    pub name: String,
    /// The request (FUNCTION STATS shows it).
    pub command: Vec<Vec<u8>>,
    /// The declared keys.
    pub keys: Vec<Vec<u8>>,
    /// The run itself.
    pub work: Work,
}

/// Runs a script for the request in `ctx` on the Lua thread: inside a
/// transaction at once (the transaction holds the gate), otherwise when
/// the Lua thread has the gate alone, the caller's connection waiting for
/// the reply.
pub fn submit(ctx: &mut Ctx<'_>, script: Run) -> Outcome {
    let caller = Caller::of(ctx);
    let node = ctx.node.clone();
    if ctx.atomic {
        // Inside a transaction the transaction is what ships: a script's
        // writes make it go whole (EVAL is not replayable).
        let scripts = node.clone();
        let ran = scripts
            .scripts
            .run_held(move || execute(&node, &caller, script, None));
        let done = ran.unwrap_or_else(internal_error);
        ctx.reply.raw(&done.reply);
        ctx.written.extend(done.written);
        return Outcome::Transaction;
    }
    let replication = ctx
        .with_cluster(|port, _| port.script_replication(&script.keys))
        .flatten();
    let (done, result) = tokio::sync::oneshot::channel();
    let gated = node.clone();
    let mut pending = Some((node.clone(), caller, script, replication, done));
    let attempt = move |wait| {
        if pending.is_none() {
            return true;
        }
        let Some(_alone) = gated.gate.try_exclusive_for(wait) else {
            return false;
        };
        if let Some((node, caller, script, replication, done)) = pending.take() {
            let _ = done.send(execute(&node, &caller, script, replication));
        }
        true
    };
    if node
        .scripts
        .on_lua_thread(Job::Alone(Box::new(attempt)))
        .is_err()
    {
        return ctx.fail("ERR no thread to run scripts on");
    }
    // A panic while it ran drops `done`: the caller gets an error.
    ctx.awaiting = Some(Box::pin(async move {
        result.await.unwrap_or_else(|_| internal_error())
    }));
    Outcome::Unchanged
}

fn internal_error() -> ScriptDone {
    ScriptDone {
        reply: Bytes::from_static(b"-ERR internal error\r\n"),
        written: Vec::new(),
        verdict: None,
    }
}

/// Runs `script` now (the gate held by the caller of this), on this
/// thread, then ships its writes as `replication` says (armed, so that
/// they may ship as their effect, when it gives a clock).
fn execute(
    node: &Arc<NodeState>,
    caller: &Caller,
    script: Run,
    replication: Option<ScriptReplication>,
) -> ScriptDone {
    let mut out = BytesMut::new();
    let mut reply = Reply::new(&mut out, caller.resp3);
    let mut engine = match node.scripts.engine(super::REDIS_COMPAT_VERSION) {
        Ok(engine) => engine,
        Err(error) => {
            reply.error(&error);
            return ScriptDone {
                reply: out.freeze(),
                written: Vec::new(),
                verdict: None,
            };
        }
    };
    let threshold = node.config.read().busy_reply_threshold;
    let running = node.scripts.running.clone();
    let _record = running.begin(script.kind, script.name, script.command, threshold);
    let versions = replication.as_ref().and_then(|r| r.versions.clone());
    let arming = versions.map(versioning::arm);
    let mut host = ScriptHost::new(node, caller, &script.keys);
    host.replayed = arming.is_some().then(Vec::new);
    (script.work)(&mut engine, &mut host, &mut reply);
    let changes = arming.and_then(|_armed| versioning::take());
    let effect = changes
        .zip(host.replayed.take())
        .map(|(changes, commands)| ScriptEffect { changes, commands });
    let mut written = std::mem::take(&mut host.written);
    written.sort_unstable();
    written.dedup();
    let verdict = replication.and_then(|r| (r.ship)(&written, effect.as_ref()));
    ScriptDone {
        reply: out.freeze(),
        written,
        verdict,
    }
}
