//! COMMAND: the command table as clients read it (COUNT, LIST, INFO, DOCS,
//! GETKEYS, GETKEYSANDFLAGS), in Redis 7's reply formats. Cluster clients (redis-py's
//! `RedisCluster` among them) learn key positions here.

use super::key_flags::{self, KeyFlags};
use super::spec::flag_sets::LS;
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec};
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
        Sub::new("getkeys", getkeys, -4, LS, &["GETKEYS <full-command>", "    Return the keys from a full Redis command."]).acl(C::CONNECTION),
        Sub::new("getkeysandflags", getkeys_and_flags, -4, LS, &["GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full Redis command."]).acl(C::CONNECTION),
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

/// The command a COMMAND GETKEYS request names, its name for the key
/// flags (`container|name` for a subcommand) and the positions of its
/// keys in `request`; `Err`: Redis's error.
fn request_keys(request: Args<'_>) -> Result<(Cmd, String, Vec<usize>), &'static str> {
    let Some(container) = super::lookup_listed(request.get(0)) else {
        return Err("ERR Invalid command specified");
    };
    let (spec, name) = if container.subcommands.is_empty() || request.len() < 2 {
        (*container, container.name.to_owned())
    } else {
        let name = request.get(1);
        let Some(sub) = container
            .subcommands
            .iter()
            .find(|sub| name.eq_ignore_ascii_case(sub.name().as_bytes()))
        else {
            return Err("ERR Invalid command specified");
        };
        (
            sub.as_command(container),
            format!("{}|{}", container.name, sub.name()),
        )
    };
    if !spec.arity_ok(request.len()) {
        return Err("ERR Invalid number of arguments specified for command");
    }
    let has_keys = key_flags::specs(&name).is_some_and(|specs| !specs[0].has(KeyFlags::NOT_KEY));
    if matches!(spec.keys, KeySpec::None) || !has_keys {
        return Err("ERR The command has no key arguments");
    }
    let positions = spec.keys.positions(request);
    if positions.is_empty() && !spec.has(F::NO_MANDATORY_KEYS) {
        return Err("ERR Invalid arguments specified for command");
    }
    Ok((spec, name, positions))
}

/// COMMAND GETKEYS command arg...: the keys of that request, as the
/// table's key spec finds them.
fn getkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let request = args.slice_from(2);
    let (_, _, positions) = match request_keys(request) {
        Ok(found) => found,
        Err(error) => return ctx.fail(error),
    };
    ctx.reply.array(positions.len());
    for position in positions {
        ctx.reply.bulk(request.get(position));
    }
    Outcome::Unchanged
}

/// COMMAND GETKEYSANDFLAGS command arg...: each key of that request with
/// its key-spec flags (`key_flags.rs`).
fn getkeys_and_flags(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let request = args.slice_from(2);
    let (_, name, positions) = match request_keys(request) {
        Ok(found) => found,
        Err(error) => return ctx.fail(error),
    };
    let specs = key_flags::specs(&name).unwrap_or_default();
    ctx.reply.array(positions.len());
    for (nth, position) in positions.into_iter().enumerate() {
        ctx.reply.array(2);
        ctx.reply.bulk(request.get(position));
        let flags: Vec<&str> = if specs.is_empty() {
            Vec::new()
        } else {
            key_flags::flags_of_key(&name, specs, nth, request)
                .names()
                .collect()
        };
        ctx.reply.set(flags.len());
        for flag in flags {
            ctx.reply.simple(flag);
        }
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
