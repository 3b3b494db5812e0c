//! Hash commands (web sessions usually live in hashes).

use super::args::{
    parse_f64, parse_i64, random_pick_count, NOT_FLOAT, NOT_INTEGER, OVERFLOW, WRONGTYPE,
};
use super::scan_options::{self, ScanOf};
use super::spec::flag_sets::{R, RF, WF, WMF};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec};
use super::{read_value, reply_count, Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::reply::format_double;
use crate::protocol::Args;
use crate::store::{HashValue, WrongType};

const H: C = C::HASH;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("hset", hset, -4, WMF.with(F::REPLAYABLE), "hash", "Creates or modifies the value of a field in a hash.").keys(KeySpec::ONE).acl(H).event(N::HASH, "hset"),
    Cmd::new("hmset", hmset, -4, WMF.with(F::REPLAYABLE), "hash", "Sets the values of multiple fields.").keys(KeySpec::ONE).acl(H).event(N::HASH, "hset"),
    Cmd::new("hsetnx", hsetnx, 4, WMF.with(F::REPLAYABLE), "hash", "Sets the value of a field in a hash only when the field doesn't exist.").keys(KeySpec::ONE).acl(H).event(N::HASH, "hset"),
    Cmd::new("hget", hget, 3, RF, "hash", "Returns the value of a field in a hash.").keys(KeySpec::ONE).acl(H),
    Cmd::new("hmget", hmget, -3, RF, "hash", "Returns the values of all fields in a hash.").keys(KeySpec::ONE).acl(H),
    Cmd::new("hgetall", hgetall, 2, R, "hash", "Returns all fields and values in a hash.").keys(KeySpec::ONE).acl(H),
    Cmd::new("hdel", hdel, -3, WF.with(F::REPLAYABLE), "hash", "Deletes one or more fields and their values from a hash.").keys(KeySpec::ONE).acl(H),
    Cmd::new("hexists", hexists, 3, RF, "hash", "Determines whether a field exists in a hash.").keys(KeySpec::ONE).acl(H),
    Cmd::new("hlen", hlen, 2, RF, "hash", "Returns the number of fields in a hash.").keys(KeySpec::ONE).acl(H),
    Cmd::new("hkeys", hkeys, 2, R, "hash", "Returns all fields in a hash.").keys(KeySpec::ONE).acl(H),
    Cmd::new("hvals", hvals, 2, R, "hash", "Returns all values in a hash.").keys(KeySpec::ONE).acl(H),
    Cmd::new("hstrlen", hstrlen, 3, RF, "hash", "Returns the length of the value of a field.").keys(KeySpec::ONE).acl(H),
    Cmd::new("hincrby", hincrby, 4, WMF.with(F::REPLAYABLE), "hash", "Increments the integer value of a field in a hash by a number.").keys(KeySpec::ONE).acl(H).event(N::HASH, "hincrby"),
    Cmd::new("hincrbyfloat", hincrbyfloat, 4, WMF.with(F::REPLAYABLE), "hash", "Increments the floating point value of a field by a number.").keys(KeySpec::ONE).acl(H).event(N::HASH, "hincrbyfloat"),
    Cmd::new("hrandfield", hrandfield, -2, R, "hash", "Returns one or more random fields from a hash.").keys(KeySpec::ONE).acl(H),
    Cmd::new("hscan", hscan, -3, R, "hash", "Iterates over fields and values of a hash.").keys(KeySpec::ONE).acl(H),
];

/// Sets the field/value pairs of HSET and HMSET; the number of new fields,
/// or the failure already answered.
fn set_fields(ctx: &mut Ctx<'_>, args: Args<'_>, name: &str) -> Result<i64, Outcome> {
    if !args.len().is_multiple_of(2) {
        return Err(ctx.fail(&super::wrong_arity(name)));
    }
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Ok(index) = lock.for_write::<HashValue>(key) else {
        return Err(ctx.fail(WRONGTYPE));
    };
    let limits = lock.shard.encoding_limits();
    let added = lock.shard.with_hash_mut(index, |h| {
        h.prepare_write(args.iter_from(2), &limits);
        (2..args.len())
            .step_by(2)
            .map(|i| i64::from(h.insert_with(args.get(i), args.get(i + 1), &limits)))
            .sum()
    });
    added.ok_or_else(|| ctx.fail(WRONGTYPE))
}

/// HSET key field value [field value ...]
pub fn hset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    match set_fields(ctx, args, "hset") {
        Ok(added) => {
            ctx.reply.int(added);
            Outcome::Wrote
        }
        Err(failed) => failed,
    }
}

/// HMSET key field value [field value ...]
pub fn hmset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    match set_fields(ctx, args, "hmset") {
        Ok(_) => {
            ctx.reply.ok();
            Outcome::Wrote
        }
        Err(failed) => failed,
    }
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Ok(index) = lock.for_write::<HashValue>(key) else {
        return ctx.fail(WRONGTYPE);
    };
    let limits = lock.shard.encoding_limits();
    let added = lock.shard.with_hash_mut(index, |h| {
        if h.get(args.get(2)).is_some() {
            false
        } else {
            h.insert_with(args.get(2), args.get(3), &limits)
        }
    });
    let added = added.unwrap_or(false);
    ctx.reply.int(i64::from(added));
    if added {
        Outcome::Wrote
    } else {
        Outcome::Unchanged
    }
}

/// HGET key field
pub fn hget(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    match read_value::<HashValue, _>(ctx, args.get(1), |h, ctx| {
        ctx.reply.opt_bulk(h.get(args.get(2)))
    }) {
        Ok(Some(())) => {}
        Ok(None) => ctx.reply.null(),
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}

/// HMGET key field [field ...]
pub fn hmget(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let result = read_value::<HashValue, _>(ctx, args.get(1), |h, ctx| {
        ctx.reply.array(args.len() - 2);
        for field in args.iter_from(2) {
            ctx.reply.opt_bulk(h.get(field));
        }
    });
    match result {
        Ok(Some(())) => {}
        Ok(None) => {
            ctx.reply.array(args.len() - 2);
            for _ in 2..args.len() {
                ctx.reply.null();
            }
        }
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}

/// What HGETALL, HKEYS and HVALS list.
#[derive(Clone, Copy)]
enum Listing {
    Both,
    Fields,
    Values,
}

fn list(ctx: &mut Ctx<'_>, args: Args<'_>, what: Listing) -> Outcome {
    let result = read_value::<HashValue, _>(ctx, args.get(1), |h, ctx| {
        match what {
            Listing::Both => ctx.reply.map(h.len()),
            _ => ctx.reply.array(h.len()),
        }
        for (field, value) in h.iter() {
            match what {
                Listing::Both => {
                    ctx.reply.bulk(field);
                    ctx.reply.bulk(value);
                }
                Listing::Fields => ctx.reply.bulk(field),
                Listing::Values => ctx.reply.bulk(value),
            }
        }
    });
    match result {
        Ok(Some(())) => {}
        Ok(None) => match what {
            Listing::Both => ctx.reply.map(0),
            _ => ctx.reply.array(0),
        },
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}

/// HGETALL key
pub fn hgetall(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    list(ctx, args, Listing::Both)
}

/// HKEYS key
pub fn hkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    list(ctx, args, Listing::Fields)
}

/// HVALS key
pub fn hvals(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    list(ctx, args, Listing::Values)
}

/// HDEL key field [field ...]
pub fn hdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Some(index) = lock.find(key) else {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    let removed = lock.shard.with_hash_mut(index, |h| {
        args.iter_from(2).map(|f| i64::from(h.remove(f))).sum()
    });
    match removed {
        Some(0) => {
            ctx.reply.int(0);
            Outcome::Unchanged
        }
        Some(n) => {
            ctx.reply.int(n);
            ctx.notify_emptying(N::HASH, "hdel", key, || lock.peek(key).is_some());
            Outcome::Wrote
        }
        None => ctx.fail(WRONGTYPE),
    }
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    reply_count::<HashValue>(ctx, args.get(1), |h| h.get(args.get(2)).is_some() as i64)
}

/// HLEN key
pub fn hlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    reply_count::<HashValue>(ctx, args.get(1), |h| h.len() as i64)
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    reply_count::<HashValue>(ctx, args.get(1), |h| {
        h.get(args.get(2)).map_or(0, <[u8]>::len) as i64
    })
}

/// Applies `step` to a field's current value (None when absent) and stores
/// the text it returns; replies with the step's error otherwise.
fn update_field(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    step: impl FnOnce(Option<&[u8]>) -> Result<Vec<u8>, &'static str>,
) -> Result<Vec<u8>, Outcome> {
    let key = args.get(1);
    let field = args.get(2);
    let mut lock = ctx.store.lock(key);
    let Ok(index) = lock.for_write::<HashValue>(key) else {
        return Err(ctx.fail(WRONGTYPE));
    };
    let limits = lock.shard.encoding_limits();
    let result = lock.shard.with_hash_mut(index, |h| {
        let next = step(h.get(field))?;
        h.insert_with(field, &next, &limits);
        Ok(next)
    });
    match result {
        Some(Ok(text)) => Ok(text),
        Some(Err(e)) => Err(ctx.fail(e)),
        None => Err(ctx.fail(WRONGTYPE)),
    }
}

/// HINCRBY key field increment
pub fn hincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(delta) = parse_i64(args.get(3)) else {
        return ctx.fail(NOT_INTEGER);
    };
    let result = update_field(ctx, args, |current| {
        let n = match current {
            None => 0,
            Some(v) => parse_i64(v).ok_or("ERR hash value is not an integer")?,
        };
        let next = n.checked_add(delta).ok_or(OVERFLOW)?;
        Ok(next.to_string().into_bytes())
    });
    match result {
        Ok(text) => {
            ctx.reply.int(parse_i64(&text).unwrap_or(0));
            Outcome::Wrote
        }
        Err(failed) => failed,
    }
}

/// HINCRBYFLOAT key field increment
pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(delta) = parse_f64(args.get(3)) else {
        return ctx.fail(NOT_FLOAT);
    };
    // Redis refuses an infinite increment itself, with its own message
    // (INCRBYFLOAT does not: it only checks the result).
    if !delta.is_finite() {
        return ctx.fail("ERR value is NaN or Infinity");
    }
    let result = update_field(ctx, args, |current| {
        let n = match current {
            None => 0.0,
            Some(v) => parse_f64(v).ok_or("ERR hash value is not a float")?,
        };
        let next = n + delta;
        if !next.is_finite() {
            return Err("ERR increment would produce NaN or Infinity");
        }
        Ok(format_double(next).into_bytes())
    });
    match result {
        Ok(text) => {
            ctx.reply.bulk(&text);
            Outcome::Wrote
        }
        Err(failed) => failed,
    }
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let count = match random_pick_count(args, Some("withvalues")) {
        Ok(c) => c,
        Err(e) => return ctx.fail(e),
    };
    let with_values = args.len() == 4;
    let result = read_value::<HashValue, _>(ctx, args.get(1), |h, ctx| {
        let len = h.len();
        let mut rng = fastrand::Rng::new();
        let Some(count) = count else {
            return ctx.reply.opt_bulk(h.random(&mut rng).map(|(f, _)| f));
        };
        // As Redis: a negative count picks with repeats, each pick a few
        // probes; a positive one picks distinct fields, at most all of
        // them: by random probes while the count is small against the
        // hash, else by a shuffle of every position.
        let fields: Vec<(&[u8], &[u8])> = if count < 0 {
            if h.is_packed() {
                let all: Vec<(&[u8], &[u8])> = h.iter().collect();
                (0..count.unsigned_abs())
                    .map(|_| all[rng.usize(..len.max(1))])
                    .collect()
            } else {
                (0..count.unsigned_abs())
                    .filter_map(|_| h.random(&mut rng))
                    .collect()
            }
        } else {
            let n = (count as usize).min(len);
            if !h.is_packed() && n.saturating_mul(3) <= len {
                let mut seen = std::collections::HashSet::with_capacity(n);
                let mut out = Vec::with_capacity(n);
                while out.len() < n {
                    match h.random(&mut rng) {
                        Some(pair) if seen.insert(pair.0) => out.push(pair),
                        Some(_) => {}
                        None => break,
                    }
                }
                out
            } else {
                let mut picks: Vec<usize> = (0..len).collect();
                rng.shuffle(&mut picks);
                picks.truncate(n);
                picks.sort_unstable();
                // One pass over the hash for sorted distinct positions.
                let mut out = Vec::with_capacity(picks.len());
                let mut next = picks.iter().peekable();
                for (i, pair) in h.iter().enumerate() {
                    if next.peek() == Some(&&i) {
                        out.push(pair);
                        next.next();
                    }
                }
                out
            }
        };
        if with_values && ctx.reply.resp3() {
            ctx.reply.array(fields.len());
            for (f, v) in fields {
                ctx.reply.array(2);
                ctx.reply.bulk(f);
                ctx.reply.bulk(v);
            }
        } else {
            ctx.reply
                .array(fields.len() * if with_values { 2 } else { 1 });
            for (f, v) in fields {
                ctx.reply.bulk(f);
                if with_values {
                    ctx.reply.bulk(v);
                }
            }
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

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]: a listpack
/// whole in one call (cursor 0), a table about COUNT pairs at a time, as
/// Redis.
///
/// As in Redis, the cursor is checked first, then the key (a missing key
/// is an empty scan, a string WRONGTYPE), then the options.
pub fn hscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(cursor) = super::keys::parse_cursor(args.get(2)) else {
        return ctx.fail("ERR invalid cursor");
    };
    let options = scan_options::parse(args, 3, ScanOf::Hash);
    let result = read_value::<HashValue, _>(ctx, args.get(1), |h, ctx| {
        let options = match &options {
            Ok(o) => o,
            Err(e) => return ctx.fail(e),
        };
        let novalues = options.novalues;
        let mut matched: Vec<(&[u8], &[u8])> = Vec::new();
        let next = h.scan(cursor, options.count, |f, v| {
            if options.matches(f) {
                matched.push((f, v));
            }
        });
        ctx.reply.array(2);
        ctx.reply.bulk(itoa::Buffer::new().format(next).as_bytes());
        ctx.reply
            .array(matched.len() * if novalues { 1 } else { 2 });
        for (f, v) in matched {
            ctx.reply.bulk(f);
            if !novalues {
                ctx.reply.bulk(v);
            }
        }
        Outcome::Unchanged
    });
    match result {
        Ok(Some(outcome)) => return outcome,
        Ok(None) => scan_options::reply_empty(&mut ctx.reply),
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}
