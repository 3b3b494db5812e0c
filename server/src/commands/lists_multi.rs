//! The list commands over two or more keys (LMOVE, RPOPLPUSH, LMPOP) and
//! what their blocking forms share with them: a move between two locked
//! lists, a pop from the first non-empty of several.

use super::args::{is, parse_i64, SYNTAX, WRONGTYPE};
use super::lists::{parse_end, pop_range};
use super::{Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::Args;
use crate::store::{initial_access, End, Kind, ListValue, MultiLock, WrongType};

/// The index of the list at `key` among the locked keys, created empty
/// when absent; `Err` when the key holds another type.
fn list_for_write(lock: &mut MultiLock<'_>, key: &[u8]) -> Result<usize, WrongType> {
    let access = initial_access(lock.policy, lock.now);
    let (found, shard, hash) = lock.find(key);
    match found {
        Some(index) if shard.at(index).kind() == Kind::List => Ok(index),
        Some(_) => Err(WrongType),
        None => Ok(shard.insert_empty::<ListValue>(hash, key, access)),
    }
}

/// What a move finds at its source.
pub(super) enum Moved {
    /// Moved this element.
    Element {
        /// The element moved.
        element: Vec<u8>,
        /// Popping it emptied the source, which went with its key.
        emptied: bool,
    },
    /// The source is missing (or, for a woken BLMOVE, not a list).
    Nothing,
    /// A key of another type.
    WrongType,
}

/// Pops from `end` of `source` and pushes to `to` of `destination`, both
/// locked in `lock` (LMOVE, RPOPLPUSH, BLMOVE). A source of another type
/// counts as empty when `lenient` (a woken BLMOVE waits on).
pub(super) fn move_element(
    lock: &mut MultiLock<'_>,
    keys: (&[u8], &[u8]),
    ends: (End, End),
    lenient: bool,
) -> Moved {
    let (source, destination) = keys;
    match lock.find(source) {
        (None, ..) => return Moved::Nothing,
        (Some(index), shard, _) if shard.at(index).kind() != Kind::List => {
            return if lenient {
                Moved::Nothing
            } else {
                Moved::WrongType
            };
        }
        _ => {}
    }
    if let (Some(index), shard, _) = lock.find(destination) {
        if shard.at(index).kind() != Kind::List {
            return Moved::WrongType;
        }
    }
    // Looked up again: finding the destination may have changed the table.
    let (Some(index), shard, _) = lock.find(source) else {
        return Moved::Nothing;
    };
    let Some(Some(element)) = shard.with_mut(index, |list: &mut ListValue| list.pop(ends.0)) else {
        return Moved::Nothing;
    };
    let emptied = lock.find(source).0.is_none();
    let Ok(index) = list_for_write(lock, destination) else {
        return Moved::WrongType;
    };
    let (shard, _) = lock.shard(destination);
    let limits = shard.encoding_limits();
    shard.with_mut(index, |list: &mut ListValue| {
        list.push(ends.1, &[&element], &limits)
    });
    Moved::Element { element, emptied }
}

/// Replies to a move of `keys` (source, destination) between `ends`,
/// raises its events in Redis's order (the push, the pop, the source's
/// `del` if emptied), and says what it changed.
pub(super) fn reply_moved(
    ctx: &mut Ctx<'_>,
    moved: Moved,
    keys: (&[u8], &[u8]),
    ends: (End, End),
) -> Outcome {
    match moved {
        Moved::Element { element, emptied } => {
            ctx.reply.bulk(&element);
            let pushed = if ends.1 == End::Front {
                "lpush"
            } else {
                "rpush"
            };
            let popped = if ends.0 == End::Front { "lpop" } else { "rpop" };
            ctx.notify(N::LIST, pushed, keys.1);
            ctx.notify(N::LIST, popped, keys.0);
            if emptied {
                ctx.notify(N::GENERIC, "del", keys.0);
            }
            Outcome::Wrote
        }
        Moved::Nothing => {
            ctx.reply.null();
            Outcome::Unchanged
        }
        Moved::WrongType => ctx.fail(WRONGTYPE),
    }
}

fn lmove_between(ctx: &mut Ctx<'_>, args: Args<'_>, ends: (End, End)) -> Outcome {
    let keys = (args.get(1), args.get(2));
    let store = ctx.store;
    let mut lock = store.lock_keys([keys.0, keys.1]);
    let moved = move_element(&mut lock, keys, ends, false);
    drop(lock);
    reply_moved(ctx, moved, keys, ends)
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    match (parse_end(args.get(3)), parse_end(args.get(4))) {
        (Some(from), Some(to)) => lmove_between(ctx, args, (from, to)),
        _ => ctx.fail(SYNTAX),
    }
}

/// RPOPLPUSH source destination
pub fn rpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    lmove_between(ctx, args, (End::Back, End::Front))
}

/// LMPOP and BLMPOP arguments: where the keys are, which end, how many.
pub(super) struct Mpop {
    /// Positions of the keys.
    pub keys: std::ops::Range<usize>,
    /// The end to pop from.
    pub end: End,
    /// Elements to pop at most.
    pub count: usize,
}

/// Reads `numkeys key [key ...] LEFT|RIGHT [COUNT count]` from argument
/// `at` on, as Redis 7.0 does.
pub(super) fn parse_mpop(args: Args<'_>, at: usize) -> Result<Mpop, &'static str> {
    let numkeys = parse_i64(args.get(at))
        .filter(|&n| n > 0)
        .ok_or("ERR numkeys should be greater than 0")? as u64;
    let first = at + 1;
    if numkeys >= (args.len() - first) as u64 {
        return Err(SYNTAX);
    }
    let where_at = first + numkeys as usize;
    let end = parse_end(args.get(where_at)).ok_or(SYNTAX)?;
    let mut count = None;
    let mut i = where_at + 1;
    while i < args.len() {
        match args.try_get(i + 1) {
            Some(v) if count.is_none() && is(args.get(i), "count") => {
                let n = parse_i64(v).filter(|&n| n > 0);
                count = Some(n.ok_or("ERR count should be greater than 0")? as usize);
            }
            _ => return Err(SYNTAX),
        }
        i += 2;
    }
    Ok(Mpop {
        keys: first..where_at,
        end,
        count: count.unwrap_or(1),
    })
}

/// The key positions of `numkeys key [key ...]` at argument `at`.
pub(super) fn numkeys_positions(args: Args<'_>, at: usize) -> Vec<usize> {
    match args.try_get(at).and_then(parse_i64) {
        // Room for the keys and the LEFT|RIGHT after them.
        Some(n) if n > 0 && (n as u64) < (args.len() - at - 1) as u64 => {
            (at + 1..at + 1 + n as usize).collect()
        }
        _ => Vec::new(),
    }
}

pub(super) fn lmpop_keys(args: Args<'_>) -> Vec<usize> {
    numkeys_positions(args, 1)
}

/// What an LMPOP-style pop over several keys found.
pub(super) enum Popped {
    /// Popped from the key at this argument position.
    From(usize),
    /// Every key was missing or empty (or, when lenient, of another type).
    Nothing,
    /// A key of another type.
    WrongType,
}

/// Pops up to `count` elements from `end` of the first non-empty list among
/// the keys at `positions`, all locked in `lock`, and replies with the key
/// and its elements (LMPOP, BLMPOP). With `count` `None`, one element as
/// BLPOP replies. A key of another type counts as empty when `lenient`.
pub(super) fn pop_first(
    ctx: &mut Ctx<'_>,
    lock: &mut MultiLock<'_>,
    args: Args<'_>,
    positions: &[usize],
    end: End,
    count: Option<usize>,
    lenient: bool,
) -> Popped {
    for &at in positions {
        let key = args.get(at);
        let (found, shard, _) = lock.find(key);
        let Some(index) = found else { continue };
        if shard.at(index).kind() != Kind::List {
            if lenient {
                continue;
            }
            return Popped::WrongType;
        }
        shard.with_mut(index, |list: &mut ListValue| {
            ctx.reply.array(2);
            ctx.reply.bulk(key);
            match count {
                Some(n) => pop_range(ctx, list, end, n),
                None => ctx.reply.opt_bulk(list.pop(end).as_deref()),
            }
        });
        let (event, name) = match end {
            End::Front => ("lpop", b"LPOP"),
            End::Back => ("rpop", b"RPOP"),
        };
        super::effects::rewrite_as_pop(ctx, name, key, count);
        ctx.notify_emptying(N::LIST, event, key, || lock.find(key).0.is_some());
        return Popped::From(at);
    }
    Popped::Nothing
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let mpop = match parse_mpop(args, 1) {
        Ok(mpop) => mpop,
        Err(e) => return ctx.fail(e),
    };
    let positions: Vec<usize> = mpop.keys.collect();
    let store = ctx.store;
    let mut lock = store.lock_keys(positions.iter().map(|&p| args.get(p)));
    match pop_first(
        ctx,
        &mut lock,
        args,
        &positions,
        mpop.end,
        Some(mpop.count),
        false,
    ) {
        Popped::From(at) => Outcome::WroteKey(at),
        Popped::Nothing => {
            ctx.reply.null_array();
            Outcome::Unchanged
        }
        Popped::WrongType => {
            drop(lock);
            ctx.fail(WRONGTYPE)
        }
    }
}
