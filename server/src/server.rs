//! The listener: accepts connections up to `maxclients`, applies protected
//! mode, hands each connection to the request pipeline, runs the background
//! maintenance thread, and on shutdown stops accepting and waits for
//! connections to finish their replies.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::commands::args::DENIED;
use crate::config::{Config, MAX_CONNECTIONS};
use crate::log_limit::{LogLimit, WARN_PERIOD_MS};
use crate::node::Node;
use crate::pipeline;
use crate::state::NodeState;
use crate::stats::ServerStats;
use crate::store::unix_ms;

/// How often the allocator is sampled while a memory bound is set.
const MEMORY_SAMPLE_PERIOD: Duration = Duration::from_millis(2);
/// How often the cron work (expiry, ops/s sampling) runs, as Redis's hz 10.
const CRON_PERIOD: Duration = Duration::from_millis(100);
/// Longest wait for connections to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the configured address (port 0 takes a free port).
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(config: &Config) -> io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(config.bind, config.port)).await
}

/// Limits the protected-mode refusal warnings (a stranger sets their rate).
static PROTECTED_WARNINGS: LogLimit = LogLimit::new(WARN_PERIOD_MS);

/// Serves `listener` until the node's shutdown signal fires, then drains.
///
/// # Errors
/// Only errors of the listener itself that make accepting impossible.
pub async fn run(served: Node, listener: TcpListener) -> io::Result<()> {
    let node = served.state.clone();
    let local = listener.local_addr()?;
    node.port.store(local.port(), Ordering::Relaxed);
    // CONFIG GET port answers the port served, also when 0 was asked for.
    node.config.write().port = local.port();
    info!(addr = %local, "ready to accept connections");
    // Every connection holds a permit, so shutdown can wait for all of them
    // to drop; the maxclients limit itself is read at each accept so that
    // CONFIG SET maxclients applies at once.
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS as usize));
    let maintenance = spawn_maintenance(node.clone());
    tokio::spawn(stop_when_asked(served.clone()));
    loop {
        let accepted = tokio::select! {
            () = node.shutdown.wait() => break,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly
                // instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        ServerStats::add(&node.stats.connections_received, 1);
        // A cluster node serves such a client, but only for the peer
        // handshake (its peers may be anywhere); see `Session::protected`.
        if node.config.read().protected_mode_refuses(peer.ip()) && served.cluster.is_none() {
            ServerStats::add(&node.stats.rejected_connections, 1);
            if let Some(suppressed) = PROTECTED_WARNINGS.allow() {
                warn!(client = %peer, suppressed, "protected mode: refused a non-loopback client");
            }
            tokio::spawn(refuse(stream, format!("-{DENIED}\r\n")));
            continue;
        }
        let at_limit = node.clients.len() >= node.config.read().maxclients;
        let permit = match open.clone().try_acquire_owned() {
            Ok(permit) if !at_limit => permit,
            _ => {
                ServerStats::add(&node.stats.rejected_connections, 1);
                tokio::spawn(refuse(
                    stream,
                    "-ERR max number of clients reached\r\n".into(),
                ));
                continue;
            }
        };
        let local_addr = stream.local_addr().unwrap_or(local);
        let handle = node.clients.register(peer, local_addr);
        let served = served.clone();
        tokio::spawn(async move {
            pipeline::serve(served, stream, handle).await;
            drop(permit);
        });
    }
    drop(listener);
    info!("shutting down: waiting for connections to finish");
    // No connection is registered after this: the accept loop has ended.
    node.clients.kill_where(|_| true);
    if tokio::time::timeout(DRAIN_TIMEOUT, open.acquire_many(MAX_CONNECTIONS as u32))
        .await
        .is_err()
    {
        warn!("connections still open after the drain timeout");
    }
    let _ = tokio::task::spawn_blocking(move || maintenance.join()).await;
    node.store.stop_background();
    info!("shutdown complete");
    Ok(())
}

/// Turns a stop request (SHUTDOWN, a signal) into the shutdown signal; a
/// cluster node first leaves its cluster, handing its slots off while it
/// still serves.
async fn stop_when_asked(served: Node) {
    let node = &served.state;
    tokio::select! {
        () = node.stop.wait() => {}
        () = node.shutdown.wait() => return,
    }
    if let Some(cluster) = &served.cluster {
        cluster.leave().await;
    }
    node.shutdown.trigger();
}

async fn refuse(mut stream: TcpStream, message: String) {
    let _ = stream.write_all(message.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The maintenance thread: allocator sampling (often, while a memory bound
/// is set), active expiry, ops/s sampling and closing clients idle past
/// `timeout` (every 100 ms). A thread of its own, so an expiry pass never
/// stalls a connection's worker.
fn spawn_maintenance(node: Arc<NodeState>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("ringcache-maintenance".into())
        .spawn(move || {
            let mut next_cron = Instant::now();
            while !node.shutdown.is_triggered() {
                node.store.sample_memory();
                if Instant::now() >= next_cron {
                    next_cron += CRON_PERIOD;
                    let now = unix_ms();
                    node.stats.sample_ops(now);
                    // Read at each pass, as Redis's clientsCron does, so
                    // CONFIG SET timeout applies to the clients already
                    // connected.
                    let timeout_ms = node.config.read().timeout.saturating_mul(1000);
                    if timeout_ms > 0 {
                        // Blocked clients wait on purpose (Redis exempts them too).
                        node.clients
                            .kill_where(|c| !c.is_blocked() && c.idle_ms(now) > timeout_ms);
                    }
                    // No active expiry while clients are paused, as Redis.
                    if !node.pause.is_paused() {
                        let budget = node.store.expire_budget(CRON_PERIOD);
                        node.store.expire_cycle(budget);
                    }
                }
                let pause = if node.store.maxmemory() > 0 {
                    MEMORY_SAMPLE_PERIOD
                } else {
                    next_cron.saturating_duration_since(Instant::now())
                };
                std::thread::sleep(pause.min(CRON_PERIOD));
            }
        })
        .expect("spawning the maintenance thread")
}
