//! Members coming back: a node cut off by a partition (or wrongly declared
//! dead) returns to the ring under the same generation, holding whatever
//! it had; meanwhile the others took writes for the slots they share with
//! it. Each side only pulled slots it newly owned, so neither would fetch
//! the other's writes and the copies would stay apart (an acknowledged
//! write served stale by the returning primary). Knowing which members are
//! such returns lets the transfer planner pull the shared slots both ways
//! (versions keep the newer state of each key).
//!
//! A member restarted since (a new generation) comes back empty, and
//! pulls like any joining node: nothing to fetch from it.

use std::collections::HashSet;

use parking_lot::Mutex;

use super::view::ClusterView;

/// Generations remembered; past this, only the current ring's are kept (a
/// member back after that many others passed through is not reconciled).
const REMEMBERED: usize = 4096;

/// The (name, generation) of every member this node has seen in its ring.
#[derive(Debug, Default)]
pub struct RingHistory {
    // A short critical section with no `.await`.
    seen: Mutex<HashSet<(String, u64)>>,
}

fn ring_members(view: &ClusterView) -> impl Iterator<Item = (String, u64)> + '_ {
    view.placement
        .nodes()
        .iter()
        .filter_map(|node| view.member(&node.name))
        .map(|m| (m.name.clone(), m.generation))
}

impl RingHistory {
    /// The members of `next`'s ring that were not in `old`'s but were in
    /// an earlier ring under the same generation; then remembers `next`'s.
    pub fn returning(&self, old: &ClusterView, next: &ClusterView) -> HashSet<String> {
        let mut seen = self.seen.lock();
        let returning = ring_members(next)
            .filter(|(name, _)| old.placement.node_index(name).is_none())
            .filter(|member| seen.contains(member))
            .map(|(name, _)| name)
            .collect();
        seen.extend(ring_members(next));
        if seen.len() > REMEMBERED {
            let current: HashSet<(String, u64)> = ring_members(next).collect();
            seen.retain(|member| current.contains(member));
        }
        returning
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cluster::membership::{MemberInfo, MemberState};

    fn view(members: &[(&str, u64)]) -> ClusterView {
        let members = members
            .iter()
            .enumerate()
            .map(|(i, (name, generation))| MemberInfo {
                name: name.to_string(),
                resp_addr: ([127, 0, 0, 1], 7000 + i as u16).into(),
                gossip_addr: ([127, 0, 0, 1], 17000 + i as u16).into(),
                state: MemberState::Active,
                weight: 1,
                generation: *generation,
            })
            .collect();
        ClusterView::build(0, Arc::new(members), "a", 16, 2)
    }

    #[test]
    fn members_back_under_the_same_generation_are_returning() {
        let history = RingHistory::default();
        let all = view(&[("a", 1), ("b", 1), ("c", 1)]);
        let without_c = view(&[("a", 1), ("b", 1)]);
        assert!(
            history.returning(&view(&[("a", 1)]), &all).is_empty(),
            "first sight"
        );
        assert!(history.returning(&all, &without_c).is_empty());
        let back = history.returning(&without_c, &all);
        assert_eq!(back, HashSet::from(["c".to_string()]));
        // Restarted (a new generation): it comes back empty, not returning.
        history.returning(&all, &without_c);
        let restarted = view(&[("a", 1), ("b", 1), ("c", 2)]);
        assert!(history.returning(&without_c, &restarted).is_empty());
    }
}
