//! Replica repair: what a peer may have missed is pushed to it again once
//! it answers.
//!
//! A write whose replication failed (the peer unreachable, or the link
//! aborted or lost with the request unanswered) stays applied here; the
//! client got an error, but the copies differ until the key is written
//! again. A link no longer retransmits such requests when it heals (see
//! `peer`), so the peer pool notes, per peer, the time from which it may
//! have missed something; this worker then waits until the peer answers a
//! PING and sends it, as `RCAPPLY`, every entry of the slots it owns whose
//! version is not older than that time (versions follow wall time, so older
//! entries were confirmed). Versions make it idempotent: the peer keeps the
//! newer state of each key. Deletes are not pushed (a delete leaves only a
//! short-lived mark).
//!
//! Ring changes feed it too ([`after_ring_change`]): a member that leaves
//! this node's ring is remembered with the time from which it may have
//! missed writes, and pushed everything from then on when it is back (a
//! partition healed), so the writes this node took alone reach every
//! owner of their slots alike; a member that stays is pushed the last few
//! seconds, which covers writes this node took under the old ring after a
//! new owner had already pulled their slot.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::future::join_all;
use ringcache_proto::key_slot;
use ringcache_proto::resp;
use tokio::sync::oneshot;
use tracing::{debug, info};

use std::collections::HashMap;

use parking_lot::Mutex;

use super::hlc::Version;
use super::view::ClusterView;
use super::{wire, Cluster};
use crate::state::NodeState;
use crate::store::Store;

/// How often peers waiting for a repair are tried again.
const RETRY_PERIOD: Duration = Duration::from_secs(1);
/// Longest a probe or a batch of a push may wait for its replies.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// After a ring change, the writes this node took from this far back are
/// pushed again to the members that stayed: longer than a ring change
/// takes to reach every member by gossip, and than failure detection
/// takes to drop a peer that stopped answering.
const RING_CHANGE_LOOKBACK_MS: u64 = 5_000;
/// Departed peers remembered; past this, the earliest departures are
/// forgotten (such a peer, back, gets only what its pull brings).
const DEPARTED_REMEMBERED: usize = 1024;

/// Peers out of this node's ring, each with the wall-clock ms from which
/// it may have missed writes.
#[derive(Debug, Default)]
pub struct Departed {
    // A short critical section with no `.await`.
    since: Mutex<HashMap<SocketAddr, u64>>,
}

impl Departed {
    /// Notes that `peer`, out of the ring, may have missed writes from
    /// `since` on (the earliest time noted stays).
    pub fn note(&self, peer: SocketAddr, since: u64) {
        let mut departed = self.since.lock();
        let entry = departed.entry(peer).or_insert(since);
        *entry = (*entry).min(since);
        if departed.len() > DEPARTED_REMEMBERED {
            if let Some(latest) = departed.iter().max_by_key(|(_, &at)| at).map(|(a, _)| *a) {
                departed.remove(&latest);
            }
        }
    }

    fn take(&self, peer: SocketAddr) -> Option<u64> {
        self.since.lock().remove(&peer)
    }
}

/// Notes, for the change from `old` to `next`, what each peer may have
/// missed: members leaving the ring are remembered; members back get
/// everything from when they left, the others the last
/// [`RING_CHANGE_LOOKBACK_MS`] (see the module docs).
pub fn after_ring_change(cluster: &Cluster, old: &ClusterView, next: &ClusterView) {
    let recent = crate::store::unix_ms().saturating_sub(RING_CHANGE_LOOKBACK_MS);
    for gone in old.addrs.iter().filter(|a| !next.addrs.contains(a)) {
        cluster.departed.note(*gone, recent);
    }
    let me = next.me.map(|me| next.addr(me));
    for &peer in next.addrs.iter().filter(|&&a| Some(a) != me) {
        let since = cluster
            .departed
            .take(peer)
            .map_or(recent, |at| at.min(recent));
        cluster.peers.note_missed(peer, since);
    }
}

/// Repair counters (INFO cluster, metrics).
#[derive(Debug, Default)]
pub struct RepairStats {
    /// Pushes completed.
    pub runs: AtomicU64,
    /// Entries pushed.
    pub keys: AtomicU64,
}

/// Pushes what peers missed, until shutdown.
pub async fn run_worker(cluster: Arc<Cluster>, node: Arc<NodeState>) {
    let mut shutdown = node.shutdown.listener();
    loop {
        tokio::select! {
            () = shutdown.wait() => return,
            () = cluster.peers.missed_noted() => {}
            () = tokio::time::sleep(RETRY_PERIOD) => {}
        }
        let mut failed = false;
        for (peer, since) in cluster.peers.take_missed() {
            // A peer out of the ring is pushed to when it is back.
            let in_ring = cluster.view().addrs.contains(&peer);
            if !in_ring {
                cluster.departed.note(peer, since);
                continue;
            }
            let outcome = tokio::select! {
                () = shutdown.wait() => return,
                outcome = push(&cluster, &node.store, peer, since) => outcome,
            };
            match outcome {
                Some(keys) => {
                    cluster.repairs.runs.fetch_add(1, Ordering::Relaxed);
                    cluster.repairs.keys.fetch_add(keys, Ordering::Relaxed);
                    info!(%peer, keys, since_ms = since, "replica repair pushed");
                }
                None => {
                    cluster.peers.restore_missed(peer, since);
                    failed = true;
                }
            }
        }
        if failed {
            // A failed probe notes the peer again at once: wait a period
            // instead of spinning while it is unreachable.
            tokio::select! {
                () = shutdown.wait() => return,
                () = tokio::time::sleep(RETRY_PERIOD) => {}
            }
        }
    }
}

/// Pushes to `peer` the entries of its slots with a version from `since`
/// (ms) on; the number pushed, or `None` if the peer did not take them all
/// (it is tried again later).
async fn push(cluster: &Cluster, store: &Store, peer: SocketAddr, since: u64) -> Option<u64> {
    if !answers(cluster, peer).await {
        return None;
    }
    let started = Instant::now();
    let rate = cluster.settings.handoff_rate.max(64 * 1024) as f64;
    let floor = Version::at_millis(since).0;
    let (mut keys, mut bytes) = (0u64, 0u64);
    for shard in 0..store.shard_count() {
        let view = cluster.view_full();
        // Out of the ring since: nothing of its own to push.
        let owner = view.addrs.iter().position(|a| *a == peer)?;
        let entries = store.export_shard(shard, |key, version| {
            version >= floor && view.placement.is_owner(key_slot(key), owner as _)
        });
        if entries.is_empty() {
            continue;
        }
        let mut batch = BytesMut::new();
        for entry in &entries {
            wire::encode_apply(&mut batch, entry);
        }
        bytes += batch.len() as u64;
        let (senders, receivers): (Vec<_>, Vec<_>) =
            entries.iter().map(|_| oneshot::channel()).unzip();
        cluster
            .peers
            .send_many(peer, false, batch.freeze(), senders);
        let replies = tokio::time::timeout(REPLY_TIMEOUT, join_all(receivers)).await;
        let taken = replies.is_ok_and(|replies| {
            replies
                .into_iter()
                .all(|r| matches!(r, Ok(Ok(frame)) if !frame.starts_with(b"-")))
        });
        if !taken {
            debug!(%peer, shard, "replica repair interrupted");
            return None;
        }
        keys += entries.len() as u64;
        let due = Duration::from_secs_f64(bytes as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    Some(keys)
}

/// True if `peer` answers a PING over the peer link.
async fn answers(cluster: &Cluster, peer: SocketAddr) -> bool {
    let mut ping = BytesMut::new();
    resp::write_command(&mut ping, &[b"PING".as_slice()]);
    let reply = cluster.peers.send(peer, false, ping.freeze());
    matches!(
        tokio::time::timeout(REPLY_TIMEOUT, reply).await,
        Ok(Ok(Ok(frame))) if frame.starts_with(b"+PONG")
    )
}
