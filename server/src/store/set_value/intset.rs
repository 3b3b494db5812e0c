//! Redis's intset: distinct integers in ascending order, every one stored
//! in the smallest width (2, 4 or 8 bytes) that holds them all, in one
//! exact-size heap block. Lookups are binary searches; an insert or a
//! removal rebuilds the block, which is cheap while the set stays under
//! `set-max-intset-entries`.

use crate::store::memory::allocation_size;

/// See the module docs. The block is `[width][values, little-endian]`, and
/// empty (no allocation) without values.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IntSet {
    block: Box<[u8]>,
}

/// The narrowest width that holds `value`.
fn width_of(value: i64) -> usize {
    if i16::try_from(value).is_ok() {
        2
    } else if i32::try_from(value).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self.block.first() {
            Some(&width) => (self.block.len() - 1) / usize::from(width),
            None => 0,
        }
    }

    /// Bytes of one value (2 when empty).
    pub fn width(&self) -> usize {
        self.block.first().map_or(2, |&w| usize::from(w))
    }

    /// The block itself (an inline form's body).
    pub fn block(&self) -> &[u8] {
        &self.block
    }

    /// The intset whose block is `block` (a copy of one
    /// [`IntSet::block`] gave).
    pub fn from_block(block: &[u8]) -> IntSet {
        IntSet {
            block: block.into(),
        }
    }

    /// Heap bytes the allocator hands out for the block.
    pub fn heap_size(&self) -> usize {
        allocation_size(self.block.len())
    }

    /// The value at `index` (ascending order).
    ///
    /// # Panics
    /// If `index >= len` (a caller bug, never input).
    pub fn get(&self, index: usize) -> i64 {
        let width = self.width();
        let at = 1 + index * width;
        let bytes = &self.block[at..at + width];
        match width {
            2 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
            4 => i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
            _ => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(bytes);
                i64::from_le_bytes(raw)
            }
        }
    }

    /// The values, ascending.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = i64> + Clone + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// `Ok(index)` of `value`, or `Err(index)` where it would go.
    fn search(&self, value: i64) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid).cmp(&value) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    /// True if `value` is in the set.
    pub fn contains(&self, value: i64) -> bool {
        self.search(value).is_ok()
    }

    /// Adds `value`; true if it is new.
    pub fn insert(&mut self, value: i64) -> bool {
        let Err(at) = self.search(value) else {
            return false;
        };
        let width = self.width().max(width_of(value));
        let values = self
            .iter()
            .take(at)
            .chain([value])
            .chain(self.iter().skip(at));
        self.block = build(width, self.len() + 1, values);
        true
    }

    /// Removes `value`; true if it was there. The block narrows when the
    /// values left fit a smaller width.
    pub fn remove(&mut self, value: i64) -> bool {
        let Ok(at) = self.search(value) else {
            return false;
        };
        let len = self.len();
        if len == 1 {
            self.block = Box::default();
            return true;
        }
        let (first, last) = match at {
            0 => (self.get(1), self.get(len - 1)),
            _ if at == len - 1 => (self.get(0), self.get(len - 2)),
            _ => (self.get(0), self.get(len - 1)),
        };
        let width = width_of(first).max(width_of(last));
        let values = self.iter().take(at).chain(self.iter().skip(at + 1));
        self.block = build(width, len - 1, values);
        true
    }

    /// The smallest and the largest value.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        let len = self.len();
        (len > 0).then(|| (self.get(0), self.get(len - 1)))
    }

    /// An intset of `values`, which must be ascending and distinct.
    pub fn from_sorted(values: &[i64]) -> IntSet {
        let width = match (values.first(), values.last()) {
            (Some(&first), Some(&last)) => width_of(first).max(width_of(last)),
            _ => return IntSet::default(),
        };
        IntSet {
            block: build(width, values.len(), values.iter().copied()),
        }
    }
}

/// A block of `len` values of `width` bytes.
fn build(width: usize, len: usize, values: impl Iterator<Item = i64>) -> Box<[u8]> {
    let mut block = Vec::with_capacity(1 + len * width);
    block.push(width as u8);
    for value in values {
        block.extend_from_slice(&value.to_le_bytes()[..width]);
    }
    block.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::number::parse_canonical;

    #[test]
    fn follows_a_sorted_vector_model() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut set = IntSet::default();
        let mut model: Vec<i64> = Vec::new();
        let pools = [(-300i64, 300i64), (-70_000, 70_000), (i64::MIN, i64::MAX)];
        for step in 0..6000 {
            let (low, high) = pools[(step / 500) % 3];
            let value = rng.i64(low..=high);
            if rng.bool() {
                let new = model.binary_search(&value).is_err();
                assert_eq!(set.insert(value), new);
                if new {
                    model.push(value);
                    model.sort_unstable();
                }
            } else if let Some(&present) = model.get(rng.usize(..model.len().max(1))) {
                assert!(set.remove(present));
                model.retain(|&v| v != present);
                assert!(!set.remove(present));
            }
            assert_eq!(set.len(), model.len());
            let widest = model.iter().map(|&v| width_of(v)).max().unwrap_or(2);
            assert_eq!(set.width(), widest, "the narrowest width holding them");
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), model);
        assert!(model.iter().all(|&v| set.contains(v)));
        assert_eq!(IntSet::from_sorted(&model), set);
    }

    #[test]
    fn only_canonical_text_is_an_integer() {
        let good = [
            ("0", 0),
            ("-1", -1),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (text, n) in good {
            assert_eq!(parse_canonical(text.as_bytes()), Some(n), "{text}");
        }
        let bad = [
            "",
            "-",
            "+1",
            "01",
            "-0",
            "-01",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "9223372036854775808",
            "-9223372036854775809",
            "00",
            "abc",
            "12345678901234567890",
        ];
        for text in bad {
            assert_eq!(parse_canonical(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn widths_grow_and_shrink_with_the_values() {
        let mut set = IntSet::default();
        assert_eq!(set.heap_size(), 0);
        for v in 0..10 {
            set.insert(v);
        }
        // One width byte and ten 2-byte values: a 32-byte allocation.
        assert_eq!((set.width(), set.heap_size()), (2, 32));
        set.insert(40_000);
        assert_eq!(set.width(), 4);
        set.insert(-5_000_000_000);
        assert_eq!(set.width(), 8);
        assert_eq!(set.bounds(), Some((-5_000_000_000, 40_000)));
        set.remove(-5_000_000_000);
        assert_eq!(set.width(), 4);
        set.remove(40_000);
        assert_eq!(set.width(), 2);
        assert_eq!(set.iter().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
        for v in 0..10 {
            assert!(set.remove(v));
        }
        assert_eq!(set.len(), 0);
        assert_eq!(set.heap_size(), 0);
    }
}
