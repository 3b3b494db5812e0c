//! Keyspace commands: deletion, existence, renaming, TTLs, iteration.

use std::sync::Arc;

use bytes::BytesMut;

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX};
use super::databases::{database_index, SAME_OBJECT};
use super::expiry_args::{absolute_ms, stored, ExpireUnit};
use super::scan_options::{self, ScanOf, ScanOptions};
use super::spec::flag_sets::{R, RF, W, WF};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec, Merge, Routing};
use super::{keyless, Ctx, Outcome};
use crate::glob::Pattern;
use crate::notify::Classes as N;
use crate::protocol::reply::c_string;
use crate::protocol::{Args, Reply};
use crate::store::{Entry, SlotSet, Store};

const K: C = C::KEYSPACE;
const KD: C = C::KEYSPACE.with(C::DANGEROUS);

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("del", del, -2, W, "generic", "Deletes one or more keys.").keys(KeySpec::ALL).acl(K).routing(Routing::Split(Merge::Sum)),
    Cmd::new("unlink", del, -2, WF, "generic", "Asynchronously deletes one or more keys.").keys(KeySpec::ALL).acl(K).routing(Routing::Split(Merge::Sum)),
    Cmd::new("exists", exists, -2, RF, "generic", "Determines whether one or more keys exist.").keys(KeySpec::ALL).acl(K).routing(Routing::Split(Merge::Sum)),
    Cmd::new("touch", touch, -2, RF, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.").keys(KeySpec::ALL).acl(K).routing(Routing::Split(Merge::Sum)),
    Cmd::new("type", key_type, 2, RF, "generic", "Determines the type of value stored at a key.").keys(KeySpec::ONE).acl(K),
    Cmd::new("rename", rename, 3, W, "generic", "Renames a key and overwrites the destination.").keys(KeySpec::TWO).acl(K),
    Cmd::new("renamenx", renamenx, 3, WF, "generic", "Renames a key only when the target key name doesn't exist.").keys(KeySpec::TWO).acl(K),
    Cmd::new("copy", copy, -3, W.with(F::DENYOOM), "generic", "Copies the value of a key to a new key.").keys(KeySpec::TWO).acl(K),
    Cmd::new("expire", expire, -3, WF.with(F::REPLAYABLE), "generic", "Sets the expiration time of a key in seconds.").keys(KeySpec::ONE).acl(K),
    Cmd::new("pexpire", pexpire, -3, WF.with(F::REPLAYABLE), "generic", "Sets the expiration time of a key in milliseconds.").keys(KeySpec::ONE).acl(K),
    Cmd::new("expireat", expireat, -3, WF.with(F::REPLAYABLE), "generic", "Sets the expiration time of a key to a Unix timestamp.").keys(KeySpec::ONE).acl(K),
    Cmd::new("pexpireat", pexpireat, -3, WF.with(F::REPLAYABLE), "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.").keys(KeySpec::ONE).acl(K),
    Cmd::new("ttl", ttl, 2, RF, "generic", "Returns the expiration time in seconds of a key.").keys(KeySpec::ONE).acl(K),
    Cmd::new("pttl", pttl, 2, RF, "generic", "Returns the expiration time in milliseconds of a key.").keys(KeySpec::ONE).acl(K),
    Cmd::new("expiretime", expiretime, 2, RF, "generic", "Returns the expiration time of a key as a Unix timestamp.").keys(KeySpec::ONE).acl(K),
    Cmd::new("pexpiretime", pexpiretime, 2, RF, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.").keys(KeySpec::ONE).acl(K),
    Cmd::new("persist", persist, 2, WF.with(F::REPLAYABLE), "generic", "Removes the expiration time of a key.").keys(KeySpec::ONE).acl(K).event(N::GENERIC, "persist"),
    Cmd::new("keys", keys, 2, R, "generic", "Returns all key names that match a pattern.").acl(KD).routing(Routing::Keyless),
    Cmd::new("scan", scan, -2, R, "generic", "Iterates over the key names in the database.").acl(K).routing(Routing::Keyless),
    Cmd::new("randomkey", randomkey, 1, R, "generic", "Returns a random key name from the database.").acl(K).routing(Routing::Keyless),
];

/// DEL key [key ...] and UNLINK: the keys go at once; a large value (a
/// hash of more than 64 fields, a string over 1 MiB) is freed on the
/// lazyfree thread.
pub fn del(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let mut removed = 0;
    for key in args.iter_from(1) {
        if ctx.store.lock(key).unlink(key) {
            removed += 1;
            ctx.notify(N::GENERIC, "del", key);
        }
    }
    ctx.reply.int(removed);
    if removed > 0 {
        Outcome::Wrote
    } else {
        Outcome::Unchanged
    }
}

/// EXISTS key [key ...]: counts repeats, as Redis.
pub fn exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    count_live(ctx, args, false)
}

/// TOUCH key [key ...]
pub fn touch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    count_live(ctx, args, true)
}

/// Replies how many of the request's keys are live; `touch` counts each
/// as an access (for LRU/LFU), EXISTS does not. Both are reads (keyspace
/// hits and misses), as in Redis.
fn count_live(ctx: &mut Ctx<'_>, args: Args<'_>, touch: bool) -> Outcome {
    let mut found = 0;
    for key in args.iter_from(1) {
        let mut lock = ctx.store.lock(key);
        let live = if touch {
            lock.read_touching(key)
        } else {
            lock.read_untouched(key)
        };
        found += i64::from(live.is_some());
    }
    ctx.reply.int(found);
    Outcome::Unchanged
}

/// TYPE key
pub fn key_type(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let name = lock
        .read_untouched(key)
        .map_or("none", |i| lock.shard.at(i).kind().name());
    ctx.reply.simple(name);
    Outcome::Unchanged
}

/// Moves `src` to `dst`; `only_if_absent` for RENAMENX. Both shards are
/// locked together so no reader sees the key in neither place.
fn rename_key(ctx: &mut Ctx<'_>, args: Args<'_>, only_if_absent: bool) -> Outcome {
    let (src, dst) = (args.get(1), args.get(2));
    let mut locks = ctx.store.lock_keys([src, dst]);
    let now = locks.now;
    let (found, _, _) = locks.find(src);
    if found.is_none() {
        return ctx.fail("ERR no such key");
    }
    if src == dst {
        if only_if_absent {
            ctx.reply.int(0);
        } else {
            ctx.reply.ok();
        }
        return Outcome::Unchanged;
    }
    if only_if_absent {
        let (shard, hash) = locks.shard(dst);
        if shard.find(hash, dst, now).is_some() {
            ctx.reply.int(0);
            return Outcome::Unchanged;
        }
    }
    let (shard, hash) = locks.shard(src);
    let Some(index) = shard.find(hash, src, now) else {
        return ctx.fail("ERR no such key");
    };
    let (value, expire) = shard.remove_at(index);
    locks.put(dst, value, expire);
    drop(locks);
    ctx.added(dst);
    ctx.notify(N::GENERIC, "rename_from", src);
    ctx.notify(N::GENERIC, "rename_to", dst);
    if only_if_absent {
        ctx.reply.int(1);
    } else {
        ctx.reply.ok();
    }
    Outcome::Wrote
}

/// RENAME key newkey
pub fn rename(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    rename_key(ctx, args, false)
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    rename_key(ctx, args, true)
}

/// COPY source destination [DB 0] [REPLACE]
pub fn copy(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let mut replace = false;
    let mut db = ctx.store.db();
    let mut i = 3;
    while i < args.len() {
        let arg = args.get(i);
        if is(arg, "replace") {
            replace = true;
        } else if is(arg, "db") && i + 1 < args.len() {
            db = match database_index(ctx, args.get(i + 1), NOT_INTEGER) {
                Ok(db) => db,
                Err(error) => return ctx.fail(error),
            };
            i += 1;
        } else {
            return ctx.fail(SYNTAX);
        }
        i += 1;
    }
    let (src, dst) = (args.get(1), args.get(2));
    if db != ctx.store.db() {
        if ctx.cluster.is_some() {
            return ctx.fail("ERR Copying to another database is not allowed in cluster mode");
        }
        return copy_across(ctx, src, dst, db, replace);
    }
    if src == dst {
        return ctx.fail(SAME_OBJECT);
    }
    let mut locks = ctx.store.lock_keys([src, dst]);
    let now = locks.now;
    let (found, shard, _) = locks.find(src);
    let Some(index) = found else {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    let expire = shard.at(index).expire_at();
    let value = shard.value(index).to_owned_value();
    let (dst_shard, dst_hash) = locks.shard(dst);
    if !replace && dst_shard.find(dst_hash, dst, now).is_some() {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    }
    locks.put(dst, value, expire);
    drop(locks);
    ctx.added(dst);
    ctx.notify(N::GENERIC, "copy_to", dst);
    ctx.reply.int(1);
    Outcome::WroteKey(2)
}

/// COPY source destination DB db, to another database.
fn copy_across(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], db: usize, replace: bool) -> Outcome {
    let (mut here, mut there) = ctx.store.lock_across(src, db, dst);
    let Some(index) = here.find(src) else {
        drop((here, there));
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    if !replace && there.peek(dst).is_some() {
        drop((here, there));
        ctx.reply.int(0);
        return Outcome::Unchanged;
    }
    let expire_at = here.shard.at(index).expire_at();
    let value = here.shard.value(index).to_owned_value();
    there.put(dst, value, expire_at);
    drop((here, there));
    // The command's outcome covers the keys in this database.
    ctx.node.watches.touch(db, dst);
    ctx.node.blocking.key_ready(db, dst);
    // Added even over a replaced key, as Redis announces it.
    ctx.notify_in(db, N::NEW, "new", dst);
    ctx.notify_in(db, N::GENERIC, "copy_to", dst);
    ctx.reply.int(1);
    Outcome::Wrote
}

/// EXPIRE's NX / XX / GT / LT options. Redis checks each one given, so
/// XX combines with GT or LT (XX LT on a key without TTL does nothing).
#[derive(Clone, Copy, Default)]
struct ExpireIf {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireIf {
    /// True if an expiry at `at` may replace `current` (None: no TTL,
    /// which counts as infinite for GT and LT).
    fn allows(self, at: i64, current: Option<u64>) -> bool {
        let current = current.map(|c| c as i64);
        let refused = (self.nx && current.is_some())
            || (self.xx && current.is_none())
            || (self.gt && current.is_none_or(|c| at <= c))
            || (self.lt && current.is_some_and(|c| at >= c));
        !refused
    }
}

/// The options of EXPIRE and friends; the error as bytes (an unknown
/// option is quoted as it came, up to a NUL).
fn parse_expire_condition(args: Args<'_>) -> Result<ExpireIf, Vec<u8>> {
    let mut when = ExpireIf::default();
    for arg in args.iter_from(3) {
        if is(arg, "nx") {
            when.nx = true;
        } else if is(arg, "xx") {
            when.xx = true;
        } else if is(arg, "gt") {
            when.gt = true;
        } else if is(arg, "lt") {
            when.lt = true;
        } else {
            // Redis formats this error with `%s` and trims line ends off
            // its end.
            let quoted = c_string(arg);
            let end = quoted
                .iter()
                .rposition(|&b| b != b'\r' && b != b'\n')
                .map_or(0, |i| i + 1);
            return Err([&b"ERR Unsupported option "[..], &quoted[..end]].concat());
        }
    }
    if when.nx && (when.xx || when.gt || when.lt) {
        return Err(
            b"ERR NX and XX, GT or LT options at the same time are not compatible".to_vec(),
        );
    }
    if when.gt && when.lt {
        return Err(b"ERR GT and LT options at the same time are not compatible".to_vec());
    }
    Ok(when)
}

fn expire_generic(ctx: &mut Ctx<'_>, args: Args<'_>, unit: ExpireUnit, command: &str) -> Outcome {
    // Redis checks the options before the amount.
    let condition = match parse_expire_condition(args) {
        Ok(c) => c,
        Err(e) => {
            ctx.reply.error_bytes(&e);
            return Outcome::Failed;
        }
    };
    let Some(amount) = parse_i64(args.get(2)) else {
        return ctx.fail(NOT_INTEGER);
    };
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Some(at) = absolute_ms(unit, amount, lock.now) else {
        return ctx.fail(&super::args::invalid_expire(command));
    };
    let Some(index) = lock.peek(key) else {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    if !condition.allows(at, lock.shard.at(index).expire_at()) {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    }
    if at <= lock.now as i64 {
        lock.shard.remove_at(index);
        ctx.notify(N::GENERIC, "del", key);
    } else {
        lock.shard.set_expire_at(index, Some(stored(at)));
        drop(lock);
        // What a replica runs: the expiry this node decided, absolute.
        let mut digits = itoa::Buffer::new();
        super::effects::rewrite_as(
            ctx,
            &[b"PEXPIREAT", key, digits.format(stored(at)).as_bytes()],
        );
        ctx.notify(N::GENERIC, "expire", key);
    }
    ctx.reply.int(1);
    Outcome::Wrote
}

/// EXPIRE key seconds [NX | XX | GT | LT]
pub fn expire(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    expire_generic(ctx, args, ExpireUnit::Seconds, "expire")
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
pub fn pexpire(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    expire_generic(ctx, args, ExpireUnit::Millis, "pexpire")
}

/// EXPIREAT key unix-seconds [NX | XX | GT | LT]
pub fn expireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    expire_generic(ctx, args, ExpireUnit::UnixSeconds, "expireat")
}

/// PEXPIREAT key unix-ms [NX | XX | GT | LT]
pub fn pexpireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    expire_generic(ctx, args, ExpireUnit::UnixMillis, "pexpireat")
}

/// The expiry of `key`: Err(-2) when missing, Err(-1) without TTL.
fn expiry_of(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<(u64, u64), i64> {
    let mut lock = ctx.store.lock(key);
    let index = lock.peek(key).ok_or(-2)?;
    let at = lock.shard.at(index).expire_at().ok_or(-1)?;
    Ok((at, lock.now))
}

/// TTL key
pub fn ttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let n = match expiry_of(ctx, args.get(1)) {
        Ok((at, now)) => ((at.saturating_sub(now) + 500) / 1000) as i64,
        Err(code) => code,
    };
    ctx.reply.int(n);
    Outcome::Unchanged
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let n = match expiry_of(ctx, args.get(1)) {
        Ok((at, now)) => at.saturating_sub(now) as i64,
        Err(code) => code,
    };
    ctx.reply.int(n);
    Outcome::Unchanged
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let n = match expiry_of(ctx, args.get(1)) {
        // Rounded to the nearest second, as Redis (and TTL) do; `at` is at
        // most i64::MAX, so adding 500 cannot overflow a u64.
        Ok((at, _)) => ((at + 500) / 1000) as i64,
        Err(code) => code,
    };
    ctx.reply.int(n);
    Outcome::Unchanged
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let n = match expiry_of(ctx, args.get(1)) {
        Ok((at, _)) => at as i64,
        Err(code) => code,
    };
    ctx.reply.int(n);
    Outcome::Unchanged
}

/// PERSIST key
pub fn persist(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let key = args.get(1);
    let mut lock = ctx.store.lock(key);
    let Some(index) = lock.peek(key) else {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    };
    if lock.shard.at(index).expire_at().is_none() {
        ctx.reply.int(0);
        return Outcome::Unchanged;
    }
    lock.shard.set_expire_at(index, None);
    ctx.reply.int(1);
    Outcome::Wrote
}

/// KEYS pattern: one shard at a time, the reply deferred until the walk ends
/// (on a cluster node, the keys of the slots it is primary for).
pub fn keys(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if ctx.atomic {
        // Inside a transaction the node serves nobody else anyway.
        return keys_at_once(ctx, args);
    }
    let pattern = args.get(1).to_vec();
    let store = ctx.store.clone();
    let resp3 = ctx.reply.resp3();
    let own = ctx.own_slots();
    if let Some(ring) = keyless::ring(ctx) {
        let mine = matching_keys(store, pattern, own);
        return keyless::keys(ctx, &ring, args.get(1), mine);
    }
    // The walk holds one shard's lock at a time and yields between shards,
    // so the worker serves other clients while a KEYS goes over millions
    // of keys (Redis stalls every client for the whole walk).
    ctx.defer(async move {
        let pattern = Pattern::new(&pattern);
        let mut count = 0;
        let mut pieces = Vec::with_capacity(store.shard_count());
        for shard in 0..store.shard_count() {
            let keys = store.keys_in_shard_of(shard, &pattern, own.as_deref());
            count += keys.len();
            let mut piece = BytesMut::with_capacity(keys.iter().map(|k| k.len() + 16).sum());
            let mut reply = Reply::new(&mut piece, resp3);
            for key in &keys {
                reply.bulk(key);
            }
            pieces.push(piece);
            tokio::task::yield_now().await;
        }
        // One shard's piece at a time, so even the copy of a reply of tens
        // of megabytes into one buffer never holds the worker for long.
        let mut out = BytesMut::with_capacity(pieces.iter().map(BytesMut::len).sum::<usize>() + 16);
        Reply::new(&mut out, resp3).array(count);
        for piece in pieces {
            out.extend_from_slice(&piece);
            drop(piece);
            tokio::task::yield_now().await;
        }
        out.freeze()
    });
    Outcome::Unchanged
}

/// The keys `pattern` matches (of the slots in `own`), one shard at a
/// time, yielding between shards.
async fn matching_keys(store: Store, pattern: Vec<u8>, own: Option<Arc<SlotSet>>) -> Vec<Vec<u8>> {
    let pattern = Pattern::new(&pattern);
    let mut keys = Vec::new();
    for shard in 0..store.shard_count() {
        keys.extend(store.keys_in_shard_of(shard, &pattern, own.as_deref()));
        tokio::task::yield_now().await;
    }
    keys
}

/// KEYS pattern in one go (inside EXEC).
fn keys_at_once(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let pattern = Pattern::new(args.get(1));
    let own = ctx.own_slots();
    let keys: Vec<Vec<u8>> = (0..ctx.store.shard_count())
        .flat_map(|shard| ctx.store.keys_in_shard_of(shard, &pattern, own.as_deref()))
        .collect();
    ctx.reply.array(keys.len());
    for key in &keys {
        ctx.reply.bulk(key);
    }
    Outcome::Unchanged
}

/// Parses a SCAN or HSCAN cursor as Redis 7 does (`strtoul` over the
/// whole argument): an optional sign and decimal digits, a negative value
/// wrapping around (`-1` is the largest cursor), the empty string as 0, no
/// leading space, nothing past the digits but a NUL (the C string ends
/// there), and no value beyond 64 bits.
pub fn parse_cursor(text: &[u8]) -> Option<u64> {
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    if text.is_empty() {
        return Some(0);
    }
    let (negative, digits) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] (on a cluster
/// node, the keys of the slots it is primary for, its cursor a narrow one;
/// cluster-wide, see `keyless`)
pub fn scan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(cursor) = parse_cursor(args.get(1)) else {
        return ctx.fail("ERR invalid cursor");
    };
    let options = match scan_options::parse(args, 2, ScanOf::Keys) {
        Ok(options) => options,
        Err(error) => return ctx.fail(error),
    };
    let (cursor, ring) = match keyless::ring(ctx) {
        Some(ring) if ring.nodes.len() > keyless::SCAN_MAX_NODES => {
            return ctx.fail("ERR a cluster-wide SCAN walks at most 256 nodes");
        }
        Some(ring) => {
            let (node, at) = keyless::scan_position(cursor, &ring);
            if ring.nodes.get(node).is_some_and(|n| !n.here) {
                let rest: Vec<&[u8]> = args.iter_from(2).collect();
                return keyless::scan_there(ctx, &ring, node, at, &rest);
            }
            (at, Some((ring, node)))
        }
        None => (cursor, None),
    };
    let (next, found) = scan_here(ctx, cursor, &options);
    let next = match &ring {
        Some((ring, node)) => keyless::scan_cursor(*node, next, ring),
        None => next,
    };
    keyless::write_scan(&mut ctx.reply, next, &found);
    Outcome::Unchanged
}

/// One SCAN step over this node's keys: the next cursor and the keys
/// found. A cluster node's cursor is a narrow one, so that a cluster-wide
/// cursor can hold it.
fn scan_here(ctx: &Ctx<'_>, cursor: u64, options: &ScanOptions<'_>) -> (u64, Vec<Vec<u8>>) {
    let mut found: Vec<Vec<u8>> = Vec::new();
    let own = ctx.own_slots();
    let visit = |entry: &Entry| {
        let type_ok = options
            .type_name
            .is_none_or(|t| t.eq_ignore_ascii_case(entry.kind().name().as_bytes()));
        let key = entry.key();
        if type_ok && options.matches(key) && own.as_deref().is_none_or(|set| set.has_key(key)) {
            found.push(key.to_vec());
        }
    };
    let next = if ctx.cluster.is_some() {
        ctx.store.scan_narrow(cursor, options.count, visit)
    } else {
        ctx.store.scan(cursor, options.count, visit)
    };
    (next, found)
}

/// RANDOMKEY (on a cluster node, of the slots it is primary for; with
/// `cluster-keyless-scope cluster`, of the whole cluster)
pub fn randomkey(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let own = ctx.own_slots();
    let key = ctx.store.random_key_of(own.as_deref());
    if let Some(ring) = keyless::ring(ctx) {
        let count = super::databases::own_count(ctx);
        return keyless::randomkey(ctx, &ring, (count, key));
    }
    ctx.reply.opt_bulk(key.as_deref());
    Outcome::Unchanged
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursors_parse_like_redis_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"17"), Some(17));
        assert_eq!(parse_cursor(b"007"), Some(7));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"-18446744073709551615"), Some(1));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"5\0junk"), Some(5));
        let overflow = ["18446744073709551616", "-18446744073709551616"];
        let junk = [" 1", "1 ", "x", "-", "+", "0x10", "1.5"];
        for text in overflow.iter().chain(&junk) {
            assert_eq!(parse_cursor(text.as_bytes()), None, "{text:?}");
        }
    }
}
