//! A connection's inbox: what other connections send it between its own
//! replies (Pub/Sub messages, client-tracking invalidations), queued until
//! the connection writes them out (`pipeline`).
//!
//! An inbox is bounded by Redis's `client-output-buffer-limit pubsub`
//! (32 MB hard, 8 MB for 60 s soft): [`Inbox::deliver`] refuses a push past
//! it, and the deliverer then disconnects the client
//! (`ClientHandle::deliver`) rather than let it grow without bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::soft_limit::SoftLimit;

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
    /// Client tracking: these keys changed (`None`: every key, a flush).
    /// A RESP3 connection gets an `invalidate` push; a RESP2 one gets a
    /// message on `__redis__:invalidate` when it is the redirect target of
    /// a tracking client and in subscribed mode, nothing otherwise.
    Invalidate {
        /// The keys; `None` for FLUSHALL and FLUSHDB.
        keys: Option<Vec<Bytes>>,
        /// A flush's null as the tracking client's protocol writes it
        /// (Redis writes the tracking client's null, even when a client
        /// of the other protocol receives it).
        resp3_null: bool,
        /// Sent here as the redirect target of another client.
        redirected: bool,
    },
    /// Client tracking: the redirect target of this tracking client is
    /// gone (RESP3 only).
    RedirectBroken {
        /// The target's id.
        target: u64,
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
            Push::Invalidate { keys, .. } => {
                32 + keys
                    .as_ref()
                    .map_or(0, |keys| keys.iter().map(|k| k.len() + 16).sum())
            }
            Push::RedirectBroken { .. } => 48,
        }
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Inbox {
    queue: Mutex<VecDeque<Push>>,
    bytes: AtomicUsize,
    /// When the inbox went over the soft limit.
    soft: SoftLimit,
}

impl Inbox {
    /// Queues `push`; false (and the push dropped) when the inbox is over
    /// its limits.
    pub fn deliver(&self, push: Push) -> bool {
        let size = push.size();
        let bytes = self.bytes.fetch_add(size, Ordering::AcqRel) + size;
        if bytes > HARD_LIMIT
            || self
                .soft
                .passed(bytes as u64, SOFT_LIMIT as u64, SOFT_SECONDS)
        {
            self.bytes.fetch_sub(size, Ordering::AcqRel);
            return false;
        }
        self.queue.lock().push_back(push);
        true
    }

    /// True when nothing waits (one atomic load: the connection asks before
    /// every request).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes.load(Ordering::Acquire) == 0
    }

    /// Takes everything queued.
    pub fn drain(&self) -> Vec<Push> {
        let drained: Vec<Push> = self.queue.lock().drain(..).collect();
        let size: usize = drained.iter().map(Push::size).sum();
        self.bytes.fetch_sub(size, Ordering::AcqRel);
        drained
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbox_refuses_past_its_hard_limit() {
        let inbox = Inbox::default();
        let big = Bytes::from(vec![0u8; HARD_LIMIT]);
        assert!(inbox.is_empty());
        assert!(!inbox.deliver(Push::Message {
            kind: Kind::Channel,
            channel: Bytes::from_static(b"c"),
            payload: big,
        }));
        assert!(inbox.is_empty());
        assert!(inbox.deliver(Push::RedirectBroken { target: 7 }));
        assert!(!inbox.is_empty());
        assert_eq!(inbox.drain().len(), 1);
        assert!(inbox.is_empty());
    }
}
