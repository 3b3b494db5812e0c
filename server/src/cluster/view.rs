//! One version of the cluster as this node sees it: the live members, the
//! ring built from the active ones, and each ring node's RESP address.
//! Views are immutable; a membership change builds a new one and publishes
//! it with an atomic pointer swap, so routing never takes a lock.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use ringcache_proto::ring::{NodeIndex, Placement, RingMember};

use super::membership::{MemberInfo, MemberState};
use crate::store::SlotSet;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// Increases by one with every change of the ring's members.
    pub version: u64,
    /// Owners of every slot.
    pub placement: Placement,
    /// RESP address of each ring node, by [`NodeIndex`].
    pub addrs: Vec<SocketAddr>,
    /// This node's index in the ring, if it is in it.
    pub me: Option<NodeIndex>,
    /// Every live member, in the ring or not (joining, leaving).
    pub members: Arc<Vec<MemberInfo>>,
    /// The slots this node is primary for, built the first time asked.
    primaries: OnceLock<Arc<SlotSet>>,
}

impl ClusterView {
    /// The view of `members` for the node named `me`: active members make
    /// the ring, with `copies` owners per slot.
    pub fn build(
        version: u64,
        members: Arc<Vec<MemberInfo>>,
        me: &str,
        vnodes: u32,
        copies: usize,
    ) -> ClusterView {
        let active: Vec<&MemberInfo> = members
            .iter()
            .filter(|m| m.state == MemberState::Active)
            .collect();
        let ring_members: Vec<RingMember> = active
            .iter()
            .map(|m| RingMember {
                name: m.name.clone(),
                weight: m.weight,
            })
            .collect();
        let placement = Placement::new(&ring_members, vnodes, copies);
        let addrs = placement
            .nodes()
            .iter()
            .map(|node| {
                active
                    .iter()
                    .find(|m| m.name == node.name)
                    .map(|m| m.resp_addr)
                    .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
            })
            .collect();
        ClusterView {
            version,
            me: placement.node_index(me),
            placement,
            addrs,
            members,
            primaries: OnceLock::new(),
        }
    }

    /// True if the ring's members (names and weights) differ from `other`'s.
    pub fn ring_differs(&self, other: &ClusterView) -> bool {
        self.placement.nodes() != other.placement.nodes() || self.addrs != other.addrs
    }

    /// RESP address of ring node `node`.
    pub fn addr(&self, node: NodeIndex) -> SocketAddr {
        self.addrs[node as usize]
    }

    /// Name of ring node `node`.
    pub fn name(&self, node: NodeIndex) -> &str {
        &self.placement.nodes()[node as usize].name
    }

    /// The primary of `slot`: its index and address.
    pub fn primary(&self, slot: u16) -> Option<(NodeIndex, SocketAddr)> {
        self.placement
            .primary(slot)
            .map(|node| (node, self.addr(node)))
    }

    /// True if this node is the primary of `slot`.
    #[inline]
    pub fn is_primary(&self, slot: u16) -> bool {
        self.me.is_some() && self.placement.primary(slot) == self.me
    }

    /// The slots this node is primary for: its key space, as DBSIZE, KEYS
    /// and SCAN see it.
    pub fn primary_slots(&self) -> Arc<SlotSet> {
        self.primaries
            .get_or_init(|| Arc::new(SlotSet::from_fn(|slot| self.is_primary(slot))))
            .clone()
    }

    /// True if this node holds a copy of `slot`.
    #[inline]
    pub fn is_owner(&self, slot: u16) -> bool {
        self.me.is_some_and(|me| self.placement.is_owner(slot, me))
    }

    /// The live member named `name` (ring or not).
    pub fn member(&self, name: &str) -> Option<&MemberInfo> {
        self.members.iter().find(|m| m.name == name)
    }
}
