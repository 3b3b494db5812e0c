//! LATENCY LATEST | HISTORY event | RESET [event ...] | HELP.

use super::args::is;
use super::spec::{CommandSpec as Cmd, Flags as F, Routing};
use super::{Ctx, Outcome};
use crate::protocol::Args;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("latency", latency, -2, F::ADMIN.with(F::NOSCRIPT).with(F::LOADING).with(F::STALE), "server", "A container for latency diagnostics commands.").routing(Routing::ThisNode),
];

/// LATENCY subcommands.
pub fn latency(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let sub = args.get(1);
    let monitor = &ctx.node.latency;
    if is(sub, "latest") && args.len() == 2 {
        let events = monitor.snapshot();
        ctx.reply.array(events.len());
        for (name, record) in events {
            let (at, ms) = record.history.back().copied().unwrap_or((0, 0));
            ctx.reply.array(4);
            ctx.reply.bulk(name.as_bytes());
            ctx.reply.int(at);
            ctx.reply.int(ms as i64);
            ctx.reply.int(record.max_ms as i64);
        }
    } else if is(sub, "history") && args.len() == 3 {
        let events = monitor.snapshot();
        let record = events
            .into_iter()
            .find(|(name, _)| args.get(2).eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, r)| r)
            .unwrap_or_default();
        ctx.reply.array(record.history.len());
        for (at, ms) in record.history {
            ctx.reply.array(2);
            ctx.reply.int(at);
            ctx.reply.int(ms as i64);
        }
    } else if is(sub, "reset") {
        let names: Vec<&[u8]> = args.iter_from(2).collect();
        ctx.reply.int(monitor.reset(&names) as i64);
    } else if is(sub, "help") && args.len() == 2 {
        let lines = [
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HELP",
            "    Print this help.",
        ];
        return ctx.help(&lines);
    } else {
        return ctx.unknown_subcommand(sub, "LATENCY");
    }
    Outcome::Unchanged
}
