//! Replication: after a node runs a write as a slot's primary, it stamps
//! each written key with a new version and ships the key's resulting state
//! (value and absolute expiry, or its absence) to the slot's replicas over
//! the peer links. Shipping the effect rather than the command makes INCR,
//! APPEND and relative TTLs come out the same on every copy, and versions
//! make the order of arrival irrelevant: a replica keeps the newest state.
//!
//! A write that changes a large collection in place ships as its effect
//! instead (the command, for the copy at the version it changed:
//! `effects`), so its cost does not grow with the collection.
//!
//! With a write quorum W above 1 the client's reply waits until W-1
//! replicas confirmed every key of the write (WAIT asks the replicas for
//! their copies' versions instead, `wait`).

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::future::join_all;
use ringcache_proto::key_slot;
use tokio::sync::oneshot;

use super::effects::{self, Effect};
use super::peer::PeerReply;
use super::{wire, Cluster};
use crate::store::Store;
use std::sync::atomic::Ordering;

/// The replicas' confirmations of one write: per key, one receiver per
/// replica the key's state was shipped to.
#[derive(Debug, Default)]
pub struct Shipped {
    keys: Vec<Vec<oneshot::Receiver<PeerReply>>>,
}

impl Shipped {
    /// True if nothing was shipped (no key this node is primary of, or no
    /// replicas).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Waits until every key has `needed` confirmations; returns how many
    /// replicas confirmed every key (below `needed` if replicas failed or
    /// `timeout` passed).
    pub async fn quorum(self, needed: usize, timeout: Duration) -> usize {
        let wait = async {
            let mut least = usize::MAX;
            for replies in self.keys {
                if replies.len() < needed {
                    return 0;
                }
                least = least.min(count_ok(replies).await);
                if least < needed {
                    return least;
                }
            }
            if least == usize::MAX {
                0
            } else {
                least
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(0)
    }
}

async fn count_ok(replies: Vec<oneshot::Receiver<PeerReply>>) -> usize {
    join_all(replies)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(frame)) if !frame.starts_with(b"-")))
        .count()
}

/// Ships the state of `keys` to their slots' replicas, for the keys whose
/// slot this node is primary of: as `effect` (the command) for the keys it
/// changed when the write changed a large collection in place
/// (`effects`), as each key's whole state otherwise.
pub fn ship<'k>(
    cluster: &Arc<Cluster>,
    store: &Store,
    keys: impl Iterator<Item = &'k [u8]>,
    effect: Option<Effect<'_>>,
) -> Shipped {
    let view = cluster.view();
    let mut shipped = Shipped::default();
    // The keys an effect covers get its confirmations once, together.
    let effect = effect.and_then(|effect| {
        let replies = effects::ship(cluster, store, &view, &effect)?;
        cluster
            .stats
            .replicated
            .fetch_add(replies.len() as u64, Ordering::Relaxed);
        shipped.keys.push(replies);
        Some(effect)
    });
    for key in keys {
        let slot = key_slot(key);
        if !view.is_primary(slot) || effect.as_ref().is_some_and(|e| e.covers(key)) {
            continue;
        }
        let owners = view.placement.owners(slot);
        if owners.len() < 2 {
            // No replica to ship to, but a quorum above 1 must still fail.
            // The write stays here all the same (as a refused write does in
            // Redis): versioned like any other, so that the copies agree
            // once the ring has replicas again, the newer state winning.
            if cluster.settings.replicas > 0 {
                store.stamp_in_place(key, cluster.hlc.next().0);
            }
            shipped.keys.push(Vec::new());
            continue;
        }
        let snapshot = store.stamp(key, || cluster.hlc.next().0);
        let mut command = BytesMut::new();
        wire::encode_apply(&mut command, &snapshot);
        let command = command.freeze();
        let mut replies = Vec::with_capacity(owners.len() - 1);
        for &replica in &owners[1..] {
            replies.push(
                cluster
                    .peers
                    .send(view.addr(replica), false, command.clone()),
            );
        }
        cluster
            .stats
            .replicated
            .fetch_add(replies.len() as u64, Ordering::Relaxed);
        shipped.keys.push(replies);
    }
    shipped
}
