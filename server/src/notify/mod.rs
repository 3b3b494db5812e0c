//! Keyspace notifications (`notify-keyspace-events`): the events commands,
//! expiry and eviction raise about keys, published through the node's
//! Pub/Sub as Redis does, on `__keyspace@<db>__:<key>` (the message is the
//! event) and `__keyevent@<db>__:<event>` (the message is the key).
//!
//! Handlers raise their events through `Ctx::notify` (`commands`); keys the
//! store expires or evicts arrive through its removal hook
//! ([`crate::store::RemovalListener`]). Events are published on this node
//! only (as Redis Cluster does), by the node that owns the key: the owner
//! filter the cluster layer installs keeps a replica's copies quiet. While
//! notifications are off, raising an event costs one atomic load.

mod classes;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::{BufMut, Bytes, BytesMut};

use crate::pubsub::{Kind, PubSub};
use crate::store::{Removal, RemovalListener};

pub use classes::Classes;

/// Decides whether this node owns a key (so raises its expiry and eviction
/// events); absent on a standalone node, which owns every key.
pub type OwnerFilter = Box<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// See the module docs; one per node.
pub struct KeyspaceEvents {
    classes: AtomicU32,
    pubsub: Arc<PubSub>,
    owner: OnceLock<OwnerFilter>,
}

impl std::fmt::Debug for KeyspaceEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyspaceEvents")
            .field("classes", &self.classes())
            .finish()
    }
}

impl KeyspaceEvents {
    /// Events published to `pubsub`, with `classes` enabled.
    pub fn new(pubsub: Arc<PubSub>, classes: Classes) -> KeyspaceEvents {
        KeyspaceEvents {
            classes: AtomicU32::new(classes.0),
            pubsub,
            owner: OnceLock::new(),
        }
    }

    /// Changes the enabled classes (CONFIG SET).
    pub fn set_classes(&self, classes: Classes) {
        self.classes.store(classes.0, Ordering::Relaxed);
    }

    /// The enabled classes.
    #[inline]
    pub fn classes(&self) -> Classes {
        Classes(self.classes.load(Ordering::Relaxed))
    }

    /// True if events of `class` are published now.
    #[inline]
    pub fn wants(&self, class: Classes) -> bool {
        let on = self.classes();
        on.any(class) && on.any(Classes::KEYSPACE.with(Classes::KEYEVENT))
    }

    /// Makes expiry and eviction events fire only for keys `owns` accepts
    /// (a cluster node: the keys it is primary of). Only the first call
    /// counts.
    pub fn set_owner_filter(&self, owns: OwnerFilter) {
        let _ = self.owner.set(owns);
    }

    /// Publishes `event` about `key` of database `db` if `class` is
    /// enabled.
    #[inline]
    pub fn notify(&self, class: Classes, event: &str, key: &[u8], db: usize) {
        if self.wants(class) {
            self.publish(event, key, db);
        }
    }

    #[cold]
    fn publish(&self, event: &str, key: &[u8], db: usize) {
        let on = self.classes();
        let event_bytes = Bytes::copy_from_slice(event.as_bytes());
        let key_bytes = Bytes::copy_from_slice(key);
        if on.has(Classes::KEYSPACE) {
            let channel = channel("__keyspace@", db, key);
            self.pubsub.publish(Kind::Channel, &channel, &event_bytes);
        }
        if on.has(Classes::KEYEVENT) {
            let channel = channel("__keyevent@", db, event.as_bytes());
            self.pubsub.publish(Kind::Channel, &channel, &key_bytes);
        }
    }
}

/// `<prefix><db>__:<suffix>`.
fn channel(prefix: &str, db: usize, suffix: &[u8]) -> Bytes {
    let mut digits = itoa::Buffer::new();
    let db = digits.format(db);
    let mut channel = BytesMut::with_capacity(prefix.len() + db.len() + 3 + suffix.len());
    channel.put_slice(prefix.as_bytes());
    channel.put_slice(db.as_bytes());
    channel.put_slice(b"__:");
    channel.put_slice(suffix);
    channel.freeze()
}

impl RemovalListener for KeyspaceEvents {
    fn removed(&self, db: usize, key: &[u8], why: Removal) {
        let (class, event) = match why {
            Removal::Expired => (Classes::EXPIRED, "expired"),
            Removal::Evicted => (Classes::EVICTED, "evicted"),
        };
        if !self.wants(class) || self.owner.get().is_some_and(|owns| !owns(key)) {
            return;
        }
        self.publish(event, key, db);
    }

    fn missed(&self, db: usize, key: &[u8]) {
        self.notify(Classes::KEY_MISS, "keymiss", key, db);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::Clients;
    use crate::inbox::Push;
    use crate::pubsub::Subscriptions;

    #[test]
    fn events_reach_keyspace_and_keyevent_channels() {
        let pubsub = Arc::new(PubSub::default());
        let clients = Clients::default();
        let addr = "127.0.0.1:1".parse().unwrap();
        let handle = clients.register(addr, addr);
        let inbox = &handle.inbox;
        let mut subscriptions = Subscriptions::new(pubsub.clone(), handle.clone());
        subscriptions.add(Kind::Pattern, b"__key*__:*");
        let events = KeyspaceEvents::new(pubsub, Classes::NONE);
        events.notify(Classes::STRING, "set", b"k", 0);
        assert!(inbox.drain().is_empty());
        events.set_classes(Classes::parse("KE$").unwrap());
        events.notify(Classes::GENERIC, "del", b"k", 0);
        events.notify(Classes::STRING, "set", b"k", 3);
        let got: Vec<(Bytes, Bytes)> = inbox
            .drain()
            .into_iter()
            .map(|push| match push {
                Push::PatternMessage {
                    channel, payload, ..
                } => (channel, payload),
                other => panic!("a pattern subscription: {other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                (Bytes::from("__keyspace@3__:k"), Bytes::from("set")),
                (Bytes::from("__keyevent@3__:set"), Bytes::from("k")),
            ]
        );
    }
}
