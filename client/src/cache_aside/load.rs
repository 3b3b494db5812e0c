//! The load path of a [`CacheAside`](super::CacheAside): what a read of the
//! cache found, the leader's load and its fenced write (`SET NX` or
//! `SET ... IFEQ`), the loader's time limit, and early refresh in the
//! background.

use std::fmt;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::{debug, warn};

use super::lease::Leased;
use super::{bump, Inner, LoadError};
use crate::codec::Codec;
use crate::envelope::{self, EntryKind, Header, Outcome, Swap};

/// How long a key's refresh claim is held after its loader failed, so a
/// failing loader is not called again on every read in the window.
const REFRESH_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Whether an entry `remaining_ms` from expiry, with a refresh window of
/// `window_ms`, is due: always inside the window, or, when `chance` (a
/// uniform draw in `[0, 1)`) is given, with a probability growing linearly
/// from 0 at the window's start to 1 at expiry.
pub(super) fn refresh_due(remaining_ms: f64, window_ms: f64, chance: Option<f64>) -> bool {
    if remaining_ms > window_ms {
        return false;
    }
    match chance {
        None => true,
        Some(draw) => draw < 1.0 - remaining_ms / window_ms,
    }
}

/// What one read of the cache found.
pub(super) enum Found<V> {
    Fresh {
        value: Option<V>,
        header: Header,
    },
    Stale {
        value: Option<V>,
    },
    Tombstone,
    /// Not an entry, or a payload the codec does not decode as `V`.
    Foreign,
}

/// How a load may write what it loaded.
enum Populate {
    /// Do not write (the cache was skipped or failed).
    No,
    /// `SET NX`: the key was missing or a tombstone.
    IfAbsent,
    /// `SET IFEQ`: replace exactly these bytes (stale or foreign).
    Replace(Vec<u8>),
    /// `RC.LEASE.FILL` with this token: the key was missing and its
    /// cluster-wide lease is this caller's.
    Lease(u64),
}

impl<C: Codec> Inner<C> {
    pub(super) fn classify<V: DeserializeOwned>(&self, bytes: &[u8], now_ms: u64) -> Found<V> {
        let Some((header, payload)) = Header::parse(bytes) else {
            return Found::Foreign;
        };
        let value = match header.kind {
            EntryKind::Tombstone => return Found::Tombstone,
            EntryKind::Negative => None,
            EntryKind::Value => match self.store.client.codec().decode::<V>(payload) {
                Ok(value) => Some(value),
                Err(_) => return Found::Foreign,
            },
        };
        if header.is_fresh_at(now_ms) {
            Found::Fresh { value, header }
        } else {
            Found::Stale { value }
        }
    }

    /// The leader's load: one more look at the cache (taking the key's
    /// lease on a miss, or waiting for another process's fill), the loader,
    /// then the conditional write.
    pub(super) async fn load<V, F, Fut, E>(
        &self,
        key: &str,
        ttl: Duration,
        loader: F,
        use_cache: bool,
    ) -> std::result::Result<Option<V>, LoadError<E>>
    where
        V: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Option<V>, E>>,
    {
        let populate = if use_cache {
            match self.look::<V>(key).await {
                Ok(populate) => populate,
                Err(value) => return Ok(value),
            }
        } else {
            Populate::No
        };
        bump(&self.counters.loads);
        let lease = match populate {
            Populate::Lease(token) => Some(token),
            _ => None,
        };
        if lease.is_some() {
            bump(&self.counters.leased_loads);
        }
        let started = Instant::now();
        let loaded = match self.run_loader(loader).await {
            Ok(loaded) => loaded,
            Err(error) => {
                if let Some(token) = lease {
                    self.release(key, token).await;
                }
                return Err(error);
            }
        };
        let write = match populate {
            Populate::No => None,
            populate => self.entry(&loaded, ttl).map(|entry| (populate, entry)),
        };
        match write {
            Some((populate, (bytes, key_ttl))) => {
                self.populate(key, populate, &bytes, key_ttl, started).await;
            }
            // Nothing to cache (no negative caching): let the waiters go.
            None => {
                if let Some(token) = lease {
                    self.release(key, token).await;
                }
            }
        }
        Ok(loaded)
    }

    /// The leader's look at the cache before loading: how the load may
    /// write (`Ok`), or the fresh value found (`Err`). A caller that missed
    /// just as another flight ended finds that flight's value here instead
    /// of loading again; with leases, so does one whose key another process
    /// is loading.
    async fn look<V: DeserializeOwned>(
        &self,
        key: &str,
    ) -> std::result::Result<Populate, Option<V>> {
        let seen = if self.leases_on() {
            self.lease(key).await
        } else {
            match self.store.get(key).await {
                Outcome::Done(None) => Leased::Miss,
                Outcome::Done(Some(bytes)) => Leased::Value(bytes),
                Outcome::Skipped | Outcome::Failed(_) => Leased::Unreachable,
            }
        };
        Ok(match seen {
            Leased::Token(token) => Populate::Lease(token),
            Leased::Miss => Populate::IfAbsent,
            Leased::Unreachable => Populate::No,
            Leased::Value(bytes) => match self.classify::<V>(&bytes, envelope::unix_millis()) {
                Found::Fresh { value, .. } => return Err(value),
                Found::Tombstone => Populate::IfAbsent,
                Found::Stale { .. } | Found::Foreign => Populate::Replace(bytes),
            },
        })
    }

    /// Writes what a load loaded, as `populate` allows: a lease's fill,
    /// `SET NX`, or `SET IFEQ`.
    async fn populate(
        &self,
        key: &str,
        populate: Populate,
        bytes: &[u8],
        key_ttl: Duration,
        started: Instant,
    ) {
        match populate {
            Populate::No => {}
            Populate::Lease(token) => {
                // The server refuses the fill if the key was written,
                // deleted or flushed since the lease was given.
                let filled = self.fill(key, token, bytes, key_ttl).await;
                if filled == Some(false) {
                    bump(&self.counters.populate_refused);
                    bump(&self.counters.fills_refused);
                    debug!(key, "not cached: the key changed during the load");
                }
            }
            Populate::IfAbsent => {
                // The fence: a tombstone written after the loader read the
                // system of record lives fence_ttl, so NX is safe only until
                // fence_ttl after the loader was called.
                let left = self.config.fence_ttl.saturating_sub(started.elapsed());
                if left.is_zero() {
                    bump(&self.counters.populate_refused);
                    debug!(key, "not cached: the load outlasted fence_ttl");
                    return;
                }
                if let Outcome::Done(false) =
                    self.store.set_if_absent(key, bytes, key_ttl, left).await
                {
                    bump(&self.counters.populate_refused);
                    debug!(
                        key,
                        "not cached: the key holds a newer value or a tombstone"
                    );
                }
            }
            Populate::Replace(seen) => {
                if let Swap::Conflict = self.store.compare_and_set(key, &seen, bytes, key_ttl).await
                {
                    bump(&self.counters.populate_refused);
                    debug!(key, "not cached: the key changed during the load");
                }
            }
        }
    }

    /// Calls `loader`, bounded by `load_timeout`.
    async fn run_loader<V, F, Fut, E>(&self, loader: F) -> std::result::Result<V, LoadError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<V, E>>,
    {
        let limit = self.config.load_timeout;
        match tokio::time::timeout(limit, loader()).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                bump(&self.counters.load_errors);
                Err(LoadError::Loader(error))
            }
            Err(_) => {
                bump(&self.counters.load_errors);
                Err(LoadError::Timeout(limit))
            }
        }
    }

    /// The entry to cache for a loaded value and the key's TTL; `None` when
    /// nothing is to be cached (no negative caching, or the value does not
    /// encode).
    fn entry<V: Serialize>(
        &self,
        loaded: &Option<V>,
        ttl: Duration,
    ) -> Option<(Vec<u8>, Duration)> {
        let (kind, payload, fresh) = match loaded {
            Some(value) => match self.store.client.codec().encode(value) {
                Ok(payload) => (EntryKind::Value, payload, ttl),
                Err(error) => {
                    self.store.errors.fetch_add(1, Ordering::Relaxed);
                    warn!(%error, "loaded value does not encode; not cached");
                    return None;
                }
            },
            None => (EntryKind::Negative, Vec::new(), self.config.negative_ttl?),
        };
        Some(envelope::build(
            kind,
            &payload,
            fresh,
            self.config.jitter,
            self.config.stale_window,
        ))
    }

    /// Whether a read of this fresh entry should start a refresh.
    pub(super) fn should_refresh(&self, header: &Header, ttl: Duration, now_ms: u64) -> bool {
        if self.config.refresh_ahead <= 0.0 || self.store.compare_and_set_supported() == Some(false)
        {
            return false;
        }
        let base = match header.kind {
            EntryKind::Negative => match self.config.negative_ttl {
                Some(negative) => negative,
                None => return false,
            },
            _ => ttl,
        };
        let window = base.as_secs_f64() * 1000.0 * self.config.refresh_ahead;
        let remaining = header.fresh_until_ms.saturating_sub(now_ms) as f64;
        let chance = self.config.probabilistic_refresh.then(fastrand::f64);
        refresh_due(remaining, window, chance)
    }

    /// Starts the background refresh of `key` unless one is running: the
    /// loader's value replaces `seen` by compare-and-set.
    pub(super) fn spawn_refresh<V, F, Fut, E>(
        inner: &Arc<Inner<C>>,
        key: &str,
        ttl: Duration,
        loader: F,
        seen: Vec<u8>,
        header: &Header,
    ) where
        V: Serialize + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Option<V>, E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        let Some(claim) = inner.refreshes.try_claim(key) else {
            return;
        };
        let inner = Arc::clone(inner);
        let key = key.to_owned();
        let fresh_until_ms = header.fresh_until_ms;
        tokio::spawn(async move {
            let _claim = claim;
            // The reader may have seen the entry just before another refresh
            // (or a write) replaced it: load only if it is still there.
            match inner.store.get(&key).await {
                Outcome::Done(Some(bytes)) if bytes == seen => {}
                _ => return,
            }
            bump(&inner.counters.early_refreshes);
            // A refresh that could not replace the entry holds its claim a
            // while, so the readers of a hot key do not start one loader
            // after another until it expires.
            let hold_claim = || {
                let left = fresh_until_ms.saturating_sub(envelope::unix_millis());
                tokio::time::sleep(REFRESH_RETRY_PAUSE.min(Duration::from_millis(left)))
            };
            let loaded = match inner.run_loader(loader).await {
                Ok(loaded) => loaded,
                Err(error) => {
                    debug!(key, %error, "early refresh failed; the entry stays until it expires");
                    hold_claim().await;
                    return;
                }
            };
            let Some((bytes, key_ttl)) = inner.entry(&loaded, ttl) else {
                hold_claim().await;
                return;
            };
            match inner
                .store
                .compare_and_set(&key, &seen, &bytes, key_ttl)
                .await
            {
                Swap::Conflict => {
                    bump(&inner.counters.refresh_conflicts);
                    debug!(key, "early refresh lost to a newer write; keeping it");
                }
                Swap::NotDone => {
                    debug!(
                        key,
                        "early refresh not written; the entry stays until it expires"
                    );
                    hold_claim().await;
                }
                Swap::Written | Swap::Unsupported => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_is_due_inside_the_window() {
        assert!(!refresh_due(2001.0, 2000.0, None));
        assert!(refresh_due(2000.0, 2000.0, None));
        assert!(refresh_due(0.0, 2000.0, None));
        // Probabilistic: never at the window's start, always at expiry,
        // half the draws half way.
        assert!(!refresh_due(2000.0, 2000.0, Some(0.0)));
        assert!(refresh_due(0.0, 2000.0, Some(0.999)));
        assert!(refresh_due(1000.0, 2000.0, Some(0.49)));
        assert!(!refresh_due(1000.0, 2000.0, Some(0.51)));
        assert!(!refresh_due(3000.0, 2000.0, Some(0.0)));
    }
}
