//! Server administration: TIME, SLOWLOG, SHUTDOWN, DEBUG.

use super::args::{is, parse_usize, SYNTAX};
use super::spec::flag_sets::{ADMIN, LS};
use super::spec::{CommandSpec as Cmd, Flags as F, Routing};
use super::subcommands::SubSpec as Sub;
use super::{After, Ctx, Outcome};
use crate::protocol::Args;
use crate::store::unix_us;

const HERE: Routing = Routing::ThisNode;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("time", time, 1, LS.with(F::FAST), "server", "Returns the server time."),
    Cmd::new("slowlog", super::container, -2, F::NONE, "server", "A container for slow log commands.").routing(HERE).subcommands(&[
        Sub::new("get", slowlog_get, -2, ADMIN, &["GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 mean all)."]),
        Sub::new("len", slowlog_len, 2, ADMIN, &["LEN", "    Return the length of the slowlog."]),
        Sub::new("reset", slowlog_reset, 2, ADMIN, &["RESET", "    Reset the slowlog."]),
    ]),
    Cmd::new("shutdown", shutdown, -1, ADMIN.with(F::NO_MULTI).with(F::ALLOW_BUSY), "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.").routing(HERE),
    Cmd::new("debug", debug, -2, ADMIN, "server", "A container for debugging commands.").routing(HERE),
];

/// TIME
pub fn time(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let us = unix_us();
    ctx.reply.array(2);
    ctx.reply.bulk_int((us / 1_000_000) as i64);
    ctx.reply.bulk_int((us % 1_000_000) as i64);
    Outcome::Unchanged
}

/// SLOWLOG GET [count]
fn slowlog_get(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if args.len() > 3 {
        return ctx.unknown_subcommand(args.get(1), "SLOWLOG");
    }
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
    Outcome::Unchanged
}

/// SLOWLOG LEN
fn slowlog_len(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.reply.int(ctx.node.slowlog.len() as i64);
    Outcome::Unchanged
}

/// SLOWLOG RESET
fn slowlog_reset(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.node.slowlog.reset();
    ctx.reply.ok();
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
