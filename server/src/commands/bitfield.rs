//! BITFIELD's arguments: its operations read in order, with Redis's rules
//! and error strings (the type, then the offset, then the value; an
//! OVERFLOW applies to the operations after it).

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX};
use super::bitmaps::bit_offset;
use crate::bits::field::{Kind, Overflow};
use crate::protocol::reply::c_string;
use crate::protocol::Args;

const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// What an operation does to its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reads it.
    Get,
    /// Writes this value; replies the old one.
    Set(i64),
    /// Adds this; replies the new value.
    IncrBy(i64),
}

/// One operation of a BITFIELD request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldOp {
    /// The field's type.
    pub kind: Kind,
    /// Its first bit.
    pub offset: u64,
    /// What to do.
    pub action: Action,
    /// The overflow rule in force.
    pub overflow: Overflow,
}

/// A field type: `i1`..`i64` or `u1`..`u63`. Redis reads the width as a C
/// string, so it ends at a NUL byte.
fn field_kind(arg: &[u8]) -> Result<Kind, &'static str> {
    let arg = c_string(arg);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(BAD_TYPE),
    };
    match parse_i64(&arg[1..]) {
        Some(bits @ 1..=64) if signed || bits < 64 => Ok(Kind {
            signed,
            bits: bits as u32,
        }),
        _ => Err(BAD_TYPE),
    }
}

/// The operations of `args` (from position 2), offsets bounded by
/// `limit` bytes.
///
/// # Errors
/// The first bad argument's error, as Redis reports it.
pub fn parse_ops(args: Args<'_>, limit: u64) -> Result<Vec<FieldOp>, &'static str> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let name = args.get(j);
        let remaining = args.len() - j - 1;
        let action = if is(name, "get") && remaining >= 2 {
            Action::Get
        } else if is(name, "set") && remaining >= 3 {
            Action::Set(0)
        } else if is(name, "incrby") && remaining >= 3 {
            Action::IncrBy(0)
        } else if is(name, "overflow") && remaining >= 1 {
            let rule = args.get(j + 1);
            overflow = if is(rule, "wrap") {
                Overflow::Wrap
            } else if is(rule, "sat") {
                Overflow::Sat
            } else if is(rule, "fail") {
                Overflow::Fail
            } else {
                return Err("ERR Invalid OVERFLOW type specified");
            };
            j += 2;
            continue;
        } else {
            return Err(SYNTAX);
        };
        let kind = field_kind(args.get(j + 1))?;
        let offset = bit_offset(args.get(j + 2), Some(kind.bits), limit)?;
        let action = match action {
            Action::Get => Action::Get,
            Action::Set(_) => Action::Set(parse_i64(args.get(j + 3)).ok_or(NOT_INTEGER)?),
            Action::IncrBy(_) => Action::IncrBy(parse_i64(args.get(j + 3)).ok_or(NOT_INTEGER)?),
        };
        ops.push(FieldOp {
            kind,
            offset,
            action,
            overflow,
        });
        j += if action == Action::Get { 3 } else { 4 };
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_like_redis() {
        let ok = |t: &[u8]| field_kind(t).ok().map(|k| (k.signed, k.bits));
        assert_eq!(ok(b"i8"), Some((true, 8)));
        assert_eq!(ok(b"u63"), Some((false, 63)));
        assert_eq!(ok(b"i64"), Some((true, 64)));
        assert_eq!(ok(b"i8\0junk"), Some((true, 8)));
        for bad in [
            &b"u64"[..],
            b"i65",
            b"i0",
            b"I8",
            b"i08",
            b"",
            b"i",
            b"8",
            b"i-1",
        ] {
            assert_eq!(field_kind(bad), Err(BAD_TYPE), "{bad:?}");
        }
    }

    #[test]
    fn offsets_scale_and_stop_at_the_limit() {
        let limit = 512 << 20;
        assert_eq!(bit_offset(b"#3", Some(4), limit), Ok(12));
        assert_eq!(bit_offset(b"#3", None, limit), Err(BIT_OFFSET_ERR));
        assert_eq!(bit_offset(b"4294967295", None, limit), Ok(4_294_967_295));
        assert_eq!(bit_offset(b"4294967296", None, limit), Err(BIT_OFFSET_ERR));
        assert_eq!(bit_offset(b"#536870911", Some(8), limit), Ok(4_294_967_288));
        assert_eq!(
            bit_offset(b"#536870912", Some(8), limit),
            Err(BIT_OFFSET_ERR)
        );
        assert_eq!(
            bit_offset(b"#9223372036854775807", Some(64), limit),
            Err(BIT_OFFSET_ERR)
        );
        assert_eq!(bit_offset(b"-1", None, limit), Err(BIT_OFFSET_ERR));
        assert_eq!(bit_offset(b"", None, limit), Err(BIT_OFFSET_ERR));
    }

    const BIT_OFFSET_ERR: &str = super::super::bitmaps::BIT_OFFSET;
}
