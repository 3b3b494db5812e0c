//! The large sorted-set encoding ("skiplist" in Redis's words): a skip
//! list with spans, as Redis's, so ranks are found in O(log n), plus a hash
//! index from member to node, so a member's score is found in O(1).
//!
//! Nodes live in a slab and link to each other by index (no `unsafe`);
//! the hash index stores node indexes only and hashes the member bytes the
//! node holds, so each member is kept once. A node's upper links (three
//! nodes in four have none) live in one shared array, `uppers`, at an
//! offset the node keeps. A link carries the score of the node it leads
//! to and where that node's upper links are: a search step above level 0
//! reads one place in `uppers` and never the node itself, so it costs one
//! cache miss where reading the node first would cost two; only a tie in
//! score reads the node's member.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};
use slab::Slab;

use super::{alloc_size, order};
use crate::store::buckets;

/// No node (the end of a level).
const NIL: u32 = u32::MAX;
/// The header, which is not a node of the slab.
const HEAD: u32 = u32::MAX - 1;
/// Highest level a node can have (Redis's ZSKIPLIST_MAXLEVEL).
const MAX_LEVEL: usize = 32;

/// One forward link of one level.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Link {
    next: u32,
    /// Nodes crossed by following the link (1 to the next node).
    span: u32,
    /// The score of node `next` (meaningless at the end of a level).
    score: f64,
    /// Where node `next`'s upper links start in `uppers` (`NIL` if it has
    /// none, or at the end of a level).
    up: u32,
}

const END: Link = Link {
    next: NIL,
    span: 0,
    score: 0.0,
    up: NIL,
};

/// A member, its score and its links.
#[derive(Debug, Clone)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    /// The previous node on level 0 (`NIL` for the first).
    back: u32,
    /// Level 0, which every node has.
    low: Link,
    /// Where levels 1 and up start in `uppers` (`NIL`: level 0 only).
    up: u32,
    /// Its number of levels.
    levels: u8,
}

impl Node {
    fn levels(&self) -> usize {
        usize::from(self.levels)
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub(super) struct SkipList {
    nodes: Slab<Node>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    head: [Link; MAX_LEVEL],
    /// Every node's upper links, a run of `levels - 1` per node.
    uppers: Vec<Link>,
    /// Runs of `uppers` given back, by length, for nodes of that height.
    free_runs: [Vec<u32>; MAX_LEVEL],
    tail: u32,
    /// Levels in use (at least 1).
    level: usize,
    /// Allocator bytes of the members.
    outside: usize,
    /// Changes whenever `index` rehashes (members move to other buckets),
    /// so a ZSCAN cursor from before can tell.
    layout: u16,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList {
            nodes: Slab::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            head: [END; MAX_LEVEL],
            uppers: Vec::new(),
            free_runs: std::array::from_fn(|_| Vec::new()),
            tail: NIL,
            level: 1,
            outside: 0,
            layout: 0,
        }
    }
}

/// Redis's level distribution: each level up with probability 1/4.
fn random_level() -> usize {
    let mut level = 1;
    while level < MAX_LEVEL && fastrand::u32(..4) == 0 {
        level += 1;
    }
    level
}

fn node_outside(member_len: usize) -> usize {
    alloc_size(member_len)
}

impl SkipList {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Heap bytes, close to what the allocator hands out.
    pub fn heap_size(&self) -> usize {
        let slots = self.nodes.capacity() * std::mem::size_of::<Node>();
        let capacity = self.index.capacity();
        let buckets = match capacity {
            0 => 0,
            1..=3 => 4,
            4..=7 => 8,
            _ => capacity / 7 * 8,
        };
        let index = if buckets == 0 {
            0
        } else {
            alloc_size(buckets * (std::mem::size_of::<u32>() + 1) + 16)
        };
        let uppers = alloc_size(self.uppers.capacity() * std::mem::size_of::<Link>());
        let free: usize = self
            .free_runs
            .iter()
            .map(|runs| alloc_size(runs.capacity() * std::mem::size_of::<u32>()))
            .sum();
        alloc_size(std::mem::size_of::<Self>())
            + alloc_size(slots)
            + index
            + uppers
            + free
            + self.outside
    }

    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    /// ZSCAN's walk of the members (with their scores) from `cursor` on,
    /// by the member index's buckets ([`buckets::scan`]).
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], f64),
    ) -> u64 {
        buckets::scan(&self.index, self.layout, cursor, count, |&id| {
            let node = self.node(id);
            visit(&node.member, node.score);
        })
    }

    fn node(&self, id: u32) -> &Node {
        &self.nodes[id as usize]
    }

    fn link(&self, at: u32, level: usize) -> Link {
        if at == HEAD {
            return self.head[level];
        }
        let node = self.node(at);
        match level {
            0 => node.low,
            _ if level < node.levels() => self.uppers[(node.up as usize) + level - 1],
            _ => END,
        }
    }

    fn link_mut(&mut self, at: u32, level: usize) -> &mut Link {
        if at == HEAD {
            return &mut self.head[level];
        }
        let node = &mut self.nodes[at as usize];
        match level {
            0 => &mut node.low,
            // Callers only walk levels a node has.
            _ => &mut self.uppers[(node.up as usize) + level - 1],
        }
    }

    /// The node holding `member`.
    fn find(&self, member: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.index
            .find(self.hash(member), |&id| {
                *nodes[id as usize].member == *member
            })
            .copied()
    }

    /// `member`'s score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|id| self.node(id).score)
    }

    /// True if the node `link` leads to comes before (`score`, `member`):
    /// decided by the link's copy of its score, unless the scores tie.
    #[inline]
    fn precedes(&self, link: Link, score: f64, member: &[u8]) -> bool {
        if link.score != score {
            // Scores are never NaN, and -0 equals 0, as in `order`.
            return link.score < score;
        }
        *self.node(link.next).member < *member
    }

    /// For each level, the last node before (`score`, `member`) and the
    /// rank (1-based, the header being 0) of that node.
    fn path(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let (mut x, mut x_up) = (HEAD, NIL);
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            loop {
                // Above level 0, x's link is read from `uppers` at the
                // offset the link into x carried: the node is not touched.
                let link = match (x, i) {
                    (HEAD, _) => self.head[i],
                    (_, 0) => self.node(x).low,
                    _ => self.uppers[(x_up as usize) + i - 1],
                };
                if link.next == NIL || !self.precedes(link, score, member) {
                    break;
                }
                rank[i] += link.span;
                (x, x_up) = (link.next, link.up);
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Links node `id` (in the slab, not linked yet) in at its order, with
    /// `levels` levels (its links' count).
    fn link_in(&mut self, id: u32, levels: usize) {
        let (score, up) = (self.node(id).score, self.node(id).up);
        let (mut update, mut rank) = {
            let node = self.node(id);
            self.path(node.score, &node.member)
        };
        let len = self.len() as u32;
        if levels > self.level {
            for i in self.level..levels {
                rank[i] = 0;
                update[i] = HEAD;
                self.head[i].span = len - 1;
            }
            self.level = levels;
        }
        for i in 0..levels {
            let before = self.link(update[i], i);
            let crossed = rank[0] - rank[i];
            *self.link_mut(id, i) = Link {
                span: before.span - crossed,
                ..before
            };
            *self.link_mut(update[i], i) = Link {
                next: id,
                span: crossed + 1,
                score,
                up,
            };
        }
        for (i, &at) in update.iter().enumerate().take(self.level).skip(levels) {
            self.link_mut(at, i).span += 1;
        }
        let back = if update[0] == HEAD { NIL } else { update[0] };
        self.nodes[id as usize].back = back;
        match self.node(id).low.next {
            NIL => self.tail = id,
            next => self.nodes[next as usize].back = id,
        }
    }

    /// Unlinks node `id` (still in the slab), given the last node before it
    /// on each level.
    fn unlink(&mut self, id: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &at) in update.iter().enumerate().take(self.level) {
            let before = self.link(at, i);
            if before.next == id {
                let own = self.link(id, i);
                *self.link_mut(at, i) = Link {
                    span: before.span + own.span - 1,
                    ..own
                };
            } else {
                self.link_mut(at, i).span -= 1;
            }
        }
        let (back, next) = (self.node(id).back, self.node(id).low.next);
        match next {
            NIL => self.tail = back,
            next => self.nodes[next as usize].back = back,
        }
        while self.level > 1 && self.head[self.level - 1].next == NIL {
            self.level -= 1;
        }
    }

    /// Sets `member`'s score; true if the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        if let Some(id) = self.find(member) {
            let node = self.node(id);
            if node.score == score {
                return false;
            }
            let levels = node.levels();
            let (update, _) = self.path(node.score, &node.member);
            self.unlink(id, &update);
            self.nodes[id as usize].score = score;
            // Linked again with its old height, so its upper links stay.
            self.link_in(id, levels);
            return false;
        }
        let levels = random_level();
        let node = Node {
            member: member.into(),
            score,
            back: NIL,
            low: END,
            up: self.take_run(levels - 1),
            // At most MAX_LEVEL (32).
            levels: levels as u8,
        };
        self.outside += node_outside(member.len());
        // Node indexes fit 32 bits: four billion members would take
        // hundreds of GiB before the slab got there.
        let id = self.nodes.insert(node) as u32;
        buckets::before_insert(&self.index, &mut self.layout);
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.index.insert_unique(hasher.hash_one(member), id, |&i| {
            hasher.hash_one(&nodes[i as usize].member[..])
        });
        self.link_in(id, levels);
        true
    }

    /// Removes `member`; its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        let node = self.node(id);
        let (update, _) = self.path(node.score, &node.member);
        self.unlink(id, &update);
        Some(self.take(id).1)
    }

    /// Removes node `id` (already unlinked) from the slab and the index.
    fn take(&mut self, id: u32) -> (Box<[u8]>, f64) {
        let hash = self.hash(&self.node(id).member);
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == id) {
            entry.remove();
        }
        let node = self.nodes.remove(id as usize);
        self.outside -= node_outside(node.member.len());
        if node.levels() > 1 {
            self.free_runs[node.levels() - 1].push(node.up);
        }
        (node.member, node.score)
    }

    /// A run of `len` upper links (ended), reused if one of that length
    /// was given back; `NIL` for none.
    fn take_run(&mut self, len: usize) -> u32 {
        if len == 0 {
            return NIL;
        }
        if let Some(at) = self.free_runs[len].pop() {
            self.uppers[at as usize..at as usize + len].fill(END);
            return at;
        }
        // Offsets fit 32 bits: the array would take hundreds of GiB first.
        let at = self.uppers.len() as u32;
        self.uppers.resize(self.uppers.len() + len, END);
        at
    }

    /// The number of leading members for which `below(score, member)`
    /// holds; `below` must hold for a prefix of the order and then never
    /// again.
    pub fn count_while(&self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let link = self.link(x, i);
                if link.next == NIL {
                    break;
                }
                let next = self.node(link.next);
                if !below(next.score, &next.member) {
                    break;
                }
                rank += link.span as usize;
                x = link.next;
            }
        }
        rank
    }

    /// The 0-based rank of `member` and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        let rank = self.count_while(|s, m| order(s, m, score, member) == Ordering::Less);
        Some((rank, score))
    }

    /// The node at 0-based `rank`.
    fn at_rank(&self, rank: usize) -> u32 {
        if rank >= self.len() {
            return NIL;
        }
        let target = rank + 1;
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let link = self.link(x, i);
                if link.next == NIL || traversed + link.span as usize > target {
                    break;
                }
                traversed += link.span as usize;
                x = link.next;
            }
            if traversed == target {
                return x;
            }
        }
        NIL
    }

    /// Members from 0-based `rank` on, towards higher scores (`forward`)
    /// or lower ones.
    pub fn walk(&self, rank: usize, forward: bool) -> Walk<'_> {
        Walk {
            list: self,
            at: self.at_rank(rank),
            forward,
        }
    }

    /// Removes the members of ranks `from..to` (0-based), handing each to
    /// `sink` in order.
    pub fn remove_ranks(&mut self, from: usize, to: usize, mut sink: impl FnMut(Box<[u8]>, f64)) {
        let to = to.min(self.len());
        if from >= to {
            return;
        }
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let link = self.link(x, i);
                if link.next == NIL || traversed + link.span as usize > from {
                    break;
                }
                traversed += link.span as usize;
                x = link.next;
            }
            update[i] = x;
        }
        let mut at = self.link(x, 0).next;
        for _ in from..to {
            let next = self.node(at).low.next;
            self.unlink(at, &update);
            let (member, score) = self.take(at);
            sink(member, score);
            at = next;
        }
    }

    /// Every member, lowest first.
    pub fn iter(&self) -> Walk<'_> {
        Walk {
            list: self,
            at: self.head[0].next,
            forward: true,
        }
    }

    /// Checks the structure's invariants (tests).
    #[cfg(test)]
    pub fn check(&self) {
        let mut count = 0;
        let mut prev = NIL;
        let mut at = self.head[0].next;
        while at != NIL {
            let node = self.node(at);
            assert_eq!(node.back, prev);
            if prev != NIL {
                let p = self.node(prev);
                assert_eq!(
                    order(p.score, &p.member, node.score, &node.member),
                    Ordering::Less
                );
            }
            assert_eq!(self.find(&node.member), Some(at));
            count += 1;
            prev = at;
            at = node.low.next;
        }
        assert_eq!(self.tail, prev);
        assert_eq!(count, self.len());
        assert_eq!(self.index.len(), self.len());
        for i in 0..self.level {
            let (mut x, mut rank) = (HEAD, 0usize);
            loop {
                let link = self.link(x, i);
                if link.next == NIL {
                    break;
                }
                rank += link.span as usize;
                x = link.next;
                assert_eq!(self.at_rank(rank - 1), x, "level {i}");
                assert_eq!(link.score.to_bits(), self.node(x).score.to_bits());
                assert_eq!(link.up, self.node(x).up, "level {i}: where x's links are");
            }
        }
        // Every run of upper links is one node's or given back, once.
        let mut owners = vec![0u8; self.uppers.len()];
        let runs = self.nodes.iter().map(|(_, n)| (n.up, n.levels() - 1));
        let freed =
            (1..MAX_LEVEL).flat_map(|len| self.free_runs[len].iter().map(move |&at| (at, len)));
        for (at, len) in runs.chain(freed).filter(|&(_, len)| len > 0) {
            for owner in &mut owners[at as usize..at as usize + len] {
                *owner += 1;
            }
        }
        assert!(
            owners.iter().all(|&n| n == 1),
            "uppers runs overlap or leak"
        );
    }
}

/// A walk along level 0 of a [`SkipList`].
#[derive(Debug, Clone)]
pub(super) struct Walk<'a> {
    list: &'a SkipList,
    at: u32,
    forward: bool,
}

impl<'a> Iterator for Walk<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at == NIL {
            return None;
        }
        let node = self.list.node(self.at);
        self.at = if self.forward {
            node.low.next
        } else {
            node.back
        };
        Some((&node.member, node.score))
    }
}
