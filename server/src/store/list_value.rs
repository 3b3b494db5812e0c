//! The value of a list key, in Redis's two encodings: a short list is one
//! packed block ("listpack"); past `list-max-listpack-size` it becomes a
//! deque of such blocks, each bounded by the same option ("quicklist"),
//! and back again when it shrinks to one block at most half that size
//! (Redis 7.2's rules; 7.0 reports every list as a quicklist).
//!
//! The thresholds are Redis's, in Redis's units: a positive option counts
//! elements per block (with an 8 KiB safety bound), -1 to -5 bound a
//! block at 4 to 64 KiB of listpack bytes, which [`node`] computes for the
//! elements as listpack would store them. Growing commands check before
//! they write, with the option in force ([`EncodingLimits`]); shrinking
//! ones convert back in [`ListValue::settle`].

mod iter;
mod node;
mod quicklist;
#[cfg(test)]
mod tests;

use super::encoding::EncodingLimits;
use super::inline::Form;
pub use iter::Iter;
use node::Node;
use quicklist::Quicklist;

/// The slot a collection takes in its shard's slab.
const SLOT: usize = std::mem::size_of::<super::collection::Collection>();

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (LEFT, index 0).
    Front,
    /// The tail (RIGHT, index -1).
    Back,
}

/// Largest block a positive `list-max-listpack-size` allows (Redis's
/// SIZE_SAFETY_LIMIT).
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Block sizes of `list-max-listpack-size` -1 to -5.
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Redis's estimate of one new entry's listpack overhead when deciding
/// whether a block takes it.
const ENTRY_OVERHEAD_ESTIMATE: usize = 8;

/// `list-max-listpack-size`: how large one block may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill(i64);

impl Fill {
    /// The option in `limits`.
    pub fn of(limits: &EncodingLimits) -> Fill {
        Fill(limits.list_max_listpack_size)
    }

    /// (bytes, elements) one block may hold; `usize::MAX` where the option
    /// sets no bound.
    fn bounds(self) -> (usize, usize) {
        if self.0 >= 0 {
            let count = self.0.clamp(1, i64::from(u32::MAX)) as usize;
            (usize::MAX, count)
        } else {
            let level = (self.0.unsigned_abs() - 1).min(4) as usize;
            (SIZE_LEVELS[level], usize::MAX)
        }
    }

    /// True when `count` elements of `bytes` listpack bytes are over the
    /// bound of one block.
    pub fn exceeds(self, bytes: usize, count: usize) -> bool {
        match self.bounds() {
            (usize::MAX, most) => bytes > SIZE_SAFETY_LIMIT || count > most,
            (largest, _) => bytes > largest,
        }
    }

    /// True when a block of `bytes` and `count` elements may take one more
    /// element of `len` bytes.
    pub fn allows(self, bytes: usize, count: usize, len: usize) -> bool {
        !self.exceeds(bytes + len + ENTRY_OVERHEAD_ESTIMATE, count + 1)
    }

    /// True when a single block is small enough for a shrinking list to
    /// become a listpack again: at most half of each bound.
    fn packs(self, node: &Node) -> bool {
        let (bytes, count) = self.bounds();
        node.lp_bytes() <= bytes / 2 && node.len() <= count / 2
    }
}

/// A list value.
#[derive(Debug, Clone)]
pub struct ListValue {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// One block: Redis's listpack.
    Packed(Node),
    /// Blocks in a deque: Redis's quicklist.
    Quick(Box<Quicklist>),
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue {
            repr: Repr::Packed(Node::default()),
        }
    }
}

impl PartialEq for ListValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
impl Eq for ListValue {}

impl<'a> FromIterator<&'a [u8]> for ListValue {
    /// A list of `items` with the default `list-max-listpack-size` (the
    /// wire decoder's and the tests' builder).
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(items: I) -> Self {
        ListValue::from_items(items, &EncodingLimits::default())
    }
}

impl ListValue {
    /// A list of `items`, in one block when they fit one, else in full
    /// blocks.
    pub fn from_items<'a>(
        items: impl IntoIterator<Item = &'a [u8]>,
        limits: &EncodingLimits,
    ) -> ListValue {
        let fill = Fill::of(limits);
        let items: Vec<&[u8]> = items.into_iter().collect();
        let bytes: usize = items.iter().map(|i| node::lp_entry_size(i)).sum();
        let repr = if fill.exceeds(node::LP_EMPTY + bytes, items.len()) {
            Repr::Quick(Box::new(Quicklist::from_items(items, fill)))
        } else {
            Repr::Packed(Node::from_items(items))
        };
        ListValue { repr }
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(node) => node.len(),
            Repr::Quick(list) => list.len(),
        }
    }

    /// True without elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes, as the allocator hands them out: the blocks, and the
    /// value's slot in its shard's slab of collections.
    pub fn heap_size(&self) -> usize {
        SLOT + match &self.repr {
            Repr::Packed(node) => node.heap_size(),
            Repr::Quick(list) => list.heap_size(),
        }
    }

    /// The inline form of a list in one block (see `inline`); `None` for
    /// a quicklist.
    pub fn inline_form(&self) -> Option<Form<'_>> {
        match &self.repr {
            Repr::Packed(node) => Some(node.form()),
            Repr::Quick(_) => None,
        }
    }

    /// The list an inline form holds.
    pub fn from_inline(form: &[u8]) -> ListValue {
        ListValue {
            repr: Repr::Packed(Node::from_form(form)),
        }
    }

    /// The encoding Redis would report.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Quick(_) => "quicklist",
        }
    }

    /// After a write: a quicklist left with one block at most half the
    /// bound becomes a listpack again (growing writes check before they
    /// write, see [`ListValue::push`]).
    pub fn settle(&mut self, limits: &EncodingLimits) {
        let Repr::Quick(list) = &self.repr else {
            return;
        };
        if !list
            .single()
            .is_some_and(|node| Fill::of(limits).packs(node))
        {
            return;
        }
        let Repr::Quick(list) = std::mem::take(self).repr else {
            return;
        };
        if let Some(node) = list.into_nodes().pop_front() {
            self.repr = Repr::Packed(node);
        }
    }

    /// Before adding `count` elements of `bytes` raw bytes (and for LSET,
    /// which Redis checks as an addition too): a listpack that would pass
    /// the bound becomes a quicklist, as Redis decides it.
    fn grow(&mut self, bytes: usize, count: usize, limits: &EncodingLimits) {
        let Repr::Packed(node) = &mut self.repr else {
            return;
        };
        let fill = Fill::of(limits);
        if fill.exceeds(node.lp_bytes() + bytes, node.len() + count) {
            let node = std::mem::take(node);
            self.repr = Repr::Quick(Box::new(Quicklist::from_node(node)));
        }
    }

    /// Pushes `items` one after another at `end` (LPUSH a b c leaves c at
    /// the head), converting first if they would not fit a listpack.
    pub fn push(&mut self, end: End, items: &[&[u8]], limits: &EncodingLimits) {
        let bytes = items.iter().map(|i| i.len()).sum();
        self.grow(bytes, items.len(), limits);
        let fill = Fill::of(limits);
        match &mut self.repr {
            Repr::Packed(node) => match end {
                End::Back => node.insert_many(node.len(), items),
                End::Front => {
                    let reversed: Vec<&[u8]> = items.iter().rev().copied().collect();
                    node.insert_many(0, &reversed);
                }
            },
            Repr::Quick(list) => {
                for item in items {
                    list.push(end, item, fill);
                }
            }
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        match &mut self.repr {
            Repr::Packed(node) => match end {
                End::Front => node.remove(0),
                End::Back => node.len().checked_sub(1).and_then(|i| node.remove(i)),
            },
            Repr::Quick(list) => list.pop(end),
        }
    }

    /// Element `index` from the head.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(node) => node.get(index),
            Repr::Quick(list) => list.get(index),
        }
    }

    /// The elements, head to tail (`rev` for tail to head).
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The elements from `start` to the tail.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        match &self.repr {
            Repr::Packed(node) => Iter::new((std::slice::from_ref(node), &[]), node.len(), start),
            Repr::Quick(list) => Iter::new(list.nodes().as_slices(), list.len(), start),
        }
    }

    /// Replaces element `index`; false when it is out of range (the
    /// encoding may still have grown, as in Redis).
    pub fn set(&mut self, index: usize, item: &[u8], limits: &EncodingLimits) -> bool {
        self.grow(item.len(), 1, limits);
        if index >= self.len() {
            return false;
        }
        match &mut self.repr {
            Repr::Packed(node) => node.replace(index, item),
            Repr::Quick(list) => list.replace(index, item, Fill::of(limits)),
        }
        true
    }

    /// Inserts `item` before (or `after`) the first element equal to
    /// `pivot`; false when there is none.
    pub fn insert_at(
        &mut self,
        pivot: &[u8],
        item: &[u8],
        after: bool,
        limits: &EncodingLimits,
    ) -> bool {
        // As Redis: the conversion is decided before the pivot is sought.
        self.grow(item.len(), 1, limits);
        let Some(found) = self.iter().position(|e| e == pivot) else {
            return false;
        };
        let index = found + usize::from(after);
        match &mut self.repr {
            Repr::Packed(node) => node.insert(index, item),
            Repr::Quick(list) => list.insert(index, item, Fill::of(limits)),
        }
        true
    }

    /// Removes `count` elements from `start` (clamped to the length).
    pub fn remove_range(&mut self, start: usize, count: usize) {
        match &mut self.repr {
            Repr::Packed(node) => node.remove_range(start, start.saturating_add(count)),
            Repr::Quick(list) => list.remove_range(start, count),
        }
    }

    /// Removes elements equal to `item`: the first `limit` from the head
    /// (or the tail, `from_tail`), every one when `limit` is 0. Returns how
    /// many were removed.
    pub fn remove_matching(
        &mut self,
        item: &[u8],
        limit: u64,
        from_tail: bool,
        limits: &EncodingLimits,
    ) -> u64 {
        match &mut self.repr {
            Repr::Packed(node) => {
                let all = node.to_vec();
                let mut positions: Vec<usize> = all
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| **e == item)
                    .map(|(i, _)| i)
                    .collect();
                let keep = if limit == 0 {
                    positions.len()
                } else {
                    (limit as usize).min(positions.len())
                };
                if from_tail {
                    positions.drain(..positions.len() - keep);
                } else {
                    positions.truncate(keep);
                }
                if positions.is_empty() {
                    return 0;
                }
                let kept = all
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| positions.binary_search(i).is_err())
                    .map(|(_, e)| *e);
                *node = Node::from_items(kept);
                positions.len() as u64
            }
            Repr::Quick(list) => list.remove_matching(item, limit, from_tail, Fill::of(limits)),
        }
    }

    /// Appends `item` at the tail, with the default limits (a builder for
    /// tests; commands use [`ListValue::push`]).
    pub fn push_back(&mut self, item: &[u8]) {
        self.push(End::Back, &[item], &EncodingLimits::default());
    }

    /// Prepends `item` at the head, with the default limits.
    pub fn push_front(&mut self, item: &[u8]) {
        self.push(End::Front, &[item], &EncodingLimits::default());
    }

    /// Removes and returns the head.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.pop(End::Front)
    }

    /// Removes and returns the tail.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        self.pop(End::Back)
    }

    /// The listpack bytes and node count, for tests of the encodings.
    #[cfg(test)]
    fn shape(&self) -> Vec<(usize, usize)> {
        match &self.repr {
            Repr::Packed(node) => vec![(node.len(), node.lp_bytes())],
            Repr::Quick(list) => list
                .nodes()
                .iter()
                .map(|n| (n.len(), n.lp_bytes()))
                .collect(),
        }
    }
}
