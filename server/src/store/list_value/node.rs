//! One block of list elements: a [`Packed`] sequence that knows the size
//! Redis's listpack would give the same elements (the list thresholds are
//! counted in listpack bytes) and may hold its elements in reverse order.
//!
//! A packed block is cheap to change at its start (no scan: the new block
//! is the item and a copy of the old one) and dear at its end (finding the
//! last item walks every length before it). So the block at the tail of a
//! long list is kept reversed: pushes and pops at either end of the list
//! then work at the start of their block.

use crate::store::inline::{Form, Reader};
use crate::store::number::parse_canonical;
use crate::store::packed::{Items, Packed};

/// Bytes of an empty listpack: its header (total bytes, element count)
/// and its end mark.
pub const LP_EMPTY: usize = 7;

/// The bytes listpack spends on `item`: its encoding (a small integer
/// form for canonical integers, else a length header and the bytes) and
/// the back length that lets it be walked backwards.
pub fn lp_entry_size(item: &[u8]) -> usize {
    let encoded = match parse_canonical(item) {
        Some(v) => match v {
            0..=127 => 1,
            -4096..=4095 => 2,
            -32_768..=32_767 => 3,
            -8_388_608..=8_388_607 => 4,
            -2_147_483_648..=2_147_483_647 => 5,
            _ => 9,
        },
        None => match item.len() {
            0..=63 => 1 + item.len(),
            64..=4095 => 2 + item.len(),
            n => 5 + n,
        },
    };
    let back = match encoded {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    encoded + back
}

/// Rounds `n` up to the allocator's size class (jemalloc: 8, 16, then
/// multiples of 16 up to 128, then four classes per doubling), so that
/// heap sizes are what the allocator hands out.
pub fn size_class(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => (n + 15) & !15,
        _ => {
            let log = (usize::BITS - 1 - (n - 1).leading_zeros()) as usize;
            let spacing = 1usize << (log - 2);
            n.div_ceil(spacing) * spacing
        }
    }
}

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Node {
    items: Packed,
    /// Listpack bytes of the entries (without [`LP_EMPTY`]), saturating.
    entries: u32,
    /// The items are stored last to first.
    reversed: bool,
}

impl Node {
    /// A node holding `items` in order.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Node {
        let mut entries = 0usize;
        let items: Packed = items
            .into_iter()
            .inspect(|item| entries += lp_entry_size(item))
            .collect();
        Node {
            items,
            entries: saturate(entries),
            reversed: false,
        }
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True without elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The bytes a listpack of these elements would take.
    #[inline]
    pub fn lp_bytes(&self) -> usize {
        LP_EMPTY + self.entries as usize
    }

    /// Heap bytes of the block, as allocated.
    #[inline]
    pub fn heap_size(&self) -> usize {
        size_class(self.items.heap_size())
    }

    /// The node's inline form: whether it is reversed, its listpack
    /// bytes, its length, then its block.
    pub fn form(&self) -> Form<'_> {
        Form::new(self.items.block())
            .byte(u8::from(self.reversed))
            .varint(self.entries as usize)
            .varint(self.items.len())
    }

    /// The node an inline form written by [`Node::form`] holds.
    pub fn from_form(form: &[u8]) -> Node {
        let mut reader = Reader::new(form);
        let reversed = reader.byte() != 0;
        let entries = saturate(reader.varint());
        let len = reader.varint();
        Node {
            items: Packed::from_block(reader.block(), len),
            entries,
            reversed,
        }
    }

    /// True when stored last to first.
    #[inline]
    pub fn is_reversed(&self) -> bool {
        self.reversed
    }

    /// Where element `index` (in list order) sits in the block.
    #[inline]
    fn physical(&self, index: usize) -> usize {
        if self.reversed {
            self.len() - 1 - index
        } else {
            index
        }
    }

    /// Element `index`, in list order.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len() {
            return None;
        }
        self.items.get(self.physical(index))
    }

    /// The elements in list order (a walk of the block).
    pub fn to_vec(&self) -> Vec<&[u8]> {
        let mut all: Vec<&[u8]> = self.items.iter().collect();
        if self.reversed {
            all.reverse();
        }
        all
    }

    /// The elements first to last, walking the block when it is in order.
    pub fn forward(&self) -> Cursor<'_> {
        if self.reversed {
            Cursor::Buffer(self.to_vec().into_iter())
        } else {
            Cursor::Walk(self.items.iter())
        }
    }

    /// The elements last to first, walking the block when it is reversed.
    pub fn backward(&self) -> Cursor<'_> {
        if self.reversed {
            Cursor::Walk(self.items.iter())
        } else {
            let mut all: Vec<&[u8]> = self.items.iter().collect();
            all.reverse();
            Cursor::Buffer(all.into_iter())
        }
    }

    /// Inserts `item` so that it becomes element `index` (`len` appends).
    pub fn insert(&mut self, index: usize, item: &[u8]) {
        let len = self.len();
        let at = if self.reversed { len - index } else { index };
        if at == len {
            self.items.push_back(item);
        } else {
            self.items.insert(at, item);
        }
        self.entries = saturate(self.entries as usize + lp_entry_size(item));
    }

    /// Inserts `items` (in list order) before element `index`, in one
    /// rebuild of the block.
    pub fn insert_many(&mut self, index: usize, items: &[&[u8]]) {
        if let [item] = items {
            return self.insert(index, item);
        }
        let mut all = self.to_vec();
        all.splice(index..index, items.iter().copied());
        *self = Node::from_items(all);
    }

    /// Removes element `index` and returns it.
    pub fn remove(&mut self, index: usize) -> Option<Vec<u8>> {
        if index >= self.len() {
            return None;
        }
        let at = self.physical(index);
        let item = self.items.get(at)?.to_vec();
        self.items.remove(at);
        self.entries = self.entries.saturating_sub(lp_entry_size(&item) as u32);
        Some(item)
    }

    /// Removes elements `from..to` (list order, clamped to the length).
    pub fn remove_range(&mut self, from: usize, to: usize) {
        let to = to.min(self.len());
        if from >= to {
            return;
        }
        let (start, end) = if self.reversed {
            (self.len() - to, self.len() - from)
        } else {
            (from, to)
        };
        let gone: usize = self
            .items
            .iter()
            .skip(start)
            .take(end - start)
            .map(lp_entry_size)
            .sum();
        self.items.remove_range(start, end);
        self.entries = self.entries.saturating_sub(saturate(gone));
    }

    /// Replaces element `index` with `item`.
    pub fn replace(&mut self, index: usize, item: &[u8]) {
        let at = self.physical(index);
        let old = self.items.get(at).map_or(0, lp_entry_size);
        self.items.replace(at, item);
        let entries = self.entries as usize - old.min(self.entries as usize);
        self.entries = saturate(entries + lp_entry_size(item));
    }

    /// Keeps elements `..at` and returns the others as a new node.
    pub fn split_off(&mut self, at: usize) -> Node {
        let all = self.to_vec();
        let tail = Node::from_items(all[at..].iter().copied());
        let head = Node::from_items(all[..at].iter().copied());
        *self = head;
        tail
    }

    /// Stores the elements in the given order (a rebuild when it changes).
    pub fn orient(&mut self, reversed: bool) {
        if self.reversed != reversed {
            let mut all: Vec<&[u8]> = self.items.iter().collect();
            all.reverse();
            self.items = all.into_iter().collect();
            self.reversed = reversed;
        }
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The elements of one node in one direction: walked in the block, or
/// from a buffer when the block holds them the other way round.
#[derive(Debug, Clone)]
pub enum Cursor<'a> {
    /// Nothing left.
    Done,
    /// Walking the block.
    Walk(Items<'a>),
    /// Gathered from the block.
    Buffer(std::vec::IntoIter<&'a [u8]>),
}

impl<'a> Cursor<'a> {
    /// The next element in this cursor's direction.
    #[inline]
    pub fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Cursor::Done => None,
            Cursor::Walk(items) => items.next(),
            Cursor::Buffer(items) => items.next(),
        }
    }

    /// Skips `n` elements.
    pub fn skip(&mut self, n: usize) {
        if n > 0 {
            match self {
                Cursor::Done => {}
                Cursor::Walk(items) => {
                    items.nth(n - 1);
                }
                Cursor::Buffer(items) => {
                    items.nth(n - 1);
                }
            }
        }
    }
}
