//! The one integer syntax Redis uses everywhere (`string2ll`): what a
//! command argument, a listpack integer and an intset member count as.

/// The integer Redis reads `text` as (its `string2ll`): the canonical
/// decimal text of an i64 only, so no `+`, no leading zero, no `-0`. The
/// commands' integer arguments and the compact encodings (listpack
/// integers, intsets) read integers with it.
pub fn parse_canonical(text: &[u8]) -> Option<i64> {
    if text == b"0" {
        return Some(0);
    }
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    if digits.len() > 19 || digits.first().is_none_or(|&b| !(b'1'..=b'9').contains(&b)) {
        return None;
    }
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(b - b'0');
        // Negative numbers build downwards so that i64::MIN fits.
        n = n.checked_mul(10)?;
        n = if negative {
            n.checked_sub(digit)?
        } else {
            n.checked_add(digit)?
        };
    }
    Some(n)
}
