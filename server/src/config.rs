//! Node configuration: one struct filled from defaults, then an optional
//! Redis-style config file (`key value` lines), then command-line flags.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::store::EvictionPolicy;

/// Default RESP port, as Redis.
pub const DEFAULT_PORT: u16 = 6379;
/// Default bind address: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// Default connection limit, as Redis.
pub const DEFAULT_MAXCLIENTS: usize = 10_000;
/// Default number of keys sampled per eviction, as Redis.
pub const DEFAULT_MAXMEMORY_SAMPLES: usize = 5;
/// Default largest bulk string in a request (Redis `proto-max-bulk-len`).
pub const DEFAULT_PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;
/// Default cap on a client's unparsed input (Redis `client-query-buffer-limit`).
pub const DEFAULT_QUERY_BUFFER_LIMIT: u64 = 1024 * 1024 * 1024;
/// Default slow log threshold in microseconds, as Redis.
pub const DEFAULT_SLOWLOG_SLOWER_THAN: i64 = 10_000;
/// Default slow log length, as Redis.
pub const DEFAULT_SLOWLOG_MAX_LEN: u64 = 128;

/// Command-line flags. Every flag is optional so that a config file can
/// supply it; flags given on the command line override the file.
#[derive(Debug, Parser)]
#[command(
    name = "ringcache-server",
    version,
    about = "A ringcache node: a Redis-protocol in-memory cache"
)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// TCP port for RESP clients (0 takes a free port and logs it).
    #[arg(long)]
    pub port: Option<u16>,
    /// Memory bound in bytes (accepts 100mb, 2gb; 0 = no limit).
    #[arg(long, value_parser = parse_memory)]
    pub maxmemory: Option<u64>,
    /// What to evict when maxmemory is reached.
    #[arg(long, value_parser = parse_policy)]
    pub maxmemory_policy: Option<EvictionPolicy>,
    /// Keys sampled per eviction.
    #[arg(long)]
    pub maxmemory_samples: Option<usize>,
    /// Password required through AUTH before other commands.
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Maximum number of client connections.
    #[arg(long)]
    pub maxclients: Option<usize>,
    /// Close client connections idle for this many seconds (0 = never).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Worker threads (default: half the cores, at least one).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Refuse non-loopback clients when bound publicly without a password.
    #[arg(long, value_parser = parse_yes_no)]
    pub protected_mode: Option<bool>,
    /// Largest bulk string accepted in a request.
    #[arg(long, value_parser = parse_memory)]
    pub proto_max_bulk_len: Option<u64>,
    /// Port of the Prometheus endpoint (`GET /metrics`); none by default.
    #[arg(long)]
    pub metrics_port: Option<u16>,
    /// Redis-style config file (`key value` per line).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run as a cluster node even without seeds (the first node of a cluster).
    #[arg(long, value_parser = parse_yes_no)]
    pub cluster_enabled: Option<bool>,
    /// Gossip addresses (host:port) of cluster nodes to join through; implies
    /// cluster mode.
    #[arg(long, value_delimiter = ',')]
    pub cluster_seeds: Option<Vec<String>>,
    /// UDP gossip port (default: the RESP port + 10000).
    #[arg(long)]
    pub cluster_port: Option<u16>,
    /// Address other nodes and clients reach this node at (default: the bind
    /// address, or 127.0.0.1 when bound to all interfaces).
    #[arg(long)]
    pub cluster_announce_ip: Option<IpAddr>,
    /// Stable node name; a restarted node with the same name gets its slots
    /// back (default: the announced host:port).
    #[arg(long)]
    pub node_name: Option<String>,
    /// This node's share of the ring relative to others (virtual nodes x weight).
    #[arg(long)]
    pub weight: Option<u32>,
    /// Virtual nodes per unit of weight.
    #[arg(long)]
    pub vnodes: Option<u32>,
    /// Copies of each slot besides the primary.
    #[arg(long)]
    pub replicas: Option<usize>,
    /// Copies that must hold a write before it is acknowledged (1 = the primary alone).
    #[arg(long)]
    pub write_quorum: Option<usize>,
    /// How soon a silent node is declared dead (e.g. 3s, 1500ms).
    #[arg(long, value_parser = parse_duration_ms)]
    pub failure_timeout: Option<u64>,
    /// Answer -MOVED like Redis Cluster instead of forwarding to the owner.
    #[arg(long)]
    pub cluster_redirect: bool,
    /// Bandwidth bound of slot handoffs, bytes per second (accepts 64mb).
    #[arg(long, value_parser = parse_memory)]
    pub handoff_rate: Option<u64>,
    /// Start N cluster nodes in this process on consecutive ports from
    /// --port (default 7000), to try a cluster locally.
    #[arg(long)]
    pub local_cluster: Option<usize>,
    /// Shared secret of the cluster: authenticates gossip and peer links
    /// (prefer --cluster-secret-file, which keeps it out of `ps`).
    #[arg(long)]
    pub cluster_secret: Option<String>,
    /// File whose first line is the cluster secret.
    #[arg(long)]
    pub cluster_secret_file: Option<PathBuf>,
    /// Name of the cluster; nodes of differently named clusters never join.
    #[arg(long)]
    pub cluster_name: Option<String>,
    /// Largest clock difference between nodes (e.g. 60s): versions further
    /// ahead are refused, and gossip older or newer than this is dropped.
    #[arg(long, value_parser = parse_duration_ms)]
    pub cluster_max_clock_skew: Option<u64>,
}

/// The node's effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub bind: IpAddr,
    /// RESP port; 0 for any free port.
    pub port: u16,
    /// Memory bound in bytes, 0 for none.
    pub maxmemory: u64,
    /// Eviction policy under the memory bound.
    pub maxmemory_policy: EvictionPolicy,
    /// Keys sampled per eviction.
    pub maxmemory_samples: usize,
    /// Required password, if any.
    pub requirepass: Option<String>,
    /// Connection limit.
    pub maxclients: usize,
    /// Idle timeout in seconds, 0 for none.
    pub timeout: u64,
    /// Worker threads.
    pub threads: usize,
    /// Protected mode (see [`Cli::protected_mode`]).
    pub protected_mode: bool,
    /// Largest bulk string in a request.
    pub proto_max_bulk_len: u64,
    /// Cap on a client's unparsed input.
    pub client_query_buffer_limit: u64,
    /// Slow log threshold in microseconds (negative disables).
    pub slowlog_log_slower_than: i64,
    /// Slow log capacity.
    pub slowlog_max_len: u64,
    /// Latency monitor threshold in milliseconds (0 disables).
    pub latency_monitor_threshold: u64,
    /// Prometheus endpoint port, if enabled.
    pub metrics_port: Option<u16>,
    /// The config file this came from, if any.
    pub config_file: Option<PathBuf>,
    /// Cluster mode.
    pub cluster_enabled: bool,
    /// Gossip addresses to join through.
    pub cluster_seeds: Vec<String>,
    /// UDP gossip port; `None` for the RESP port + 10000.
    pub cluster_port: Option<u16>,
    /// Announced IP; `None` for the bind address.
    pub cluster_announce_ip: Option<IpAddr>,
    /// Stable node name; `None` for the announced host:port.
    pub node_name: Option<String>,
    /// Ring weight.
    pub weight: u32,
    /// Virtual nodes per unit of weight.
    pub vnodes: u32,
    /// Copies besides the primary.
    pub replicas: usize,
    /// Copies that acknowledge a write.
    pub write_quorum: usize,
    /// Failure detection timeout in milliseconds.
    pub failure_timeout_ms: u64,
    /// MOVED instead of forwarding.
    pub cluster_redirect: bool,
    /// Handoff bandwidth bound in bytes per second.
    pub handoff_rate: u64,
    /// Nodes of a local cluster to start in this process (0: a single node).
    pub local_cluster: usize,
    /// Shared secret of the cluster (never shown by CONFIG GET).
    pub cluster_secret: Option<String>,
    /// File the secret was read from, if any.
    pub cluster_secret_file: Option<PathBuf>,
    /// Name of the cluster.
    pub cluster_name: String,
    /// Largest clock skew between nodes, in milliseconds.
    pub cluster_max_clock_skew_ms: u64,
}

/// Default virtual nodes per unit of weight.
pub const DEFAULT_VNODES: u32 = 256;
/// Default copies of a slot besides its primary.
pub const DEFAULT_REPLICAS: usize = 1;
/// Default failure detection timeout.
pub const DEFAULT_FAILURE_TIMEOUT_MS: u64 = 3000;
/// Default handoff bandwidth bound.
pub const DEFAULT_HANDOFF_RATE: u64 = 64 << 20;
/// First port of `--local-cluster` when no port is given, as Redis's examples.
pub const LOCAL_CLUSTER_PORT: u16 = 7000;
/// Default cluster name.
pub const DEFAULT_CLUSTER_NAME: &str = "ringcache";
/// Default largest clock skew between nodes.
pub const DEFAULT_MAX_CLOCK_SKEW_MS: u64 = 60_000;

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: DEFAULT_BIND
                .parse()
                .expect("DEFAULT_BIND is a valid address"),
            port: DEFAULT_PORT,
            maxmemory: 0,
            maxmemory_policy: EvictionPolicy::AllKeysLru,
            maxmemory_samples: DEFAULT_MAXMEMORY_SAMPLES,
            requirepass: None,
            maxclients: DEFAULT_MAXCLIENTS,
            timeout: 0,
            threads: default_threads(),
            protected_mode: true,
            proto_max_bulk_len: DEFAULT_PROTO_MAX_BULK_LEN,
            client_query_buffer_limit: DEFAULT_QUERY_BUFFER_LIMIT,
            slowlog_log_slower_than: DEFAULT_SLOWLOG_SLOWER_THAN,
            slowlog_max_len: DEFAULT_SLOWLOG_MAX_LEN,
            latency_monitor_threshold: 0,
            metrics_port: None,
            config_file: None,
            cluster_enabled: false,
            cluster_seeds: Vec::new(),
            cluster_port: None,
            cluster_announce_ip: None,
            node_name: None,
            weight: 1,
            vnodes: DEFAULT_VNODES,
            replicas: DEFAULT_REPLICAS,
            write_quorum: 1,
            failure_timeout_ms: DEFAULT_FAILURE_TIMEOUT_MS,
            cluster_redirect: false,
            handoff_rate: DEFAULT_HANDOFF_RATE,
            local_cluster: 0,
            cluster_secret: None,
            cluster_secret_file: None,
            cluster_name: DEFAULT_CLUSTER_NAME.to_string(),
            cluster_max_clock_skew_ms: DEFAULT_MAX_CLOCK_SKEW_MS,
        }
    }
}

impl Config {
    /// Builds the configuration: defaults, then the file named by `--config`,
    /// then the flags.
    ///
    /// # Errors
    /// An unreadable file, an unknown key or a bad value, with its line.
    pub fn from_cli(cli: Cli) -> Result<Config, String> {
        let mut config = Config::default();
        if let Some(path) = &cli.config {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
            config.apply_file(&text)?;
            config.config_file = Some(path.clone());
        }
        if let Some(v) = cli.bind {
            config.bind = v;
        }
        if let Some(v) = cli.port {
            config.port = v;
        }
        if let Some(v) = cli.maxmemory {
            config.maxmemory = v;
        }
        if let Some(v) = cli.maxmemory_policy {
            config.maxmemory_policy = v;
        }
        if let Some(v) = cli.maxmemory_samples {
            config.maxmemory_samples = v;
        }
        if let Some(v) = cli.requirepass {
            config.requirepass = Some(v);
        }
        if let Some(v) = cli.maxclients {
            config.maxclients = v;
        }
        if let Some(v) = cli.timeout {
            config.timeout = v;
        }
        if let Some(v) = cli.threads {
            config.threads = v;
        }
        if let Some(v) = cli.protected_mode {
            config.protected_mode = v;
        }
        if let Some(v) = cli.proto_max_bulk_len {
            config.proto_max_bulk_len = v;
        }
        if let Some(v) = cli.metrics_port {
            config.metrics_port = Some(v);
        }
        if let Some(v) = cli.cluster_enabled {
            config.cluster_enabled = v;
        }
        if let Some(v) = cli.cluster_seeds {
            config.cluster_seeds = v.into_iter().filter(|s| !s.is_empty()).collect();
        }
        if let Some(v) = cli.cluster_port {
            config.cluster_port = Some(v);
        }
        if let Some(v) = cli.cluster_announce_ip {
            config.cluster_announce_ip = Some(v);
        }
        if let Some(v) = cli.node_name {
            config.node_name = Some(v);
        }
        if let Some(v) = cli.weight {
            config.weight = v;
        }
        if let Some(v) = cli.vnodes {
            config.vnodes = v;
        }
        if let Some(v) = cli.replicas {
            config.replicas = v;
        }
        if let Some(v) = cli.write_quorum {
            config.write_quorum = v;
        }
        if let Some(v) = cli.failure_timeout {
            config.failure_timeout_ms = v;
        }
        if cli.cluster_redirect {
            config.cluster_redirect = true;
        }
        if let Some(v) = cli.handoff_rate {
            config.handoff_rate = v;
        }
        if let Some(v) = cli.local_cluster {
            config.local_cluster = v;
            if cli.port.is_none() {
                config.port = LOCAL_CLUSTER_PORT;
            }
        }
        if !config.cluster_seeds.is_empty() || config.local_cluster > 0 {
            config.cluster_enabled = true;
        }
        if let Some(v) = cli.cluster_secret {
            config.cluster_secret = Some(v);
        }
        if let Some(v) = cli.cluster_secret_file {
            config.cluster_secret_file = Some(v);
        }
        if let Some(v) = cli.cluster_name {
            config.cluster_name = v;
        }
        if let Some(v) = cli.cluster_max_clock_skew {
            config.cluster_max_clock_skew_ms = v;
        }
        config.read_cluster_secret_file()?;
        config.validate()?;
        Ok(config)
    }

    /// Applies a Redis-style config file: one `key value` per line, `#`
    /// comments, the same keys as the flags (`maxmemory-policy` or
    /// `maxmemory_policy`).
    ///
    /// # Errors
    /// An unknown key or a bad value, naming the line.
    pub fn apply_file(&mut self, text: &str) -> Result<(), String> {
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let value = value.trim().trim_matches('"');
            self.set(key, value)
                .map_err(|e| format!("config file line {}: {e}", number + 1))?;
        }
        Ok(())
    }

    /// Sets one option by its Redis-style name (used by the config file and
    /// by CONFIG SET).
    ///
    /// # Errors
    /// An unknown name or an invalid value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let key = key.to_ascii_lowercase().replace('_', "-");
        match key.as_str() {
            "bind" => {
                self.bind = value
                    .parse()
                    .map_err(|_| format!("invalid bind address '{value}'"))?
            }
            "port" => self.port = parse_num(value)?,
            "maxmemory" => self.maxmemory = parse_memory(value)?,
            "maxmemory-policy" => self.maxmemory_policy = parse_policy(value)?,
            "maxmemory-samples" => self.maxmemory_samples = parse_num(value)?,
            "requirepass" => self.requirepass = (!value.is_empty()).then(|| value.to_string()),
            "maxclients" => self.maxclients = parse_num(value)?,
            "timeout" => self.timeout = parse_num(value)?,
            "threads" => self.threads = parse_num(value)?,
            "protected-mode" => self.protected_mode = parse_yes_no(value)?,
            "proto-max-bulk-len" => self.proto_max_bulk_len = parse_memory(value)?,
            "client-query-buffer-limit" => self.client_query_buffer_limit = parse_memory(value)?,
            "slowlog-log-slower-than" => self.slowlog_log_slower_than = parse_num(value)?,
            "slowlog-max-len" => self.slowlog_max_len = parse_num(value)?,
            "latency-monitor-threshold" => self.latency_monitor_threshold = parse_num(value)?,
            "metrics-port" => self.metrics_port = Some(parse_num(value)?),
            "cluster-enabled" => self.cluster_enabled = parse_yes_no(value)?,
            "cluster-seeds" => {
                self.cluster_seeds = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                self.cluster_enabled |= !self.cluster_seeds.is_empty();
            }
            "cluster-port" => self.cluster_port = Some(parse_num(value)?),
            "cluster-announce-ip" => {
                self.cluster_announce_ip = Some(
                    value
                        .parse()
                        .map_err(|_| format!("invalid address '{value}'"))?,
                )
            }
            "node-name" => self.node_name = Some(value.to_string()),
            "weight" => self.weight = parse_num(value)?,
            "vnodes" => self.vnodes = parse_num(value)?,
            "replicas" => self.replicas = parse_num(value)?,
            "write-quorum" => self.write_quorum = parse_num(value)?,
            "failure-timeout" => self.failure_timeout_ms = parse_duration_ms(value)?,
            "cluster-redirect" => self.cluster_redirect = parse_yes_no(value)?,
            "handoff-rate" => self.handoff_rate = parse_memory(value)?,
            "cluster-secret" => {
                self.cluster_secret = (!value.is_empty()).then(|| value.to_string())
            }
            "cluster-secret-file" => self.cluster_secret_file = Some(PathBuf::from(value)),
            "cluster-name" => self.cluster_name = value.to_string(),
            "cluster-max-clock-skew" => self.cluster_max_clock_skew_ms = parse_duration_ms(value)?,
            _ => return Err(format!("unknown option '{key}'")),
        }
        Ok(())
    }

    /// Reads the secret from `cluster_secret_file` (its first line,
    /// trimmed), when one is given.
    ///
    /// # Errors
    /// Both a secret and a file given, or the file unreadable or empty.
    fn read_cluster_secret_file(&mut self) -> Result<(), String> {
        let Some(path) = &self.cluster_secret_file else {
            return Ok(());
        };
        if self.cluster_secret.is_some() {
            return Err("cluster-secret and cluster-secret-file are both set: give one".into());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read cluster-secret-file {}: {e}", path.display()))?;
        let secret = text.lines().next().unwrap_or("").trim();
        if secret.is_empty() {
            return Err(format!(
                "cluster-secret-file {} is empty (the secret is its first line)",
                path.display()
            ));
        }
        self.cluster_secret = Some(secret.to_string());
        Ok(())
    }

    /// Checks values that are valid one by one but not together.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), String> {
        if self.maxmemory_samples == 0 || self.maxmemory_samples > 64 {
            return Err("maxmemory-samples must be between 1 and 64".into());
        }
        if self.threads == 0 {
            return Err("threads must be at least 1".into());
        }
        if self.maxclients == 0 || self.maxclients > crate::server::MAX_CONNECTIONS as usize {
            return Err(format!(
                "maxclients must be between 1 and {}",
                crate::server::MAX_CONNECTIONS
            ));
        }
        if self.proto_max_bulk_len < 1024 {
            return Err("proto-max-bulk-len must be at least 1kb".into());
        }
        if self.weight == 0 || self.weight > 1000 {
            return Err("weight must be between 1 and 1000".into());
        }
        if self.vnodes == 0 || self.vnodes > 4096 {
            return Err("vnodes must be between 1 and 4096".into());
        }
        if self.replicas > 15 {
            return Err("replicas must be at most 15".into());
        }
        if self.write_quorum == 0 || self.write_quorum > self.replicas + 1 {
            return Err(format!(
                "write-quorum must be between 1 and replicas + 1 ({})",
                self.replicas + 1
            ));
        }
        if self.failure_timeout_ms < 200 {
            return Err("failure-timeout must be at least 200ms".into());
        }
        if self.cluster_name.is_empty() || self.cluster_name.len() > 128 {
            return Err("cluster-name must be 1 to 128 bytes".into());
        }
        if self.cluster_max_clock_skew_ms < 1000 {
            return Err("cluster-max-clock-skew must be at least 1s".into());
        }
        if self.local_cluster > 32 {
            return Err("local-cluster takes at most 32 nodes".into());
        }
        if self.local_cluster > 0
            && (self.port == 0 || usize::from(self.port) + self.local_cluster + 10_000 > 65_536)
        {
            return Err(
                "local-cluster needs a fixed --port with room for its nodes and their gossip ports (port + 10000)"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Half the cores, at least one: the kernel's network stack (and, when it
/// shares the machine, the load) needs the rest. On 2 cores with the load
/// generator beside the node, one worker served 1.15x the GETs of two at
/// pipeline 1 with a lower p99 (BENCHMARKS.md).
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

fn parse_num<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("invalid number '{value}'"))
}

/// Parses a memory size as Redis does: a plain number of bytes, or with a
/// unit `k`/`kb`/`m`/`mb`/`g`/`gb` (`k` = 1000, `kb` = 1024), any case.
///
/// # Errors
/// Anything else.
pub fn parse_memory(value: &str) -> Result<u64, String> {
    let lower = value.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1 << 10,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return Err(format!("invalid memory size '{value}'")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("invalid memory size '{value}'"))
}

/// Parses a duration into milliseconds: `3s`, `1500ms`, or a plain number
/// of milliseconds.
///
/// # Errors
/// Anything else.
pub fn parse_duration_ms(value: &str) -> Result<u64, String> {
    let lower = value.trim().to_ascii_lowercase();
    let (digits, scale) = if let Some(ms) = lower.strip_suffix("ms") {
        (ms, 1)
    } else if let Some(s) = lower.strip_suffix('s') {
        (s, 1000)
    } else {
        (lower.as_str(), 1)
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("invalid duration '{value}'"))
}

fn parse_policy(value: &str) -> Result<EvictionPolicy, String> {
    EvictionPolicy::from_name(value).ok_or_else(|| format!("invalid maxmemory-policy '{value}'"))
}

fn parse_yes_no(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("argument must be 'yes' or 'no', got '{value}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_like_redis() {
        assert_eq!(parse_memory("0"), Ok(0));
        assert_eq!(parse_memory("100mb"), Ok(100 << 20));
        assert_eq!(parse_memory("2GB"), Ok(2 << 30));
        assert_eq!(parse_memory("1k"), Ok(1000));
        assert!(parse_memory("12xb").is_err());
        assert!(parse_memory("-1").is_err());
        assert!(parse_memory("99999999999999999999gb").is_err());
    }

    #[test]
    fn local_cluster_needs_room_for_its_ports() {
        let parse = |args: &[&str]| {
            Config::from_cli(Cli::parse_from(
                std::iter::once("ringcache-server").chain(args.iter().copied()),
            ))
        };
        let config = parse(&["--local-cluster", "3"]).unwrap();
        assert_eq!(
            (config.port, config.cluster_enabled),
            (LOCAL_CLUSTER_PORT, true)
        );
        assert!(parse(&["--local-cluster", "3", "--port", "0"]).is_err());
        assert!(parse(&["--local-cluster", "3", "--port", "55535"]).is_err());
        assert!(parse(&["--replicas", "1", "--write-quorum", "3"]).is_err());
        assert!(
            parse(&["--cluster-seeds", "127.0.0.1:17000"])
                .unwrap()
                .cluster_enabled
        );
    }

    #[test]
    fn cluster_secret_comes_from_a_flag_or_the_first_line_of_a_file() {
        let parse = |args: &[&str]| {
            Config::from_cli(Cli::parse_from(
                std::iter::once("ringcache-server").chain(args.iter().copied()),
            ))
        };
        let path = std::env::temp_dir().join(format!("ringcache-secret-{}", std::process::id()));
        let file = path.to_str().unwrap();
        std::fs::write(&path, "  s3cret \nsecond line\n").unwrap();
        let config = parse(&["--cluster-secret-file", file]).unwrap();
        assert_eq!(config.cluster_secret.as_deref(), Some("s3cret"));
        let both = parse(&["--cluster-secret-file", file, "--cluster-secret", "x"]);
        assert!(both.unwrap_err().contains("both"));
        std::fs::write(&path, "\n").unwrap();
        assert!(parse(&["--cluster-secret-file", file])
            .unwrap_err()
            .contains("empty"));
        std::fs::remove_file(&path).unwrap();
        assert!(parse(&["--cluster-secret-file", file])
            .unwrap_err()
            .contains("cannot read"));
        let config = parse(&["--cluster-secret", "x", "--cluster-max-clock-skew", "5s"]).unwrap();
        assert_eq!(config.cluster_secret.as_deref(), Some("x"));
        assert_eq!(config.cluster_max_clock_skew_ms, 5000);
        assert_eq!(config.cluster_name, DEFAULT_CLUSTER_NAME);
        assert!(parse(&["--cluster-max-clock-skew", "10ms"]).is_err());
        assert!(parse(&["--cluster-name", ""]).is_err());
        let mut from_file = Config::default();
        from_file
            .apply_file("cluster-name blue\ncluster-secret abc\ncluster-max-clock-skew 2s\n")
            .unwrap();
        assert_eq!(from_file.cluster_name, "blue");
        assert_eq!(from_file.cluster_secret.as_deref(), Some("abc"));
        assert_eq!(from_file.cluster_max_clock_skew_ms, 2000);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_ms("3s"), Ok(3000));
        assert_eq!(parse_duration_ms("1500ms"), Ok(1500));
        assert_eq!(parse_duration_ms("250"), Ok(250));
        assert!(parse_duration_ms("3m").is_err());
    }

    #[test]
    fn flags_override_the_file() {
        let path =
            std::env::temp_dir().join(format!("ringcache-config-{}.conf", std::process::id()));
        std::fs::write(
            &path,
            "# comment\nport 7000\nmaxmemory 10mb\nmaxmemory-policy volatile-ttl\n",
        )
        .unwrap();
        let cli = Cli::parse_from([
            "ringcache-server",
            "--port",
            "7001",
            "--config",
            path.to_str().unwrap(),
        ]);
        let config = Config::from_cli(cli).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(config.port, 7001);
        assert_eq!(config.maxmemory, 10 << 20);
        assert_eq!(config.maxmemory_policy, EvictionPolicy::VolatileTtl);
        assert!(Config::default()
            .apply_file("nosuchkey 1")
            .unwrap_err()
            .contains("line 1"));
    }
}
