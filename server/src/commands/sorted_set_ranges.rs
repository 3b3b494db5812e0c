//! Sorted-set ranges: ZRANGE in all its forms (by rank, score or lex,
//! reversed, with LIMIT), the older ZRANGEBYSCORE/ZRANGEBYLEX/ZREVRANGE*
//! commands, ZRANGESTORE, the ZREMRANGEBY* removals and the counts.
//!
//! Every range becomes a span of ranks `lo..hi` (ascending), found with
//! two `count_while` walks, so a skip-list set answers in O(log n) plus
//! the members replied.

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::sorted_set_args::{reply_members, LexBound, ScoreBound, BAD_LEX_RANGE, BAD_SCORE_RANGE};
use super::{read_value, reply_count, Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::Args;
use crate::store::{Collection, OwnedValue, SortedSet, WrongType};

/// What a range selects by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed range request.
#[derive(Debug, Clone, Copy)]
struct Range<'a> {
    by: By,
    reverse: bool,
    /// LIMIT offset (score and lex ranges).
    offset: i64,
    /// LIMIT count; negative: no limit.
    limit: i64,
    with_scores: bool,
    /// The bounds as given, `min` first (swapped for reversed score and
    /// lex ranges, whose arguments come max first).
    min: &'a [u8],
    max: &'a [u8],
}

/// How a command fixes the range's kind and direction.
#[derive(Debug, Clone, Copy)]
struct Form {
    by: Option<By>,
    reverse: Option<bool>,
    store: bool,
}

/// Parses `min max [options]` from argument `at` on, as Redis's
/// `zrangeGenericCommand`; errors in its order and words.
fn parse_range(args: Args<'_>, at: usize, form: Form) -> Result<Range<'_>, &'static str> {
    let (mut by, mut reverse) = (form.by, form.reverse);
    let (mut offset, mut limit, mut with_scores) = (0i64, -1i64, false);
    let mut j = at + 2;
    while j < args.len() {
        let arg = args.get(j);
        let left = args.len() - j - 1;
        if !form.store && is(arg, "withscores") {
            with_scores = true;
        } else if is(arg, "limit") && left >= 2 {
            match (parse_i64(args.get(j + 1)), parse_i64(args.get(j + 2))) {
                (Some(o), Some(l)) => (offset, limit) = (o, l),
                _ => return Err(NOT_INTEGER),
            }
            j += 2;
        } else if form.reverse.is_none() && reverse.is_none() && is(arg, "rev") {
            reverse = Some(true);
        } else if form.by.is_none() && by.is_none() && is(arg, "bylex") {
            by = Some(By::Lex);
        } else if form.by.is_none() && by.is_none() && is(arg, "byscore") {
            by = Some(By::Score);
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let by = by.unwrap_or(By::Rank);
    let reverse = reverse.unwrap_or(false);
    if limit != -1 && by == By::Rank {
        return Err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if with_scores && by == By::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut min, mut max) = (args.get(at), args.get(at + 1));
    if reverse && by != By::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    Ok(Range {
        by,
        reverse,
        offset,
        limit,
        with_scores,
        min,
        max,
    })
}

/// The bounds of a range, parsed.
#[derive(Debug, Clone, Copy)]
enum Bounds<'a> {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound<'a>, LexBound<'a>),
}

fn parse_bounds<'a>(by: By, min: &'a [u8], max: &'a [u8]) -> Result<Bounds<'a>, &'static str> {
    match by {
        By::Rank => match (parse_i64(min), parse_i64(max)) {
            (Some(a), Some(b)) => Ok(Bounds::Rank(a, b)),
            _ => Err(NOT_INTEGER),
        },
        By::Score => match (ScoreBound::parse(min), ScoreBound::parse(max)) {
            (Some(a), Some(b)) => Ok(Bounds::Score(a, b)),
            _ => Err(BAD_SCORE_RANGE),
        },
        By::Lex => match (LexBound::parse(min), LexBound::parse(max)) {
            (Some(a), Some(b)) => Ok(Bounds::Lex(a, b)),
            _ => Err(BAD_LEX_RANGE),
        },
    }
}

/// The ranks `lo..hi` (ascending) that `bounds` select in `z`.
fn span(z: &SortedSet, bounds: &Bounds<'_>) -> (usize, usize) {
    let len = z.len() as i64;
    let (lo, hi) = match *bounds {
        Bounds::Rank(start, end) => {
            let start = if start < 0 {
                (len + start).max(0)
            } else {
                start
            };
            let end = if end < 0 { len + end } else { end.min(len - 1) };
            if start > end || start >= len {
                return (0, 0);
            }
            (start as usize, end as usize + 1)
        }
        Bounds::Score(min, max) => (
            z.count_while(|s, _| min.below_min(s)),
            z.count_while(|s, _| max.within_max(s)),
        ),
        Bounds::Lex(min, max) => (
            z.count_while(|_, m| min.below_min(m)),
            z.count_while(|_, m| max.within_max(m)),
        ),
    };
    if hi > lo {
        (lo, hi)
    } else {
        (0, 0)
    }
}

/// The first rank and the number of members a range replies, in its
/// direction: the span, reversed if asked, cut by LIMIT.
fn selection(z: &SortedSet, range: &Range<'_>, bounds: &Bounds<'_>) -> (usize, usize) {
    let (lo, hi) = span(z, bounds);
    let mut count = hi - lo;
    let mut skip = 0;
    if range.by != By::Rank {
        // A negative offset selects nothing and a negative count no limit,
        // as Redis's loops do.
        if range.offset < 0 {
            return (lo, 0);
        }
        skip = (range.offset as u64).min(count as u64) as usize;
        count -= skip;
        if range.limit >= 0 {
            count = count.min(range.limit as usize);
        }
    }
    if count == 0 {
        return (0, 0);
    }
    let first = match (range.reverse, range.by) {
        // Reversed indexes count from the highest score.
        (true, By::Rank) => z.len() - 1 - lo,
        (true, _) => hi - 1 - skip,
        (false, _) => lo + skip,
    };
    (first, count)
}

/// Runs a parsed range against the key: replies with the members, or
/// stores them at `store` (ZRANGESTORE).
fn run_range(ctx: &mut Ctx<'_>, args: Args<'_>, at: usize, form: Form) -> Outcome {
    let range = match parse_range(args, at, form) {
        Ok(r) => r,
        Err(e) => return ctx.fail(e),
    };
    let bounds = match parse_bounds(range.by, range.min, range.max) {
        Ok(b) => b,
        Err(e) => return ctx.fail(e),
    };
    if form.store {
        return store_range(ctx, args, &range, &bounds);
    }
    let result = read_value::<SortedSet, _>(ctx, args.get(at - 1), |z, ctx| {
        let (first, count) = selection(z, &range, &bounds);
        let items = z.walk(first, !range.reverse).take(count);
        reply_members(&mut ctx.reply, items, range.with_scores);
    });
    match result {
        Ok(Some(())) => Outcome::Unchanged,
        Ok(None) => {
            ctx.reply.array(0);
            Outcome::Unchanged
        }
        Err(WrongType) => ctx.fail(WRONGTYPE),
    }
}

/// ZRANGESTORE's second half: the selected members become the set at the
/// destination (deleted when there are none).
fn store_range(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    range: &Range<'_>,
    bounds: &Bounds<'_>,
) -> Outcome {
    let (dst, src) = (args.get(1), args.get(2));
    let mut lock = ctx.store.lock_keys([dst, src]);
    let limits = lock.shard(dst).0.encoding_limits();
    let (found, shard, _) = lock.find(src);
    let source = match found.map(|i| shard.typed::<SortedSet>(i)) {
        None => None,
        Some(Some(z)) => Some(z),
        Some(None) => return ctx.fail(WRONGTYPE),
    };
    let mut stored = SortedSet::default();
    if let Some(z) = &source {
        let (first, count) = selection(z, range, bounds);
        let items: Vec<(&[u8], f64)> = z.walk(first, !range.reverse).take(count).collect();
        stored = SortedSet::from_pairs(items);
    }
    let len = stored.len();
    if len == 0 {
        let now = lock.now;
        let (shard, hash) = lock.shard(dst);
        if shard.remove(hash, dst, now).is_some() {
            ctx.notify(N::GENERIC, "del", dst);
        }
    } else {
        stored.fit_encoding(&limits);
        lock.put(dst, OwnedValue::Collection(Collection::ZSet(stored)), None);
        ctx.notify(N::ZSET, "zrangestore", dst);
    }
    ctx.reply.int(len as i64);
    Outcome::WroteKey(1)
}

const RANK: Form = Form {
    by: None,
    reverse: None,
    store: false,
};

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_range(ctx, args, 2, RANK)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_range(
        ctx,
        args,
        3,
        Form {
            store: true,
            ..RANK
        },
    )
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let form = Form {
        by: Some(By::Rank),
        reverse: Some(true),
        store: false,
    };
    run_range(ctx, args, 2, form)
}

fn fixed(by: By, reverse: bool) -> Form {
    Form {
        by: Some(by),
        reverse: Some(reverse),
        store: false,
    }
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_range(ctx, args, 2, fixed(By::Score, false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_range(ctx, args, 2, fixed(By::Score, true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_range(ctx, args, 2, fixed(By::Lex, false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run_range(ctx, args, 2, fixed(By::Lex, true))
}

/// ZCOUNT and ZLEXCOUNT: the bounds first, then the key.
fn count(ctx: &mut Ctx<'_>, args: Args<'_>, by: By) -> Outcome {
    let bounds = match parse_bounds(by, args.get(2), args.get(3)) {
        Ok(b) => b,
        Err(e) => return ctx.fail(e),
    };
    reply_count::<SortedSet>(ctx, args.get(1), |z| {
        let (lo, hi) = span(z, &bounds);
        (hi - lo) as i64
    })
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    count(ctx, args, By::Score)
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    count(ctx, args, By::Lex)
}

/// ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX.
fn remove_range(ctx: &mut Ctx<'_>, args: Args<'_>, by: By) -> Outcome {
    let bounds = match parse_bounds(by, args.get(2), args.get(3)) {
        Ok(b) => b,
        Err(e) => return ctx.fail(e),
    };
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Some(index) = lock.find(key) else {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    let removed = lock.shard.with_mut::<SortedSet, _>(index, |z| {
        let (lo, hi) = span(z, &bounds);
        z.remove_ranks(lo, hi, |_, _| {});
        hi - lo
    });
    match removed {
        None => ctx.fail(WRONGTYPE),
        Some(n) => {
            ctx.reply.int(n as i64);
            if n > 0 {
                let event = match by {
                    By::Rank => "zremrangebyrank",
                    By::Score => "zremrangebyscore",
                    By::Lex => "zremrangebylex",
                };
                ctx.notify_emptying(N::ZSET, event, key, || lock.peek(key).is_some());
                Outcome::Wrote
            } else {
                Outcome::Unchanged
            }
        }
    }
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    remove_range(ctx, args, By::Rank)
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    remove_range(ctx, args, By::Score)
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    remove_range(ctx, args, By::Lex)
}
