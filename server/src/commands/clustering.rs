//! The cluster's commands as the table lists them: CLUSTER, READONLY,
//! READWRITE, ASKING, WAIT, and the commands nodes send each other
//! (RCPEER, RCAPPLY, RCHANDOFF, RCREAD, RCEXPORT). Their handlers hand the
//! request to the cluster layer ([`super::ClusterPort`]); on a node without
//! one they answer as a standalone Redis does.

use super::args::{parse_i64, NOT_INTEGER};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, Routing};
use super::{Ctx, Outcome};
use crate::protocol::Args;

/// Redis's error for cluster commands on a node without cluster support.
pub const DISABLED: &str = "ERR This instance has cluster support disabled";

/// Which of the cluster's commands a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterOp {
    /// CLUSTER <subcommand>.
    Cluster,
    /// READONLY.
    ReadOnly,
    /// READWRITE.
    ReadWrite,
    /// ASKING.
    Asking,
    /// WAIT numreplicas timeout.
    Wait,
    /// RCPEER: the peer handshake.
    Peer,
    /// RCAPPLY: a key's state from its primary or previous owner.
    Apply,
    /// RCHANDOFF: a previous owner finished streaming slots.
    Handoff,
    /// RCREAD: a read run here without routing.
    Read,
    /// RCEXPORT: a page of a shard's entries for a new owner.
    Export,
}

const LSF: F = F::LOADING.with(F::STALE).with(F::FAST);
const CN: C = C::CONNECTION;
const THEIRS: Routing = Routing::Cluster;
/// Only nodes send it, over an authenticated link.
const PEER: F = F::PEER.with(F::NOSCRIPT).with(F::LOADING).with(F::STALE);

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("cluster", cluster, -2, F::NOSCRIPT.with(F::LOADING).with(F::STALE), "cluster", "A container for Redis Cluster commands.").routing(THEIRS),
    Cmd::new("readonly", readonly, 1, LSF, "cluster", "Enables read-only queries for a connection to a Redis Cluster replica node.").acl(CN).routing(THEIRS),
    Cmd::new("readwrite", readwrite, 1, LSF, "cluster", "Enables read-write queries for a connection to a Redis Cluster replica node.").acl(CN).routing(THEIRS),
    Cmd::new("asking", asking, 1, F::FAST, "cluster", "Signals that a cluster client is following an -ASK redirect.").acl(CN).routing(THEIRS),
    Cmd::new("wait", wait, 3, F::NOSCRIPT, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.").acl(CN).routing(THEIRS),
    Cmd::new("rcpeer", rcpeer, 2, F::HANDSHAKE.with(F::NO_AUTH).with(F::NOSCRIPT), "cluster", "The peer handshake of two ringcache nodes.").routing(THEIRS),
    Cmd::new("rcapply", rcapply, -5, PEER, "cluster", "Applies a key's state at a version, unless the local copy is newer (replication and handoff).").routing(THEIRS),
    Cmd::new("rchandoff", rchandoff, -1, PEER, "cluster", "Tells a previous owner that a new owner took these slots.").routing(THEIRS),
    Cmd::new("rcread", rcread, -2, PEER, "cluster", "Runs a read-only command on this node without routing it.").routing(THEIRS),
    Cmd::new("rcexport", rcexport, -3, PEER, "cluster", "Returns one page of the entries of some slots, for a new owner pulling them.").routing(THEIRS),
];

/// Hands `args` to the cluster layer as `op`; `standalone` answers on a
/// node without one.
fn to_cluster(
    ctx: &mut Ctx<'_>,
    op: ClusterOp,
    args: Args<'_>,
    standalone: fn(&mut Ctx<'_>, Args<'_>) -> Outcome,
) -> Outcome {
    match ctx.with_cluster(|port, ctx| port.run(ctx, op, args)) {
        Some(outcome) => outcome,
        None => standalone(ctx, args),
    }
}

fn disabled(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.fail(DISABLED)
}

/// CLUSTER <subcommand>.
pub fn cluster(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, ClusterOp::Cluster, args, disabled)
}

/// READONLY: reads may be served by a replica of the key's slot.
pub fn readonly(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, ClusterOp::ReadOnly, args, disabled)
}

/// READWRITE: back to reading from primaries.
pub fn readwrite(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, ClusterOp::ReadWrite, args, disabled)
}

/// ASKING: accepted for cluster clients.
pub fn asking(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, ClusterOp::Asking, args, disabled)
}

/// WAIT numreplicas timeout: on a node without replicas no replica can
/// confirm anything, so the answer is 0 at once.
pub fn wait(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, ClusterOp::Wait, args, |ctx, args| {
        let (Some(_), Some(timeout)) = (parse_i64(args.get(1)), parse_i64(args.get(2))) else {
            return ctx.fail(NOT_INTEGER);
        };
        if timeout < 0 {
            return ctx.fail("ERR timeout is negative");
        }
        ctx.reply.int(0);
        Outcome::Unchanged
    })
}

/// RCPEER: the node's side of the peer handshake.
pub fn rcpeer(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, ClusterOp::Peer, args, disabled)
}

/// RCAPPLY: applies one key's state unless the local copy is newer.
pub fn rcapply(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, ClusterOp::Apply, args, disabled)
}

/// RCHANDOFF: the previous owner finished streaming these slots.
pub fn rchandoff(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, ClusterOp::Handoff, args, disabled)
}

/// RCREAD command...: a read run here as it is.
pub fn rcread(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, ClusterOp::Read, args, disabled)
}

/// RCEXPORT shard slot...: one page of a shard's entries.
pub fn rcexport(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, ClusterOp::Export, args, disabled)
}
