//! Pub/Sub: which connections listen to which channels, patterns and shard
//! channels, and the delivery of published messages into each listener's
//! bounded inbox, which its connection drains and writes out between
//! requests (`pipeline`).
//!
//! An inbox is bounded by Redis's `client-output-buffer-limit pubsub`
//! (32 MB hard, 8 MB for 60 s soft): a subscriber that does not read is
//! disconnected rather than allowed to grow without bound.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::clients::ClientHandle;
use crate::glob::Pattern;
use crate::store::unix_ms;

/// Redis's default pub/sub output limits: hard bytes, soft bytes, soft
/// seconds.
const HARD_LIMIT: usize = 32 * 1024 * 1024;
const SOFT_LIMIT: usize = 8 * 1024 * 1024;
const SOFT_SECONDS: u64 = 60;

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// SUBSCRIBE: a channel by name.
    Channel,
    /// PSUBSCRIBE: channels matching a glob pattern.
    Pattern,
    /// SSUBSCRIBE: a shard channel (routed by its slot in a cluster).
    Shard,
}

/// A message waiting in an inbox.
#[derive(Debug, Clone)]
pub enum Push {
    /// From PUBLISH to a channel (or SPUBLISH to a shard channel).
    Message {
        /// Channel or shard channel.
        kind: Kind,
        /// Its name.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// From PUBLISH to a channel a pattern matches.
    PatternMessage {
        /// The pattern subscribed to.
        pattern: Bytes,
        /// The channel published to.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
}

impl Push {
    fn size(&self) -> usize {
        match self {
            Push::Message {
                channel, payload, ..
            } => channel.len() + payload.len() + 32,
            Push::PatternMessage {
                pattern,
                channel,
                payload,
            } => pattern.len() + channel.len() + payload.len() + 48,
        }
    }
}

/// One connection's inbox.
#[derive(Debug)]
pub struct Inbox {
    queue: Mutex<VecDeque<Push>>,
    bytes: AtomicUsize,
    /// When the inbox went over the soft limit (Unix ms, 0: under it).
    over_soft_since: AtomicU64,
    /// Wakes the connection.
    pub ready: Notify,
    client: Arc<ClientHandle>,
}

impl Inbox {
    /// An empty inbox for `client`.
    pub fn new(client: Arc<ClientHandle>) -> Arc<Inbox> {
        Arc::new(Inbox {
            queue: Mutex::new(VecDeque::new()),
            bytes: AtomicUsize::new(0),
            over_soft_since: AtomicU64::new(0),
            ready: Notify::new(),
            client,
        })
    }

    /// Queues `push`, or disconnects the client when its inbox is over the
    /// limits (the message is then dropped).
    fn deliver(&self, push: Push) {
        let size = push.size();
        let bytes = self.bytes.fetch_add(size, Ordering::Relaxed) + size;
        if bytes > HARD_LIMIT || self.soft_limit_passed(bytes) {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            self.client.kill();
            return;
        }
        self.queue.lock().push_back(push);
        self.ready.notify_one();
    }

    fn soft_limit_passed(&self, bytes: usize) -> bool {
        if bytes <= SOFT_LIMIT {
            self.over_soft_since.store(0, Ordering::Relaxed);
            return false;
        }
        let now = unix_ms();
        let since = match self.over_soft_since.compare_exchange(
            0,
            now,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => now,
            Err(since) => since,
        };
        now.saturating_sub(since) > SOFT_SECONDS * 1000
    }

    /// Takes everything queued.
    pub fn drain(&self) -> Vec<Push> {
        let drained: Vec<Push> = self.queue.lock().drain(..).collect();
        let size: usize = drained.iter().map(Push::size).sum();
        self.bytes.fetch_sub(size, Ordering::Relaxed);
        drained
    }
}

type Listeners = HashMap<u64, Arc<Inbox>>;

/// See the module docs.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, Listeners>>,
    patterns: RwLock<HashMap<Bytes, Listeners>>,
    shard_channels: RwLock<HashMap<Bytes, Listeners>>,
    /// Pattern subscriptions, for the cheap no-pattern case of PUBLISH.
    pattern_count: AtomicUsize,
}

impl PubSub {
    fn table(&self, kind: Kind) -> &RwLock<HashMap<Bytes, Listeners>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    /// Adds `inbox` (of client `id`) to `name`'s listeners.
    pub fn subscribe(&self, kind: Kind, name: &Bytes, id: u64, inbox: &Arc<Inbox>) {
        let added = self
            .table(kind)
            .write()
            .entry(name.clone())
            .or_default()
            .insert(id, inbox.clone())
            .is_none();
        if added && kind == Kind::Pattern {
            self.pattern_count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes client `id` from `name`'s listeners.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) {
        let mut table = self.table(kind).write();
        let Some(listeners) = table.get_mut(name) else {
            return;
        };
        if listeners.remove(&id).is_some() && kind == Kind::Pattern {
            self.pattern_count.fetch_sub(1, Ordering::Relaxed);
        }
        if listeners.is_empty() {
            table.remove(name);
        }
    }

    /// Delivers `payload` to the listeners of `channel` (and, for a plain
    /// channel, of the patterns matching it); returns how many received it.
    pub fn publish(&self, kind: Kind, channel: &Bytes, payload: &Bytes) -> usize {
        let mut received = 0;
        if let Some(listeners) = self.table(kind).read().get(channel) {
            for inbox in listeners.values() {
                inbox.deliver(Push::Message {
                    kind,
                    channel: channel.clone(),
                    payload: payload.clone(),
                });
                received += 1;
            }
        }
        if kind == Kind::Channel && self.pattern_count.load(Ordering::Relaxed) > 0 {
            for (pattern, listeners) in self.patterns.read().iter() {
                if !Pattern::new(pattern).matches(channel) {
                    continue;
                }
                for inbox in listeners.values() {
                    inbox.deliver(Push::PatternMessage {
                        pattern: pattern.clone(),
                        channel: channel.clone(),
                        payload: payload.clone(),
                    });
                    received += 1;
                }
            }
        }
        received
    }

    /// Channels (or shard channels) with listeners, those `pattern` matches
    /// (all without one).
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let pattern = pattern.map(Pattern::new);
        self.table(kind)
            .read()
            .keys()
            .filter(|name| pattern.as_ref().is_none_or(|p| p.matches(name)))
            .cloned()
            .collect()
    }

    /// Listeners of `name`.
    pub fn listeners(&self, kind: Kind, name: &[u8]) -> usize {
        self.table(kind).read().get(name).map_or(0, HashMap::len)
    }

    /// Pattern subscriptions, all clients together (PUBSUB NUMPAT).
    pub fn pattern_subscriptions(&self) -> usize {
        self.pattern_count.load(Ordering::Relaxed)
    }
}

/// One connection's subscriptions; all of them are dropped from the
/// registry when it is dropped (the connection closing, RESET).
#[derive(Debug)]
pub struct Subscriptions {
    registry: Arc<PubSub>,
    /// The connection's inbox.
    pub inbox: Arc<Inbox>,
    id: u64,
    names: HashMap<Kind, HashSet<Bytes>>,
}

impl Subscriptions {
    /// No subscriptions yet, for client `id` with `inbox`.
    pub fn new(registry: Arc<PubSub>, inbox: Arc<Inbox>, id: u64) -> Self {
        Subscriptions {
            registry,
            inbox,
            id,
            names: HashMap::new(),
        }
    }

    /// Subscribes; the connection's count of channels and patterns after
    /// it (shard channels counted apart, as Redis does).
    pub fn add(&mut self, kind: Kind, name: &[u8]) -> usize {
        let name = Bytes::copy_from_slice(name);
        if self.names.entry(kind).or_default().insert(name.clone()) {
            self.registry.subscribe(kind, &name, self.id, &self.inbox);
        }
        self.count(kind)
    }

    /// Unsubscribes; the count after it.
    pub fn remove(&mut self, kind: Kind, name: &[u8]) -> usize {
        if self
            .names
            .get_mut(&kind)
            .is_some_and(|names| names.remove(name))
        {
            self.registry.unsubscribe(kind, name, self.id);
        }
        self.count(kind)
    }

    /// The names subscribed to of `kind`.
    pub fn names(&self, kind: Kind) -> Vec<Bytes> {
        self.names
            .get(&kind)
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// What SUBSCRIBE and friends report: channels and patterns together,
    /// or shard channels alone.
    pub fn count(&self, kind: Kind) -> usize {
        let of = |k: Kind| self.names.get(&k).map_or(0, HashSet::len);
        match kind {
            Kind::Shard => of(Kind::Shard),
            Kind::Channel | Kind::Pattern => of(Kind::Channel) + of(Kind::Pattern),
        }
    }

    /// True with at least one subscription of any kind (RESP2's
    /// subscribed mode).
    pub fn any(&self) -> bool {
        self.names.values().any(|names| !names.is_empty())
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        for (kind, names) in &self.names {
            for name in names {
                self.registry.unsubscribe(*kind, name, self.id);
            }
        }
    }
}
