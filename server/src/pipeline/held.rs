//! A request held by CLIENT PAUSE (`crate::pause`): it stays at the front
//! of the input buffer, the replies before it are written, and the
//! connection waits (no polling: the pause's end, a wake-up when it
//! changes, the client's input or its leaving) before running it again
//! from the session checks. Held requests run in the order they were
//! held, one ticket each, released once the request ran or the client
//! left.

use std::time::Instant;

use super::{Connection, Ended};
use crate::commands::{effective_flags, CommandSpec, Flags, Session};
use crate::pause::Hold;
use crate::protocol::Args;
use crate::state::NodeState;

/// Why a held request waits: the pause's end and the pause's
/// generation it was held at.
#[derive(Debug, Clone, Copy)]
pub(super) struct Held {
    until: Option<Instant>,
    seen: u64,
}

/// Whether CLIENT PAUSE holds this request; `None`: it runs now. Links
/// from other nodes are never held (Redis never pauses its replicas).
#[inline]
pub(super) fn check(
    node: &NodeState,
    session: &mut Session,
    spec: &CommandSpec,
    args: Args<'_>,
) -> Option<Held> {
    if !node.pause.is_active() || session.peer {
        return None;
    }
    let flags = effective_flags(spec, args);
    let may_write = flags.has(Flags::WRITE)
        || flags.has(Flags::MAY_REPLICATE)
        || (spec.has(Flags::EXCLUSIVE) && session.multi.as_ref().is_some_and(|t| t.may_write()));
    match node.pause.hold(may_write, &mut session.pause_ticket) {
        Hold::Run => None,
        Hold::Wait { until, seen } => Some(Held { until, seen }),
    }
}

impl Connection {
    /// The held request ran (or the connection ends): the next one in
    /// line may go.
    pub(super) fn release_pause_ticket(&mut self) {
        if let Some(ticket) = self.session.pause_ticket.take() {
            self.node.pause.done(ticket);
        }
    }

    /// Waits until the held request may be tried again.
    pub(super) async fn wait_held(&mut self, held: Held) -> Result<(), Ended> {
        let node = self.node.clone();
        let changed = node.pause.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if node.pause.generation() != held.seen {
            return Ok(());
        }
        // What the client sends meanwhile waits in the buffer, within
        // the query buffer limit.
        if self.requests.input.len() as u64 > self.settings.query_limit {
            return Err(Ended::Closing);
        }
        self.requests.make_room();
        let handle = self.handle.clone();
        let until = async {
            match held.until {
                Some(until) => tokio::time::sleep_until(until.into()).await,
                None => std::future::pending().await,
            }
        };
        let read = tokio::select! {
            biased;
            () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
            () = changed => return Ok(()),
            () = until => return Ok(()),
            r = self.stream.recv(&mut self.requests.input) => r,
        };
        self.count_read(read)
    }
}
