//! Sorted-set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms and
//! ZINTERCARD, with WEIGHTS and AGGREGATE. Plain sets count as sorted sets
//! whose members all score 1, as in Redis.
//!
//! All the keys are locked together (one consistent view), the inputs are
//! read where they are, and only the result is built.

use std::borrow::Cow;

use hashbrown::HashMap;

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::sorted_set_args::{parse_score, reply_members};
use super::{Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::Args;
use crate::store::{Collection, OwnedValue, SetValue, SortedSet, ValueRef};

/// Key positions of `CMD numkeys key [key ...] ...` (ZUNION, ZINTER,
/// ZDIFF, ZINTERCARD, ZMPOP).
pub fn numkeys_keys(args: Args<'_>) -> Vec<usize> {
    counted_keys(args, 1)
}

/// Key positions of `CMD destination numkeys key [key ...] ...`.
pub fn store_numkeys_keys(args: Args<'_>) -> Vec<usize> {
    let mut keys = vec![1];
    keys.extend(counted_keys(args, 2));
    keys
}

fn counted_keys(args: Args<'_>, numkeys_at: usize) -> Vec<usize> {
    let Some(n) = args.try_get(numkeys_at).and_then(parse_i64) else {
        return Vec::new();
    };
    let first = numkeys_at + 1;
    let n = usize::try_from(n)
        .unwrap_or(0)
        .min(args.len().saturating_sub(first));
    (first..first + n).collect()
}

/// The operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

/// How scores of one member in several inputs combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: a sum of opposite infinities is 0.
    fn apply(self, target: f64, value: f64) -> f64 {
        match self {
            Aggregate::Sum => {
                let sum = target + value;
                if sum.is_nan() {
                    0.0
                } else {
                    sum
                }
            }
            Aggregate::Min => {
                if value < target {
                    value
                } else {
                    target
                }
            }
            Aggregate::Max => {
                if value > target {
                    value
                } else {
                    target
                }
            }
        }
    }
}

/// What the command is: its operation and what it replies.
#[derive(Debug, Clone, Copy)]
struct Kind {
    op: Op,
    name: &'static str,
    /// The STORE forms.
    store: bool,
    /// ZINTERCARD.
    cardinality: bool,
}

/// The options after the keys.
#[derive(Debug, Clone)]
struct Options {
    weights: Vec<f64>,
    aggregate: Aggregate,
    with_scores: bool,
    limit: usize,
}

/// The number of keys and the position of the first; errors in Redis's
/// words.
fn parse_numkeys(args: Args<'_>, at: usize, kind: Kind) -> Result<(usize, usize), String> {
    let Some(n) = parse_i64(args.get(at)) else {
        return Err(NOT_INTEGER.into());
    };
    if n < 1 {
        return Err(format!(
            "ERR at least 1 input key is needed for '{}' command",
            kind.name
        ));
    }
    if n as u64 > (args.len() - at - 1) as u64 {
        return Err(SYNTAX.into());
    }
    Ok((n as usize, at + 1))
}

/// The options from argument `j` on, as Redis's parser reads them.
fn parse_options(
    args: Args<'_>,
    mut j: usize,
    n: usize,
    kind: Kind,
) -> Result<Options, &'static str> {
    let mut o = Options {
        weights: vec![1.0; n],
        aggregate: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let combines = kind.op != Op::Diff && !kind.cardinality;
    while j < args.len() {
        let arg = args.get(j);
        let left = args.len() - j;
        if combines && left > n && is(arg, "weights") {
            for (i, weight) in o.weights.iter_mut().enumerate() {
                *weight =
                    parse_score(args.get(j + 1 + i)).ok_or("ERR weight value is not a float")?;
            }
            j += 1 + n;
        } else if combines && left >= 2 && is(arg, "aggregate") {
            let name = args.get(j + 1);
            o.aggregate = if is(name, "sum") {
                Aggregate::Sum
            } else if is(name, "min") {
                Aggregate::Min
            } else if is(name, "max") {
                Aggregate::Max
            } else {
                return Err(SYNTAX);
            };
            j += 2;
        } else if !kind.store && !kind.cardinality && is(arg, "withscores") {
            o.with_scores = true;
            j += 1;
        } else if kind.cardinality && left >= 2 && is(arg, "limit") {
            o.limit = match parse_i64(args.get(j + 1)) {
                Some(l) if l >= 0 => l as usize,
                _ => return Err("ERR LIMIT can't be negative"),
            };
            j += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    Ok(o)
}

/// One input: a sorted set, a set (every member scores 1) or nothing.
#[derive(Clone, Copy)]
enum Input<'a> {
    Missing,
    Sorted(&'a SortedSet),
    Plain(&'a SetValue),
}

impl<'a> Input<'a> {
    fn of(value: &'a Option<ValueRef<'_>>) -> Option<Input<'a>> {
        match value {
            None => Some(Input::Missing),
            Some(ValueRef::ZSet(z)) => Some(Input::Sorted(z)),
            Some(ValueRef::Set(s)) => Some(Input::Plain(s)),
            Some(_) => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Input::Missing => 0,
            Input::Sorted(z) => z.len(),
            Input::Plain(s) => s.len(),
        }
    }

    /// Members and scores, in the input's own order.
    fn members(&self) -> Box<dyn Iterator<Item = (Cow<'a, [u8]>, f64)> + 'a> {
        match *self {
            Input::Missing => Box::new(std::iter::empty()),
            Input::Sorted(z) => Box::new(z.iter().map(|(m, s)| (Cow::Borrowed(m), s))),
            Input::Plain(s) => Box::new(s.iter().map(|m| (m.into_cow(), 1.0))),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Input::Missing => None,
            Input::Sorted(z) => z.score(member),
            Input::Plain(s) => s.contains(member).then_some(1.0),
        }
    }
}

/// A score times its input's weight; 0 for inf * 0, as Redis.
fn weighted(score: f64, weight: f64) -> f64 {
    let value = score * weight;
    if value.is_nan() {
        0.0
    } else {
        value
    }
}

/// The members of the result with their scores (unordered); stops at
/// `limit` members when it is not 0.
fn combine<'a>(
    op: Op,
    inputs: &mut [(Input<'a>, f64)],
    aggregate: Aggregate,
    limit: usize,
) -> Vec<(Cow<'a, [u8]>, f64)> {
    if op != Op::Diff {
        // Smallest first, as Redis (the order of a sum's terms).
        inputs.sort_by_key(|(input, _)| input.len());
    }
    match op {
        Op::Union => {
            let mut acc: HashMap<Cow<'a, [u8]>, f64> = HashMap::new();
            for (input, weight) in inputs.iter() {
                for (member, score) in input.members() {
                    let value = weighted(score, *weight);
                    acc.entry(member)
                        .and_modify(|s| *s = aggregate.apply(*s, value))
                        .or_insert(value);
                }
            }
            acc.into_iter().collect()
        }
        Op::Inter => {
            let mut out = Vec::new();
            let Some(((first, weight), rest)) = inputs.split_first() else {
                return out;
            };
            'members: for (member, score) in first.members() {
                let mut total = weighted(score, *weight);
                for (input, weight) in rest {
                    match input.score(&member) {
                        // Unlike the first input's, these products are not
                        // made 0 when NaN (inf * 0): MIN and MAX then keep
                        // the score so far, SUM makes it 0 (Redis).
                        Some(s) => total = aggregate.apply(total, s * *weight),
                        None => continue 'members,
                    }
                }
                out.push((member, total));
                if limit > 0 && out.len() >= limit {
                    break;
                }
            }
            out
        }
        Op::Diff => {
            let Some(((first, _), rest)) = inputs.split_first() else {
                return Vec::new();
            };
            // Redis's choice (`zsetChooseDiffAlgorithm`): each member of
            // the first looked up in every other input, or the others'
            // members taken out of a copy of the first, whichever is less
            // work (many small inputs after a large one).
            let check_work = first.len().saturating_mul(rest.len());
            let remove_work =
                first.len() + rest.iter().map(|(input, _)| input.len()).sum::<usize>();
            if check_work <= remove_work {
                return first
                    .members()
                    .filter(|(m, _)| rest.iter().all(|(input, _)| input.score(m).is_none()))
                    .collect();
            }
            let mut left: HashMap<Cow<'a, [u8]>, f64> = first.members().collect();
            for (input, _) in rest {
                if left.is_empty() {
                    break;
                }
                for (member, _) in input.members() {
                    left.remove(&member[..]);
                }
            }
            left.into_iter().collect()
        }
    }
}

/// Runs one of the commands: `numkeys_at` is the position of the key
/// count; the destination, if any, is argument 1.
fn run(ctx: &mut Ctx<'_>, args: Args<'_>, numkeys_at: usize, kind: Kind) -> Outcome {
    let (n, first) = match parse_numkeys(args, numkeys_at, kind) {
        Ok(parsed) => parsed,
        Err(e) => return ctx.fail(&e),
    };
    let keys: Vec<&[u8]> = args.iter_from(first).take(n).collect();
    // Redis checks the keys' types before it reads the options.
    let options = parse_options(args, first + n, n, kind);
    let dst = kind.store.then(|| args.get(1));
    let store = ctx.store;
    let mut lock = store.lock_keys(keys.iter().copied().chain(dst));
    let limits = dst.map(|d| lock.shard(d).0.encoding_limits());
    let values = lock.values(&keys);
    let Some(inputs) = values.iter().map(Input::of).collect::<Option<Vec<_>>>() else {
        return ctx.fail(WRONGTYPE);
    };
    let options = match options {
        Ok(o) => o,
        Err(e) => return ctx.fail(e),
    };
    let mut inputs: Vec<(Input<'_>, f64)> = inputs
        .into_iter()
        .zip(options.weights.iter().copied())
        .collect();
    let mut result = combine(kind.op, &mut inputs, options.aggregate, options.limit);
    if kind.cardinality {
        ctx.reply.int(result.len() as i64);
        return Outcome::Unchanged;
    }
    let Some(dst) = dst else {
        result.sort_by(|(m1, s1), (m2, s2)| SortedSet::order(*s1, m1, *s2, m2));
        let items = result.iter().map(|(m, s)| (&m[..], *s));
        reply_members(&mut ctx.reply, items, options.with_scores);
        return Outcome::Unchanged;
    };
    let mut stored = SortedSet::from_pairs(result.iter().map(|(m, s)| (&m[..], *s)));
    drop(result);
    drop(inputs);
    drop(values);
    let len = stored.len();
    if len == 0 {
        let now = lock.now;
        let (shard, hash) = lock.shard(dst);
        if shard.remove(hash, dst, now).is_some() {
            ctx.notify(N::GENERIC, "del", dst);
        }
    } else {
        if let Some(limits) = limits {
            stored.fit_encoding(&limits);
        }
        lock.put(dst, OwnedValue::Collection(Collection::ZSet(stored)), None);
        ctx.notify(N::ZSET, kind.name, dst);
    }
    ctx.reply.int(len as i64);
    Outcome::WroteKey(1)
}

const fn kind(op: Op, name: &'static str, store: bool) -> Kind {
    Kind {
        op,
        name,
        store,
        cardinality: false,
    }
}

/// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run(ctx, args, 1, kind(Op::Union, "zunion", false))
}

/// ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run(ctx, args, 1, kind(Op::Inter, "zinter", false))
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run(ctx, args, 1, kind(Op::Diff, "zdiff", false))
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
pub fn zunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run(ctx, args, 2, kind(Op::Union, "zunionstore", true))
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
pub fn zinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run(ctx, args, 2, kind(Op::Inter, "zinterstore", true))
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub fn zdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    run(ctx, args, 2, kind(Op::Diff, "zdiffstore", true))
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let kind = Kind {
        cardinality: true,
        ..kind(Op::Inter, "zintercard", false)
    };
    run(ctx, args, 1, kind)
}
