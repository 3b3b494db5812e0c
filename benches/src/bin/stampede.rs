//! `ringcache-stampede`: one process of a cold-key stampede. Connects,
//! counts itself in `<prefix>:ready`, waits until `<prefix>:go` exists
//! (the driver sets it once every process is ready), then `--callers`
//! tasks call `CacheAside::get_or_load` for one cold key at once. The
//! loader counts its calls with `INCR <prefix>:loads` on the same node
//! (the fleet's total), sleeps `--load-ms` (the system of record), and
//! returns a value. Prints one JSON line: this process's loader calls,
//! callers served, errors, lease figures and the time the slowest caller
//! took. Used by `tests/cache_leases.rs` and `benches/stampede.sh`.
//!
//! ```text
//! ringcache-stampede --server 127.0.0.1:6379 --prefix run1 --callers 50
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use ringcache_client::{CacheAside, CacheAsideConfig, Client, ClientConfig};

/// Options.
#[derive(Debug, Parser)]
#[command(name = "ringcache-stampede")]
struct Args {
    /// Seed node, `host:port`.
    #[arg(long)]
    server: String,
    /// Names this run's keys: `<prefix>:key` (the cold key),
    /// `<prefix>:loads`, `<prefix>:ready`, `<prefix>:go`.
    #[arg(long)]
    prefix: String,
    /// Concurrent callers of the cold key in this process.
    #[arg(long, default_value_t = 50)]
    callers: usize,
    /// How long the loader takes, in ms.
    #[arg(long, default_value_t = 50)]
    load_ms: u64,
    /// Per-process single flight only (no `RC.LEASE.*`).
    #[arg(long)]
    no_leases: bool,
    /// Give up waiting for `<prefix>:go` after this many seconds.
    #[arg(long, default_value_t = 60)]
    wait_secs: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ringcache-stampede: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringcache-stampede: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<String, String> {
    let client = Client::connect(ClientConfig::new([args.server.as_str()]))
        .await
        .map_err(|e| format!("connect {}: {e}", args.server))?;
    let config = CacheAsideConfig {
        leases: !args.no_leases,
        ..CacheAsideConfig::default()
    };
    let cache = CacheAside::new(client.clone(), config).map_err(|e| e.to_string())?;
    let key = |name: &str| format!("{}:{name}", args.prefix);
    client
        .incr(key("ready"), 1)
        .await
        .map_err(|e| format!("INCR ready: {e}"))?;
    let go = key("go");
    let until = Instant::now() + Duration::from_secs(args.wait_secs);
    loop {
        match client.exists(&go).await {
            Ok(true) => break,
            Ok(false) if Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Ok(false) => return Err("no go signal in time".into()),
            Err(e) => return Err(format!("EXISTS go: {e}")),
        }
    }
    let started = Instant::now();
    let cold = key("key");
    let callers: Vec<_> = (0..args.callers)
        .map(|_| {
            let cache = cache.clone();
            let client = client.clone();
            let (cold, loads) = (cold.clone(), key("loads"));
            let load = Duration::from_millis(args.load_ms);
            tokio::spawn(async move {
                let loader = move || async move {
                    client.incr(&loads, 1).await.map_err(|e| e.to_string())?;
                    tokio::time::sleep(load).await;
                    Ok::<_, String>(Some("value".to_string()))
                };
                let value = cache
                    .get_or_load::<String, _, _, _>(&cold, Duration::from_secs(300), loader)
                    .await;
                (value, started.elapsed())
            })
        })
        .collect();
    let (mut served, mut errors, mut slowest) = (0u64, 0u64, Duration::ZERO);
    for caller in callers {
        match caller.await {
            Ok((Ok(Some(value)), took)) if value == "value" => {
                served += 1;
                slowest = slowest.max(took);
            }
            _ => errors += 1,
        }
    }
    let stats = cache.stats();
    Ok(format!(
        "{{\"loads\":{},\"leased_loads\":{},\"lease_waits\":{},\"fills_refused\":{},\
         \"served\":{served},\"errors\":{errors},\"slowest_ms\":{:.1}}}",
        stats.loads,
        stats.leased_loads,
        stats.lease_waits,
        stats.fills_refused,
        slowest.as_secs_f64() * 1000.0
    ))
}
