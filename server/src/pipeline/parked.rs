//! A client parked by a blocking command (BLPOP, BLMOVE, ...): the
//! request stays at the front of the input buffer while the connection
//! waits for one of its keys to be ready (then the request runs again
//! through the whole way, so the pop is routed, counted and replicated as
//! any other), its deadline, CLIENT UNBLOCK, a kill or shutdown. Redis
//! runs nothing else from a blocked client: requests pipelined after it
//! wait in the buffer, which keeps filling within the query buffer limit,
//! and a client that leaves is noticed at once.
//!
//! On a cluster node, a blocking command whose keys live on another node
//! is forwarded there as any request; that node does not park its link
//! (other clients' requests share it) but answers that it would block
//! ([`crate::blocking::would_block`]). The client is then parked here and
//! the request forwarded again after a pause (growing from
//! [`FIRST_PAUSE`] to [`LONGEST_PAUSE`]) until it is served, times out or
//! is unblocked: such a client wakes within a pause of a push on the owner.
//!
//! A parked request may also name a time to run again unwoken (its
//! [`Block::recheck`]: `RC.LEASE.GET ... BLOCK` looks at its key when the
//! lease it waits for would end unfilled).

use std::time::{Duration, Instant};

use super::{Connection, Ended};
use crate::blocking::{parse_would_block, Block, Registration, TimeoutReply, Unblock, UNBLOCKED};
use crate::commands::Deferred;
use crate::protocol::Reply;

/// First pause before a forwarded blocking command is asked again.
pub(super) const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// Longest pause between two asks.
pub(super) const LONGEST_PAUSE: Duration = Duration::from_millis(200);

/// See the module docs.
pub(super) struct Parked {
    /// The client's place in its keys' queues (for a forwarded command, a
    /// place in none, which CLIENT UNBLOCK still finds, taken when the
    /// owner first answers that it would block).
    registration: Option<Registration>,
    /// When it stops waiting; `None`: never, or not known yet for a
    /// forwarded command.
    deadline: Option<Instant>,
    /// Its reply then.
    on_timeout: TimeoutReply,
    /// When to run the request again unwoken.
    recheck: Option<Instant>,
    /// Bytes of the blocked request at the front of the input.
    len: usize,
    /// Waiting on another node.
    remote: Option<Remote>,
}

/// A blocking command forwarded to its keys' owner.
struct Remote {
    /// The owner's answer to the last ask, while it is on its way.
    asking: Option<Deferred>,
    /// When to ask again.
    next_ask: Instant,
    /// The pause after the next "would block".
    pause: Duration,
    /// The owner has told the timeout (its first answer).
    timed: bool,
}

/// What ended a wait.
enum Event {
    /// A key may be ready, or CLIENT UNBLOCK.
    Woken,
    /// The deadline.
    Deadline,
    /// The time to ask the owner again.
    AskAgain,
    /// The time to run the request again unwoken.
    Recheck,
    /// The owner answered.
    Answered(bytes::Bytes),
    /// The client sent more.
    Read(std::io::Result<usize>),
    /// Something waits in the client's inbox (Pub/Sub messages, tracking
    /// invalidations): a blocked client gets it at once, as in Redis.
    Pushes,
}

impl Connection {
    /// Parks the client on the request of `len` bytes at the front of the
    /// input. A woken request that blocks again keeps its place in the
    /// queues and its first deadline; one that waited on another node and
    /// now blocks here takes its place here.
    pub(super) fn park(&mut self, block: Block, len: usize) {
        if let Some(parked) = &mut self.parked {
            parked.recheck = block.recheck;
            if block.registration.is_some() {
                parked.registration = block.registration;
                parked.remote = None;
            }
            return;
        }
        let registration = block.registration.unwrap_or_else(|| {
            // Every handler registers when it first blocks; without a
            // place in a queue only the deadline, CLIENT UNBLOCK and a
            // kill end the wait.
            debug_assert!(false, "a blocking command blocked without registering");
            self.node.blocking.register(self.handle.id, 0, [])
        });
        self.handle.set_blocked(true);
        self.parked = Some(Parked {
            registration: Some(registration),
            deadline: block.deadline,
            on_timeout: block.on_timeout,
            recheck: block.recheck,
            len,
            remote: None,
        });
    }

    /// Holds the client while a blocking request of `len` bytes is
    /// forwarded to its keys' owner, whose answer is `answer` (nothing
    /// after it runs meanwhile). A client parked here whose keys have
    /// moved away leaves their queues here and keeps its deadline.
    pub(super) fn park_forwarded(&mut self, answer: Deferred, len: usize) {
        let moved_away = self.parked.as_ref().is_some_and(|p| p.remote.is_none());
        let keyless = moved_away.then(|| self.node.blocking.register(self.handle.id, 0, []));
        let parked = self.parked.get_or_insert_with(|| Parked {
            registration: None,
            deadline: None,
            on_timeout: TimeoutReply::NullArray,
            recheck: None,
            len,
            remote: None,
        });
        if keyless.is_some() {
            parked.registration = keyless;
        }
        let remote = parked.remote.get_or_insert(Remote {
            asking: None,
            next_ask: Instant::now(),
            pause: FIRST_PAUSE,
            timed: moved_away,
        });
        remote.asking = Some(answer);
    }

    /// Ends the park (served, or the connection ends): the client leaves
    /// its keys' queues.
    pub(super) fn unpark(&mut self) {
        self.parked = None;
        self.handle.set_blocked(false);
    }

    /// Waits while parked. Returns with `rerun` set when the request should
    /// run again (`session.woken` too when a key here may be ready), or
    /// with the request answered and taken from the input (served by
    /// another node, deadline, CLIENT UNBLOCK).
    pub(super) async fn wait_parked(&mut self) -> Result<(), Ended> {
        loop {
            let event = self.next_event().await?;
            match event {
                Event::Pushes => {
                    self.take_pushes();
                    self.flush().await?;
                    continue;
                }
                Event::Read(read) => {
                    self.count_read(read)?;
                    if self.requests.input.len() as u64 > self.settings.query_limit {
                        return Err(Ended::Closing);
                    }
                    continue;
                }
                Event::Answered(answer) => {
                    if self.answered(answer) {
                        continue;
                    }
                }
                Event::Woken => {
                    let unblocked = self
                        .parked
                        .as_ref()
                        .and_then(|p| p.registration.as_ref())
                        .and_then(Registration::unblocked);
                    match unblocked {
                        Some(Unblock::Error) => self.end_parked(Some(UNBLOCKED)),
                        Some(Unblock::Timeout) => self.end_parked(None),
                        None if self.parked.as_ref().is_some_and(|p| p.remote.is_some()) => {
                            continue
                        }
                        None => {
                            self.session.woken = true;
                            self.rerun = true;
                        }
                    }
                }
                Event::Deadline => self.end_parked(None),
                Event::AskAgain => self.rerun = true,
                Event::Recheck => {
                    self.session.woken = true;
                    self.rerun = true;
                }
            }
            return Ok(());
        }
    }

    /// The next thing to happen to a parked client. While another node's
    /// answer is on its way, only that answer, a kill or more input count:
    /// the answer may carry a popped element, which must not be lost.
    async fn next_event(&mut self) -> Result<Event, Ended> {
        let Some(parked) = &mut self.parked else {
            return Ok(Event::Woken);
        };
        self.requests.make_room();
        let next_ask = parked.remote.as_ref().map(|r| r.next_ask);
        let due = first_due(parked.deadline, next_ask, parked.recheck);
        let timer = async move {
            match due {
                Some((at, event)) => {
                    tokio::time::sleep_until(at.into()).await;
                    event
                }
                None => std::future::pending().await,
            }
        };
        let handle = &self.handle;
        let input = &mut self.requests.input;
        let stream = &mut self.stream;
        let registration = parked.registration.as_ref();
        let woken = async move {
            match registration {
                Some(registration) => registration.woken().await,
                None => std::future::pending().await,
            }
        };
        let asking = parked.remote.as_mut().and_then(|r| r.asking.as_mut());
        Ok(match asking {
            Some(answer) => tokio::select! {
                biased;
                () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
                bytes = answer => Event::Answered(bytes),
                () = std::future::poll_fn(|cx| handle.poll_pushes(cx)) => Event::Pushes,
                read = stream.recv(input) => Event::Read(read),
            },
            None => tokio::select! {
                biased;
                () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
                () = woken => Event::Woken,
                event = timer => event,
                () = std::future::poll_fn(|cx| handle.poll_pushes(cx)) => Event::Pushes,
                read = stream.recv(input) => Event::Read(read),
            },
        })
    }

    /// Another node answered a forwarded blocking request: "would block"
    /// schedules the next ask (true: keep waiting); anything else is the
    /// request's reply, and the park ends.
    fn answered(&mut self, answer: bytes::Bytes) -> bool {
        let Some(parked) = &mut self.parked else {
            return false;
        };
        let Some(remote) = &mut parked.remote else {
            return false;
        };
        remote.asking = None;
        let Some(timeout) = parse_would_block(&answer) else {
            self.replies.output.extend_from_slice(&answer);
            let len = parked.len;
            self.unpark();
            self.requests.input.drain(..len);
            return false;
        };
        let now = Instant::now();
        if !remote.timed {
            remote.timed = true;
            parked.deadline = timeout.and_then(|t| now.checked_add(t));
            parked.registration = Some(self.node.blocking.register(self.handle.id, 0, []));
            self.handle.set_blocked(true);
        }
        remote.next_ask = now + remote.pause;
        remote.pause = (remote.pause * 2).min(LONGEST_PAUSE);
        true
    }

    /// Answers the parked request with its timeout reply (or `error`) and
    /// takes it from the input.
    fn end_parked(&mut self, error: Option<&str>) {
        let Some(parked) = self.parked.take() else {
            return;
        };
        self.unpark();
        let mut reply = Reply::new(&mut self.replies.output, self.session.resp3);
        match (error, parked.on_timeout) {
            (Some(text), _) => reply.error(text),
            (None, TimeoutReply::NullArray) => reply.null_array(),
            (None, TimeoutReply::NullBulk) => reply.null(),
            (None, TimeoutReply::LeaseWait) => {
                let left = parked.recheck.map_or(Duration::ZERO, |at| {
                    at.saturating_duration_since(Instant::now())
                });
                reply.error(&crate::commands::leases::lease_wait(left.as_millis() as u64));
            }
        }
        self.requests.input.drain(..parked.len);
    }
}

/// The first timer of a parked client to go off: its deadline, the next
/// ask of a forwarded request (before a deadline at the same time), or its
/// recheck.
fn first_due(
    deadline: Option<Instant>,
    next_ask: Option<Instant>,
    recheck: Option<Instant>,
) -> Option<(Instant, Event)> {
    let mut due = deadline.map(|at| (at, Event::Deadline));
    for (at, event) in [(next_ask, Event::AskAgain), (recheck, Event::Recheck)] {
        if let Some(at) = at.filter(|&at| due.as_ref().is_none_or(|(first, _)| at < *first)) {
            due = Some((at, event));
        }
    }
    due
}
