//! A compact sequence of byte strings in one exact-size heap block, the
//! small-collection encoding (Redis's listpack plays this part): each item
//! is a varint length and its bytes, nothing else, so ten short members
//! cost their bytes plus about one byte each and a single allocation.
//!
//! Changes rebuild the block (one allocation and a copy), which is cheap
//! while the sequence stays under the encoding thresholds (a few KiB);
//! past them the value converts to its full structure.

/// See the module docs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Packed {
    block: Box<[u8]>,
    len: u32,
}

impl Packed {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True without items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the block (lengths and items).
    pub fn block_len(&self) -> usize {
        self.block.len()
    }

    /// The block itself (an inline form's body).
    pub fn block(&self) -> &[u8] {
        &self.block
    }

    /// The sequence of `len` items whose block is `block` (a copy of one
    /// [`Packed::block`] gave).
    pub fn from_block(block: &[u8], len: usize) -> Packed {
        Packed {
            block: block.into(),
            len: u32::try_from(len).unwrap_or(u32::MAX),
        }
    }

    /// Heap bytes taken (the block; empty takes none).
    pub fn heap_size(&self) -> usize {
        self.block.len()
    }

    /// The items, first to last.
    pub fn iter(&self) -> Items<'_> {
        Items {
            rest: &self.block,
            left: self.len as usize,
        }
    }

    /// The item at `index`.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.iter().nth(index)
    }

    /// Index of the first item equal to `item`.
    pub fn position(&self, item: &[u8]) -> Option<usize> {
        self.iter().position(|i| i == item)
    }

    /// Byte offset where item `index` starts (the block's end for `len`).
    fn offset(&self, index: usize) -> usize {
        let mut at = 0;
        for _ in 0..index {
            let (len, size) = read_varint(&self.block[at..]);
            at += size + len;
        }
        at
    }

    /// Inserts `item` before item `index` (`len` appends).
    ///
    /// # Panics
    /// If `index > len` (a caller bug, never input).
    pub fn insert(&mut self, index: usize, item: &[u8]) {
        assert!(index <= self.len(), "insert past the end");
        let at = self.offset(index);
        let mut header = [0u8; 10];
        let size = write_varint(item.len(), &mut header);
        self.splice(at, at, &[&header[..size], item]);
        self.len += 1;
    }

    /// Inserts `items`, in order, before item `index` (`len` appends), in
    /// one rebuild of the block.
    ///
    /// # Panics
    /// If `index > len` (a caller bug, never input).
    pub fn insert_all(&mut self, index: usize, items: &[&[u8]]) {
        assert!(index <= self.len(), "insert past the end");
        let at = self.offset(index);
        let headers: Vec<([u8; 10], usize)> = items
            .iter()
            .map(|item| {
                let mut header = [0u8; 10];
                let size = write_varint(item.len(), &mut header);
                (header, size)
            })
            .collect();
        let parts: Vec<&[u8]> = headers
            .iter()
            .zip(items)
            .flat_map(|((header, size), item)| [&header[..*size], *item])
            .collect();
        self.splice(at, at, &parts);
        self.len += items.len() as u32;
    }

    /// Appends `item`.
    pub fn push_back(&mut self, item: &[u8]) {
        // The block's end is where the last item stops: no walk to find it.
        let end = self.block.len();
        let mut header = [0u8; 10];
        let size = write_varint(item.len(), &mut header);
        self.splice(end, end, &[&header[..size], item]);
        self.len += 1;
    }

    /// Prepends `item`.
    pub fn push_front(&mut self, item: &[u8]) {
        self.insert(0, item);
    }

    /// Removes items `from..to` (clamped to the length).
    pub fn remove_range(&mut self, from: usize, to: usize) {
        let to = to.min(self.len());
        if from >= to {
            return;
        }
        let start = self.offset(from);
        let mut end = start;
        for _ in from..to {
            let (len, size) = read_varint(&self.block[end..]);
            end += size + len;
        }
        self.splice(start, end, &[]);
        self.len -= (to - from) as u32;
    }

    /// Removes item `index`.
    pub fn remove(&mut self, index: usize) {
        self.remove_range(index, index + 1);
    }

    /// Replaces item `index` with `item`, in one rebuild of the block.
    ///
    /// # Panics
    /// If `index >= len` (a caller bug, never input).
    pub fn replace(&mut self, index: usize, item: &[u8]) {
        assert!(index < self.len(), "replace past the end");
        let start = self.offset(index);
        let (len, size) = read_varint(&self.block[start..]);
        let mut header = [0u8; 10];
        let header_len = write_varint(item.len(), &mut header);
        self.splice(start, start + size + len, &[&header[..header_len], item]);
    }

    /// Appends `items` in order, in one rebuild of the block (a hash's
    /// field and value).
    pub fn push_back_all(&mut self, items: &[&[u8]]) {
        let mut tail = Vec::new();
        let mut header = [0u8; 10];
        for item in items {
            let size = write_varint(item.len(), &mut header);
            tail.extend_from_slice(&header[..size]);
            tail.extend_from_slice(item);
        }
        let end = self.block.len();
        self.splice(end, end, &[&tail]);
        self.len += items.len() as u32;
    }

    /// Replaces bytes `start..end` of the block with `parts`, in a new
    /// block of exactly the new size.
    fn splice(&mut self, start: usize, end: usize, parts: &[&[u8]]) {
        let added: usize = parts.iter().map(|p| p.len()).sum();
        let mut block = Vec::with_capacity(self.block.len() - (end - start) + added);
        block.extend_from_slice(&self.block[..start]);
        for part in parts {
            block.extend_from_slice(part);
        }
        block.extend_from_slice(&self.block[end..]);
        self.block = block.into_boxed_slice();
    }
}

impl<'a> FromIterator<&'a [u8]> for Packed {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(items: I) -> Self {
        let mut block = Vec::new();
        let mut len = 0u32;
        let mut header = [0u8; 10];
        for item in items {
            let size = write_varint(item.len(), &mut header);
            block.extend_from_slice(&header[..size]);
            block.extend_from_slice(item);
            len += 1;
        }
        Packed {
            block: block.into_boxed_slice(),
            len,
        }
    }
}

/// The items of a [`Packed`], first to last.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (len, size) = read_varint(self.rest);
        let item = &self.rest[size..size + len];
        self.rest = &self.rest[size + len..];
        self.left -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Items<'_> {}

fn write_varint(mut n: usize, out: &mut [u8; 10]) -> usize {
    let mut i = 0;
    while n >= 0x80 {
        out[i] = (n as u8) | 0x80;
        n >>= 7;
        i += 1;
    }
    out[i] = n as u8;
    i + 1
}

/// (value, bytes read) of the varint at the start of `bytes`, which the
/// block's own writes put there.
fn read_varint(bytes: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        n |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (n, i + 1);
        }
    }
    unreachable!("a packed block holds only whole varints")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(p: &Packed) -> Vec<Vec<u8>> {
        p.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn follows_a_vector_model() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut packed = Packed::default();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for _ in 0..5000 {
            let item = vec![rng.u8(..); rng.usize(..300)];
            match rng.u8(..5) {
                0 | 1 => {
                    let at = rng.usize(..=model.len());
                    packed.insert(at, &item);
                    model.insert(at, item);
                }
                2 if !model.is_empty() => {
                    let at = rng.usize(..model.len());
                    packed.replace(at, &item);
                    model[at] = item;
                }
                3 if !model.is_empty() => {
                    let from = rng.usize(..model.len());
                    let to = from + rng.usize(..3);
                    packed.remove_range(from, to);
                    model.drain(from..to.min(model.len()));
                }
                4 if rng.bool() => {
                    let second = vec![rng.u8(..); rng.usize(..200)];
                    packed.push_back_all(&[&item, &second]);
                    model.extend([item, second]);
                }
                _ => {
                    packed.push_front(&item);
                    model.insert(0, item);
                }
            }
            assert_eq!(packed.len(), model.len());
        }
        assert_eq!(items(&packed), model);
        let rebuilt: Packed = model.iter().map(Vec::as_slice).collect();
        assert_eq!(rebuilt, packed);
        assert_eq!(packed.get(3).map(<[u8]>::to_vec), model.get(3).cloned());
    }

    #[test]
    fn insert_all_is_inserts_in_one_rebuild() {
        let mut one: Packed = [&b"a"[..], b"d"].into_iter().collect();
        let mut many = one.clone();
        one.insert(1, b"b");
        one.insert(2, &[b'c'; 200]);
        many.insert_all(1, &[b"b", &[b'c'; 200]]);
        assert_eq!(one, many);
        many.insert_all(4, &[]);
        assert_eq!(items(&many).len(), 4);
    }

    #[test]
    fn ten_short_items_take_one_small_block() {
        let packed: Packed = (0..10).map(|_| &b"abcdefgh"[..]).collect();
        assert_eq!(packed.heap_size(), 90);
        assert_eq!(packed.position(b"abcdefgh"), Some(0));
        assert_eq!(packed.position(b"x"), None);
    }
}
