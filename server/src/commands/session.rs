//! Commands on the client's own session: PING, ECHO, HELLO, AUTH, QUIT,
//! RESET and CLIENT.

use std::sync::atomic::Ordering;

use super::args::{is, parse_i64, SYNTAX};
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F};
use super::{After, Ctx, Outcome, Session, MAX_AUTH_FAILURES};
use crate::acl;
use crate::protocol::Args;
use crate::state::NodeState;
use crate::stats::ServerStats;

/// Version reported to clients that check it (HELLO, INFO): the Redis
/// release whose commands and replies the node follows.
pub const REDIS_COMPAT_VERSION: &str = "7.4.0";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// What may run in any state of a connection: before AUTH, while loading.
const ANYTIME: F = F::NOSCRIPT
    .with(F::LOADING)
    .with(F::STALE)
    .with(F::FAST)
    .with(F::NO_AUTH)
    .with(F::ALLOW_BUSY);
const CN: C = C::CONNECTION;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("ping", ping, -1, F::FAST.with(F::WHILE_SUBSCRIBED), "connection", "Returns the server's liveliness response.").acl(CN),
    Cmd::new("echo", echo, 2, F::FAST, "connection", "Returns the given string.").acl(CN),
    Cmd::new("hello", hello, -1, ANYTIME, "connection", "Handshakes with the server.").acl(CN).redact(hello_redacts),
    Cmd::new("auth", auth, -2, ANYTIME, "connection", "Authenticates the connection.").acl(CN).redact(auth_redacts),
    Cmd::new("quit", quit, -1, ANYTIME.with(F::NOT_QUEUED).with(F::WHILE_SUBSCRIBED), "connection", "Closes the connection.").acl(CN),
    Cmd::new("reset", reset, 1, ANYTIME.with(F::NOT_QUEUED).with(F::WHILE_SUBSCRIBED), "connection", "Resets the connection.").acl(CN),
];

/// AUTH's arguments are all secret.
fn auth_redacts(_args: Args<'_>, position: usize) -> bool {
    position >= 1
}

/// HELLO's AUTH username and password are secret.
fn hello_redacts(args: Args<'_>, position: usize) -> bool {
    args.iter_from(0).enumerate().any(|(i, arg)| {
        i >= 2 && arg.eq_ignore_ascii_case(b"auth") && (i + 1..=i + 2).contains(&position)
    })
}

/// PING [message]
pub fn ping(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let subscribed = ctx.session.subscriptions.as_ref().is_some_and(|s| s.any());
    if subscribed && !ctx.session.resp3 && args.len() <= 2 {
        // RESP2's subscribed mode answers as a message would look.
        ctx.reply.array(2);
        ctx.reply.bulk(b"pong");
        ctx.reply.bulk(args.try_get(1).unwrap_or_default());
        return Outcome::Unchanged;
    }
    match args.len() {
        1 => ctx.reply.simple("PONG"),
        2 => ctx.reply.bulk(args.get(1)),
        _ => return ctx.fail(&super::wrong_arity("ping")),
    }
    Outcome::Unchanged
}

/// ECHO message
pub fn echo(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    ctx.reply.bulk(args.get(1));
    Outcome::Unchanged
}

/// Authenticates the session as `user` if `password` is its password and
/// it is on (the `default` user's is `requirepass`); Err is the error to
/// reply, the failure logged in ACL LOG.
fn check_password(ctx: &mut Ctx<'_>, user: &[u8], password: &[u8]) -> Result<(), &'static str> {
    let version = ctx.node.acl.version();
    let Some(found) = ctx.node.acl.authenticate(user, password) else {
        let name = String::from_utf8_lossy(user).into_owned();
        let (reason, context) = (acl::Reason::Auth, acl::Context::Toplevel);
        acl::check::log(
            &ctx.node.acl,
            ctx.session,
            reason,
            context,
            "AUTH".into(),
            &name,
            "auth",
        );
        return Err(WRONGPASS);
    };
    *ctx.session.handle.user.lock() = found.name.clone();
    ctx.session.user = found;
    ctx.session.acl_version = version;
    ctx.session.authenticated = true;
    Ok(())
}

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (user, password) = match args.len() {
        2 => (&b"default"[..], args.get(1)),
        3 => (args.get(1), args.get(2)),
        _ => return ctx.fail(SYNTAX),
    };
    if args.len() == 2 && ctx.node.acl.default_user().nopass {
        return ctx.fail("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    match check_password(ctx, user, password) {
        Ok(()) => {
            ctx.reply.ok();
            Outcome::Unchanged
        }
        Err(e) => auth_failed(ctx, e),
    }
}

/// The state of a new connection's authentication: the `default` user,
/// authenticated if it needs no password (and is on).
pub fn default_auth(node: &NodeState, session: &mut Session) {
    session.acl_version = node.acl.version();
    let user = node.acl.default_user();
    session.authenticated = user.enabled && user.nopass && !session.protected;
    *session.handle.user.lock() = user.name.clone();
    session.user = user;
}

/// Answers a failed authentication and counts it; the connection closes
/// after [`MAX_AUTH_FAILURES`] of them, so guessing costs a reconnect.
fn auth_failed(ctx: &mut Ctx<'_>, error: &str) -> Outcome {
    ServerStats::add(&ctx.node.stats.auth_failures, 1);
    ctx.session.auth_failures += 1;
    if ctx.session.auth_failures >= MAX_AUTH_FAILURES {
        ServerStats::add(&ctx.node.stats.auth_failure_disconnects, 1);
        tracing::warn!(client = %ctx.session.handle.peer, "closing a connection after too many failed AUTH attempts");
        ctx.after = After::Close;
    }
    ctx.fail(error)
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let mut version = None;
    if args.len() >= 2 {
        match parse_i64(args.get(1)) {
            Some(v @ (2 | 3)) => version = Some(v),
            Some(_) => return ctx.fail("NOPROTO unsupported protocol version"),
            None => return ctx.fail("ERR Protocol version is not an integer or out of range"),
        }
    }
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let arg = args.get(i);
        if is(arg, "auth") && i + 2 < args.len() {
            if let Err(e) = check_password(ctx, args.get(i + 1), args.get(i + 2)) {
                return auth_failed(ctx, e);
            }
            i += 3;
        } else if is(arg, "setname") && i + 1 < args.len() {
            name = Some(args.get(i + 1));
            i += 2;
        } else {
            return ctx.fail(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(arg)
            ));
        }
    }
    if !ctx.session.authenticated {
        return ctx.fail("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = name {
        if let Err(e) = valid_name(name) {
            return ctx.fail(e);
        }
        *ctx.session.handle.name.lock() = name.to_vec();
    }
    if let Some(v) = version {
        ctx.session.resp3 = v == 3;
        ctx.reply.set_resp3(v == 3);
        ctx.session.handle.resp.store(v as u8, Ordering::Relaxed);
    }
    let proto = if ctx.session.resp3 { 3 } else { 2 };
    ctx.reply.map(7);
    ctx.reply.bulk(b"server");
    ctx.reply.bulk(b"redis");
    ctx.reply.bulk(b"version");
    ctx.reply.bulk(REDIS_COMPAT_VERSION.as_bytes());
    ctx.reply.bulk(b"proto");
    ctx.reply.int(proto);
    ctx.reply.bulk(b"id");
    ctx.reply.int(ctx.session.handle.id as i64);
    ctx.reply.bulk(b"mode");
    ctx.reply.bulk(b"standalone");
    ctx.reply.bulk(b"role");
    ctx.reply.bulk(b"master");
    ctx.reply.bulk(b"modules");
    ctx.reply.array(0);
    Outcome::Unchanged
}

/// QUIT
pub fn quit(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.reply.ok();
    ctx.after = After::Close;
    Outcome::Unchanged
}

/// RESET: back to a fresh connection's state.
pub fn reset(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.session.resp3 = false;
    ctx.reply.set_resp3(false);
    super::databases::switch_to(ctx, 0);
    ctx.session.multi = None;
    ctx.session.watching = None;
    ctx.session.subscriptions = None;
    ctx.node.tracking.disable(&ctx.session.handle);
    super::monitoring::stop(ctx.node, ctx.session);
    super::client_modes::reset(ctx);
    ctx.session.handle.resp.store(2, Ordering::Relaxed);
    ctx.session.handle.name.lock().clear();
    default_auth(ctx.node, ctx.session);
    ctx.with_cluster(|port, _| port.reset());
    ctx.reply.simple("RESET");
    Outcome::Unchanged
}

/// True for a client name CLIENT SETNAME and HELLO SETNAME accept.
pub(super) fn valid_name(name: &[u8]) -> Result<(), &'static str> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    Ok(())
}
