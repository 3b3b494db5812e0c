//! Cluster-wide leases on the load path of a [`CacheAside`](super::CacheAside)
//! (`RC.LEASE.GET`, `RC.LEASE.FILL`, `RC.LEASE.RELEASE` on ringcache):
//! the leader of a miss asks the key's primary for its lease; if another
//! process holds it, the leader waits parked on the node (`BLOCK`,
//! [`super::parked`]) or, where the node cannot park it, polls (short
//! growing pauses, never past the lease's remaining time) until that
//! process fills the key or its lease expires; the lease's holder loads
//! and fills with its token, which the
//! server refuses after any newer write, delete or flush of the key. The
//! first `ERR` (a server without the commands: redis-server) switches
//! leases off for good, back to per-process single flight.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tracing::warn;

use super::config::LEASE_MARGIN;
use super::parked::Answer;
use super::{bump, Inner};
use crate::codec::Codec;
use crate::envelope::Outcome;
use crate::error::{Error, ErrorKind};
use crate::Value;

/// Lease support not yet known.
pub(super) const LEASES_UNKNOWN: u8 = 0;
const LEASES_YES: u8 = 1;
const LEASES_NO: u8 = 2;

/// The first pause of a caller waiting for another process's fill, doubled
/// after each poll up to [`LAST_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(2);
const LAST_POLL: Duration = Duration::from_millis(25);

/// What the leader of a miss got from the cache.
pub(super) enum Leased {
    /// The key holds these bytes (found at once, or filled by the lease's
    /// holder while this caller waited).
    Value(Vec<u8>),
    /// This caller holds the key's lease: load, then fill with this token.
    Token(u64),
    /// Missing, without a lease (the server's table is full, the wait
    /// outlasted its bound, or the server has no leases): populate as
    /// without leases (`SET NX`).
    Miss,
    /// The cache was skipped (open circuit) or failed: do not populate.
    Unreachable,
}

/// One `RC.LEASE.GET` reply.
enum Reply {
    Value(Vec<u8>),
    Token(u64),
    /// `-LEASEWAIT <ms>`.
    Wait(Duration),
    /// Nil: the lease table is full.
    Full,
    /// `ERR`: no such command here.
    Unsupported,
}

impl<C: Codec> Inner<C> {
    /// Whether a miss takes a lease: configured, and not known to be
    /// unsupported.
    pub(super) fn leases_on(&self) -> bool {
        self.config.leases && self.lease_support.load(Ordering::Relaxed) != LEASES_NO
    }

    /// How long a lease lives: past the slowest loader and its fill.
    fn lease_ttl(&self) -> Duration {
        self.config.load_timeout + LEASE_MARGIN
    }

    /// The value of `key`, or its lease, waiting out another process's
    /// lease (at most one lease's lifetime; then [`Leased::Miss`]).
    pub(super) async fn lease(&self, key: &str) -> Leased {
        let ttl = self.lease_ttl();
        let deadline = Instant::now() + ttl;
        let mut pause = FIRST_POLL;
        let mut waited = false;
        // Park the next ask on the node; once a parked ask fails, this
        // wait polls to its end.
        let mut park = false;
        loop {
            let parked = match park {
                true => self.ask_parked(key, ttl, deadline).await,
                false => None,
            };
            park = park && parked.is_some();
            let answered_parked = parked.is_some();
            let outcome = match parked {
                Some(reply) => Outcome::Done(reply),
                None => self.ask(key, ttl).await,
            };
            match outcome {
                Outcome::Done(Reply::Value(bytes)) => {
                    if waited {
                        bump(&self.counters.lease_waits);
                    }
                    return Leased::Value(bytes);
                }
                Outcome::Done(Reply::Token(token)) => return Leased::Token(token),
                Outcome::Done(Reply::Wait(left)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Leased::Miss;
                    }
                    if !waited && self.parked.supported() {
                        park = true;
                    }
                    waited = true;
                    // A parked ask answered before the deadline with
                    // another wait (a node that could not park it: one
                    // reached through a forwarding node answers at once)
                    // naps as a poll does before it asks again.
                    if park && !answered_parked {
                        continue;
                    }
                    let nap = pause.min(left).min(deadline - now);
                    tokio::time::sleep(nap).await;
                    pause = (pause * 2).min(LAST_POLL);
                }
                Outcome::Done(Reply::Full | Reply::Unsupported) => return Leased::Miss,
                Outcome::Skipped | Outcome::Failed(_) => return Leased::Unreachable,
            }
        }
    }

    /// One `RC.LEASE.GET key ttl-ms BLOCK ms` parked on the key's primary
    /// until `deadline` at the latest; `None`: poll instead.
    async fn ask_parked(&self, key: &str, ttl: Duration, deadline: Instant) -> Option<Reply> {
        let router = self.store.client.router();
        let node = router.primary_of(key.as_bytes()).ok()?;
        let options = router.connection_options();
        let timeout = router.config().request_timeout;
        let until = tokio::time::Instant::from_std(deadline);
        let answer = self
            .parked
            .ask(node, options, timeout, key, ttl, until)
            .await?;
        Some(match answer {
            Answer::Value(bytes) => Reply::Value(bytes),
            Answer::Token(token) => Reply::Token(token),
            Answer::Wait(left) => Reply::Wait(left),
            Answer::Full => Reply::Full,
        })
    }

    /// One `RC.LEASE.GET key ttl-ms`, through the breaker. A wait is a
    /// reply here, not a cache error.
    async fn ask(&self, key: &str, ttl: Duration) -> Outcome<Reply> {
        let client = &self.store.client;
        let millis = ttl.as_millis().max(1).to_string();
        let request = async {
            let args: [&[u8]; 3] = [b"RC.LEASE.GET", key.as_bytes(), millis.as_bytes()];
            match client.cmd(&args).await {
                Ok(Value::Bulk(bytes)) => Ok(Reply::Value(bytes)),
                Ok(Value::Int(token)) if token > 0 => Ok(Reply::Token(token as u64)),
                Ok(Value::Nil) => Ok(Reply::Full),
                Ok(other) => Err(Error::new(
                    ErrorKind::Protocol,
                    format!("unexpected RC.LEASE.GET reply {other:?}"),
                )),
                Err(e) if e.code() == Some("LEASEWAIT") => Ok(Reply::Wait(lease_wait(&e))),
                Err(e) if e.code() == Some("ERR") => {
                    if self.lease_support.swap(LEASES_NO, Ordering::Relaxed) != LEASES_NO {
                        warn!(
                            error = %e,
                            "the cache has no RC.LEASE.GET (not ringcache?): misses use \
                             per-process single flight"
                        );
                    }
                    Ok(Reply::Unsupported)
                }
                Err(e) => Err(e),
            }
        };
        let outcome = self.store.call(request, None).await;
        if let Outcome::Done(Reply::Value(_) | Reply::Token(_) | Reply::Wait(_)) = &outcome {
            self.lease_support.store(LEASES_YES, Ordering::Relaxed);
        }
        outcome
    }

    /// `RC.LEASE.FILL key token bytes PX ttl`: whether the server took it
    /// (`None`: the cache was skipped or failed).
    pub(super) async fn fill(
        &self,
        key: &str,
        token: u64,
        bytes: &[u8],
        ttl: Duration,
    ) -> Option<bool> {
        let client = &self.store.client;
        let token = token.to_string();
        let millis = ttl.as_millis().max(1).to_string();
        let request = async {
            let args: [&[u8]; 6] = [
                b"RC.LEASE.FILL",
                key.as_bytes(),
                token.as_bytes(),
                bytes,
                b"PX",
                millis.as_bytes(),
            ];
            match client.cmd(&args).await? {
                Value::Int(written) => Ok(written == 1),
                other => Err(Error::new(
                    ErrorKind::Protocol,
                    format!("unexpected RC.LEASE.FILL reply {other:?}"),
                )),
            }
        };
        match self.store.call(request, None).await {
            Outcome::Done(written) => Some(written),
            Outcome::Skipped | Outcome::Failed(_) => None,
        }
    }

    /// `RC.LEASE.RELEASE key token`: the load failed or has nothing to
    /// cache, so the waiting processes need not wait for the lease to
    /// expire. Best effort: an unreleased lease expires.
    pub(super) async fn release(&self, key: &str, token: u64) {
        let token = token.to_string();
        let args: [&[u8]; 3] = [b"RC.LEASE.RELEASE", key.as_bytes(), token.as_bytes()];
        let client = &self.store.client;
        let _ = self.store.call(client.cmd(&args), None).await;
    }
}

/// How long another caller's lease has left, from `-LEASEWAIT <ms>` (at
/// least a millisecond).
pub(super) fn lease_wait(error: &Error) -> Duration {
    let ms = error
        .message()
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|ms| ms.parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_millis(ms.max(1))
}
