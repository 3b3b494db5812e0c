//! The dense encoding: 16384 registers of 6 bits packed one after the
//! other from the least significant bit of each byte up, 12288 bytes after
//! the header. A register may straddle two bytes; the last one reads a
//! zero byte past the end, as Redis reads its string's terminator.

use super::{Histogram, REGISTERS};

/// Bits per register.
const BITS: usize = 6;
/// The largest register value.
const MAX: u8 = (1 << BITS) - 1;
/// Bytes of the registers.
pub const BYTES: usize = REGISTERS * BITS / 8;

/// The value of register `index` in `registers`.
#[inline]
pub fn get(registers: &[u8], index: usize) -> u8 {
    let byte = index * BITS / 8;
    let shift = (index * BITS) & 7;
    let low = u16::from(registers[byte]);
    let high = u16::from(registers.get(byte + 1).copied().unwrap_or(0));
    (((low | (high << 8)) >> shift) as u8) & MAX
}

/// The bytes that change when register `index` becomes `value`: where
/// they start in `registers` and their new contents (one byte for the last
/// register, whose high byte would lie past the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    /// Offset in the registers.
    pub offset: usize,
    bytes: [u8; 2],
    len: usize,
}

impl Patch {
    /// The new bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The patch that sets register `index` to `value`.
pub fn patch(registers: &[u8], index: usize, value: u8) -> Patch {
    let byte = index * BITS / 8;
    let shift = (index * BITS) & 7;
    let mask = u16::from(MAX) << shift;
    let low = u16::from(registers[byte]);
    let has_high = byte + 1 < registers.len();
    let high = if has_high {
        u16::from(registers[byte + 1])
    } else {
        0
    };
    let word = ((low | (high << 8)) & !mask) | (u16::from(value & MAX) << shift);
    Patch {
        offset: byte,
        bytes: [word as u8, (word >> 8) as u8],
        len: if has_high { 2 } else { 1 },
    }
}

/// The patch that raises register `index` to `count`, or None when it
/// already holds as much.
pub fn raise(registers: &[u8], index: usize, count: u8) -> Option<Patch> {
    (count > get(registers, index)).then(|| patch(registers, index, count))
}

/// Sets register `index` to `value` in place.
pub fn set(registers: &mut [u8], index: usize, value: u8) {
    let p = patch(registers, index, value);
    registers[p.offset..p.offset + p.len].copy_from_slice(p.bytes());
}

/// Raises register `index` to `count` in place; true if it changed.
pub fn set_if_greater(registers: &mut [u8], index: usize, count: u8) -> bool {
    match raise(registers, index, count) {
        Some(p) => {
            registers[p.offset..p.offset + p.len].copy_from_slice(p.bytes());
            true
        }
        None => false,
    }
}

/// Adds every register's value to `histogram`.
pub fn histogram(registers: &[u8], histogram: &mut Histogram) {
    // Four registers fill three bytes exactly.
    for group in registers[..BYTES].chunks_exact(3) {
        let word = u32::from(group[0]) | u32::from(group[1]) << 8 | u32::from(group[2]) << 16;
        for k in 0..4 {
            histogram[((word >> (6 * k)) & u32::from(MAX)) as usize] += 1;
        }
    }
}

/// Raises each `max[i]` to register i's value.
pub fn merge_into(registers: &[u8], max: &mut [u8; REGISTERS]) {
    for (i, slot) in max.iter_mut().enumerate() {
        let value = get(registers, i);
        if value > *slot {
            *slot = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_round_trip_without_touching_neighbours() {
        let mut registers = vec![0u8; BYTES];
        let mut expected = vec![0u8; REGISTERS];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..3 {
            for (i, slot) in expected.iter_mut().enumerate() {
                let value = rng.u8(..64);
                *slot = value;
                set(&mut registers, i, value);
            }
            for (i, &value) in expected.iter().enumerate() {
                assert_eq!(get(&registers, i), value, "register {i}");
            }
        }
        let mut histogram = [0u32; 64];
        super::histogram(&registers, &mut histogram);
        for (value, &n) in histogram.iter().enumerate() {
            let count = expected
                .iter()
                .filter(|&&v| usize::from(v) == value)
                .count();
            assert_eq!(n as usize, count);
        }
    }

    #[test]
    fn the_layout_is_redis_s() {
        // Register 0 is the low six bits of byte 0, register 1 the top two
        // bits of byte 0 and the low four of byte 1.
        let mut registers = vec![0u8; BYTES];
        set(&mut registers, 0, 0b10_1010);
        set(&mut registers, 1, 0b11_0111);
        assert_eq!(registers[..2], [0b1110_1010, 0b0000_1101]);
        // The last register has no byte after it.
        let last = patch(&registers, REGISTERS - 1, 63);
        assert_eq!((last.offset, last.bytes()), (BYTES - 1, &[0b1111_1100][..]));
        assert!(raise(&registers, 0, 5).is_none());
        assert!(set_if_greater(&mut registers, 0, 50));
        assert_eq!(get(&registers, 0), 50);
    }
}
