//! Waiting for another process's lease on the server (`RC.LEASE.GET key
//! ttl BLOCK ms`): the node parks the request and answers when the lease's
//! holder fills the key (its value), when the lease ends unfilled (a new
//! lease for this caller) or when the wait is up (`-LEASEWAIT`), so a
//! waiter learns of the fill at once instead of at its next poll.
//!
//! A parked request holds up every request behind it on its connection,
//! so waits never use the client's multiplexed connections: each takes a
//! connection of its own to the key's primary, from a few kept idle
//! ([`IDLE_MAX`]), and at most [`PARKED_MAX`] wait at once (the others
//! poll). A server without `BLOCK` (an older ringcache) answers `ERR`: the
//! helper then polls for good. Any other failure (a redirect, a lost
//! connection) makes this wait poll instead; the polling path counts it
//! against the circuit breaker.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use crate::connection::{Connection, ConnectionOptions};
use crate::resp::Value;

/// Connections kept idle for the next wait, over every node.
const IDLE_MAX: usize = 16;
/// Waits parked on the server at once; past it, callers poll.
const PARKED_MAX: usize = 64;

// 0 (the default): not known yet.
const SUPPORT_YES: u8 = 1;
const SUPPORT_NO: u8 = 2;

/// What a parked `RC.LEASE.GET` answered.
pub(super) enum Answer {
    /// The key's value (filled while waiting, or there all along).
    Value(Vec<u8>),
    /// This caller's lease (the one waited for ended unfilled).
    Token(u64),
    /// The wait was up with the lease still held, this long left.
    Wait(Duration),
    /// The lease table is full: load without a lease.
    Full,
}

/// See the module docs; one per [`CacheAside`](super::CacheAside).
#[derive(Default)]
pub(super) struct ParkedWaits {
    /// Whether the server parks waits: not known yet (0), yes, no.
    support: AtomicU8,
    parked: AtomicUsize,
    /// Idle connections and their node. A std lock: held to take or put
    /// one back, never across an `.await`.
    idle: Mutex<Vec<(Arc<str>, Connection)>>,
}

/// A wait's place among [`PARKED_MAX`], given back when dropped.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ParkedWaits {
    /// Whether the server may park waits (not known to lack `BLOCK`).
    pub(super) fn supported(&self) -> bool {
        self.support.load(Ordering::Relaxed) != SUPPORT_NO
    }

    /// Asks `node` for `key`'s value or lease, parked there until
    /// `until` at the latest (`ttl` is the lease to take); `None` when
    /// this wait should poll instead (see the module docs).
    pub(super) async fn ask(
        &self,
        node: Arc<str>,
        options: &ConnectionOptions,
        request_timeout: Duration,
        key: &str,
        ttl: Duration,
        until: Instant,
    ) -> Option<Answer> {
        if self.parked.fetch_add(1, Ordering::Relaxed) >= PARKED_MAX {
            self.parked.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let _slot = Slot(&self.parked);
        let block = until.saturating_duration_since(Instant::now());
        let block_ms = block.as_millis().max(1).to_string();
        let ttl_ms = ttl.as_millis().max(1).to_string();
        let args: [&[u8]; 5] = [
            b"RC.LEASE.GET",
            key.as_bytes(),
            ttl_ms.as_bytes(),
            b"BLOCK",
            block_ms.as_bytes(),
        ];
        let connection = self.take(&node, options);
        // The node answers by `block`; past it plus an ordinary request's
        // time, the connection is given up.
        let reply = connection.query(&args, block + request_timeout).await;
        let answer = match reply {
            Ok(Value::Bulk(bytes)) => Answer::Value(bytes),
            Ok(Value::Int(token)) if token > 0 => Answer::Token(token as u64),
            Ok(Value::Nil) => Answer::Full,
            Err(e) if e.code() == Some("LEASEWAIT") => Answer::Wait(super::lease::lease_wait(&e)),
            Err(e) if e.code() == Some("ERR") => {
                if self.support.swap(SUPPORT_NO, Ordering::Relaxed) != SUPPORT_NO {
                    warn!(error = %e, "the cache cannot park lease waits (RC.LEASE.GET BLOCK): waiters poll");
                }
                return None;
            }
            // A redirect, a lost connection, a timeout: this wait polls,
            // and the connection is not kept.
            _ => return None,
        };
        self.support.store(SUPPORT_YES, Ordering::Relaxed);
        self.put_back(node, connection);
        Some(answer)
    }

    /// An idle connection to `node`, or a new one.
    fn take(&self, node: &Arc<str>, options: &ConnectionOptions) -> Connection {
        if let Ok(mut idle) = self.idle.lock() {
            if let Some(at) = idle.iter().position(|(addr, _)| addr == node) {
                return idle.swap_remove(at).1;
            }
        }
        let options = ConnectionOptions {
            readonly: false,
            listener: None,
            ..options.clone()
        };
        Connection::new(node.to_string(), options)
    }

    /// Keeps `connection` for the next wait, if there is room.
    fn put_back(&self, node: Arc<str>, connection: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < IDLE_MAX {
                idle.push((node, connection));
            }
        }
    }
}
