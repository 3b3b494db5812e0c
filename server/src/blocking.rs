//! Clients blocked on keys (BLPOP, BLMOVE, BLMPOP, ...): per key, the
//! waiting clients in arrival order, and the one wake-up every write path
//! calls when a key may have become ready ([`Blocking::key_ready`]).
//!
//! A blocking command that finds nothing registers its client on its keys
//! ([`Blocking::register`], while it still holds the keys' shard locks, so
//! no push can slip between its look and its registration) and hands the
//! [`Registration`] to its connection, which waits on it and then runs the
//! same request again through the normal path: routing, statistics and
//! replication treat the pop as any other. Only the first client in a
//! key's queue is woken; it keeps its place if another client took the
//! element first, and passes the wake-up on when it leaves the queue
//! (served, timed out, unblocked, killed), so clients are served in the
//! order they blocked.
//!
//! The registry is a side map behind a short mutex, never held across an
//! `.await` nor while a shard lock is taken; it holds at most one
//! registration per connection (so it is bounded by `maxclients`), each
//! naming the keys of one request.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Why CLIENT UNBLOCK ended a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unblock {
    /// As if the timeout had passed.
    Timeout,
    /// With Redis's `-UNBLOCKED` error.
    Error,
}

const NOT_UNBLOCKED: u8 = 0;
const UNBLOCK_TIMEOUT: u8 = 1;
const UNBLOCK_ERROR: u8 = 2;

/// The error a client unblocked with `CLIENT UNBLOCK id ERROR` gets.
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// What a blocking command answers when its time is up (or when it may
/// not block): a null reply of one shape or the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReply {
    /// A null array (every blocked list command in Redis 7.0, BLMOVE
    /// included).
    NullArray,
    /// A null bulk string (BLMOVE and BRPOPLPUSH that may not block).
    NullBulk,
    /// `RC.LEASE.GET`'s `-LEASEWAIT <ms>`, with the time left until the
    /// lease it waited for ends (its [`Block::recheck`]).
    LeaseWait,
}

/// The word of a node's answer to a blocking command another node
/// forwarded when it has nothing to serve (see [`would_block`]).
const WOULD_BLOCK: &str = "RCBLOCKED";

/// Peer protocol: a node does not park a link from another node (the link
/// carries other clients' requests); a blocking command that finds nothing
/// answers `-RCBLOCKED <timeout in ms, 0 for ever>` instead, and the
/// forwarding node parks its own client and asks again
/// ([`parse_would_block`]).
pub fn would_block(timeout: Option<Duration>) -> String {
    let ms = timeout.map_or(0, |t| t.as_millis().max(1));
    format!("{WOULD_BLOCK} {ms}")
}

/// The timeout in a [`would_block`] reply (`Some(None)`: for ever), or
/// `None` for any other reply.
pub fn parse_would_block(frame: &[u8]) -> Option<Option<Duration>> {
    let text = frame.strip_prefix(b"-")?.strip_suffix(b"\r\n")?;
    let ms = text
        .strip_prefix(WOULD_BLOCK.as_bytes())?
        .strip_prefix(b" ")?;
    let ms: u64 = std::str::from_utf8(ms).ok()?.parse().ok()?;
    Some((ms > 0).then(|| Duration::from_millis(ms)))
}

/// A blocking command that found nothing to serve: its connection parks
/// the client until a key is ready, the deadline passes, or the client is
/// unblocked, killed or shut down.
#[derive(Debug)]
pub struct Block {
    /// The client's place in its keys' queues; `None` when the request was
    /// woken and blocks again (it keeps the place it has).
    pub registration: Option<Registration>,
    /// When it stops waiting; `None` to wait for ever.
    pub deadline: Option<Instant>,
    /// Its reply then.
    pub on_timeout: TimeoutReply,
    /// When to run the request again even if no key was woken (a lease
    /// that may end unfilled); `None`: only on a wake-up.
    pub recheck: Option<Instant>,
}

/// One blocked client.
#[derive(Debug)]
struct Waiter {
    client: u64,
    /// The database its keys are in.
    db: usize,
    keys: Vec<Box<[u8]>>,
    wake: Notify,
    unblock: AtomicU8,
}

/// The clients waiting on one database's keys, each key's in arrival order.
type Queues = HashMap<Box<[u8]>, VecDeque<Arc<Waiter>>>;

#[derive(Debug, Default)]
struct Registry {
    /// Per database.
    by_key: HashMap<usize, Queues>,
    by_client: HashMap<u64, Arc<Waiter>>,
}

/// See the module docs; one per node.
#[derive(Debug, Default)]
pub struct Blocking {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    registry: Mutex<Registry>,
    /// Registered clients: INFO's `blocked_clients`, and the check that
    /// lets a write skip the registry while nobody waits.
    blocked: AtomicUsize,
}

/// A client's place in the queues of its keys; dropping it leaves them
/// (and wakes the next client of each queue it headed).
#[derive(Debug)]
pub struct Registration {
    waiter: Arc<Waiter>,
    shared: Arc<Shared>,
}

impl Blocking {
    /// Queues `client` on `keys` of database `db` (a key named twice is
    /// queued once). Call it holding the keys' shard locks, after finding
    /// nothing to serve.
    pub fn register<'k>(
        &self,
        client: u64,
        db: usize,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> Registration {
        // In order, each once: a set checks for repeats, so many keys cost
        // a linear time (this runs under the keys' shard locks).
        let mut seen: HashSet<&[u8]> = HashSet::new();
        let unique: Vec<Box<[u8]>> = keys
            .into_iter()
            .filter(|key| seen.insert(key))
            .map(Box::from)
            .collect();
        let waiter = Arc::new(Waiter {
            client,
            db,
            keys: unique,
            wake: Notify::new(),
            unblock: AtomicU8::new(NOT_UNBLOCKED),
        });
        let mut registry = self.shared.registry.lock();
        let queues = registry.by_key.entry(db).or_default();
        for key in &waiter.keys {
            queues
                .entry(key.clone())
                .or_default()
                .push_back(waiter.clone());
        }
        if let Some(old) = registry.by_client.insert(client, waiter.clone()) {
            // One blocked request per connection: a stale one (never
            // expected) leaves the queues rather than linger in them.
            leave(&mut registry, &old);
        } else {
            self.shared.blocked.fetch_add(1, Ordering::SeqCst);
        }
        drop(registry);
        Registration {
            waiter,
            shared: self.shared.clone(),
        }
    }

    /// Key `key` of database `db` may now serve a blocked client (a push,
    /// a move into it, a transaction or script that wrote it): wakes the
    /// first client queued on it. Costs one atomic load while no client is
    /// blocked.
    pub fn key_ready(&self, db: usize, key: &[u8]) {
        if self.shared.blocked.load(Ordering::SeqCst) == 0 {
            return;
        }
        let registry = self.shared.registry.lock();
        let queue = registry.by_key.get(&db).and_then(|keys| keys.get(key));
        if let Some(first) = queue.and_then(VecDeque::front) {
            first.wake.notify_one();
        }
    }

    /// Databases `a` and `b` traded contents (SWAPDB): every client blocked
    /// on a key of either looks at its keys again.
    pub fn databases_swapped(&self, a: usize, b: usize) {
        if self.shared.blocked.load(Ordering::SeqCst) == 0 {
            return;
        }
        let registry = self.shared.registry.lock();
        for db in [a, b] {
            let queues = registry
                .by_key
                .get(&db)
                .into_iter()
                .flat_map(HashMap::values);
            for first in queues.filter_map(VecDeque::front) {
                first.wake.notify_one();
            }
        }
    }

    /// True while any client is blocked.
    #[inline]
    pub fn any(&self) -> bool {
        self.shared.blocked.load(Ordering::SeqCst) > 0
    }

    /// CLIENT UNBLOCK: ends the block of `client` the way `how` says;
    /// false if it is not blocked.
    pub fn unblock(&self, client: u64, how: Unblock) -> bool {
        let registry = self.shared.registry.lock();
        let Some(waiter) = registry.by_client.get(&client) else {
            return false;
        };
        let code = match how {
            Unblock::Timeout => UNBLOCK_TIMEOUT,
            Unblock::Error => UNBLOCK_ERROR,
        };
        waiter.unblock.store(code, Ordering::SeqCst);
        waiter.wake.notify_one();
        true
    }

    /// Clients blocked now (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.shared.blocked.load(Ordering::SeqCst)
    }
}

impl Registration {
    /// Completes when the client should look at its keys again (one of them
    /// may be ready) or was unblocked; at once if that happened since the
    /// last wait.
    pub async fn woken(&self) {
        self.waiter.wake.notified().await;
    }

    /// How CLIENT UNBLOCK ended the block, if it did.
    pub fn unblocked(&self) -> Option<Unblock> {
        match self.waiter.unblock.load(Ordering::SeqCst) {
            UNBLOCK_TIMEOUT => Some(Unblock::Timeout),
            UNBLOCK_ERROR => Some(Unblock::Error),
            _ => None,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut registry = self.shared.registry.lock();
        let current = registry
            .by_client
            .get(&self.waiter.client)
            .is_some_and(|w| Arc::ptr_eq(w, &self.waiter));
        if current {
            registry.by_client.remove(&self.waiter.client);
            self.shared.blocked.fetch_sub(1, Ordering::SeqCst);
        }
        leave(&mut registry, &self.waiter);
    }
}

/// Takes `waiter` out of its keys' queues; the new first client of a queue
/// it headed is woken, to look at the key in its place.
fn leave(registry: &mut Registry, waiter: &Arc<Waiter>) {
    let Some(queues) = registry.by_key.get_mut(&waiter.db) else {
        return;
    };
    for key in &waiter.keys {
        let Some(queue) = queues.get_mut(key) else {
            continue;
        };
        let Some(at) = queue.iter().position(|w| Arc::ptr_eq(w, waiter)) else {
            continue;
        };
        queue.remove(at);
        if queue.is_empty() {
            queues.remove(key);
        } else if at == 0 {
            if let Some(next) = queue.front() {
                next.wake.notify_one();
            }
        }
    }
    if queues.is_empty() {
        registry.by_key.remove(&waiter.db);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn woken_now(registration: &Registration) -> bool {
        use std::future::Future;
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        let wait = registration.woken();
        let mut wait = std::pin::pin!(wait);
        wait.as_mut().poll(&mut cx).is_ready()
    }

    #[test]
    fn the_first_waiter_of_a_key_is_woken_and_passes_it_on() {
        let blocking = Blocking::default();
        let a = blocking.register(1, 0, [&b"k"[..], b"other", b"k"]);
        let b = blocking.register(2, 0, [&b"k"[..]]);
        assert_eq!(blocking.blocked_clients(), 2);
        blocking.key_ready(0, b"k");
        assert!(woken_now(&a));
        assert!(!woken_now(&b), "only the first in line");
        assert!(!woken_now(&a), "one wake-up per ready signal");
        drop(a);
        assert!(woken_now(&b), "the leaving head passes the wake-up on");
        assert_eq!(blocking.blocked_clients(), 1);
        blocking.key_ready(0, b"other");
        assert!(!woken_now(&b));
        drop(b);
        assert_eq!(blocking.blocked_clients(), 0);
        assert!(blocking.shared.registry.lock().by_key.is_empty());
    }

    #[test]
    fn a_would_block_reply_carries_its_timeout() {
        for timeout in [None, Some(Duration::from_millis(1500))] {
            let frame = format!("-{}\r\n", would_block(timeout));
            assert_eq!(parse_would_block(frame.as_bytes()), Some(timeout));
        }
        assert_eq!(parse_would_block(b"-ERR RCBLOCKED 5\r\n"), None);
        assert_eq!(parse_would_block(b"*-1\r\n"), None);
        assert_eq!(parse_would_block(b"-RCBLOCKED x\r\n"), None);
    }

    #[test]
    fn unblock_names_the_client_and_says_how() {
        let blocking = Blocking::default();
        let a = blocking.register(7, 0, [&b"k"[..]]);
        assert!(!blocking.unblock(8, Unblock::Error));
        assert_eq!(a.unblocked(), None);
        assert!(blocking.unblock(7, Unblock::Error));
        assert!(woken_now(&a));
        assert_eq!(a.unblocked(), Some(Unblock::Error));
        drop(a);
        assert!(!blocking.unblock(7, Unblock::Timeout));
        assert!(!blocking.any());
    }
}
