//! The inline form of a small collection: how a hash, list, set or sorted
//! set in its compact encoding (intset, listpack) is written into its
//! entry's block, so that it costs no allocation of its own, and how it is
//! read back.
//!
//! A form is a short head (which compact encoding, and the counts the
//! value keeps beside its block) followed by the block, byte for byte. A
//! read of an inline value decodes a copy of it (one allocation of the
//! block's size), and a write re-encodes it into a rebuilt entry, so only
//! forms up to [`INLINE_MAX`] bytes are inline; a larger compact value, or
//! one in a full encoding (hashtable, skiplist, quicklist), is boxed in
//! the shard's slab of collections.

/// Largest inline form in bytes: a read copies the form, a write rebuilds
/// it, which costs less than the boxed value's slab slot and second
/// allocation only while the form is small.
pub const INLINE_MAX: usize = 1024;

/// Room for a head: a tag byte and two varints.
const HEAD_MAX: usize = 24;

/// A value's inline form, borrowed from it: see the module docs.
pub struct Form<'a> {
    head: [u8; HEAD_MAX],
    head_len: usize,
    block: &'a [u8],
}

impl<'a> Form<'a> {
    /// A form whose block is `block`, with an empty head so far.
    pub fn new(block: &'a [u8]) -> Form<'a> {
        Form {
            head: [0; HEAD_MAX],
            head_len: 0,
            block,
        }
    }

    /// Appends `byte` to the head.
    pub fn byte(mut self, byte: u8) -> Self {
        self.head[self.head_len] = byte;
        self.head_len += 1;
        self
    }

    /// Appends `n` to the head, as a varint.
    pub fn varint(mut self, mut n: usize) -> Self {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                return self.byte(byte);
            }
            self = self.byte(byte | 0x80);
        }
    }

    /// Total bytes of the form.
    pub fn len(&self) -> usize {
        self.head_len + self.block.len()
    }

    /// True when the form is small enough to live in its entry.
    pub fn fits(&self) -> bool {
        self.len() <= INLINE_MAX
    }

    /// The head and the block, to be written one after the other.
    pub fn parts(&self) -> [&[u8]; 2] {
        [&self.head[..self.head_len], self.block]
    }
}

/// Reads a form back: its head's fields in the order they were written,
/// then the block.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader of `form` (a form this module wrote into an entry).
    pub fn new(form: &'a [u8]) -> Reader<'a> {
        Reader { rest: form }
    }

    /// The next head byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&byte, rest)) => {
                self.rest = rest;
                byte
            }
            None => 0,
        }
    }

    /// The next head varint.
    pub fn varint(&mut self) -> usize {
        let mut n = 0usize;
        for shift in (0..usize::BITS).step_by(7) {
            let byte = self.byte();
            n |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        n
    }

    /// The block: everything after the head.
    pub fn block(self) -> &'a [u8] {
        self.rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_read_back_in_order() {
        let block = b"block bytes";
        let form = Form::new(block)
            .byte(3)
            .varint(300)
            .varint(0)
            .varint(usize::MAX);
        let bytes = form.parts().concat();
        assert_eq!(form.len(), bytes.len());
        let mut reader = Reader::new(&bytes);
        assert_eq!(
            (
                reader.byte(),
                reader.varint(),
                reader.varint(),
                reader.varint()
            ),
            (3, 300, 0, usize::MAX)
        );
        assert_eq!(reader.block(), block);
    }

    #[test]
    fn large_forms_do_not_fit() {
        let big = vec![0u8; INLINE_MAX];
        assert!(Form::new(&big[..INLINE_MAX - 1]).byte(1).fits());
        assert!(!Form::new(&big).byte(1).fits());
    }
}
