//! Sorted-set pops: ZPOPMIN, ZPOPMAX and ZMPOP, around one core
//! ([`pop_members`], [`pop_first`]) and one reply writer
//! ([`reply_popped`]) that the blocking forms (BZPOPMIN, BZPOPMAX, BZMPOP)
//! call once a key has members.

use super::args::{is, parse_i64, SYNTAX, WRONGTYPE};
use super::sorted_set_args::reply_score;
use super::{Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::{Args, Reply};
use crate::store::{SortedSet, Store, WrongType};

/// Members popped from a sorted set, in the order they are replied.
pub type Popped = Vec<(Box<[u8]>, f64)>;

/// Pops up to `count` members with the lowest scores (the highest with
/// `max`) from the sorted set at `key`, removing the key once empty: the
/// core of ZPOPMIN, ZPOPMAX and ZMPOP, and of their blocking forms. Empty
/// when the key is absent.
///
/// # Errors
/// `WrongType` when the key holds another type.
pub fn pop_members(
    store: &Store,
    key: &[u8],
    max: bool,
    count: usize,
) -> Result<Popped, WrongType> {
    let mut lock = store.lock(key);
    let Some(index) = lock.find(key) else {
        return Ok(Vec::new());
    };
    let popped = lock
        .shard
        .with_mut::<SortedSet, _>(index, |z| take(z, max, count));
    popped.ok_or(WrongType)
}

/// Removes up to `count` of `z`'s lowest-scored members (highest with
/// `max`), in reply order.
pub fn take(z: &mut SortedSet, max: bool, count: usize) -> Popped {
    let len = z.len();
    let count = count.min(len);
    let mut out = Vec::with_capacity(count);
    let (from, to) = if max { (len - count, len) } else { (0, count) };
    z.remove_ranks(from, to, |m, s| out.push((m, s)));
    if max {
        out.reverse();
    }
    out
}

/// The first of `keys` that holds a non-empty sorted set (its index in
/// `keys`) and up to `count` members popped from it: ZMPOP's core. A key
/// of another type before it is an error, as in Redis; keys after it are
/// not looked at.
///
/// # Errors
/// `WrongType` for a key of another type met first.
pub fn pop_first(
    store: &Store,
    keys: &[&[u8]],
    max: bool,
    count: usize,
) -> Result<Option<(usize, Popped)>, WrongType> {
    for (i, key) in keys.iter().enumerate() {
        let popped = pop_members(store, key, max, count)?;
        if !popped.is_empty() {
            return Ok(Some((i, popped)));
        }
    }
    Ok(None)
}

/// The single-key pop a replica runs for a pop from several keys.
pub fn pop_name(max: bool) -> &'static [u8] {
    if max {
        b"ZPOPMAX"
    } else {
        b"ZPOPMIN"
    }
}

/// Raises the events of a pop from the sorted set at `key`: `zpopmin` or
/// `zpopmax`, then `del` if it emptied the set. Call with no lock held.
pub fn notify_popped(ctx: &mut Ctx<'_>, key: &[u8], max: bool) {
    let store = ctx.store;
    let event = if max { "zpopmax" } else { "zpopmin" };
    ctx.notify_emptying(N::ZSET, event, key, || store.lock(key).peek(key).is_some());
}

/// How popped members are replied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopShape {
    /// ZPOPMIN without a count: member and score in one flat array.
    Single,
    /// ZPOPMIN with a count: flat in RESP2, [member, score] pairs in RESP3.
    Counted,
    /// ZMPOP and BZMPOP: always [member, score] pairs.
    Pairs,
}

/// Writes popped members in `shape`.
pub fn reply_popped(reply: &mut Reply<'_>, popped: &Popped, shape: PopShape) {
    let nested = match shape {
        PopShape::Single => false,
        PopShape::Counted => reply.resp3(),
        PopShape::Pairs => true,
    };
    reply.array(if nested {
        popped.len()
    } else {
        2 * popped.len()
    });
    for (member, score) in popped {
        if nested {
            reply.array(2);
        }
        reply.bulk(member);
        reply_score(reply, *score);
    }
}

/// ZPOPMIN and ZPOPMAX: key [count].
fn zpop(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) -> Outcome {
    if args.len() > 3 {
        return ctx.fail(SYNTAX);
    }
    let count = match args.try_get(2) {
        None => None,
        Some(text) => match parse_i64(text) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return ctx.fail("ERR value is out of range, must be positive"),
        },
    };
    let popped = match pop_members(ctx.store, args.get(1), max, count.unwrap_or(1)) {
        Ok(popped) => popped,
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    };
    let shape = if count.is_some() {
        PopShape::Counted
    } else {
        PopShape::Single
    };
    reply_popped(&mut ctx.reply, &popped, shape);
    if popped.is_empty() {
        Outcome::Unchanged
    } else {
        notify_popped(ctx, args.get(1), max);
        Outcome::Wrote
    }
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    zpop(ctx, args, false)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    zpop(ctx, args, true)
}

/// ZMPOP's (and BZMPOP's) arguments after the key count: the number of
/// keys, MIN or MAX, and the count; errors in Redis's order and words.
///
/// # Errors
/// The error to reply.
pub fn mpop_options(
    args: Args<'_>,
    numkeys_at: usize,
) -> Result<(usize, bool, usize), &'static str> {
    let numkeys = match parse_i64(args.get(numkeys_at)) {
        Some(n) if n > 0 => n as usize,
        _ => return Err("ERR numkeys should be greater than 0"),
    };
    let where_at = numkeys_at + 1 + numkeys;
    let max = match args.try_get(where_at) {
        Some(w) if is(w, "min") => false,
        Some(w) if is(w, "max") => true,
        _ => return Err(SYNTAX),
    };
    let mut count = None;
    let mut i = where_at + 1;
    while let Some(arg) = args.try_get(i) {
        match args.try_get(i + 1) {
            Some(n) if is(arg, "count") && count.is_none() => match parse_i64(n) {
                Some(n) if n > 0 => count = Some(n as usize),
                _ => return Err("ERR count should be greater than 0"),
            },
            _ => return Err(SYNTAX),
        }
        i += 2;
    }
    Ok((numkeys, max, count.unwrap_or(1)))
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (numkeys, max, count) = match mpop_options(args, 1) {
        Ok(options) => options,
        Err(e) => return ctx.fail(e),
    };
    let keys: Vec<&[u8]> = args.iter_from(2).take(numkeys).collect();
    match pop_first(ctx.store, &keys, max, count) {
        Err(WrongType) => ctx.fail(WRONGTYPE),
        Ok(None) => {
            ctx.reply.null_array();
            Outcome::Unchanged
        }
        Ok(Some((i, popped))) => {
            super::effects::rewrite_as_pop(ctx, pop_name(max), keys[i], Some(count));
            ctx.reply.array(2);
            ctx.reply.bulk(keys[i]);
            reply_popped(&mut ctx.reply, &popped, PopShape::Pairs);
            notify_popped(ctx, keys[i], max);
            Outcome::WroteKey(2 + i)
        }
    }
}
