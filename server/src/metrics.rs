//! Prometheus metrics: per-command counts and latency histograms recorded
//! on the hot path through pre-registered handles (no registry lookup per
//! command), and node-wide figures (memory, keys, hits, misses, evictions,
//! expirations, connections) copied from the same sources INFO reads at
//! each scrape, so the two always agree.
//!
//! Served over plain HTTP on `--metrics-port` (`GET /metrics`).

use std::sync::Arc;
use std::time::Duration;

use metrics::{counter, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use crate::node::Node;
use crate::state::NodeState;
use crate::stats::ServerStats;

/// Histogram buckets for command latency, in seconds (1 µs .. 1 s).
const LATENCY_BUCKETS: [f64; 13] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2, 1e-1, 1.0,
];
/// Largest HTTP request head accepted by the metrics endpoint.
const MAX_REQUEST: usize = 8 * 1024;
/// Time a scraper has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a scraper may take to read the reply (a few hundred KB).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Scrapes answered at once; a connection beyond them is closed at once,
/// so a client that connects and never reads cannot hold the node's file
/// descriptors.
const MAX_SCRAPES: usize = 16;

/// Installs the Prometheus recorder as the global one.
///
/// # Errors
/// A recorder was already installed.
pub fn install() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("ringcache_command_duration_seconds".into()),
            &LATENCY_BUCKETS,
        )
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())
}

/// Copies node-wide figures into their gauges and counters.
pub fn refresh(served: &Node) {
    let node: &NodeState = &served.state;
    let keyspace = node.store.stats();
    let stats = &node.stats;
    gauge!("ringcache_used_memory_bytes").set(node.store.sample_memory() as f64);
    gauge!("ringcache_maxmemory_bytes").set(node.store.maxmemory() as f64);
    gauge!("ringcache_keys").set(node.store.len() as f64);
    gauge!("ringcache_keys_with_ttl").set(node.store.volatile_len() as f64);
    gauge!("ringcache_connected_clients").set(node.clients.len() as f64);
    gauge!("ringcache_instantaneous_ops_per_sec").set(stats.instantaneous_ops() as f64);
    counter!("ringcache_keyspace_hits_total").absolute(keyspace.hits);
    counter!("ringcache_keyspace_misses_total").absolute(keyspace.misses);
    counter!("ringcache_evicted_keys_total").absolute(keyspace.evicted);
    counter!("ringcache_expired_keys_total").absolute(keyspace.expired);
    counter!("ringcache_commands_processed_total")
        .absolute(ServerStats::get(&stats.commands_processed));
    counter!("ringcache_connections_received_total")
        .absolute(ServerStats::get(&stats.connections_received));
    counter!("ringcache_rejected_connections_total")
        .absolute(ServerStats::get(&stats.rejected_connections));
    counter!("ringcache_net_input_bytes_total").absolute(ServerStats::get(&stats.net_input_bytes));
    counter!("ringcache_net_output_bytes_total")
        .absolute(ServerStats::get(&stats.net_output_bytes));
    if let Some(cluster) = &served.cluster {
        // The same figures as INFO's cluster section, as gauges named
        // ringcache_cluster_<field> (peers, ring version, replication lag,
        // handoff progress).
        for (name, value) in cluster.figures() {
            gauge!(format!("ringcache_cluster_{name}")).set(value as f64);
        }
        // The keys of the slots this node is primary for (its DBSIZE), and
        // the replica copies it holds for other nodes; ringcache_keys counts
        // both.
        if let Some(counts) = node.store.slot_counts() {
            let own = cluster.view().primary_slots();
            gauge!("ringcache_cluster_keys_primary").set(counts.sum(&own, true).0 as f64);
            gauge!("ringcache_cluster_keys_replica").set(counts.sum(&own, false).0 as f64);
        }
    }
}

/// Serves `GET /metrics` until the node shuts down.
pub async fn serve(node: Node, listener: TcpListener, handle: PrometheusHandle) {
    if let Ok(addr) = listener.local_addr() {
        info!(addr = %addr, "metrics endpoint ready");
    }
    let mut shutdown = node.state.shutdown.listener();
    let scrapes = Arc::new(Semaphore::new(MAX_SCRAPES));
    loop {
        let accepted = tokio::select! {
            () = shutdown.wait() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, _)) => {
                let Ok(permit) = scrapes.clone().try_acquire_owned() else {
                    debug!("metrics request refused: {MAX_SCRAPES} in progress");
                    continue;
                };
                let (node, handle) = (node.clone(), handle.clone());
                let mut stop = node.state.shutdown.listener();
                tokio::spawn(async move {
                    tokio::select! {
                        () = stop.wait() => {}
                        answered = answer(&node, stream, &handle) => {
                            if let Err(e) = answered {
                                debug!(error = %e, "metrics request failed");
                            }
                        }
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn answer(
    node: &Node,
    mut stream: TcpStream,
    handle: &PrometheusHandle,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    if tokio::time::timeout(REQUEST_TIMEOUT, read_head)
        .await
        .is_err()
    {
        return Ok(());
    }
    let (status, body) = if head.starts_with(b"GET /metrics ") || head.starts_with(b"GET / ") {
        refresh(node);
        handle.run_upkeep();
        ("200 OK", handle.render())
    } else {
        ("404 Not Found", "not found; try /metrics\n".to_string())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let reply = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    match tokio::time::timeout(REPLY_TIMEOUT, reply).await {
        Ok(written) => written,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}
