//! The `ringcache-server` binary: parses flags, starts the runtime, serves
//! until SIGINT, SIGTERM or SHUTDOWN, exits 0 after a graceful drain.
#![forbid(unsafe_code)]

use std::io::IsTerminal;

use ringcache_server::cluster::{self, Cluster, ClusterSettings};
use ringcache_server::config::{self, StartError};
use ringcache_server::node::Node;
use ringcache_server::{idle_poll, metrics, server, Config, NodeState};
use tracing_subscriber::EnvFilter;

// Built with `thp:always` (.cargo/config.toml): jemalloc marks its memory
// for transparent huge pages where the kernel's THP mode is `madvise`, the
// usual default. A GET's hash probe and entry read land on pages spread
// over the whole store; with 4 KiB pages each is a TLB miss, which under
// virtualisation is a two-level page walk. Redis turns THP off because its
// fork for persistence copies huge pages on write; this node never forks.
// `disable-thp yes` turns it off ([`refuse_huge_pages`]).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = match config::from_args(std::env::args_os()) {
        Ok(c) => c,
        Err(StartError::Usage(e)) => e.exit(),
        Err(StartError::Invalid(e)) => {
            eprintln!("ringcache-server: {e}");
            std::process::exit(2);
        }
    };
    if config.disable_thp {
        refuse_huge_pages();
    }
    // One worker runs on the calling thread: the multi-threaded scheduler
    // would add cross-thread queues and wake-ups that nothing uses.
    let mut builder = if config.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(config.threads);
        b
    };
    if config.threads <= 1 {
        match idle_poll::start(config.idle_poll_us) {
            Ok(()) => {
                builder
                    .on_thread_park(idle_poll::before_park)
                    .on_thread_unpark(idle_poll::after_unpark);
            }
            // Only slower wake-ups: serve anyway.
            Err(e) => eprintln!("ringcache-server: idle polling is off: {e}"),
        }
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ringcache-server: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(serve(config)) {
        eprintln!("ringcache-server: {e}");
        std::process::exit(1);
    }
}

/// `disable-thp yes`: no huge pages for this process, whatever the
/// allocator asks (as Redis's `disable-thp`, through the same prctl).
fn refuse_huge_pages() {
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!("ringcache-server: disable-thp: {e}");
    }
}

async fn serve(mut config: Config) -> std::io::Result<()> {
    if config.local_cluster > 0 && config.cluster_secret.is_none() {
        // Its nodes share this process, so a secret nobody else knows
        // closes the cluster to other local processes.
        let secret = cluster::secret::random_secret().map_err(std::io::Error::other)?;
        config.cluster_secret = Some(secret);
    }
    // Before anything is bound: a node refused here never listens.
    cluster::check_secret(&config).map_err(std::io::Error::other)?;
    // A bad ACL file or `user` line stops the start, as in Redis.
    ringcache_server::acl::initial_users(&config).map_err(std::io::Error::other)?;
    if config.local_cluster > 0 {
        return serve_local_cluster(config).await;
    }
    let tls = server::bind_tls(&config).await?;
    // `port 0` with a TLS port serves TLS only, as Redis; without one,
    // port 0 takes a free port.
    let plain = if config.port == 0 && tls.is_some() {
        None
    } else {
        Some(server::bind(&config).await?)
    };
    // The recorder must exist before the node registers its metric handles.
    let metrics = match config.metrics_port {
        Some(port) => {
            let handle = metrics::install().map_err(std::io::Error::other)?;
            let metrics_listener = tokio::net::TcpListener::bind((config.bind, port)).await?;
            Some((handle, metrics_listener))
        }
        None => None,
    };
    let state = NodeState::new(config);
    // Loaded before the cluster starts: its peer links dial with it.
    let settings = state.config.read().tls.clone();
    state.tls.reload(&settings).map_err(std::io::Error::other)?;
    let node = join_cluster(state, announced(&plain, &tls, settings.cluster)?).await?;
    if let Some((handle, metrics_listener)) = metrics {
        tokio::spawn(metrics::serve(node.clone(), metrics_listener, handle));
    }
    watch_signals(vec![node.state.clone()])?;
    server::serve(node, server::Listeners { plain, tls }).await
}

/// The listener peers and cluster clients reach the node at: its TLS
/// port when peer links run over TLS (as Redis's tls-cluster), else its
/// plain one.
///
/// # Errors
/// The node has no port at all.
fn announced<'a>(
    plain: &'a Option<tokio::net::TcpListener>,
    tls: &'a Option<tokio::net::TcpListener>,
    tls_cluster: bool,
) -> std::io::Result<&'a tokio::net::TcpListener> {
    match (plain, tls) {
        (Some(_), Some(tls)) if tls_cluster => Ok(tls),
        (Some(plain), _) => Ok(plain),
        (None, Some(tls)) => Ok(tls),
        (None, None) => Err(std::io::Error::other("no port to serve")),
    }
}

/// The node to serve: with its cluster layer started, when configured
/// for one.
async fn join_cluster(
    state: std::sync::Arc<NodeState>,
    listener: &tokio::net::TcpListener,
) -> std::io::Result<Node> {
    if !state.config.read().cluster_enabled {
        return Ok(Node::standalone(state));
    }
    let port = listener.local_addr()?.port();
    let settings = ClusterSettings::from_config(&state.config.read(), port)?;
    let cluster = Cluster::start(state.clone(), settings).await?;
    Ok(Node {
        state,
        cluster: Some(cluster),
    })
}

/// `--local-cluster N`: N nodes in this process on consecutive ports
/// (and consecutive TLS ports from `--tls-port`, if given), the first one
/// the seed of the others, to try a cluster on one machine.
async fn serve_local_cluster(config: Config) -> std::io::Result<()> {
    let count = config.local_cluster;
    let mut nodes = Vec::with_capacity(count);
    let mut servers = Vec::with_capacity(count);
    // Gossip listens 10000 above the port peers reach a node at.
    let first_announced = match config.tls.port {
        Some(tls_port) if config.tls.cluster => tls_port,
        _ => config.port,
    };
    let nth = |base: u16, i: usize| {
        base.checked_add(i as u16)
            .ok_or_else(|| std::io::Error::other("local cluster ports run past 65535"))
    };
    for i in 0..count {
        let mut node_config = config.clone();
        node_config.port = nth(config.port, i)?;
        node_config.tls.port = config.tls.port.map(|p| nth(p, i)).transpose()?;
        node_config.local_cluster = 0;
        node_config.cluster_enabled = true;
        node_config.cluster_port = None;
        node_config.node_name = None;
        node_config.metrics_port = None;
        if i > 0 {
            let seed_port = u32::from(first_announced) + 10_000;
            node_config.cluster_seeds = vec![format!("{}:{seed_port}", config.bind)];
        }
        let plain = Some(server::bind(&node_config).await?);
        let tls = server::bind_tls(&node_config).await?;
        let state = NodeState::new(node_config);
        let settings = state.config.read().tls.clone();
        state.tls.reload(&settings).map_err(std::io::Error::other)?;
        let node = join_cluster(state, announced(&plain, &tls, settings.cluster)?).await?;
        nodes.push(node.state.clone());
        let listeners = server::Listeners { plain, tls };
        servers.push(tokio::spawn(server::serve(node, listeners)));
    }
    tracing::info!(
        nodes = count,
        first_port = config.port,
        "local cluster running"
    );
    watch_signals(nodes)?;
    for server in servers {
        server.await.map_err(std::io::Error::other)??;
    }
    Ok(())
}

/// Longest a graceful stop may take after a signal before the process
/// exits anyway: a cluster node's handoff (60 s at most), the connection
/// drain (10 s at most), and a margin.
const STOP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(75);

/// Watches SIGINT and SIGTERM on a thread of its own, so a worker busy in
/// a long command cannot delay the stop: the first signal asks every node
/// to stop gracefully; a second signal, or a graceful stop that outlasts
/// [`STOP_DEADLINE`], exits the process at once.
fn watch_signals(nodes: Vec<std::sync::Arc<NodeState>>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The handlers are installed here, before the node reports it is
    // ready: a signal sent as soon as it is must not kill the process.
    let mut signals = {
        let _context = runtime.enter();
        Signals::install()?
    };
    std::thread::Builder::new()
        .name("ringcache-signals".into())
        .spawn(move || {
            runtime.block_on(async {
                signals.next().await;
                tracing::info!("signal received, shutting down");
                for node in &nodes {
                    node.stop.trigger();
                }
                tokio::select! {
                    () = signals.next() => tracing::warn!("second signal: exiting now"),
                    () = tokio::time::sleep(STOP_DEADLINE) => {
                        tracing::warn!("the graceful shutdown is taking too long: exiting now");
                    }
                }
                std::process::exit(1);
            })
        })?;
    Ok(())
}

/// SIGTERM and SIGINT, once their handlers are installed.
#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next SIGTERM or SIGINT.
    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// Ctrl-C where there are no Unix signals.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
