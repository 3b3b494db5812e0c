//! HyperLogLog commands: PFADD PFCOUNT PFMERGE, over string values in
//! Redis's HyperLogLog format (`crate::hyperloglog`), so GET of a key
//! returns the bytes redis-server would hold. A dense HyperLogLog is
//! updated in place, two bytes per raised register; a sparse one (at most
//! `hll-sparse-max-bytes`) is rewritten.

use super::args::WRONGTYPE;
use super::spec::flag_sets::{R, WM, WMF};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec, Routing};
use super::{Ctx, Outcome};
use crate::hyperloglog::{self as hll, dense, Corrupt, Encoding, HEADER, REGISTERS};
use crate::notify::Classes as N;
use crate::protocol::Args;
use crate::store::{KeyLock, MultiLock, OwnedValue, ValueRef};

const H: C = C::HYPERLOGLOG;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("pfadd", pfadd, -2, WMF, "hyperloglog", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.").keys(KeySpec::ONE).acl(H).event(N::STRING, "pfadd"),
    Cmd::new("pfcount", pfcount, -2, R.with(F::MAY_REPLICATE), "hyperloglog", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).").keys(KeySpec::ALL).acl(H).routing(Routing::Gather),
    Cmd::new("pfmerge", pfmerge, -2, WM, "hyperloglog", "Merges one or more HyperLogLog values into a single key.").keys(KeySpec::ALL).acl(H).event(N::STRING, "pfadd"),
];

/// A string that is not a HyperLogLog.
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// A HyperLogLog whose registers do not decode.
const INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";

/// `hll-sparse-max-bytes`.
fn sparse_max(ctx: &Ctx<'_>) -> usize {
    usize::try_from(ctx.node.config.read().hll_sparse_max_bytes).unwrap_or(usize::MAX)
}

/// The HyperLogLog a value holds, or the error to reply.
fn as_hll(value: ValueRef<'_>) -> Result<(&[u8], Encoding), &'static str> {
    match value {
        ValueRef::Str(v) => hll::encoding(v).map(|e| (v, e)).ok_or(NOT_HLL),
        _ => Err(WRONGTYPE),
    }
}

/// Replaces the string at `index` with `bytes`, in place when the length
/// is the same, keeping its TTL.
fn write_back(lock: &mut KeyLock<'_>, index: usize, key: &[u8], bytes: &[u8]) {
    let same_len = matches!(lock.shard.value(index), ValueRef::Str(v) if v.len() == bytes.len());
    if same_len {
        lock.shard.set_range_at(index, 0, bytes);
    } else {
        lock.rewrite_string(Some(index), key, bytes);
    }
}

/// PFADD key [element ...]
pub fn pfadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let sparse_max = sparse_max(ctx);
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Some(index) = lock.find(key) else {
        // A new key counts as a change even with no element.
        let mut created = hll::new_sparse();
        for element in args.iter_from(2) {
            // A fresh HyperLogLog always decodes.
            let _ = hll::add(&mut created, element, sparse_max);
        }
        hll::invalidate(&mut created);
        let access = lock.new_access();
        lock.shard.insert_built(lock.hash, key, created, access);
        ctx.reply.int(1);
        return Outcome::Wrote;
    };
    let encoding = match as_hll(lock.shard.value(index)) {
        Ok((_, encoding)) => encoding,
        Err(e) => return ctx.fail(e),
    };
    let updated = match encoding {
        Encoding::Dense => add_dense(&mut lock, index, args),
        Encoding::Sparse => match add_sparse(&mut lock, index, key, args, sparse_max) {
            Ok(updated) => updated,
            Err(Corrupt) => return ctx.fail(INVALID),
        },
    };
    ctx.reply.int(i64::from(updated));
    if updated {
        Outcome::Wrote
    } else {
        Outcome::Unchanged
    }
}

/// Adds the elements to the dense HyperLogLog at `index`, patching the
/// registers they raise; true if any.
fn add_dense(lock: &mut KeyLock<'_>, index: usize, args: Args<'_>) -> bool {
    let mut updated = false;
    for element in args.iter_from(2) {
        let (register, count) = hll::pattern(element);
        let ValueRef::Str(value) = lock.shard.value(index) else {
            return updated;
        };
        if let Some(patch) = dense::raise(&value[HEADER..], register, count) {
            lock.shard
                .set_range_at(index, HEADER + patch.offset, patch.bytes());
            updated = true;
        }
    }
    if updated {
        if let ValueRef::Str(value) = lock.shard.value(index) {
            let (at, byte) = hll::stale_flag(value);
            lock.shard.set_range_at(index, at, &[byte]);
        }
    }
    updated
}

/// Adds the elements to a copy of the sparse HyperLogLog at `index` and
/// stores it back; true if a register changed.
///
/// # Errors
/// The registers do not decode; what the elements before changed is kept,
/// as in Redis.
fn add_sparse(
    lock: &mut KeyLock<'_>,
    index: usize,
    key: &[u8],
    args: Args<'_>,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    let mut copy = match lock.shard.value(index) {
        ValueRef::Str(v) => v.to_vec(),
        _ => return Ok(false),
    };
    let mut updated = false;
    let mut result = Ok(());
    for element in args.iter_from(2) {
        match hll::add(&mut copy, element, sparse_max) {
            Ok(changed) => updated |= changed,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() && updated {
        hll::invalidate(&mut copy);
    }
    if updated {
        write_back(lock, index, key, &copy);
    }
    result.map(|()| updated)
}

/// PFCOUNT key [key ...]: one key answers (and caches) its estimate; several
/// answer the estimate of their union, changing none of them.
pub fn pfcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if args.len() > 2 {
        let store = ctx.store;
        let mut locks = store.lock_keys(args.iter_from(1));
        return match union(&mut locks, args) {
            Ok((registers, _)) => {
                ctx.reply.int(hll::count_registers(&registers) as i64);
                Outcome::Unchanged
            }
            Err(e) => ctx.fail(e),
        };
    }
    let key = args.get(1);
    let store = ctx.store;
    let mut lock = store.lock(key);
    let Some(index) = lock.read(key) else {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    let value = match as_hll(lock.shard.value(index)) {
        Ok((value, _)) => value,
        Err(e) => return ctx.fail(e),
    };
    if let Some(card) = hll::cached(value) {
        ctx.reply.int(card as i64);
        return Outcome::Unchanged;
    }
    let Ok(card) = hll::count(value) else {
        return ctx.fail(INVALID);
    };
    // Caching the estimate changes the string: replicas get it too, as
    // Redis propagates it.
    lock.shard
        .set_range_at(index, hll::CACHE_AT, &hll::cache_bytes(card));
    ctx.reply.int(card as i64);
    Outcome::WroteKey(1)
}

/// The registers of the union of the HyperLogLogs at the keys of `args`
/// (missing keys are empty), and whether any is dense.
fn union(
    locks: &mut MultiLock<'_>,
    args: Args<'_>,
) -> Result<(Box<[u8; REGISTERS]>, bool), &'static str> {
    let mut registers = Box::new([0u8; REGISTERS]);
    let mut any_dense = false;
    for key in args.iter_from(1) {
        let (found, shard, _) = locks.find(key);
        let Some(index) = found else {
            shard.count_miss(key);
            continue;
        };
        let (value, encoding) = as_hll(shard.value(index))?;
        any_dense |= encoding == Encoding::Dense;
        hll::merge_into(value, &mut registers).map_err(|_| INVALID)?;
    }
    Ok((registers, any_dense))
}

/// PFMERGE destkey [sourcekey ...]: the destination (a source too) gets
/// the union of all; it is dense if any input is, and keeps its TTL.
pub fn pfmerge(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let sparse_max = sparse_max(ctx);
    let store = ctx.store;
    // Every key stays locked from the first read to the write.
    let mut locks = store.lock_keys(args.iter_from(1));
    let (registers, any_dense) = match union(&mut locks, args) {
        Ok(union) => union,
        Err(e) => return ctx.fail(e),
    };
    let dest = args.get(1);
    let (found, shard, _) = locks.find(dest);
    let (mut merged, ttl) = match found {
        Some(index) => match shard.value(index) {
            ValueRef::Str(v) => (v.to_vec(), shard.at(index).expire_at()),
            _ => return ctx.fail(WRONGTYPE),
        },
        None => (hll::new_sparse(), None),
    };
    if any_dense && hll::promote(&mut merged).is_err() {
        return ctx.fail(INVALID);
    }
    for (register, &count) in registers.iter().enumerate() {
        if count != 0 && hll::set_register(&mut merged, register, count, sparse_max).is_err() {
            return ctx.fail(INVALID);
        }
    }
    hll::invalidate(&mut merged);
    locks.put(dest, OwnedValue::Str(merged), ttl);
    ctx.reply.ok();
    Outcome::WroteKey(1)
}
