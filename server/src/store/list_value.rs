//! The value of a list key: a double-ended sequence of byte strings that
//! knows its own heap size.

use std::collections::VecDeque;

use super::encoding::EncodingLimits;

/// Per-element bookkeeping beyond its bytes (the boxed slice in the deque
/// and its allocation header).
const ELEMENT_OVERHEAD: usize = 32;

/// A list value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListValue {
    items: VecDeque<Box<[u8]>>,
    bytes: usize,
    large: bool,
}

impl ListValue {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True without elements.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.bytes + 64
    }

    /// The encoding Redis would report.
    pub fn encoding(&self) -> &'static str {
        if self.large {
            "quicklist"
        } else {
            "listpack"
        }
    }

    /// Notes that the list outgrew one node of `list-max-listpack-size`.
    pub fn settle(&mut self, limits: &EncodingLimits) {
        let size = limits.list_max_listpack_size;
        self.large |= if size >= 0 {
            self.items.len() as i64 > size
        } else {
            // -1 .. -5: 4 KiB .. 64 KiB per node.
            let bytes = 4096usize << (size.unsigned_abs().clamp(1, 5) - 1);
            self.bytes - self.items.len() * ELEMENT_OVERHEAD > bytes
        };
    }

    /// Appends `item` at the tail.
    pub fn push_back(&mut self, item: &[u8]) {
        self.bytes += item.len() + ELEMENT_OVERHEAD;
        self.items.push_back(item.into());
    }

    /// Prepends `item` at the head.
    pub fn push_front(&mut self, item: &[u8]) {
        self.bytes += item.len() + ELEMENT_OVERHEAD;
        self.items.push_front(item.into());
    }

    /// Removes and returns the head.
    pub fn pop_front(&mut self) -> Option<Box<[u8]>> {
        let item = self.items.pop_front()?;
        self.bytes -= item.len() + ELEMENT_OVERHEAD;
        Some(item)
    }

    /// Removes and returns the tail.
    pub fn pop_back(&mut self) -> Option<Box<[u8]>> {
        let item = self.items.pop_back()?;
        self.bytes -= item.len() + ELEMENT_OVERHEAD;
        Some(item)
    }

    /// The element at `index` from the head.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.items.get(index).map(|i| &i[..])
    }

    /// The elements from head to tail.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + DoubleEndedIterator {
        self.items.iter().map(|i| &i[..])
    }
}
