//! Server administration: CONFIG, TIME, MEMORY, OBJECT, SLOWLOG, SHUTDOWN,
//! DEBUG.

use super::args::{is, parse_i64, parse_usize, NOT_INTEGER, SYNTAX};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, Routing};
use super::{After, Ctx, Outcome};
use crate::config::{Effect, Param, SetError};
use crate::protocol::Args;
use crate::state::NodeState;
use crate::store::{lfu_counter, lru_idle_ms, unix_us, ValueRef};

const HERE: Routing = Routing::ThisNode;
const LS: F = F::LOADING.with(F::STALE);
const ADMIN: F = F::ADMIN.with(F::NOSCRIPT).with(LS);

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("config", config, -2, LS, "server", "A container for server configuration commands.").routing(HERE).redact(config_redacts),
    Cmd::new("time", time, 1, LS.with(F::FAST), "server", "Returns the server time."),
    Cmd::new("memory", memory, -2, F::READONLY, "server", "A container for memory diagnostics commands.").routing(HERE),
    Cmd::new("object", object, -2, F::READONLY, "generic", "A container for object introspection commands.").acl(C::KEYSPACE).routing(HERE),
    Cmd::new("slowlog", slowlog, -2, ADMIN, "server", "A container for slow log commands.").routing(HERE),
    Cmd::new("shutdown", shutdown, -1, ADMIN.with(F::NO_MULTI).with(F::ALLOW_BUSY), "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.").routing(HERE),
    Cmd::new("debug", debug, -2, ADMIN, "server", "A container for debugging commands.").routing(HERE),
];

/// CONFIG SET's value of a sensitive parameter (a password, the cluster
/// secret) is secret.
fn config_redacts(args: Args<'_>, position: usize) -> bool {
    let is_set = args
        .try_get(1)
        .is_some_and(|sub| sub.eq_ignore_ascii_case(b"set"));
    is_set
        && position >= 3
        && position % 2 == 1
        && crate::config::is_sensitive(args.get(position - 1))
}

/// CONFIG GET: every parameter whose name matches one of `patterns`
/// (any case, glob); a pattern without glob characters also finds aliases.
fn config_get(node: &NodeState, patterns: &[Vec<u8>]) -> Vec<(String, String)> {
    let config = node.config.read();
    let mut found: Vec<(String, String)> = Vec::new();
    for pattern in patterns {
        let exact = !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        for (param, value) in config.values() {
            let name = if exact {
                let asked = String::from_utf8_lossy(pattern);
                if !param.is_named(&asked) {
                    continue;
                }
                asked.to_ascii_lowercase()
            } else if crate::glob::matches_nocase(pattern, param.name.as_bytes()) {
                param.name.to_string()
            } else {
                continue;
            };
            if !found.iter().any(|(n, _)| *n == name) {
                found.push((name, value));
            }
        }
    }
    found
}

/// Applies CONFIG SET for every `(name, value)` pair, all or nothing as in
/// Redis 7: the pairs are checked against a copy of the configuration and
/// the node changes only when every one of them is valid, so a bad pair
/// late in the list cannot leave the earlier ones half applied.
fn config_set_all(node: &NodeState, pairs: &[(String, String)]) -> Result<(), String> {
    let mut config = node.config.write();
    let mut next = config.clone();
    let mut changed: Vec<&'static Param> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        let param = next.set_at_runtime(name, value).map_err(|e| match e {
            SetError::Unknown => {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            }
            SetError::Immutable => set_failed(name, "can't set immutable config"),
            SetError::Invalid(why) => set_failed(name, &why),
        })?;
        if changed.iter().any(|p| std::ptr::eq(*p, param)) {
            return Err(set_failed(name, "duplicate parameter"));
        }
        changed.push(param);
    }
    if let Err(why) = next.validate() {
        let name = pairs.first().map_or("", |(n, _)| n.as_str());
        return Err(set_failed(name, &why));
    }
    let effects: Vec<Effect> = changed.iter().map(|p| p.effect).collect();
    node.apply_config(&next, &effects);
    *config = next;
    node.config_version
        .fetch_add(1, std::sync::atomic::Ordering::Release);
    Ok(())
}

/// Redis's wording for a CONFIG SET parameter that was refused.
fn set_failed(name: &str, why: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
}

/// CONFIG GET pattern... | SET name value... | RESETSTAT | HELP
pub fn config(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let sub = args.get(1);
    if is(sub, "get") && args.len() >= 3 {
        let patterns: Vec<Vec<u8>> = args.iter_from(2).map(|p| p.to_ascii_lowercase()).collect();
        let matched = config_get(ctx.node, &patterns);
        ctx.reply.map(matched.len());
        for (name, value) in matched {
            ctx.reply.bulk(name.as_bytes());
            ctx.reply.bulk(value.as_bytes());
        }
    } else if is(sub, "set") && args.len() >= 4 && args.len().is_multiple_of(2) {
        let pairs: Vec<(String, String)> = (2..args.len())
            .step_by(2)
            .map(|i| {
                let name = String::from_utf8_lossy(args.get(i)).to_ascii_lowercase();
                (name, String::from_utf8_lossy(args.get(i + 1)).into_owned())
            })
            .collect();
        match config_set_all(ctx.node, &pairs) {
            Ok(()) => ctx.reply.ok(),
            Err(e) => return ctx.fail(&e),
        }
    } else if is(sub, "resetstat") && args.len() == 2 {
        ctx.node.stats.reset();
        ctx.node.store.reset_stats();
        ctx.node.slowlog.reset();
        ctx.reply.ok();
    } else if is(sub, "help") && args.len() == 2 {
        let lines = [
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "HELP",
            "    Print this help.",
        ];
        return ctx.help(&lines);
    } else {
        return ctx.unknown_subcommand(sub, "CONFIG");
    }
    Outcome::Unchanged
}

/// TIME
pub fn time(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let us = unix_us();
    ctx.reply.array(2);
    ctx.reply.bulk_int((us / 1_000_000) as i64);
    ctx.reply.bulk_int((us % 1_000_000) as i64);
    Outcome::Unchanged
}

/// MEMORY USAGE key [SAMPLES count] | HELP
pub fn memory(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let sub = args.get(1);
    if is(sub, "usage") && (args.len() == 3 || args.len() == 5) {
        if args.len() == 5 {
            if !is(args.get(3), "samples") {
                return ctx.fail(SYNTAX);
            }
            if parse_i64(args.get(4)).is_none() {
                return ctx.fail(NOT_INTEGER);
            }
        }
        let key = args.get(2);
        let mut lock = ctx.node.store.lock(key);
        match lock.peek(key) {
            Some(i) => {
                ctx.reply.int(lock.shard.usage_at(i) as i64);
            }
            None => ctx.reply.null(),
        }
    } else if is(sub, "help") && args.len() == 2 {
        let lines = [
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value.",
            "HELP",
            "    Print this help.",
        ];
        return ctx.help(&lines);
    } else {
        return ctx.unknown_subcommand(sub, "MEMORY");
    }
    Outcome::Unchanged
}

/// The encoding Redis would report for a value.
fn encoding(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Str(v) if v.len() <= 20 && super::args::parse_i64(v).is_some() => "int",
        ValueRef::Str(v) if v.len() <= 44 => "embstr",
        ValueRef::Str(_) => "raw",
        ValueRef::Hash(h)
            if h.len() <= 128 && h.iter().all(|(f, v)| f.len() <= 64 && v.len() <= 64) =>
        {
            "listpack"
        }
        ValueRef::Hash(_) => "hashtable",
    }
}

/// OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT key, OBJECT HELP
pub fn object(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let sub = args.get(1);
    if is(sub, "help") && args.len() == 2 {
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>.",
            "REFCOUNT <key>",
            "    Return the reference count of the object stored at <key>.",
            "HELP",
            "    Print this help.",
        ];
        return ctx.help(&lines);
    }
    if args.len() != 3
        || !["encoding", "freq", "idletime", "refcount"]
            .iter()
            .any(|s| is(sub, s))
    {
        return ctx.unknown_subcommand(sub, "OBJECT");
    }
    let key = args.get(2);
    let mut lock = ctx.node.store.lock(key);
    let Some(index) = lock.peek(key) else {
        ctx.reply.null();
        return Outcome::Unchanged;
    };
    let (now, policy) = (lock.now, lock.policy);
    let entry = lock.shard.at(index);
    if is(sub, "encoding") {
        let name = encoding(lock.shard.value(index));
        ctx.reply.bulk(name.as_bytes());
    } else if is(sub, "refcount") {
        ctx.reply.int(1);
    } else if is(sub, "freq") {
        if !policy.is_lfu() {
            return ctx.fail("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        ctx.reply.int(i64::from(lfu_counter(entry.access(), now)));
    } else {
        if policy.is_lfu() {
            return ctx.fail("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        ctx.reply
            .int((lru_idle_ms(entry.access(), now) / 1000) as i64);
    }
    Outcome::Unchanged
}

/// SLOWLOG GET [count] | LEN | RESET | HELP
pub fn slowlog(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let sub = args.get(1);
    if is(sub, "get") && args.len() <= 3 {
        let count = match args.try_get(2) {
            None => 10,
            Some(b"-1") => usize::MAX,
            Some(n) => match parse_usize(n) {
                Some(n) => n,
                None => return ctx.fail("ERR count should be greater than or equal to -1"),
            },
        };
        let entries = ctx.node.slowlog.newest(count);
        ctx.reply.array(entries.len());
        for e in entries {
            ctx.reply.array(6);
            ctx.reply.int(e.id as i64);
            ctx.reply.int(e.timestamp);
            ctx.reply.int(e.micros);
            ctx.reply.array(e.args.len());
            for a in &e.args {
                ctx.reply.bulk(a);
            }
            ctx.reply.bulk(e.peer.as_bytes());
            ctx.reply.bulk(e.name.as_bytes());
        }
    } else if is(sub, "len") && args.len() == 2 {
        ctx.reply.int(ctx.node.slowlog.len() as i64);
    } else if is(sub, "reset") && args.len() == 2 {
        ctx.node.slowlog.reset();
        ctx.reply.ok();
    } else if is(sub, "help") && args.len() == 2 {
        let lines = [
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help.",
        ];
        return ctx.help(&lines);
    } else {
        return ctx.unknown_subcommand(sub, "SLOWLOG");
    }
    Outcome::Unchanged
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]: stops accepting, lets
/// connections finish their replies, exits. Nothing is saved: the node
/// keeps no data on disk.
pub fn shutdown(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    for arg in args.iter_from(1) {
        if is(arg, "abort") {
            return ctx.fail("ERR No shutdown in progress.");
        }
        if !["nosave", "save", "now", "force"]
            .iter()
            .any(|o| is(arg, o))
        {
            return ctx.fail(SYNTAX);
        }
    }
    tracing::info!(client = %ctx.session.handle.peer, "SHUTDOWN received");
    ctx.node.stop.trigger();
    ctx.after = After::Close;
    Outcome::Unchanged
}

/// DEBUG: refused, as Redis does by default.
pub fn debug(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.fail("ERR DEBUG command not allowed.")
}
