//! `ringcache-clientload`: load through the client library itself
//! (`ringcache_client::Client`), to measure what the client costs: many
//! tasks share one `Client` (so one multiplexed connection per node, or
//! `--pool-size`), each sending GETs (and SETs, `--ratio`) or MGETs of
//! `--batch` keys back to back for `--seconds`. Prints one JSON line:
//! operations per second, latency percentiles, and this process's CPU
//! microseconds per operation (from /proc/self/stat).
//!
//! ```text
//! ringcache-clientload --server 127.0.0.1:6379 --tasks 50 --seconds 5
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use ringcache_client::{Client, ClientConfig, SetOptions};

/// Options.
#[derive(Debug, Parser)]
#[command(name = "ringcache-clientload")]
struct Args {
    /// Seed node, `host:port`.
    #[arg(long)]
    server: String,
    /// Concurrent tasks sharing the client.
    #[arg(long, default_value_t = 50)]
    tasks: usize,
    /// Measured seconds (after one second of warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Keys pre-loaded and read.
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 32)]
    data_size: usize,
    /// SETs per GETs, as `SET:GET`.
    #[arg(long, default_value = "1:10")]
    ratio: String,
    /// Keys per MGET; 0 sends single-key GETs and SETs instead.
    #[arg(long, default_value_t = 0)]
    batch: usize,
    /// Connections per node.
    #[arg(long, default_value_t = 1)]
    pool_size: usize,
    /// Runtime worker threads (1: a current-thread runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// One task's figures.
struct Tally {
    ops: u64,
    errors: u64,
    latency: Histogram<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some((sets, gets)) = parse_ratio(&args.ratio) else {
        eprintln!("ringcache-clientload: --ratio must be SET:GET, e.g. 1:10");
        return ExitCode::from(2);
    };
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ringcache-clientload: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args, sets, gets)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringcache-clientload: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_ratio(text: &str) -> Option<(u64, u64)> {
    let (sets, gets) = text.split_once(':')?;
    let (sets, gets) = (sets.parse().ok()?, gets.parse().ok()?);
    (sets + gets > 0).then_some((sets, gets))
}

async fn run(args: &Args, sets: u64, gets: u64) -> Result<String, String> {
    let config = ClientConfig {
        pool_size: args.pool_size.max(1),
        request_timeout: Duration::from_secs(5),
        ..ClientConfig::new([args.server.clone()])
    };
    let client = Client::connect(config).await.map_err(|e| e.to_string())?;
    let value = vec![b'x'; args.data_size];
    preload(&client, args.keys, &value).await?;
    let started = Instant::now();
    let measure_from = started + Duration::from_secs(1);
    let stop_at = measure_from + Duration::from_secs(args.seconds);
    let value = Arc::new(value);
    let mut tasks = Vec::with_capacity(args.tasks.max(1));
    for i in 0..args.tasks.max(1) {
        let tally = Tally {
            ops: 0,
            errors: 0,
            latency: new_histogram()?,
        };
        let work = Work {
            client: client.clone(),
            seed: i as u64,
            keys: args.keys.max(1),
            batch: args.batch,
            mix: (sets, gets),
            value: Arc::clone(&value),
            measure_from,
            stop_at,
        };
        tasks.push(tokio::spawn(work.drive(tally)));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = cpu_seconds();
    let mut total = Tally {
        ops: 0,
        errors: 0,
        latency: new_histogram()?,
    };
    for task in tasks {
        let tally = task.await.map_err(|e| e.to_string())?;
        total.ops += tally.ops;
        total.errors += tally.errors;
        total
            .latency
            .add(&tally.latency)
            .map_err(|e| e.to_string())?;
    }
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    let elapsed = (Instant::now().min(stop_at + Duration::from_secs(1)) - measure_from)
        .as_secs_f64()
        .max(args.seconds as f64);
    let ms = |q: f64| total.latency.value_at_quantile(q) as f64 / 1000.0;
    let cpu_us_per_op = match cpu {
        Some(cpu) if total.ops > 0 => format!("{:.3}", cpu * 1e6 / total.ops as f64),
        _ => "null".to_string(),
    };
    Ok(format!(
        "{{\"tasks\":{},\"batch\":{},\"ops\":{},\"errors\":{},\"ops_per_sec\":{:.0},\
         \"p50_ms\":{:.3},\"p99_ms\":{:.3},\"client_cpu_us_per_op\":{}}}",
        args.tasks,
        args.batch,
        total.ops,
        total.errors,
        total.ops as f64 / elapsed,
        ms(0.5),
        ms(0.99),
        cpu_us_per_op
    ))
}

fn new_histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())
}

/// Writes every key once, 100 per MSET.
async fn preload(client: &Client, keys: u64, value: &[u8]) -> Result<(), String> {
    let names: Vec<String> = (0..keys).map(key).collect();
    for chunk in names.chunks(100) {
        let pairs: Vec<(&str, &[u8])> = chunk.iter().map(|k| (k.as_str(), value)).collect();
        let mut pipeline = client.pipeline();
        for (k, v) in &pairs {
            pipeline.set_bytes(k, v, SetOptions::new());
        }
        pipeline.query().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn key(i: u64) -> String {
    format!("clientload:{i}")
}

/// What one task sends.
struct Work {
    client: Client,
    seed: u64,
    keys: u64,
    /// Keys per MGET, or 0 for GETs and SETs.
    batch: usize,
    /// SETs and GETs per cycle.
    mix: (u64, u64),
    value: Arc<Vec<u8>>,
    measure_from: Instant,
    stop_at: Instant,
}

impl Work {
    /// Requests back to back until `stop_at`, counted from `measure_from`
    /// on.
    async fn drive(self, mut tally: Tally) -> Tally {
        let mut rng = fastrand::Rng::with_seed(self.seed);
        let cycle = self.mix.0 + self.mix.1;
        let mut n = 0u64;
        loop {
            let start = Instant::now();
            if start >= self.stop_at {
                return tally;
            }
            let ok = if self.batch > 0 {
                let names: Vec<String> =
                    (0..self.batch).map(|_| key(rng.u64(..self.keys))).collect();
                self.client.mget_bytes(&names).await.is_ok()
            } else if n % cycle < self.mix.0 {
                let k = key(rng.u64(..self.keys));
                let set = self.client.set_bytes(&k, &self.value, SetOptions::new());
                set.await.is_ok()
            } else {
                let k = key(rng.u64(..self.keys));
                self.client.get_bytes(&k).await.is_ok()
            };
            n += 1;
            if start >= self.measure_from {
                tally.ops += self.batch.max(1) as u64;
                if !ok {
                    tally.errors += 1;
                }
                let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                let _ = tally.latency.record(micros.max(1));
            }
        }
    }
}

/// This process's user plus system CPU seconds, from /proc/self/stat.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold
    // spaces): utime and stime are the 12th and 13th of those.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux the benches run on.
    Some((utime + stime) / 100.0)
}
