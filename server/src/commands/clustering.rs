//! The cluster's commands as the table lists them: CLUSTER, READONLY,
//! READWRITE, ASKING, WAIT, and the commands nodes send each other
//! (RCPEER, RCAPPLY, RCHANDOFF, RCREAD, RCEXPORT, RCDUMP, RCWAIT, RCSTATES,
//! RCTRACK, RCINVALIDATE, RCKEYLESS). Their handlers hand the request to the cluster
//! layer ([`super::ClusterPort`]); on a node without one they answer as a
//! standalone Redis does.

use super::args::{parse_i64, NOT_INTEGER};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, Routing};
use super::subcommands::SubSpec as Sub;
use super::{Ctx, Outcome};
use crate::protocol::Args;

/// Redis's error for cluster commands on a node without cluster support.
pub const DISABLED: &str = "ERR This instance has cluster support disabled";

/// Which of the cluster's commands a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterOp {
    /// CLUSTER <subcommand>.
    Cluster = 0,
    /// READONLY.
    ReadOnly = 1,
    /// READWRITE.
    ReadWrite = 2,
    /// ASKING.
    Asking = 3,
    /// WAIT numreplicas timeout.
    Wait = 4,
    /// RCPEER: the peer handshake.
    Peer = 5,
    /// RCAPPLY: a key's state from its primary or previous owner.
    Apply = 6,
    /// RCHANDOFF: a previous owner finished streaming slots.
    Handoff = 7,
    /// RCREAD: a read run here without routing.
    Read = 8,
    /// RCEXPORT: a page of a shard's entries for a new owner.
    Export = 9,
    /// RCDUMP: copies of some keys, for a node computing a read over keys
    /// that live on several nodes.
    Dump = 10,
    /// RCWAIT: how many replicas hold the keys' current states here (WAIT
    /// through a forwarding node).
    AwaitReplicas = 11,
    /// RCSTATES: the keys' states here, for their primary counting copies.
    States = 12,
    /// RCTRACK: a read forwarded for a tracking client (its keys
    /// remembered for the forwarding node).
    Track = 13,
    /// RCINVALIDATE: keys another node's tracking must tell its clients of.
    Invalidate = 14,
    /// RCEFFECT: a write's effect on a large collection, run on the copy
    /// at the version it changed.
    Effect = 15,
}

/// Every [`ClusterOp`], at the index of its value.
const OPS: [ClusterOp; 16] = [
    ClusterOp::Cluster,
    ClusterOp::ReadOnly,
    ClusterOp::ReadWrite,
    ClusterOp::Asking,
    ClusterOp::Wait,
    ClusterOp::Peer,
    ClusterOp::Apply,
    ClusterOp::Handoff,
    ClusterOp::Read,
    ClusterOp::Export,
    ClusterOp::Dump,
    ClusterOp::AwaitReplicas,
    ClusterOp::States,
    ClusterOp::Track,
    ClusterOp::Invalidate,
    ClusterOp::Effect,
];

const LSF: F = F::LOADING.with(F::STALE).with(F::FAST);
const CN: C = C::CONNECTION;
const THEIRS: Routing = Routing::Cluster;
/// Only nodes send it, over an authenticated link.
const PEER: F = F::PEER.with(F::NOSCRIPT).with(F::LOADING).with(F::STALE);
/// A CLUSTER subcommand's flags.
const SUB: F = F::NOSCRIPT.with(F::LOADING).with(F::STALE);
const CLUSTER: usize = ClusterOp::Cluster as usize;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("cluster", super::container, -2, F::NONE, "cluster", "A container for Redis Cluster commands.").routing(THEIRS).subcommands(&[
        Sub::new("countkeysinslot", via::<CLUSTER>, 3, SUB, &["COUNTKEYSINSLOT <slot>", "    Return the number of keys in <slot> held by this node."]),
        Sub::new("getkeysinslot", via::<CLUSTER>, 4, SUB, &["GETKEYSINSLOT <slot> <count>", "    Return key names stored by this node in a slot."]),
        Sub::new("info", via::<CLUSTER>, 2, SUB, &["INFO", "    Return information about the cluster."]),
        Sub::new("keyslot", via::<CLUSTER>, 3, SUB, &["KEYSLOT <key>", "    Return the hash slot for <key>."]),
        Sub::new("myid", via::<CLUSTER>, 2, SUB, &["MYID", "    Return the node id."]),
        Sub::new("nodes", via::<CLUSTER>, 2, SUB, &["NODES", "    Return cluster configuration seen by node."]),
        Sub::new("shards", via::<CLUSTER>, 2, SUB, &["SHARDS", "    Return information about slot range mappings and the nodes."]),
        Sub::new("slots", via::<CLUSTER>, 2, SUB, &["SLOTS", "    Return information about slots range mappings."]),
    ]),
    Cmd::new("readonly", via::<{ ClusterOp::ReadOnly as usize }>, 1, LSF, "cluster", "Enables read-only queries for a connection to a Redis Cluster replica node.").acl(CN).routing(THEIRS),
    Cmd::new("readwrite", via::<{ ClusterOp::ReadWrite as usize }>, 1, LSF, "cluster", "Enables read-write queries for a connection to a Redis Cluster replica node.").acl(CN).routing(THEIRS),
    Cmd::new("asking", via::<{ ClusterOp::Asking as usize }>, 1, F::FAST, "cluster", "Signals that a cluster client is following an -ASK redirect.").acl(CN).routing(THEIRS),
    Cmd::new("wait", wait, 3, F::NOSCRIPT, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.").acl(CN).routing(THEIRS),
    Cmd::new("rcpeer", via::<{ ClusterOp::Peer as usize }>, 2, F::HANDSHAKE.with(F::NO_AUTH).with(F::NOSCRIPT), "cluster", "The peer handshake of two ringcache nodes.").routing(THEIRS),
    Cmd::new("rceffect", via::<{ ClusterOp::Effect as usize }>, -7, PEER.with(F::EXCLUSIVE), "cluster", "Runs the writes its primary ran on large collections, on the copies at the versions they changed (replication by effect).").routing(THEIRS),
    Cmd::new("rcapply", via::<{ ClusterOp::Apply as usize }>, -5, PEER, "cluster", "Applies a key's state at a version, unless the local copy is newer (replication and handoff).").routing(THEIRS),
    Cmd::new("rchandoff", via::<{ ClusterOp::Handoff as usize }>, -1, PEER, "cluster", "Tells a previous owner that a new owner took these slots.").routing(THEIRS),
    Cmd::new("rcread", via::<{ ClusterOp::Read as usize }>, -2, PEER, "cluster", "Runs a read-only command on this node without routing it.").routing(THEIRS),
    Cmd::new("rcexport", via::<{ ClusterOp::Export as usize }>, -3, PEER, "cluster", "Returns one page of the entries of some slots, for a new owner pulling them.").routing(THEIRS),
    Cmd::new("rctrack", via::<{ ClusterOp::Track as usize }>, -2, PEER.with(F::CARRIES_READ), "cluster", "Runs a read-only command here for another node's tracking client, remembering its keys for that node.").routing(THEIRS),
    Cmd::new("rcinvalidate", via::<{ ClusterOp::Invalidate as usize }>, -1, PEER, "cluster", "Tells this node's tracking clients that another node changed these keys (none: flushed).").routing(THEIRS),
    Cmd::new("rcdump", via::<{ ClusterOp::Dump as usize }>, -2, PEER, "cluster", "Returns copies of some keys, for a node computing a read over keys of several nodes.").routing(THEIRS),
    Cmd::new("rcwait", via::<{ ClusterOp::AwaitReplicas as usize }>, -4, PEER, "cluster", "Waits until enough replicas hold the current states of some keys, and returns how many do.").routing(THEIRS),
    Cmd::new("rcstates", via::<{ ClusterOp::States as usize }>, -2, PEER, "cluster", "Returns the presence and version of some keys here, for their primary counting its replicas' copies.").routing(THEIRS),
    Cmd::new("rckeyless", keyless_part, -2, PEER, "cluster", "Runs a keyless command (DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHALL, FLUSHDB) for the slots this node is primary for: its part of another node's cluster-wide answer.").routing(THEIRS),
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

/// Hands a request to the cluster layer as `OPS[OP]` (a standalone node
/// answers that cluster support is disabled).
fn via<const OP: usize>(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    to_cluster(ctx, OPS[OP], args, disabled)
}

/// RCKEYLESS command...: runs one of the commands the table routes as
/// [`Routing::Keyless`] here, for this node's own slots (the request comes
/// from another node, so it is not asked further).
fn keyless_part(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if ctx.cluster.is_none() {
        return ctx.fail(DISABLED);
    }
    let inner = args.slice_from(1);
    match super::lookup(inner.get(0)) {
        Some(spec) if spec.routing == Routing::Keyless => super::execute(ctx, inner),
        _ => ctx.fail("ERR RCKEYLESS runs keyless commands only"),
    }
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
