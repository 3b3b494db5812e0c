//! The `ringcache-server` binary: parses flags, starts the runtime, serves
//! until SIGINT, SIGTERM or SHUTDOWN, exits 0 after a graceful drain.

use std::io::IsTerminal;

use clap::Parser;
use ringcache_server::{metrics, server, Cli, Config, NodeState};
use tracing_subscriber::EnvFilter;

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
    let config = match Config::from_cli(Cli::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ringcache-server: {e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .enable_all()
        .build()
    {
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

async fn serve(config: Config) -> std::io::Result<()> {
    let listener = server::bind(&config).await?;
    // The recorder must exist before the node registers its metric handles.
    let metrics = match config.metrics_port {
        Some(port) => {
            let handle = metrics::install().map_err(std::io::Error::other)?;
            let metrics_listener = tokio::net::TcpListener::bind((config.bind, port)).await?;
            Some((handle, metrics_listener))
        }
        None => None,
    };
    let node = NodeState::new(config);
    if let Some((handle, metrics_listener)) = metrics {
        tokio::spawn(metrics::serve(node.clone(), metrics_listener, handle));
    }
    let signals = node.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received, shutting down");
        signals.shutdown.trigger();
    });
    server::run(node, listener).await
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
