//! The numbered databases: SELECT, SWAPDB, MOVE, DBSIZE, FLUSHDB and
//! FLUSHALL. A standalone node has `databases` of them (16 by default); a
//! cluster node serves database 0 only, as Redis Cluster does.

use std::sync::atomic::Ordering;

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX};
use super::spec::flag_sets::{RF, W, WF};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec, Routing};
use super::{keyless, Ctx, Outcome};
use crate::notify::Classes as N;
use crate::protocol::Args;

/// Redis's error for a database index it does not have.
pub const OUT_OF_RANGE: &str = "ERR DB index is out of range";
/// Redis's error when the source and the destination are one key.
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";

const K: C = C::KEYSPACE;
const KD: C = C::KEYSPACE.with(C::DANGEROUS);

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("select", select, 2, F::LOADING.with(F::STALE).with(F::FAST), "connection", "Changes the selected database.").acl(C::CONNECTION),
    Cmd::new("swapdb", swapdb, 3, WF, "server", "Swaps two Redis databases.").acl(KD).routing(Routing::ThisNode),
    Cmd::new("move", move_key, 3, WF, "generic", "Moves a key to another database.").keys(KeySpec::ONE).acl(K),
    Cmd::new("dbsize", dbsize, 1, RF, "server", "Returns the number of keys in the database.").acl(K).routing(Routing::Keyless),
    Cmd::new("flushdb", flushdb, -1, W, "server", "Remove all keys from the current database.").acl(KD).routing(Routing::Keyless),
    Cmd::new("flushall", flushall, -1, W, "server", "Removes all keys from all databases.").acl(KD).routing(Routing::Keyless),
];

/// The database `arg` names, if this node has it: `Err` is the reply
/// error (`not_integer` when it is not a number).
pub fn database_index(
    ctx: &Ctx<'_>,
    arg: &[u8],
    not_integer: &'static str,
) -> Result<usize, &'static str> {
    let index = parse_i64(arg).ok_or(not_integer)?;
    usize::try_from(index)
        .ok()
        .filter(|&db| db < ctx.node.databases.len())
        .ok_or(OUT_OF_RANGE)
}

/// SELECT index
fn select(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let requested = parse_i64(args.get(1));
    if ctx.cluster.is_some() && requested.is_some_and(|db| db != 0) {
        return ctx.fail("ERR SELECT is not allowed in cluster mode");
    }
    match database_index(ctx, args.get(1), NOT_INTEGER) {
        Ok(db) => {
            switch_to(ctx, db);
            ctx.reply.ok();
            Outcome::Unchanged
        }
        Err(error) => ctx.fail(error),
    }
}

/// Makes `db` the session's database (SELECT, RESET).
pub fn switch_to(ctx: &mut Ctx<'_>, db: usize) {
    ctx.session.db = db;
    ctx.session.handle.db.store(db as u64, Ordering::Relaxed);
    let node = ctx.node;
    ctx.store = node.database(db, ctx.session.no_touch);
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if ctx.cluster.is_some() {
        return ctx.fail("ERR SWAPDB is not allowed in cluster mode");
    }
    let first = match database_index(ctx, args.get(1), "ERR invalid first DB index") {
        Ok(db) => db,
        Err(error) => return ctx.fail(error),
    };
    let second = match database_index(ctx, args.get(2), "ERR invalid second DB index") {
        Ok(db) => db,
        Err(error) => return ctx.fail(error),
    };
    ctx.store.swap_databases(first, second);
    ctx.node.blocking.databases_swapped(first, second);
    ctx.reply.ok();
    Outcome::Flushed
}

/// MOVE key db: 1 if moved, 0 if the key is missing here or present there.
fn move_key(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if ctx.cluster.is_some() {
        return ctx.fail("ERR MOVE is not allowed in cluster mode");
    }
    let db = match database_index(ctx, args.get(2), NOT_INTEGER) {
        Ok(db) => db,
        Err(error) => return ctx.fail(error),
    };
    if db == ctx.store.db() {
        return ctx.fail(SAME_OBJECT);
    }
    let key = args.get(1);
    let (mut here, mut there) = ctx.store.lock_across(key, db, key);
    let moved = match (here.find(key), there.peek(key)) {
        (Some(index), None) => {
            let access = here.shard.at(index).access();
            let (value, expire_at) = here.shard.remove_at(index);
            there
                .shard
                .put(there.hash, key, value, expire_at, access, there.now);
            true
        }
        _ => false,
    };
    drop((here, there));
    ctx.reply.int(i64::from(moved));
    if moved {
        // The command's outcome covers the key in this database.
        ctx.node.watches.touch(db, key);
        ctx.node.blocking.key_ready(db, key);
        // The key is new in `db` (it was absent there), as Redis's dbAdd
        // announces it.
        ctx.notify_in(db, N::NEW, "new", key);
        ctx.notify(N::GENERIC, "move_from", key);
        ctx.notify_in(db, N::GENERIC, "move_to", key);
        Outcome::Wrote
    } else {
        Outcome::Unchanged
    }
}

/// DBSIZE: on a cluster node, the keys of the slots it is primary for,
/// summed from the store's per-slot counts (no walk).
fn dbsize(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let keys = own_count(ctx);
    if let Some(ring) = keyless::ring(ctx) {
        return keyless::dbsize(ctx, &ring, keys);
    }
    ctx.reply.int(keys as i64);
    Outcome::Unchanged
}

/// The keys this node answers for: all of them, or on a cluster node the
/// keys of the slots it is primary for.
pub fn own_count(ctx: &Ctx<'_>) -> u64 {
    match (ctx.own_slots(), ctx.store.slot_counts()) {
        (None, _) => ctx.store.len() as u64,
        (Some(own), Some(counts)) => counts.sum(&own, true).0,
        // A store without counts (none on a cluster node's own database):
        // walk it.
        (Some(own), None) => ctx.store.find_keys(0, |key| own.has_key(key)).0 as u64,
    }
}

/// The ASYNC / SYNC option of FLUSHDB and FLUSHALL: Some(asynchronously).
fn flush_mode(args: Args<'_>) -> Option<bool> {
    match args.try_get(1) {
        None => Some(false),
        Some(a) if args.len() == 2 && is(a, "async") => Some(true),
        Some(a) if args.len() == 2 && is(a, "sync") => Some(false),
        Some(_) => None,
    }
}

/// FLUSHDB [ASYNC | SYNC]
fn flushdb(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(asynchronously) = flush_mode(args) else {
        return ctx.fail(SYNTAX);
    };
    ctx.store.flush(asynchronously);
    if let Some(ring) = keyless::ring(ctx) {
        return keyless::flush(ctx, &ring, &args.iter_from(0).collect::<Vec<_>>());
    }
    ctx.reply.ok();
    Outcome::Flushed
}

/// FLUSHALL [ASYNC | SYNC]
fn flushall(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(asynchronously) = flush_mode(args) else {
        return ctx.fail(SYNTAX);
    };
    ctx.store.flush_all(asynchronously);
    if let Some(ring) = keyless::ring(ctx) {
        return keyless::flush(ctx, &ring, &args.iter_from(0).collect::<Vec<_>>());
    }
    ctx.reply.ok();
    Outcome::Flushed
}
