//! COMMAND: the command table as clients read it (COUNT, LIST, INFO, DOCS,
//! GETKEYS), in Redis 7's reply formats. Cluster clients (redis-py's
//! `RedisCluster` among them) learn key positions here.

use super::spec::flag_sets::LS;
use super::spec::{Categories as C, CommandSpec as Cmd, KeySpec};
use super::subcommands::SubSpec as Sub;
use super::{Ctx, Outcome};
use crate::protocol::Args;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("command", command, -1, LS, "server", "Returns detailed information about all commands.").acl(C::CONNECTION).subcommands(&[
        Sub::new("count", count, 2, LS, &["COUNT", "    Return the total number of commands in this Redis server."]).acl(C::CONNECTION),
        Sub::new("list", list, -2, LS, &["LIST", "    Return a list of all commands in this Redis server."]).acl(C::CONNECTION),
        Sub::new("info", info, -2, LS, &["INFO [<command-name> ...]", "    Return details about multiple Redis commands.", "    If no command names are given, documentation details for all", "    commands are returned."]).acl(C::CONNECTION),
        Sub::new("docs", docs, -2, LS, &["DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.", "    If no command names are given, documentation details for all", "    commands are returned."]).acl(C::CONNECTION),
        Sub::new("getkeys", getkeys, -3, LS, &["GETKEYS <full-command>", "    Return the keys from a full Redis command."]).acl(C::CONNECTION),
    ]),
];

/// COMMAND INFO's ten fields for one command: name, arity, flags, first
/// key, last key, step, ACL categories, tips, key specs, subcommands.
fn write_info(ctx: &mut Ctx<'_>, spec: &Cmd) {
    write_info_named(ctx, spec, spec.name);
}

fn write_info_named(ctx: &mut Ctx<'_>, spec: &Cmd, name: &str) {
    ctx.reply.array(10);
    ctx.reply.bulk(name.as_bytes());
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
    ctx.reply.array(spec.subcommands.len());
    for sub in spec.subcommands {
        let name = format!("{}|{}", spec.name, sub.name());
        write_info_named(ctx, &sub.as_command(spec), &name);
    }
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
    let Some(container) = super::lookup_listed(request.get(0)) else {
        return ctx.fail("ERR Invalid command specified");
    };
    // A container's keys are its subcommand's.
    let sub = request.try_get(1).and_then(|name| {
        container
            .subcommands
            .iter()
            .find(|sub| name.eq_ignore_ascii_case(sub.name().as_bytes()))
    });
    let spec = sub.map_or(*container, |sub| sub.as_command(container));
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

/// COMMAND: every command's INFO (the commands only cluster nodes send
/// each other are left out of every COMMAND reply).
pub fn command(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let all: Vec<&'static Cmd> = super::listed().collect();
    ctx.reply.array(all.len());
    for spec in all {
        write_info(ctx, spec);
    }
    Outcome::Unchanged
}

/// COMMAND COUNT
fn count(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.reply.int(super::listed().count() as i64);
    Outcome::Unchanged
}

/// COMMAND LIST (its filters are not supported: the whole list)
fn list(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if args.len() > 2 {
        return ctx.fail(super::args::SYNTAX);
    }
    let all: Vec<&'static Cmd> = super::listed().collect();
    ctx.reply.array(all.len());
    for spec in all {
        ctx.reply.bulk(spec.name.as_bytes());
    }
    Outcome::Unchanged
}

/// COMMAND INFO [name ...]
fn info(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let specs: Vec<Option<&Cmd>> = if args.len() == 2 {
        super::listed().map(Some).collect()
    } else {
        args.iter_from(2).map(super::lookup_listed).collect()
    };
    ctx.reply.array(specs.len());
    for spec in specs {
        match spec {
            Some(spec) => write_info(ctx, spec),
            // Redis answers an unknown name with a null bulk.
            None => ctx.reply.null(),
        }
    }
    Outcome::Unchanged
}

/// COMMAND DOCS [name ...]
fn docs(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let specs: Vec<&Cmd> = if args.len() == 2 {
        super::listed().collect()
    } else {
        args.iter_from(2).filter_map(super::lookup_listed).collect()
    };
    ctx.reply.map(specs.len());
    for spec in specs {
        write_docs(ctx, spec);
    }
    Outcome::Unchanged
}
