//! String commands: GET, SET and its variants, counters, ranges.

use super::args::{is, parse_f64, parse_i64, NOT_FLOAT, NOT_INTEGER, OVERFLOW, SYNTAX, WRONGTYPE};
use super::expiry_args::{positive_expiry, stored, ExpireUnit};
use super::spec::flag_sets::{R, RF, WF, WM, WMF};
use super::spec::{Categories as C, CommandSpec as Cmd, KeySpec, Merge, Routing};
use super::{Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::reply::format_double;
use crate::protocol::Args;
use crate::store::{KeyLock, Kind, OwnedValue, ValueRef};

const S: C = C::STRING;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("get", get, 2, RF, "string", "Returns the string value of a key.").keys(KeySpec::ONE).acl(S),
    Cmd::new("set", set, -3, WM, "string", "Sets the string value of a key, ignoring its type.").keys(KeySpec::ONE).acl(S),
    Cmd::new("setnx", setnx, 3, WMF, "string", "Set the string value of a key only when the key doesn't exist.").keys(KeySpec::ONE).acl(S).event(N::STRING, "set"),
    Cmd::new("setex", setex, 4, WM, "string", "Sets the string value and expiration time of a key.").keys(KeySpec::ONE).acl(S),
    Cmd::new("psetex", psetex, 4, WM, "string", "Sets the string value and expiration time in milliseconds of a key.").keys(KeySpec::ONE).acl(S),
    Cmd::new("getset", getset, 3, WMF, "string", "Returns the previous string value of a key after setting it to a new value.").keys(KeySpec::ONE).acl(S).event(N::STRING, "set"),
    Cmd::new("getdel", getdel, 2, WF, "string", "Returns the string value of a key after deleting the key.").keys(KeySpec::ONE).acl(S),
    Cmd::new("getex", getex, -2, WF, "string", "Returns the string value of a key after setting its expiration time.").keys(KeySpec::ONE).acl(S),
    Cmd::new("mget", mget, -2, RF, "string", "Atomically returns the string values of one or more keys.").keys(KeySpec::ALL).acl(S).routing(Routing::Split(Merge::Values)),
    Cmd::new("mset", mset, -3, WM, "string", "Atomically creates or modifies the string values of one or more keys.").keys(KeySpec::PAIRS).acl(S).routing(Routing::Split(Merge::AllOk)).event(N::STRING, "set"),
    Cmd::new("msetnx", msetnx, -3, WM, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.").keys(KeySpec::PAIRS).acl(S).event(N::STRING, "set"),
    Cmd::new("incr", incr, 2, WMF, "string", "Increments the integer value of a key by one.").keys(KeySpec::ONE).acl(S).event(N::STRING, "incrby"),
    Cmd::new("decr", decr, 2, WMF, "string", "Decrements the integer value of a key by one.").keys(KeySpec::ONE).acl(S).event(N::STRING, "incrby"),
    Cmd::new("incrby", incrby, 3, WMF, "string", "Increments the integer value of a key by a number.").keys(KeySpec::ONE).acl(S).event(N::STRING, "incrby"),
    Cmd::new("decrby", decrby, 3, WMF, "string", "Decrements a number from the integer value of a key.").keys(KeySpec::ONE).acl(S).event(N::STRING, "incrby"),
    Cmd::new("incrbyfloat", incrbyfloat, 3, WMF, "string", "Increment the floating point value of a key by a number.").keys(KeySpec::ONE).acl(S).event(N::STRING, "incrbyfloat"),
    Cmd::new("append", append, 3, WMF, "string", "Appends a string to the value of a key.").keys(KeySpec::ONE).acl(S).event(N::STRING, "append"),
    Cmd::new("strlen", strlen, 2, RF, "string", "Returns the length of a string value.").keys(KeySpec::ONE).acl(S),
    Cmd::new("getrange", getrange, 4, R, "string", "Returns a substring of the string stored at a key.").keys(KeySpec::ONE).acl(S),
    Cmd::new("substr", getrange, 4, R, "string", "Returns a substring from a string value.").keys(KeySpec::ONE).acl(S),
    Cmd::new("setrange", setrange, 4, WM, "string", "Overwrites a part of a string value with another by an offset.").keys(KeySpec::ONE).acl(S).event(N::STRING, "setrange"),
];

const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// GET key
pub fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    match lock.read(key).map(|i| lock.shard.value(i)) {
        None => ctx.reply.null(),
        Some(ValueRef::Str(v)) => ctx.reply.bulk(v),
        Some(_) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}

/// How SET treats an existing key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition<'a> {
    Always,
    IfAbsent,
    IfPresent,
    /// IFEQ (Redis 8.4): only if the current string value is exactly this;
    /// a missing key is equal to nothing.
    IfEqual(&'a [u8]),
    /// IFNE (Redis 8.4): only if the current value is not this (or missing).
    IfNotEqual(&'a [u8]),
}

/// The expiry option of SET or GETEX as written. The amount stays
/// unparsed until every option is read, as in Redis: a syntax error
/// anywhere wins over a bad number, and a repeated option replaces the
/// earlier one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expiry<'a> {
    /// No expiry option: SET clears the TTL, GETEX leaves it.
    Unset,
    /// SET KEEPTTL.
    Keep,
    /// GETEX PERSIST.
    Persist,
    /// EX, PX, EXAT or PXAT with its amount.
    At(ExpireUnit, &'a [u8]),
}

/// Which command's options `parse_options` accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionsOf {
    Set,
    GetEx,
}

struct StringOptions<'a> {
    condition: Condition<'a>,
    get: bool,
    expiry: Expiry<'a>,
}

/// Parses the options of SET (from `args[3]`) or GETEX (from `args[2]`)
/// with Redis's rules: NX/XX exclude each other, one expiry kind at most
/// (the same one may repeat), KEEPTTL only for SET, PERSIST only for GETEX.
fn parse_options(args: Args<'_>, of: OptionsOf) -> Result<StringOptions<'_>, &'static str> {
    let mut options = StringOptions {
        condition: Condition::Always,
        get: false,
        expiry: Expiry::Unset,
    };
    let set = of == OptionsOf::Set;
    let mut i = if set { 3 } else { 2 };
    while i < args.len() {
        let arg = args.get(i);
        let expiry = options.expiry;
        if set
            && is(arg, "nx")
            && matches!(options.condition, Condition::Always | Condition::IfAbsent)
        {
            options.condition = Condition::IfAbsent;
        } else if set
            && is(arg, "xx")
            && matches!(options.condition, Condition::Always | Condition::IfPresent)
        {
            options.condition = Condition::IfPresent;
        } else if set
            && (is(arg, "ifeq") || is(arg, "ifne"))
            && options.condition == Condition::Always
            && args.try_get(i + 1).is_some()
        {
            let compared = args.get(i + 1);
            options.condition = if is(arg, "ifeq") {
                Condition::IfEqual(compared)
            } else {
                Condition::IfNotEqual(compared)
            };
            i += 1;
        } else if set && is(arg, "get") {
            options.get = true;
        } else if set && is(arg, "keepttl") && matches!(expiry, Expiry::Unset | Expiry::Keep) {
            options.expiry = Expiry::Keep;
        } else if !set && is(arg, "persist") && matches!(expiry, Expiry::Unset | Expiry::Persist) {
            options.expiry = Expiry::Persist;
        } else if let (Some(unit), Some(amount)) =
            (ExpireUnit::from_option(arg), args.try_get(i + 1))
        {
            if !matches!(expiry, Expiry::Unset) && !matches!(expiry, Expiry::At(u, _) if u == unit)
            {
                return Err(SYNTAX);
            }
            options.expiry = Expiry::At(unit, amount);
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    Ok(options)
}

/// SET key value [NX | XX | IFEQ v | IFNE v] [GET] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL]
pub fn set(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (key, value) = (args.get(1), args.get(2));
    if args.len() == 3 {
        // The hot path: no options, no lookup beyond the insert's own.
        ctx.store.lock(key).put_string(key, value, None);
        ctx.reply.ok();
        ctx.notify(N::STRING, "set", key);
        return Outcome::Wrote;
    }
    let options = match parse_options(args, OptionsOf::Set) {
        Ok(o) => o,
        Err(e) => return ctx.fail(e),
    };
    let mut lock = ctx.store.lock(key);
    let new_expiry = match options.expiry {
        Expiry::At(unit, amount) => match positive_expiry(unit, amount, lock.now, "set") {
            Ok(at) => Some(at),
            Err(e) => return ctx.fail(&e),
        },
        Expiry::Unset | Expiry::Keep | Expiry::Persist => None,
    };
    let existing = lock.find(key);
    let old_ttl = existing.and_then(|i| lock.shard.at(i).expire_at());
    let current = existing.map(|i| lock.shard.value(i));
    let compares = matches!(
        options.condition,
        Condition::IfEqual(_) | Condition::IfNotEqual(_)
    );
    if compares && current.as_ref().is_some_and(|v| v.kind() != Kind::String) {
        return ctx.fail(WRONGTYPE);
    }
    let current = match current {
        Some(ValueRef::Str(v)) => Some(v),
        _ => None,
    };
    let allowed = match options.condition {
        Condition::Always => true,
        Condition::IfAbsent => existing.is_none(),
        Condition::IfPresent => existing.is_some(),
        Condition::IfEqual(expected) => current == Some(expected),
        Condition::IfNotEqual(expected) => current != Some(expected),
    };
    if options.get {
        match existing.map(|i| lock.shard.value(i)) {
            Some(ValueRef::Str(v)) => ctx.reply.bulk(v),
            None => ctx.reply.null(),
            Some(_) => return ctx.fail(WRONGTYPE),
        }
    }
    if allowed {
        let expire = match (options.expiry, new_expiry) {
            (Expiry::Keep, _) => old_ttl,
            (_, at) => at.map(stored),
        };
        if expire.is_some_and(|at| at <= lock.now) {
            // EXAT/PXAT in the past: the write happens and expires at once.
            lock.remove(key);
        } else {
            lock.put_string(key, value, expire);
        }
        drop(lock);
        ctx.notify(N::STRING, "set", key);
        if new_expiry.is_some() {
            ctx.notify(N::GENERIC, "expire", key);
        }
    }
    if !options.get {
        if allowed {
            ctx.reply.ok();
        } else {
            ctx.reply.null();
        }
    }
    if allowed {
        Outcome::Wrote
    } else {
        Outcome::Unchanged
    }
}

/// SETNX key value
pub fn setnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    if lock.peek(key).is_some() {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    }
    lock.put_string(key, args.get(2), None);
    ctx.reply.int(1);
    Outcome::Wrote
}

fn set_with_ttl(ctx: &mut Ctx<'_>, args: Args<'_>, unit: ExpireUnit, command: &str) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let at = match positive_expiry(unit, args.get(2), lock.now, command) {
        Ok(at) => at,
        Err(e) => return ctx.fail(&e),
    };
    lock.put_string(key, args.get(3), Some(stored(at)));
    ctx.reply.ok();
    ctx.notify(N::STRING, "set", key);
    ctx.notify(N::GENERIC, "expire", key);
    Outcome::Wrote
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    set_with_ttl(ctx, args, ExpireUnit::Seconds, "setex")
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    set_with_ttl(ctx, args, ExpireUnit::Millis, "psetex")
}

/// GETSET key value
pub fn getset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    match lock.find(key).map(|i| lock.shard.value(i)) {
        Some(ValueRef::Str(v)) => ctx.reply.bulk(v),
        None => ctx.reply.null(),
        Some(_) => return ctx.fail(WRONGTYPE),
    }
    lock.put_string(key, args.get(2), None);
    Outcome::Wrote
}

/// GETDEL key
pub fn getdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Some(index) = lock.read(key) else {
        ctx.reply.null();
        return Outcome::Unchanged;
    };
    match lock.shard.value(index) {
        ValueRef::Str(v) => {
            ctx.reply.bulk(v);
            lock.shard.remove_at(index);
            ctx.notify(N::GENERIC, "del", key);
            Outcome::Wrote
        }
        _ => ctx.fail(WRONGTYPE),
    }
}

/// GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]
///
/// As in Redis, options are checked for syntax first, then the key (a
/// missing key answers nil, a hash WRONGTYPE), and only then the amount.
pub fn getex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let options = match parse_options(args, OptionsOf::GetEx) {
        Ok(o) => o,
        Err(e) => return ctx.fail(e),
    };
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Some(index) = lock.read(key) else {
        ctx.reply.null();
        return Outcome::Unchanged;
    };
    if lock.shard.at(index).kind() != Kind::String {
        return ctx.fail(WRONGTYPE);
    }
    // None: leave the TTL; Some(None): persist; Some(Some(at)): expire at.
    let change: Option<Option<i64>> = match options.expiry {
        Expiry::Unset | Expiry::Keep => None,
        Expiry::Persist => Some(None),
        Expiry::At(unit, amount) => match positive_expiry(unit, amount, lock.now, "getex") {
            Ok(at) => Some(Some(at)),
            Err(e) => return ctx.fail(&e),
        },
    };
    if let ValueRef::Str(v) = lock.shard.value(index) {
        ctx.reply.bulk(v);
    }
    match change {
        None => return Outcome::Unchanged,
        Some(Some(at)) if stored(at) <= lock.now => {
            lock.shard.remove_at(index);
            ctx.notify(N::GENERIC, "del", key);
        }
        Some(Some(at)) => {
            lock.shard.set_expire_at(index, Some(stored(at)));
            ctx.notify(N::GENERIC, "expire", key);
        }
        Some(None) => {
            if lock.shard.at(index).expire_at().is_some() {
                lock.shard.set_expire_at(index, None);
                ctx.notify(N::GENERIC, "persist", key);
            }
        }
    }
    Outcome::Wrote
}

/// MGET key [key ...]
pub fn mget(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    ctx.reply.array(args.len() - 1);
    for key in args.iter_from(1) {
        let mut lock = ctx.store.lock(key);
        match lock.read(key).map(|i| lock.shard.value(i)) {
            Some(ValueRef::Str(v)) => ctx.reply.bulk(v),
            _ => ctx.reply.null(),
        }
    }
    Outcome::Unchanged
}

fn mset_pairs(args: Args<'_>) -> Option<impl Iterator<Item = (&[u8], &[u8])>> {
    if args.len().is_multiple_of(2) {
        return None;
    }
    Some(
        (1..args.len())
            .step_by(2)
            .map(move |i| (args.get(i), args.get(i + 1))),
    )
}

/// MSET key value [key value ...]: atomic, all shards locked together.
pub fn mset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(pairs) = mset_pairs(args) else {
        return ctx.fail(&super::wrong_arity("mset"));
    };
    let mut locks = ctx.store.lock_keys(args.iter_from(1).step_by(2));
    for (key, value) in pairs {
        locks.put(key, OwnedValue::Str(value.to_vec()), None);
    }
    ctx.reply.ok();
    Outcome::Wrote
}

/// MSETNX key value [key value ...]: sets all or none.
pub fn msetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(pairs) = mset_pairs(args) else {
        return ctx.fail(&super::wrong_arity("msetnx"));
    };
    let mut locks = ctx.store.lock_keys(args.iter_from(1).step_by(2));
    let now = locks.now;
    let any_exists = args.iter_from(1).step_by(2).any(|key| {
        let (shard, hash) = locks.shard(key);
        shard.find(hash, key, now).is_some()
    });
    if any_exists {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    }
    for (key, value) in pairs {
        locks.put(key, OwnedValue::Str(value.to_vec()), None);
    }
    ctx.reply.int(1);
    Outcome::Wrote
}

/// The number held at `found` (zero when absent), or the error to reply.
fn number_at<T: Default>(
    lock: &KeyLock<'_>,
    found: Option<usize>,
    parse: fn(&[u8]) -> Option<T>,
    not_number: &'static str,
) -> Result<T, &'static str> {
    match found.map(|i| lock.shard.value(i)) {
        None => Ok(T::default()),
        Some(ValueRef::Str(v)) => parse(v).ok_or(not_number),
        Some(_) => Err(WRONGTYPE),
    }
}

/// Applies an integer increment, keeping the TTL.
fn increment(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> Outcome {
    let mut lock = ctx.store.lock(key);
    let found = lock.find(key);
    let current = match number_at(&lock, found, parse_i64, NOT_INTEGER) {
        Ok(n) => n,
        Err(e) => return ctx.fail(e),
    };
    let Some(next) = current.checked_add(delta) else {
        return ctx.fail(OVERFLOW);
    };
    let mut digits = itoa::Buffer::new();
    lock.rewrite_string(found, key, digits.format(next).as_bytes());
    ctx.reply.int(next);
    Outcome::Wrote
}

/// INCR key
pub fn incr(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    increment(ctx, args.get(1), 1)
}

/// DECR key
pub fn decr(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    increment(ctx, args.get(1), -1)
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    match parse_i64(args.get(2)) {
        Some(delta) => increment(ctx, args.get(1), delta),
        None => ctx.fail(NOT_INTEGER),
    }
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    match parse_i64(args.get(2)) {
        Some(i64::MIN) => ctx.fail("ERR decrement would overflow"),
        Some(delta) => increment(ctx, args.get(1), -delta),
        None => ctx.fail(NOT_INTEGER),
    }
}

/// INCRBYFLOAT key increment
///
/// As in Redis, the key's type is checked first, then its value, and only
/// then the increment (HINCRBYFLOAT checks the increment first).
pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let found = lock.find(key);
    let current = match number_at(&lock, found, parse_f64, NOT_FLOAT) {
        Ok(n) => n,
        Err(e) => return ctx.fail(e),
    };
    let Some(delta) = parse_f64(args.get(2)) else {
        return ctx.fail(NOT_FLOAT);
    };
    let next = current + delta;
    if !next.is_finite() {
        return ctx.fail("ERR increment would produce NaN or Infinity");
    }
    let text = format_double(next);
    lock.rewrite_string(found, key, text.as_bytes());
    ctx.reply.bulk(text.as_bytes());
    Outcome::Wrote
}

/// Largest string a command may build (the configured bulk limit).
fn max_string(ctx: &Ctx<'_>) -> u64 {
    ctx.node.config.read().proto_max_bulk_len
}

/// APPEND key value: the value grows in place with spare room (see
/// `Shard::append_at`), so the cost follows the bytes appended.
pub fn append(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (key, tail) = (args.get(1), args.get(2));
    let limit = max_string(ctx);
    let mut lock = ctx.store.lock(key);
    let Some(index) = lock.find(key) else {
        lock.put_string(key, tail, None);
        ctx.reply.int(tail.len() as i64);
        return Outcome::Wrote;
    };
    let len = match lock.shard.value(index) {
        ValueRef::Str(v) => v.len(),
        _ => return ctx.fail(WRONGTYPE),
    };
    if (len + tail.len()) as u64 > limit {
        return ctx.fail(TOO_BIG);
    }
    let len = lock.shard.append_at(index, tail);
    ctx.reply.int(len as i64);
    Outcome::Wrote
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    match lock.read(key).map(|i| lock.shard.value(i)) {
        None => ctx.reply.int(0),
        Some(ValueRef::Str(v)) => ctx.reply.int(v.len() as i64),
        Some(_) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}

/// The byte range Redis's GETRANGE selects for `start..=end` (negative
/// counts from the end) in a string of `len` bytes.
pub fn range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return None;
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if start > end {
        return None;
    }
    Some((start as usize, end as usize + 1))
}

/// GETRANGE key start end
pub fn getrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (Some(start), Some(end)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.fail(NOT_INTEGER);
    };
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    match lock.read(key).map(|i| lock.shard.value(i)) {
        None => ctx.reply.bulk(b""),
        Some(ValueRef::Str(v)) => match range(start, end, v.len()) {
            Some((from, to)) => ctx.reply.bulk(&v[from..to]),
            None => ctx.reply.bulk(b""),
        },
        Some(_) => return ctx.fail(WRONGTYPE),
    }
    Outcome::Unchanged
}

/// SETRANGE key offset value: in place when the value does not grow,
/// otherwise growing with spare room as APPEND does.
pub fn setrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(offset) = parse_i64(args.get(2)) else {
        return ctx.fail(NOT_INTEGER);
    };
    if offset < 0 {
        return ctx.fail("ERR offset is out of range");
    }
    let (key, patch) = (args.get(1), args.get(3));
    let offset = offset as u64;
    let limit = max_string(ctx);
    let mut lock = ctx.store.lock(key);
    let found = lock.find(key);
    let len = match found.map(|i| lock.shard.value(i)) {
        Some(ValueRef::Str(v)) => v.len(),
        None => 0,
        Some(_) => return ctx.fail(WRONGTYPE),
    };
    if patch.is_empty() {
        ctx.reply.int(len as i64);
        return Outcome::Unchanged;
    }
    if offset + patch.len() as u64 > limit {
        return ctx.fail(TOO_BIG);
    }
    let offset = offset as usize;
    let len = match found {
        Some(index) => lock.shard.set_range_at(index, offset, patch),
        None => {
            let mut value = vec![0; offset + patch.len()];
            value[offset..].copy_from_slice(patch);
            let access = lock.new_access();
            lock.shard.insert_built(lock.hash, key, value, access);
            offset + patch.len()
        }
    };
    ctx.reply.int(len as i64);
    Outcome::Wrote
}

#[cfg(test)]
mod tests {
    use super::range;

    #[test]
    fn getrange_like_redis() {
        // "This is a string"
        assert_eq!(range(0, 3, 16), Some((0, 4)));
        assert_eq!(range(-3, -1, 16), Some((13, 16)));
        assert_eq!(range(0, -1, 16), Some((0, 16)));
        assert_eq!(range(10, 100, 16), Some((10, 16)));
        assert_eq!(range(5, 3, 16), None);
        assert_eq!(range(-1, -5, 16), None);
        assert_eq!(range(0, 0, 0), None);
    }
}
