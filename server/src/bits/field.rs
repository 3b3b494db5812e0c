//! Integer fields of 1 to 64 bits at any bit offset (BITFIELD), most
//! significant bit first, and Redis's overflow rules for writing a value
//! or an increment into one.

/// A field's type: signed (i1..i64) or unsigned (u1..u63).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// Two's complement.
    pub signed: bool,
    /// Width, 1 to 64 (63 when unsigned).
    pub bits: u32,
}

/// What a write does when the value does not fit the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Keep the low bits (modular arithmetic).
    Wrap,
    /// Clamp to the type's smallest or largest value.
    Sat,
    /// Do not write; the reply is nil.
    Fail,
}

/// The bytes of a string that hold a field at bit `offset` of width
/// `bits`: the first byte's index and how many (at most 9).
pub fn window(offset: u64, bits: u32) -> (u64, usize) {
    let first = offset >> 3;
    let last = (offset + u64::from(bits) - 1) >> 3;
    (first, (last - first + 1) as usize)
}

/// The unsigned field at bit `offset` of `bytes` (bits past the end read
/// zero).
pub fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    let mut value = 0u64;
    for bit in offset..offset + u64::from(bits) {
        let byte = bytes.get((bit >> 3) as usize).copied().unwrap_or(0);
        value = (value << 1) | u64::from((byte >> (7 - (bit & 7))) & 1);
    }
    value
}

/// The signed field at bit `offset` of `bytes`.
pub fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let raw = get_unsigned(bytes, offset, bits);
    if bits < 64 && raw & (1u64 << (bits - 1)) != 0 {
        (raw | (u64::MAX << bits)) as i64
    } else {
        raw as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset` of `bytes`, which
/// must be long enough.
pub fn set(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let on = (value >> (u64::from(bits) - 1 - j)) & 1;
        let bit = offset + j;
        let byte = &mut bytes[(bit >> 3) as usize];
        let shift = 7 - (bit & 7);
        *byte = (*byte & !(1 << shift)) | ((on as u8) << shift);
    }
}

/// The value to store when an unsigned field holding `value` gets `incr`
/// (0 for a plain write of `value`), and whether it overflowed: Some when
/// it did (the wrapped or saturated value, or nothing to write under
/// FAIL), as Redis's `checkUnsignedBitfieldOverflow`.
pub fn unsigned_result(value: u64, incr: i64, bits: u32, overflow: Overflow) -> (u64, bool) {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = 0u64.wrapping_sub(value) as i64;
    let wrapped = || {
        let sum = value.wrapping_add(incr as u64);
        if bits == 64 {
            sum
        } else {
            sum & !(u64::MAX << bits)
        }
    };
    if value > max || (incr > 0 && incr > max_incr) {
        let limit = if overflow == Overflow::Sat {
            max
        } else {
            wrapped()
        };
        (limit, true)
    } else if incr < 0 && incr < min_incr {
        let limit = if overflow == Overflow::Sat {
            0
        } else {
            wrapped()
        };
        (limit, true)
    } else {
        (value.wrapping_add(incr as u64), false)
    }
}

/// [`unsigned_result`] for a signed field, as Redis's
/// `checkSignedBitfieldOverflow` (its quirks included: a plain write of a
/// value far below the type's range of fewer than 64 bits saturates to the
/// maximum, because the range check works on a wrapped difference).
pub fn signed_result(value: i64, incr: i64, bits: u32, overflow: Overflow) -> (i64, bool) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let mut sum = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if sum & (1u64 << (bits - 1)) != 0 {
                sum |= mask;
            } else {
                sum &= !mask;
            }
        }
        sum as i64
    };
    let partial = bits != 64;
    if value > max || (partial && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr) {
        let limit = if overflow == Overflow::Sat {
            max
        } else {
            wrapped()
        };
        (limit, true)
    } else if value < min
        || (partial && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        let limit = if overflow == Overflow::Sat {
            min
        } else {
            wrapped()
        };
        (limit, true)
    } else {
        (value.wrapping_add(incr), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_msb_first_at_any_offset() {
        // A 5-bit 23 at offset 7 of zeros: 00000001 01110000.
        let mut bytes = [0u8; 2];
        set(&mut bytes, 7, 5, 23);
        assert_eq!(bytes, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&bytes, 7, 5), 23);
        assert_eq!(get_signed(&bytes, 7, 5), 23 - 32);
        assert_eq!(get_unsigned(&bytes, 12, 64), 0);
        assert_eq!(window(7, 5), (0, 2));
        assert_eq!(window(0, 64), (0, 8));
        assert_eq!(window(1, 64), (0, 9));
        let mut wide = [0u8; 9];
        set(&mut wide, 3, 64, u64::MAX);
        assert_eq!(get_signed(&wide, 3, 64), -1);
        assert_eq!(wide[0], 0b0001_1111);
        assert_eq!(wide[8], 0b1110_0000);
    }

    #[test]
    fn overflow_follows_redis() {
        use Overflow::*;
        // Redis 7: BITFIELD k OVERFLOW SAT SET i8 0 -9223372036854775808
        // stores 127; WRAP stores 0.
        assert_eq!(signed_result(i64::MIN, 0, 8, Sat), (127, true));
        assert_eq!(signed_result(i64::MIN, 0, 8, Wrap), (0, true));
        assert_eq!(signed_result(-200, 0, 8, Sat), (-128, true));
        assert_eq!(signed_result(100, i64::MIN, 8, Sat), (-128, true));
        assert_eq!(signed_result(-128, i64::MAX, 8, Wrap), (127, true));
        assert_eq!(signed_result(i64::MAX, 1, 64, Sat), (i64::MAX, true));
        assert_eq!(signed_result(i64::MAX, 1, 64, Wrap), (i64::MIN, true));
        assert_eq!(signed_result(-1, 5, 1, Sat), (0, true));
        assert_eq!(signed_result(5, -3, 8, Fail), (2, false));
        // SET u8 -1: 255 under SAT and WRAP.
        assert_eq!(unsigned_result(u64::MAX, 0, 8, Sat), (255, true));
        assert_eq!(unsigned_result(u64::MAX, 0, 8, Wrap), (255, true));
        let max63 = (1u64 << 63) - 1;
        assert_eq!(unsigned_result(max63, i64::MAX, 63, Sat), (max63, true));
        assert_eq!(unsigned_result(max63, 5, 63, Wrap), (4, true));
        assert_eq!(unsigned_result(4, i64::MIN, 63, Sat), (0, true));
        assert_eq!(unsigned_result(4, -4, 63, Sat), (0, false));
    }
}
