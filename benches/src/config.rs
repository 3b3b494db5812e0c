//! Command-line options of the load generator and the validated [`Config`]
//! built from them, so the workers never see an impossible combination.

use std::fmt;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Default server address (a local node or redis-server).
pub const DEFAULT_SERVER: &str = "127.0.0.1:6379";
/// Default connections per thread (the same as the baseline measurements).
pub const DEFAULT_CONNECTIONS: usize = 25;
/// Default key prefix, so keys look like memtier_benchmark's (`memtier-123`).
pub const DEFAULT_KEY_PREFIX: &str = "memtier-";
/// Default run length when neither `--test-time` nor `--requests` is given.
pub const DEFAULT_TEST_TIME_SECS: f64 = 10.0;
/// Default time to wait for a reply before the connection is given up.
pub const DEFAULT_TIMEOUT_SECS: f64 = 10.0;

/// Upper bounds on the options: they keep memory (histograms, buffers) and
/// the number of tasks finite whatever the user types.
const MAX_THREADS: usize = 256;
const MAX_CONNECTIONS: usize = 10_000;
const MAX_PIPELINE: usize = 100_000;
const MAX_DATA_SIZE: usize = 64 << 20;
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// How keys are drawn from `key-min..=key-max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyPattern {
    /// Each connection walks the range in order from its own offset, wrapping.
    Sequential,
    /// Every key equally likely.
    Uniform,
    /// Normal around the middle of the range (σ = range / 6 unless given).
    Gaussian,
    /// Zipf over ranks: `key-min` is the hottest key.
    Zipf,
}

impl fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyPattern::Sequential => "sequential",
            KeyPattern::Uniform => "uniform",
            KeyPattern::Gaussian => "gaussian",
            KeyPattern::Zipf => "zipf",
        })
    }
}

/// The SET:GET mix, e.g. `1:10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// SETs per cycle.
    pub set: u32,
    /// GETs per cycle.
    pub get: u32,
}

impl Ratio {
    /// Parses `SET:GET`; at least one side must be non-zero.
    ///
    /// # Errors
    /// Text that is not two non-negative integers separated by `:`, or `0:0`.
    pub fn parse(text: &str) -> Result<Ratio, String> {
        let (set, get) = text
            .split_once(':')
            .ok_or_else(|| format!("ratio {text:?} is not SET:GET"))?;
        let set: u32 = set
            .trim()
            .parse()
            .map_err(|_| format!("bad SET count in ratio {text:?}"))?;
        let get: u32 = get
            .trim()
            .parse()
            .map_err(|_| format!("bad GET count in ratio {text:?}"))?;
        if set == 0 && get == 0 {
            return Err("ratio 0:0 issues no requests".into());
        }
        Ok(Ratio { set, get })
    }

    /// Whether request number `n` (counted per connection) is a SET. The
    /// cycle puts the SETs first so a `1:10` run writes before it reads.
    pub fn is_set(&self, n: u64) -> bool {
        let cycle = u64::from(self.set) + u64::from(self.get);
        n % cycle < u64::from(self.set)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.set, self.get)
    }
}

/// memtier-like load generator for Redis-protocol servers.
#[derive(Debug, Parser)]
#[command(name = "ringcache-loadgen", version)]
pub struct Args {
    /// Server address, host:port.
    #[arg(long, short = 's', default_value = DEFAULT_SERVER)]
    pub server: String,
    /// Fetch CLUSTER SLOTS from --server and send each key to its slot's owner.
    #[arg(long)]
    pub cluster: bool,
    /// Worker threads, each with its own single-threaded runtime.
    #[arg(long, short = 't', default_value_t = 1)]
    pub threads: usize,
    /// Connections per thread.
    #[arg(long, short = 'c', alias = "clients", default_value_t = DEFAULT_CONNECTIONS)]
    pub connections: usize,
    /// Requests sent per connection before reading their replies.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// SET:GET mix.
    #[arg(long, default_value = "1:10", value_parser = Ratio::parse)]
    pub ratio: Ratio,
    /// How keys are chosen.
    #[arg(long, value_enum, default_value_t = KeyPattern::Uniform)]
    pub key_pattern: KeyPattern,
    /// Exponent of the Zipf pattern (> 0; larger is more skewed).
    #[arg(long, default_value_t = 0.99)]
    pub zipf_exponent: f64,
    /// Centre of the Gaussian pattern (default: middle of the range).
    #[arg(long)]
    pub key_median: Option<f64>,
    /// Standard deviation of the Gaussian pattern (default: range / 6).
    #[arg(long)]
    pub key_stddev: Option<f64>,
    /// Smallest key number.
    #[arg(long, default_value_t = 0)]
    pub key_min: u64,
    /// Largest key number (inclusive).
    #[arg(long, default_value_t = 9_999_999)]
    pub key_max: u64,
    /// Text before the key number.
    #[arg(long, default_value = DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,
    /// Bytes per SET value.
    #[arg(long, short = 'd', default_value_t = 32)]
    pub data_size: usize,
    /// Seconds to measure (after the warmup).
    #[arg(long, conflicts_with = "requests")]
    pub test_time: Option<f64>,
    /// Requests per connection to measure (after the warmup).
    #[arg(long, short = 'n')]
    pub requests: Option<u64>,
    /// Seconds of load before measuring starts; not counted.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Pre-fill: SET every key of the range exactly once, split across the
    /// connections (implies ratio 1:0 and sequential keys).
    #[arg(long, conflicts_with_all = ["test_time", "requests"])]
    pub load: bool,
    /// Seconds to wait for a reply before giving the connection up.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_SECS)]
    pub timeout: f64,
    /// Seed for the key generators (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also write the results as JSON to this file (`-` for stdout).
    #[arg(long)]
    pub json: Option<String>,
    /// Send `WAIT <n> <half of --timeout in ms>` after each SET, on the
    /// same socket, and count the write done when WAIT answers, an error
    /// when fewer than n replicas hold it (0: no WAIT). Measures durable
    /// writes as Redis Cluster offers them, against a node's
    /// `--write-quorum`.
    #[arg(long, default_value_t = 0)]
    pub wait_replicas: u32,
}

/// When a connection stops sending.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this long of measured time.
    Time(Duration),
    /// After this many measured requests per connection.
    Requests(u64),
    /// `--load`: after its share of the key range.
    Load,
}

/// Validated settings shared (read-only) by every worker.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seed address.
    pub server: String,
    /// Route by CLUSTER SLOTS.
    pub cluster: bool,
    /// Worker threads.
    pub threads: usize,
    /// Connections per thread.
    pub connections: usize,
    /// Pipeline depth.
    pub pipeline: usize,
    /// SET:GET mix.
    pub ratio: Ratio,
    /// Key distribution.
    pub key_pattern: KeyPattern,
    /// Zipf exponent.
    pub zipf_exponent: f64,
    /// Gaussian centre.
    pub key_median: f64,
    /// Gaussian standard deviation.
    pub key_stddev: f64,
    /// Smallest key number.
    pub key_min: u64,
    /// Largest key number (inclusive).
    pub key_max: u64,
    /// Key prefix.
    pub key_prefix: String,
    /// Value size.
    pub data_size: usize,
    /// When to stop.
    pub stop: Stop,
    /// Unmeasured time first.
    pub warmup: Duration,
    /// Reply timeout.
    pub timeout: Duration,
    /// Key generator seed.
    pub seed: u64,
    /// JSON output target.
    pub json: Option<String>,
    /// Replicas each SET waits for with WAIT (0: none).
    pub wait_replicas: u32,
}

impl Config {
    /// Total connections over all threads.
    pub fn total_connections(&self) -> usize {
        self.threads * self.connections
    }
}

fn seconds(name: &str, value: f64, allow_zero: bool) -> Result<Duration, String> {
    let ok =
        value.is_finite() && value <= MAX_SECONDS && (value > 0.0 || allow_zero && value == 0.0);
    if !ok {
        return Err(format!("--{name} {value} is out of range"));
    }
    Ok(Duration::from_secs_f64(value))
}

fn in_range(name: &str, value: usize, max: usize) -> Result<usize, String> {
    if value == 0 || value > max {
        return Err(format!("--{name} must be between 1 and {max}"));
    }
    Ok(value)
}

impl TryFrom<Args> for Config {
    type Error = String;

    fn try_from(args: Args) -> Result<Config, String> {
        if args.key_min > args.key_max {
            return Err("--key-min is larger than --key-max".into());
        }
        let zipf_ok = args.zipf_exponent.is_finite() && args.zipf_exponent > 0.0;
        if !zipf_ok || args.zipf_exponent > 100.0 {
            return Err("--zipf-exponent must be in (0, 100]".into());
        }
        let span = (args.key_max - args.key_min) as f64;
        let key_median = args.key_median.unwrap_or(args.key_min as f64 + span / 2.0);
        let key_stddev = args.key_stddev.unwrap_or(span / 6.0);
        if !key_median.is_finite() || !key_stddev.is_finite() || key_stddev < 0.0 {
            return Err("--key-median and --key-stddev must be finite, stddev >= 0".into());
        }
        if args.data_size > MAX_DATA_SIZE {
            return Err(format!("--data-size must be at most {MAX_DATA_SIZE}"));
        }
        let stop = match (args.load, args.test_time, args.requests) {
            (true, _, _) => Stop::Load,
            (false, _, Some(0)) => return Err("--requests must be at least 1".into()),
            (false, _, Some(n)) => Stop::Requests(n),
            (false, t, None) => Stop::Time(seconds(
                "test-time",
                t.unwrap_or(DEFAULT_TEST_TIME_SECS),
                false,
            )?),
        };
        // A load fills the range once, in order, with SETs only; a warmup
        // would write part of it twice and is not measured anyway.
        let (ratio, key_pattern, warmup) = if args.load {
            (Ratio { set: 1, get: 0 }, KeyPattern::Sequential, 0.0)
        } else {
            (args.ratio, args.key_pattern, args.warmup)
        };
        Ok(Config {
            server: args.server,
            cluster: args.cluster,
            threads: in_range("threads", args.threads, MAX_THREADS)?,
            connections: in_range("connections", args.connections, MAX_CONNECTIONS)?,
            pipeline: in_range("pipeline", args.pipeline, MAX_PIPELINE)?,
            ratio,
            key_pattern,
            zipf_exponent: args.zipf_exponent,
            key_median,
            key_stddev,
            key_min: args.key_min,
            key_max: args.key_max,
            key_prefix: args.key_prefix,
            data_size: args.data_size,
            stop,
            warmup: seconds("warmup", warmup, true)?,
            timeout: seconds("timeout", args.timeout, false)?,
            seed: args.seed.unwrap_or_else(|| fastrand::u64(..)),
            wait_replicas: args.wait_replicas,
            json: args.json,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<Config, String> {
        let args = Args::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Config::try_from(args)
    }

    #[test]
    fn ratio_parses_and_cycles_sets_first() {
        let r = Ratio::parse("1:3").unwrap();
        assert_eq!(r, Ratio { set: 1, get: 3 });
        let pattern: Vec<bool> = (0..8).map(|n| r.is_set(n)).collect();
        assert_eq!(
            pattern,
            [true, false, false, false, true, false, false, false]
        );
        assert!(Ratio::parse("0:0").is_err());
        assert!(Ratio::parse("1-10").is_err());
        assert!(Ratio::parse("x:1").is_err());
        assert!((0..5).all(|n| !Ratio::parse("0:1").unwrap().is_set(n)));
    }

    #[test]
    fn defaults_run_ten_seconds_against_a_local_node() {
        let c = config(&[]).unwrap();
        assert_eq!(c.server, DEFAULT_SERVER);
        assert_eq!(c.stop, Stop::Time(Duration::from_secs(10)));
        assert_eq!(c.key_prefix, "memtier-");
        assert_eq!(c.ratio, Ratio { set: 1, get: 10 });
    }

    #[test]
    fn load_mode_forces_sets_in_order() {
        let c = config(&[
            "--load",
            "--ratio",
            "1:10",
            "--key-pattern",
            "zipf",
            "--warmup",
            "3",
        ])
        .unwrap();
        assert_eq!(c.stop, Stop::Load);
        assert_eq!(c.ratio, Ratio { set: 1, get: 0 });
        assert_eq!(c.key_pattern, KeyPattern::Sequential);
        assert_eq!(c.warmup, Duration::ZERO);
    }

    #[test]
    fn impossible_options_are_refused() {
        assert!(config(&["--key-min", "5", "--key-max", "4"]).is_err());
        assert!(config(&["--pipeline", "0"]).is_err());
        assert!(config(&["--test-time", "-1"]).is_err());
        assert!(config(&["--test-time", "1", "--requests", "5"]).is_err());
        assert!(config(&["--zipf-exponent", "0"]).is_err());
        assert!(config(&["--requests", "0"]).is_err());
    }
}
