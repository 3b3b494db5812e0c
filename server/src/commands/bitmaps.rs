//! Bitmap commands: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
//! BITFIELD_RO, over plain string values (a bitmap is a string, as in
//! Redis). Writes patch the bytes they change in place (`Shard::set_range_at`)
//! and grow a string with spare room, so SETBIT costs the same on a
//! 64 MiB bitmap as on a small one; offsets stop at `proto-max-bulk-len`.
//! The bit logic itself is in `crate::bits`.

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::bitfield::{parse_ops, Action, FieldOp};
use super::spec::flag_sets::{R, RF, WM};
use super::spec::{Categories as C, CommandSpec as Cmd, KeySpec};
use super::{Ctx, Outcome};
use crate::bits::{self, field, Unit};
use crate::notify::Classes as N;
use crate::protocol::Args;
use crate::store::{initial_access, KeyLock, ValueRef};

const B: C = C::BITMAP;

/// BITOP's keys: the destination and the sources, from position 2 on.
const FROM_TWO: KeySpec = KeySpec::Range {
    first: 2,
    last: -1,
    step: 1,
};

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("setbit", setbit, 4, WM, "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.").keys(KeySpec::ONE).acl(B),
    Cmd::new("getbit", getbit, 3, RF, "bitmap", "Returns a bit value by offset.").keys(KeySpec::ONE).acl(B),
    Cmd::new("bitcount", bitcount, -2, R, "bitmap", "Counts the number of set bits (population counting) in a string.").keys(KeySpec::ONE).acl(B),
    Cmd::new("bitpos", bitpos, -3, R, "bitmap", "Finds the first set (1) or clear (0) bit in a string.").keys(KeySpec::ONE).acl(B),
    Cmd::new("bitop", bitop, -4, WM, "bitmap", "Performs bitwise operations on multiple strings, and stores the result.").keys(FROM_TWO).acl(B),
    Cmd::new("bitfield", bitfield, -2, WM, "bitmap", "Performs arbitrary bitfield integer operations on strings.").keys(KeySpec::ONE).acl(B),
    Cmd::new("bitfield_ro", bitfield_ro, -2, RF, "bitmap", "Performs arbitrary read-only bitfield integer operations on strings.").keys(KeySpec::ONE).acl(B),
];

/// A bad offset of SETBIT, GETBIT or BITFIELD.
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BIT_VALUE: &str = "ERR bit is not an integer or out of range";

/// Parses a bit offset as Redis does: a non-negative integer whose byte
/// lies below `proto-max-bulk-len`; with `field_bits`, `#n` means n fields
/// of that width (BITFIELD).
pub fn bit_offset(arg: &[u8], field_bits: Option<u32>, limit: u64) -> Result<u64, &'static str> {
    let (digits, scale) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    // Redis multiplies in a C long long; a product past its range wraps
    // and is then refused as negative or too large, as here.
    let offset = parse_i64(digits).ok_or(BIT_OFFSET)?.wrapping_mul(scale);
    if offset < 0 || (offset as u64 >> 3) >= limit {
        return Err(BIT_OFFSET);
    }
    Ok(offset as u64)
}

/// Largest string a command may build (the configured bulk limit).
fn max_string(ctx: &Ctx<'_>) -> u64 {
    ctx.node.config.read().proto_max_bulk_len
}

/// The string a bit command writes: the stored one, patched in place, or
/// a new one built here and stored when the command is done.
enum Target {
    Stored(usize),
    New(Vec<u8>),
}

impl Target {
    /// Opens the string at `key` for writes up to byte `last`, padding it
    /// with zeros to reach it; Err when the key holds another type.
    fn open(lock: &mut KeyLock<'_>, key: &[u8], last: usize) -> Result<Target, ()> {
        let Some(index) = lock.find(key) else {
            return Ok(Target::New(vec![0; last + 1]));
        };
        let len = match lock.shard.value(index) {
            ValueRef::Str(v) => v.len(),
            _ => return Err(()),
        };
        if len <= last {
            lock.shard.set_range_at(index, last, &[0]);
        }
        Ok(Target::Stored(index))
    }

    fn bytes<'a>(&'a self, lock: &'a KeyLock<'_>) -> &'a [u8] {
        match self {
            Target::New(bytes) => bytes,
            Target::Stored(index) => match lock.shard.value(*index) {
                ValueRef::Str(v) => v,
                _ => &[],
            },
        }
    }

    fn write(&mut self, lock: &mut KeyLock<'_>, at: usize, patch: &[u8]) {
        match self {
            Target::New(bytes) => bytes[at..at + patch.len()].copy_from_slice(patch),
            Target::Stored(index) => {
                lock.shard.set_range_at(*index, at, patch);
            }
        }
    }

    /// Stores a new string (a stored one is already up to date).
    fn close(self, lock: &mut KeyLock<'_>, key: &[u8]) {
        if let Target::New(bytes) = self {
            let access = lock.new_access();
            lock.shard.insert_built(lock.hash, key, bytes, access);
        }
    }
}

/// SETBIT key offset value
pub fn setbit(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let offset = match bit_offset(args.get(2), None, max_string(ctx)) {
        Ok(offset) => offset,
        Err(e) => return ctx.fail(e),
    };
    let on = match parse_i64(args.get(3)) {
        Some(on @ (0 | 1)) => on == 1,
        _ => return ctx.fail(BIT_VALUE),
    };
    let key = args.get(1);
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let mut lock = ctx.store.lock(key);
    // As Redis: announced when the key is created or grown, or the bit
    // changes.
    let grows = match lock.find(key).map(|i| lock.shard.value(i)) {
        Some(ValueRef::Str(v)) => v.len() <= byte,
        _ => true,
    };
    let Ok(mut target) = Target::open(&mut lock, key, byte) else {
        return ctx.fail(WRONGTYPE);
    };
    // `open` made the string reach the byte.
    let old = target.bytes(&lock).get(byte).copied().unwrap_or(0);
    let new = if on { old | mask } else { old & !mask };
    if new != old {
        target.write(&mut lock, byte, &[new]);
    }
    target.close(&mut lock, key);
    if grows || new != old {
        ctx.notify(N::STRING, "setbit", key);
    }
    ctx.reply.int(i64::from(old & mask != 0));
    Outcome::Wrote
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let offset = match bit_offset(args.get(2), None, max_string(ctx)) {
        Ok(offset) => offset,
        Err(e) => return ctx.fail(e),
    };
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let bit = match lock.read(key).map(|i| lock.shard.value(i)) {
        None => false,
        Some(ValueRef::Str(v)) => v
            .get((offset >> 3) as usize)
            .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0),
        Some(_) => return ctx.fail(WRONGTYPE),
    };
    ctx.reply.int(i64::from(bit));
    Outcome::Unchanged
}

/// An inclusive range of bits; None when empty.
type BitRange = Option<(u64, u64)>;

/// BIT or BYTE.
fn unit(arg: &[u8]) -> Result<Unit, &'static str> {
    if is(arg, "bit") {
        Ok(Unit::Bit)
    } else if is(arg, "byte") {
        Ok(Unit::Byte)
    } else {
        Err(SYNTAX)
    }
}

/// The bit range BITCOUNT counts in a string of `len` bytes, in Redis
/// 7's order of checks (the key is looked up first); None for none.
fn bitcount_range(args: Args<'_>, len: usize) -> Result<BitRange, &'static str> {
    match args.len() {
        2 => Ok(bits::resolve(0, -1, len, Unit::Byte)),
        4 | 5 => {
            let start = parse_i64(args.get(2)).ok_or(NOT_INTEGER)?;
            let end = parse_i64(args.get(3)).ok_or(NOT_INTEGER)?;
            // Both from the end and crossed: empty, before the unit is read.
            if start < 0 && end < 0 && start > end {
                return Ok(None);
            }
            let unit = match args.try_get(4) {
                Some(arg) => unit(arg)?,
                None => Unit::Byte,
            };
            Ok(bits::resolve(start, end, len, unit))
        }
        _ => Err(SYNTAX),
    }
}

/// BITCOUNT key [start end [BYTE | BIT]]
pub fn bitcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let store = ctx.store;
    let mut lock = store.lock(key);
    let value = match lock.read(key).map(|i| lock.shard.value(i)) {
        None => {
            ctx.reply.int(0);
            return Outcome::Unchanged;
        }
        Some(ValueRef::Str(v)) => v,
        Some(_) => return ctx.fail(WRONGTYPE),
    };
    match bitcount_range(args, value.len()) {
        Ok(Some((from, to))) => ctx.reply.int(bits::count_range(value, from, to) as i64),
        Ok(None) => ctx.reply.int(0),
        Err(e) => return ctx.fail(e),
    }
    Outcome::Unchanged
}

/// BITPOS's range over `len` bytes, and whether an end was given: None
/// when empty.
fn bitpos_range(args: Args<'_>, len: usize) -> Result<(BitRange, bool), &'static str> {
    match args.len() {
        3 => Ok((bits::resolve(0, -1, len, Unit::Byte), false)),
        4..=6 => {
            let start = parse_i64(args.get(3)).ok_or(NOT_INTEGER)?;
            // Redis reads the unit before the end.
            let unit = match args.try_get(5) {
                Some(arg) => unit(arg)?,
                None => Unit::Byte,
            };
            let (end, given) = match args.try_get(4) {
                Some(arg) => (parse_i64(arg).ok_or(NOT_INTEGER)?, true),
                None => (-1, false),
            };
            Ok((bits::resolve(start, end, len, unit), given))
        }
        _ => Err(SYNTAX),
    }
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
///
/// No clear bit in a range without an end answers the first bit past the
/// string (it reads as zero-padded); with an end, -1.
pub fn bitpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let bit = match parse_i64(args.get(2)) {
        Some(b @ (0 | 1)) => b == 1,
        Some(_) => return ctx.fail("ERR The bit argument must be 1 or 0."),
        None => return ctx.fail(NOT_INTEGER),
    };
    let key = args.get(1);
    let store = ctx.store;
    let mut lock = store.lock(key);
    let value = match lock.read(key).map(|i| lock.shard.value(i)) {
        None => {
            ctx.reply.int(if bit { -1 } else { 0 });
            return Outcome::Unchanged;
        }
        Some(ValueRef::Str(v)) => v,
        Some(_) => return ctx.fail(WRONGTYPE),
    };
    let found = match bitpos_range(args, value.len()) {
        Ok((None, _)) => -1,
        Ok((Some((from, to)), end_given)) => match bits::position(value, from, to, bit) {
            Some(at) => at as i64,
            None if bit || end_given => -1,
            None => (to + 1) as i64,
        },
        Err(e) => return ctx.fail(e),
    };
    ctx.reply.int(found);
    Outcome::Unchanged
}

/// BITOP AND | OR | XOR | NOT destkey key [key ...]
///
/// Missing sources read as empty strings; an empty result deletes the
/// destination. The result replaces whatever the destination held, TTL
/// included.
pub fn bitop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let name = args.get(1);
    let op = if is(name, "and") {
        bits::Op::And
    } else if is(name, "or") {
        bits::Op::Or
    } else if is(name, "xor") {
        bits::Op::Xor
    } else if is(name, "not") {
        bits::Op::Not
    } else {
        return ctx.fail(SYNTAX);
    };
    if op == bits::Op::Not && args.len() != 4 {
        return ctx.fail("ERR BITOP NOT must be called with a single source key.");
    }
    let dest = args.get(2);
    let mut locks = ctx.store.lock_keys(args.iter_from(2));
    let mut result = bits::Combine::new(op);
    for key in args.iter_from(3) {
        let (found, shard, _) = locks.find(key);
        match found.map(|i| shard.value(i)) {
            None => {
                shard.count_miss(key);
                result.push(b"");
            }
            Some(ValueRef::Str(v)) => result.push(v),
            Some(_) => return ctx.fail(WRONGTYPE),
        }
    }
    let result = result.finish();
    let len = result.len();
    let (now, access) = (locks.now, initial_access(locks.policy, locks.now));
    let (shard, hash) = locks.shard(dest);
    let existed = shard.remove(hash, dest, now).is_some();
    if len > 0 {
        // The result moves into the store, not copied again.
        shard.insert_built(hash, dest, result, access);
        ctx.notify(N::STRING, "set", dest);
    } else if existed {
        ctx.notify(N::GENERIC, "del", dest);
    }
    ctx.reply.int(len as i64);
    // Only the destination changed (position 2).
    Outcome::WroteKey(2)
}

/// BITFIELD key [GET type offset | SET type offset value | INCRBY type
/// offset increment | OVERFLOW WRAP | SAT | FAIL ...]
pub fn bitfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_bitfield(ctx, args, false)
}

/// BITFIELD_RO key [GET type offset ...]
pub fn bitfield_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_bitfield(ctx, args, true)
}

fn run_bitfield(ctx: &mut Ctx<'_>, args: Args<'_>, read_only: bool) -> Outcome {
    let ops = match parse_ops(args, max_string(ctx)) {
        Ok(ops) => ops,
        Err(e) => return ctx.fail(e),
    };
    let last_written = ops
        .iter()
        .filter(|op| op.action != Action::Get)
        .map(|op| op.offset + u64::from(op.kind.bits) - 1)
        .max();
    let key = args.get(1);
    let store = ctx.store;
    let mut lock = store.lock(key);
    let Some(last) = last_written else {
        return bitfield_reads(ctx, &mut lock, key, &ops);
    };
    if read_only {
        return ctx.fail("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let Ok(mut target) = Target::open(&mut lock, key, (last >> 3) as usize) else {
        return ctx.fail(WRONGTYPE);
    };
    ctx.reply.array(ops.len());
    let mut changed = false;
    for op in &ops {
        let (first, n) = field::window(op.offset, op.kind.bits);
        let first = first as usize;
        let mut window = [0u8; 9];
        // A GET may reach past what the writes grew the string to.
        if let Some(stored) = target.bytes(&lock).get(first..) {
            let available = stored.len().min(n);
            window[..available].copy_from_slice(&stored[..available]);
        }
        let relative = op.offset & 7;
        match apply(op, &mut window[..n], relative) {
            Applied::Read(value) => ctx.reply.int(value),
            Applied::Wrote(value) => {
                target.write(&mut lock, first, &window[..n]);
                ctx.reply.int(value);
                changed = true;
            }
            Applied::Failed => ctx.reply.null(),
        }
    }
    target.close(&mut lock, key);
    if changed {
        ctx.notify(N::STRING, "setbit", key);
    }
    Outcome::Wrote
}

/// BITFIELD's GETs alone: a read of the key as it is (missing: zeros).
fn bitfield_reads(
    ctx: &mut Ctx<'_>,
    lock: &mut KeyLock<'_>,
    key: &[u8],
    ops: &[FieldOp],
) -> Outcome {
    let value = match lock.read(key).map(|i| lock.shard.value(i)) {
        None => &[][..],
        Some(ValueRef::Str(v)) => v,
        Some(_) => return ctx.fail(WRONGTYPE),
    };
    ctx.reply.array(ops.len());
    for op in ops {
        let value = if op.kind.signed {
            field::get_signed(value, op.offset, op.kind.bits)
        } else {
            field::get_unsigned(value, op.offset, op.kind.bits) as i64
        };
        ctx.reply.int(value);
    }
    Outcome::Unchanged
}

/// What one operation did to its window.
enum Applied {
    Read(i64),
    Wrote(i64),
    /// An overflow under OVERFLOW FAIL: nothing written, nil replied.
    Failed,
}

/// Runs `op` on `window`, the bytes holding its field from bit
/// `relative` on.
fn apply(op: &FieldOp, window: &mut [u8], relative: u64) -> Applied {
    let bits = op.kind.bits;
    if op.kind.signed {
        let old = field::get_signed(window, relative, bits);
        let (new, overflowed, reply) = match op.action {
            Action::Get => return Applied::Read(old),
            Action::Set(value) => {
                let (new, overflowed) = field::signed_result(value, 0, bits, op.overflow);
                (new, overflowed, old)
            }
            Action::IncrBy(by) => {
                let (new, overflowed) = field::signed_result(old, by, bits, op.overflow);
                (new, overflowed, new)
            }
        };
        if overflowed && op.overflow == field::Overflow::Fail {
            return Applied::Failed;
        }
        field::set(window, relative, bits, new as u64);
        Applied::Wrote(reply)
    } else {
        let old = field::get_unsigned(window, relative, bits);
        let (new, overflowed, reply) = match op.action {
            Action::Get => return Applied::Read(old as i64),
            Action::Set(value) => {
                let (new, overflowed) = field::unsigned_result(value as u64, 0, bits, op.overflow);
                (new, overflowed, old)
            }
            Action::IncrBy(by) => {
                let (new, overflowed) = field::unsigned_result(old, by, bits, op.overflow);
                (new, overflowed, new)
            }
        };
        if overflowed && op.overflow == field::Overflow::Fail {
            return Applied::Failed;
        }
        field::set(window, relative, bits, new);
        Applied::Wrote(reply as i64)
    }
}
