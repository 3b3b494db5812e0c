//! Pub/Sub: which connections listen to which channels, patterns and shard
//! channels, and the delivery of published messages into each listener's
//! bounded inbox (`crate::inbox`), which its connection drains and writes
//! out between requests (`pipeline`). A subscriber that does not read is
//! disconnected at the inbox's limits rather than allowed to grow without
//! bound.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::clients::ClientHandle;
use crate::glob::Pattern;
pub use crate::inbox::{Kind, Push};

type Listeners = HashMap<u64, Arc<ClientHandle>>;

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

    /// Adds `client` to `name`'s listeners.
    pub fn subscribe(&self, kind: Kind, name: &Bytes, client: &Arc<ClientHandle>) {
        let added = self
            .table(kind)
            .write()
            .entry(name.clone())
            .or_default()
            .insert(client.id, client.clone())
            .is_none();
        if added && kind == Kind::Pattern {
            self.pattern_count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every subscription: its kind, its channel or pattern, and its
    /// client (an ACL change checks them against the clients' users).
    pub fn subscriptions(&self) -> Vec<(Kind, Bytes, Arc<ClientHandle>)> {
        let mut all = Vec::new();
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for (name, listeners) in self.table(kind).read().iter() {
                all.extend(listeners.values().map(|c| (kind, name.clone(), c.clone())));
            }
        }
        all
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
            for client in listeners.values() {
                client.deliver(Push::Message {
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
                for client in listeners.values() {
                    client.deliver(Push::PatternMessage {
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
    /// The connection, whose inbox messages arrive in.
    client: Arc<ClientHandle>,
    names: HashMap<Kind, HashSet<Bytes>>,
}

impl Subscriptions {
    /// No subscriptions yet, for `client`.
    pub fn new(registry: Arc<PubSub>, client: Arc<ClientHandle>) -> Self {
        Subscriptions {
            registry,
            client,
            names: HashMap::new(),
        }
    }

    /// Subscribes; the connection's count of channels and patterns after
    /// it (shard channels counted apart, as Redis does).
    pub fn add(&mut self, kind: Kind, name: &[u8]) -> usize {
        let name = Bytes::copy_from_slice(name);
        if self.names.entry(kind).or_default().insert(name.clone()) {
            self.registry.subscribe(kind, &name, &self.client);
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
            self.registry.unsubscribe(kind, name, self.client.id);
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
                self.registry.unsubscribe(*kind, name, self.client.id);
            }
        }
    }
}
