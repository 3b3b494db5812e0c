//! A long list: a deque of [`Node`]s, each bounded by
//! `list-max-listpack-size` as Redis bounds its quicklist nodes, so a push
//! or pop at either end touches one small block (O(1) in the list's
//! length) and LINDEX/LSET walk node lengths, then one node.

use std::collections::VecDeque;

use super::node::{size_class, Node, LP_EMPTY};
use super::{End, Fill};

/// Nodes with more elements than this are turned to face the end a list
/// works at (a reversed tail node pops without a walk); smaller ones are
/// cheap to walk either way.
const TURN_ABOVE: usize = 8;

/// See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Quicklist {
    nodes: VecDeque<Node>,
    len: usize,
    /// Heap bytes of the nodes' blocks.
    node_heap: usize,
}

impl Quicklist {
    /// A quicklist of one node (a listpack that outgrew its limit); an
    /// empty node is dropped.
    pub fn from_node(node: Node) -> Quicklist {
        let mut list = Quicklist::default();
        if !node.is_empty() {
            list.insert_node(0, node);
        }
        list
    }

    /// A quicklist of `items`, packed into full nodes.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>, fill: Fill) -> Quicklist {
        let mut list = Quicklist::default();
        let mut batch: Vec<&[u8]> = Vec::new();
        let (mut bytes, mut count) = (LP_EMPTY, 0);
        for item in items {
            if count > 0 && !fill.allows(bytes, count, item.len()) {
                let node = Node::from_items(batch.drain(..));
                list.insert_node(list.nodes.len(), node);
                (bytes, count) = (LP_EMPTY, 0);
            }
            bytes += super::node::lp_entry_size(item);
            count += 1;
            batch.push(item);
        }
        if !batch.is_empty() {
            list.insert_node(list.nodes.len(), Node::from_items(batch));
        }
        list
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The nodes, head first.
    #[inline]
    pub fn nodes(&self) -> &VecDeque<Node> {
        &self.nodes
    }

    /// Heap bytes: the quicklist itself, its node table and the blocks.
    pub fn heap_size(&self) -> usize {
        size_class(std::mem::size_of::<Quicklist>())
            + size_class(self.nodes.capacity() * std::mem::size_of::<Node>())
            + self.node_heap
    }

    /// The only node, when there is one (a candidate to become a listpack
    /// again).
    pub fn single(&self) -> Option<&Node> {
        match self.nodes.len() {
            1 => self.nodes.front(),
            _ => None,
        }
    }

    /// Takes the nodes out, head first.
    pub fn into_nodes(self) -> VecDeque<Node> {
        self.nodes
    }

    fn insert_node(&mut self, at: usize, node: Node) {
        self.len += node.len();
        self.node_heap += node.heap_size();
        self.nodes.insert(at, node);
    }

    fn remove_node(&mut self, at: usize) {
        if let Some(node) = self.nodes.remove(at) {
            self.len -= node.len();
            self.node_heap -= node.heap_size();
        }
    }

    /// Runs `f` on node `at`, keeping the counts right; an emptied node is
    /// dropped.
    fn edit<R>(&mut self, at: usize, f: impl FnOnce(&mut Node) -> R) -> R {
        let node = &mut self.nodes[at];
        let (len, heap) = (node.len(), node.heap_size());
        let result = f(node);
        let (new_len, new_heap) = (node.len(), node.heap_size());
        self.len = self.len + new_len - len;
        self.node_heap = self.node_heap + new_heap - heap;
        if new_len == 0 {
            self.remove_node(at);
        }
        result
    }

    /// Index of the node at `end`.
    fn end_node(&self, end: End) -> usize {
        match end {
            End::Front => 0,
            End::Back => self.nodes.len().saturating_sub(1),
        }
    }

    /// Turns the node at `end` so that `end` is its block's cheap start;
    /// a single node is left as it is (both ends of the list meet in it,
    /// and turning it for each would cost more than walking it).
    fn face(&mut self, end: End) {
        if self.nodes.len() < 2 {
            return;
        }
        let at = self.end_node(end);
        let want = end == End::Back;
        let node = &self.nodes[at];
        if node.is_reversed() != want && node.len() > TURN_ABOVE {
            self.edit(at, |n| n.orient(want));
        }
    }

    /// Pushes `item` at `end`, into the end node while it has room.
    pub fn push(&mut self, end: End, item: &[u8], fill: Fill) {
        let at = self.end_node(end);
        let room = self
            .nodes
            .get(at)
            .is_some_and(|n| fill.allows(n.lp_bytes(), n.len(), item.len()));
        if room {
            self.face(end);
            self.edit(at, |n| match end {
                End::Front => n.insert(0, item),
                End::Back => n.insert(n.len(), item),
            });
        } else {
            let mut node = Node::from_items([item]);
            node.orient(end == End::Back);
            let at = match end {
                End::Front => 0,
                End::Back => self.nodes.len(),
            };
            self.insert_node(at, node);
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        if self.nodes.is_empty() {
            return None;
        }
        self.face(end);
        let at = self.end_node(end);
        self.edit(at, |n| match end {
            End::Front => n.remove(0),
            End::Back => n.remove(n.len() - 1),
        })
    }

    /// (node, index in it) of element `index` (< len), walking from the
    /// nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            let mut left = index;
            for (at, node) in self.nodes.iter().enumerate() {
                if left < node.len() {
                    return (at, left);
                }
                left -= node.len();
            }
        } else {
            let mut right = self.len - 1 - index;
            for (at, node) in self.nodes.iter().enumerate().rev() {
                if right < node.len() {
                    return (at, node.len() - 1 - right);
                }
                right -= node.len();
            }
        }
        unreachable!("locate is called with an index below the length")
    }

    /// Element `index`.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len {
            return None;
        }
        let (at, offset) = self.locate(index);
        self.nodes[at].get(offset)
    }

    /// Replaces element `index` (< len) with `item`; a node that outgrows
    /// its limit is split.
    pub fn replace(&mut self, index: usize, item: &[u8], fill: Fill) {
        let (at, offset) = self.locate(index);
        self.edit(at, |n| n.replace(offset, item));
        self.split_if_over(at, fill);
    }

    /// Inserts `item` so that it becomes element `index` (<= len).
    pub fn insert(&mut self, index: usize, item: &[u8], fill: Fill) {
        if index == 0 {
            return self.push(End::Front, item, fill);
        }
        if index == self.len {
            return self.push(End::Back, item, fill);
        }
        let (at, offset) = self.locate(index);
        self.edit(at, |n| n.insert(offset, item));
        self.split_if_over(at, fill);
    }

    /// Splits node `at` in halves, and those again, while over the limit.
    fn split_if_over(&mut self, at: usize, fill: Fill) {
        let node = &self.nodes[at];
        if node.len() > 1 && fill.exceeds(node.lp_bytes(), node.len()) {
            let half = node.len() / 2;
            let tail = self.edit(at, |n| n.split_off(half));
            self.insert_node(at + 1, tail);
            self.split_if_over(at + 1, fill);
            self.split_if_over(at, fill);
        }
    }

    /// Removes `count` elements from `start` (clamped to the length).
    pub fn remove_range(&mut self, start: usize, count: usize) {
        let mut skip = start;
        let mut left = count;
        let mut at = 0;
        while at < self.nodes.len() && skip >= self.nodes[at].len() {
            skip -= self.nodes[at].len();
            at += 1;
        }
        // The first node's share, when the range starts inside it (it keeps
        // its first `skip` elements, so it is not emptied).
        if left > 0 && skip > 0 && at < self.nodes.len() {
            let take = left.min(self.nodes[at].len() - skip);
            self.edit(at, |n| n.remove_range(skip, skip + take));
            left -= take;
            at += 1;
        }
        // The whole nodes in the range go in one drain: removing them one
        // by one would shift the rest of the deque for each (LTRIM and
        // RPOP with a count over a list of many small nodes).
        let mut end = at;
        while end < self.nodes.len() && left >= self.nodes[end].len() {
            left -= self.nodes[end].len();
            end += 1;
        }
        let (len, heap) = self.nodes.drain(at..end).fold((0, 0), |(len, heap), node| {
            (len + node.len(), heap + node.heap_size())
        });
        self.len -= len;
        self.node_heap -= heap;
        // The last node's share: fewer than it holds.
        if left > 0 && at < self.nodes.len() {
            self.edit(at, |n| n.remove_range(0, left));
        }
    }

    /// Removes the elements equal to `item`: the first `limit` from the
    /// head, or from the tail when `from_tail`, all when `limit` is 0.
    /// Returns how many went; nodes left small are merged.
    pub fn remove_matching(&mut self, item: &[u8], limit: u64, from_tail: bool, fill: Fill) -> u64 {
        let mut removed = 0u64;
        // The next node to look at (no node leaves the deque during the
        // walk).
        let mut next = if from_tail { self.nodes.len() } else { 0 };
        while limit == 0 || removed < limit {
            let at = if from_tail {
                match next.checked_sub(1) {
                    Some(at) => at,
                    None => break,
                }
            } else if next < self.nodes.len() {
                next
            } else {
                break;
            };
            next = at + usize::from(!from_tail);
            let all = self.nodes[at].to_vec();
            let want = if limit == 0 {
                u64::MAX
            } else {
                limit - removed
            };
            let gone = matching_positions(&all, item, want, from_tail);
            if gone.is_empty() {
                continue;
            }
            removed += gone.len() as u64;
            let kept: Vec<&[u8]> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| gone.binary_search(i).is_err())
                .map(|(_, e)| *e)
                .collect();
            // An emptied node stays until the walk ends, then all go in
            // one pass: dropping each at once would shift the deque's tail
            // for every one (LREM over many small nodes).
            let rebuilt = Node::from_items(kept);
            let node = &mut self.nodes[at];
            self.len = self.len + rebuilt.len() - node.len();
            self.node_heap = self.node_heap + rebuilt.heap_size() - node.heap_size();
            *node = rebuilt;
        }
        self.nodes.retain(|node| !node.is_empty());
        self.node_heap = self.nodes.iter().map(Node::heap_size).sum();
        self.compact(fill);
        removed
    }

    /// Merges neighbouring nodes whose elements fit one node: each run of
    /// nodes that fits is built into one node once, in one pass over the
    /// deque (merging pair by pair would rebuild the growing node, and
    /// shift the deque, for every node merged).
    fn compact(&mut self, fill: Fill) {
        if self.nodes.len() < 2 {
            return;
        }
        let nodes = std::mem::take(&mut self.nodes);
        let mut compacted = VecDeque::with_capacity(nodes.len());
        let mut run: Vec<Node> = Vec::new();
        let (mut bytes, mut len) = (0, 0);
        for node in nodes {
            let fits = !run.is_empty()
                && !fill.exceeds(bytes + node.lp_bytes() - LP_EMPTY, len + node.len());
            if !fits {
                flush_run(&mut run, &mut compacted);
                (bytes, len) = (LP_EMPTY, 0);
            }
            bytes += node.lp_bytes() - LP_EMPTY;
            len += node.len();
            run.push(node);
        }
        flush_run(&mut run, &mut compacted);
        self.node_heap = compacted.iter().map(Node::heap_size).sum();
        self.nodes = compacted;
    }
}

/// Appends the nodes of `run` to `out` as one node (a run of one as it is).
fn flush_run(run: &mut Vec<Node>, out: &mut VecDeque<Node>) {
    match run.len() {
        0 => {}
        1 => out.extend(run.drain(..)),
        _ => {
            let merged = Node::from_items(run.iter().flat_map(Node::to_vec));
            run.clear();
            out.push_back(merged);
        }
    }
}

/// Positions (ascending) of up to `want` elements of `all` equal to
/// `item`, the first ones or, `from_tail`, the last ones.
fn matching_positions(all: &[&[u8]], item: &[u8], want: u64, from_tail: bool) -> Vec<usize> {
    let matches = all.iter().enumerate().filter(|(_, e)| **e == item);
    let mut found: Vec<usize> = if from_tail {
        matches.rev().take(want as usize).map(|(i, _)| i).collect()
    } else {
        matches.take(want as usize).map(|(i, _)| i).collect()
    };
    found.sort_unstable();
    found
}
