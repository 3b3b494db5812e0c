//! EVAL, EVALSHA, their `_RO` forms and SCRIPT, as Redis 7 has them. The
//! engine is `crate::scripting`; how a script reaches the key space and
//! runs atomically is `script_host`. SCRIPT LOAD reaches every node of a
//! cluster (so EVALSHA works through any of them); SCRIPT FLUSH, as in
//! Redis Cluster, empties only the node it is sent to.

use super::args::{parse_i64, NOT_INTEGER};
use super::script_host::{submit, Run};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec};
use super::subcommands::SubSpec;
use super::{container, Ctx, Outcome};
use crate::protocol::Args;
use crate::scripting::{Invocation, Kind, NOSCRIPT};

const S: C = C::SCRIPTING;
/// EVAL's flags: not from scripts, not in MONITOR, on stale replicas.
const EVAL: F = F::NOSCRIPT
    .with(F::SKIP_MONITOR)
    .with(F::STALE)
    .with(F::NO_MANDATORY_KEYS);
/// SCRIPT's subcommands' flags.
const SCRIPT: F = F::NOSCRIPT;

/// Where EVAL's (and FCALL's) keys are: `numkeys` (argument 2) of them from argument 3.
pub const NUMKEYS: KeySpec = KeySpec::Find {
    find: numkeys_positions,
    first: 0,
    last: 0,
    step: 0,
};

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("eval", eval, -3, EVAL.with(F::MAY_REPLICATE), "scripting", "Executes a server-side Lua script.").keys(NUMKEYS).acl(S),
    Cmd::new("evalsha", evalsha, -3, EVAL.with(F::MAY_REPLICATE), "scripting", "Executes a server-side Lua script by SHA1 digest.").keys(NUMKEYS).acl(S),
    Cmd::new("eval_ro", eval_ro, -3, EVAL.with(F::READONLY), "scripting", "Executes a read-only server-side Lua script.").keys(NUMKEYS).acl(S),
    Cmd::new("evalsha_ro", evalsha_ro, -3, EVAL.with(F::READONLY), "scripting", "Executes a read-only server-side Lua script by SHA1 digest.").keys(NUMKEYS).acl(S),
    Cmd::new("script", container, -2, F::NONE, "scripting", "A container for Lua scripts management commands.").subcommands(SCRIPT_SUBCOMMANDS),
];

/// SCRIPT's subcommands.
#[rustfmt::skip]
const SCRIPT_SUBCOMMANDS: &[SubSpec] = &[
    SubSpec::new("exists", script_exists, -3, SCRIPT, &["EXISTS <sha1> [<sha1> ...]", "    Return information about the existence of the scripts in the script cache."]).acl(S),
    SubSpec::new("flush", script_flush, -2, SCRIPT, &[
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
    ]).acl(S),
    SubSpec::new("kill", script_kill, 2, SCRIPT.with(F::ALLOW_BUSY), &["KILL", "    Kill the currently executing Lua script."]).acl(S),
    SubSpec::new("load", script_load, 3, SCRIPT.with(F::STALE), &["LOAD <script>", "    Load a script into the scripts cache without executing it."]).acl(S),
];

/// The positions of EVAL's and FCALL's keys; none while `numkeys` is not
/// a count that fits (the handler then answers the error).
pub fn numkeys_positions(args: Args<'_>) -> Vec<usize> {
    match parse_i64(args.try_get(2).unwrap_or_default()) {
        Some(n) if n > 0 && (n as usize) <= args.len().saturating_sub(3) => {
            (3..3 + n as usize).collect()
        }
        _ => Vec::new(),
    }
}

/// Reads `numkeys` and splits the keys from the other arguments
/// (`not_integer`: the error for a count that is not a number).
///
/// # Errors
/// Redis's error for a bad count.
pub fn split_keys(args: Args<'_>, not_integer: &'static str) -> Result<Invocation, &'static str> {
    let n = parse_i64(args.get(2)).ok_or(not_integer)?;
    if n < 0 {
        return Err("ERR Number of keys can't be negative");
    }
    let available = args.len() - 3;
    if n as u64 > available as u64 {
        return Err("ERR Number of keys can't be greater than number of args");
    }
    let n = n as usize;
    Ok(Invocation {
        keys: args.iter_from(3).take(n).map(<[u8]>::to_vec).collect(),
        args: args.iter_from(3 + n).map(<[u8]>::to_vec).collect(),
        read_only: false,
    })
}

/// The request, owned (FUNCTION STATS shows it).
pub fn owned(args: Args<'_>) -> Vec<Vec<u8>> {
    args.iter_from(0).map(<[u8]>::to_vec).collect()
}

/// On a cluster node, the declared keys must share one slot.
pub fn check_slots(ctx: &Ctx<'_>, keys: &[Vec<u8>]) -> Result<(), &'static str> {
    if ctx.cluster.is_none() {
        return Ok(());
    }
    let mut slots = keys.iter().map(|k| ringcache_proto::key_slot(k));
    match slots.next() {
        Some(first) if slots.any(|s| s != first) => {
            Err("CROSSSLOT Keys in request don't hash to the same slot")
        }
        _ => Ok(()),
    }
}

/// EVAL script numkeys [key ...] [arg ...]
fn eval(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_eval(ctx, args, false, false)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
fn evalsha(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_eval(ctx, args, true, false)
}

/// EVAL_RO script numkeys [key ...] [arg ...]
fn eval_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_eval(ctx, args, false, true)
}

/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
fn evalsha_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_eval(ctx, args, true, true)
}

fn run_eval(ctx: &mut Ctx<'_>, args: Args<'_>, by_sha: bool, read_only: bool) -> Outcome {
    let mut invocation = match split_keys(args, NOT_INTEGER) {
        Ok(invocation) => invocation,
        Err(error) => return ctx.fail(error),
    };
    invocation.read_only = read_only;
    if let Err(error) = check_slots(ctx, &invocation.keys) {
        return ctx.fail(error);
    }
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
        let known = sha.len() == 40
            && engine_result(ctx, |engine| Ok(engine.exists(sha.as_bytes()))).unwrap_or(false);
        if !known {
            return ctx.fail(NOSCRIPT);
        }
        sha
    } else {
        let body = args.get(1).to_vec();
        match engine_result(ctx, move |engine| engine.load(&body, true)) {
            Ok(sha) => sha,
            Err(error) => return ctx.fail(&error),
        }
    };
    let keys = invocation.keys.clone();
    let name = sha.clone();
    submit(
        ctx,
        Run {
            kind: Kind::Eval,
            name,
            command: owned(args),
            keys,
            work: Box::new(move |engine, host, reply| {
                engine.eval(&sha, &invocation, host, reply);
            }),
        },
    )
}

/// Runs `f` with the engine on the Lua thread (it runs a library's code,
/// which may nest deeply); its error, or the engine's, is the reply.
pub fn engine_on_lua_thread<T: Send + 'static>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(&mut crate::scripting::Engine) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let node = ctx.node.clone();
    ctx.node
        .scripts
        .run_held(move || {
            let mut engine = node.scripts.engine(super::REDIS_COMPAT_VERSION)?;
            f(&mut engine)
        })
        .unwrap_or_else(|| Err("ERR internal error".into()))
}

/// Runs `f` with the engine; its error, or the engine's, is the reply.
pub fn engine_result<T>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(&mut crate::scripting::Engine) -> Result<T, String>,
) -> Result<T, String> {
    let mut engine = ctx.node.scripts.engine(super::REDIS_COMPAT_VERSION)?;
    f(&mut engine)
}

/// SCRIPT EXISTS sha1 [sha1 ...]
fn script_exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let found: Vec<bool> = match engine_result(ctx, |engine| {
        Ok(args.iter_from(2).map(|sha| engine.exists(sha)).collect())
    }) {
        Ok(found) => found,
        Err(error) => return ctx.fail(&error),
    };
    ctx.reply.array(found.len());
    for exists in found {
        ctx.reply.int(i64::from(exists));
    }
    Outcome::Unchanged
}

/// SCRIPT FLUSH [ASYNC|SYNC]
fn script_flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let mode_ok = match args.len() {
        2 => true,
        3 => {
            args.get(2).eq_ignore_ascii_case(b"sync") || args.get(2).eq_ignore_ascii_case(b"async")
        }
        _ => false,
    };
    if !mode_ok {
        return ctx.fail("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    if let Err(error) = engine_result(ctx, |engine| {
        engine.flush();
        Ok(())
    }) {
        return ctx.fail(&error);
    }
    // This node only, as in Redis Cluster (cluster clients send it to every
    // node): fanned out, it could reach a node after that node's next
    // SCRIPT LOAD from a client and erase the script just loaded.
    ctx.reply.ok();
    Outcome::Unchanged
}

/// SCRIPT KILL
fn script_kill(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    kill(ctx, Kind::Eval)
}

/// SCRIPT KILL and FUNCTION KILL: stops the running script or function of
/// `kind`, or says why not (none running, the other kind, it wrote).
pub fn kill(ctx: &mut Ctx<'_>, kind: Kind) -> Outcome {
    match ctx.node.scripts.running.kill(kind) {
        Ok(()) => {
            ctx.reply.ok();
            Outcome::Unchanged
        }
        Err(error) => ctx.fail(error),
    }
}

/// SCRIPT LOAD script
fn script_load(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let body = args.get(2).to_vec();
    match engine_result(ctx, move |engine| engine.load(&body, false)) {
        Ok(sha) => {
            broadcast(ctx, args, Answer::Bulk(sha.as_bytes()));
            Outcome::Unchanged
        }
        Err(error) => ctx.fail(&error),
    }
}

/// What a change of scripts or functions answers.
pub enum Answer<'a> {
    /// `+OK`.
    Ok,
    /// A bulk string (a script's SHA1, a library's name).
    Bulk(&'a [u8]),
}

/// Answers a request that changes scripts or functions, after sending it to
/// every other node of the cluster (unless it came from one: each node runs
/// it once) and waiting until they ran it, or could not within the cluster
/// layer's bound: the client's next EVALSHA or FCALL, which may run on any
/// node, finds what it loaded.
pub fn broadcast(ctx: &mut Ctx<'_>, args: Args<'_>, answer: Answer<'_>) {
    let mut out = bytes::BytesMut::new();
    match answer {
        Answer::Ok => ringcache_proto::resp::write_simple(&mut out, b"OK"),
        Answer::Bulk(text) => ringcache_proto::resp::write_bulk(&mut out, text),
    }
    let others = if ctx.session.peer {
        None
    } else {
        ctx.with_cluster(|port, _| port.broadcast(args)).flatten()
    };
    ctx.reply_after(out, others);
}
