//! `ringcache-nearbench`: the near cache's figures.
//!
//! - `hits`: a read answered from the near cache against a remote `GET`
//!   through the same client: latency of sequential reads (p50/p99) and
//!   reads per second from `--tasks` tasks, for both.
//! - `stale`: the stale window. `--readers` processes (this binary's
//!   `reader` mode) each poll one key through a near cache of their own
//!   while reading other keys from it at `--load-rate` reads per second;
//!   this process writes a new version of the key every `--interval-us`
//!   and notes when each write was acknowledged. A reader notes when it
//!   first served each version; a write's window is the time from its
//!   acknowledgement until the last reader served it (or a newer one).
//!
//! Each mode prints one JSON line. Everything is bounded in time; reader
//! processes are killed if they outlive their own deadline.
//!
//! ```text
//! ringcache-nearbench hits --server 127.0.0.1:6379
//! ringcache-nearbench stale --server 127.0.0.1:6379 --readers 8
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use ringcache_client::near_cache::NearCacheConfig;
use ringcache_client::{Client, ClientConfig, SetOptions};

/// Options.
#[derive(Debug, Parser)]
#[command(name = "ringcache-nearbench")]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Near-cache hits against remote GETs.
    Hits {
        /// Seed node, `host:port`.
        #[arg(long)]
        server: String,
        /// Keys read (all held by the near cache once warm).
        #[arg(long, default_value_t = 1000)]
        keys: u64,
        /// Sequential reads timed one by one, per kind.
        #[arg(long, default_value_t = 200_000)]
        reads: u64,
        /// Tasks for the throughput figure.
        #[arg(long, default_value_t = 16)]
        tasks: usize,
        /// Seconds of the throughput figure, per kind.
        #[arg(long, default_value_t = 2)]
        seconds: u64,
    },
    /// The stale window across reader processes.
    Stale {
        /// Seed node, `host:port`.
        #[arg(long)]
        server: String,
        /// Reader processes.
        #[arg(long, default_value_t = 8)]
        readers: usize,
        /// Versions written.
        #[arg(long, default_value_t = 1000)]
        writes: u64,
        /// Pause between writes, in microseconds.
        #[arg(long, default_value_t = 5000)]
        interval_us: u64,
        /// Reads per second from each reader's near cache besides polling.
        #[arg(long, default_value_t = 50_000)]
        load_rate: u64,
    },
    /// One reader of `stale` (started by it).
    Reader {
        #[arg(long)]
        server: String,
        #[arg(long)]
        key: String,
        #[arg(long)]
        load_rate: u64,
        /// Exit by then whatever happens, in seconds.
        #[arg(long)]
        deadline: u64,
    },
}

/// Keys of the load and of the hits mode.
fn load_key(i: u64) -> String {
    format!("nearbench:{i}")
}

fn main() -> ExitCode {
    let args = Args::parse();
    // A reader is one of many processes on the machine: one worker (and
    // its polling thread) each, as a small application server would run.
    let workers = if matches!(args.mode, Mode::Reader { .. }) {
        1
    } else {
        2
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ringcache-nearbench: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.mode {
        Mode::Hits {
            server,
            keys,
            reads,
            tasks,
            seconds,
        } => runtime.block_on(hits(&server, keys, reads, tasks, seconds)),
        Mode::Stale {
            server,
            readers,
            writes,
            interval_us,
            load_rate,
        } => stale(&runtime, &server, readers, writes, interval_us, load_rate),
        Mode::Reader {
            server,
            key,
            load_rate,
            deadline,
        } => reader(&runtime, &server, &key, load_rate, deadline),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringcache-nearbench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn connect(server: &str) -> Result<Client, String> {
    let config = ClientConfig {
        request_timeout: Duration::from_secs(5),
        ..ClientConfig::new([server.to_string()])
    };
    Client::connect(config).await.map_err(|e| e.to_string())
}

fn histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| e.to_string())
}

/// Sequential reads of `keys` keys, each timed: nanoseconds p50 and p99.
async fn timed_reads(client: &Client, keys: u64, reads: u64) -> Result<(u64, u64), String> {
    let names: Vec<String> = (0..keys).map(load_key).collect();
    let mut latency = histogram()?;
    for i in 0..reads {
        let key = &names[(i % keys) as usize];
        let started = Instant::now();
        let value = client.get_bytes(key).await.map_err(|e| e.to_string())?;
        let took = started.elapsed().as_nanos() as u64;
        if value.is_none() {
            return Err(format!("{key} is missing"));
        }
        latency.record(took.max(1)).map_err(|e| e.to_string())?;
    }
    Ok((
        latency.value_at_quantile(0.5),
        latency.value_at_quantile(0.99),
    ))
}

/// Reads per second from `tasks` tasks reading for `seconds`.
async fn throughput(client: &Client, keys: u64, tasks: usize, seconds: u64) -> Result<f64, String> {
    let stop_at = Instant::now() + Duration::from_secs(seconds);
    let mut handles = Vec::new();
    for t in 0..tasks.max(1) {
        let client = client.clone();
        handles.push(tokio::spawn(async move {
            let mut done = 0u64;
            let mut i = t as u64;
            while Instant::now() < stop_at {
                for _ in 0..64 {
                    i = (i + 7919) % keys;
                    if client.get_bytes(load_key(i)).await.is_ok() {
                        done += 1;
                    }
                }
                // Hits never wait: let the other tasks and the sockets run.
                tokio::task::yield_now().await;
            }
            done
        }));
    }
    let mut total = 0;
    for handle in handles {
        total += handle.await.map_err(|e| e.to_string())?;
    }
    Ok(total as f64 / seconds as f64)
}

async fn hits(
    server: &str,
    keys: u64,
    reads: u64,
    tasks: usize,
    seconds: u64,
) -> Result<String, String> {
    let keys = keys.max(1);
    let remote = connect(server).await?;
    let value = vec![b'x'; 32];
    for i in 0..keys {
        remote
            .set_bytes(load_key(i), &value, SetOptions::new())
            .await
            .map_err(|e| e.to_string())?;
    }
    let remote_reads = (reads / 20).max(keys);
    let (remote_p50, remote_p99) = timed_reads(&remote, keys, remote_reads).await?;
    let remote_rate = throughput(&remote, keys, tasks, seconds).await?;
    let near = remote
        .with_near_cache(NearCacheConfig::default())
        .map_err(|e| e.to_string())?;
    timed_reads(&near, keys, keys).await?;
    let (near_p50, near_p99) = timed_reads(&near, keys, reads).await?;
    let near_rate = throughput(&near, keys, tasks, seconds).await?;
    let stats = near.near_cache().map(|n| n.stats()).unwrap_or_default();
    Ok(format!(
        "{{\"remote_get\":{{\"p50_us\":{:.1},\"p99_us\":{:.1},\"reads_per_sec\":{remote_rate:.0}}},\
         \"near_hit\":{{\"p50_ns\":{near_p50},\"p99_ns\":{near_p99},\"reads_per_sec\":{near_rate:.0}}},\
         \"near_misses\":{},\"near_hits\":{},\"tasks\":{tasks}}}",
        remote_p50 as f64 / 1000.0,
        remote_p99 as f64 / 1000.0,
        stats.misses,
        stats.hits
    ))
}

/// Microseconds since the Unix epoch: the clock every process shares.
fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Kills the reader processes left when dropped.
struct Readers(Vec<Child>);

impl Drop for Readers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the readers; each line one prints arrives on the channel with
/// its index.
fn spawn_readers(
    server: &str,
    key: &str,
    count: usize,
    load_rate: u64,
    deadline: u64,
) -> Result<(Readers, mpsc::Receiver<(usize, String)>), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel();
    let mut readers = Readers(Vec::new());
    for index in 0..count {
        let mut child = Command::new(&exe)
            .args(["reader", "--server", server, "--key", key])
            .args(["--load-rate", &load_rate.to_string()])
            .args(["--deadline", &deadline.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn reader: {e}"))?;
        let stdout = child.stdout.take().ok_or("reader without stdout")?;
        readers.0.push(child);
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send((index, line)).is_err() {
                    return;
                }
            }
        });
    }
    Ok((readers, rx))
}

fn stale(
    runtime: &tokio::runtime::Runtime,
    server: &str,
    readers: usize,
    writes: u64,
    interval_us: u64,
    load_rate: u64,
) -> Result<String, String> {
    let key = format!("nearbench:stale:{}", std::process::id());
    let writer = runtime.block_on(async {
        let client = connect(server).await?;
        for i in 0..1000 {
            client
                .set_bytes(load_key(i), b"load", SetOptions::new())
                .await
                .map_err(|e| e.to_string())?;
        }
        client
            .set_bytes(&key, b"0", SetOptions::new())
            .await
            .map_err(|e| e.to_string())?;
        Ok::<Client, String>(client)
    })?;
    let run_secs = writes * interval_us / 1_000_000 + 30;
    let (children, lines) = spawn_readers(server, &key, readers, load_rate, run_secs)?;
    let until = Instant::now() + Duration::from_secs(30);
    let mut ready = 0;
    while ready < readers {
        let wait = until.saturating_duration_since(Instant::now());
        match lines.recv_timeout(wait) {
            Ok((_, line)) if line == "ready" => ready += 1,
            Ok(_) => {}
            Err(_) => return Err(format!("{ready} of {readers} readers ready in time")),
        }
    }
    let acks = runtime.block_on(write_versions(&writer, &key, writes, interval_us))?;
    let seen = collect_observations(&lines, readers, run_secs)?;
    drop(children);
    window_report(&acks, &seen, readers, writes, interval_us, load_rate)
}

/// Writes versions 1..=writes, then "stop"; the acknowledgement times.
async fn write_versions(
    client: &Client,
    key: &str,
    writes: u64,
    interval_us: u64,
) -> Result<Vec<u64>, String> {
    let mut acks = Vec::with_capacity(writes as usize);
    let mut tick = tokio::time::interval(Duration::from_micros(interval_us.max(100)));
    for version in 1..=writes {
        tick.tick().await;
        client
            .set_bytes(key, version.to_string().as_bytes(), SetOptions::new())
            .await
            .map_err(|e| e.to_string())?;
        acks.push(wall_us());
    }
    // Let the readers see the last version before they stop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    client
        .set_bytes(key, b"stop", SetOptions::new())
        .await
        .map_err(|e| e.to_string())?;
    Ok(acks)
}

/// Per reader, `(version, first served at)` pairs, from the readers' last
/// lines (`version time` pairs, space-separated).
fn collect_observations(
    lines: &mpsc::Receiver<(usize, String)>,
    readers: usize,
    run_secs: u64,
) -> Result<Vec<Vec<(u64, u64)>>, String> {
    let mut seen: Vec<Option<Vec<(u64, u64)>>> = vec![None; readers];
    let until = Instant::now() + Duration::from_secs(run_secs);
    while seen.iter().any(Option::is_none) {
        let wait = until.saturating_duration_since(Instant::now());
        let (index, line) = lines
            .recv_timeout(wait)
            .map_err(|_| "a reader did not report in time".to_string())?;
        let Some(pairs) = line.strip_prefix("seen ") else {
            continue;
        };
        let mut parsed = Vec::new();
        for pair in pairs.split(',').filter(|p| !p.is_empty()) {
            let (v, t) = pair.split_once(':').ok_or("bad observation")?;
            parsed.push((
                v.parse().map_err(|_| "bad version")?,
                t.parse().map_err(|_| "bad time")?,
            ));
        }
        seen[index] = Some(parsed);
    }
    Ok(seen.into_iter().flatten().collect())
}

fn window_report(
    acks: &[u64],
    seen: &[Vec<(u64, u64)>],
    readers: usize,
    writes: u64,
    interval_us: u64,
    load_rate: u64,
) -> Result<String, String> {
    let mut windows = histogram()?;
    let mut never = 0u64;
    for (i, &ack) in acks.iter().enumerate() {
        let version = i as u64 + 1;
        // When the last reader served this version or a newer one.
        let last = seen.iter().map(|obs| {
            obs.iter()
                .filter(|(v, _)| *v >= version)
                .map(|(_, t)| *t)
                .min()
        });
        let Some(last) = last.collect::<Option<Vec<u64>>>() else {
            never += 1;
            continue;
        };
        let served = last.into_iter().max().unwrap_or(ack);
        windows
            .record(served.saturating_sub(ack).max(1))
            .map_err(|e| e.to_string())?;
    }
    let ms = |q: f64| windows.value_at_quantile(q) as f64 / 1000.0;
    Ok(format!(
        "{{\"readers\":{readers},\"writes\":{writes},\"interval_us\":{interval_us},\
         \"load_rate_per_reader\":{load_rate},\"window_p50_ms\":{:.3},\"window_p99_ms\":{:.3},\
         \"window_max_ms\":{:.3},\"never_seen\":{never}}}",
        ms(0.5),
        ms(0.99),
        windows.max() as f64 / 1000.0
    ))
}

/// A reader process: polls `key` through its near cache every 100 µs on a
/// thread of its own, and reads the load keys at `load_rate` per second on
/// the runtime; prints `ready`, then, when it reads "stop" (or at its
/// deadline), `seen` and its observations.
fn reader(
    runtime: &tokio::runtime::Runtime,
    server: &str,
    key: &str,
    load_rate: u64,
    deadline: u64,
) -> Result<String, String> {
    let client = runtime.block_on(connect(server))?;
    let near = client
        .with_near_cache(NearCacheConfig::default())
        .map_err(|e| e.to_string())?;
    let stop_at = Instant::now() + Duration::from_secs(deadline);
    let load = near.clone();
    runtime.spawn(async move {
        // Every millisecond, a thousandth of the rate.
        let per_tick = (load_rate / 1000).max(1);
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut i = 0u64;
        while Instant::now() < stop_at {
            tick.tick().await;
            for _ in 0..per_tick {
                i = (i + 7919) % 1000;
                let _ = load.get_bytes(load_key(i)).await;
            }
        }
    });
    let read = |near: &Client| runtime.block_on(near.get_bytes(key)).ok().flatten();
    read(&near);
    println!("ready");
    let mut seen: Vec<(u64, u64)> = Vec::new();
    let mut last = Vec::new();
    while Instant::now() < stop_at {
        std::thread::sleep(Duration::from_micros(100));
        let Some(value) = read(&near) else {
            continue;
        };
        if value != last {
            let now = wall_us();
            if value == b"stop" {
                break;
            }
            if let Some(version) = std::str::from_utf8(&value)
                .ok()
                .and_then(|v| v.parse().ok())
            {
                seen.push((version, now));
            }
            last = value;
        }
    }
    let pairs: Vec<String> = seen.iter().map(|(v, t)| format!("{v}:{t}")).collect();
    Ok(format!("seen {}", pairs.join(",")))
}
