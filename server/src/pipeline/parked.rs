//! A client parked by a blocking command (BLPOP, BLMOVE, ...): the
//! request stays at the front of the input buffer while the connection
//! waits for one of its keys to be ready (then the request runs again
//! through the whole way, so the pop is routed, counted and replicated as
//! any other), its deadline, CLIENT UNBLOCK, a kill or shutdown. Redis
//! runs nothing else from a blocked client: requests pipelined after it
//! wait in the buffer, which keeps filling within the query buffer limit,
//! and a client that leaves is noticed at once.

use std::time::Instant;

use super::{Connection, Ended};
use crate::blocking::{Block, Registration, TimeoutReply, Unblock, UNBLOCKED};
use crate::protocol::Reply;
use crate::socket;

/// See the module docs.
pub(super) struct Parked {
    /// The client's place in its keys' queues.
    registration: Registration,
    /// When it stops waiting.
    deadline: Option<Instant>,
    /// Its reply then.
    on_timeout: TimeoutReply,
    /// Bytes of the blocked request at the front of the input.
    len: usize,
}

/// What ended a wait.
enum Event {
    /// A key may be ready, or CLIENT UNBLOCK.
    Woken,
    /// The deadline.
    Deadline,
    /// The client sent more.
    Read(std::io::Result<usize>),
}

impl Connection {
    /// Parks the client on the request of `len` bytes at the front of the
    /// input. A woken request that blocks again keeps its place in the
    /// queues and its first deadline.
    pub(super) fn park(&mut self, block: Block, len: usize) {
        if self.parked.is_some() {
            return;
        }
        let registration = block.registration.unwrap_or_else(|| {
            // Every handler registers when it first blocks; without a
            // place in a queue only the deadline, CLIENT UNBLOCK and a
            // kill end the wait.
            debug_assert!(false, "a blocking command blocked without registering");
            self.node.blocking.register(self.handle.id, [])
        });
        self.handle.set_blocked(true);
        self.parked = Some(Parked {
            registration,
            deadline: block.deadline,
            on_timeout: block.on_timeout,
            len,
        });
    }

    /// Ends the park (served, or the connection ends): the client leaves
    /// its keys' queues.
    pub(super) fn unpark(&mut self) {
        if self.parked.take().is_some() {
            self.handle.set_blocked(false);
        }
    }

    /// Waits while parked. Returns with `session.woken` set when the
    /// request should run again, or with the request answered and taken
    /// from the input (deadline, CLIENT UNBLOCK).
    pub(super) async fn wait_parked(&mut self) -> Result<(), Ended> {
        loop {
            let Some(parked) = &self.parked else {
                return Ok(());
            };
            self.requests.make_room();
            let deadline = parked.deadline;
            let timer = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let handle = &self.handle;
            let event = tokio::select! {
                biased;
                () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
                () = parked.registration.woken() => Event::Woken,
                () = timer => Event::Deadline,
                read = socket::recv(&self.stream, &mut self.requests.input) => Event::Read(read),
            };
            match event {
                Event::Woken => {
                    match parked.registration.unblocked() {
                        Some(Unblock::Error) => self.end_parked(Some(UNBLOCKED)),
                        Some(Unblock::Timeout) => self.end_parked(None),
                        None => self.session.woken = true,
                    }
                    return Ok(());
                }
                Event::Deadline => {
                    self.end_parked(None);
                    return Ok(());
                }
                Event::Read(read) => {
                    self.count_read(read)?;
                    if self.requests.input.len() as u64 > self.settings.query_limit {
                        return Err(Ended::Closing);
                    }
                }
            }
        }
    }

    /// Answers the parked request with its timeout reply (or `error`) and
    /// takes it from the input.
    fn end_parked(&mut self, error: Option<&str>) {
        let Some(parked) = self.parked.take() else {
            return;
        };
        self.handle.set_blocked(false);
        let mut reply = Reply::new(&mut self.replies.output, self.session.resp3);
        match (error, parked.on_timeout) {
            (Some(text), _) => reply.error(text),
            (None, TimeoutReply::NullArray) => reply.null_array(),
            (None, TimeoutReply::NullBulk) => reply.null(),
        }
        self.requests.input.drain(..parked.len);
    }
}
