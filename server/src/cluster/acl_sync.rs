//! ACL users for nodes that join: when a member appears (new, or back
//! with a new generation), this node sends it its user set as RCACL
//! (`commands::acl_sync`); the joiner keeps the newest set it is sent,
//! so it enforces the same users as the nodes already there.

use std::collections::HashSet;

use super::membership::MemberInfo;
use super::Cluster;
use crate::state::NodeState;

/// The members already greeted, by name and generation.
#[derive(Debug, Default)]
pub struct Greeted(HashSet<(String, u64)>);

impl Greeted {
    /// Sends this node's user set (if it ever changed) to each member of
    /// `members` not greeted before, then forgets members that left.
    pub fn greet(&mut self, cluster: &Cluster, node: &NodeState, members: &[MemberInfo]) {
        let request = crate::commands::acl_sync::request(node);
        let me = &cluster.settings.node_name;
        for member in members.iter().filter(|m| &m.name != me) {
            let key = (member.name.clone(), member.generation);
            if self.0.insert(key) {
                if let Some(request) = &request {
                    // Fire and forget: a node that misses it gets the
                    // next change, or the set from another node.
                    drop(cluster.peers.send(member.resp_addr, false, request.clone()));
                }
            }
        }
        self.0.retain(|(name, generation)| {
            members
                .iter()
                .any(|m| &m.name == name && m.generation == *generation)
        });
    }
}
