//! ACL: the node's users (`crate::acl`) as commands: SETUSER, GETUSER,
//! DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS, LOG, DRYRUN, LOAD, SAVE.
//! On a cluster node SETUSER and DELUSER reach every node
//! (`acl_sync.rs`).

use std::collections::HashSet;

use super::args::{is, parse_i64};
use super::spec::flag_sets::{ADMIN, LS};
use super::spec::{Categories, CommandSpec as Cmd, Flags as F, Routing};
use super::subcommands::SubSpec as Sub;
use super::{acl_sync, container, Ctx, Outcome};
use crate::acl::{self, ids, Denied, Selector, User};
use crate::protocol::Args;
use crate::store::unix_ms;

/// What anyone may run: not from scripts, while loading and when stale.
const OPEN: F = F::NOSCRIPT.with(LS);

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("acl", container, -2, F::NONE, "server", "A container for Access List Control commands.").routing(Routing::ThisNode).redact(setuser_redacts).subcommands(&[
        Sub::new("cat", cat, -2, OPEN, &["CAT [<category>]", "    List all commands that belong to <category>, or all command categories", "    when no category is specified."]),
        Sub::new("deluser", deluser, -3, ADMIN, &["DELUSER <username> [<username> ...]", "    Delete a list of users."]),
        Sub::new("dryrun", dryrun, -4, ADMIN, &["DRYRUN <username> <command> [<arg> ...]", "    Returns whether the user can execute the given command without executing the command."]),
        Sub::new("getuser", getuser, 3, ADMIN, &["GETUSER <username>", "    Get the user's details."]),
        Sub::new("genpass", genpass, -2, OPEN, &["GENPASS [<bits>]", "    Generate a secure 256-bit user password. The optional `bits` argument can", "    be used to specify a different size."]),
        Sub::new("list", list, 2, ADMIN, &["LIST", "    Show users details in config file format."]),
        Sub::new("load", load, 2, ADMIN, &["LOAD", "    Reload users from the ACL file."]),
        Sub::new("log", log, -2, ADMIN, &["LOG [<count> | RESET]", "    Show the ACL log entries."]),
        Sub::new("save", save, 2, ADMIN, &["SAVE", "    Save the current config to the ACL file."]),
        Sub::new("setuser", setuser, -3, ADMIN, &["SETUSER <username> <attribute> [<attribute> ...]", "    Create or modify a user with the specified attributes."]),
        Sub::new("users", users, 2, ADMIN, &["USERS", "    List all the registered usernames."]),
        Sub::new("whoami", whoami, 2, OPEN, &["WHOAMI", "    Return the current connection username."]),
    ]),
    Cmd::new("rcacl", acl_sync::rcacl, 4, F::PEER.with(ADMIN), "server", "Takes another node's ACL users if newer than this node's.").routing(Routing::Cluster),
];

const NO_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// ACL SETUSER's passwords (`>`, `<`, `#`, `!` rules) are never shown.
fn setuser_redacts(args: Args<'_>, position: usize) -> bool {
    position >= 3
        && args.len() > 1
        && is(args.get(1), "setuser")
        && args
            .try_get(position)
            .is_some_and(|a| matches!(a.first(), Some(b'>' | b'<' | b'#' | b'!')))
}

fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// ACL SETUSER username [rule ...]
fn setuser(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let name = text(args.get(2));
    let rules: Vec<&[u8]> = args.iter_from(3).collect();
    match ctx.node.acl.set_user(&name, &rules) {
        Ok(_) => {
            kill_revoked_subscribers(ctx);
            acl_sync::changed(ctx, acl_sync::Answer::Ok)
        }
        Err(e) => ctx.fail(&e),
    }
}

/// ACL DELUSER username [username ...]: their connections are closed.
fn deluser(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let names: Vec<String> = args.iter_from(2).map(text).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    match ctx.node.acl.delete(&refs) {
        Ok(removed) => {
            kill_clients_of(ctx, &names);
            acl_sync::changed(ctx, acl_sync::Answer::Int(removed as i64))
        }
        Err(e) => ctx.fail(&e),
    }
}

/// Closes the connections authenticated as one of `names`, as Redis does
/// when their user is deleted.
pub fn kill_clients_of(ctx: &Ctx<'_>, names: &[String]) {
    // A set: DELUSER may name many users, and every client is checked.
    let names: HashSet<&str> = names.iter().map(String::as_str).collect();
    ctx.node
        .clients
        .kill_where(|handle| names.contains(handle.user.lock().as_str()));
}

/// Closes the connections subscribed to a channel or pattern their user
/// may no longer use, as Redis does when a user's channels change (a
/// connection whose user is gone is closed by [`kill_clients_of`]).
pub fn kill_revoked_subscribers(ctx: &Ctx<'_>) {
    for (kind, name, client) in ctx.node.pubsub.subscriptions() {
        let user = client.user.lock().clone();
        let allowed = ctx
            .node
            .acl
            .get(&user)
            .is_none_or(|u| u.allows_channel(&name, kind == crate::pubsub::Kind::Pattern));
        if !allowed {
            client.kill();
        }
    }
}

/// ACL GETUSER username
fn getuser(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(user) = ctx.node.acl.get(&text(args.get(2))) else {
        ctx.reply.null();
        return Outcome::Unchanged;
    };
    ctx.reply.map(6);
    ctx.reply.bulk(b"flags");
    let mut flags = vec![if user.enabled { "on" } else { "off" }];
    if user.nopass {
        flags.push("nopass");
    }
    ctx.reply.array(flags.len());
    for flag in flags {
        ctx.reply.bulk(flag.as_bytes());
    }
    ctx.reply.bulk(b"passwords");
    ctx.reply.array(user.passwords().len());
    for hash in user.passwords() {
        ctx.reply.bulk(acl::to_hex(hash).as_bytes());
    }
    describe_selector(ctx, user.root());
    ctx.reply.bulk(b"selectors");
    ctx.reply.array(user.selectors().len());
    for selector in user.selectors() {
        ctx.reply.map(3);
        describe_selector(ctx, selector);
    }
    Outcome::Unchanged
}

/// A selector's commands, keys and channels, as GETUSER gives them.
fn describe_selector(ctx: &mut Ctx<'_>, selector: &Selector) {
    ctx.reply.bulk(b"commands");
    ctx.reply.bulk(selector.describe_commands().as_bytes());
    ctx.reply.bulk(b"keys");
    ctx.reply.bulk(selector.describe_keys().as_bytes());
    ctx.reply.bulk(b"channels");
    ctx.reply.bulk(selector.channel_list().as_bytes());
}

/// ACL LIST
fn list(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let users = ctx.node.acl.users();
    ctx.reply.array(users.len());
    for user in users {
        ctx.reply.bulk(user.describe().as_bytes());
    }
    Outcome::Unchanged
}

/// ACL USERS
fn users(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let users = ctx.node.acl.users();
    ctx.reply.array(users.len());
    for user in users {
        ctx.reply.bulk(user.name.as_bytes());
    }
    Outcome::Unchanged
}

/// ACL WHOAMI
fn whoami(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let name = ctx.session.user.name.clone();
    ctx.reply.bulk(name.as_bytes());
    Outcome::Unchanged
}

/// ACL CAT [category]: the categories, or the commands of one (a
/// subcommand as `container|name`).
fn cat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if args.len() > 3 {
        return ctx.unknown_subcommand(args.get(1), "ACL");
    }
    let Some(arg) = args.try_get(2) else {
        let names = crate::commands::spec::CATEGORY_NAMES;
        ctx.reply.array(names.len());
        for name in names {
            ctx.reply.bulk(name.as_bytes());
        }
        return Outcome::Unchanged;
    };
    let Some(category) = Categories::by_name(&text(arg)) else {
        return ctx.fail(&format!("ERR Unknown category '{}'", text(arg)));
    };
    let names = category_commands(category);
    ctx.reply.array(names.len());
    for name in names {
        ctx.reply.bulk(name.as_bytes());
    }
    Outcome::Unchanged
}

/// The commands clients see (COMMAND lists them) in `category`.
pub fn category_commands(category: Categories) -> Vec<&'static str> {
    ids::entries()
        .iter()
        .filter(|e| !e.spec.has(F::PEER) && !e.spec.has(F::HANDSHAKE))
        .filter(|e| e.categories.has(category))
        .map(|e| e.name.as_str())
        .collect()
}

/// ACL GENPASS [bits]: random hex digits from the OS generator.
fn genpass(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let bits = match args.try_get(2) {
        None => 256,
        Some(arg) => match parse_i64(arg) {
            Some(bits @ 1..=4096) => bits as usize,
            _ => return ctx.fail("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"),
        },
    };
    let digits = bits.div_ceil(4);
    let mut bytes = vec![0u8; digits.div_ceil(2)];
    if getrandom::fill(&mut bytes).is_err() {
        return ctx.fail("ERR the system's random generator failed");
    }
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(digits);
    ctx.reply.bulk(hex.as_bytes());
    Outcome::Unchanged
}

/// ACL LOG [count | RESET]
fn log(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let count = match args.try_get(2) {
        None => 10,
        Some(arg) if is(arg, "reset") => {
            ctx.node.acl.log.reset();
            ctx.reply.ok();
            return Outcome::Unchanged;
        }
        Some(arg) => match parse_i64(arg) {
            Some(n) if n >= 0 => n as usize,
            _ => return ctx.fail("ERR value is not an integer or out of range"),
        },
    };
    if args.len() > 3 {
        return ctx.unknown_subcommand(args.get(1), "ACL");
    }
    let entries = ctx.node.acl.log.latest(count);
    let now = unix_ms();
    ctx.reply.array(entries.len());
    for entry in entries {
        ctx.reply.map(7);
        ctx.reply.bulk(b"count");
        ctx.reply.int(entry.count as i64);
        ctx.reply.bulk(b"reason");
        ctx.reply.bulk(entry.reason.name().as_bytes());
        ctx.reply.bulk(b"context");
        ctx.reply.bulk(entry.context.name().as_bytes());
        ctx.reply.bulk(b"object");
        ctx.reply.bulk(entry.object.as_bytes());
        ctx.reply.bulk(b"username");
        ctx.reply.bulk(entry.username.as_bytes());
        ctx.reply.bulk(b"age-seconds");
        ctx.reply
            .double(now.saturating_sub(entry.at_ms) as f64 / 1000.0);
        ctx.reply.bulk(b"client-info");
        ctx.reply.bulk(entry.client_info.as_bytes());
    }
    Outcome::Unchanged
}

/// ACL DRYRUN username command [arg ...]: whether the user could run it.
fn dryrun(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let name = text(args.get(2));
    let Some(user) = ctx.node.acl.get(&name) else {
        return ctx.fail(&format!("ERR User '{name}' not found"));
    };
    let request = args.slice(3, args.len());
    let found = crate::commands::lookup_indexed(request.get(0)).filter(|(_, s)| !s.has(F::PEER));
    let Some((index, spec)) = found else {
        return ctx.fail(&format!("ERR Command '{}' not found", text(request.get(0))));
    };
    if !spec.arity_ok(request.len()) {
        return ctx.fail(&super::wrong_arity(spec.name));
    }
    match user.check(index, spec, request) {
        Ok(()) => ctx.reply.ok(),
        Err(denied) => ctx
            .reply
            .bulk(dryrun_refusal(denied, index, spec, request).as_bytes()),
    }
    Outcome::Unchanged
}

fn dryrun_refusal(denied: Denied, index: usize, spec: &Cmd, request: Args<'_>) -> String {
    match denied {
        Denied::Command => {
            let id = ids::of_request(index, spec, request);
            format!(
                "This user has no permissions to run the '{}' command",
                ids::get(id).name
            )
        }
        Denied::Key(p) => format!(
            "This user has no permissions to access the '{}' key",
            text(request.get(p))
        ),
        Denied::Channel(p) => format!(
            "This user has no permissions to access the '{}' channel",
            text(request.get(p))
        ),
    }
}

/// ACL LOAD: the ACL file's users replace the node's, all or nothing;
/// connections of users no longer there are closed. On a cluster node the
/// loaded set reaches every node, as a SETUSER would.
fn load(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let Some(path) = ctx.node.config.read().aclfile.clone() else {
        return ctx.fail(NO_FILE);
    };
    let users = std::fs::read_to_string(&path)
        .map_err(|e| {
            format!(
                "ERR Error loading ACLs, opening file '{}': {e}",
                path.display()
            )
        })
        .and_then(|text| {
            let all_channels = ctx.node.acl.pubsub_default();
            acl::parse_file(&path.display().to_string(), &text, all_channels)
                .map_err(|e| format!("ERR {e}"))
        });
    match users {
        Ok(users) => {
            let gone: Vec<String> = ctx
                .node
                .acl
                .users()
                .iter()
                .map(|u| u.name.clone())
                .filter(|name| !users.iter().any(|u: &User| u.name == *name))
                .collect();
            ctx.node.acl.replace(users);
            kill_clients_of(ctx, &gone);
            kill_revoked_subscribers(ctx);
            acl_sync::changed(ctx, acl_sync::Answer::Ok)
        }
        Err(e) => ctx.fail(&e),
    }
}

/// ACL SAVE: the users to the ACL file (written aside, then renamed over
/// it, so a crash leaves the old file or the new one).
fn save(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let Some(path) = ctx.node.config.read().aclfile.clone() else {
        return ctx.fail(NO_FILE);
    };
    let users = ctx.node.acl.users();
    let text = acl::render_file(users.iter().map(|u| &**u));
    let aside = path.with_extension("tmp");
    let written = std::fs::write(&aside, text).and_then(|()| std::fs::rename(&aside, &path));
    match written {
        Ok(()) => {
            ctx.reply.ok();
            Outcome::Unchanged
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ACL SAVE failed");
            ctx.fail("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
        }
    }
}
