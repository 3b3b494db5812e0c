//! Walking a list from either end: node by node, each node's elements
//! walked in its block when the block faces the walk's way, gathered
//! first when it does not.

use std::iter::Chain;
use std::slice;

use super::node::{Cursor, Node};

/// The nodes a walk has not opened yet.
type Nodes<'a> = Chain<slice::Iter<'a, Node>, slice::Iter<'a, Node>>;

/// The elements of a list, head to tail (and tail to head with `rev`).
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    nodes: Nodes<'a>,
    front: Cursor<'a>,
    back: Cursor<'a>,
    /// Elements not yet yielded from either end.
    left: usize,
}

impl<'a> Iter<'a> {
    /// A walk over `nodes` (the two halves of a deque, or one node), which
    /// hold `len` elements, starting at element `start`.
    pub(super) fn new(nodes: (&'a [Node], &'a [Node]), len: usize, start: usize) -> Iter<'a> {
        let mut iter = Iter {
            nodes: nodes.0.iter().chain(nodes.1.iter()),
            front: Cursor::Done,
            back: Cursor::Done,
            left: len.saturating_sub(start),
        };
        let mut skip = start;
        while iter.left > 0 {
            let Some(node) = iter.nodes.next() else { break };
            if skip >= node.len() {
                skip -= node.len();
                continue;
            }
            iter.front = node.forward();
            iter.front.skip(skip);
            break;
        }
        iter
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        loop {
            if let Some(item) = self.front.next() {
                self.left -= 1;
                return Some(item);
            }
            match self.nodes.next() {
                Some(node) => self.front = node.forward(),
                None => {
                    // What is left is in the back walk's node: take it
                    // over in this walk's order.
                    let mut rest = Vec::with_capacity(self.left);
                    while let Some(item) = self.back.next() {
                        rest.push(item);
                    }
                    rest.reverse();
                    self.front = Cursor::Buffer(rest.into_iter());
                    self.back = Cursor::Done;
                    let item = self.front.next()?;
                    self.left -= 1;
                    return Some(item);
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        loop {
            if let Some(item) = self.back.next() {
                self.left -= 1;
                return Some(item);
            }
            match self.nodes.next_back() {
                Some(node) => self.back = node.backward(),
                None => {
                    let mut rest = Vec::with_capacity(self.left);
                    while rest.len() < self.left {
                        match self.front.next() {
                            Some(item) => rest.push(item),
                            None => break,
                        }
                    }
                    rest.reverse();
                    self.back = Cursor::Buffer(rest.into_iter());
                    self.front = Cursor::Done;
                    let item = self.back.next()?;
                    self.left -= 1;
                    return Some(item);
                }
            }
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}
