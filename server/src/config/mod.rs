//! Node configuration: the typed [`Config`] every part of the node reads,
//! filled from the parameter table ([`params::PARAMS`]: defaults first, then
//! an optional Redis-style config file, then command-line flags), and
//! changed at run time by CONFIG SET through the same table.

mod cli;
pub mod params;
pub mod values;

use std::net::IpAddr;
use std::path::PathBuf;

use crate::notify::Classes;
use crate::store::{EncodingLimits, EvictionPolicy};
use crate::tls::{AuthClients, TlsSettings};
pub use cli::{from_args, StartError};
pub use params::{Effect, Param, Scope, MAX_CONNECTIONS, PARAMS};
pub use values::{parse_duration_ms, parse_memory, OutputLimit, OutputLimits};

/// Default largest bulk string in a request (Redis `proto-max-bulk-len`).
pub const DEFAULT_PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;
/// First port of `--local-cluster` when no port is given, as Redis's examples.
pub const LOCAL_CLUSTER_PORT: u16 = 7000;

/// The node's effective configuration; see [`PARAMS`] for what each field
/// means and its default.
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
    /// When collections leave their compact encodings.
    pub encodings: EncodingLimits,
    /// Number of numbered databases.
    pub databases: usize,
    /// Required password, if any: the `default` user's.
    pub requirepass: Option<String>,
    /// The ACL file (ACL LOAD, ACL SAVE), if any.
    pub aclfile: Option<PathBuf>,
    /// ACL users given by `user` lines of the config file (their rules).
    pub users: Vec<String>,
    /// `acllog-max-len`: ACL LOG entries kept.
    pub acllog_max_len: u64,
    /// `acl-pubsub-default allchannels`: new users may use every channel.
    pub acl_pubsub_all: bool,
    /// Connection limit.
    pub maxclients: usize,
    /// Idle timeout in seconds, 0 for none.
    pub timeout: u64,
    /// Worker threads.
    pub threads: usize,
    /// How long a single worker polls before it sleeps, in microseconds
    /// (see [`crate::idle_poll`]).
    pub idle_poll_us: u64,
    /// Transparent huge pages refused for the process (Redis's
    /// `disable-thp`); otherwise the allocator asks for them.
    pub disable_thp: bool,
    /// Protected mode.
    pub protected_mode: bool,
    /// Largest bulk string in a request.
    pub proto_max_bulk_len: u64,
    /// Cap on a client's unparsed input.
    pub client_query_buffer_limit: u64,
    /// Caps on a client's replies waiting to be written.
    pub client_output_buffer_limit: OutputLimits,
    /// Slow log threshold in microseconds (negative disables).
    pub slowlog_log_slower_than: i64,
    /// Slow log capacity.
    pub slowlog_max_len: u64,
    /// Latency monitor threshold in milliseconds (0 disables).
    pub latency_monitor_threshold: u64,
    /// Milliseconds a script runs before other clients get BUSY.
    pub busy_reply_threshold: u64,
    /// Most keys the client tracking table holds (0: no bound).
    pub tracking_table_max_keys: u64,
    /// Most leases outstanding on the node.
    pub lease_max_count: u64,
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
    /// CLUSTER SLOTS lists each range's replica copies after its primary.
    pub cluster_announce_replicas: bool,
    /// `cluster-keyless-scope cluster`: in proxy mode, a client's DBSIZE,
    /// KEYS, SCAN, RANDOMKEY, FLUSHALL and FLUSHDB answer for the whole
    /// cluster (`node`, false: for the node's own slots).
    pub cluster_keyless_wide: bool,
    /// Handoff bandwidth bound in bytes per second.
    pub handoff_rate: u64,
    /// Nodes of a local cluster to start in this process (0: a single node).
    pub local_cluster: usize,
    /// Shared secret of the cluster (never shown by CONFIG GET).
    pub cluster_secret: Option<String>,
    /// File the secret is read from, if any.
    pub cluster_secret_file: Option<PathBuf>,
    /// Name of the cluster.
    pub cluster_name: String,
    /// Largest clock skew between nodes, in milliseconds.
    pub cluster_max_clock_skew_ms: u64,
    /// Largest sparse HyperLogLog, in bytes, before it turns dense.
    pub hll_sparse_max_bytes: u64,
    /// The keyspace event classes published (`notify-keyspace-events`).
    pub notify_keyspace_events: Classes,
    /// TLS on the client port and peer links.
    pub tls: TlsSettings,
}

impl Default for Config {
    /// Every parameter at its table default.
    fn default() -> Self {
        let mut config = Config {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            maxmemory: 0,
            maxmemory_policy: EvictionPolicy::NoEviction,
            maxmemory_samples: 0,
            encodings: EncodingLimits::default(),
            databases: 0,
            requirepass: None,
            aclfile: None,
            users: Vec::new(),
            acllog_max_len: 0,
            acl_pubsub_all: false,
            maxclients: 0,
            timeout: 0,
            threads: 0,
            idle_poll_us: 0,
            disable_thp: false,
            protected_mode: false,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            client_output_buffer_limit: OutputLimits::default(),
            slowlog_log_slower_than: 0,
            slowlog_max_len: 0,
            latency_monitor_threshold: 0,
            busy_reply_threshold: 0,
            tracking_table_max_keys: 0,
            lease_max_count: 0,
            metrics_port: None,
            config_file: None,
            cluster_enabled: false,
            cluster_seeds: Vec::new(),
            cluster_port: None,
            cluster_announce_ip: None,
            node_name: None,
            weight: 0,
            vnodes: 0,
            replicas: 0,
            write_quorum: 0,
            failure_timeout_ms: 0,
            cluster_redirect: false,
            cluster_announce_replicas: false,
            cluster_keyless_wide: false,
            handoff_rate: 0,
            local_cluster: 0,
            cluster_secret: None,
            cluster_secret_file: None,
            cluster_name: String::new(),
            cluster_max_clock_skew_ms: 0,
            hll_sparse_max_bytes: 0,
            notify_keyspace_events: Classes::NONE,
            tls: TlsSettings::default(),
        };
        for param in PARAMS {
            // The defaults are checked by the unit test
            // `every_default_is_valid`; a bad one would show there.
            let _ = config.set_param(param, param.default);
        }
        config
    }
}

/// Why a parameter could not be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError {
    /// No parameter has that name.
    Unknown,
    /// It cannot change at run time.
    Immutable,
    /// The value is wrong; the text says why, in Redis's words.
    Invalid(String),
}

impl Config {
    /// Sets `param` from its textual `value` (no scope check).
    ///
    /// # Errors
    /// The value does not fit the parameter's kind or setter.
    pub fn set_param(&mut self, param: &Param, value: &str) -> Result<(), String> {
        let checked = param.kind.parse(value)?;
        (param.set)(self, checked)
    }

    /// Sets a parameter by name, as the config file does (anything but
    /// command-line-only parameters).
    ///
    /// # Errors
    /// An unknown name or a bad value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SetError> {
        let param = params::find(name)
            .filter(|p| p.scope != Scope::CommandLine)
            .ok_or(SetError::Unknown)?;
        self.set_param(param, value).map_err(SetError::Invalid)
    }

    /// Sets a parameter at run time (CONFIG SET): start-up parameters are
    /// refused as immutable.
    ///
    /// # Errors
    /// An unknown name, an immutable parameter, or a bad value.
    pub fn set_at_runtime(&mut self, name: &str, value: &str) -> Result<&'static Param, SetError> {
        let param = params::find(name)
            .filter(|p| p.scope != Scope::CommandLine)
            .ok_or(SetError::Unknown)?;
        if param.scope != Scope::Runtime {
            return Err(SetError::Immutable);
        }
        self.set_param(param, value).map_err(SetError::Invalid)?;
        Ok(param)
    }

    /// Every parameter CONFIG GET shows, with its value (secrets are
    /// never shown).
    pub fn values(&self) -> impl Iterator<Item = (&'static Param, String)> + '_ {
        PARAMS
            .iter()
            .filter(|p| p.scope != Scope::CommandLine && !p.hidden)
            .map(|p| (p, (p.get)(self)))
    }

    /// Reads the secret from `cluster_secret_file` (its first line,
    /// trimmed), when one is given.
    ///
    /// # Errors
    /// Both a secret and a file given, or the file unreadable or empty.
    pub fn read_cluster_secret_file(&mut self) -> Result<(), String> {
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

    /// Applies a Redis-style config file: one `name value` per line, `#`
    /// comments, the same names as the flags.
    ///
    /// # Errors
    /// An unknown name or a bad value, naming the line.
    pub fn apply_file(&mut self, text: &str) -> Result<(), String> {
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            // Users, as Redis: one `user <name> <rules...>` line each.
            if name.eq_ignore_ascii_case("user") {
                self.users.push(value.trim().to_string());
                continue;
            }
            let value = value.trim().trim_matches('"');
            self.set(name, value).map_err(|e| {
                let why = match e {
                    SetError::Unknown => format!("unknown option '{name}'"),
                    SetError::Immutable => format!("'{name}' cannot be set here"),
                    SetError::Invalid(why) => format!("'{name}': {why}"),
                };
                format!("config file line {}: {why}", number + 1)
            })?;
        }
        Ok(())
    }

    /// True if a client at `peer` must be refused by protected mode: a node
    /// bound to a public address with no password serves only loopback.
    pub fn protected_mode_refuses(&self, peer: IpAddr) -> bool {
        self.protected_mode
            && self.requirepass.is_none()
            && !self.bind.is_loopback()
            && !peer.is_loopback()
    }

    /// Checks values that are valid one by one but not together.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), String> {
        if self.write_quorum > self.replicas + 1 {
            return Err(format!(
                "write-quorum must be between 1 and replicas + 1 ({})",
                self.replicas + 1
            ));
        }
        if self.cluster_redirect && self.cluster_keyless_wide {
            // A Redis Cluster client sends these to every primary and sums
            // the answers: a node answering for all would count keys thrice.
            return Err(
                "cluster-keyless-scope cluster needs proxy mode: with cluster-redirect a node answers for its own slots, as Redis Cluster"
                    .into(),
            );
        }
        if self.local_cluster > 0
            && (self.port == 0 || usize::from(self.port) + self.local_cluster + 10_000 > 65_536)
        {
            return Err(
                "local-cluster needs a fixed --port with room for its nodes and their gossip ports (port + 10000)"
                    .into(),
            );
        }
        if self.tls.cluster && (self.tls.port.is_none() || self.tls.auth_clients == AuthClients::No)
        {
            return Err(
                "tls-cluster needs a tls-port and tls-auth-clients yes or optional: peers dial the TLS port and present their certificates"
                    .into(),
            );
        }
        self.check_local_tls()?;
        self.check_users()
    }

    /// A local cluster's TLS ports run from `tls-port` beside its plain
    /// ports, without overlapping them, and (with `tls-cluster`, where
    /// peers reach the nodes at them) with room for gossip 10000 above.
    fn check_local_tls(&self) -> Result<(), String> {
        let (count, Some(tls_port)) = (self.local_cluster, self.tls.port) else {
            return Ok(());
        };
        if count == 0 {
            return Ok(());
        }
        let (plain, tls) = (usize::from(self.port), usize::from(tls_port));
        let gossip = if self.tls.cluster { 10_000 } else { 0 };
        if tls + count + gossip > 65_536 || (tls < plain + count && plain < tls + count) {
            return Err(format!(
                "local-cluster with TLS needs a --tls-port whose {count} ports miss the plain ones and leave room for gossip (tls-port + 10000 with tls-cluster)"
            ));
        }
        Ok(())
    }

    /// Users come from `user` lines or the ACL file, not both (as Redis);
    /// the ACL module's `initial_users` reads them.
    fn check_users(&self) -> Result<(), String> {
        if !self.users.is_empty() && self.aclfile.is_some() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
        }
        Ok(())
    }
}

/// True if the value of the parameter called `name` must never be shown in
/// SLOWLOG or logs (passwords and secrets).
pub fn is_sensitive(name: &[u8]) -> bool {
    std::str::from_utf8(name)
        .ok()
        .and_then(params::find)
        .is_some_and(|p| p.sensitive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, StartError> {
        from_args(std::iter::once("ringcache-server").chain(args.iter().copied()))
    }

    #[test]
    fn cluster_wide_keyless_answers_need_proxy_mode() {
        let wide = parse(&[
            "--cluster-enabled",
            "yes",
            "--cluster-keyless-scope",
            "cluster",
        ]);
        assert!(wide.unwrap().cluster_keyless_wide);
        let both = [
            "--cluster-keyless-scope",
            "cluster",
            "--cluster-redirect",
            "yes",
        ];
        assert!(parse(&both).is_err());
        let node = parse(&[
            "--cluster-keyless-scope",
            "node",
            "--cluster-redirect",
            "yes",
        ]);
        assert!(!node.unwrap().cluster_keyless_wide);
    }

    #[test]
    fn every_default_is_valid() {
        let mut config = Config::default();
        for param in PARAMS {
            assert!(
                config.set_param(param, param.default).is_ok(),
                "default of {} does not parse",
                param.name
            );
        }
        config.validate().unwrap();
        assert_eq!(config.port, 6379);
        // The ring's own default, for users of the ring outside a node.
        assert_eq!(config.vnodes, ringcache_proto::DEFAULT_VNODES);
        assert_eq!(config.maxmemory_policy, EvictionPolicy::AllKeysLru);
        assert!(config.threads >= 1);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = PARAMS
            .iter()
            .flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()))
            .collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
    }

    #[test]
    fn local_cluster_needs_room_for_its_ports() {
        let config = parse(&["--local-cluster", "3"]).unwrap();
        assert_eq!(
            (config.port, config.cluster_enabled),
            (LOCAL_CLUSTER_PORT, true)
        );
        assert!(parse(&["--local-cluster", "3", "--port", "0"]).is_err());
        assert!(parse(&["--local-cluster", "3", "--port", "55535"]).is_err());
        // TLS ports beside the plain ones, gossip room above them with
        // tls-cluster.
        let local_tls = |tls: &str, cluster: &str| {
            let flags = ["--local-cluster", "3", "--port", "7000", "--tls-port", tls];
            parse(&[&flags[..], &["--tls-cluster", cluster]].concat())
        };
        assert!(local_tls("7100", "no").is_ok());
        assert!(local_tls("7002", "no").is_err());
        assert!(local_tls("6998", "no").is_err());
        assert!(local_tls("60000", "no").is_ok());
        assert!(local_tls("60000", "yes").is_err());
        assert!(parse(&["--replicas", "1", "--write-quorum", "3"]).is_err());
        assert!(
            parse(&["--cluster-seeds", "127.0.0.1:17000"])
                .unwrap()
                .cluster_enabled
        );
    }

    #[test]
    fn switches_take_an_optional_yes_or_no() {
        let config = parse(&["--cluster-redirect", "--port", "7000"]).unwrap();
        assert!(config.cluster_redirect);
        assert_eq!(config.port, 7000);
        assert!(!parse(&["--protected-mode", "no"]).unwrap().protected_mode);
        assert!(parse(&["--protected-mode", "maybe"]).is_err());
        assert_eq!(parse(&["--threads", "3"]).unwrap().threads, 3);
    }

    #[test]
    fn flags_override_the_file() {
        let path =
            std::env::temp_dir().join(format!("ringcache-config-{}.conf", std::process::id()));
        std::fs::write(
            &path,
            "# comment\nport 7000\nmaxmemory 10mb\nmaxmemory-policy volatile-ttl\nclient-output-buffer-limit normal 1mb 1mb 5\n",
        )
        .unwrap();
        let config = parse(&["--port", "7001", "--config", path.to_str().unwrap()]).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(config.port, 7001);
        assert_eq!(config.maxmemory, 10 << 20);
        assert_eq!(config.maxmemory_policy, EvictionPolicy::VolatileTtl);
        assert_eq!(config.client_output_buffer_limit.normal.hard, 1 << 20);
        assert!(Config::default()
            .apply_file("nosuchkey 1")
            .unwrap_err()
            .contains("line 1"));
        assert!(Config::default().apply_file("local-cluster 3").is_err());
    }

    #[test]
    fn cluster_secret_comes_from_a_flag_or_the_first_line_of_a_file() {
        let invalid = |r: Result<Config, StartError>| match r {
            Err(StartError::Invalid(e)) => e,
            other => panic!("expected an invalid start, got {other:?}"),
        };
        let path = std::env::temp_dir().join(format!("ringcache-secret-{}", std::process::id()));
        let file = path.to_str().unwrap();
        std::fs::write(&path, "  s3cret \nsecond line\n").unwrap();
        let config = parse(&["--cluster-secret-file", file]).unwrap();
        assert_eq!(config.cluster_secret.as_deref(), Some("s3cret"));
        let both = parse(&["--cluster-secret-file", file, "--cluster-secret", "x"]);
        assert!(invalid(both).contains("both"));
        std::fs::write(&path, "\n").unwrap();
        assert!(invalid(parse(&["--cluster-secret-file", file])).contains("empty"));
        std::fs::remove_file(&path).unwrap();
        assert!(invalid(parse(&["--cluster-secret-file", file])).contains("cannot read"));
        let config = parse(&["--cluster-secret", "x", "--cluster-max-clock-skew", "5s"]).unwrap();
        assert_eq!(config.cluster_secret.as_deref(), Some("x"));
        assert_eq!(config.cluster_max_clock_skew_ms, 5000);
        assert_eq!(config.cluster_name, "ringcache");
        assert!(parse(&["--cluster-max-clock-skew", "10ms"]).is_err());
        assert!(parse(&["--cluster-name", ""]).is_err());
        let mut from_file = Config::default();
        from_file
            .apply_file("cluster-name blue\ncluster-secret abc\ncluster-max-clock-skew 2s\n")
            .unwrap();
        assert_eq!(from_file.cluster_name, "blue");
        assert_eq!(from_file.cluster_secret.as_deref(), Some("abc"));
        assert_eq!(from_file.cluster_max_clock_skew_ms, 2000);
        let shown: Vec<String> = from_file
            .values()
            .map(|(p, _)| p.name.to_string())
            .collect();
        assert!(!shown.iter().any(|n| n == "cluster-secret"));
        assert!(is_sensitive(b"cluster-secret"));
    }

    #[test]
    fn protected_mode_only_refuses_remote_clients_of_an_open_public_node() {
        let mut config = Config::default();
        let remote: IpAddr = "192.0.2.1".parse().unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(!config.protected_mode_refuses(remote), "loopback bind");
        config.bind = "0.0.0.0".parse().unwrap();
        assert!(config.protected_mode_refuses(remote));
        assert!(!config.protected_mode_refuses(local));
        config.requirepass = Some("secret".into());
        assert!(!config.protected_mode_refuses(remote));
        config.requirepass = None;
        config.protected_mode = false;
        assert!(!config.protected_mode_refuses(remote));
    }

    #[test]
    fn runtime_changes_follow_the_table() {
        let mut config = Config::default();
        let mut refused = |name: &str, value: &str| config.set_at_runtime(name, value).err();
        assert_eq!(refused("port", "1"), Some(SetError::Immutable));
        assert_eq!(refused("weight", "2"), Some(SetError::Immutable));
        assert_eq!(refused("nosuch", "2"), Some(SetError::Unknown));
        assert_eq!(
            refused("client-query-buffer-limit", "0"),
            Some(SetError::Invalid(
                "argument must be between 1048576 and 9223372036854775807 inclusive".into()
            ))
        );
        assert!(config.set_at_runtime("MAXMEMORY", "1mb").is_ok());
        assert_eq!(config.maxmemory, 1 << 20);
        assert!(is_sensitive(b"requirepass"));
        assert!(!is_sensitive(b"maxmemory"));
    }
}

#[cfg(test)]
mod readme {
    use super::*;

    /// The README's option tables name every parameter, so the table and
    /// the documentation cannot drift apart.
    #[test]
    fn the_readme_lists_every_parameter() {
        let readme = include_str!("../../../README.md");
        for param in PARAMS {
            assert!(
                readme.contains(&format!("`--{}`", param.name)),
                "README.md does not document --{}",
                param.name
            );
        }
    }
}
