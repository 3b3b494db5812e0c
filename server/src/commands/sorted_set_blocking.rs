//! The blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP): served at
//! once like ZPOPMIN/ZPOPMAX/ZMPOP when a key has members, otherwise the
//! client is parked on the keys as the blocking list pops are
//! (`lists_blocking::block`), and runs again when a key may be ready.

use super::args::WRONGTYPE;
use super::lists::ALL_BUT_LAST;
use super::lists_blocking::{block, parse_timeout};
use super::lists_multi::numkeys_positions;
use super::sorted_set_args::reply_score;
use super::sorted_set_pops::{
    mpop_options, notify_popped, pop_name, reply_popped, take, PopShape, Popped,
};
use super::spec::flag_sets::W;
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec};
use super::{Ctx, Outcome};
use crate::blocking::TimeoutReply;
use crate::protocol::Args;
use crate::store::{MultiLock, SortedSet};

const Z: C = C::SORTEDSET;
/// Blocking writes, refused in scripts, in logarithmic time.
const WBF: F = W.with(F::BLOCKING).with(F::NOSCRIPT).with(F::FAST);

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("bzpopmin", bzpopmin, -3, WBF.with(F::REPLAYABLE), "sorted_set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.").keys(ALL_BUT_LAST).acl(Z),
    Cmd::new("bzpopmax", bzpopmax, -3, WBF.with(F::REPLAYABLE), "sorted_set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.").keys(ALL_BUT_LAST).acl(Z),
    Cmd::new("bzmpop", bzmpop, -5, W.with(F::BLOCKING).with(F::REPLAYABLE), "sorted_set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.").keys(BZMPOP_KEYS).acl(Z),
];

/// BZMPOP's keys: `numkeys` at argument 2, the keys after it.
const BZMPOP_KEYS: KeySpec = KeySpec::Find {
    find: bzmpop_keys,
    first: 0,
    last: 0,
    step: 0,
};

fn bzmpop_keys(args: Args<'_>) -> Vec<usize> {
    numkeys_positions(args, 2)
}

/// What the first non-empty key gave.
enum Found {
    /// Members popped from the key at this argument position.
    Popped(usize, Popped),
    /// A key of another type came first (a woken request keeps waiting).
    WrongType,
    /// Every key is empty or missing.
    Nothing,
}

/// Pops from the first of the keys at `positions` that holds members,
/// under `lock` (held across the check and the parking, so no add slips
/// in between). A woken request passes over keys of another type.
fn pop_first_locked(
    lock: &mut MultiLock<'_>,
    args: Args<'_>,
    positions: &[usize],
    max: bool,
    count: usize,
    woken: bool,
) -> Found {
    for &at in positions {
        let (found, shard, _) = lock.find(args.get(at));
        let Some(index) = found else {
            continue;
        };
        match shard.with_mut::<SortedSet, _>(index, |z| take(z, max, count)) {
            Some(popped) if !popped.is_empty() => return Found::Popped(at, popped),
            Some(_) => {}
            None if woken => {}
            None => return Found::WrongType,
        }
    }
    Found::Nothing
}

/// BZPOPMIN and BZPOPMAX: key [key ...] timeout.
fn bzpop(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) -> Outcome {
    let timeout = match parse_timeout(args.get(args.len() - 1)) {
        Ok(timeout) => timeout,
        Err(e) => return ctx.fail(e),
    };
    let positions: Vec<usize> = (1..args.len() - 1).collect();
    let store = ctx.store;
    let mut lock = store.lock_keys(positions.iter().map(|&p| args.get(p)));
    match pop_first_locked(&mut lock, args, &positions, max, 1, ctx.session.woken) {
        Found::Popped(at, popped) => {
            drop(lock);
            super::effects::rewrite_as_pop(ctx, pop_name(max), args.get(at), None);
            let Some((member, score)) = popped.first() else {
                return Outcome::Unchanged;
            };
            ctx.reply.array(3);
            ctx.reply.bulk(args.get(at));
            ctx.reply.bulk(member);
            reply_score(&mut ctx.reply, *score);
            notify_popped(ctx, args.get(at), max);
            Outcome::WroteKey(at)
        }
        Found::WrongType => ctx.fail(WRONGTYPE),
        Found::Nothing => {
            let keys = positions.iter().map(|&p| args.get(p));
            block(ctx, lock, keys, timeout, TimeoutReply::NullArray)
        }
    }
}

/// BZPOPMIN key [key ...] timeout
fn bzpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    bzpop(ctx, args, false)
}

/// BZPOPMAX key [key ...] timeout
fn bzpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    bzpop(ctx, args, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
fn bzmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let timeout = match parse_timeout(args.get(1)) {
        Ok(timeout) => timeout,
        Err(e) => return ctx.fail(e),
    };
    let (numkeys, max, count) = match mpop_options(args, 2) {
        Ok(options) => options,
        Err(e) => return ctx.fail(e),
    };
    let positions: Vec<usize> = (3..3 + numkeys).collect();
    let store = ctx.store;
    let mut lock = store.lock_keys(positions.iter().map(|&p| args.get(p)));
    match pop_first_locked(&mut lock, args, &positions, max, count, ctx.session.woken) {
        Found::Popped(at, popped) => {
            drop(lock);
            super::effects::rewrite_as_pop(ctx, pop_name(max), args.get(at), Some(count));
            ctx.reply.array(2);
            ctx.reply.bulk(args.get(at));
            reply_popped(&mut ctx.reply, &popped, PopShape::Pairs);
            notify_popped(ctx, args.get(at), max);
            Outcome::WroteKey(at)
        }
        Found::WrongType => ctx.fail(WRONGTYPE),
        Found::Nothing => {
            let keys = positions.iter().map(|&p| args.get(p));
            block(ctx, lock, keys, timeout, TimeoutReply::NullArray)
        }
    }
}
