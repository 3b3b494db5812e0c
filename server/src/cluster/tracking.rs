//! Client tracking across nodes: a node that forwards a tracking client's
//! read to the key's owner remembers the keys for its client and sends the
//! read as `RCTRACK <read>`; the owner remembers them for "another node"
//! (`tracking::REMOTE`) and runs the read. When the owner later changes
//! such a key (a write, expiry, eviction, a flush, the table's bound), it
//! sends `RCINVALIDATE key...` (no key: a flush) to every other node, and
//! each tells its own clients that read the key through it.
//!
//! A ring change that gives a slot another primary invalidates, on every
//! node, the keys of that slot its tables hold ([`after_ring_change`]):
//! the old primary's clients and the nodes that read through it, and the
//! nodes that forwarded reads to an old primary that is gone.
//!
//! A read split across owners (MGET over several nodes) sends its parts
//! as RCTRACK the same way. Reads gathered here from copies of other
//! nodes' keys (SUNION over several nodes) are not tracked at the owners.

use std::sync::{Arc, Weak};

use bytes::{Bytes, BytesMut};

use super::view::ClusterView;
use super::Cluster;
use crate::commands::{self, Ctx, Flags, Outcome};
use crate::protocol::Args;
use crate::state::NodeState;
use crate::store::SlotSet;

/// Makes the node's tracking send changes of keys other nodes track to
/// every other member (the cluster is held weakly: the node's state
/// outlives no cluster through it).
pub(super) fn install(cluster: &Arc<Cluster>, node: &NodeState) {
    let cluster: Weak<Cluster> = Arc::downgrade(cluster);
    node.tracking
        .set_remote(Box::new(move |keys: Option<Vec<Bytes>>| {
            let Some(cluster) = cluster.upgrade() else {
                return;
            };
            let mut args: Vec<&[u8]> = vec![b"RCINVALIDATE"];
            if let Some(keys) = &keys {
                args.extend(keys.iter().map(|k| &k[..]));
            }
            let mut command = BytesMut::new();
            ringcache_proto::resp::write_command(&mut command, &args);
            // A node that misses it (gone, restarting) has no client that
            // read through it any more, or will be told at its next flush.
            cluster.send_to_other_nodes(command.freeze());
        }));
}

/// The ring changed from `old` to `next`: the keys of every slot whose
/// primary changed are invalidated for the clients that read them through
/// this node, and for other nodes' clients that read them here (see
/// [`crate::tracking::Tracking::slots_moved`]). Primaries are compared by
/// name: a node's index differs between views.
pub(super) fn after_ring_change(node: &NodeState, old: &ClusterView, next: &ClusterView) {
    if !node.tracking.any() {
        return;
    }
    let moved = SlotSet::from_fn(|slot| primary_name(old, slot) != primary_name(next, slot));
    if moved.is_empty() {
        return;
    }
    let lost_primary =
        (0..ringcache_proto::SLOT_COUNT).any(|slot| moved.contains(slot) && old.is_primary(slot));
    node.tracking
        .slots_moved(&node.clients, &moved, lost_primary);
}

/// The name of `slot`'s primary in `view`.
fn primary_name(view: &ClusterView, slot: u16) -> Option<&str> {
    view.placement.primary(slot).map(|node| view.name(node))
}

/// An encoded request (`*n` and its bulks) with `wrapper` put in front of
/// its arguments; `None` when it is not one.
pub(super) fn wrap_encoded(wrapper: &[u8], command: &Bytes) -> Option<Bytes> {
    let header_end = command.windows(2).position(|w| w == b"\r\n")?;
    let count: i64 = std::str::from_utf8(command.get(1..header_end)?)
        .ok()?
        .parse()
        .ok()?;
    if command.first() != Some(&b'*') {
        return None;
    }
    let mut out = BytesMut::with_capacity(command.len() + wrapper.len() + 16);
    ringcache_proto::resp::write_len(&mut out, b'*', count + 1);
    ringcache_proto::resp::write_bulk(&mut out, wrapper);
    out.extend_from_slice(&command[header_end + 2..]);
    Some(out.freeze())
}

/// RCTRACK command...: remembers the keys of the read for other nodes'
/// tracking clients (before and after it runs, as for a client here),
/// then runs it here.
pub(super) fn track_read(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let inner = args.slice_from(1);
    let Some(spec) = commands::lookup(inner.get(0)).filter(|s| s.has(Flags::READONLY)) else {
        return ctx.fail("ERR RCTRACK runs read-only commands only");
    };
    let node = ctx.node;
    let positions = spec.keys.positions(inner);
    let keys = || positions.iter().filter_map(|&p| inner.try_get(p));
    node.tracking.remember_remote(&node.clients, keys());
    let outcome = commands::execute(ctx, inner);
    node.tracking.remember_remote(&node.clients, keys());
    outcome
}

/// RCINVALIDATE [key ...]: another node changed these keys (none: it was
/// flushed); this node's clients that read them through it are told.
pub(super) fn invalidated(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let node = ctx.node;
    let keys: Vec<&[u8]> = args.iter_from(1).collect();
    if keys.is_empty() {
        node.tracking.flush_from_peer(&node.clients);
    } else {
        node.tracking.invalidate_from_peer(&node.clients, &keys);
    }
    ctx.reply.ok();
    Outcome::Unchanged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_request_gains_one_argument_in_front() {
        let mut plain = BytesMut::new();
        ringcache_proto::resp::write_command(&mut plain, &["MGET", "a", "b"]);
        let mut expected = BytesMut::new();
        ringcache_proto::resp::write_command(&mut expected, &["RCTRACK", "MGET", "a", "b"]);
        assert_eq!(
            wrap_encoded(b"RCTRACK", &plain.freeze()),
            Some(expected.freeze())
        );
        assert_eq!(
            wrap_encoded(b"RCTRACK", &Bytes::from_static(b"+OK\r\n")),
            None
        );
    }
}
