//! The blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP):
//! served at once like their non-blocking forms when a key has elements,
//! otherwise the client is queued on the keys ([`crate::blocking`]) and
//! parked by its connection, which runs the request again when a key may
//! be ready. A woken request waits on where a first run would fail (a key
//! that now holds another type), as Redis leaves such a client blocked.

use std::time::{Duration, Instant};

use super::args::{parse_f64, SYNTAX, WRONGTYPE};
use super::lists::{parse_end, ALL_BUT_LAST};
use super::lists_multi::{
    move_element, numkeys_positions, parse_mpop, pop_first, reply_moved, Moved, Popped,
};
use super::spec::flag_sets::{W, WM};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec};
use super::{Ctx, Outcome};
use crate::blocking::{would_block, Block, TimeoutReply};
use crate::protocol::Args;
use crate::store::{End, MultiLock};

const L: C = C::LIST;
/// Blocking writes, refused in scripts (BLPOP, BRPOP).
const WB: F = W.with(F::BLOCKING).with(F::NOSCRIPT);
/// Blocking writes that may grow memory, refused in scripts (BLMOVE,
/// BRPOPLPUSH).
const WMB: F = WM.with(F::BLOCKING).with(F::NOSCRIPT);

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("blpop", blpop, -3, WB.with(F::REPLAYABLE), "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.").keys(ALL_BUT_LAST).acl(L),
    Cmd::new("brpop", brpop, -3, WB.with(F::REPLAYABLE), "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.").keys(ALL_BUT_LAST).acl(L),
    Cmd::new("blmove", blmove, 6, WMB.with(F::REPLAYABLE), "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.").keys(KeySpec::TWO).acl(L),
    Cmd::new("brpoplpush", brpoplpush, 4, WMB.with(F::REPLAYABLE), "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.").keys(KeySpec::TWO).acl(L),
    Cmd::new("blmpop", blmpop, -5, W.with(F::BLOCKING).with(F::REPLAYABLE), "list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.").keys(BLMPOP_KEYS).acl(L),
];

/// BLMPOP's keys: `numkeys` at argument 2, the keys after it.
const BLMPOP_KEYS: KeySpec = KeySpec::Find {
    find: blmpop_keys,
    first: 0,
    last: 0,
    step: 0,
};

fn blmpop_keys(args: Args<'_>) -> Vec<usize> {
    numkeys_positions(args, 2)
}

/// Redis's error for a timeout that is not a number.
const NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
/// Redis's error for a negative timeout.
const NEGATIVE: &str = "ERR timeout is negative";

/// A timeout in seconds, as Redis 7.0 reads it: a float, multiplied to
/// milliseconds and truncated (so anything under 1 ms is 0, "for ever");
/// infinities and values beyond the range of milliseconds in an i64 come
/// out negative, as C's conversion makes them. `None` waits for ever.
pub(super) fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, &'static str> {
    let seconds = parse_f64(arg).ok_or(NOT_FLOAT)?;
    let ms = seconds * 1000.0;
    // 2^63: beyond it no i64 holds the milliseconds.
    const I64_RANGE: f64 = 9_223_372_036_854_775_808.0;
    if !(ms > -I64_RANGE && ms < I64_RANGE) {
        return Err(NEGATIVE);
    }
    let ms = ms as i64;
    if ms < 0 {
        return Err(NEGATIVE);
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// Timeouts longer than this wait for ever (the runtime's timers reach
/// about two years).
const LONGEST_TIMEOUT: Duration = Duration::from_secs(600 * 86_400);

/// The deadline of a timeout starting now; none for ever.
pub(super) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout
        .filter(|t| *t <= LONGEST_TIMEOUT)
        .and_then(|t| Instant::now().checked_add(t))
}

/// Nothing to serve: parks the client on `keys` until `deadline`, queued
/// while `lock` still holds the keys so that no push slips in between; or,
/// where blocking is not allowed, answers `denied` at once (Redis 7.0: a
/// null of the command's shape; a timeout later is a null array for every
/// list command, BLMOVE's too). A request another node forwarded gets
/// [`would_block`]: that node parks its client.
pub(super) fn block<'k>(
    ctx: &mut Ctx<'_>,
    lock: MultiLock<'_>,
    keys: impl IntoIterator<Item = &'k [u8]>,
    timeout: Option<Duration>,
    denied: TimeoutReply,
) -> Outcome {
    // Inside a transaction (EXEC, or RCEXEC from another node) a blocking
    // command never blocks, as in Redis.
    if ctx.atomic {
        drop(lock);
        match denied {
            TimeoutReply::NullArray => ctx.reply.null_array(),
            // The list commands deny with one of the two nulls only.
            TimeoutReply::NullBulk | TimeoutReply::LeaseWait => ctx.reply.null(),
        }
        return Outcome::Unchanged;
    }
    if !ctx.session.may_block() {
        drop(lock);
        ctx.reply.error(&would_block(timeout));
        return Outcome::Unchanged;
    }
    let registration = (!ctx.session.woken).then(|| {
        ctx.node
            .blocking
            .register(ctx.session.handle.id, ctx.store.db(), keys)
    });
    drop(lock);
    ctx.block = Some(Block {
        registration,
        deadline: deadline(timeout),
        on_timeout: TimeoutReply::NullArray,
        recheck: None,
    });
    Outcome::Unchanged
}

fn bpop(ctx: &mut Ctx<'_>, args: Args<'_>, end: End) -> Outcome {
    let timeout = match parse_timeout(args.get(args.len() - 1)) {
        Ok(timeout) => timeout,
        Err(e) => return ctx.fail(e),
    };
    let positions: Vec<usize> = (1..args.len() - 1).collect();
    let store = ctx.store;
    let mut lock = store.lock_keys(positions.iter().map(|&p| args.get(p)));
    let lenient = ctx.session.woken;
    match pop_first(ctx, &mut lock, args, &positions, end, None, lenient) {
        Popped::From(at) => Outcome::WroteKey(at),
        Popped::WrongType => ctx.fail(WRONGTYPE),
        Popped::Nothing => {
            let keys = positions.iter().map(|&p| args.get(p));
            block(ctx, lock, keys, timeout, TimeoutReply::NullArray)
        }
    }
}

/// BLPOP key [key ...] timeout
pub fn blpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    bpop(ctx, args, End::Front)
}

/// BRPOP key [key ...] timeout
pub fn brpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    bpop(ctx, args, End::Back)
}

fn bmove(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    ends: (End, End),
    timeout: Option<Duration>,
) -> Outcome {
    let keys = (args.get(1), args.get(2));
    let store = ctx.store;
    let mut lock = store.lock_keys([keys.0, keys.1]);
    match move_element(&mut lock, keys, ends, ctx.session.woken) {
        Moved::Nothing => block(ctx, lock, [keys.0], timeout, TimeoutReply::NullBulk),
        moved => {
            drop(lock);
            if matches!(moved, Moved::Element { .. }) {
                // What a replica runs: the move without the wait.
                match args.len() {
                    6 => super::effects::rewrite_as(
                        ctx,
                        &[b"LMOVE", keys.0, keys.1, args.get(3), args.get(4)],
                    ),
                    _ => super::effects::rewrite_as(ctx, &[b"RPOPLPUSH", keys.0, keys.1]),
                }
            }
            reply_moved(ctx, moved, keys, ends)
        }
    }
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (Some(from), Some(to)) = (parse_end(args.get(3)), parse_end(args.get(4))) else {
        return ctx.fail(SYNTAX);
    };
    match parse_timeout(args.get(5)) {
        Ok(timeout) => bmove(ctx, args, (from, to), timeout),
        Err(e) => ctx.fail(e),
    }
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    match parse_timeout(args.get(3)) {
        Ok(timeout) => bmove(ctx, args, (End::Back, End::Front), timeout),
        Err(e) => ctx.fail(e),
    }
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    // As Redis 7.0: the keys, direction and count first, then the timeout.
    let mpop = match parse_mpop(args, 2) {
        Ok(mpop) => mpop,
        Err(e) => return ctx.fail(e),
    };
    let timeout = match parse_timeout(args.get(1)) {
        Ok(timeout) => timeout,
        Err(e) => return ctx.fail(e),
    };
    let positions: Vec<usize> = mpop.keys.collect();
    let store = ctx.store;
    let mut lock = store.lock_keys(positions.iter().map(|&p| args.get(p)));
    let lenient = ctx.session.woken;
    match pop_first(
        ctx,
        &mut lock,
        args,
        &positions,
        mpop.end,
        Some(mpop.count),
        lenient,
    ) {
        Popped::From(at) => Outcome::WroteKey(at),
        Popped::WrongType => ctx.fail(WRONGTYPE),
        Popped::Nothing => {
            let keys = positions.iter().map(|&p| args.get(p));
            block(ctx, lock, keys, timeout, TimeoutReply::NullArray)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_redis_reads_them() {
        let ms = |t: &str| parse_timeout(t.as_bytes()).map(|d| d.map(|d| d.as_millis()));
        assert_eq!(ms("0"), Ok(None));
        assert_eq!(ms("1.5"), Ok(Some(1500)));
        assert_eq!(ms("0.0001"), Ok(None), "under a millisecond: for ever");
        assert_eq!(ms("-0.0001"), Ok(None));
        assert_eq!(ms("1e-5"), Ok(None));
        // (Redis's long double still holds 9223372036854775 s in an i64 of
        // milliseconds; a double rounds it up to 2^63.)
        assert!(matches!(ms("9223372036854774"), Ok(Some(n)) if n > 9_000_000_000_000_000_000));
        for negative in ["-1", "inf", "-inf", "+inf", "1e20", "9223372036854776"] {
            assert_eq!(ms(negative), Err(NEGATIVE), "{negative}");
        }
        for bad in ["", " 1", "1.5abc", "nan", "x"] {
            assert_eq!(ms(bad), Err(NOT_FLOAT), "{bad}");
        }
        assert_eq!(
            deadline(Some(Duration::from_millis(9_223_372_036_854_775_000))),
            None
        );
    }
}
