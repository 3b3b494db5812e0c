//! ringcache-client: an async client for ringcache (and Redis), with
//! cache-aside and write-through helpers.
//!
//! The client ([`Client`]) talks RESP2 over one multiplexed connection per
//! node ([`connection`], running on `ringcache-proto`'s pipelined link),
//! learns a cluster's slot map from `CLUSTER SLOTS` and routes each key to
//! its slot's node, following `MOVED`/`ASK` and retrying transient failures
//! within one deadline per call ([`cluster`]). It works the same against a
//! ringcache cluster (proxy or redirect mode), a standalone ringcache node,
//! and redis-server. Values are encoded by a [`Codec`] (JSON by default).
//!
//! ```no_run
//! # async fn demo() -> ringcache_client::Result<()> {
//! use std::time::Duration;
//! use ringcache_client::{Client, ClientConfig, SetOptions};
//!
//! let client = Client::connect(ClientConfig::new(["127.0.0.1:7000"])).await?;
//! client.set("greeting", "hello", SetOptions::new().ttl(Duration::from_secs(60))).await?;
//! let greeting: Option<String> = client.get("greeting").await?;
//! let counts: Vec<Option<i64>> = client.mget(&["a", "b", "c"]).await?;
//! # Ok(()) }
//! ```
//!
//! On top of the client, caching helpers: [`CacheAside`] (`get_or_load`
//! with single flight, TTL jitter, negative caching, early refresh,
//! serve-stale, and a [`CircuitBreaker`] so a dead cache degrades to the
//! loader) and [`WriteThrough`] (system of record first, then the cache,
//! fenced so a slow load cannot overwrite a newer write). Both store entries
//! in one [`envelope`] format. A [`NearCache`] ([`Client::with_near_cache`])
//! answers `GET`s from process memory, kept coherent by the nodes' client
//! tracking; the helpers use it through the client they are given.
//!
//! Where things are:
//! - [`client`]: the [`Client`] handle and its commands by family (strings
//!   and keys, multi-key commands split by slot, hashes), its
//!   [`ClientConfig`] and the options of single commands ([`SetOptions`]);
//!   [`pipeline`]: many commands in one write per node;
//! - [`cluster`]: the router (topology discovery, the slot map, its refresh
//!   task, redirects and retries);
//! - [`connection`]: one node's connection (dialing, handshake, reconnect
//!   back-off) over the shared link; [`tls`]: TLS to the nodes (a CA, a
//!   client certificate), also from `rediss://` URLs
//!   ([`ClientConfig::from_url`]);
//! - [`near_cache`]: the in-process first level (its entries, reads in
//!   flight, tracked node connections);
//! - [`cache_aside`] (its configuration, and the load path with early
//!   refresh), [`write_through`], [`breaker`], [`envelope`], [`codec`],
//!   [`error`].
//!
//! Shared with the nodes through `ringcache-proto` and re-exported here:
//! the key-to-slot mapping ([`key_slot`], Redis Cluster compatible, so
//! cluster-aware Redis clients route the same way), the consistent hash
//! ring that places slots on nodes ([`ring`]), and RESP ([`resp`]).
#![forbid(unsafe_code)]

pub mod breaker;
pub mod cache_aside;
pub mod client;
pub mod cluster;
pub mod codec;
mod command;
pub mod connection;
pub mod envelope;
pub mod error;
pub mod near_cache;
pub mod pipeline;
mod single_flight;
pub mod tls;
pub mod write_through;

pub use breaker::{BreakerConfig, BreakerPermit, BreakerState, CircuitBreaker};
pub use cache_aside::{CacheAside, CacheAsideConfig, CacheAsideStats, LoadError};

pub use client::{
    Client, ClientConfig, Condition, Expiry, SetOptions, SetOutcome, Ttl, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_REDIRECTS, DEFAULT_REFRESH_INTERVAL, DEFAULT_REQUEST_TIMEOUT,
};
pub use cluster::{ClientStats, Mode};
#[cfg(feature = "postcard")]
pub use codec::PostcardCodec;
pub use codec::{Codec, JsonCodec};
pub use error::{Error, ErrorKind, Result};
pub use near_cache::{NearCache, NearCacheConfig, NearCacheStats};
pub use pipeline::Pipeline;
pub use ringcache_proto::{key_slot, resp, ring, slot, Value, SLOT_COUNT};
pub use ringcache_proto::{NodeIndex, Placement, Ring, RingMember, DEFAULT_VNODES};
pub use tls::TlsOptions;
pub use write_through::{
    CacheUpdate, WriteError, WriteOutcome, WriteThrough, WriteThroughConfig, WriteThroughStats,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Client>();
        check::<ClientConfig>();
        check::<CacheAside>();
        check::<WriteThrough>();
        check::<NearCache>();
        check::<CircuitBreaker>();
        check::<LoadError<String>>();
    }
}
