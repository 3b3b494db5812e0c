//! A near cache: a first level in process memory in front of the
//! [`Client`](crate::Client)'s `GET`s, kept coherent by the nodes' client
//! tracking.
//!
//! A [`NearCache`] reads a key it does not hold from the key's primary over
//! a connection of its own to that node ([`node`]): RESP3 with
//! `CLIENT TRACKING on` (or BCAST with prefixes, [`Tracking`]), sending
//! `GET` and `PTTL` together, and caches the reply for the key's remaining
//! TTL, at most [`NearCacheConfig::max_ttl`], in a table bounded in bytes
//! ([`entries`]). Coherence:
//!
//! - a node's `invalidate` push drops the key before any later reply on
//!   that connection is handed out, and a read in flight when its key was
//!   invalidated does not install its reply ([`fences`]);
//! - a flush push, the connection ending (it carried the invalidations),
//!   or [`NearCache::clear`] drops every entry from that node; a slot
//!   getting a new primary in the client's slot map drops every entry;
//! - a write of one key through the same [`Client`](crate::Client) drops
//!   the key here before it is sent and again when it is answered, so the
//!   process reads its own writes.
//!
//! What a read may miss: a write by another client is seen here once its
//! push arrives (on loopback with 8 reader processes under load, p50 under
//! 1 ms, p99 2-6 ms after the write's reply, more on an overloaded
//! machine: BENCHMARKS.md). When a slot moves or a primary fails over,
//! the nodes that tracked its keys invalidate them as they apply the ring
//! change (a flush for BCAST); entries from the old owner stay at most
//! until then, or until the client's slot map changes or the old owner's
//! connection ends, whichever comes first (at most `refresh_interval`,
//! or at once on `MOVED`). Multi-key writes
//! (`MSET`, `DEL a b`) and pipelines through this client are seen through
//! the push like other clients' writes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;
use tracing::debug;

use crate::client::bulk_or_nil;
use crate::cluster::Router;
use crate::command::Command;
use crate::error::Result;
use crate::resp::{self, Value};

mod config;
mod entries;
mod fences;
mod node;

pub use config::{NearCacheConfig, NearCacheStats, Tracking, DEFAULT_MAX_BYTES, DEFAULT_MAX_TTL};

use entries::{Entries, Entry};
use fences::Fences;
use node::NodeLink;

#[derive(Default)]
pub(crate) struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    installed: AtomicU64,
    refused: AtomicU64,
    invalidations: AtomicU64,
    pub(crate) node_drops: AtomicU64,
    fallbacks: AtomicU64,
}

/// What the node connections' listeners share with the cache.
pub(crate) struct Core {
    pub(crate) config: NearCacheConfig,
    entries: Entries,
    fences: Fences,
    pub(crate) counters: Counters,
}

impl Core {
    /// Drops `key` and refuses the replies of its reads in flight.
    pub(crate) fn invalidate(&self, key: &[u8]) {
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
        self.fences.invalidate(key, || self.entries.remove(key));
    }
}

/// An in-process cache of `GET` replies in front of a client, kept
/// coherent by server-assisted invalidation (see the [module](self) docs).
/// Made by [`Client::with_near_cache`](crate::Client::with_near_cache);
/// cheap to clone, clones share it.
///
/// ```no_run
/// # async fn demo() -> ringcache_client::Result<()> {
/// use ringcache_client::{Client, ClientConfig};
/// use ringcache_client::near_cache::NearCacheConfig;
///
/// let client = Client::connect(ClientConfig::new(["127.0.0.1:7000"]))
///     .await?
///     .with_near_cache(NearCacheConfig::default())?;
/// let name: Option<String> = client.get("user:1:name").await?; // from the node
/// let again: Option<String> = client.get("user:1:name").await?; // from memory
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct NearCache {
    inner: Arc<Inner>,
}

struct Inner {
    core: Arc<Core>,
    router: Arc<Router>,
    /// Tracked connections by node address. A std lock: held only to look
    /// up or insert.
    nodes: RwLock<HashMap<Arc<str>, NodeLink>>,
}

impl std::fmt::Debug for NearCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NearCache")
            .field("config", &self.inner.core.config)
            .finish()
    }
}

impl NearCache {
    /// A near cache reading through `router`'s slot map.
    pub(crate) fn new(router: Arc<Router>, config: NearCacheConfig) -> Result<NearCache> {
        config.validate()?;
        let core = Arc::new(Core {
            entries: Entries::new(config.max_bytes),
            fences: Fences::new(),
            counters: Counters::default(),
            config,
        });
        Ok(NearCache {
            inner: Arc::new(Inner {
                core,
                router,
                nodes: RwLock::new(HashMap::new()),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NearCacheConfig {
        &self.inner.core.config
    }

    /// The value of `key`: from memory when a valid entry is held,
    /// otherwise from the key's primary (and then cached).
    ///
    /// # Errors
    /// As [`Client::get_bytes`](crate::Client::get_bytes).
    pub async fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let core = &self.inner.core;
        if !core.config.covers(key) {
            return self.remote_get(key).await;
        }
        if let Some(entry) = core.entries.get(key) {
            if entry.is_valid(self.inner.router.owners_epoch()) {
                core.counters.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(entry.value);
            }
        }
        core.counters.misses.fetch_add(1, Ordering::Relaxed);
        self.fetch(key).await
    }

    /// Drops `key` here (a write of it through this client is about to be
    /// sent, or was answered).
    pub(crate) fn forget(&self, key: &[u8]) {
        self.inner.core.invalidate(key);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        for link in self.links() {
            link.state.drop_entries();
        }
        self.inner.core.entries.clear();
    }

    /// Counters and size (applying moka's pending bookkeeping first).
    pub fn stats(&self) -> NearCacheStats {
        let c = &self.inner.core.counters;
        self.inner.core.entries.settle();
        let (entries, weight) = self.inner.core.entries.size();
        NearCacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            installed: c.installed.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            invalidations: c.invalidations.load(Ordering::Relaxed),
            node_drops: c.node_drops.load(Ordering::Relaxed),
            fallbacks: c.fallbacks.load(Ordering::Relaxed),
            links: self
                .inner
                .nodes
                .read()
                .map_or(0, |nodes| nodes.len() as u64),
            entries,
            weight,
        }
    }

    fn links(&self) -> Vec<NodeLink> {
        match self.inner.nodes.read() {
            Ok(nodes) => nodes.values().cloned().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The tracked connection to `addr` (made on first use). Making one
    /// (a node new to the slot map) first lets go of the links to nodes
    /// that left the map: their connections close once no read holds
    /// them, and their entries go with them (already invalid: a node
    /// leaves the map only with a change of slot owners).
    fn link(&self, addr: &Arc<str>) -> NodeLink {
        if let Ok(nodes) = self.inner.nodes.read() {
            if let Some(link) = nodes.get(addr) {
                return link.clone();
            }
        }
        let router = &self.inner.router;
        let known = router.nodes();
        let options = router.connection_options();
        let core = &self.inner.core;
        match self.inner.nodes.write() {
            Ok(mut nodes) => {
                nodes.retain(|held, _| known.iter().any(|k| **k == **held));
                nodes
                    .entry(Arc::clone(addr))
                    .or_insert_with(|| NodeLink::new(Arc::clone(addr), options, core))
                    .clone()
            }
            // Poisoned by a panic elsewhere: a link outside the table still
            // tracks what is read through it.
            Err(_) => NodeLink::new(Arc::clone(addr), options, core),
        }
    }

    /// Reads `key` from its primary with `GET` and `PTTL` over the tracked
    /// connection, and installs the reply unless it was overtaken.
    async fn fetch(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let router = &self.inner.router;
        // The epoch before the map: a map change in between is caught by
        // the entry's check.
        let owners_epoch = router.owners_epoch();
        let Ok(addr) = router.primary_of(key) else {
            return self.fall_back(key).await;
        };
        let link = self.link(&addr);
        let generation = link.state.generation();
        let ticket = self.inner.core.fences.begin(Bytes::copy_from_slice(key));
        let mut frames = BytesMut::with_capacity(2 * key.len() + 48);
        resp::write_command(&mut frames, &[&b"GET"[..], key]);
        resp::write_command(&mut frames, &[&b"PTTL"[..], key]);
        let deadline = Instant::now() + router.config().request_timeout;
        let replies = match link.connection.send(frames.freeze(), 2, deadline).await {
            Ok(replies) => replies,
            Err(e) => {
                debug!(node = %addr, error = %e, "near cache read failed");
                return self.fall_back(key).await;
            }
        };
        let mut replies = replies.into_iter();
        let value = match replies.next() {
            Some(Value::Bulk(bytes)) => Some(Bytes::from(bytes)),
            Some(Value::Nil) => None,
            // MOVED, WRONGTYPE, ...: the ordinary path follows or reports.
            _ => return self.fall_back(key).await,
        };
        let Some(ttl) = self.entry_ttl(value.is_some(), replies.next()) else {
            return Ok(value);
        };
        let core = &self.inner.core;
        let entry = Entry {
            value: value.clone(),
            node: Arc::clone(&link.state),
            generation,
            owners_epoch,
            ttl,
        };
        let key = ticket.key().clone();
        let installed = ticket.finish(|| core.entries.insert(key, entry));
        let counter = if installed {
            &core.counters.installed
        } else {
            &core.counters.refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(value)
    }

    /// How long a reply may be cached, from the `PTTL` read with it;
    /// `None`: not at all.
    fn entry_ttl(&self, found: bool, pttl: Option<Value>) -> Option<std::time::Duration> {
        let config = &self.inner.core.config;
        let ttl = match pttl {
            Some(Value::Int(ms)) if ms > 0 => {
                std::time::Duration::from_millis(ms.unsigned_abs()).min(config.max_ttl)
            }
            // No expiry on the node.
            Some(Value::Int(-1)) if found => config.max_ttl,
            // No such key, as the GET said.
            Some(Value::Int(-2)) if !found && config.cache_misses => config.max_ttl,
            // Expiring now, changed between the two, or an error.
            _ => return None,
        };
        Some(ttl)
    }

    /// The client's ordinary `GET` (redirects, retries), nothing cached.
    async fn fall_back(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner
            .core
            .counters
            .fallbacks
            .fetch_add(1, Ordering::Relaxed);
        self.remote_get(key).await
    }

    async fn remote_get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let router = &self.inner.router;
        let deadline = Instant::now() + router.config().request_timeout;
        let reply = router
            .run(&Command::keyed(b"GET", key, &[]).read(), deadline)
            .await?;
        Ok(bulk_or_nil(reply)?.map(Bytes::from))
    }
}
