//! The consistent hash ring that places the 16384 slots on nodes.
//!
//! Every node puts `weight * vnodes_per_weight` points (virtual nodes) on a
//! 64-bit ring and every slot has a point of its own ([`slot_point`]). A
//! slot's owners are the first `copies` *distinct* nodes met walking
//! clockwise from the slot's point: the primary first, then the replicas.
//! [`Placement`] precomputes the owners of every slot, so routing a key is
//! [`key_slot`](crate::key_slot) plus one table lookup.
//!
//! Placement is a pure function of the member names and weights. Points are
//! a stable hash (xxh3-64) of explicit bytes, never of a Rust value, so every
//! node and client, on any platform and any version, computes the same owners
//! for the same member set. That gives the properties the cluster relies on:
//! survivors of a failure agree on the new owners without talking to each
//! other, a node that restarts under the same name gets its slots back, a
//! joining node takes slots only *from* the others (no slot moves between two
//! old nodes), and a leaving node's slots are the only ones that move.

use xxhash_rust::xxh3::xxh3_64;

use crate::slot::SLOT_COUNT;

/// Virtual nodes per unit of weight.
pub const DEFAULT_VNODES: u32 = 256;

/// Most distinct nodes a ring holds: every node must have a [`NodeIndex`].
pub const MAX_NODES: usize = NodeIndex::MAX as usize + 1;

/// Largest weight a node has on the ring (a larger one counts as this):
/// weights come from other nodes' gossip, and a ring's size grows with
/// their sum.
pub const MAX_WEIGHT: u32 = 1000;

/// A node as the ring sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingMember {
    /// The node's stable name. It, not the address, decides the node's
    /// points, so it must survive restarts for the node to get its slots back.
    pub name: String,
    /// Relative capacity: the node gets `weight * vnodes_per_weight` points,
    /// hence about `weight` times the slots of a weight-1 node. A weight of 0
    /// is treated as 1, since a member without points could never own a slot.
    pub weight: u32,
}

impl RingMember {
    /// A member called `name` with weight 1.
    pub fn new(name: impl Into<String>) -> RingMember {
        RingMember {
            name: name.into(),
            weight: 1,
        }
    }
}

/// Index of a node in a Placement's node list (sorted by name).
///
/// Indices are only meaningful with the [`Ring`] or [`Placement`] that gave
/// them: adding or removing a member shifts the indices of the nodes sorted
/// after it. Compare nodes across placements by name.
pub type NodeIndex = u16;

/// The ring: sorted points (hash, node index).
///
/// It holds `sum(weight) * vnodes_per_weight` points of 10 bytes (16 with
/// padding), so weights are meant to be small integers.
#[derive(Clone, Debug)]
pub struct Ring {
    /// Members, deduplicated, weights at least 1, sorted by name; the
    /// position of a member is its [`NodeIndex`].
    nodes: Vec<RingMember>,
    /// Every virtual node, sorted by (hash, node index). The node index
    /// breaks the (unlikely) tie of equal hashes so the walk order, hence
    /// placement, does not depend on the order the points were generated in;
    /// since indices follow name order, two old nodes keep their relative
    /// order when members join or leave.
    points: Vec<(u64, NodeIndex)>,
}

impl Ring {
    /// Builds the ring of `members`, each with `weight * vnodes_per_weight`
    /// points ([`DEFAULT_VNODES`] is the usual `vnodes_per_weight`; 0 is
    /// treated as 1).
    ///
    /// Members are deduplicated by name (a name given twice keeps its largest
    /// weight, so the result never depends on the order of `members`) and
    /// sorted by name; see [`Ring::nodes`].
    ///
    /// Beyond [`MAX_NODES`] distinct names, the first ones by name are
    /// kept (every node that sees the same members keeps the same ones).
    pub fn new(members: &[RingMember], vnodes_per_weight: u32) -> Ring {
        let nodes = normalize(members);
        let per_weight = u64::from(vnodes_per_weight.max(1));
        let total = nodes.iter().fold(0u64, |total, node| {
            total.saturating_add(u64::from(node.weight) * per_weight)
        });
        // Only a capacity hint: a total that does not fit fails in push.
        let mut points = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        let mut scratch = Vec::new();
        // `normalize` caps the node count at MAX_NODES, so the zip with every
        // NodeIndex value numbers all nodes.
        for (index, node) in (0..=NodeIndex::MAX).zip(&nodes) {
            for vnode in 0..u64::from(node.weight) * per_weight {
                points.push((vnode_point(&mut scratch, &node.name, vnode), index));
            }
        }
        points.sort_unstable();
        Ring { nodes, points }
    }

    /// The members, sorted by name; a member's position is its [`NodeIndex`].
    /// Weights read as the ring uses them (0 became 1).
    pub fn nodes(&self) -> &[RingMember] {
        &self.nodes
    }

    /// Walk clockwise from `point`, returning up to `count` distinct node indices (primary first).
    ///
    /// `out` is cleared first. The walk starts at the first ring point at or
    /// after `point`, wraps past `u64::MAX` to the start of the ring, skips
    /// points of nodes it already chose, and stops once it has `count` nodes,
    /// so it returns `min(count, nodes().len())` indices and never goes round
    /// more than once.
    pub fn walk(&self, point: u64, count: usize, out: &mut Vec<NodeIndex>) {
        out.clear();
        let count = count.min(self.nodes.len());
        if count == 0 {
            return;
        }
        let start = self.points.partition_point(|&(hash, _)| hash < point);
        let (before, from) = self.points.split_at(start);
        let clockwise = from.iter().chain(before).map(|&(_, node)| node);
        // Replica counts are small, where scanning `out` beats a bitmap; a
        // walk for many nodes (a full preference list) marks them instead.
        if count <= 16 {
            for node in clockwise {
                if !out.contains(&node) {
                    out.push(node);
                    if out.len() == count {
                        return;
                    }
                }
            }
        } else {
            let mut seen = vec![false; self.nodes.len()];
            for node in clockwise {
                let seen = &mut seen[usize::from(node)];
                if !*seen {
                    *seen = true;
                    out.push(node);
                    if out.len() == count {
                        return;
                    }
                }
            }
        }
    }
}

/// Deduplicates `members` by name (keeping the largest weight), clamps
/// weights to 1..=[`MAX_WEIGHT`], sorts by name and keeps the first
/// [`MAX_NODES`].
fn normalize(members: &[RingMember]) -> Vec<RingMember> {
    let mut nodes: Vec<RingMember> = members
        .iter()
        .map(|member| RingMember {
            name: member.name.clone(),
            weight: member.weight.clamp(1, MAX_WEIGHT),
        })
        .collect();
    // Largest weight first within a name, so `dedup_by` (which keeps the
    // first of a run) keeps it whatever order the caller used.
    nodes.sort_unstable_by(|a, b| a.name.cmp(&b.name).then(b.weight.cmp(&a.weight)));
    nodes.dedup_by(|later, first| later.name == first.name);
    nodes.truncate(MAX_NODES);
    nodes
}

/// The ring point of virtual node `vnode` of the node called `name`:
/// xxh3-64 (seed 0) of the bytes of `name`, then the byte `#`, then `vnode`
/// in decimal ASCII without padding (`node-a#0`, `node-a#1`, ...).
///
/// This format defines where every slot lives, across all nodes and
/// versions: changing it moves every slot in a mixed-version cluster. Weight
/// w uses vnodes `0..w * vnodes_per_weight`, so raising a weight adds points
/// and keeps the old ones. `scratch` is reused to avoid an allocation per
/// point.
fn vnode_point(scratch: &mut Vec<u8>, name: &str, vnode: u64) -> u64 {
    let mut digits = itoa::Buffer::new();
    scratch.clear();
    scratch.extend_from_slice(name.as_bytes());
    scratch.push(b'#');
    scratch.extend_from_slice(digits.format(vnode).as_bytes());
    xxh3_64(scratch)
}

/// The ring point of a slot: the slots spread evenly around the ring,
/// `slot << 50` (16384 = 2^14 slots over a 2^64 ring).
///
/// Like the virtual-node points, it must never change. Even spacing keeps
/// neighbouring slots on the same arc, so a member set yields a few hundred
/// contiguous slot ranges (what `CLUSTER SLOTS` reports and a handoff
/// streams) instead of nearly one per slot, with the same balance (measured
/// over 200 name sets: worst node 0.80 to 1.22 of its fair share, as with
/// hashed slot points).
pub fn slot_point(slot: u16) -> u64 {
    u64::from(slot) << 50
}

/// Precomputed owners of every slot: O(1) routing.
///
/// Built once per member set (a ring version) and then read-only, so it can
/// be shared behind an `Arc` and swapped atomically when membership changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Members sorted by name; a member's position is its [`NodeIndex`].
    nodes: Vec<RingMember>,
    /// Owners per slot (after the cap at the node count).
    copies: usize,
    /// `copies` owners for each slot in slot order, primary first: the
    /// owners of slot `s` are `owners[s * copies..(s + 1) * copies]`. Flat,
    /// so the table is one allocation (96 KiB for 3 copies) and a lookup
    /// touches one cache line.
    owners: Box<[NodeIndex]>,
}

impl Placement {
    /// `copies` = 1 + replicas; capped at the number of nodes. Empty members -> a placement with no owners.
    ///
    /// `copies` of 0 is treated as 1: every slot has a primary as long as
    /// there is a node. Members and `vnodes_per_weight` are read as by
    /// [`Ring::new`].
    ///
    /// Beyond [`MAX_NODES`] distinct names, the first ones by name are
    /// kept (every node that sees the same members keeps the same ones).
    pub fn new(members: &[RingMember], vnodes_per_weight: u32, copies: usize) -> Placement {
        let ring = Ring::new(members, vnodes_per_weight);
        let copies = copies.clamp(1, MAX_NODES).min(ring.nodes.len());
        let mut owners = Vec::with_capacity(usize::from(SLOT_COUNT) * copies);
        let mut slot_owners = Vec::with_capacity(copies);
        for slot in 0..SLOT_COUNT {
            // With at least one node the walk always finds `copies` distinct
            // nodes: every node has at least one point.
            ring.walk(slot_point(slot), copies, &mut slot_owners);
            owners.extend_from_slice(&slot_owners);
        }
        Placement {
            nodes: ring.nodes,
            copies,
            owners: owners.into_boxed_slice(),
        }
    }

    /// The members, sorted by name; a member's position is its [`NodeIndex`].
    pub fn nodes(&self) -> &[RingMember] {
        &self.nodes
    }

    /// The index of the node called `name`, if it is a member.
    pub fn node_index(&self, name: &str) -> Option<NodeIndex> {
        let index = self
            .nodes
            .binary_search_by(|node| node.name.as_str().cmp(name))
            .ok()?;
        // Always fits: a placement holds at most MAX_NODES nodes.
        NodeIndex::try_from(index).ok()
    }

    /// Owners per slot: the requested copies capped at the node count, 0
    /// when there are no nodes.
    pub fn copies(&self) -> usize {
        self.copies
    }

    /// The owners of `slot`, primary first. Empty if there are no nodes, or
    /// if `slot` is not below [`SLOT_COUNT`].
    #[inline]
    pub fn owners(&self, slot: u16) -> &[NodeIndex] {
        let start = usize::from(slot) * self.copies;
        self.owners
            .get(start..start + self.copies)
            .unwrap_or_default()
    }

    /// The primary owner of `slot`, if there is one.
    #[inline]
    pub fn primary(&self, slot: u16) -> Option<NodeIndex> {
        self.owners(slot).first().copied()
    }

    /// Whether `node` holds a copy (primary or replica) of `slot`.
    #[inline]
    pub fn is_owner(&self, slot: u16, node: NodeIndex) -> bool {
        self.owners(slot).contains(&node)
    }

    /// Contiguous slot ranges with identical owner lists, in slot order: (start, end_inclusive, owners).
    ///
    /// The ranges cover `0..=16383` exactly once; with no nodes that is one
    /// range with no owners. This is the shape `CLUSTER SLOTS` and
    /// `CLUSTER SHARDS` report: about 500 ranges for 3 nodes with 256
    /// virtual nodes each.
    pub fn ranges(&self) -> Vec<(u16, u16, Vec<NodeIndex>)> {
        let mut ranges = Vec::new();
        let mut start = 0;
        for slot in 1..SLOT_COUNT {
            if self.owners(slot) != self.owners(start) {
                ranges.push((start, slot - 1, self.owners(start).to_vec()));
                start = slot;
            }
        }
        ranges.push((start, SLOT_COUNT - 1, self.owners(start).to_vec()));
        ranges
    }

    /// Number of slots a node is primary for, and replica for.
    pub fn slot_counts(&self, node: NodeIndex) -> (usize, usize) {
        if self.copies == 0 {
            return (0, 0);
        }
        self.owners
            .chunks_exact(self.copies)
            .fold((0, 0), |(primary, replica), owners| {
                if owners[0] == node {
                    (primary + 1, replica)
                } else if owners[1..].contains(&node) {
                    (primary, replica + 1)
                } else {
                    (primary, replica)
                }
            })
    }
}

#[cfg(test)]
mod tests;
