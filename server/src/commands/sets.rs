//! Set commands (cache tags live in sets): adding and removing members,
//! membership, random picks and pops, moving a member, SSCAN, and the
//! algebra of several sets ([`algebra`]: SINTER, SUNION, SDIFF, their
//! STORE forms, SINTERCARD).

mod algebra;

use super::args::{random_pick_count, SYNTAX, WRONGTYPE};
use super::scan_options::{self, ScanOf};
use super::spec::flag_sets::{R, RF, WF, WM, WMF};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec, Routing};
use super::{read_value, reply_count, Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::{Args, Reply};
use crate::store::{initial_access, Kind, SetMember, SetValue, WrongType};

use algebra::{
    sdiff, sdiffstore, sinter, sintercard, sinterstore, sunion, sunionstore, SINTERCARD_KEYS,
};

const S: C = C::SET;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("sadd", sadd, -3, WMF.with(F::REPLAYABLE), "set", "Adds one or more members to a set. Creates the key if it doesn't exist.").keys(KeySpec::ONE).acl(S).event(N::SET, "sadd"),
    Cmd::new("srem", srem, -3, WF.with(F::REPLAYABLE), "set", "Removes one or more members from a set. Deletes the set if the last member was removed.").keys(KeySpec::ONE).acl(S),
    Cmd::new("smembers", smembers, 2, R, "set", "Returns all members of a set.").keys(KeySpec::ONE).acl(S),
    Cmd::new("sismember", sismember, 3, RF, "set", "Determines whether a member belongs to a set.").keys(KeySpec::ONE).acl(S),
    Cmd::new("smismember", smismember, -3, RF, "set", "Determines whether multiple members belong to a set.").keys(KeySpec::ONE).acl(S),
    Cmd::new("scard", scard, 2, RF, "set", "Returns the number of members in a set.").keys(KeySpec::ONE).acl(S),
    Cmd::new("spop", spop, -2, WF.with(F::REPLAYABLE), "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.").keys(KeySpec::ONE).acl(S),
    Cmd::new("srandmember", srandmember, -2, R, "set", "Get one or multiple random members from a set").keys(KeySpec::ONE).acl(S),
    Cmd::new("smove", smove, 4, WF.with(F::REPLAYABLE), "set", "Moves a member from one set to another.").keys(KeySpec::TWO).acl(S),
    Cmd::new("sinter", sinter, -2, R, "set", "Returns the intersect of multiple sets.").keys(KeySpec::ALL).acl(S).routing(Routing::Gather),
    Cmd::new("sintercard", sintercard, -3, R, "set", "Returns the number of members of the intersect of multiple sets.").keys(SINTERCARD_KEYS).acl(S).routing(Routing::Gather),
    Cmd::new("sinterstore", sinterstore, -3, WM, "set", "Stores the intersect of multiple sets in a key.").keys(KeySpec::ALL).acl(S),
    Cmd::new("sunion", sunion, -2, R, "set", "Returns the union of multiple sets.").keys(KeySpec::ALL).acl(S).routing(Routing::Gather),
    Cmd::new("sunionstore", sunionstore, -3, WM, "set", "Stores the union of multiple sets in a key.").keys(KeySpec::ALL).acl(S),
    Cmd::new("sdiff", sdiff, -2, R, "set", "Returns the difference of multiple sets.").keys(KeySpec::ALL).acl(S).routing(Routing::Gather),
    Cmd::new("sdiffstore", sdiffstore, -3, WM, "set", "Stores the difference of multiple sets in a key.").keys(KeySpec::ALL).acl(S),
    Cmd::new("sscan", sscan, -3, R, "set", "Iterates over members of a set.").keys(KeySpec::ONE).acl(S),
];

/// Writes one member as a bulk string.
fn member(reply: &mut Reply<'_>, m: SetMember<'_>) {
    match m {
        SetMember::Bytes(bytes) => reply.bulk(bytes),
        SetMember::Int(n) => reply.bulk_int(n),
    }
}

/// Writes `members` as a set (an array in RESP2).
fn member_set<'m>(reply: &mut Reply<'_>, members: impl ExactSizeIterator<Item = SetMember<'m>>) {
    reply.set(members.len());
    members.for_each(|m| member(reply, m));
}

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Ok(index) = lock.for_write::<SetValue>(key) else {
        return ctx.fail(WRONGTYPE);
    };
    let limits = lock.shard.encoding_limits();
    let hint = args.len() - 2;
    let added = lock.shard.with_mut(index, |set: &mut SetValue| {
        // Redis sizes a new set, or converts an existing one, for the
        // number of members named before adding any.
        if set.is_empty() {
            *set = SetValue::fresh(args.get(2), hint, &limits);
        } else {
            set.reserve(hint, &limits);
        }
        args.iter_from(2).filter(|m| set.add(m, &limits)).count()
    });
    match added {
        Some(n) => {
            ctx.reply.int(n as i64);
            if n > 0 {
                Outcome::Wrote
            } else {
                Outcome::Unchanged
            }
        }
        None => ctx.fail(WRONGTYPE),
    }
}

/// SREM key member [member ...]
pub fn srem(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Some(index) = lock.find(key) else {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    let removed = lock.shard.with_mut(index, |set: &mut SetValue| {
        args.iter_from(2).filter(|m| set.remove(m)).count()
    });
    match removed {
        Some(n) => {
            ctx.reply.int(n as i64);
            if n > 0 {
                ctx.notify_emptying(N::SET, "srem", key, || lock.peek(key).is_some());
                Outcome::Wrote
            } else {
                Outcome::Unchanged
            }
        }
        None => ctx.fail(WRONGTYPE),
    }
}

/// SMEMBERS key
pub fn smembers(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    match read_value::<SetValue, _>(ctx, args.get(1), |set, ctx| {
        member_set(&mut ctx.reply, set.iter());
    }) {
        Ok(Some(())) => {}
        Ok(None) => ctx.reply.set(0),
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}

/// SISMEMBER key member
pub fn sismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    reply_count::<SetValue>(ctx, args.get(1), |set| set.contains(args.get(2)) as i64)
}

/// SMISMEMBER key member [member ...]
pub fn smismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let result = read_value::<SetValue, _>(ctx, args.get(1), |set, ctx| {
        ctx.reply.array(args.len() - 2);
        for m in args.iter_from(2) {
            ctx.reply.int(i64::from(set.contains(m)));
        }
    });
    match result {
        Ok(Some(())) => {}
        Ok(None) => {
            ctx.reply.array(args.len() - 2);
            (2..args.len()).for_each(|_| ctx.reply.int(0));
        }
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}

/// SCARD key
pub fn scard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    reply_count::<SetValue>(ctx, args.get(1), |set| set.len() as i64)
}

/// SPOP key [count]: the count is checked first, then the key (a missing
/// key answers nil, or an empty set with a count), as in Redis.
pub fn spop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if args.len() > 3 {
        return ctx.fail(SYNTAX);
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
            Some(_) => ctx.reply.set(0),
            None => ctx.reply.null(),
        }
        return Outcome::Unchanged;
    };
    let Some(size) = lock.shard.typed::<SetValue>(index).map(|set| set.len()) else {
        return ctx.fail(WRONGTYPE);
    };
    let mut rng = fastrand::Rng::new();
    let limits = lock.shard.encoding_limits();
    match count {
        Some(0) => {
            ctx.reply.set(0);
            return Outcome::Unchanged;
        }
        Some(n) if n >= size => {
            // The whole set: reply with it and delete the key.
            if let Some(set) = lock.shard.typed::<SetValue>(index) {
                member_set(&mut ctx.reply, set.iter());
            }
            lock.unlink(key);
        }
        Some(n) => {
            let popped = lock
                .shard
                .with_mut(index, |set: &mut SetValue| {
                    set.pop_many(n, &limits, &mut rng)
                })
                .unwrap_or_default();
            ctx.reply.set(popped.len());
            popped.iter().for_each(|m| ctx.reply.bulk(m));
            rewrite_as_srem(ctx, key, popped.iter().map(|m| &m[..]));
        }
        None => {
            let popped = lock
                .shard
                .with_mut(index, |set: &mut SetValue| set.pop(&mut rng))
                .flatten();
            ctx.reply.opt_bulk(popped.as_deref());
            rewrite_as_srem(ctx, key, popped.as_deref());
        }
    }
    ctx.notify_emptying(N::SET, "spop", key, || lock.peek(key).is_some());
    Outcome::Wrote
}

/// SPOP's draw is random: a replica removes what it drew (SREM).
fn rewrite_as_srem<'m>(
    ctx: &mut Ctx<'_>,
    key: &'m [u8],
    members: impl IntoIterator<Item = &'m [u8]>,
) {
    if crate::store::versioning::armed() {
        let mut parts: Vec<&[u8]> = vec![b"SREM", key];
        parts.extend(members);
        super::effects::rewrite_as(ctx, &parts);
    }
}

/// SRANDMEMBER key [count]: a positive count picks distinct members (all
/// of them at most), a negative one picks with repeats.
pub fn srandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if args.len() > 3 {
        return ctx.fail(SYNTAX);
    }
    let count = match random_pick_count(args, None) {
        Ok(count) => count,
        Err(e) => return ctx.fail(e),
    };
    let result = read_value::<SetValue, _>(ctx, args.get(1), |set, ctx| {
        let mut rng = fastrand::Rng::new();
        let picks = match count {
            None => return member_opt(&mut ctx.reply, set.random(&mut rng)),
            Some(n) if n >= 0 => set.sample_distinct(n as usize, &mut rng),
            Some(n) => set.sample_repeated(n.unsigned_abs() as usize, &mut rng),
        };
        ctx.reply.array(picks.len());
        picks.into_iter().for_each(|m| member(&mut ctx.reply, m));
    });
    match result {
        Ok(Some(())) => {}
        Ok(None) if count.is_some() => ctx.reply.array(0),
        Ok(None) => ctx.reply.null(),
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}

fn member_opt(reply: &mut Reply<'_>, m: Option<SetMember<'_>>) {
    match m {
        Some(m) => member(reply, m),
        None => reply.null(),
    }
}

/// SMOVE source destination member: as Redis, a missing source answers 0
/// before the destination's type is looked at.
pub fn smove(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (src, dst, m) = (args.get(1), args.get(2), args.get(3));
    let mut locks = ctx.store.lock_keys([src, dst]);
    let (found, shard, _) = locks.find(src);
    let Some(src_index) = found else {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    let Some(is_member) = shard.typed::<SetValue>(src_index).map(|s| s.contains(m)) else {
        return ctx.fail(WRONGTYPE);
    };
    let (dst_found, shard, _) = locks.find(dst);
    if let Some(index) = dst_found {
        if shard.at(index).kind() != Kind::Set {
            return ctx.fail(WRONGTYPE);
        }
    }
    if src == dst || !is_member {
        ctx.reply.int(i64::from(src == dst && is_member));
        return Outcome::Unchanged;
    }
    let (shard, _) = locks.shard(src);
    shard.with_mut(src_index, |set: &mut SetValue| set.remove(m));
    ctx.notify_emptying(N::SET, "srem", src, || locks.find(src).0.is_some());
    let (now, policy) = (locks.now, locks.policy);
    let (found, shard, hash) = locks.find(dst);
    let index = found
        .unwrap_or_else(|| shard.insert_empty::<SetValue>(hash, dst, initial_access(policy, now)));
    let limits = shard.encoding_limits();
    let added = shard.with_mut(index, |set: &mut SetValue| {
        if set.is_empty() {
            *set = SetValue::fresh(m, 1, &limits);
        }
        set.add(m, &limits)
    });
    if added == Some(true) {
        ctx.notify(N::SET, "sadd", dst);
    }
    ctx.reply.int(1);
    Outcome::Wrote
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]: a compact set comes
/// whole in one call (cursor 0), a table about COUNT members a call.
///
/// As in Redis, the cursor is checked first, then the key (a missing key
/// is an empty scan, another type WRONGTYPE), then the options.
pub fn sscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(cursor) = super::keys::parse_cursor(args.get(2)) else {
        return ctx.fail("ERR invalid cursor");
    };
    let options = scan_options::parse(args, 3, ScanOf::Members);
    let result = read_value::<SetValue, _>(ctx, args.get(1), |set, ctx| {
        let options = match &options {
            Ok(o) => o,
            Err(e) => return ctx.fail(e),
        };
        let mut found: Vec<SetMember<'_>> = Vec::new();
        let next = set.scan(cursor, options.count, |m| {
            if m.with_bytes(|bytes| options.matches(bytes)) {
                found.push(m);
            }
        });
        ctx.reply.array(2);
        ctx.reply.bulk(itoa::Buffer::new().format(next).as_bytes());
        ctx.reply.array(found.len());
        found.into_iter().for_each(|m| member(&mut ctx.reply, m));
        Outcome::Unchanged
    });
    match result {
        Ok(Some(outcome)) => return outcome,
        Ok(None) => scan_options::reply_empty(&mut ctx.reply),
        Err(WrongType) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}
