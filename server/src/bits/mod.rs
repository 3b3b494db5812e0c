//! Bitmaps as Redis's bit commands see a string: bit 0 is the most
//! significant bit of byte 0, and bits past the end read as zero. Counting
//! and searching over Redis's ranges (byte or bit indexes, negative from
//! the end), bitwise operations across strings, and fixed-width integer
//! fields ([`field`]). Independent of the store: the commands pass slices.

pub mod field;

/// What the indexes of a range count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes (the default).
    Byte,
    /// Bits.
    Bit,
}

/// The inclusive bit range Redis selects with `start..=end` (negative
/// counts from the end, then both are clamped) in a string of `len`
/// bytes; None when it is empty.
pub fn resolve(start: i64, end: i64, len: usize, unit: Unit) -> Option<(u64, u64)> {
    let total = match unit {
        Unit::Byte => len as i64,
        Unit::Bit => (len as i64) << 3,
    };
    let start = if start < 0 { total + start } else { start }.max(0);
    let mut end = if end < 0 { total + end } else { end }.max(0);
    if end >= total {
        end = total - 1;
    }
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(match unit {
        Unit::Byte => (start << 3, (end << 3) + 7),
        Unit::Bit => (start, end),
    })
}

/// The mask of the bits of one byte from bit `from` to bit `to` (0 = the
/// most significant), inclusive.
fn byte_mask(from: u64, to: u64) -> u8 {
    let high = 0xffu8 >> from;
    let low = 0xffu8 << (7 - to);
    high & low
}

/// Set bits in `bytes` (a fast word-at-a-time count).
pub fn popcount(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let mut count: u64 = 0;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        count += u64::from(u64::from_ne_bytes(w).count_ones());
    }
    count
        + words
            .remainder()
            .iter()
            .map(|b| u64::from(b.count_ones()))
            .sum::<u64>()
}

/// Set bits in the inclusive bit range `from..=to` of `bytes` (within its
/// length).
pub fn count_range(bytes: &[u8], from: u64, to: u64) -> u64 {
    let (first, last) = ((from >> 3) as usize, (to >> 3) as usize);
    if first == last {
        return u64::from((bytes[first] & byte_mask(from & 7, to & 7)).count_ones());
    }
    let head = u64::from((bytes[first] & byte_mask(from & 7, 7)).count_ones());
    let tail = u64::from((bytes[last] & byte_mask(0, to & 7)).count_ones());
    head + popcount(&bytes[first + 1..last]) + tail
}

/// The first bit equal to `bit` in the inclusive bit range `from..=to` of
/// `bytes` (within its length), if any.
pub fn position(bytes: &[u8], from: u64, to: u64, bit: bool) -> Option<u64> {
    // Searching for a zero is searching for a one in the complement.
    let flip = if bit { 0 } else { 0xff };
    let (first, last) = ((from >> 3) as usize, (to >> 3) as usize);
    let in_byte = |i: usize, lo: u64, hi: u64| -> Option<u64> {
        let b = (bytes[i] ^ flip) & byte_mask(lo, hi);
        (b != 0).then(|| ((i as u64) << 3) + u64::from(b.leading_zeros()))
    };
    if first == last {
        return in_byte(first, from & 7, to & 7);
    }
    if let Some(p) = in_byte(first, from & 7, 7) {
        return Some(p);
    }
    let skip = flip;
    let middle = &bytes[first + 1..last];
    // Skip whole words of the uninteresting value, then find the byte.
    let mut at = 0;
    while at + 8 <= middle.len() && middle[at..at + 8].iter().all(|&b| b == skip) {
        at += 8;
    }
    if let Some(offset) = middle[at..].iter().position(|&b| b != skip) {
        return in_byte(first + 1 + at + offset, 0, 7);
    }
    in_byte(last, 0, to & 7)
}

/// A bitwise operation of BITOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Every source's bit set.
    And,
    /// Any source's bit set.
    Or,
    /// An odd number of sources' bits set.
    Xor,
    /// The one source's bit clear.
    Not,
}

/// The result of BITOP built one source at a time (so no source is
/// copied first): sources shorter than the longest read as zero-padded.
#[derive(Debug)]
pub struct Combine {
    op: Op,
    out: Option<Vec<u8>>,
}

impl Combine {
    /// An operation with no source yet.
    pub fn new(op: Op) -> Combine {
        Combine { op, out: None }
    }

    /// Folds in the next source.
    pub fn push(&mut self, source: &[u8]) {
        let Some(out) = self.out.as_mut() else {
            let mut first = source.to_vec();
            if self.op == Op::Not {
                first.iter_mut().for_each(|b| *b = !*b);
            }
            self.out = Some(first);
            return;
        };
        // What lies past the shorter of the two reads as zero: growing
        // the result with zeros keeps every operation right.
        if source.len() > out.len() {
            out.resize(source.len(), 0);
        }
        let (overlap, past) = out.split_at_mut(source.len());
        match self.op {
            Op::And => {
                overlap.iter_mut().zip(source).for_each(|(o, s)| *o &= s);
                past.fill(0);
            }
            Op::Or => overlap.iter_mut().zip(source).for_each(|(o, s)| *o |= s),
            Op::Xor => overlap.iter_mut().zip(source).for_each(|(o, s)| *o ^= s),
            // NOT has one source; a second cannot come from BITOP.
            Op::Not => {}
        }
    }

    /// The result: as long as the longest source.
    pub fn finish(self) -> Vec<u8> {
        self.out.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
