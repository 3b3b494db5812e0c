//! Step 3's refusals: the session's checks and the user's permissions
//! (ACL) for a known command, an unknown one, a cross-protocol request
//! (HTTP sent to the node), and protected mode's answer.

use std::sync::Arc;

use tracing::warn;

use super::replies::Replies;
use super::{step, Step};
use crate::acl;
use crate::commands::{self, args::DENIED, transactions, After, CommandSpec, Refusal, Session};
use crate::log_limit::LogLimit;
use crate::protocol::{Args, Reply};
use crate::state::NodeState;
use crate::stats::ServerStats;

static CROSS_PROTOCOL_LOG: LogLimit = LogLimit::new(10_000);
static PROTECTED_LOG: LogLimit = LogLimit::new(crate::log_limit::WARN_PERIOD_MS);

/// The session's checks and the user's permissions (ACL) for a known
/// command; `Some` is the refusal's step, its reply written (a transaction
/// being queued then fails at EXEC).
pub(super) fn admit(
    node: &Arc<NodeState>,
    session: &mut Session,
    replies: &mut Replies,
    (index, spec): (usize, &CommandSpec),
    args: Args<'_>,
) -> Option<Step> {
    let admitted = commands::admit(session, spec, args).and_then(|()| {
        acl::check::check(
            &node.acl,
            session,
            index,
            spec,
            args,
            acl::Context::Toplevel,
        )
        .map_err(Refusal::Error)
    });
    match admitted {
        Ok(()) => None,
        Err(Refusal::Protected) => Some(step(deny_protected(node, session, replies))),
        Err(Refusal::Error(text)) => {
            transactions::fail_queueing(session);
            commands::statistics::reject(node, index, spec, args);
            let text = transactions::refusal(session, spec, &text);
            node.error_stats.count(text.as_bytes());
            Reply::new(&mut replies.output, session.resp3).error(&text);
            Some(Step::Next)
        }
    }
}

/// A command this session may not see: refused (a transaction being
/// queued then fails at EXEC), or the protected-mode answer.
pub(super) fn refuse_unknown(
    node: &Arc<NodeState>,
    session: &mut Session,
    replies: &mut Replies,
    args: Args<'_>,
) -> Step {
    if session.protected {
        return step(deny_protected(node, session, replies));
    }
    transactions::fail_queueing(session);
    let error = commands::unknown_command(args);
    node.error_stats.count(&error);
    Reply::new(&mut replies.output, session.resp3).error_bytes(&error);
    Step::Next
}

/// An HTTP request line or header sent to the node: Redis treats `POST`
/// and `Host:` as an attack (a web page making a browser talk to the cache)
/// and closes the connection without running anything more.
pub(super) fn is_cross_protocol(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

pub(super) fn refuse_cross_protocol(node: &NodeState, session: &Session) -> After {
    ServerStats::add(&node.stats.cross_protocol_rejections, 1);
    if let Some(more) = CROSS_PROTOCOL_LOG.allow() {
        warn!(
            client = %session.handle.peer,
            suppressed = more,
            "possible security attack: a client sent POST or Host: (cross-protocol scripting); connection closed"
        );
    }
    After::Close
}

/// Protected mode on a cluster node: a non-loopback client that has not
/// proved it is a peer gets Redis's DENIED error and is closed.
fn deny_protected(node: &NodeState, session: &Session, replies: &mut Replies) -> After {
    ServerStats::add(&node.stats.rejected_connections, 1);
    if let Some(suppressed) = PROTECTED_LOG.allow() {
        warn!(client = %session.handle.peer, suppressed, "protected mode: refused a non-loopback client that is not a peer");
    }
    Reply::new(&mut replies.output, session.resp3).error(DENIED);
    After::Close
}
