//! The lease commands (`RC.LEASE.GET`, `RC.LEASE.FILL`,
//! `RC.LEASE.RELEASE`) over the node's lease table (`crate::leases`): one
//! caller per missing key loads it, the others wait for its fill, and a
//! fill after a newer write or delete of the key is refused.
//!
//! Replies, chosen so that RESP2 and RESP3 clients tell them apart without
//! a schema: `RC.LEASE.GET` answers the value (a bulk string) when the key
//! holds one; on a miss an integer, the caller's lease token; `-LEASEWAIT
//! <ms>` while another caller's lease has that many milliseconds left; and
//! a nil when the lease table is full (load without a lease). Waiting is
//! the client's (it asks again after a short pause), or, with `BLOCK ms`
//! (as XREAD's: 0 waits for ever), the node's: the caller is parked like a
//! BLPOP client (`crate::blocking`) and answered when the key is written
//! (the fill: its value), when the lease is released or ends unfilled (a
//! new lease for the first caller to look again; the others wait on for
//! its fill), or with `-LEASEWAIT <ms>` when its time is up. A request
//! that may not park (inside MULTI or a script, or forwarded by another
//! node, whose link carries other clients' requests) answers at once.

use std::time::{Duration, Instant};

use super::args::{invalid_expire, parse_i64, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::expiry_args::{positive_expiry, stored, ExpireUnit};
use super::spec::flag_sets::{WF, WMF};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec};
use super::{Ctx, Outcome};
use crate::blocking::{Block, TimeoutReply};
use crate::leases::Grant;
use crate::notify::Classes as N;
use crate::protocol::Args;
use crate::store::{KeyLock, ValueRef};

const S: C = C::STRING;
/// Takes or ends a lease: fenced by the lease table itself, not by the
/// pipeline's invalidation before writes.
const LEASE: F = WF.with(F::LEASES);
/// A fill: may grow memory.
const FILL: F = WMF.with(F::LEASES);

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("rc.lease.get", lease_get, -3, LEASE, "string", "Returns the string value of a key, or on a miss a lease to fill it (one caller per key; the others are told to wait, or with BLOCK wait for the fill).").keys(KeySpec::ONE).acl(S),
    Cmd::new("rc.lease.fill", lease_fill, -4, FILL, "string", "Sets a missing key with the token of its lease, unless the key was written, deleted or flushed since the lease was given.").keys(KeySpec::ONE).acl(S),
    Cmd::new("rc.lease.release", lease_release, 3, LEASE, "string", "Gives a lease back unfilled (the loader failed), so another caller may take it at once.").keys(KeySpec::ONE).acl(S),
];

/// The error telling a caller that another caller's lease of the key has
/// `ms` milliseconds left.
pub fn lease_wait(ms: u64) -> String {
    format!("LEASEWAIT {}", ms.max(1))
}

/// Redis's errors for a BLOCK timeout (XREAD's).
const BLOCK_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";
const BLOCK_NEGATIVE: &str = "ERR timeout is negative";

/// The `BLOCK ms` option after `key ttl-ms`: `None` without it,
/// `Some(None)` to wait for ever (0).
fn parse_block(args: Args<'_>) -> Result<Option<Option<Duration>>, &'static str> {
    match args.len() {
        3 => Ok(None),
        5 if args.get(3).eq_ignore_ascii_case(b"block") => match parse_i64(args.get(4)) {
            Some(ms) if ms < 0 => Err(BLOCK_NEGATIVE),
            Some(ms) => Ok(Some((ms > 0).then(|| Duration::from_millis(ms as u64)))),
            None => Err(BLOCK_NOT_INTEGER),
        },
        _ => Err(SYNTAX),
    }
}

/// RC.LEASE.GET key ttl-ms [BLOCK ms]
pub fn lease_get(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let ttl = match parse_i64(args.get(2)) {
        Some(ttl) if ttl > 0 => ttl as u64,
        Some(_) => return ctx.fail(&invalid_expire("rc.lease.get")),
        None => return ctx.fail(NOT_INTEGER),
    };
    let block = match parse_block(args) {
        Ok(block) => block,
        Err(e) => return ctx.fail(e),
    };
    let db = ctx.store.db();
    let mut lock = ctx.store.lock(key);
    match lock.read(key).map(|i| lock.shard.value(i)) {
        Some(ValueRef::Str(value)) => {
            ctx.reply.bulk(value);
            return Outcome::Unchanged;
        }
        Some(_) => return ctx.fail(WRONGTYPE),
        None => {}
    }
    // Under the shard lock: no write of the key comes between the miss
    // and the grant.
    let grant = ctx.node.leases.acquire(db, key, ttl, lock.now);
    match grant {
        Grant::Token(token) => ctx.reply.int(token as i64),
        Grant::Wait(ms) => match block {
            Some(timeout) if !ctx.atomic && ctx.session.may_block() => {
                park(ctx, lock, key, timeout, ms);
            }
            _ => return ctx.fail(&lease_wait(ms)),
        },
        Grant::Full => ctx.reply.null(),
    }
    Outcome::Unchanged
}

/// Parks the caller on `key` (queued while `lock` still holds it, so no
/// fill slips in between) until the key is written or the lease ends,
/// `left_ms` from now, or `timeout` passes. A woken request that waits
/// again keeps its place and first deadline, and looks again when the new
/// lease would end.
fn park(ctx: &mut Ctx<'_>, lock: KeyLock<'_>, key: &[u8], timeout: Option<Duration>, left_ms: u64) {
    let registration = (!ctx.session.woken).then(|| {
        ctx.node
            .blocking
            .register(ctx.session.handle.id, ctx.store.db(), [key])
    });
    drop(lock);
    let now = Instant::now();
    ctx.block = Some(Block {
        registration,
        deadline: super::lists_blocking::deadline(timeout),
        on_timeout: TimeoutReply::LeaseWait,
        recheck: now.checked_add(Duration::from_millis(left_ms)),
    });
}

/// RC.LEASE.FILL key token value [EX s | PX ms | EXAT t | PXAT t]
pub fn lease_fill(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (key, value) = (args.get(1), args.get(3));
    let expiry = match args.len() {
        4 => None,
        6 => match ExpireUnit::from_option(args.get(4)) {
            Some(unit) => Some((unit, args.get(5))),
            None => return ctx.fail(SYNTAX),
        },
        _ => return ctx.fail(SYNTAX),
    };
    let Some(token) = parse_i64(args.get(2)) else {
        return ctx.fail(NOT_INTEGER);
    };
    let db = ctx.store.db();
    let mut lock = ctx.store.lock(key);
    let expire_at = match expiry {
        Some((unit, amount)) => match positive_expiry(unit, amount, lock.now, "rc.lease.fill") {
            Ok(at) => Some(stored(at)),
            Err(e) => return ctx.fail(&e),
        },
        None => None,
    };
    let live = token > 0 && ctx.node.leases.take(db, key, token as u64, lock.now);
    // Only a missing key is filled: a write since the grant ended the
    // lease, and a key created meanwhile is newer than the loader's read.
    if !live || lock.peek(key).is_some() {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    }
    if expire_at.is_some_and(|at| at <= lock.now) {
        // EXAT/PXAT in the past: written and expired at once, as SET.
        lock.remove(key);
    } else {
        lock.put_string(key, value, expire_at);
    }
    drop(lock);
    ctx.reply.int(1);
    ctx.notify(N::STRING, "set", key);
    if expire_at.is_some() {
        ctx.notify(N::GENERIC, "expire", key);
    }
    Outcome::Wrote
}

/// RC.LEASE.RELEASE key token
pub fn lease_release(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let Some(token) = parse_i64(args.get(2)) else {
        return ctx.fail(NOT_INTEGER);
    };
    let db = ctx.store.db();
    let now = ctx.store.now();
    let released = token > 0 && ctx.node.leases.take(db, key, token as u64, now);
    if released {
        // The first caller parked on the key takes the lease now.
        ctx.node.blocking.key_ready(db, key);
    }
    ctx.reply.int(i64::from(released));
    Outcome::Unchanged
}
