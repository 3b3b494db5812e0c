//! The registry of connected clients, for CLIENT LIST / INFO / KILL, the
//! idle timeout, shutdown and the `connected_clients` figure. Each connection owns an `Arc<ClientHandle>`
//! and refreshes its few shared fields once per batch of commands. A
//! handle also carries what other connections send this one (its
//! [`Inbox`]: Pub/Sub messages, tracking invalidations) and its client
//! tracking mode, which their writes read.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use parking_lot::Mutex;

use crate::inbox::{Inbox, Push};
use crate::store::unix_ms;

/// What other tasks may see or change of one connection.
#[derive(Debug)]
pub struct ClientHandle {
    /// Unique, increasing id.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address on this connection.
    pub local: SocketAddr,
    /// Unix ms at connect.
    pub created_ms: u64,
    /// Unix ms of the last command batch.
    pub last_active_ms: AtomicU64,
    /// Name of the last command (index into the command table).
    pub last_command: AtomicU64,
    /// 2 or 3.
    pub resp: AtomicU8,
    /// CLIENT SETNAME.
    pub name: Mutex<Vec<u8>>,
    /// CLIENT SETINFO lib-name / lib-ver.
    pub lib: Mutex<(Vec<u8>, Vec<u8>)>,
    /// The ACL user it is authenticated as (CLIENT LIST, ACL DELUSER).
    pub user: Mutex<String>,
    /// Bytes waiting in the query buffer.
    pub query_buffer: AtomicU64,
    /// The selected database (SELECT).
    pub db: AtomicU64,
    /// Parked by a blocking command (CLIENT LIST's `b` flag; exempt from
    /// the idle timeout, as in Redis).
    blocked: AtomicBool,
    /// Messages from other connections, written out between replies.
    pub inbox: Inbox,
    /// CLIENT TRACKING: mode and redirect target.
    pub tracking: TrackingState,
    /// The [`Mode`] bits set (CLIENT LIST's `O`, `e`, `T` flags).
    modes: AtomicU8,
    killed: AtomicBool,
    /// Wakes the connection when it is killed or a push arrives.
    kill_waker: AtomicWaker,
}

impl ClientHandle {
    /// Asks the connection to close (CLIENT KILL, shutdown).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_waker.wake();
    }

    /// Queues `push` for this connection and wakes it; a client whose
    /// inbox is over its limits is disconnected instead (the push dropped).
    pub fn deliver(&self, push: Push) {
        if self.inbox.deliver(push) {
            self.kill_waker.wake();
        } else {
            self.kill();
        }
    }

    /// Ready once something waits in the inbox (the same cheap waker as
    /// [`ClientHandle::poll_killed`]).
    pub fn poll_pushes(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.inbox.is_empty() {
            return Poll::Ready(());
        }
        self.kill_waker.register(cx.waker());
        if self.inbox.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    /// Marks the client parked by a blocking command, or no longer.
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::Relaxed);
    }

    /// Sets or clears one of the client's modes.
    pub fn set_mode(&self, mode: Mode, on: bool) {
        if on {
            self.modes.fetch_or(mode as u8, Ordering::Relaxed);
        } else {
            self.modes.fetch_and(!(mode as u8), Ordering::Relaxed);
        }
    }

    /// True when `mode` is set.
    pub fn has_mode(&self, mode: Mode) -> bool {
        self.modes.load(Ordering::Relaxed) & mode as u8 != 0
    }

    /// CLIENT LIST's flags: `O` monitor, `b` blocked, `e` no-evict, `T`
    /// no-touch, in Redis's order; `N` for none.
    fn flags(&self, tracking: &str) -> String {
        let mut flags = String::new();
        let modes = [
            (self.has_mode(Mode::Monitor), "O"),
            (self.is_blocked(), "b"),
            (true, tracking),
            (self.has_mode(Mode::NoEvict), "e"),
            (self.has_mode(Mode::NoTouch), "T"),
        ];
        for (on, flag) in modes {
            if on {
                flags.push_str(flag);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }

    /// True while parked by a blocking command.
    pub fn is_blocked(&self) -> bool {
        self.blocked.load(Ordering::Relaxed)
    }

    /// True once killed.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Ready once the client is killed. The connection polls this at every
    /// wake-up, so it is an atomic load and, while pending, a waker swap
    /// (a `Notify` would register and drop a waiter each time).
    pub fn poll_killed(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_killed() {
            return Poll::Ready(());
        }
        self.kill_waker.register(cx.waker());
        // A kill between the load and the registration woke nobody.
        if self.is_killed() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Milliseconds since the connection last received anything.
    pub fn idle_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.last_active_ms.load(Ordering::Relaxed))
    }

    /// The client's name, lossily as text.
    pub fn name_text(&self) -> String {
        String::from_utf8_lossy(&self.name.lock()).into_owned()
    }

    /// One line of CLIENT LIST (Redis field names).
    pub fn describe(&self, now_ms: u64, command_name: &str) -> String {
        let (lib_name, lib_ver) = {
            let lib = self.lib.lock();
            (
                String::from_utf8_lossy(&lib.0).into_owned(),
                String::from_utf8_lossy(&lib.1).into_owned(),
            )
        };
        let (tracking, redir) = self.tracking.describe();
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.peer,
            self.local,
            self.name_text(),
            now_ms.saturating_sub(self.created_ms) / 1000,
            self.idle_ms(now_ms) / 1000,
            self.flags(&tracking),
            self.db.load(Ordering::Relaxed),
            self.query_buffer.load(Ordering::Relaxed),
            command_name,
            self.user.lock(),
            redir,
            self.resp.load(Ordering::Relaxed),
            lib_name,
            lib_ver,
        )
    }
}

/// A client's modes other tasks may see (CLIENT LIST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// MONITOR.
    Monitor = 1,
    /// CLIENT NO-EVICT on.
    NoEvict = 1 << 1,
    /// CLIENT NO-TOUCH on.
    NoTouch = 1 << 2,
}

/// All connected clients.
#[derive(Debug, Default)]
pub struct Clients {
    next_id: AtomicU64,
    by_id: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
}

impl Clients {
    /// Registers a new connection.
    pub fn register(&self, peer: SocketAddr, local: SocketAddr) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let now = unix_ms();
        let handle = Arc::new(ClientHandle {
            id,
            peer,
            local,
            created_ms: now,
            last_active_ms: AtomicU64::new(now),
            last_command: AtomicU64::new(u64::MAX),
            resp: AtomicU8::new(2),
            name: Mutex::new(Vec::new()),
            lib: Mutex::new((Vec::new(), Vec::new())),
            // Every connection starts as the ACL's `default` user.
            user: Mutex::new("default".to_string()),
            query_buffer: AtomicU64::new(0),
            db: AtomicU64::new(0),
            blocked: AtomicBool::new(false),
            inbox: Inbox::default(),
            tracking: TrackingState::default(),
            modes: AtomicU8::new(0),
            killed: AtomicBool::new(false),
            kill_waker: AtomicWaker::new(),
        });
        self.by_id.lock().insert(id, handle.clone());
        handle
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.by_id.lock().remove(&id);
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.by_id.lock().len()
    }

    /// True when no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks every connection `doomed` picks to close after the replies in
    /// flight (shutdown, the idle timeout).
    pub fn kill_where(&self, doomed: impl Fn(&ClientHandle) -> bool) {
        for handle in self.by_id.lock().values() {
            if doomed(handle) {
                handle.kill();
            }
        }
    }

    /// The client with this id, if connected.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.by_id.lock().get(&id).cloned()
    }

    /// A snapshot of all clients, by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.by_id.lock().values().cloned().collect()
    }
}

/// A client's tracking mode (CLIENT TRACKING's options, CLIENT CACHING's
/// one-command override, a redirect found broken), as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackingMode(pub u8);

impl TrackingMode {
    /// Tracking is on.
    pub const ON: TrackingMode = TrackingMode(1);
    /// Broadcasting: invalidated by prefix, not by keys read.
    pub const BCAST: TrackingMode = TrackingMode(1 << 1);
    /// Keys are remembered only after CLIENT CACHING yes.
    pub const OPTIN: TrackingMode = TrackingMode(1 << 2);
    /// Keys are remembered unless CLIENT CACHING no.
    pub const OPTOUT: TrackingMode = TrackingMode(1 << 3);
    /// Not invalidated for its own writes.
    pub const NOLOOP: TrackingMode = TrackingMode(1 << 4);
    /// CLIENT CACHING was given for the next command.
    pub const CACHING: TrackingMode = TrackingMode(1 << 5);
    /// The redirect target was found gone.
    pub const BROKEN_REDIRECT: TrackingMode = TrackingMode(1 << 6);

    /// True if every bit of `other` is set.
    #[inline]
    pub fn has(self, other: TrackingMode) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets.
    pub fn with(self, other: TrackingMode) -> TrackingMode {
        TrackingMode(self.0 | other.0)
    }
}

/// One connection's tracking state, read by the connections whose writes
/// invalidate its keys and by CLIENT LIST.
#[derive(Debug, Default)]
pub struct TrackingState {
    mode: AtomicU8,
    redirect: AtomicU64,
}

impl TrackingState {
    /// The mode now (one atomic load; zero when tracking is off).
    #[inline]
    pub fn mode(&self) -> TrackingMode {
        TrackingMode(self.mode.load(Ordering::Acquire))
    }

    /// Replaces the mode and the redirect target (0: none).
    pub fn set(&self, mode: TrackingMode, redirect: u64) {
        self.redirect.store(redirect, Ordering::Release);
        self.mode.store(mode.0, Ordering::Release);
    }

    /// Sets the bits of `bits`.
    pub fn insert(&self, bits: TrackingMode) {
        self.mode.fetch_or(bits.0, Ordering::AcqRel);
    }

    /// Clears the bits of `bits`.
    pub fn remove(&self, bits: TrackingMode) {
        self.mode.fetch_and(!bits.0, Ordering::AcqRel);
    }

    /// The redirect target's id, 0 for none.
    pub fn redirect(&self) -> u64 {
        self.redirect.load(Ordering::Acquire)
    }

    /// CLIENT LIST's flag letters for this state (`t`, `R`, `B`, in
    /// Redis's order) and its `redir` field.
    pub fn describe(&self) -> (String, i64) {
        let mode = self.mode();
        if !mode.has(TrackingMode::ON) {
            return (String::new(), -1);
        }
        let mut flags = String::from("t");
        if mode.has(TrackingMode::BROKEN_REDIRECT) {
            flags.push('R');
        }
        if mode.has(TrackingMode::BCAST) {
            flags.push('B');
        }
        (flags, self.redirect() as i64)
    }
}
