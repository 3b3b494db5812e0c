//! COMMAND: the command table as clients read it (COUNT, LIST, INFO, DOCS,
//! GETKEYS), in Redis 7's reply formats. Cluster clients (redis-py's
//! `RedisCluster` among them) learn key positions here.

use super::args::is;
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec};
use super::{Ctx, Outcome};
use crate::protocol::Args;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("command", command, -1, F::LOADING.with(F::STALE), "server", "Returns detailed information about all commands.").acl(C::CONNECTION),
];

/// COMMAND INFO's ten fields for one command: name, arity, flags, first
/// key, last key, step, ACL categories, tips, key specs, subcommands.
fn write_info(ctx: &mut Ctx<'_>, spec: &Cmd) {
    ctx.reply.array(10);
    ctx.reply.bulk(spec.name.as_bytes());
    ctx.reply.int(i64::from(spec.arity));
    let mut flags: Vec<&str> = spec.flags.names().collect();
    if spec.keys.is_movable() {
        flags.push("movablekeys");
    }
    ctx.reply.set(flags.len());
    for flag in flags {
        ctx.reply.simple(flag);
    }
    let (first, last, step) = spec.keys.triple();
    ctx.reply.int(i64::from(first));
    ctx.reply.int(i64::from(last));
    ctx.reply.int(i64::from(step));
    let categories: Vec<&str> = spec.categories().names().collect();
    ctx.reply.set(categories.len());
    for category in categories {
        ctx.reply.simple(&format!("@{category}"));
    }
    ctx.reply.array(0);
    ctx.reply.array(0);
    ctx.reply.array(0);
}

fn write_docs(ctx: &mut Ctx<'_>, spec: &Cmd) {
    ctx.reply.bulk(spec.name.as_bytes());
    ctx.reply.map(3);
    ctx.reply.bulk(b"summary");
    ctx.reply.bulk(spec.summary.as_bytes());
    ctx.reply.bulk(b"since");
    ctx.reply.bulk(b"1.0.0");
    ctx.reply.bulk(b"group");
    ctx.reply.bulk(spec.group.as_bytes());
}

/// COMMAND GETKEYS command arg...: the keys of that request, as the
/// table's key spec finds them.
fn getkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let request = args.slice_from(2);
    let Some(spec) = super::lookup_listed(request.get(0)) else {
        return ctx.fail("ERR Invalid command specified");
    };
    if !spec.arity_ok(request.len()) {
        return ctx.fail("ERR Invalid number of arguments specified for command");
    }
    let positions = spec.keys.positions(request);
    if matches!(spec.keys, KeySpec::None) || positions.is_empty() {
        return ctx.fail("ERR The command has no key arguments");
    }
    ctx.reply.array(positions.len());
    for position in positions {
        ctx.reply.bulk(request.get(position));
    }
    Outcome::Unchanged
}

/// COMMAND [COUNT | LIST | INFO name... | DOCS name... | GETKEYS cmd ...]
/// (the commands only cluster nodes send each other are left out).
pub fn command(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let all: Vec<&'static Cmd> = super::listed().collect();
    let Some(sub) = args.try_get(1) else {
        ctx.reply.array(all.len());
        for spec in all {
            write_info(ctx, spec);
        }
        return Outcome::Unchanged;
    };
    let named = || args.iter_from(2).map(super::lookup_listed);
    if is(sub, "count") && args.len() == 2 {
        ctx.reply.int(all.len() as i64);
    } else if is(sub, "list") && args.len() == 2 {
        ctx.reply.array(all.len());
        for spec in all {
            ctx.reply.bulk(spec.name.as_bytes());
        }
    } else if is(sub, "info") {
        let specs: Vec<Option<&Cmd>> = if args.len() == 2 {
            all.into_iter().map(Some).collect()
        } else {
            named().collect()
        };
        ctx.reply.array(specs.len());
        for spec in specs {
            match spec {
                Some(spec) => write_info(ctx, spec),
                // Redis answers an unknown name with a null bulk.
                None => ctx.reply.null(),
            }
        }
    } else if is(sub, "docs") {
        let specs: Vec<&Cmd> = if args.len() == 2 {
            all
        } else {
            named().flatten().collect()
        };
        ctx.reply.map(specs.len());
        for spec in specs {
            write_docs(ctx, spec);
        }
    } else if is(sub, "getkeys") && args.len() >= 3 {
        return getkeys(ctx, args);
    } else {
        return ctx.unknown_subcommand(sub, "COMMAND");
    }
    Outcome::Unchanged
}
