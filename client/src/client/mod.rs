//! The typed client: [`Client`], its connection to the deployment, and the
//! raw escape hatch; its commands live by family in the submodules
//! (single-key strings and keys, multi-key commands split by slot,
//! hashes), its configuration in [`ClientConfig`] and the options of
//! single commands in [`SetOptions`]. Values go through a [`Codec`].
//!
//! Every method has one deadline, `request_timeout` from the config, within
//! which redirects are followed and transient failures retried (see
//! [`cluster`](crate::cluster)).

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::cluster::{ClientStats, Mode, Router};
use crate::codec::{Codec, JsonCodec};
use crate::command::{route_raw, Command, Route};
use crate::error::{Error, ErrorKind, Result};
use crate::near_cache::{NearCache, NearCacheConfig};
use crate::pipeline::Pipeline;
use crate::resp::Value;

mod config;
mod hashes;
mod multi;
mod options;
mod strings;
mod url;

pub use config::{
    ClientConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_REDIRECTS,
    DEFAULT_QUEUE_CAPACITY, DEFAULT_REFRESH_INTERVAL, DEFAULT_REQUEST_TIMEOUT,
};
pub use options::{Condition, Expiry, SetOptions, SetOutcome, Ttl};

/// An async client for a ringcache cluster, a single ringcache node or
/// redis-server (cluster or not). Cheap to clone; clones share connections
/// and the slot map. `Send + Sync`.
///
/// Values go through the codec `C` ([`JsonCodec`] by default); keys and hash
/// fields are raw bytes (`&str`, `String`, `&[u8]`, ...).
///
/// ```no_run
/// # async fn demo() -> ringcache_client::Result<()> {
/// use std::time::Duration;
/// use ringcache_client::{Client, ClientConfig, SetOptions};
///
/// let client = Client::connect(ClientConfig::new(["127.0.0.1:6379"])).await?;
/// client
///     .set("user:1", &vec!["ann", "bob"], SetOptions::new().ttl(Duration::from_secs(60)))
///     .await?;
/// let users: Option<Vec<String>> = client.get("user:1").await?;
/// assert_eq!(users.as_deref(), Some(&["ann".to_string(), "bob".to_string()][..]));
/// # Ok(()) }
/// ```
pub struct Client<C: Codec = JsonCodec> {
    router: Arc<Router>,
    codec: C,
    /// Answers `GET`s from process memory when set.
    near: Option<NearCache>,
}

impl<C: Codec> Clone for Client<C> {
    fn clone(&self) -> Client<C> {
        Client {
            router: Arc::clone(&self.router),
            codec: self.codec.clone(),
            near: self.near.clone(),
        }
    }
}

impl<C: Codec> fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("router", &self.router)
            .finish()
    }
}

impl Client<JsonCodec> {
    /// Connects with the JSON codec: asks the seeds for `CLUSTER SLOTS` to
    /// learn whether this is a cluster (and its slot map) or a single node.
    ///
    /// Must be called inside a Tokio runtime (it starts the slot map
    /// refresh task of a cluster client there).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] without seeds; otherwise the last seed's error
    /// when none answered (unreachable, timeout, wrong password, ...).
    ///
    /// ```no_run
    /// # async fn demo() -> ringcache_client::Result<()> {
    /// use ringcache_client::{Client, ClientConfig};
    ///
    /// let client = Client::connect(ClientConfig::new(["127.0.0.1:7000"])).await?;
    /// println!("{:?} with {} nodes", client.mode(), client.nodes().len());
    /// # Ok(()) }
    /// ```
    pub async fn connect(config: ClientConfig) -> Result<Client<JsonCodec>> {
        Client::connect_with_codec(config, JsonCodec).await
    }
}

impl<C: Codec> Client<C> {
    /// Connects as [`Client::connect`] does, with `codec` for values.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn connect_with_codec(config: ClientConfig, codec: C) -> Result<Client<C>> {
        let router = Router::connect(config).await?;
        Ok(Client {
            router,
            codec,
            near: None,
        })
    }

    /// A handle on the same connections using another codec.
    pub fn with_codec<D: Codec>(&self, codec: D) -> Client<D> {
        Client {
            router: Arc::clone(&self.router),
            codec,
            near: self.near.clone(),
        }
    }

    /// A handle on the same connections whose `GET`s ([`Client::get`],
    /// [`Client::get_bytes`], and so those of a [`CacheAside`](crate::CacheAside) or
    /// [`WriteThrough`](crate::WriteThrough) made with it) go through a new
    /// [`NearCache`] (see [`near_cache`](crate::near_cache) for its coherence).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when [`NearCacheConfig::validate`] fails.
    pub fn with_near_cache(&self, config: NearCacheConfig) -> Result<Client<C>> {
        Ok(Client {
            router: Arc::clone(&self.router),
            codec: self.codec.clone(),
            near: Some(NearCache::new(Arc::clone(&self.router), config)?),
        })
    }

    /// The near cache, when this handle has one.
    pub fn near_cache(&self) -> Option<&NearCache> {
        self.near.as_ref()
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// Cluster or single node.
    pub fn mode(&self) -> Mode {
        self.router.mode()
    }

    /// The nodes in the current slot map (the one node in single-node mode).
    pub fn nodes(&self) -> Vec<String> {
        self.router.nodes()
    }

    /// Counters: slot map refreshes, redirects followed, retries.
    pub fn stats(&self) -> ClientStats {
        self.router.stats()
    }

    /// Fetches a new slot map now (a no-op for a single node). The
    /// background task does this on its own; this is for callers that know
    /// the cluster changed.
    ///
    /// # Errors
    /// The last node's error when no known node answered `CLUSTER SLOTS`.
    pub async fn refresh_slots(&self) -> Result<()> {
        self.router.refresh().await
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.router.config().request_timeout
    }

    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    async fn run(&self, cmd: Command) -> Result<Value> {
        let near_key = self.near.as_ref().filter(|_| !cmd.read).zip(cmd.key());
        let Some((near, key)) = near_key else {
            return self.router.run(&cmd, self.deadline()).await;
        };
        // Before: no read of the old value from here; after: none that
        // raced with the write was installed.
        near.forget(key);
        let reply = self.router.run(&cmd, self.deadline()).await;
        near.forget(key);
        reply
    }

    /// Decodes a bulk reply with the codec: `Nil` is `None`.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`] when the bytes do not decode,
    /// [`ErrorKind::Protocol`] for a reply that is not a string or nil.
    pub fn decode<V: DeserializeOwned>(&self, value: Value) -> Result<Option<V>> {
        match bulk_or_nil(value)? {
            Some(bytes) => self.codec.decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Decodes stored bytes with the codec.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`] when the bytes do not hold a `V`.
    pub fn decode_bytes<V: DeserializeOwned>(&self, bytes: &[u8]) -> Result<V> {
        self.codec.decode(bytes)
    }

    /// `PING`: checks that a node answers.
    ///
    /// # Errors
    /// Connection errors and timeouts.
    pub async fn ping(&self) -> Result<()> {
        self.run(Command::raw(&[b"PING"], Route::Any))
            .await
            .map(drop)
    }

    /// Any command, as words (`args[0]` is its name); returns the reply as
    /// it came. Keyless commands (`PING`, `INFO`, `DBSIZE`, ...) go to any
    /// node; others are routed by their second word (the key, for most
    /// commands; `MOVED` corrects the rest). It is not resent after a broken
    /// connection, since the client cannot know whether it is idempotent.
    ///
    /// # Errors
    /// The node's error reply, classified ([`ErrorKind`]); connection errors
    /// and timeouts.
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// let reply = client.cmd(&[b"STRLEN", b"user:1"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn cmd(&self, args: &[&[u8]]) -> Result<Value> {
        if args.is_empty() {
            return Err(Error::new(ErrorKind::Config, "empty command"));
        }
        self.run(Command::raw(args, route_raw(args))).await
    }

    /// A pipeline: queue commands, then send them together with
    /// [`Pipeline::execute`] (one write per node).
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// use ringcache_client::SetOptions;
    ///
    /// let mut pipeline = client.pipeline();
    /// pipeline.set("a", &1, SetOptions::new()).set("b", &2, SetOptions::new()).get("a");
    /// let replies = pipeline.query().await?;
    /// let a: Option<i32> = client.decode(replies[2].clone())?;
    /// # Ok(()) }
    /// ```
    pub fn pipeline(&self) -> Pipeline<C> {
        Pipeline::new(self.clone())
    }
}

/// A bulk string's bytes, or `None` for nil.
pub(crate) fn bulk_or_nil(value: Value) -> Result<Option<Vec<u8>>> {
    match value {
        Value::Bulk(bytes) | Value::Simple(bytes) => Ok(Some(bytes)),
        Value::Nil => Ok(None),
        Value::Error(line) => Err(Error::from_reply(&line)),
        other => Err(unexpected("a string reply", &other)),
    }
}

fn int(value: Value, what: &str) -> Result<i64> {
    match value {
        Value::Int(n) => Ok(n),
        other => Err(unexpected(what, &other)),
    }
}

fn count(value: Value, what: &str) -> Result<u64> {
    let n = int(value, what)?;
    u64::try_from(n).map_err(|_| Error::protocol(format!("{what}: negative count {n}")))
}

fn unexpected(what: &str, value: &Value) -> Error {
    let mut text = format!("{value:?}");
    text.truncate(100);
    Error::protocol(format!("unexpected reply to {what}: {text}"))
}
