//! FCALL, FCALL_RO and FUNCTION, as Redis 7 has them, on the same engine
//! as EVAL (`crate::scripting`, its functions' Lua state). FUNCTION LOAD,
//! DELETE, FLUSH and RESTORE reach every node of a cluster. FUNCTION
//! DUMP's payload is this node's own format (the libraries' code with a
//! checksum), not Redis's RDB encoding: DUMP then RESTORE round-trips
//! between ringcache nodes, not to or from Redis.

use super::script_host::{submit, Run};
use super::scripting::{
    broadcast, check_slots, engine_on_lua_thread, engine_result, kill, owned, split_keys, Answer,
    NUMKEYS,
};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F};
use super::subcommands::SubSpec;
use super::{container, Ctx, Outcome};
use crate::glob::matches_nocase;
use crate::protocol::Args;
use crate::scripting::{Kind, LibraryInfo, RestorePolicy};

const S: C = C::SCRIPTING;
/// FCALL's flags: not from scripts, not in MONITOR, on stale replicas.
const FCALL: F = F::NOSCRIPT
    .with(F::SKIP_MONITOR)
    .with(F::STALE)
    .with(F::NO_MANDATORY_KEYS);
const WRITE: F = F::NOSCRIPT.with(F::WRITE);

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("fcall", fcall, -3, FCALL.with(F::MAY_REPLICATE), "scripting", "Invokes a function.").keys(NUMKEYS).acl(S),
    Cmd::new("fcall_ro", fcall_ro, -3, FCALL.with(F::READONLY), "scripting", "Invokes a read-only function.").keys(NUMKEYS).acl(S),
    Cmd::new("function", container, -2, F::NONE, "scripting", "A container for function commands.").subcommands(FUNCTION_SUBCOMMANDS),
];

/// FUNCTION's subcommands.
#[rustfmt::skip]
const FUNCTION_SUBCOMMANDS: &[SubSpec] = &[
    SubSpec::new("delete", function_delete, 3, WRITE, &["DELETE <library-name>", "    Delete a library and all its functions."]).acl(S),
    SubSpec::new("dump", function_dump, 2, F::NOSCRIPT, &["DUMP", "    Return a serialized payload representing the current functions, can be restored using FUNCTION RESTORE command"]).acl(S),
    SubSpec::new("flush", function_flush, -2, WRITE, &["FLUSH [ASYNC|SYNC]", "    Delete all the libraries.", "    When called without the optional mode argument, the behavior is determined by the", "    lazyfree-lazy-user-flush configuration directive. Valid modes are:", "    * ASYNC: Asynchronously flush the libraries.", "    * SYNC: Synchronously flush the libraries."]).acl(S),
    SubSpec::new("kill", function_kill, 2, F::NOSCRIPT.with(F::ALLOW_BUSY), &["KILL", "    Kill the current running function."]).acl(S),
    SubSpec::new("list", function_list, -2, F::NOSCRIPT, &["LIST [WITHCODE] [LIBRARYNAME <pattern>]", "    Return information about the functions and libraries.", "    Options:", "    * WITHCODE: also return the code of the libraries", "    * LIBRARYNAME: pattern for library name"]).acl(S),
    SubSpec::new("load", function_load, -3, WRITE.with(F::DENYOOM), &["LOAD [REPLACE] <FUNCTION CODE>", "    Create a new library with the given library name and code."]).acl(S),
    SubSpec::new("restore", function_restore, -3, WRITE.with(F::DENYOOM), &["RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]", "    Restore the libraries represented by the given payload, it is possible to give a restore policy to", "    control how to handle existing libraries (default APPEND):", "    * FLUSH: delete all existing libraries.", "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.", "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old", "      libraries with the new libraries (notice that even on this option there is a chance of failure", "      in case of functions name collision with another library)."]).acl(S),
    SubSpec::new("stats", function_stats, 2, F::NOSCRIPT.with(F::ALLOW_BUSY), &["STATS", "    Return information about the current function running."]).acl(S),
];

/// FCALL function numkeys [key ...] [arg ...]
fn fcall(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_function(ctx, args, false)
}

/// FCALL_RO function numkeys [key ...] [arg ...]
fn fcall_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_function(ctx, args, true)
}

fn run_function(ctx: &mut Ctx<'_>, args: Args<'_>, read_only: bool) -> Outcome {
    let name = String::from_utf8_lossy(args.get(1)).into_owned();
    let exists = engine_result(ctx, |engine| Ok(engine.functions.flags(&name).is_some()));
    match exists {
        Ok(true) => {}
        Ok(false) => return ctx.fail("ERR Function not found"),
        Err(error) => return ctx.fail(&error),
    }
    let mut invocation = match split_keys(args, "ERR Bad number of keys provided") {
        Ok(invocation) => invocation,
        Err(error) => return ctx.fail(error),
    };
    invocation.read_only = read_only;
    if let Err(error) = check_slots(ctx, &invocation.keys) {
        return ctx.fail(error);
    }
    let keys = invocation.keys.clone();
    submit(
        ctx,
        Run {
            kind: Kind::Function,
            name: name.clone(),
            command: owned(args),
            keys,
            work: Box::new(move |engine, host, reply| {
                engine.functions.call(&name, &invocation, host, reply);
            }),
        },
    )
}

/// FUNCTION DELETE library-name
fn function_delete(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let name = String::from_utf8_lossy(args.get(2)).into_owned();
    match engine_result(ctx, |engine| Ok(engine.functions.delete(&name))) {
        Ok(true) => {
            refresh_counts(ctx);
            broadcast(ctx, args, Answer::Ok);
            Outcome::Unchanged
        }
        Ok(false) => ctx.fail("ERR Library not found"),
        Err(error) => ctx.fail(&error),
    }
}

/// FUNCTION DUMP
fn function_dump(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    match engine_result(ctx, |engine| Ok(engine.functions.dump())) {
        Ok(payload) => {
            ctx.reply.bulk(&payload);
            Outcome::Unchanged
        }
        Err(error) => ctx.fail(&error),
    }
}

/// FUNCTION FLUSH [ASYNC|SYNC]
fn function_flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let mode_ok = match args.len() {
        2 => true,
        3 => {
            args.get(2).eq_ignore_ascii_case(b"sync") || args.get(2).eq_ignore_ascii_case(b"async")
        }
        _ => false,
    };
    if !mode_ok {
        return ctx.fail("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    if let Err(error) = engine_result(ctx, |engine| {
        engine.functions.flush();
        Ok(())
    }) {
        return ctx.fail(&error);
    }
    refresh_counts(ctx);
    broadcast(ctx, args, Answer::Ok);
    Outcome::Unchanged
}

/// FUNCTION KILL
fn function_kill(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    kill(ctx, Kind::Function)
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern]
fn function_list(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut at = 2;
    while at < args.len() {
        let arg = args.get(at);
        if arg.eq_ignore_ascii_case(b"withcode") && !with_code {
            with_code = true;
        } else if arg.eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
            let Some(p) = args.try_get(at + 1) else {
                return ctx.fail("ERR library name argument was not given");
            };
            pattern = Some(p);
            at += 1;
        } else {
            return ctx.fail(&format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            ));
        }
        at += 1;
    }
    let libraries = match engine_result(ctx, |engine| Ok(engine.functions.list())) {
        Ok(libraries) => libraries,
        Err(error) => return ctx.fail(&error),
    };
    let shown: Vec<&LibraryInfo> = libraries
        .iter()
        .filter(|l| pattern.is_none_or(|p| matches_nocase(p, l.name.as_bytes())))
        .collect();
    ctx.reply.array(shown.len());
    for library in shown {
        ctx.reply.map(if with_code { 4 } else { 3 });
        ctx.reply.bulk(b"library_name");
        ctx.reply.bulk(library.name.as_bytes());
        ctx.reply.bulk(b"engine");
        ctx.reply.bulk(b"LUA");
        ctx.reply.bulk(b"functions");
        ctx.reply.array(library.functions.len());
        for function in &library.functions {
            ctx.reply.map(3);
            ctx.reply.bulk(b"name");
            ctx.reply.bulk(function.name.as_bytes());
            ctx.reply.bulk(b"description");
            ctx.reply
                .opt_bulk(function.description.as_deref().map(str::as_bytes));
            ctx.reply.bulk(b"flags");
            let flags = function.flags.names();
            ctx.reply.set(flags.len());
            for flag in flags {
                ctx.reply.simple(flag);
            }
        }
        if with_code {
            ctx.reply.bulk(b"library_code");
            ctx.reply.bulk(&library.code);
        }
    }
    Outcome::Unchanged
}

/// FUNCTION LOAD [REPLACE] function-code
fn function_load(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let mut replace = false;
    for option in args.iter_from(2).take(args.len() - 3) {
        if !option.eq_ignore_ascii_case(b"replace") {
            let option = String::from_utf8_lossy(option);
            return ctx.fail(&format!("ERR Unknown option given: {option}"));
        }
        replace = true;
    }
    let code = args.get(args.len() - 1);
    let code = code.to_vec();
    match engine_on_lua_thread(ctx, move |engine| engine.functions.load(&code, replace)) {
        Ok(name) => {
            refresh_counts(ctx);
            broadcast(ctx, args, Answer::Bulk(name.as_bytes()));
            Outcome::Unchanged
        }
        Err(error) => ctx.fail(&error),
    }
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]
fn function_restore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let policy =
        match args.try_get(3) {
            None => RestorePolicy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"flush") => RestorePolicy::Flush,
            Some(p) if p.eq_ignore_ascii_case(b"append") => RestorePolicy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"replace") => RestorePolicy::Replace,
            Some(_) => return ctx.fail(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    if args.len() > 4 {
        return ctx.fail(
            "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
        );
    }
    let payload = args.get(2).to_vec();
    match engine_on_lua_thread(ctx, move |engine| {
        engine.functions.restore(&payload, policy)
    }) {
        Ok(()) => {
            refresh_counts(ctx);
            broadcast(ctx, args, Answer::Ok);
            Outcome::Unchanged
        }
        Err(error) => ctx.fail(&error),
    }
}

/// FUNCTION STATS
fn function_stats(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let running = &ctx.node.scripts.running;
    if running.kind() == Some(Kind::Eval) {
        return ctx.fail(Kind::Eval.busy_error());
    }
    let current = running.stats();
    // While a function runs past the threshold the engine is busy: the
    // counts are kept aside for this.
    let (libraries, functions) = ctx.node.scripts.counts();
    ctx.reply.map(2);
    ctx.reply.bulk(b"running_script");
    match current {
        None => ctx.reply.null(),
        Some((name, command, duration)) => {
            ctx.reply.map(3);
            ctx.reply.bulk(b"name");
            ctx.reply.bulk(name.as_bytes());
            ctx.reply.bulk(b"command");
            ctx.reply.array(command.len());
            for arg in &command {
                ctx.reply.bulk(arg);
            }
            ctx.reply.bulk(b"duration_ms");
            ctx.reply.int(duration as i64);
        }
    }
    ctx.reply.bulk(b"engines");
    ctx.reply.map(1);
    ctx.reply.bulk(b"LUA");
    ctx.reply.map(2);
    ctx.reply.bulk(b"libraries_count");
    ctx.reply.int(libraries as i64);
    ctx.reply.bulk(b"functions_count");
    ctx.reply.int(functions as i64);
    Outcome::Unchanged
}

/// Keeps FUNCTION STATS's counts where it reads them while a function
/// runs (and holds the engine).
fn refresh_counts(ctx: &Ctx<'_>) {
    if let Ok(counts) = engine_result(ctx, |engine| Ok(engine.functions.counts())) {
        ctx.node.scripts.set_counts(counts);
    }
}
