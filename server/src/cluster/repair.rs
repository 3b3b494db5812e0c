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

use super::hlc::Version;
use super::{wire, Cluster};
use crate::state::NodeState;
use crate::store::Store;

/// How often peers waiting for a repair are tried again.
const RETRY_PERIOD: Duration = Duration::from_secs(1);
/// Longest a probe or a batch of a push may wait for its replies.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

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
            // A peer out of the ring is left: if it comes back under the
            // same generation, the transfer planner reconciles with it.
            let in_ring = cluster.view().addrs.contains(&peer);
            if !in_ring {
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
