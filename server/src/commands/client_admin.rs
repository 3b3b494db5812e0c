//! CLIENT: the connected clients as a client sees and manages them (ID,
//! GETNAME, SETNAME, INFO, LIST, SETINFO, KILL, UNBLOCK; the tracking
//! subcommands' handlers are in `client_tracking.rs`, PAUSE and the other
//! modes in `client_modes.rs`).

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX};
use super::client_modes as modes;
use super::client_tracking::{caching, getredir, tracking, trackinginfo};
use super::session::valid_name;
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F};
use super::subcommands::SubSpec as Sub;
use super::{After, Ctx, Outcome};
use crate::blocking::Unblock;
use crate::clients::ClientHandle;
use crate::protocol::Args;
use crate::store::unix_ms;

const LS: F = F::NOSCRIPT.with(F::LOADING).with(F::STALE);
const CN: C = C::CONNECTION;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("client", super::container, -2, F::NONE, "connection", "A container for client connection commands.").subcommands(&[
        Sub::new("caching", caching, 3, LS, &["CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes."]).acl(CN),
        Sub::new("getname", getname, 2, LS, &["GETNAME", "    Return the name of the current connection."]).acl(CN),
        Sub::new("getredir", getredir, 2, LS, &["GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled."]).acl(CN),
        Sub::new("id", id, 2, LS, &["ID", "    Return the ID of the current connection."]).acl(CN),
        Sub::new("info", info, 2, LS, &["INFO", "    Return information about the current client connection."]).acl(CN),
        Sub::new("kill", kill, -3, LS.with(F::ADMIN), &["KILL <ip:port>", "    Kill connection made from <ip:port>.", "KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>, SKIPME (YES|NO)."]).acl(CN),
        Sub::new("list", list, -2, LS.with(F::ADMIN), &["LIST [TYPE normal] [ID <id> [<id> ...]]", "    Return information about client connections."]).acl(CN),
        Sub::new("no-evict", modes::no_evict, 3, LS.with(F::ADMIN), &["NO-EVICT (ON|OFF)", "    Protect current client connection from eviction."]).acl(CN),
        Sub::new("no-touch", modes::no_touch, 3, LS, &["NO-TOUCH (ON|OFF)", "    Will not touch LRU/LFU stats when this mode is on."]).acl(CN),
        Sub::new("pause", modes::pause, -3, LS.with(F::ADMIN), &["PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds."]).acl(CN),
        Sub::new("reply", modes::reply, 3, LS, &["REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection."]).acl(CN),
        Sub::new("setinfo", setinfo, 4, LS, &["SETINFO <option> <value>", "    Set client meta attr. Options are: LIB-NAME, LIB-VER."]).acl(CN),
        Sub::new("setname", setname, 3, LS, &["SETNAME <name>", "    Assign the name <name> to the current connection."]).acl(CN),
        Sub::new("tracking", tracking, -3, LS, &["TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]", "         [OPTIN] [OPTOUT] [NOLOOP]", "    Control server assisted client side caching."]).acl(CN),
        Sub::new("trackinginfo", trackinginfo, 2, LS, &["TRACKINGINFO", "    Report tracking status for the current connection."]).acl(CN),
        Sub::new("unblock", unblock, -3, LS.with(F::ADMIN), &["UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client."]).acl(CN),
        Sub::new("unpause", modes::unpause, 2, LS.with(F::ADMIN), &["UNPAUSE", "    Stop the current client pause, resuming traffic."]).acl(CN),
    ]),
];

fn command_name_of(index: u64) -> &'static str {
    super::commands()
        .get(index as usize)
        .map_or("NULL", |c| c.name)
}

/// CLIENT ID
fn id(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.reply.int(ctx.session.handle.id as i64);
    Outcome::Unchanged
}

/// CLIENT GETNAME
fn getname(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let name = ctx.session.handle.name.lock().clone();
    ctx.reply.opt_bulk((!name.is_empty()).then_some(&name[..]));
    Outcome::Unchanged
}

/// CLIENT SETNAME name
fn setname(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if let Err(e) = valid_name(args.get(2)) {
        return ctx.fail(e);
    }
    *ctx.session.handle.name.lock() = args.get(2).to_vec();
    ctx.reply.ok();
    Outcome::Unchanged
}

/// CLIENT INFO
fn info(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let handle = &ctx.session.handle;
    let line = handle.describe(
        unix_ms(),
        command_name_of(handle.last_command.load(Ordering::Relaxed)),
    );
    ctx.reply.verbatim(format!("{line}\n").as_bytes());
    Outcome::Unchanged
}

/// CLIENT SETINFO LIB-NAME | LIB-VER value
fn setinfo(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (attr, value) = (args.get(2), args.get(3));
    if value.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return ctx.fail(&format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(attr)
        ));
    }
    let mut lib = ctx.session.handle.lib.lock();
    if is(attr, "lib-name") {
        lib.0 = value.to_vec();
    } else if is(attr, "lib-ver") {
        lib.1 = value.to_vec();
    } else {
        drop(lib);
        return ctx.fail(&format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        ));
    }
    drop(lib);
    ctx.reply.ok();
    Outcome::Unchanged
}

/// CLIENT LIST [TYPE type] [ID id ...]
fn list(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let now = unix_ms();
    let mut ids: Option<HashSet<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        let arg = args.get(i);
        if is(arg, "type") && i + 1 < args.len() {
            let t = args.get(i + 1);
            if !["normal", "master", "replica", "pubsub"]
                .iter()
                .any(|n| is(t, n))
            {
                return ctx.fail(&format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(t)
                ));
            }
            if !is(t, "normal") {
                ids = Some(HashSet::new());
            }
            i += 2;
        } else if is(arg, "id") && i + 1 < args.len() {
            let mut list = HashSet::new();
            for id in args.iter_from(i + 1) {
                match parse_i64(id) {
                    Some(n) if n > 0 => {
                        list.insert(n as u64);
                    }
                    _ => return ctx.fail("ERR Invalid client ID"),
                }
            }
            ids = Some(list);
            i = args.len();
        } else {
            return ctx.fail(SYNTAX);
        }
    }
    let mut text = String::new();
    for handle in ctx.node.clients.all() {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&handle.id)) {
            continue;
        }
        text.push_str(&handle.describe(
            now,
            command_name_of(handle.last_command.load(Ordering::Relaxed)),
        ));
        text.push('\n');
    }
    ctx.reply.verbatim(text.as_bytes());
    Outcome::Unchanged
}

/// Ends client `c`: another client at once; this one after its replies so
/// far are written (killing its handle would drop them, as for a client
/// killed from elsewhere), as Redis closes a client that killed itself.
fn end_client(ctx: &mut Ctx<'_>, c: &ClientHandle) {
    if c.id == ctx.session.handle.id {
        ctx.after = After::Close;
    } else {
        c.kill();
    }
}

/// CLIENT KILL addr | CLIENT KILL option value [option value ...]
fn kill(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let own_id = ctx.session.handle.id;
    // Old form: CLIENT KILL addr:port, replies OK or an error.
    if args.len() == 3 {
        let addr = args.get(2);
        let target = ctx
            .node
            .clients
            .all()
            .into_iter()
            .find(|c| c.peer.to_string().as_bytes() == addr);
        return match target {
            Some(c) => {
                end_client(ctx, &c);
                ctx.reply.ok();
                Outcome::Unchanged
            }
            None => ctx.fail("ERR No such client"),
        };
    }
    let (mut id, mut addr, mut laddr, mut skipme) = (None, None, None, true);
    let mut i = 2;
    while i + 1 < args.len() {
        let (option, value) = (args.get(i), args.get(i + 1));
        if is(option, "id") {
            match parse_i64(value) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return ctx.fail("ERR client-id should be greater than 0"),
            }
        } else if is(option, "addr") {
            addr = Some(value);
        } else if is(option, "laddr") {
            laddr = Some(value);
        } else if is(option, "skipme") {
            skipme = match value {
                v if is(v, "yes") => true,
                v if is(v, "no") => false,
                _ => return ctx.fail(SYNTAX),
            };
        } else if is(option, "type") || is(option, "user") || is(option, "maxage") {
            // Only normal clients of the default user exist.
        } else {
            return ctx.fail(SYNTAX);
        }
        i += 2;
    }
    if i != args.len() {
        return ctx.fail(SYNTAX);
    }
    let mut killed = 0;
    for c in ctx.node.clients.all() {
        let matches = id.is_none_or(|id| c.id == id)
            && addr.is_none_or(|a| c.peer.to_string().as_bytes() == a)
            && laddr.is_none_or(|a| c.local.to_string().as_bytes() == a);
        if !matches || (skipme && c.id == own_id) {
            continue;
        }
        end_client(ctx, &c);
        killed += 1;
    }
    ctx.reply.int(killed);
    Outcome::Unchanged
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: 1 if the client was blocked
/// (it then gets its timeout reply, or Redis's `-UNBLOCKED` error).
fn unblock(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if args.len() > 4 {
        return ctx.unknown_subcommand(args.get(1), "CLIENT");
    }
    let how = match args.try_get(3) {
        None => Unblock::Timeout,
        Some(w) if is(w, "timeout") => Unblock::Timeout,
        Some(w) if is(w, "error") => Unblock::Error,
        Some(_) => return ctx.fail("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let Some(id) = parse_i64(args.get(2)) else {
        return ctx.fail(NOT_INTEGER);
    };
    let unblocked = u64::try_from(id).is_ok_and(|id| ctx.node.blocking.unblock(id, how));
    ctx.reply.int(i64::from(unblocked));
    Outcome::Unchanged
}
