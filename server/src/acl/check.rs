//! The ACL check of one request against its session's user, where the
//! request enters (the pipeline before it runs or is forwarded, EXEC for
//! each queued command, a script's `redis.call`): the refusal in Redis's
//! words and its ACL LOG entry. A peer link is not checked (the node
//! that forwarded the request checked it), nor a connection that has not
//! authenticated (it may run only AUTH, HELLO and the like).

use std::sync::Arc;

use super::log::{Context, Entry, Reason};
use super::selector::Denied;
use super::{ids, Acl, User};
use crate::commands::{CommandSpec, Session};
use crate::protocol::Args;
use crate::store::unix_ms;

/// Re-reads the session's user when the ACL changed since it was read,
/// so its connections follow its new rules. As in Redis 7.0, a user
/// turned `off` or given other passwords keeps its open connections
/// (`off` and passwords only decide who may authenticate from now on); a
/// deleted user becomes one allowed nothing (its connections are being
/// closed).
#[inline]
pub fn refresh(acl: &Acl, session: &mut Session) {
    let version = acl.version();
    if version == session.acl_version || super::is_internal(&session.user) {
        return;
    }
    session.acl_version = version;
    let name = session.user.name.clone();
    session.user = acl.get(&name).unwrap_or_else(|| Arc::new(User::new(&name)));
}

/// Checks a request of the session (the command at `index` of the
/// table); `Err` is the error to reply, already logged in ACL LOG.
///
/// # Errors
/// The user may not run it.
#[inline]
pub fn check(
    acl: &Acl,
    session: &mut Session,
    index: usize,
    spec: &CommandSpec,
    args: Args<'_>,
    context: Context,
) -> Result<(), String> {
    if session.peer || !session.authenticated {
        return Ok(());
    }
    refresh(acl, session);
    let Err(denied) = session.user.check(index, spec, args) else {
        return Ok(());
    };
    let id = ids::of_request(index, spec, args);
    let name = &ids::get(id).name;
    let (reason, object) = match denied {
        Denied::Command => (Reason::Command, name.clone()),
        Denied::Key(p) => (Reason::Key, lossy(args.get(p))),
        Denied::Channel(p) => (Reason::Channel, lossy(args.get(p))),
    };
    log(
        acl,
        session,
        reason,
        context,
        object,
        &session.user.name.clone(),
        name,
    );
    Err(message(denied, context, name))
}

/// Adds an ACL LOG entry for this session.
pub fn log(
    acl: &Acl,
    session: &Session,
    reason: Reason,
    context: Context,
    object: String,
    username: &str,
    command: &str,
) {
    let now = unix_ms();
    acl.log.add(Entry {
        count: 1,
        reason,
        context,
        object,
        username: username.to_string(),
        at_ms: now,
        client_info: session.handle.describe(now, command),
    });
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Redis 7.0's words for a refusal.
fn message(denied: Denied, context: Context, name: &str) -> String {
    match (context, denied) {
        (Context::Toplevel, Denied::Command) => {
            format!("NOPERM this user has no permissions to run the '{name}' command")
        }
        (Context::Toplevel, Denied::Key(_)) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        (Context::Toplevel, Denied::Channel(_)) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments".into()
        }
        (Context::Lua, Denied::Command) => {
            "ERR The user executing the script can't run this command or subcommand".into()
        }
        (Context::Lua, Denied::Key(_)) => "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments".into(),
        (Context::Lua, Denied::Channel(_)) => {
            "ERR The user executing the script can't publish to the channel mentioned in the command".into()
        }
        (Context::Multi, denied) => {
            let reason = match denied {
                Denied::Command => "no permission to execute the command or subcommand",
                Denied::Key(_) => "no permission to touch the specified keys",
                Denied::Channel(_) => "no permission to access one of the channels used as arguments",
            };
            format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}")
        }
    }
}
