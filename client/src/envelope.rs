//! The stored form of a cache-helper entry, shared by
//! [`CacheAside`](crate::CacheAside) and [`WriteThrough`](crate::WriteThrough)
//! so that a value written by one is read by the other.
//!
//! An entry is a 19-byte header followed by the codec's payload:
//!
//! | bytes  | field                                                      |
//! |--------|------------------------------------------------------------|
//! | 0      | magic, [`MAGIC`]                                           |
//! | 1      | format version, [`FORMAT_VERSION`]                         |
//! | 2      | flags: bit 0 negative ("not found"), bit 1 tombstone       |
//! | 3..11  | `fresh_until`: Unix time in ms, big-endian                 |
//! | 11..19 | version: the writer's Unix time in µs, big-endian          |
//! | 19..   | payload: the value encoded by the client's codec           |
//!
//! Negative entries and tombstones have no payload. The key's real TTL is
//! the fresh TTL plus the stale window, if any: an entry past `fresh_until`
//! is stale, served only when the loader fails (serve-stale).
//!
//! `fresh_until` is read against the reader's clock: clocks of the writing
//! and reading machines should agree to well under the TTL. The version is
//! made strictly increasing within a process, so two entries written by one
//! process never have equal bytes; the helpers never compare versions across
//! processes (no clock is trusted for ordering): the fence against stale
//! writes is the server's `NX` and `IFEQ`, see [`cache_aside`](crate::cache_aside).
//!
//! Anything else under a helper's key (no magic, another format version,
//! unknown flags, a payload the codec rejects) is treated as a miss and
//! replaced by compare-and-set on the next load (on servers with
//! `SET ... IFEQ`; on others it stays until it expires).

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use ringcache_proto::clock::{unix_micros, Stamps};
use tracing::warn;

use crate::breaker::CircuitBreaker;
use crate::client::{Client, SetOptions};
use crate::codec::Codec;
use crate::error::{Error, ErrorKind, Result};

// Part of this module's API; the clock itself is the protocol crate's.
pub use ringcache_proto::clock::unix_millis;

/// First byte of every entry.
pub const MAGIC: u8 = 0xC7;
/// Second byte: the layout described in this module.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 19;

/// What an entry holds; `kind as u8` is the entry's flags byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EntryKind {
    /// A value (the payload).
    Value = 0,
    /// "Not found" from the loader (negative caching); no payload.
    Negative = 0b01,
    /// Invalidated: readers treat it as a miss, and loads cannot populate
    /// the key (`SET NX` fails) until it expires; no payload.
    Tombstone = 0b10,
}

/// An entry's header.
///
/// ```
/// use ringcache_client::envelope::{EntryKind, Header};
///
/// let header = Header { kind: EntryKind::Value, fresh_until_ms: 1_700_000_060_000, version: 42 };
/// let bytes = header.encode(b"\"hello\"");
/// let (parsed, payload) = Header::parse(&bytes).expect("an entry");
/// assert_eq!(parsed, header);
/// assert_eq!(payload, b"\"hello\"");
/// assert!(Header::parse(b"\"hello\"").is_none()); // not an entry
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Value, negative or tombstone.
    pub kind: EntryKind,
    /// Unix time in ms until which the entry is fresh.
    pub fresh_until_ms: u64,
    /// The writer's version: Unix time in µs, strictly increasing within
    /// the writing process.
    pub version: u64,
}

impl Header {
    /// The entry's bytes: this header, then `payload` (empty for negative
    /// entries and tombstones).
    pub fn encode(&self, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
        bytes.extend_from_slice(&[MAGIC, FORMAT_VERSION, self.kind as u8]);
        bytes.extend_from_slice(&self.fresh_until_ms.to_be_bytes());
        bytes.extend_from_slice(&self.version.to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    /// Splits stored bytes into header and payload; `None` when they are
    /// not an entry of this format (wrong magic or version, unknown flags,
    /// a payload on a negative entry or tombstone, too short).
    pub fn parse(bytes: &[u8]) -> Option<(Header, &[u8])> {
        if bytes.len() < HEADER_LEN || bytes[0] != MAGIC || bytes[1] != FORMAT_VERSION {
            return None;
        }
        let payload = &bytes[HEADER_LEN..];
        let kind = [EntryKind::Value, EntryKind::Negative, EntryKind::Tombstone]
            .into_iter()
            .find(|kind| *kind as u8 == bytes[2])?;
        if kind != EntryKind::Value && !payload.is_empty() {
            return None;
        }
        let word = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        Some((
            Header {
                kind,
                fresh_until_ms: word(3)?,
                version: word(11)?,
            },
            payload,
        ))
    }

    /// True while `now_ms` (Unix ms) is before `fresh_until_ms`.
    pub fn is_fresh_at(&self, now_ms: u64) -> bool {
        now_ms < self.fresh_until_ms
    }
}

/// A version for a new entry: Unix µs, bumped to stay strictly increasing
/// within the process.
pub(crate) fn next_version() -> u64 {
    static VERSIONS: Stamps = Stamps::new();
    VERSIONS.next(unix_micros())
}

/// `ttl` scaled by a uniform factor in `[1 - jitter, 1 + jitter]`, at
/// least 1 ms.
pub(crate) fn jittered(ttl: Duration, jitter: f64) -> Duration {
    if jitter <= 0.0 {
        return ttl.max(Duration::from_millis(1));
    }
    let factor = 1.0 + jitter * (2.0 * fastrand::f64() - 1.0);
    ttl.mul_f64(factor.max(0.0)).max(Duration::from_millis(1))
}

/// The bytes of a fresh entry with its key TTL: fresh for a jittered
/// `fresh` (from now), kept `stale` longer.
pub(crate) fn build(
    kind: EntryKind,
    payload: &[u8],
    fresh: Duration,
    jitter: f64,
    stale: Option<Duration>,
) -> (Vec<u8>, Duration) {
    let fresh = jittered(fresh, jitter);
    let fresh_ms = u64::try_from(fresh.as_millis()).unwrap_or(u64::MAX);
    let header = Header {
        kind,
        fresh_until_ms: unix_millis().saturating_add(fresh_ms),
        version: next_version(),
    };
    (header.encode(payload), fresh + stale.unwrap_or_default())
}

/// A tombstone living `fence_ttl`.
pub(crate) fn tombstone(fence_ttl: Duration) -> Vec<u8> {
    build(EntryKind::Tombstone, &[], fence_ttl, 0.0, None).0
}

/// How a guarded cache call went.
pub(crate) enum Outcome<T> {
    /// The cache answered.
    Done(T),
    /// The circuit is open: the cache was not asked.
    Skipped,
    /// The cache failed (already counted, and reported to the breaker if
    /// it was an outage).
    Failed(Error),
}

/// How a compare-and-set went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Swap {
    Written,
    /// The key no longer held the expected bytes.
    Conflict,
    /// The server has no `SET ... IFEQ`.
    Unsupported,
    /// Skipped (open circuit) or failed.
    NotDone,
}

const CAS_UNKNOWN: u8 = 0;
const CAS_YES: u8 = 1;
const CAS_NO: u8 = 2;

/// The cache as the helpers use it: every call through the breaker and
/// within the per-call timeout, errors counted.
pub(crate) struct EntryStore<C: Codec> {
    pub(crate) client: Client<C>,
    pub(crate) breaker: CircuitBreaker,
    /// Extra bound on one call, when shorter than the client's deadline.
    timeout: Option<Duration>,
    cas: AtomicU8,
    pub(crate) errors: AtomicU64,
    pub(crate) skipped: AtomicU64,
}

impl<C: Codec> EntryStore<C> {
    pub(crate) fn new(
        client: Client<C>,
        breaker: CircuitBreaker,
        timeout: Option<Duration>,
    ) -> EntryStore<C> {
        EntryStore {
            client,
            breaker,
            timeout,
            cas: AtomicU8::new(CAS_UNKNOWN),
            errors: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }

    /// Whether the server took `SET ... IFEQ`: `None` until first tried.
    pub(crate) fn compare_and_set_supported(&self) -> Option<bool> {
        match self.cas.load(Ordering::Relaxed) {
            CAS_YES => Some(true),
            CAS_NO => Some(false),
            _ => None,
        }
    }

    /// One cache call through the breaker, within the per-call timeout and
    /// `limit` (the smaller applies; the client's own deadline too).
    pub(crate) async fn call<T, Fut>(&self, request: Fut, limit: Option<Duration>) -> Outcome<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        let Some(permit) = self.breaker.try_acquire() else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return Outcome::Skipped;
        };
        let limit = match (self.timeout, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let result = match limit {
            Some(limit) => match tokio::time::timeout(limit, request).await {
                Ok(result) => result,
                Err(_) => Err(Error::timeout(format!("cache call took over {limit:?}"))),
            },
            None => request.await,
        };
        match result {
            Ok(value) => {
                permit.success();
                Outcome::Done(value)
            }
            Err(error) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                // Unreachable, slow or shedding: an outage. An error reply
                // means the cache is up.
                if error.is_retryable() {
                    permit.failure();
                } else {
                    permit.success();
                }
                Outcome::Failed(error)
            }
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Outcome<Option<Vec<u8>>> {
        self.call(self.client.get_bytes(key), None).await
    }

    /// `SET key bytes PX ttl`.
    pub(crate) async fn set(&self, key: &str, bytes: &[u8], ttl: Duration) -> Outcome<()> {
        let options = SetOptions::new().ttl(ttl);
        match self
            .call(self.client.set_bytes(key, bytes, options), None)
            .await
        {
            Outcome::Done(_) => Outcome::Done(()),
            Outcome::Skipped => Outcome::Skipped,
            Outcome::Failed(e) => Outcome::Failed(e),
        }
    }

    /// `SET key bytes NX PX ttl` within `limit`: whether it wrote.
    pub(crate) async fn set_if_absent(
        &self,
        key: &str,
        bytes: &[u8],
        ttl: Duration,
        limit: Duration,
    ) -> Outcome<bool> {
        let options = SetOptions::new().ttl(ttl).if_absent();
        let request = self.client.set_bytes(key, bytes, options);
        match self.call(request, Some(limit)).await {
            Outcome::Done(outcome) => Outcome::Done(outcome.written),
            Outcome::Skipped => Outcome::Skipped,
            Outcome::Failed(e) => Outcome::Failed(e),
        }
    }

    /// `SET key bytes IFEQ current PX ttl`. The first `ERR` reply marks the
    /// server as without compare-and-set, for good.
    pub(crate) async fn compare_and_set(
        &self,
        key: &str,
        current: &[u8],
        bytes: &[u8],
        ttl: Duration,
    ) -> Swap {
        if self.cas.load(Ordering::Relaxed) == CAS_NO {
            return Swap::Unsupported;
        }
        let request = self.client.set_bytes_if_equal(key, bytes, current, ttl);
        match self.call(request, None).await {
            Outcome::Done(written) => {
                self.cas.store(CAS_YES, Ordering::Relaxed);
                if written {
                    Swap::Written
                } else {
                    Swap::Conflict
                }
            }
            Outcome::Failed(e) if matches!(e.kind(), ErrorKind::Server(code) if code == "ERR") => {
                if self.cas.swap(CAS_NO, Ordering::Relaxed) != CAS_NO {
                    warn!(
                        error = %e,
                        "the cache has no SET IFEQ (redis-server before 8.4?): early refresh \
                         and stale or foreign entry replacement are off"
                    );
                }
                Swap::Unsupported
            }
            Outcome::Skipped | Outcome::Failed(_) => Swap::NotDone,
        }
    }

    /// Writes a tombstone living `fence_ttl`.
    pub(crate) async fn tombstone(&self, key: &str, fence_ttl: Duration) -> Outcome<()> {
        self.set(key, &tombstone(fence_ttl), fence_ttl).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_foreign_bytes_are_rejected() {
        for kind in [EntryKind::Value, EntryKind::Negative, EntryKind::Tombstone] {
            let header = Header {
                kind,
                fresh_until_ms: u64::MAX - 1,
                version: 1,
            };
            let payload: &[u8] = if kind == EntryKind::Value {
                b"[1,2]"
            } else {
                b""
            };
            let bytes = header.encode(payload);
            assert_eq!(bytes.len(), HEADER_LEN + payload.len());
            assert_eq!(Header::parse(&bytes), Some((header, payload)));
        }
        let value = Header {
            kind: EntryKind::Value,
            fresh_until_ms: 5,
            version: 6,
        }
        .encode(b"x");
        assert!(Header::parse(&value[..HEADER_LEN - 1]).is_none());
        let mut other_version = value.clone();
        other_version[1] = FORMAT_VERSION + 1;
        assert!(Header::parse(&other_version).is_none());
        let mut unknown_flags = value.clone();
        unknown_flags[2] = 4;
        assert!(Header::parse(&unknown_flags).is_none());
        // A negative entry or tombstone with a payload is not ours.
        let mut negative_with_payload = value;
        negative_with_payload[2] = EntryKind::Negative as u8;
        assert!(Header::parse(&negative_with_payload).is_none());
        assert!(Header::parse(b"").is_none());
        assert!(Header::parse(br#"{"json":"value","that":"is","long":1}"#).is_none());
    }

    #[test]
    fn jitter_stays_in_bounds_and_varies() {
        let ttl = Duration::from_secs(100);
        let samples: Vec<Duration> = (0..1000).map(|_| jittered(ttl, 0.1)).collect();
        assert!(samples
            .iter()
            .all(|d| *d >= Duration::from_secs(90) && *d <= Duration::from_secs(110)));
        let min = samples.iter().min().expect("samples");
        let max = samples.iter().max().expect("samples");
        assert!(*max - *min > Duration::from_secs(10), "{min:?}..{max:?}");
        assert_eq!(jittered(ttl, 0.0), ttl);
        assert_eq!(jittered(Duration::ZERO, 0.5), Duration::from_millis(1));
    }

    #[test]
    fn versions_increase_and_entries_carry_their_ttls() {
        let a = next_version();
        let b = next_version();
        assert!(b > a);
        let before = unix_millis();
        let (bytes, key_ttl) = build(
            EntryKind::Value,
            b"1",
            Duration::from_secs(10),
            0.0,
            Some(Duration::from_secs(5)),
        );
        let (header, payload) = Header::parse(&bytes).expect("entry");
        assert_eq!(payload, b"1");
        assert_eq!(key_ttl, Duration::from_secs(15));
        assert!(header.fresh_until_ms >= before + 10_000);
        assert!(header.fresh_until_ms <= unix_millis() + 10_000);
        assert!(header.is_fresh_at(before));
        assert!(!header.is_fresh_at(header.fresh_until_ms));
        let (header, _) = Header::parse(&tombstone(Duration::from_secs(1))).expect("entry");
        assert_eq!(header.kind, EntryKind::Tombstone);
    }
}
