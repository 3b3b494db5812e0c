//! A string grown by APPEND or SETRANGE: kept outside its entry's block,
//! with spare room as Redis's sds strings have, so repeated appends cost
//! the bytes they write instead of a copy of the whole value each time.
//!
//! Room is made as `sdsMakeRoomFor` makes it: a string that must grow gets
//! twice its new length below 1 MiB, and its new length plus 1 MiB above.
//! Values written by SET never get here: they stay inline in their entry,
//! with no spare byte.

/// Below this new length a growing string doubles; above it, it gains
/// this much (Redis's `SDS_MAX_PREALLOC`).
const MAX_PREALLOC: usize = 1024 * 1024;

/// Bytes of the shard's slab slot that holds the string, besides its
/// buffer (the vector and the slab's tag).
const SLOT_OVERHEAD: usize = 32;

/// See the module docs.
#[derive(Debug, Clone, Default)]
pub struct GrownString(Vec<u8>);

impl GrownString {
    /// A string holding `value`, with no spare room yet.
    pub fn exact(value: Vec<u8>) -> Self {
        GrownString(value)
    }

    /// `head` followed by `tail`, with room to grow.
    pub fn joined(head: &[u8], tail: &[u8]) -> Self {
        let mut grown = GrownString(Vec::new());
        grown.make_room(head.len() + tail.len());
        grown.0.extend_from_slice(head);
        grown.0.extend_from_slice(tail);
        grown
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, taking them out.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }

    /// Heap bytes it takes: the whole buffer, spare room included, and its
    /// slab slot.
    pub fn heap_size(&self) -> usize {
        self.0.capacity() + SLOT_OVERHEAD
    }

    /// Appends `tail`; returns the new length.
    pub fn append(&mut self, tail: &[u8]) -> usize {
        self.make_room(self.0.len() + tail.len());
        self.0.extend_from_slice(tail);
        self.0.len()
    }

    /// Writes `patch` at `offset`, zero-filling any gap past the end;
    /// returns the new length.
    pub fn set_range(&mut self, offset: usize, patch: &[u8]) -> usize {
        let end = offset + patch.len();
        if end > self.0.len() {
            self.make_room(end);
            self.0.resize(end, 0);
        }
        self.0[offset..end].copy_from_slice(patch);
        self.0.len()
    }

    /// Ensures room for `len` bytes, growing as sds does when short.
    fn make_room(&mut self, len: usize) {
        if len <= self.0.capacity() {
            return;
        }
        let target = if len < MAX_PREALLOC {
            len * 2
        } else {
            len + MAX_PREALLOC
        };
        self.0.reserve_exact(target - self.0.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_like_sds() {
        let mut s = GrownString::exact(b"abc".to_vec());
        assert_eq!(s.append(b"de"), 5);
        assert_eq!(s.as_slice(), b"abcde");
        assert!(s.0.capacity() >= 10);
        // Within the spare room: no reallocation.
        let before = s.0.as_ptr();
        s.append(b"fgh");
        assert_eq!(s.0.as_ptr(), before);
        assert_eq!(s.set_range(10, b"xy"), 12);
        assert_eq!(s.as_slice(), b"abcdefgh\0\0xy");
        assert_eq!(s.set_range(0, b"Z"), 12);
        assert_eq!(s.as_slice(), b"Zbcdefgh\0\0xy");
        let big = GrownString::joined(&vec![1; MAX_PREALLOC], b"x");
        assert_eq!(big.0.capacity(), 2 * MAX_PREALLOC + 1);
        assert_eq!(big.heap_size(), big.0.capacity() + SLOT_OVERHEAD);
    }
}
