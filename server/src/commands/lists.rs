//! List commands (queues, "recent items", job lists): this family's table
//! section, the one-key commands here, those over two or more keys in
//! [`super::lists_multi`], the blocking ones in [`super::lists_blocking`].
//! Argument errors come in Redis 7.0's order and words.

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::lists_multi as multi;
use super::spec::flag_sets::{R, RF, W, WF, WM, WMF};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec};
use super::{read_value, reply_count, Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::Args;
use crate::store::{End, Kind, ListValue, WrongType};

const L: C = C::LIST;

/// Keys from argument 1 to the one before the last (BLPOP, BRPOP).
pub(super) const ALL_BUT_LAST: KeySpec = KeySpec::Range {
    first: 1,
    last: -2,
    step: 1,
};

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("lpush", lpush, -3, WMF.with(F::REPLAYABLE), "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.").keys(KeySpec::ONE).acl(L).event(N::LIST, "lpush"),
    Cmd::new("rpush", rpush, -3, WMF.with(F::REPLAYABLE), "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.").keys(KeySpec::ONE).acl(L).event(N::LIST, "rpush"),
    Cmd::new("lpushx", lpushx, -3, WMF.with(F::REPLAYABLE), "list", "Prepends one or more elements to a list only when the list exists.").keys(KeySpec::ONE).acl(L).event(N::LIST, "lpush"),
    Cmd::new("rpushx", rpushx, -3, WMF.with(F::REPLAYABLE), "list", "Appends an element to a list only when the list exists.").keys(KeySpec::ONE).acl(L).event(N::LIST, "rpush"),
    Cmd::new("lpop", lpop, -2, WF.with(F::REPLAYABLE), "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.").keys(KeySpec::ONE).acl(L),
    Cmd::new("rpop", rpop, -2, WF.with(F::REPLAYABLE), "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.").keys(KeySpec::ONE).acl(L),
    Cmd::new("llen", llen, 2, RF, "list", "Returns the length of a list.").keys(KeySpec::ONE).acl(L),
    Cmd::new("lrange", lrange, 4, R, "list", "Returns a range of elements from a list.").keys(KeySpec::ONE).acl(L),
    Cmd::new("lindex", lindex, 3, R, "list", "Returns an element from a list by its index.").keys(KeySpec::ONE).acl(L),
    Cmd::new("lset", lset, 4, WM.with(F::REPLAYABLE), "list", "Sets the value of an element in a list by its index.").keys(KeySpec::ONE).acl(L).event(N::LIST, "lset"),
    Cmd::new("linsert", linsert, 5, WM.with(F::REPLAYABLE), "list", "Inserts an element before or after another element in a list.").keys(KeySpec::ONE).acl(L).event(N::LIST, "linsert"),
    Cmd::new("lrem", lrem, 4, W.with(F::REPLAYABLE), "list", "Removes elements from a list. Deletes the list if the last element was removed.").keys(KeySpec::ONE).acl(L),
    Cmd::new("ltrim", ltrim, 4, W.with(F::REPLAYABLE), "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.").keys(KeySpec::ONE).acl(L),
    Cmd::new("lpos", lpos, -3, R, "list", "Returns the index of matching elements in a list.").keys(KeySpec::ONE).acl(L),
    Cmd::new("lmove", multi::lmove, 5, WM.with(F::REPLAYABLE), "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.").keys(KeySpec::TWO).acl(L),
    Cmd::new("rpoplpush", multi::rpoplpush, 3, WM.with(F::REPLAYABLE), "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.").keys(KeySpec::TWO).acl(L),
    Cmd::new("lmpop", multi::lmpop, -4, W.with(F::REPLAYABLE), "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.").keys(MPOP_KEYS).acl(L),
];

/// LMPOP's keys: `numkeys` at argument 1, the keys after it.
const MPOP_KEYS: KeySpec = KeySpec::Find {
    find: multi::lmpop_keys,
    first: 0,
    last: 0,
    step: 0,
};

/// LEFT or RIGHT, any case.
pub(super) fn parse_end(arg: &[u8]) -> Option<End> {
    if is(arg, "left") {
        Some(End::Front)
    } else if is(arg, "right") {
        Some(End::Back)
    } else {
        None
    }
}

/// Writes `items` as an array.
pub(super) fn reply_items<'a>(ctx: &mut Ctx<'_>, items: impl ExactSizeIterator<Item = &'a [u8]>) {
    ctx.reply.array(items.len());
    for item in items {
        ctx.reply.bulk(item);
    }
}

fn push(ctx: &mut Ctx<'_>, args: Args<'_>, end: End, only_existing: bool) -> Outcome {
    let key = args.get(1);
    let items: Vec<&[u8]> = args.iter_from(2).collect();
    let store = ctx.store;
    let mut lock = store.lock(key);
    let limits = lock.shard.encoding_limits();
    let index = if only_existing {
        match lock.find(key) {
            Some(index) => index,
            None => {
                ctx.reply.int(0);
                return Outcome::Unchanged;
            }
        }
    } else {
        match lock.for_write::<ListValue>(key) {
            Ok(index) => index,
            Err(WrongType) => return ctx.fail(WRONGTYPE),
        }
    };
    match lock.shard.with_mut(index, |list: &mut ListValue| {
        list.push(end, &items, &limits);
        list.len()
    }) {
        Some(len) => {
            ctx.reply.int(len as i64);
            Outcome::Wrote
        }
        None => ctx.fail(WRONGTYPE),
    }
}

/// LPUSH key element [element ...]
pub fn lpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    push(ctx, args, End::Front, false)
}

/// RPUSH key element [element ...]
pub fn rpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    push(ctx, args, End::Back, false)
}

/// LPUSHX key element [element ...]
pub fn lpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    push(ctx, args, End::Front, true)
}

/// RPUSHX key element [element ...]
pub fn rpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    push(ctx, args, End::Back, true)
}

/// Pops up to `count` elements from `end` of `list`, replying with them
/// in popping order.
pub(super) fn pop_range(ctx: &mut Ctx<'_>, list: &mut ListValue, end: End, count: usize) {
    let n = count.min(list.len());
    match end {
        End::Front => {
            reply_items(ctx, list.iter().take(n));
            list.remove_range(0, n);
        }
        End::Back => {
            reply_items(ctx, list.iter().rev().take(n));
            list.remove_range(list.len() - n, n);
        }
    }
}

fn pop(ctx: &mut Ctx<'_>, args: Args<'_>, end: End) -> Outcome {
    if args.len() > 3 {
        let name = if end == End::Front { "lpop" } else { "rpop" };
        return ctx.fail(&super::wrong_arity(name));
    }
    let count = match super::args::pop_count(args) {
        Ok(count) => count,
        Err(error) => return ctx.fail(error),
    };
    let key = args.get(1);
    let store = ctx.store;
    let mut lock = store.lock(key);
    let Some(index) = lock.find(key) else {
        match count {
            Some(_) => ctx.reply.null_array(),
            None => ctx.reply.null(),
        }
        return Outcome::Unchanged;
    };
    let popped = lock
        .shard
        .with_mut(index, |list: &mut ListValue| match count {
            Some(0) => {
                ctx.reply.array(0);
                Outcome::Unchanged
            }
            Some(n) => {
                pop_range(ctx, list, end, n);
                Outcome::Wrote
            }
            None => {
                ctx.reply.opt_bulk(list.pop(end).as_deref());
                Outcome::Wrote
            }
        });
    match popped {
        Some(Outcome::Wrote) => {
            let event = if end == End::Front { "lpop" } else { "rpop" };
            ctx.notify_emptying(N::LIST, event, key, || lock.peek(key).is_some());
            Outcome::Wrote
        }
        Some(outcome) => outcome,
        None => ctx.fail(WRONGTYPE),
    }
}

/// LPOP key [count]
pub fn lpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    pop(ctx, args, End::Front)
}

/// RPOP key [count]
pub fn rpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    pop(ctx, args, End::Back)
}

/// LLEN key
pub fn llen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    reply_count::<ListValue>(ctx, args.get(1), |list| list.len() as i64)
}

/// Redis's start/stop arithmetic (LRANGE, LTRIM): the inclusive range of
/// positions in a list of `len`, or `None` when it is empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// LRANGE key start stop
pub fn lrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (Some(start), Some(stop)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.fail(NOT_INTEGER);
    };
    let result = read_value::<ListValue, _>(ctx, args.get(1), |list, ctx| {
        match clamp_range(start, stop, list.len()) {
            Some((from, to)) => reply_items(ctx, list.iter_from(from).take(to - from + 1)),
            None => ctx.reply.array(0),
        }
    });
    match result {
        Ok(Some(())) => {}
        Ok(None) => ctx.reply.array(0),
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}

/// A LINDEX/LSET index into a list of `len`, negative from the tail.
fn position(index: i64, len: usize) -> Option<usize> {
    let at = if index < 0 {
        index.checked_add(len as i64)?
    } else {
        index
    };
    usize::try_from(at).ok().filter(|&at| at < len)
}

/// LINDEX key index
pub fn lindex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    // As Redis: the key first (missing: nil; another type: WRONGTYPE), then
    // the index.
    let result = read_value::<ListValue, _>(ctx, args.get(1), |list, ctx| {
        let Some(index) = parse_i64(args.get(2)) else {
            return ctx.fail(NOT_INTEGER);
        };
        ctx.reply
            .opt_bulk(position(index, list.len()).and_then(|at| list.get(at)));
        Outcome::Unchanged
    });
    match result {
        Ok(Some(outcome)) => outcome,
        Ok(None) => {
            ctx.reply.null();
            Outcome::Unchanged
        }
        Err(WrongType) => ctx.fail(WRONGTYPE),
    }
}

/// LSET key index element
pub fn lset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let store = ctx.store;
    let mut lock = store.lock(key);
    let limits = lock.shard.encoding_limits();
    let Some(found) = lock.find(key) else {
        return ctx.fail("ERR no such key");
    };
    if lock.shard.at(found).kind() != Kind::List {
        return ctx.fail(WRONGTYPE);
    }
    let Some(index) = parse_i64(args.get(2)) else {
        return ctx.fail(NOT_INTEGER);
    };
    let set = lock.shard.with_mut(found, |list: &mut ListValue| {
        let at = position(index, list.len()).unwrap_or(usize::MAX);
        list.set(at, args.get(3), &limits)
    });
    if set == Some(true) {
        ctx.reply.ok();
        Outcome::Wrote
    } else {
        ctx.fail("ERR index out of range")
    }
}

/// LINSERT key BEFORE|AFTER pivot element
pub fn linsert(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let after = match args.get(2) {
        w if is(w, "after") => true,
        w if is(w, "before") => false,
        _ => return ctx.fail(SYNTAX),
    };
    let key = args.get(1);
    let store = ctx.store;
    let mut lock = store.lock(key);
    let limits = lock.shard.encoding_limits();
    let Some(found) = lock.find(key) else {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    let inserted = lock.shard.with_mut(found, |list: &mut ListValue| {
        list.insert_at(args.get(3), args.get(4), after, &limits)
            .then(|| list.len())
    });
    match inserted {
        Some(Some(len)) => {
            ctx.reply.int(len as i64);
            Outcome::Wrote
        }
        Some(None) => {
            ctx.reply.int(-1);
            Outcome::Unchanged
        }
        None => ctx.fail(WRONGTYPE),
    }
}

/// LREM key count element
pub fn lrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(count) = parse_i64(args.get(2)) else {
        return ctx.fail(NOT_INTEGER);
    };
    let key = args.get(1);
    let store = ctx.store;
    let mut lock = store.lock(key);
    let limits = lock.shard.encoding_limits();
    let Some(found) = lock.find(key) else {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    let removed = lock.shard.with_mut(found, |list: &mut ListValue| {
        list.remove_matching(args.get(3), count.unsigned_abs(), count < 0, &limits)
    });
    match removed {
        Some(0) => {
            ctx.reply.int(0);
            Outcome::Unchanged
        }
        Some(n) => {
            ctx.reply.int(n as i64);
            ctx.notify_emptying(N::LIST, "lrem", key, || lock.peek(key).is_some());
            Outcome::Wrote
        }
        None => ctx.fail(WRONGTYPE),
    }
}

/// LTRIM key start stop
pub fn ltrim(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (Some(start), Some(stop)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.fail(NOT_INTEGER);
    };
    let key = args.get(1);
    let store = ctx.store;
    let mut lock = store.lock(key);
    let Some(found) = lock.find(key) else {
        ctx.reply.ok();
        return Outcome::Unchanged;
    };
    let trimmed = lock.shard.with_mut(found, |list: &mut ListValue| {
        let len = list.len();
        let (keep_from, keep_to) = clamp_range(start, stop, len).unwrap_or((len, len));
        let tail = len.saturating_sub(keep_to + 1).min(len - keep_from);
        list.remove_range(len - tail, tail);
        list.remove_range(0, keep_from);
        keep_from + tail > 0
    });
    match trimmed {
        Some(changed) => {
            ctx.reply.ok();
            // Redis announces a trim even when it kept every element.
            ctx.notify_emptying(N::LIST, "ltrim", key, || lock.peek(key).is_some());
            if changed {
                Outcome::Wrote
            } else {
                Outcome::Unchanged
            }
        }
        None => ctx.fail(WRONGTYPE),
    }
}

/// LPOS's options: (rank, count, maxlen), as Redis 7.0 reads them.
fn lpos_options(args: Args<'_>) -> Result<(i64, Option<u64>, u64), &'static str> {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0u64);
    let mut i = 3;
    while i < args.len() {
        let (option, value) = (args.get(i), args.try_get(i + 1));
        match value {
            Some(v) if is(option, "rank") => {
                rank = parse_i64(v).ok_or(NOT_INTEGER)?;
                if rank == 0 {
                    return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
                }
            }
            Some(v) if is(option, "count") => {
                let n = parse_i64(v).filter(|n| *n >= 0);
                count = Some(n.ok_or("ERR COUNT can't be negative")? as u64);
            }
            Some(v) if is(option, "maxlen") => {
                let n = parse_i64(v).filter(|n| *n >= 0);
                maxlen = n.ok_or("ERR MAXLEN can't be negative")? as u64;
            }
            _ => return Err(SYNTAX),
        }
        i += 2;
    }
    Ok((rank, count, maxlen))
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (rank, count, maxlen) = match lpos_options(args) {
        Ok(options) => options,
        Err(e) => return ctx.fail(e),
    };
    let element = args.get(2);
    let result = read_value::<ListValue, _>(ctx, args.get(1), |list, ctx| {
        // Redis 7.0 negates the rank in a long: RANK -9223372036854775808
        // stays negative, which then matches from the first match on and
        // never satisfies COUNT.
        let from_tail = rank < 0;
        let rank = if from_tail { rank.wrapping_neg() } else { rank };
        let len = list.len();
        let scan = if maxlen == 0 {
            len
        } else {
            (maxlen as usize).min(len)
        };
        let order: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
            Box::new(list.iter().rev())
        } else {
            Box::new(list.iter())
        };
        let mut found = Vec::new();
        let mut matches = 0i64;
        for (i, item) in order.take(scan).enumerate() {
            if item != element {
                continue;
            }
            matches += 1;
            if matches < rank {
                continue;
            }
            found.push(if from_tail {
                (len - 1 - i) as i64
            } else {
                i as i64
            });
            let enough = match count {
                None => true,
                Some(c) => c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c as i64,
            };
            if enough {
                break;
            }
        }
        match count {
            Some(_) => {
                ctx.reply.array(found.len());
                found.iter().for_each(|&at| ctx.reply.int(at));
            }
            None => match found.first() {
                Some(&at) => ctx.reply.int(at),
                None => ctx.reply.null(),
            },
        }
    });
    match result {
        Ok(Some(())) => {}
        Ok(None) if count.is_some() => ctx.reply.array(0),
        Ok(None) => ctx.reply.null(),
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}
