//! The listeners (plain TCP and TLS): accept connections up to
//! `maxclients`, apply protected mode, run the TLS handshake in the
//! connection's task, and hand each connection to the request pipeline;
//! the background maintenance thread runs beside them; on shutdown they
//! stop accepting and wait for connections to finish their replies.

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
use crate::stream::ClientStream;
use crate::tls::handshake;

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

/// The listeners a node serves: plain TCP, TLS, or both.
#[derive(Debug)]
pub struct Listeners {
    /// The RESP port (`port`).
    pub plain: Option<TcpListener>,
    /// The TLS port (`tls-port`).
    pub tls: Option<TcpListener>,
}

/// Binds `tls-port`, when one is set.
///
/// # Errors
/// The address cannot be bound.
pub async fn bind_tls(config: &Config) -> io::Result<Option<TcpListener>> {
    match config.tls.port {
        Some(port) => Ok(Some(
            TcpListener::bind(SocketAddr::new(config.bind, port)).await?,
        )),
        None => Ok(None),
    }
}

/// Serves `listener` (plain TCP) until the node's shutdown signal fires,
/// then drains.
///
/// # Errors
/// Only errors of the listener itself that make accepting impossible.
pub async fn run(served: Node, listener: TcpListener) -> io::Result<()> {
    serve(
        served,
        Listeners {
            plain: Some(listener),
            tls: None,
        },
    )
    .await
}

/// Serves `listeners` until the node's shutdown signal fires, then drains.
/// The TLS configuration is loaded first when there is a TLS listener.
///
/// # Errors
/// The TLS files do not load, or the listeners fail in a way that makes
/// accepting impossible.
pub async fn serve(served: Node, listeners: Listeners) -> io::Result<()> {
    let node = served.state.clone();
    if let Some(listener) = &listeners.tls {
        let local = listener.local_addr()?;
        // CONFIG GET tls-port answers the port served (a listener bound
        // to port 0 by a test included).
        node.config.write().tls.port = Some(local.port());
        if node.tls.acceptor().is_none() {
            let settings = node.config.read().tls.clone();
            node.tls.reload(&settings).map_err(io::Error::other)?;
        }
        info!(addr = %local, "ready to accept TLS connections");
    }
    if let Some(listener) = &listeners.plain {
        let local = listener.local_addr()?;
        node.port.store(local.port(), Ordering::Relaxed);
        // CONFIG GET port answers the port served, also when 0 was asked for.
        node.config.write().port = local.port();
        info!(addr = %local, "ready to accept connections");
    } else {
        // TLS only: CONFIG GET port says so, as Redis's `port 0`.
        node.config.write().port = 0;
    }
    // Every connection holds a permit, so shutdown can wait for all of them
    // to drop; the maxclients limit itself is read at each accept so that
    // CONFIG SET maxclients applies at once.
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS as usize));
    let maintenance = spawn_maintenance(node.clone());
    tokio::spawn(stop_when_asked(served.clone()));
    let plain = async {
        if let Some(listener) = &listeners.plain {
            accept_loop(&served, listener, &open, false).await;
        }
    };
    let tls = tls_accept_loop(&served, listeners.tls, &open);
    tokio::join!(plain, tls);
    info!("shutting down: waiting for connections to finish");
    // No connection is registered after this: the accept loops have ended.
    node.clients.kill_where(|_| true);
    if tokio::time::timeout(DRAIN_TIMEOUT, open.acquire_many(MAX_CONNECTIONS as u32))
        .await
        .is_err()
    {
        warn!("connections still open after the drain timeout");
    }
    let _ = tokio::task::spawn_blocking(move || maintenance.join()).await;
    node.store.stop_background();
    node.scripts.stop_thread();
    info!("shutdown complete");
    Ok(())
}

/// Serves the TLS port of the moment until shutdown: CONFIG SET tls-port
/// hands it a new listener (or none, to stop serving TLS) and the old one
/// is dropped, so its port stops accepting; its connections stay open.
async fn tls_accept_loop(served: &Node, mut listener: Option<TcpListener>, open: &Arc<Semaphore>) {
    let node = &served.state;
    loop {
        let serving = async {
            match &listener {
                Some(listener) => accept_loop(served, listener, open, true).await,
                None => node.shutdown.wait().await,
            }
        };
        tokio::select! {
            // Both end only at shutdown.
            () = serving => break,
            next = node.tls.port.replaced() => {
                match next.as_ref().map(TcpListener::local_addr) {
                    Some(Ok(addr)) => info!(%addr, "ready to accept TLS connections"),
                    Some(Err(e)) => warn!(error = %e, "the new TLS port has no address"),
                    None => info!("no longer accepting TLS connections"),
                }
                listener = next;
            }
        }
    }
}

/// Accepts connections on `listener` until shutdown; each is served in a
/// task of its own (its TLS handshake too, so a slow one holds only
/// itself).
async fn accept_loop(served: &Node, listener: &TcpListener, open: &Arc<Semaphore>, tls: bool) {
    let node = &served.state;
    // Again after the TLS port changes: already watched is no error.
    crate::idle_poll::watch(listener);
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
        crate::idle_poll::watch(&stream);
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
        let Ok(local_addr) = stream.local_addr() else {
            continue;
        };
        let handle = node.clients.register(peer, local_addr);
        let served = served.clone();
        let acceptor = if tls { node.tls.acceptor() } else { None };
        tokio::spawn(async move {
            let stream = match acceptor {
                None if tls => None,
                None => Some(ClientStream::Plain(stream)),
                Some(acceptor) => tokio::select! {
                    biased;
                    () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => None,
                    tls = handshake::accept(&acceptor, stream, peer) => tls.map(|s| ClientStream::Tls(Box::new(s))),
                },
            };
            match stream {
                Some(stream) => pipeline::serve(served, stream, handle).await,
                None => served.state.clients.unregister(handle.id),
            }
            drop(permit);
        });
    }
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
                    // No active expiry while clients are paused, as Redis;
                    // nor while an EXEC or a script holds the gate: its
                    // commands see the clock stopped at their start, and in
                    // Redis nothing runs beside them (a key it set with a
                    // short TTL is still there when it looks again).
                    if !node.pause.is_paused() {
                        if let Some(_pass) = node.gate.try_shared_for(Duration::ZERO) {
                            let budget = node.store.expire_budget(CRON_PERIOD);
                            node.store.expire_cycle(budget);
                        }
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
