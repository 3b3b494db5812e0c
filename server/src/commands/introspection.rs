//! Introspection of keys: MEMORY USAGE and OBJECT (ENCODING, FREQ,
//! IDLETIME, REFCOUNT); MEMORY STATS and DOCTOR are in `memory_report`.

use super::args::{parse_i64, NOT_INTEGER, SYNTAX};
use super::spec::flag_sets::R;
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec, Routing};
use super::subcommands::SubSpec as Sub;
use super::{Ctx, Outcome};
use crate::protocol::Args;
use crate::store::{lfu_counter, lru_idle_ms, ValueRef};

/// The key after the subcommand's name.
const KEY: KeySpec = KeySpec::Range {
    first: 2,
    last: 2,
    step: 1,
};
const K: C = C::KEYSPACE;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("memory", super::container, -2, F::NONE, "server", "A container for memory diagnostics commands.").routing(Routing::ThisNode).subcommands(&[
        Sub::new("doctor", super::memory_report::doctor, 2, F::NONE, &["DOCTOR", "    Return memory problems reports."]),
        Sub::new("stats", super::memory_report::stats, 2, F::NONE, &["STATS", "    Return information about the memory usage of the server."]),
        Sub::new("usage", usage, -3, R, &["USAGE <key> [SAMPLES <count>]", "    Return memory in bytes used by <key> and its value."]).keys(KEY),
    ]),
    Cmd::new("object", super::container, -2, F::NONE, "generic", "A container for object introspection commands.").routing(Routing::ThisNode).subcommands(&[
        Sub::new("encoding", object, 3, R, &["ENCODING <key>", "    Return the kind of internal representation used in order to store the value associated with a <key>."]).keys(KEY).acl(K),
        Sub::new("freq", object, 3, R, &["FREQ <key>", "    Return the access frequency index of the <key>."]).keys(KEY).acl(K),
        Sub::new("idletime", object, 3, R, &["IDLETIME <key>", "    Return the idle time of the <key>."]).keys(KEY).acl(K),
        Sub::new("refcount", object, 3, R, &["REFCOUNT <key>", "    Return the reference count of the object stored at <key>."]).keys(KEY).acl(K),
    ]),
];

/// MEMORY USAGE key [SAMPLES count]
fn usage(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    match args.len() {
        3 => {}
        5 if !args.get(3).eq_ignore_ascii_case(b"samples") => return ctx.fail(SYNTAX),
        5 if parse_i64(args.get(4)).is_none() => return ctx.fail(NOT_INTEGER),
        5 => {}
        _ => return ctx.fail(SYNTAX),
    }
    let key = args.get(2);
    let mut lock = ctx.store.lock(key);
    match lock.peek(key) {
        Some(i) => ctx.reply.int(lock.shard.usage_at(i) as i64),
        None => ctx.reply.null(),
    }
    Outcome::Unchanged
}

/// The encoding Redis would report for a value.
fn encoding(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Str(v) if v.len() <= 20 && parse_i64(v).is_some() => "int",
        ValueRef::Str(v) if v.len() <= 44 => "embstr",
        ValueRef::Str(_) => "raw",
        ValueRef::Hash(v) => v.encoding(),
        ValueRef::List(v) => v.encoding(),
        ValueRef::Set(v) => v.encoding(),
        ValueRef::ZSet(v) => v.encoding(),
    }
}

/// OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT key
fn object(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let sub = args.get(1);
    let key = args.get(2);
    let mut lock = ctx.store.lock(key);
    let Some(index) = lock.peek(key) else {
        ctx.reply.null();
        return Outcome::Unchanged;
    };
    let (now, policy) = (lock.now, lock.policy);
    let entry = lock.shard.at(index);
    if sub.eq_ignore_ascii_case(b"encoding") {
        let name = encoding(lock.shard.value(index));
        ctx.reply.bulk(name.as_bytes());
    } else if sub.eq_ignore_ascii_case(b"refcount") {
        ctx.reply.int(1);
    } else if sub.eq_ignore_ascii_case(b"freq") {
        if !policy.is_lfu() {
            return ctx.fail("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        ctx.reply.int(i64::from(lfu_counter(entry.access(), now)));
    } else {
        if policy.is_lfu() {
            return ctx.fail("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        ctx.reply
            .int((lru_idle_ms(entry.access(), now) / 1000) as i64);
    }
    Outcome::Unchanged
}
