//! The algebra of several sets: SINTER, SINTERCARD, SINTERSTORE, SUNION,
//! SUNIONSTORE, SDIFF and SDIFFSTORE.
//!
//! Every key is locked at once (one `MultiLock`), every key is checked for
//! its type before anything is computed (a missing key is an empty set),
//! and the sets are then read one at a time into a result of the
//! command's own, so a STORE into one of its own sources reads them first.
//! A stored result is built as Redis builds it, so it gets Redis's
//! encoding; an empty one deletes the destination.

use super::member_set;
use crate::commands::args::{is, parse_i64, SYNTAX, WRONGTYPE};
use crate::commands::spec::KeySpec;
use crate::commands::{Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::Args;
use crate::store::{
    Collection, EncodingLimits, MultiLock, OwnedValue, SetMember, SetValue, ValueRef, WrongType,
};

/// SINTERCARD's keys: `numkeys` of them after the count (none when the
/// count is not a positive integer; the command then refuses it).
pub const SINTERCARD_KEYS: KeySpec = KeySpec::Find {
    find: numkeys_keys,
    first: 0,
    last: 0,
    step: 0,
};

fn numkeys_keys(args: Args<'_>) -> Vec<usize> {
    match args.try_get(1).and_then(parse_i64) {
        Some(n) if n >= 1 => (2..args.len()).take(n as usize).collect(),
        _ => Vec::new(),
    }
}

/// A set found at a key: its position in the shard's table and its size.
#[derive(Clone, Copy)]
struct Found<'k> {
    key: &'k [u8],
    index: usize,
    len: usize,
}

/// Looks up the sets at `keys`, touching them and counting keyspace hits
/// and misses as reads do: None for a missing key, WRONGTYPE if any key
/// holds another type.
fn lookup<'k>(
    locks: &mut MultiLock<'_>,
    keys: &[&'k [u8]],
) -> Result<Vec<Option<Found<'k>>>, WrongType> {
    keys.iter()
        .map(|&key| {
            let (found, shard, _) = locks.find(key);
            let Some(index) = found else {
                shard.count_miss(key);
                return Ok(None);
            };
            shard.stats.hits += 1;
            let set = shard.typed::<SetValue>(index).ok_or(WrongType)?;
            Ok(Some(Found {
                key,
                index,
                len: set.len(),
            }))
        })
        .collect()
}

/// Runs `f` on a set `lookup` found.
fn with_set<R>(
    locks: &mut MultiLock<'_>,
    found: Found<'_>,
    f: impl FnOnce(&SetValue) -> R,
) -> Option<R> {
    let (shard, _) = locks.shard(found.key);
    shard.typed::<SetValue>(found.index).map(|set| f(&set))
}

fn copy_members(set: &SetValue) -> Vec<Vec<u8>> {
    set.iter().map(SetMember::to_vec).collect()
}

/// The members of every set at `keys`, in the smallest set's order.
fn intersection(locks: &mut MultiLock<'_>, keys: &[&[u8]]) -> Result<Vec<Vec<u8>>, WrongType> {
    let found = lookup(locks, keys)?;
    // A missing key is an empty set: so is the intersection.
    let Some(mut sets) = found.into_iter().collect::<Option<Vec<Found<'_>>>>() else {
        return Ok(Vec::new());
    };
    sets.sort_by_key(|f| f.len);
    let smallest = sets[0];
    let mut members = with_set(locks, smallest, copy_members).unwrap_or_default();
    for &other in &sets[1..] {
        if members.is_empty() {
            break;
        }
        if other.key != smallest.key {
            with_set(locks, other, |set| members.retain(|m| set.contains(m)));
        }
    }
    Ok(members)
}

/// How many members every set at `keys` has in common, counting stopped
/// once it reached `limit` (0: no limit), as Redis stops: the smallest
/// set's members are checked against the others with every set borrowed
/// at once, nothing copied.
fn intersection_count(
    locks: &mut MultiLock<'_>,
    keys: &[&[u8]],
    limit: usize,
) -> Result<usize, WrongType> {
    // Types checked and hits counted first; a missing key is an empty set.
    if lookup(locks, keys)?.iter().any(Option::is_none) {
        return Ok(0);
    }
    let values = locks.values(keys);
    let sets: Option<Vec<&SetValue>> = values
        .iter()
        .map(|value| match value {
            Some(ValueRef::Set(set)) => Some(&**set),
            _ => None,
        })
        .collect();
    let Some(mut sets) = sets else {
        return Ok(0);
    };
    sets.sort_by_key(|set| set.len());
    let Some((smallest, others)) = sets.split_first() else {
        return Ok(0);
    };
    let mut count = 0;
    for member in smallest.iter() {
        if member.with_bytes(|m| others.iter().all(|other| other.contains(m))) {
            count += 1;
            if count == limit {
                break;
            }
        }
    }
    Ok(count)
}

/// The members of any set at `keys`, added in order to a new set (the
/// order and encoding Redis's union has).
fn union(
    locks: &mut MultiLock<'_>,
    keys: &[&[u8]],
    limits: &EncodingLimits,
) -> Result<SetValue, WrongType> {
    let found = lookup(locks, keys)?;
    let mut result = SetValue::default();
    for set in found.into_iter().flatten() {
        with_set(locks, set, |set| {
            for m in set.iter() {
                m.with_bytes(|bytes| result.add(bytes, limits));
            }
        });
    }
    Ok(result)
}

/// The members of the first set at `keys` in none of the others, by the
/// algorithm Redis would pick (which decides a stored result's encoding):
/// the first set's members checked against each other set when that is
/// less work, else a copy of the first set with every other set's
/// members removed.
fn difference(
    locks: &mut MultiLock<'_>,
    keys: &[&[u8]],
    limits: &EncodingLimits,
) -> Result<SetValue, WrongType> {
    let found = lookup(locks, keys)?;
    let Some(first) = found[0] else {
        return Ok(SetValue::default());
    };
    let others: Vec<Found<'_>> = found[1..].iter().flatten().copied().collect();
    if others.iter().any(|o| o.key == first.key) {
        return Ok(SetValue::default());
    }
    let check_work = first.len * (1 + others.len()) / 2;
    let remove_work = first.len + others.iter().map(|o| o.len).sum::<usize>();
    let members = with_set(locks, first, copy_members).unwrap_or_default();
    if check_work <= remove_work {
        let mut survivors = members;
        for &other in &others {
            if survivors.is_empty() {
                break;
            }
            with_set(locks, other, |set| survivors.retain(|m| !set.contains(m)));
        }
        return Ok(SetValue::build(survivors.iter().map(Vec::as_slice), limits));
    }
    let mut result = SetValue::build(members.iter().map(Vec::as_slice), limits);
    for &other in &others {
        if result.is_empty() {
            break;
        }
        with_set(locks, other, |set| {
            for m in set.iter() {
                m.with_bytes(|bytes| result.remove(bytes));
            }
        });
    }
    Ok(result)
}

/// The encoding thresholds in force (every shard shares them).
fn limits_of(locks: &mut MultiLock<'_>, key: &[u8]) -> EncodingLimits {
    locks.shard(key).0.encoding_limits()
}

/// Stores `result` at `dst` (replacing any value, and its TTL) and
/// replies with its size; an empty result deletes `dst` instead.
/// Raises `event` about `dst`, or `del` when an empty result removed it.
fn store(
    ctx: &mut Ctx<'_>,
    locks: &mut MultiLock<'_>,
    dst: &[u8],
    result: SetValue,
    event: &str,
) -> Outcome {
    ctx.reply.int(result.len() as i64);
    if !result.is_empty() {
        locks.put(dst, OwnedValue::Collection(Collection::Set(result)), None);
        ctx.notify(N::SET, event, dst);
        return Outcome::WroteKey(1);
    }
    let (found, shard, _) = locks.find(dst);
    match found {
        Some(index) => {
            drop(shard.delete_at(index));
            ctx.notify(N::GENERIC, "del", dst);
            Outcome::WroteKey(1)
        }
        None => Outcome::Unchanged,
    }
}

/// The keys from argument `from` on.
fn keys_from(args: Args<'_>, from: usize) -> Vec<&[u8]> {
    args.iter_from(from).collect()
}

/// SINTER key [key ...]
pub fn sinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let keys = keys_from(args, 1);
    let mut locks = ctx.store.lock_keys(keys.iter().copied());
    match intersection(&mut locks, &keys) {
        Ok(members) => {
            ctx.reply.set(members.len());
            members.iter().for_each(|m| ctx.reply.bulk(m));
            Outcome::Unchanged
        }
        Err(WrongType) => ctx.fail(WRONGTYPE),
    }
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let numkeys = match parse_i64(args.get(1)) {
        Some(n) if n >= 1 => n as usize,
        _ => return ctx.fail("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return ctx.fail("ERR Number of keys can't be greater than number of args");
    }
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if !is(args.get(i), "limit") || i + 1 == args.len() {
            return ctx.fail(SYNTAX);
        }
        limit = match parse_i64(args.get(i + 1)) {
            Some(n) if n >= 0 => n as usize,
            _ => return ctx.fail("ERR LIMIT can't be negative"),
        };
        i += 2;
    }
    let keys: Vec<&[u8]> = args.iter_from(2).take(numkeys).collect();
    let mut locks = ctx.store.lock_keys(keys.iter().copied());
    match intersection_count(&mut locks, &keys, limit) {
        Ok(n) => {
            ctx.reply.int(n as i64);
            Outcome::Unchanged
        }
        Err(WrongType) => ctx.fail(WRONGTYPE),
    }
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let keys = keys_from(args, 2);
    let dst = args.get(1);
    let mut locks = ctx.store.lock_keys(args.iter_from(1));
    let limits = limits_of(&mut locks, dst);
    match intersection(&mut locks, &keys) {
        Ok(members) => {
            let result = SetValue::build(members.iter().map(Vec::as_slice), &limits);
            store(ctx, &mut locks, dst, result, "sinterstore")
        }
        Err(WrongType) => ctx.fail(WRONGTYPE),
    }
}

/// Replies with a computed set.
fn reply_set(ctx: &mut Ctx<'_>, result: Result<SetValue, WrongType>) -> Outcome {
    match result {
        Ok(set) => {
            member_set(&mut ctx.reply, set.iter());
            Outcome::Unchanged
        }
        Err(WrongType) => ctx.fail(WRONGTYPE),
    }
}

/// SUNION key [key ...]
pub fn sunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let keys = keys_from(args, 1);
    let mut locks = ctx.store.lock_keys(keys.iter().copied());
    let limits = limits_of(&mut locks, keys[0]);
    let result = union(&mut locks, &keys, &limits);
    reply_set(ctx, result)
}

/// SDIFF key [key ...]
pub fn sdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let keys = keys_from(args, 1);
    let mut locks = ctx.store.lock_keys(keys.iter().copied());
    let limits = limits_of(&mut locks, keys[0]);
    let result = difference(&mut locks, &keys, &limits);
    reply_set(ctx, result)
}

/// Computes a set from the sets at some keys (SUNION, SDIFF).
type Compute = fn(&mut MultiLock<'_>, &[&[u8]], &EncodingLimits) -> Result<SetValue, WrongType>;

/// SUNIONSTORE and SDIFFSTORE: `compute` over the sources, stored at the
/// destination.
fn store_of(ctx: &mut Ctx<'_>, args: Args<'_>, compute: Compute, event: &str) -> Outcome {
    let keys = keys_from(args, 2);
    let dst = args.get(1);
    let mut locks = ctx.store.lock_keys(args.iter_from(1));
    let limits = limits_of(&mut locks, dst);
    match compute(&mut locks, &keys, &limits) {
        Ok(result) => store(ctx, &mut locks, dst, result, event),
        Err(WrongType) => ctx.fail(WRONGTYPE),
    }
}

/// SUNIONSTORE destination key [key ...]
pub fn sunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    store_of(ctx, args, union, "sunionstore")
}

/// SDIFFSTORE destination key [key ...]
pub fn sdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    store_of(ctx, args, difference, "sdiffstore")
}

#[cfg(test)]
mod tests {
    use super::super::member;
    use super::*;

    #[test]
    fn sintercard_keys_follow_numkeys() {
        let buf = b"sintercard2abLIMIT1";
        let ranges = [(0, 10), (10, 11), (11, 12), (12, 13), (13, 18), (18, 19)];
        let args = Args::new(buf, &ranges);
        assert_eq!(SINTERCARD_KEYS.positions(args), [2, 3]);
        let bad = b"sintercard0a";
        let args = Args::new(bad, &[(0, 10), (10, 11), (11, 12)]);
        assert!(SINTERCARD_KEYS.positions(args).is_empty());
        let many = b"sintercard9a";
        let args = Args::new(many, &[(0, 10), (10, 11), (11, 12)]);
        assert_eq!(SINTERCARD_KEYS.positions(args), [2]);
        assert!(SINTERCARD_KEYS.is_movable());
    }

    #[test]
    fn member_writes_integers_as_bulk_strings() {
        let mut out = bytes::BytesMut::new();
        let mut reply = crate::protocol::Reply::new(&mut out, false);
        member(&mut reply, SetMember::Int(-12));
        member(&mut reply, SetMember::Bytes(b"ab"));
        assert_eq!(&out[..], b"$3\r\n-12\r\n$2\r\nab\r\n");
    }
}
