//! Keeping the slot map current: one refresh path ([`Router::refresh`]),
//! run by the background task every `refresh_interval` and soon after a
//! request asks for it ([`Router::want_refresh`]).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use tokio::time::{sleep_until, Instant};
use tracing::debug;

use super::slot_map::SlotMap;
use super::{Router, Topology};
use crate::error::{Error, ErrorKind, Result};

/// Requested refreshes run at most this often.
const MIN_REFRESH_GAP: Duration = Duration::from_millis(100);
/// Known nodes asked for `CLUSTER SLOTS` in one refresh, at most (the
/// seeds are asked after them).
const MAX_REFRESH_CANDIDATES: usize = 16;

impl Router {
    /// Asks the refresh task for a new slot map soon.
    pub(super) fn want_refresh(&self) {
        if matches!(self.topology, Topology::Cluster(_)) {
            self.refresh_wanted.notify_one();
        }
    }

    /// Replaces the slot map with a fresh `CLUSTER SLOTS` from one of the
    /// known nodes (or the seeds). The only place the map changes.
    pub(crate) async fn refresh(&self) -> Result<()> {
        let Topology::Cluster(map) = &self.topology else {
            return Ok(());
        };
        let _one_at_a_time = self.refresh_lock.lock().await;
        let mut candidates: Vec<Arc<str>> = map.load().nodes().to_vec();
        fastrand::shuffle(&mut candidates);
        // Up to MAX_REFRESH_CANDIDATES known nodes, then every seed: when
        // the whole cluster came back at new addresses (pods rescheduled),
        // only the seeds (stable names) still answer.
        candidates.truncate(MAX_REFRESH_CANDIDATES);
        for seed in &self.config.nodes {
            if !candidates.iter().any(|c| **c == **seed) {
                candidates.push(Arc::from(seed.as_str()));
            }
        }
        let mut last_error = None;
        for addr in &candidates {
            let conn = self.connection(addr);
            let reply = conn
                .query(&[b"CLUSTER", b"SLOTS"], self.config.request_timeout)
                .await;
            match reply.and_then(|reply| SlotMap::parse(&reply, addr)) {
                Ok(fresh) if !fresh.nodes().is_empty() => {
                    let known: Vec<Arc<str>> = fresh.nodes().to_vec();
                    let moved = !map.load().same_primaries(&fresh);
                    map.store(Arc::new(fresh));
                    if moved {
                        // After the store: a reader that saw the old epoch
                        // may have seen either map, and is told later.
                        self.owners_epoch.fetch_add(1, Ordering::AcqRel);
                    }
                    self.counters.refreshes.fetch_add(1, Ordering::Relaxed);
                    // Connections to nodes that left go with their pools.
                    if let Ok(mut pools) = self.pools.write() {
                        self.keep_known(&mut pools, &known);
                    }
                    return Ok(());
                }
                Ok(_) => {
                    last_error = Some(Error::new(
                        ErrorKind::ClusterDown,
                        format!("{addr} serves no slots"),
                    ))
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::io("no node to ask for the slot map")))
    }
}

/// Refreshes the slot map every `interval`, and soon (at most every
/// [`MIN_REFRESH_GAP`]) after a request asks for it. Ends when the router is
/// dropped (`stop` closes) or cannot be upgraded.
pub(super) async fn refresh_task(
    router: Weak<Router>,
    wanted: Arc<Notify>,
    interval: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    let mut last = Instant::now();
    loop {
        let asked = tokio::select! {
            _ = &mut stop => return,
            () = sleep_until(last + interval) => false,
            () = wanted.notified() => true,
        };
        if asked {
            tokio::select! {
                _ = &mut stop => return,
                () = sleep_until(last + MIN_REFRESH_GAP) => {}
            }
        }
        let Some(router) = router.upgrade() else {
            return;
        };
        if let Err(e) = router.refresh().await {
            debug!(error = %e, "slot map refresh failed");
        }
        drop(router);
        last = Instant::now();
    }
}
