//! The typed client: [`ClientConfig`], [`Client`] and its commands
//! (strings, keys, counters, hashes, multi-key commands split by slot, a raw
//! escape hatch), with values going through a [`Codec`].
//!
//! Every method has one deadline, `request_timeout` from the config, within
//! which redirects are followed and transient failures retried (see
//! [`cluster`](crate::cluster)).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

use crate::cluster::{ClientStats, Mode, Router};
use crate::codec::{Codec, JsonCodec};
use crate::command::{route_raw, Command, Route};
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::Pipeline;
use crate::resp::Value;

/// Default [`ClientConfig::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// Default [`ClientConfig::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default [`ClientConfig::max_redirects`].
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;
/// Default [`ClientConfig::refresh_interval`].
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
/// Default [`ClientConfig::queue_capacity`].
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;
/// Default [`ClientConfig::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4096;

/// How to reach the deployment and how patient to be.
///
/// ```
/// use std::time::Duration;
/// use ringcache_client::ClientConfig;
///
/// let config = ClientConfig {
///     request_timeout: Duration::from_millis(250),
///     ..ClientConfig::new(["127.0.0.1:7000", "127.0.0.1:7001"])
/// };
/// assert_eq!(config.pool_size, 1);
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    /// Seed nodes, `host:port`. Any one answering is enough; in a cluster
    /// the others are learned from it.
    pub nodes: Vec<String>,
    /// `AUTH` user name (ACL), with `password`.
    pub username: Option<String>,
    /// `AUTH` password, sent on every new connection.
    pub password: Option<String>,
    /// Total time one call may take, redirects and retries included.
    pub request_timeout: Duration,
    /// Time one TCP connect plus handshake may take.
    pub connect_timeout: Duration,
    /// Connections per node, used round-robin (at least 1).
    pub pool_size: usize,
    /// In a cluster, send reads to a replica of the key's slot (over
    /// `READONLY` connections); they may be slightly stale.
    pub read_from_replicas: bool,
    /// `MOVED`/`ASK` redirects one request follows at most.
    pub max_redirects: u32,
    /// How often the slot map is refreshed when nothing asks for it.
    pub refresh_interval: Duration,
    /// Requests queued per connection before new ones are shed with
    /// [`ErrorKind::Overloaded`].
    pub queue_capacity: usize,
    /// Commands in flight per connection at most.
    pub max_in_flight: usize,
}

impl ClientConfig {
    /// Defaults for everything but the seed nodes.
    pub fn new<I, S>(nodes: I) -> ClientConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ClientConfig {
            nodes: nodes.into_iter().map(Into::into).collect(),
            ..ClientConfig::default()
        }
    }
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            nodes: Vec::new(),
            username: None,
            password: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            pool_size: 1,
            read_from_replicas: false,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("nodes", &self.nodes)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_size", &self.pool_size)
            .field("read_from_replicas", &self.read_from_replicas)
            .field("max_redirects", &self.max_redirects)
            .field("refresh_interval", &self.refresh_interval)
            .field("queue_capacity", &self.queue_capacity)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

/// When a key set by [`Client::set`] expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `EX`: after this many seconds.
    Seconds(u64),
    /// `PX`: after this many milliseconds.
    Millis(u64),
    /// `EXAT`: at this Unix time, in seconds.
    AtUnixSeconds(u64),
    /// `PXAT`: at this Unix time, in milliseconds.
    AtUnixMillis(u64),
    /// `KEEPTTL`: keep the key's current expiry.
    KeepTtl,
}

/// Write only if the key exists, or only if it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `NX`: only if the key does not exist.
    IfAbsent,
    /// `XX`: only if the key exists.
    IfPresent,
}

/// Options of [`Client::set`]; the default writes unconditionally with no
/// expiry.
///
/// ```
/// use std::time::Duration;
/// use ringcache_client::SetOptions;
///
/// let options = SetOptions::new().ttl(Duration::from_secs(60)).if_absent();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// When the key expires; `None` for never (and a previous TTL is cleared).
    pub expiry: Option<Expiry>,
    /// Write only if the key exists (or not).
    pub condition: Option<Condition>,
    /// `GET`: return the previous value.
    pub get: bool,
}

impl SetOptions {
    /// No expiry, unconditional, no `GET`.
    pub fn new() -> SetOptions {
        SetOptions::default()
    }

    /// Expire after `ttl`, with millisecond precision (`PX`; a TTL under
    /// 1 ms is rounded up to 1 ms).
    pub fn ttl(mut self, ttl: Duration) -> SetOptions {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.expiry = Some(Expiry::Millis(millis));
        self
    }

    /// Expire as `expiry` says.
    pub fn expiry(mut self, expiry: Expiry) -> SetOptions {
        self.expiry = Some(expiry);
        self
    }

    /// Keep the key's current TTL (`KEEPTTL`).
    pub fn keep_ttl(self) -> SetOptions {
        self.expiry(Expiry::KeepTtl)
    }

    /// Write only if the key does not exist (`NX`).
    pub fn if_absent(mut self) -> SetOptions {
        self.condition = Some(Condition::IfAbsent);
        self
    }

    /// Write only if the key exists (`XX`).
    pub fn if_present(mut self) -> SetOptions {
        self.condition = Some(Condition::IfPresent);
        self
    }

    /// Return the previous value (`GET`) in [`SetOutcome::previous`].
    pub fn get_previous(mut self) -> SetOptions {
        self.get = true;
        self
    }

    /// The option words after `SET key value`.
    pub(crate) fn words(&self) -> Vec<Vec<u8>> {
        let mut words: Vec<Vec<u8>> = Vec::with_capacity(4);
        match self.condition {
            Some(Condition::IfAbsent) => words.push(b"NX".to_vec()),
            Some(Condition::IfPresent) => words.push(b"XX".to_vec()),
            None => {}
        }
        if self.get {
            words.push(b"GET".to_vec());
        }
        let mut timed = |word: &[u8], n: u64| {
            words.push(word.to_vec());
            words.push(n.to_string().into_bytes());
        };
        match self.expiry {
            Some(Expiry::Seconds(n)) => timed(b"EX", n),
            Some(Expiry::Millis(n)) => timed(b"PX", n),
            Some(Expiry::AtUnixSeconds(n)) => timed(b"EXAT", n),
            Some(Expiry::AtUnixMillis(n)) => timed(b"PXAT", n),
            Some(Expiry::KeepTtl) => words.push(b"KEEPTTL".to_vec()),
            None => {}
        }
        words
    }
}

/// What [`Client::set`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    /// The value was written (false when the `NX`/`XX` condition failed).
    pub written: bool,
    /// The previous value's bytes, when [`SetOptions::get`] was asked for
    /// (`None` otherwise, or when there was none); decode them with
    /// [`Client::decode_bytes`].
    pub previous: Option<Vec<u8>>,
}

/// A key's time to live, from [`Client::ttl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist.
    Missing,
    /// The key exists and never expires.
    Persistent,
    /// The key expires after this long.
    ExpiresIn(Duration),
}

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
}

impl<C: Codec> Clone for Client<C> {
    fn clone(&self) -> Client<C> {
        Client {
            router: Arc::clone(&self.router),
            codec: self.codec.clone(),
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
        Ok(Client { router, codec })
    }

    /// A handle on the same connections using another codec.
    pub fn with_codec<D: Codec>(&self, codec: D) -> Client<D> {
        Client {
            router: Arc::clone(&self.router),
            codec,
        }
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
        self.router.run(&cmd, self.deadline()).await
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

    /// `GET` and decode.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`] when the stored bytes do not decode as `V`;
    /// `WRONGTYPE` ([`ErrorKind::Server`]) for a non-string key; connection
    /// errors and timeouts.
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// let name: Option<String> = client.get("user:1:name").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get<V: DeserializeOwned>(&self, key: impl AsRef<[u8]>) -> Result<Option<V>> {
        let value = self.get_bytes(key).await?;
        value.map(|bytes| self.codec.decode(&bytes)).transpose()
    }

    /// `GET`, the stored bytes as they are.
    ///
    /// # Errors
    /// As [`Client::get`], without codec errors.
    pub async fn get_bytes(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let reply = self
            .run(Command::keyed(b"GET", key.as_ref(), &[]).read())
            .await?;
        bulk_or_nil(reply)
    }

    /// `SET` the encoded `value`, with an expiry, a condition, and the
    /// previous value as `options` say.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`] when `value` does not encode; server errors (such as `WRONGTYPE` with `GET` on a
    /// hash); connection errors and timeouts.
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// use std::time::Duration;
    /// use ringcache_client::SetOptions;
    ///
    /// let outcome = client
    ///     .set("lock:job", &"worker-1", SetOptions::new().if_absent().ttl(Duration::from_secs(30)))
    ///     .await?;
    /// if outcome.written { /* we hold the lock */ }
    /// # Ok(()) }
    /// ```
    pub async fn set<V: Serialize + ?Sized>(
        &self,
        key: impl AsRef<[u8]>,
        value: &V,
        options: SetOptions,
    ) -> Result<SetOutcome> {
        let bytes = self.codec.encode(value)?;
        self.set_bytes(key, &bytes, options).await
    }

    /// `SET` raw bytes; see [`Client::set`].
    ///
    /// # Errors
    /// As [`Client::set`], without codec errors.
    pub async fn set_bytes(
        &self,
        key: impl AsRef<[u8]>,
        value: &[u8],
        options: SetOptions,
    ) -> Result<SetOutcome> {
        let words = options.words();
        let mut rest: Vec<&[u8]> = Vec::with_capacity(1 + words.len());
        rest.push(value);
        rest.extend(words.iter().map(Vec::as_slice));
        let reply = self
            .run(Command::keyed(b"SET", key.as_ref(), &rest))
            .await?;
        if options.get {
            let previous = bulk_or_nil(reply)?;
            let written = match options.condition {
                None => true,
                Some(Condition::IfAbsent) => previous.is_none(),
                Some(Condition::IfPresent) => previous.is_some(),
            };
            return Ok(SetOutcome { written, previous });
        }
        let written = match reply {
            Value::Simple(_) => true,
            Value::Nil => false,
            other => return Err(unexpected("SET", &other)),
        };
        Ok(SetOutcome {
            written,
            previous: None,
        })
    }

    /// `SET key value IFEQ current PX ttl`: compare-and-set (Redis 8.4,
    /// ringcache). Writes `value` only if `key` holds exactly the string
    /// `current`; returns whether it wrote. The cache helpers use it so a
    /// refresh never overwrites a value written after the refresh began.
    ///
    /// Not resent after a broken connection: a resent compare-and-set that
    /// was applied the first time would report `false`.
    ///
    /// # Errors
    /// `ERR` ([`ErrorKind::Server`]) from a server without `IFEQ`
    /// (redis-server before 8.4 answers `ERR syntax error`); `WRONGTYPE`
    /// when `key` holds a hash; connection errors and timeouts.
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// use std::time::Duration;
    ///
    /// let swapped = client
    ///     .set_bytes_if_equal("config", b"v2", b"v1", Duration::from_secs(60))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_bytes_if_equal(
        &self,
        key: impl AsRef<[u8]>,
        value: &[u8],
        current: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        let millis = u64::try_from(ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
            .to_string();
        let cmd = Command::keyed(
            b"SET",
            key.as_ref(),
            &[value, b"IFEQ", current, b"PX", millis.as_bytes()],
        )
        .not_idempotent();
        match self.run(cmd).await? {
            Value::Simple(_) => Ok(true),
            Value::Nil => Ok(false),
            other => Err(unexpected("SET IFEQ", &other)),
        }
    }

    /// `DEL`: removes the keys; returns how many existed. In a cluster the
    /// keys are split by slot, each part sent to its node.
    ///
    /// # Errors
    /// Connection errors and timeouts (some keys may be deleted already).
    pub async fn del<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        self.sum_by_slot(b"DEL", keys).await
    }

    /// `EXISTS` for one key.
    ///
    /// # Errors
    /// Connection errors and timeouts.
    pub async fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let reply = self
            .run(Command::keyed(b"EXISTS", key.as_ref(), &[]).read())
            .await?;
        Ok(int(reply, "EXISTS")? > 0)
    }

    /// `PEXPIRE`: the key expires after `ttl` (millisecond precision).
    /// Returns false when the key does not exist.
    ///
    /// # Errors
    /// Connection errors and timeouts.
    pub async fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        let millis = u64::try_from(ttl.as_millis())
            .unwrap_or(u64::MAX)
            .to_string();
        let reply = self
            .run(Command::keyed(
                b"PEXPIRE",
                key.as_ref(),
                &[millis.as_bytes()],
            ))
            .await?;
        Ok(int(reply, "PEXPIRE")? == 1)
    }

    /// `PTTL`: whether the key exists, and when it expires.
    ///
    /// # Errors
    /// Connection errors and timeouts.
    pub async fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        let reply = self
            .run(Command::keyed(b"PTTL", key.as_ref(), &[]).read())
            .await?;
        Ok(match int(reply, "PTTL")? {
            -2 => Ttl::Missing,
            -1 => Ttl::Persistent,
            ms => Ttl::ExpiresIn(Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
        })
    }

    /// `INCRBY`: adds `by` to the integer at `key` (0 when missing); returns
    /// the new value. Not resent after a broken connection (it is not
    /// idempotent), so a [`ErrorKind::ConnectionDropped`] error means "maybe
    /// applied".
    ///
    /// # Errors
    /// `ERR` ([`ErrorKind::Server`]) when the value is not an integer or
    /// would overflow; connection errors and timeouts.
    pub async fn incr(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        let by = by.to_string();
        let cmd = Command::keyed(b"INCRBY", key.as_ref(), &[by.as_bytes()]).not_idempotent();
        int(self.run(cmd).await?, "INCRBY")
    }

    /// `MGET` and decode: one value (or `None`) per key, in order. In a
    /// cluster the keys are grouped by slot, one `MGET` per slot, the
    /// commands for each node written together and the nodes asked in
    /// parallel; for a single node it is one `MGET`.
    ///
    /// # Errors
    /// The first failing part's error; [`ErrorKind::Codec`] when a value
    /// does not decode as `V`.
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// let scores: Vec<Option<u32>> = client.mget(&["score:ann", "score:bob"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn mget<V: DeserializeOwned, K: AsRef<[u8]>>(
        &self,
        keys: &[K],
    ) -> Result<Vec<Option<V>>> {
        self.mget_bytes(keys)
            .await?
            .into_iter()
            .map(|value| value.map(|bytes| self.codec.decode(&bytes)).transpose())
            .collect()
    }

    /// `MGET`, the stored bytes as they are; see [`Client::mget`].
    ///
    /// # Errors
    /// As [`Client::mget`], without codec errors.
    pub async fn mget_bytes<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let groups = self.router.group_by_slot(keys.iter().map(AsRef::as_ref));
        let cmds: Vec<Command> = groups
            .iter()
            .map(|(route, members)| {
                let mut args: Vec<&[u8]> = vec![b"MGET"];
                args.extend(members.iter().map(|&i| keys[i].as_ref()));
                Command::raw(&args, *route).read().idempotent()
            })
            .collect();
        let replies = self.run_all(&cmds).await;
        let mut out: Vec<Option<Vec<u8>>> = vec![None; keys.len()];
        for ((_, members), reply) in groups.iter().zip(replies) {
            let Value::Array(values) = reply? else {
                return Err(Error::protocol("MGET reply is not an array"));
            };
            if values.len() != members.len() {
                return Err(Error::protocol("MGET reply has the wrong length"));
            }
            for (&i, value) in members.iter().zip(values) {
                out[i] = bulk_or_nil(value)?;
            }
        }
        Ok(out)
    }

    /// `MSET` of encoded values. In a cluster, split by slot as
    /// [`Client::mget`] is, so it is atomic per slot only.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`] when a value does not encode (nothing is sent
    /// then); the first failing part's error (other parts may be written).
    pub async fn mset<K: AsRef<[u8]>, V: Serialize>(&self, pairs: &[(K, V)]) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let encoded: Vec<Vec<u8>> = pairs
            .iter()
            .map(|(_, v)| self.codec.encode(v))
            .collect::<Result<_>>()?;
        let groups = self
            .router
            .group_by_slot(pairs.iter().map(|(k, _)| k.as_ref()));
        let cmds: Vec<Command> = groups
            .iter()
            .map(|(route, members)| {
                let mut args: Vec<&[u8]> = vec![b"MSET"];
                for &i in members {
                    args.push(pairs[i].0.as_ref());
                    args.push(&encoded[i]);
                }
                Command::raw(&args, *route).idempotent()
            })
            .collect();
        for reply in self.run_all(&cmds).await {
            reply?;
        }
        Ok(())
    }

    /// `HSET` fields of the hash at `key` to encoded values; returns how
    /// many fields were new.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`] when a value does not encode; `WRONGTYPE` when
    /// `key` holds a string; connection errors and timeouts.
    pub async fn hset<F: AsRef<[u8]>, V: Serialize>(
        &self,
        key: impl AsRef<[u8]>,
        fields: &[(F, V)],
    ) -> Result<u64> {
        let encoded: Vec<Vec<u8>> = fields
            .iter()
            .map(|(_, v)| self.codec.encode(v))
            .collect::<Result<_>>()?;
        let mut rest: Vec<&[u8]> = Vec::with_capacity(fields.len() * 2);
        for ((field, _), value) in fields.iter().zip(&encoded) {
            rest.push(field.as_ref());
            rest.push(value);
        }
        let reply = self
            .run(Command::keyed(b"HSET", key.as_ref(), &rest))
            .await?;
        count(reply, "HSET")
    }

    /// `HGET` and decode.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn hget<V: DeserializeOwned>(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
    ) -> Result<Option<V>> {
        let cmd = Command::keyed(b"HGET", key.as_ref(), &[field.as_ref()]).read();
        self.decode(self.run(cmd).await?)
    }

    /// `HGETALL` and decode every value; field names must be UTF-8.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`] for a value that does not decode or a field name
    /// that is not UTF-8; as [`Client::get`] otherwise.
    pub async fn hgetall<V: DeserializeOwned>(
        &self,
        key: impl AsRef<[u8]>,
    ) -> Result<HashMap<String, V>> {
        let reply = self
            .run(Command::keyed(b"HGETALL", key.as_ref(), &[]).read())
            .await?;
        let pairs: Vec<(Value, Value)> = match reply {
            Value::Array(items) if items.len() % 2 == 0 => {
                let mut items = items.into_iter();
                std::iter::from_fn(|| Some((items.next()?, items.next()?))).collect()
            }
            Value::Map(pairs) => pairs,
            other => return Err(unexpected("HGETALL", &other)),
        };
        let mut out = HashMap::with_capacity(pairs.len());
        for (field, value) in pairs {
            let field = bulk_or_nil(field)?.unwrap_or_default();
            let field = String::from_utf8(field)
                .map_err(|_| Error::codec("hash field name is not UTF-8"))?;
            let Some(bytes) = bulk_or_nil(value)? else {
                continue;
            };
            out.insert(field, self.codec.decode(&bytes)?);
        }
        Ok(out)
    }

    /// `HDEL`: removes fields; returns how many existed.
    ///
    /// # Errors
    /// Connection errors and timeouts.
    pub async fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<u64> {
        let rest: Vec<&[u8]> = fields.iter().map(AsRef::as_ref).collect();
        let reply = self
            .run(Command::keyed(b"HDEL", key.as_ref(), &rest))
            .await?;
        count(reply, "HDEL")
    }

    /// `HINCRBY`: adds `by` to an integer field; returns the new value. Not
    /// resent after a broken connection, like [`Client::incr`].
    ///
    /// # Errors
    /// `ERR` when the field is not an integer; connection errors and
    /// timeouts.
    pub async fn hincrby(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        by: i64,
    ) -> Result<i64> {
        let by = by.to_string();
        let cmd = Command::keyed(b"HINCRBY", key.as_ref(), &[field.as_ref(), by.as_bytes()])
            .not_idempotent();
        int(self.run(cmd).await?, "HINCRBY")
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

    /// One command through [`Router::run`], several through
    /// [`Router::run_batch`].
    async fn run_all(&self, cmds: &[Command]) -> Vec<Result<Value>> {
        let deadline = self.deadline();
        match cmds {
            [one] => vec![self.router.run(one, deadline).await],
            many => self.router.run_batch(many, deadline).await,
        }
    }

    /// A multi-key command whose reply is a count (DEL), split by slot and
    /// summed.
    async fn sum_by_slot<K: AsRef<[u8]>>(&self, name: &[u8], keys: &[K]) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let groups = self.router.group_by_slot(keys.iter().map(AsRef::as_ref));
        let cmds: Vec<Command> = groups
            .iter()
            .map(|(route, members)| {
                let mut args: Vec<&[u8]> = vec![name];
                args.extend(members.iter().map(|&i| keys[i].as_ref()));
                Command::raw(&args, *route).idempotent()
            })
            .collect();
        let mut total = 0;
        for reply in self.run_all(&cmds).await {
            total += count(reply?, "DEL")?;
        }
        Ok(total)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_options_become_words() {
        let words = |o: SetOptions| -> Vec<String> {
            o.words()
                .into_iter()
                .map(|w| String::from_utf8(w).expect("ascii"))
                .collect()
        };
        assert!(words(SetOptions::new()).is_empty());
        assert_eq!(
            words(
                SetOptions::new()
                    .ttl(Duration::from_millis(1500))
                    .if_absent()
                    .get_previous()
            ),
            ["NX", "GET", "PX", "1500"]
        );
        assert_eq!(words(SetOptions::new().ttl(Duration::ZERO)), ["PX", "1"]);
        assert_eq!(
            words(SetOptions::new().keep_ttl().if_present()),
            ["XX", "KEEPTTL"]
        );
        assert_eq!(
            words(SetOptions::new().expiry(Expiry::AtUnixSeconds(2_000_000_000))),
            ["EXAT", "2000000000"]
        );
        assert_eq!(
            words(SetOptions::new().expiry(Expiry::Seconds(5))),
            ["EX", "5"]
        );
        assert_eq!(
            words(SetOptions::new().expiry(Expiry::AtUnixMillis(7))),
            ["PXAT", "7"]
        );
    }

    #[test]
    fn client_is_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Client>();
        check::<ClientConfig>();
    }

    #[test]
    fn password_is_not_printed() {
        let config = ClientConfig {
            password: Some("hunter2".into()),
            ..ClientConfig::new(["a:1"])
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
