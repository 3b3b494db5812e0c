//! MONITOR, and the one place that shows a command to the monitors
//! ([`show`]): every command admitted and run (or forwarded) from a client
//! connection, a transaction's commands as EXEC runs them, a script's
//! commands (as `lua`), but not the administrative ones nor those marked
//! `skip_monitor`, as Redis 7. The feeds themselves are `crate::monitor`.

use std::sync::Arc;

use super::script_host::effective_flags;
use super::spec::{Categories, CommandSpec as Cmd, Flags as F, Routing};
use super::{Ctx, Outcome, Session};
use crate::clients::Mode;
use crate::monitor::{Feed, Origin};
use crate::protocol::Args;
use crate::state::NodeState;
use crate::stats::ServerStats;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("monitor", monitor, 1, F::ADMIN.with(F::NOSCRIPT).with(F::LOADING).with(F::STALE), "server", "Listens for all requests received by the server in real-time.").routing(Routing::ThisNode),
];

/// MONITOR: from now on this connection also receives one line per
/// command the node runs, until RESET or QUIT.
fn monitor(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    // Inside EXEC the client expects one reply per command.
    if ctx.atomic {
        return ctx.fail("ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    // Redis ignores a second MONITOR, without a reply.
    if ctx.session.monitor.is_some() {
        return Outcome::Unchanged;
    }
    let limit = ctx.node.config.read().client_output_buffer_limit.normal;
    let feed = Feed::new(ctx.session.handle.clone(), limit);
    ctx.node.monitors.add(feed.clone());
    ctx.session.monitor = Some(feed);
    ctx.session.handle.set_mode(Mode::Monitor, true);
    ctx.reply.ok();
    Outcome::Unchanged
}

/// Ends this session's monitoring, if it monitors (RESET, the connection
/// closing).
pub fn stop(node: &NodeState, session: &mut Session) {
    if let Some(feed) = session.monitor.take() {
        node.monitors.remove(feed.id());
        session.handle.set_mode(Mode::Monitor, false);
    }
}

/// True for a command shown before it runs: a script call (EVAL, FCALL,
/// marked `skip_monitor` so the ordinary showing after the run passes it)
/// comes before the commands the script runs, as Redis's script runner
/// shows it. The others are shown after they ran (EXEC after its
/// commands, SELECT with its new database).
#[inline]
pub fn shown_first(spec: &Cmd) -> bool {
    spec.acl.has(Categories::SCRIPTING) && spec.has(F::SKIP_MONITOR)
}

/// Shows a request of `session` (against database `db`) to the monitors;
/// `script`: a command a script runs; `first`: a script call shown before
/// it runs ([`shown_first`]). Nothing unless someone monitors.
#[inline]
pub fn show(
    node: &Arc<NodeState>,
    session: &Session,
    db: usize,
    spec: &Cmd,
    args: Args<'_>,
    script: bool,
    first: bool,
) {
    if !node.monitors.any() || session.peer {
        return;
    }
    let flags = effective_flags(spec, args);
    if flags.has(F::ADMIN) || (flags.has(F::SKIP_MONITOR) && !first) {
        return;
    }
    let origin = if script {
        Origin::Lua
    } else {
        Origin::Client(session.handle.peer)
    };
    let cut = node
        .monitors
        .feed(db, origin, args, &|position| spec.redacts(args, position));
    if cut > 0 {
        ServerStats::add(&node.stats.output_limit_disconnects, cut);
    }
}
