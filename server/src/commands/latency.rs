//! LATENCY LATEST | HISTORY event | RESET [event ...] | DOCTOR.

use super::spec::flag_sets::ADMIN;
use super::spec::{CommandSpec as Cmd, Flags as F, Routing};
use super::subcommands::SubSpec as Sub;
use super::{Ctx, Outcome};
use crate::protocol::Args;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("latency", super::container, -2, F::NONE, "server", "A container for latency diagnostics commands.").routing(Routing::ThisNode).subcommands(&[
        Sub::new("latest", latest, 2, ADMIN, &["LATEST", "    Return the latest latency samples for all events."]),
        Sub::new("history", history, 3, ADMIN, &["HISTORY <event>", "    Return time-latency samples for the <event> class."]),
        Sub::new("doctor", doctor, 2, ADMIN, &["DOCTOR", "    Return a human readable latency analysis report."]),
        Sub::new("reset", reset, -2, ADMIN, &["RESET [<event> ...]", "    Reset latency data of one or more <event> classes.", "    (default: reset all data for all event classes)"]),
    ]),
];

/// LATENCY LATEST
fn latest(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let events = ctx.node.latency.snapshot();
    ctx.reply.array(events.len());
    for (name, record) in events {
        let (at, ms) = record.history.back().copied().unwrap_or((0, 0));
        ctx.reply.array(4);
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.int(at);
        ctx.reply.int(ms as i64);
        ctx.reply.int(record.max_ms as i64);
    }
    Outcome::Unchanged
}

/// LATENCY HISTORY event
fn history(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let record = ctx
        .node
        .latency
        .snapshot()
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
    Outcome::Unchanged
}

/// LATENCY DOCTOR: a report on the latency monitor's events.
fn doctor(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let slower_than = ctx.node.config.read().slowlog_log_slower_than;
    let report = crate::latency::doctor(&ctx.node.latency, slower_than);
    ctx.reply.verbatim(report.as_bytes());
    Outcome::Unchanged
}

/// LATENCY RESET [event ...]
fn reset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let names: Vec<&[u8]> = args.iter_from(2).collect();
    ctx.reply.int(ctx.node.latency.reset(&names) as i64);
    Outcome::Unchanged
}
