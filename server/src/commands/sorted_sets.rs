//! Sorted-set commands (leaderboards, rate limiters, delayed jobs): the
//! family's section of the command table, and the commands on members one
//! at a time (ZADD, ZINCRBY, ZREM, ZSCORE, ZRANK, ...), ZRANDMEMBER and
//! ZSCAN. Ranges live in `sorted_set_ranges`, the pops in
//! `sorted_set_pops`, the set algebra in `sorted_set_algebra`.

use super::args::{is, random_pick_count, SYNTAX, WRONGTYPE};
use super::scan_options::{self, ScanOf};
use super::sorted_set_algebra::{
    numkeys_keys, store_numkeys_keys, zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion,
    zunionstore,
};
use super::sorted_set_args::{parse_score, reply_members, reply_score, NAN_RESULT, NOT_FLOAT};
use super::sorted_set_pops::{zmpop, zpopmax, zpopmin};
use super::sorted_set_ranges::{
    zcount, zlexcount, zrange, zrangebylex, zrangebyscore, zrangestore, zremrangebylex,
    zremrangebyrank, zremrangebyscore, zrevrange, zrevrangebylex, zrevrangebyscore,
};
use super::spec::flag_sets::{R, RF, W, WF, WM, WMF};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec, Routing};
use super::{read_value, Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::{Args, Reply};
use crate::store::{EncodingLimits, SortedSet, WrongType};

const Z: C = C::SORTEDSET;
const STORE_KEYS: KeySpec = KeySpec::Find {
    find: store_numkeys_keys,
    first: 1,
    last: 1,
    step: 1,
};
const NUMKEYS: KeySpec = KeySpec::Find {
    find: numkeys_keys,
    first: 0,
    last: 0,
    step: 0,
};
const SRC_DST: KeySpec = KeySpec::TWO;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("zadd", zadd, -4, WMF.with(F::REPLAYABLE), "sorted_set", "Adds one or more members to a sorted set, or updates their scores.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zincrby", zincrby, 4, WMF.with(F::REPLAYABLE), "sorted_set", "Increments the score of a member in a sorted set.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zrem", zrem, -3, WF.with(F::REPLAYABLE), "sorted_set", "Removes one or more members from a sorted set.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zcard", zcard, 2, RF, "sorted_set", "Returns the number of members in a sorted set.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zscore", zscore, 3, RF, "sorted_set", "Returns the score of a member in a sorted set.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zmscore", zmscore, -3, RF, "sorted_set", "Returns the score of one or more members in a sorted set.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zrank", zrank, -3, RF, "sorted_set", "Returns the index of a member in a sorted set ordered by ascending scores.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zrevrank", zrevrank, -3, RF, "sorted_set", "Returns the index of a member in a sorted set ordered by descending scores.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zcount", zcount, 4, RF, "sorted_set", "Returns the count of members in a sorted set that have scores within a range.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zlexcount", zlexcount, 4, RF, "sorted_set", "Returns the number of members in a sorted set within a lexicographical range.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zrange", zrange, -4, R, "sorted_set", "Returns members in a sorted set within a range of indexes.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zrevrange", zrevrange, -4, R, "sorted_set", "Returns members in a sorted set within a range of indexes in reverse order.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zrangebyscore", zrangebyscore, -4, R, "sorted_set", "Returns members in a sorted set within a range of scores.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zrevrangebyscore", zrevrangebyscore, -4, R, "sorted_set", "Returns members in a sorted set within a range of scores in reverse order.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zrangebylex", zrangebylex, -4, R, "sorted_set", "Returns members in a sorted set within a lexicographical range.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zrevrangebylex", zrevrangebylex, -4, R, "sorted_set", "Returns members in a sorted set within a lexicographical range in reverse order.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zrangestore", zrangestore, -5, WM, "sorted_set", "Stores a range of members from sorted set in a key.").keys(SRC_DST).acl(Z),
    Cmd::new("zremrangebyscore", zremrangebyscore, 4, W.with(F::REPLAYABLE), "sorted_set", "Removes members in a sorted set within a range of scores.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zremrangebyrank", zremrangebyrank, 4, W.with(F::REPLAYABLE), "sorted_set", "Removes members in a sorted set within a range of indexes.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zremrangebylex", zremrangebylex, 4, W.with(F::REPLAYABLE), "sorted_set", "Removes members in a sorted set within a lexicographical range.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zpopmin", zpopmin, -2, WF.with(F::REPLAYABLE), "sorted_set", "Returns the lowest-scoring members from a sorted set after removing them.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zpopmax", zpopmax, -2, WF.with(F::REPLAYABLE), "sorted_set", "Returns the highest-scoring members from a sorted set after removing them.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zmpop", zmpop, -4, W.with(F::REPLAYABLE), "sorted_set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them.").keys(NUMKEYS).acl(Z),
    Cmd::new("zrandmember", zrandmember, -2, R, "sorted_set", "Returns one or more random members from a sorted set.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zscan", zscan, -3, R, "sorted_set", "Iterates over members and scores of a sorted set.").keys(KeySpec::ONE).acl(Z),
    Cmd::new("zunion", zunion, -3, R, "sorted_set", "Returns the union of multiple sorted sets.").keys(NUMKEYS).acl(Z).routing(Routing::Gather),
    Cmd::new("zinter", zinter, -3, R, "sorted_set", "Returns the intersect of multiple sorted sets.").keys(NUMKEYS).acl(Z).routing(Routing::Gather),
    Cmd::new("zdiff", zdiff, -3, R, "sorted_set", "Returns the difference between multiple sorted sets.").keys(NUMKEYS).acl(Z).routing(Routing::Gather),
    Cmd::new("zunionstore", zunionstore, -4, WM, "sorted_set", "Stores the union of multiple sorted sets in a key.").keys(STORE_KEYS).acl(Z),
    Cmd::new("zinterstore", zinterstore, -4, WM, "sorted_set", "Stores the intersect of multiple sorted sets in a key.").keys(STORE_KEYS).acl(Z),
    Cmd::new("zdiffstore", zdiffstore, -4, WM, "sorted_set", "Stores the difference of multiple sorted sets in a key.").keys(STORE_KEYS).acl(Z),
    Cmd::new("zintercard", zintercard, -3, R, "sorted_set", "Returns the number of members of the intersect of multiple sorted sets.").keys(NUMKEYS).acl(Z).routing(Routing::Gather),
];

/// ZADD's options.
#[derive(Debug, Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What one ZADD element did.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Added {
    /// A new member, with this score.
    New(f64),
    /// The member's score changed to this one.
    Updated(f64),
    /// Processed, but the score was already this one.
    Same(f64),
    /// Skipped: a condition (NX, XX, GT, LT) did not hold.
    Skipped,
}

/// Redis's `zsetAdd`: applies one score (or increment) under the flags;
/// `Err` when an increment makes the score NaN.
fn add_one(
    z: &mut SortedSet,
    (member, score): (&[u8], f64),
    f: AddFlags,
    limits: &EncodingLimits,
) -> Result<Added, ()> {
    let Some(current) = z.score(member) else {
        if f.xx {
            return Ok(Added::Skipped);
        }
        z.add(member, score, limits);
        return Ok(Added::New(score));
    };
    if f.nx {
        return Ok(Added::Skipped);
    }
    let score = if f.incr { score + current } else { score };
    if score.is_nan() {
        return Err(());
    }
    if (f.lt && score >= current) || (f.gt && score <= current) {
        return Ok(Added::Skipped);
    }
    if score == current {
        return Ok(Added::Same(score));
    }
    z.insert(member, score);
    Ok(Added::Updated(score))
}

/// ZADD's flags and the position of its first score; errors in Redis's
/// order.
fn zadd_flags(args: Args<'_>) -> Result<(AddFlags, usize), &'static str> {
    let mut f = AddFlags::default();
    let mut i = 2;
    while let Some(arg) = args.try_get(i) {
        // Compared in place: a score (the common next argument) costs no
        // allocation.
        let is = |name: &[u8]| arg.eq_ignore_ascii_case(name);
        let flag = if is(b"nx") {
            &mut f.nx
        } else if is(b"xx") {
            &mut f.xx
        } else if is(b"gt") {
            &mut f.gt
        } else if is(b"lt") {
            &mut f.lt
        } else if is(b"ch") {
            &mut f.ch
        } else if is(b"incr") {
            &mut f.incr
        } else {
            break;
        };
        *flag = true;
        i += 1;
    }
    let elements = args.len() - i;
    if elements == 0 || elements % 2 == 1 {
        return Err(SYNTAX);
    }
    if f.nx && f.xx {
        return Err("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 2 {
        return Err("ERR INCR option supports a single increment-element pair");
    }
    Ok((f, i))
}

/// Runs `f` on the sorted set at `key` for writing (created if absent,
/// removed if left empty), with the encoding thresholds in force; `Err`
/// when the key holds another type.
fn write_zset<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(&mut SortedSet, &EncodingLimits) -> R,
) -> Result<R, WrongType> {
    let mut lock = ctx.store.lock(key);
    let index = lock.for_write::<SortedSet>(key)?;
    let limits = lock.shard.encoding_limits();
    lock.shard
        .with_mut::<SortedSet, _>(index, |z| f(z, &limits))
        .ok_or(WrongType)
}

/// Runs `f` on the sorted set at `key` if there is one (nothing is
/// created): `Ok(None)` when absent.
fn change_zset<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(&mut SortedSet) -> R,
) -> Result<Option<R>, WrongType> {
    let mut lock = ctx.store.lock(key);
    let Some(index) = lock.find(key) else {
        return Ok(None);
    };
    lock.shard
        .with_mut::<SortedSet, _>(index, f)
        .map(Some)
        .ok_or(WrongType)
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (flags, first) = match zadd_flags(args) {
        Ok(parsed) => parsed,
        Err(e) => return ctx.fail(e),
    };
    let mut scores = Vec::with_capacity((args.len() - first) / 2);
    for i in (first..args.len()).step_by(2) {
        match parse_score(args.get(i)) {
            Some(score) => scores.push((score, args.get(i + 1))),
            None => return ctx.fail(NOT_FLOAT),
        }
    }
    let result = write_zset(ctx, args.get(1), |z, limits| {
        let (mut added, mut updated, mut last) = (0i64, 0i64, None);
        for &(score, member) in &scores {
            match add_one(z, (member, score), flags, limits)? {
                Added::New(s) => (added, last) = (added + 1, Some(s)),
                Added::Updated(s) => (updated, last) = (updated + 1, Some(s)),
                Added::Same(s) => last = Some(s),
                Added::Skipped => last = None,
            }
        }
        Ok::<_, ()>((added, updated, last))
    });
    let (added, updated, last) = match result {
        Err(WrongType) => return ctx.fail(WRONGTYPE),
        Ok(Err(())) => return ctx.fail(NAN_RESULT),
        Ok(Ok(counts)) => counts,
    };
    if flags.incr {
        match last {
            Some(score) => reply_score(&mut ctx.reply, score),
            None => ctx.reply.null(),
        }
    } else {
        ctx.reply
            .int(if flags.ch { added + updated } else { added });
    }
    if added + updated > 0 {
        let event = if flags.incr { "zincr" } else { "zadd" };
        ctx.notify(N::ZSET, event, args.get(1));
        Outcome::Wrote
    } else {
        Outcome::Unchanged
    }
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(delta) = parse_score(args.get(2)) else {
        return ctx.fail(NOT_FLOAT);
    };
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    match write_zset(ctx, args.get(1), |z, limits| {
        add_one(z, (args.get(3), delta), flags, limits)
    }) {
        Err(WrongType) => ctx.fail(WRONGTYPE),
        Ok(Err(())) => ctx.fail(NAN_RESULT),
        Ok(Ok(Added::New(s) | Added::Updated(s))) => {
            reply_score(&mut ctx.reply, s);
            ctx.notify(N::ZSET, "zincr", args.get(1));
            Outcome::Wrote
        }
        Ok(Ok(Added::Same(s))) => {
            reply_score(&mut ctx.reply, s);
            Outcome::Wrote
        }
        Ok(Ok(Added::Skipped)) => {
            ctx.reply.null();
            Outcome::Unchanged
        }
    }
}

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let removed = change_zset(ctx, args.get(1), |z| {
        args.iter_from(2).filter(|m| z.remove(m)).count() as i64
    });
    match removed {
        Err(WrongType) => ctx.fail(WRONGTYPE),
        Ok(n) => {
            let n = n.unwrap_or(0);
            ctx.reply.int(n);
            if n > 0 {
                let (store, key) = (ctx.store, args.get(1));
                ctx.notify_emptying(N::ZSET, "zrem", key, || store.lock(key).peek(key).is_some());
                Outcome::Wrote
            } else {
                Outcome::Unchanged
            }
        }
    }
}

/// Replies with what `f` reads from the sorted set at `key`, or with
/// `missing` when there is none.
fn read_zset(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(&SortedSet, &mut Ctx<'_>),
    missing: impl FnOnce(&mut Reply<'_>),
) -> Outcome {
    match read_value::<SortedSet, _>(ctx, key, f) {
        Ok(Some(())) => Outcome::Unchanged,
        Ok(None) => {
            missing(&mut ctx.reply);
            Outcome::Unchanged
        }
        Err(WrongType) => ctx.fail(WRONGTYPE),
    }
}

/// ZCARD key
pub fn zcard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    read_zset(
        ctx,
        args.get(1),
        |z, ctx| ctx.reply.int(z.len() as i64),
        |r| r.int(0),
    )
}

/// ZSCORE key member
pub fn zscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    read_zset(
        ctx,
        args.get(1),
        |z, ctx| match z.score(args.get(2)) {
            Some(s) => reply_score(&mut ctx.reply, s),
            None => ctx.reply.null(),
        },
        |r| r.null(),
    )
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let n = args.len() - 2;
    read_zset(
        ctx,
        args.get(1),
        |z, ctx| {
            ctx.reply.array(n);
            for member in args.iter_from(2) {
                match z.score(member) {
                    Some(s) => reply_score(&mut ctx.reply, s),
                    None => ctx.reply.null(),
                }
            }
        },
        |r| {
            r.array(n);
            (0..n).for_each(|_| r.null());
        },
    )
}

/// ZRANK and ZREVRANK: key member [WITHSCORE] (Redis 7.2's form).
fn rank(ctx: &mut Ctx<'_>, args: Args<'_>, reverse: bool) -> Outcome {
    if args.len() > 4 {
        let name = if reverse { "zrevrank" } else { "zrank" };
        return ctx.fail(&super::wrong_arity(name));
    }
    let with_score = args.len() == 4;
    if with_score && !is(args.get(3), "withscore") {
        return ctx.fail(SYNTAX);
    }
    let missing = |r: &mut Reply<'_>| {
        if with_score {
            r.null_array()
        } else {
            r.null()
        }
    };
    read_zset(
        ctx,
        args.get(1),
        |z, ctx| match z.rank(args.get(2)) {
            Some((rank, score)) => {
                let rank = if reverse { z.len() - 1 - rank } else { rank };
                if with_score {
                    ctx.reply.array(2);
                }
                ctx.reply.int(rank as i64);
                if with_score {
                    reply_score(&mut ctx.reply, score);
                }
            }
            None => missing(&mut ctx.reply),
        },
        missing,
    )
}

/// ZRANK key member [WITHSCORE]
pub fn zrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    rank(ctx, args, false)
}

/// ZREVRANK key member [WITHSCORE]
pub fn zrevrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    rank(ctx, args, true)
}

/// Ranks for ZRANDMEMBER: `count` distinct ones in random order (all of
/// them, in order, when `count` reaches the length), or `-count` with
/// repeats.
fn random_ranks(len: usize, count: i64) -> Vec<usize> {
    if count < 0 {
        return (0..count.unsigned_abs())
            .map(|_| fastrand::usize(..len))
            .collect();
    }
    let count = count as usize;
    if count >= len {
        return (0..len).collect();
    }
    if count * 3 > len {
        let mut all: Vec<usize> = (0..len).collect();
        fastrand::shuffle(&mut all);
        all.truncate(count);
        return all;
    }
    let mut picked = hashbrown::HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let rank = fastrand::usize(..len);
        if picked.insert(rank) {
            out.push(rank);
        }
    }
    out
}

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let count = match random_pick_count(args, Some("withscores")) {
        Ok(c) => c,
        Err(e) => return ctx.fail(e),
    };
    let with_scores = args.len() == 4;
    read_zset(
        ctx,
        args.get(1),
        |z, ctx| {
            let Some(count) = count else {
                let pick = z.get(fastrand::usize(..z.len().max(1)));
                return ctx.reply.opt_bulk(pick.map(|(m, _)| m));
            };
            let ranks = random_ranks(z.len(), count);
            // A compact set is read once; a skip list finds each rank in
            // O(log n).
            let picks: Vec<(&[u8], f64)> = if z.encoding() == "listpack" {
                let all: Vec<(&[u8], f64)> = z.iter().collect();
                ranks.iter().map(|&r| all[r]).collect()
            } else {
                ranks.iter().filter_map(|&r| z.get(r)).collect()
            };
            reply_members(&mut ctx.reply, picks.into_iter(), with_scores);
        },
        |r| match count {
            Some(_) => r.array(0),
            None => r.null(),
        },
    )
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: a listpack whole in one
/// call (cursor 0), a skip list about COUNT members at a time by its
/// member index, as Redis; scores as `%.17g` bulk strings in both
/// protocols, as Redis.
pub fn zscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(cursor) = super::keys::parse_cursor(args.get(2)) else {
        return ctx.fail("ERR invalid cursor");
    };
    let options = scan_options::parse(args, 3, ScanOf::Members);
    let mut failed = None;
    let outcome = read_zset(
        ctx,
        args.get(1),
        |z, ctx| {
            let options = match &options {
                Ok(o) => o,
                Err(e) => return failed = Some(*e),
            };
            let mut matched: Vec<(&[u8], f64)> = Vec::new();
            let next = z.scan(cursor, options.count, |member, score| {
                if options.matches(member) {
                    matched.push((member, score));
                }
            });
            ctx.reply.array(2);
            ctx.reply.bulk(itoa::Buffer::new().format(next).as_bytes());
            ctx.reply.array(2 * matched.len());
            for (member, score) in matched {
                ctx.reply.bulk(member);
                ctx.reply
                    .bulk(super::sorted_set_args::format_score(score).as_bytes());
            }
        },
        scan_options::reply_empty,
    );
    match failed {
        Some(e) => ctx.fail(e),
        None => outcome,
    }
}
