//! CLIENT PAUSE: holding clients' commands for a while, as Redis 7 does.
//! `WRITE` holds the commands that may write or replicate (writes, EVAL,
//! FCALL, PUBLISH, PFCOUNT, an EXEC of any of them), `ALL` every command
//! from a client; links from other nodes are never held (Redis never
//! pauses its replicas). A held connection waits without polling (a
//! `Notify` and the pause's end time) and, when the pause ends, the held
//! requests run in the order they were held: each takes a ticket, and a
//! ticket runs only once those before it ran (or their clients left).
//! Active expiry and eviction wait too while a pause is on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// What a pause holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Commands that may write or replicate.
    Write,
    /// Every command.
    All,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Pause {
    /// A pause is on, or held requests still wait for their turn: the one
    /// load an ordinary request pays.
    active: AtomicBool,
    state: Mutex<State>,
    /// Bumped by every change a held request may wait for (a pause, an
    /// unpause, a ticket gone), before `changed` wakes the waiters: a
    /// waiter that registered and then sees the number it was told moved
    /// on has missed nothing.
    generation: AtomicU64,
    /// Wakes held connections (the pause ended, a ticket went).
    pub changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// The pause, until when.
    pause: Option<(Mode, Instant)>,
    /// The mode of the last pause, while held requests wait their turn.
    draining: Option<Mode>,
    /// Tickets of held requests, in the order they were held.
    queue: VecDeque<u64>,
    next_ticket: u64,
}

/// A held request's place in line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// Whether a request must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// It runs now.
    Run,
    /// It waits until `until` at the latest (the pause's end), or a
    /// wake-up on [`Pause::changed`]; `seen` is the
    /// [`Pause::generation`] it was decided at.
    Wait {
        /// The pause's end, if one is on.
        until: Option<Instant>,
        /// The generation seen.
        seen: u64,
    },
}

impl State {
    /// Ends an expired pause.
    fn expire(&mut self, now: Instant) {
        if let Some((mode, end)) = self.pause {
            if now >= end {
                self.pause = None;
                self.draining = (!self.queue.is_empty()).then_some(mode);
            }
        }
    }

    fn holds(mode: Option<Mode>, may_write: bool) -> bool {
        match mode {
            Some(Mode::All) => true,
            Some(Mode::Write) => may_write,
            None => false,
        }
    }
}

impl Pause {
    /// True while a pause is on or held requests wait (one atomic load).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Pauses clients for `timeout` in `mode`. As Redis, a pause never
    /// shortens or weakens one already on: the later end and the stronger
    /// mode win.
    pub fn pause(&self, mode: Mode, timeout: Duration) {
        let now = Instant::now();
        let end = now
            .checked_add(timeout)
            .unwrap_or(now + Duration::from_secs(1 << 32));
        let mut state = self.state.lock();
        state.expire(now);
        state.pause = Some(match state.pause {
            Some((old_mode, old_end)) => (old_mode.max(mode), old_end.max(end)),
            None => (mode, end),
        });
        state.draining = None;
        self.active.store(true, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Requests held now (and those waiting their turn after the pause).
    pub fn held(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// The number of changes so far (see [`Hold::Wait`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Ends the pause (CLIENT UNPAUSE): held requests run, in order.
    pub fn unpause(&self) {
        let mut state = self.state.lock();
        if let Some((mode, _)) = state.pause.take() {
            state.draining = (!state.queue.is_empty()).then_some(mode);
        }
        self.settle(&state);
        self.generation.fetch_add(1, Ordering::Release);
        drop(state);
        self.changed.notify_waiters();
    }

    /// True while a pause is on in any mode (expiry and eviction wait).
    pub fn is_paused(&self) -> bool {
        if !self.is_active() {
            return false;
        }
        let mut state = self.state.lock();
        state.expire(Instant::now());
        self.settle(&state);
        state.pause.is_some()
    }

    /// Whether a request (that `may_write`, holding `ticket` if it was
    /// held before) runs now. A request held for the first time gets its
    /// ticket in `ticket`.
    pub fn hold(&self, may_write: bool, ticket: &mut Option<Ticket>) -> Hold {
        let mut state = self.state.lock();
        let now = Instant::now();
        state.expire(now);
        let paused = State::holds(state.pause.map(|(mode, _)| mode), may_write);
        // Once the pause is over, held requests go first, in order.
        let behind = match *ticket {
            Some(Ticket(t)) => state.queue.front().is_some_and(|&first| first != t),
            None => State::holds(state.draining, may_write) && !state.queue.is_empty(),
        };
        if !paused && !behind {
            self.settle(&state);
            return Hold::Run;
        }
        if ticket.is_none() {
            let t = state.next_ticket;
            state.next_ticket += 1;
            state.queue.push_back(t);
            *ticket = Some(Ticket(t));
        }
        Hold::Wait {
            until: state.pause.map(|(_, end)| end),
            seen: self.generation(),
        }
    }

    /// A held request ran, or its client left: the next one may go.
    pub fn done(&self, ticket: Ticket) {
        let mut state = self.state.lock();
        state.queue.retain(|&t| t != ticket.0);
        if state.queue.is_empty() {
            state.draining = None;
        }
        self.settle(&state);
        self.generation.fetch_add(1, Ordering::Release);
        drop(state);
        self.changed.notify_waiters();
    }

    fn settle(&self, state: &State) {
        let active = state.pause.is_some() || !state.queue.is_empty();
        self.active.store(active, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_pauses_hold_writes_only_and_release_in_order() {
        let pause = Pause::default();
        assert!(!pause.is_active());
        pause.pause(Mode::Write, Duration::from_secs(60));
        let mut read = None;
        assert_eq!(pause.hold(false, &mut read), Hold::Run);
        let (mut first, mut second) = (None, None);
        assert!(matches!(
            pause.hold(true, &mut first),
            Hold::Wait { until: Some(_), .. }
        ));
        assert!(matches!(
            pause.hold(true, &mut second),
            Hold::Wait { until: Some(_), .. }
        ));
        pause.unpause();
        assert!(!pause.is_paused());
        // The second waits for the first; a new write waits behind both.
        assert!(matches!(
            pause.hold(true, &mut second),
            Hold::Wait { until: None, .. }
        ));
        let mut third = None;
        assert!(matches!(
            pause.hold(true, &mut third),
            Hold::Wait { until: None, .. }
        ));
        assert_eq!(pause.hold(true, &mut first), Hold::Run);
        pause.done(first.unwrap());
        assert_eq!(pause.hold(true, &mut second), Hold::Run);
        pause.done(second.unwrap());
        assert_eq!(pause.hold(true, &mut third), Hold::Run);
        pause.done(third.unwrap());
        assert!(!pause.is_active());
    }

    #[test]
    fn a_pause_never_shortens_or_weakens_one_on() {
        let pause = Pause::default();
        pause.pause(Mode::All, Duration::from_secs(60));
        pause.pause(Mode::Write, Duration::from_millis(1));
        let mut read = None;
        let held = pause.hold(false, &mut read);
        assert!(
            matches!(held, Hold::Wait { until: Some(end), .. } if end > Instant::now() + Duration::from_secs(30))
        );
        pause.done(read.unwrap());
        pause.pause(Mode::Write, Duration::ZERO);
        pause.unpause();
        let mut write = None;
        assert_eq!(pause.hold(true, &mut write), Hold::Run);
    }
}
