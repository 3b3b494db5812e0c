//! The table of configuration parameters: the one place that knows each
//! option's name, value kind, default, documentation, whether CONFIG SET
//! may change it, and how to read and write it in [`Config`]. The command
//! line, the config file, CONFIG GET and CONFIG SET are all driven by it.

use super::values::{Kind, Value};
use super::Config;
use crate::notify::Classes;
use crate::store::EvictionPolicy;
use crate::tls::AuthClients;

/// When a parameter may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Flag, config file, and CONFIG SET at run time.
    Runtime,
    /// Flag and config file; CONFIG SET refuses it as immutable.
    Startup,
    /// Flag only (how to start, not what the node is): not in the config
    /// file or CONFIG GET.
    CommandLine,
}

/// What a change made at run time must reach besides the [`Config`] that
/// connections read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing else.
    None,
    /// The store's memory bound, policy or sampling.
    Memory,
    /// The slow log's threshold or length.
    SlowLog,
    /// The latency monitor's threshold.
    Latency,
    /// The collection encoding thresholds.
    Encoding,
    /// The client tracking table's bound.
    Tracking,
    /// The lease table's bound.
    Leases,
    /// The keyspace event classes.
    Notify,
    /// The TLS configuration: its files are loaded again (a change that
    /// does not load is refused).
    Tls,
    /// The TLS port: bound anew (a port that cannot be bound is refused).
    TlsPort,
    /// The `default` user's password.
    Password,
    /// The worker's polling budget before it sleeps.
    IdlePoll,
    /// ACL LOG's length and the channels of users created from now on.
    Acl,
}

/// Sets a parameter's field from a checked value.
pub type Setter = fn(&mut Config, Value<'_>) -> Result<(), String>;
/// Reads a parameter's field as CONFIG GET shows it.
pub type Getter = fn(&Config) -> String;

/// One configuration parameter.
#[derive(Debug)]
pub struct Param {
    /// Redis's name where Redis has the option (lower case, `-`).
    pub name: &'static str,
    /// Other names accepted for it (and shown by CONFIG GET when asked).
    pub aliases: &'static [&'static str],
    /// The value it takes.
    pub kind: Kind,
    /// Its value when nobody sets it, as it would be written.
    pub default: &'static str,
    /// When it may be given.
    pub scope: Scope,
    /// What a run-time change must reach.
    pub effect: Effect,
    /// Redacted in SLOWLOG and logs when set (passwords, secrets).
    pub sensitive: bool,
    /// Never shown by CONFIG GET (secrets that must not leave the node).
    pub hidden: bool,
    /// One line for `--help` and the README.
    pub doc: &'static str,
    /// Writes it.
    pub set: Setter,
    /// Reads it.
    pub get: Getter,
}

const fn param(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    scope: Scope,
    doc: &'static str,
    set: Setter,
    get: Getter,
) -> Param {
    Param {
        name,
        aliases: &[],
        kind,
        default,
        scope,
        effect: Effect::None,
        sensitive: false,
        hidden: false,
        doc,
        set,
        get,
    }
}

impl Param {
    const fn effect(mut self, effect: Effect) -> Param {
        self.effect = effect;
        self
    }

    const fn aliases(mut self, aliases: &'static [&'static str]) -> Param {
        self.aliases = aliases;
        self
    }

    const fn sensitive(mut self) -> Param {
        self.sensitive = true;
        self
    }

    const fn secret(mut self) -> Param {
        self.sensitive = true;
        self.hidden = true;
        self
    }

    /// True if `name` (any case, `_` for `-`) names this parameter.
    pub fn is_named(&self, name: &str) -> bool {
        let same = |candidate: &str| {
            candidate.len() == name.len()
                && candidate
                    .bytes()
                    .zip(name.bytes())
                    .all(|(a, b)| a == b.to_ascii_lowercase() || (a == b'-' && b == b'_'))
        };
        same(self.name) || self.aliases.iter().any(|a| same(a))
    }
}

/// Most databases a node may have: each costs its shards' bookkeeping
/// (about 16 KiB) even when empty.
pub const MAX_DATABASES: i64 = 4096;

/// Hard ceiling on open connections, whatever maxclients says.
pub const MAX_CONNECTIONS: i64 = 1 << 20;

const SIGNED: Kind = Kind::Int {
    min: i64::MIN,
    max: i64::MAX,
};
const NATURAL: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
const PORT: Kind = Kind::Int { min: 0, max: 65535 };
const BYTES: Kind = Kind::Memory {
    min: 0,
    max: i64::MAX as u64,
};
const AT_LEAST_1MB: Kind = Kind::Memory {
    min: 1 << 20,
    max: i64::MAX as u64,
};

fn text(value: Option<&impl ToString>) -> String {
    value.map(ToString::to_string).unwrap_or_default()
}

fn optional(value: Value<'_>) -> Option<String> {
    let t = value.text().trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn parsed<T: std::str::FromStr>(value: Value<'_>, what: &str) -> Result<Option<T>, String> {
    optional(value)
        .map(|t| t.parse().map_err(|_| format!("invalid {what} '{t}'")))
        .transpose()
}

fn path(value: Option<&std::path::PathBuf>) -> String {
    value.map(|p| p.display().to_string()).unwrap_or_default()
}

fn yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_string()
}

use Scope::{CommandLine, Runtime, Startup};

/// Every parameter.
#[rustfmt::skip]
pub static PARAMS: &[Param] = &[
    param("bind", Kind::Text, "127.0.0.1", Startup, "address to listen on",
        |c, v| { c.bind = parsed(v, "bind address")?.ok_or("bind needs an address")?; Ok(()) },
        |c| c.bind.to_string()),
    param("port", PORT, "6379", Startup, "RESP port; 0 takes a free port and logs it",
        |c, v| { c.port = v.int() as u16; Ok(()) },
        |c| c.port.to_string()),
    param("maxmemory", BYTES, "0", Runtime, "memory bound (100mb, 2gb; 0 = none), compared with the allocator's allocated bytes",
        |c, v| { c.maxmemory = v.unsigned(); Ok(()) },
        |c| c.maxmemory.to_string()).effect(Effect::Memory),
    param("maxmemory-policy", Kind::OneOf(EvictionPolicy::NAMES), "allkeys-lru", Runtime, "what to evict at the memory bound",
        |c, v| { c.maxmemory_policy = EvictionPolicy::from_name(v.text()).ok_or("unknown policy")?; Ok(()) },
        |c| c.maxmemory_policy.name().to_string()).effect(Effect::Memory),
    param("maxmemory-samples", Kind::Int { min: 1, max: 64 }, "5", Runtime, "keys sampled per eviction",
        |c, v| { c.maxmemory_samples = v.int() as usize; Ok(()) },
        |c| c.maxmemory_samples.to_string()).effect(Effect::Memory),
    param("requirepass", Kind::Text, "", Runtime, "password required through AUTH / HELLO ... AUTH (empty: none)",
        |c, v| { c.requirepass = (!v.text().is_empty()).then(|| v.text().to_string()); Ok(()) },
        |c| c.requirepass.clone().unwrap_or_default()).sensitive().effect(Effect::Password),
    param("aclfile", Kind::Text, "", Startup, "ACL file of users (`user <name> <rules...>` lines): loaded at start, ACL LOAD, ACL SAVE",
        |c, v| { c.aclfile = (!v.text().is_empty()).then(|| v.text().into()); Ok(()) },
        |c| c.aclfile.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
    param("acllog-max-len", NATURAL, "128", Runtime, "ACL LOG entries kept (a lower bound trims the log at its next entry)",
        |c, v| { c.acllog_max_len = v.unsigned(); Ok(()) },
        |c| c.acllog_max_len.to_string()).effect(Effect::Acl),
    param("acl-pubsub-default", Kind::OneOf(&["allchannels", "resetchannels"]), "resetchannels", Runtime, "the channels of users created from now on: allchannels or resetchannels (none)",
        |c, v| { c.acl_pubsub_all = v.text().eq_ignore_ascii_case("allchannels"); Ok(()) },
        |c| if c.acl_pubsub_all { "allchannels" } else { "resetchannels" }.to_string()).effect(Effect::Acl),
    param("maxclients", Kind::Int { min: 1, max: MAX_CONNECTIONS }, "10000", Runtime, "connection limit",
        |c, v| { c.maxclients = v.int() as usize; Ok(()) },
        |c| c.maxclients.to_string()),
    param("timeout", Kind::Int { min: 0, max: i32::MAX as i64 }, "0", Runtime, "close clients idle this many seconds (0 = never)",
        |c, v| { c.timeout = v.unsigned(); Ok(()) },
        |c| c.timeout.to_string()),
    param("io-threads", Kind::Int { min: 0, max: 1024 }, "0", Startup, "worker threads (0 = half the cores, at least 1)",
        |c, v| { c.threads = match v.int() { 0 => default_threads(), n => n as usize }; Ok(()) },
        |c| c.threads.to_string()).aliases(&["threads"]),
    param("idle-poll-us", Kind::Int { min: 0, max: 10_000 }, "50", Runtime, "with one worker thread, poll this many microseconds for new requests before sleeping, while requests come that close together (0 = sleep at once)",
        |c, v| { c.idle_poll_us = v.unsigned(); Ok(()) },
        |c| c.idle_poll_us.to_string()).effect(Effect::IdlePoll),
    param("disable-thp", Kind::Bool, "no", Startup, "refuse transparent huge pages for the process (no: the allocator asks for them, meant to spare lookups TLB misses, a small gain as measured; yes: 4 KiB pages, a smaller resident set for a small store)",
        |c, v| { c.disable_thp = v.flag(); Ok(()) },
        |c| yes_no(c.disable_thp)),
    param("protected-mode", Kind::Bool, "yes", Runtime, "bound to a non-loopback address without a password: refuse non-loopback clients",
        |c, v| { c.protected_mode = v.flag(); Ok(()) },
        |c| yes_no(c.protected_mode)),
    param("proto-max-bulk-len", Kind::Memory { min: 1024, max: i64::MAX as u64 }, "512mb", Runtime, "largest bulk string in a request",
        |c, v| { c.proto_max_bulk_len = v.unsigned(); Ok(()) },
        |c| c.proto_max_bulk_len.to_string()),
    param("client-query-buffer-limit", AT_LEAST_1MB, "1gb", Runtime, "largest unparsed input a client may hold, and largest queue of an open MULTI",
        |c, v| { c.client_query_buffer_limit = v.unsigned(); Ok(()) },
        |c| c.client_query_buffer_limit.to_string()),
    param("client-output-buffer-limit", Kind::Text, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", Runtime,
        "per client class: hard limit, soft limit, soft seconds of replies waiting to be written (0 = none)",
        |c, v| c.client_output_buffer_limit.update(v.text()),
        |c| c.client_output_buffer_limit.to_string()),
    param("slowlog-log-slower-than", SIGNED, "10000", Runtime, "log commands slower than this many microseconds (negative: never)",
        |c, v| { c.slowlog_log_slower_than = v.int(); Ok(()) },
        |c| c.slowlog_log_slower_than.to_string()).effect(Effect::SlowLog),
    param("slowlog-max-len", NATURAL, "128", Runtime, "slow log entries kept",
        |c, v| { c.slowlog_max_len = v.unsigned(); Ok(()) },
        |c| c.slowlog_max_len.to_string()).effect(Effect::SlowLog),
    param("hash-max-listpack-entries", NATURAL, "128", Runtime, "most fields a hash keeps in its compact encoding",
        |c, v| { c.encodings.hash_max_listpack_entries = v.int(); Ok(()) },
        |c| c.encodings.hash_max_listpack_entries.to_string()).effect(Effect::Encoding).aliases(&["hash-max-ziplist-entries"]),
    param("hash-max-listpack-value", NATURAL, "64", Runtime, "longest field or value (bytes) a compact hash holds",
        |c, v| { c.encodings.hash_max_listpack_value = v.int(); Ok(()) },
        |c| c.encodings.hash_max_listpack_value.to_string()).effect(Effect::Encoding).aliases(&["hash-max-ziplist-value"]),
    param("list-max-listpack-size", SIGNED, "-2", Runtime, "size of one compact list node: elements if positive, -1..-5 for 4..64 KiB",
        |c, v| { c.encodings.list_max_listpack_size = v.int(); Ok(()) },
        |c| c.encodings.list_max_listpack_size.to_string()).effect(Effect::Encoding).aliases(&["list-max-ziplist-size"]),
    param("set-max-intset-entries", NATURAL, "512", Runtime, "most members a set of integers keeps as an intset",
        |c, v| { c.encodings.set_max_intset_entries = v.int(); Ok(()) },
        |c| c.encodings.set_max_intset_entries.to_string()).effect(Effect::Encoding),
    param("set-max-listpack-entries", NATURAL, "128", Runtime, "most members a set keeps in its compact encoding",
        |c, v| { c.encodings.set_max_listpack_entries = v.int(); Ok(()) },
        |c| c.encodings.set_max_listpack_entries.to_string()).effect(Effect::Encoding),
    param("set-max-listpack-value", NATURAL, "64", Runtime, "longest member (bytes) a compact set holds",
        |c, v| { c.encodings.set_max_listpack_value = v.int(); Ok(()) },
        |c| c.encodings.set_max_listpack_value.to_string()).effect(Effect::Encoding),
    param("zset-max-listpack-entries", NATURAL, "128", Runtime, "most members a sorted set keeps in its compact encoding",
        |c, v| { c.encodings.zset_max_listpack_entries = v.int(); Ok(()) },
        |c| c.encodings.zset_max_listpack_entries.to_string()).effect(Effect::Encoding).aliases(&["zset-max-ziplist-entries"]),
    param("zset-max-listpack-value", NATURAL, "64", Runtime, "longest member (bytes) a compact sorted set holds",
        |c, v| { c.encodings.zset_max_listpack_value = v.int(); Ok(()) },
        |c| c.encodings.zset_max_listpack_value.to_string()).effect(Effect::Encoding).aliases(&["zset-max-ziplist-value"]),
    param("latency-monitor-threshold", NATURAL, "0", Runtime, "record events slower than this many milliseconds (0: off)",
        |c, v| { c.latency_monitor_threshold = v.unsigned(); Ok(()) },
        |c| c.latency_monitor_threshold.to_string()).effect(Effect::Latency),
    param("tracking-table-max-keys", NATURAL, "1000000", Runtime, "most keys the client tracking table remembers (0: no bound); past it, keys are invalidated at random",
        |c, v| { c.tracking_table_max_keys = v.unsigned(); Ok(()) },
        |c| c.tracking_table_max_keys.to_string()).effect(Effect::Tracking),
    param("lease-max-count", Kind::Int { min: 1, max: 1 << 24 }, "65536", Runtime, "most leases (RC.LEASE.GET) outstanding on a node; past it a miss gets no lease (nil: load without one)",
        |c, v| { c.lease_max_count = v.unsigned(); Ok(()) },
        |c| c.lease_max_count.to_string()).effect(Effect::Leases),
    param("busy-reply-threshold", NATURAL, "5000", Runtime, "milliseconds a script runs before other clients get -BUSY and SCRIPT KILL or FUNCTION KILL may stop it",
        |c, v| { c.busy_reply_threshold = v.unsigned(); Ok(()) },
        |c| c.busy_reply_threshold.to_string()).aliases(&["lua-time-limit"]),
    param("hll-sparse-max-bytes", BYTES, "3000", Runtime, "largest sparse HyperLogLog in bytes; past it (or a register past 32) it turns dense",
        |c, v| { c.hll_sparse_max_bytes = v.unsigned(); Ok(()) },
        |c| c.hll_sparse_max_bytes.to_string()),
    param("notify-keyspace-events", Kind::Text, "", Runtime, "keyspace events published through Pub/Sub: Redis's class letters (K E g $ l s h z x e t m d n A; empty: off)",
        |c, v| { c.notify_keyspace_events = Classes::parse(v.text())?; Ok(()) },
        |c| c.notify_keyspace_events.to_string()).effect(Effect::Notify),
    param("metrics-port", Kind::Text, "", Startup, "serve Prometheus metrics on GET /metrics at this port (0: a free port)",
        |c, v| { c.metrics_port = parsed(v, "port")?; Ok(()) },
        |c| text(c.metrics_port.as_ref())),
    // The node keeps nothing on disk; clients (redis-benchmark among them)
    // read these to learn that, and Redis configurations that say so load.
    param("save", Kind::OneOf(&[""]), "", Runtime, "snapshots: none (the node keeps nothing on disk)",
        |_, _| Ok(()), |_| String::new()),
    param("appendonly", Kind::OneOf(&["no"]), "no", Runtime, "append-only file: no (the node keeps nothing on disk)",
        |_, _| Ok(()), |_| "no".to_string()),
    param("databases", Kind::Int { min: 1, max: MAX_DATABASES }, "16", Startup, "number of databases (SELECT 0 .. n-1; a cluster node serves database 0 only)",
        |c, v| { c.databases = v.int() as usize; Ok(()) },
        |c| c.databases.to_string()),
    // The cluster.
    param("cluster-enabled", Kind::Bool, "no", Startup, "run as a cluster node even without seeds (the first node of a cluster)",
        |c, v| { c.cluster_enabled = v.flag(); Ok(()) },
        |c| yes_no(c.cluster_enabled)),
    param("cluster-seeds", Kind::Text, "", Startup, "gossip addresses (host:port, comma-separated) to join through; implies cluster mode",
        |c, v| {
            c.cluster_seeds = v.text().split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
            c.cluster_enabled |= !c.cluster_seeds.is_empty();
            Ok(())
        },
        |c| c.cluster_seeds.join(",")),
    param("cluster-port", Kind::Text, "", Startup, "UDP gossip port (default: the RESP port + 10000; 0: a free port)",
        |c, v| { c.cluster_port = parsed(v, "port")?; Ok(()) },
        |c| text(c.cluster_port.as_ref())),
    param("cluster-announce-ip", Kind::Text, "", Startup, "address peers and clients reach this node at (default: the bind address, or 127.0.0.1 when bound to all)",
        |c, v| { c.cluster_announce_ip = parsed(v, "address")?; Ok(()) },
        |c| text(c.cluster_announce_ip.as_ref())),
    param("node-name", Kind::Text, "", Startup, "stable node name: a restarted node with the same name gets its slots back (default: the announced host:port)",
        |c, v| { c.node_name = optional(v); Ok(()) },
        |c| c.node_name.clone().unwrap_or_default()),
    param("weight", Kind::Int { min: 1, max: ringcache_proto::ring::MAX_WEIGHT as i64 }, "1", Startup, "this node's share of the ring relative to others",
        |c, v| { c.weight = v.int() as u32; Ok(()) },
        |c| c.weight.to_string()),
    param("vnodes", Kind::Int { min: 1, max: 4096 }, "256", Startup, "virtual nodes per unit of weight",
        |c, v| { c.vnodes = v.int() as u32; Ok(()) },
        |c| c.vnodes.to_string()),
    param("replicas", Kind::Int { min: 0, max: 15 }, "1", Startup, "copies of each slot besides the primary",
        |c, v| { c.replicas = v.int() as usize; Ok(()) },
        |c| c.replicas.to_string()),
    param("write-quorum", Kind::Int { min: 1, max: 16 }, "1", Startup, "copies that must hold a write before it is acknowledged (1 = the primary alone)",
        |c, v| { c.write_quorum = v.int() as usize; Ok(()) },
        |c| c.write_quorum.to_string()),
    param("failure-timeout", Kind::Millis { min: 200 }, "3s", Startup, "how soon a silent node is declared dead (3s, 1500ms)",
        |c, v| { c.failure_timeout_ms = v.unsigned(); Ok(()) },
        |c| c.failure_timeout_ms.to_string()),
    param("cluster-redirect", Kind::Bool, "no", Startup, "answer -MOVED like Redis Cluster instead of forwarding to the owner",
        |c, v| { c.cluster_redirect = v.flag(); Ok(()) },
        |c| yes_no(c.cluster_redirect)),
    param("cluster-announce-replicas", Kind::Bool, "no", Runtime, "list each slot range's replica copies in CLUSTER SLOTS, for clients that read replicas by slot (redis-py then takes some nodes for replicas only)",
        |c, v| { c.cluster_announce_replicas = v.flag(); Ok(()) },
        |c| yes_no(c.cluster_announce_replicas)),
    param("cluster-keyless-scope", Kind::OneOf(&["node", "cluster"]), "node", Runtime, "what a client's DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHALL and FLUSHDB answer for: node (the slots it is primary for, as Redis Cluster; what cluster clients need) or cluster (the whole cluster, for plain clients; proxy mode only)",
        |c, v| { c.cluster_keyless_wide = v.text().eq_ignore_ascii_case("cluster"); Ok(()) },
        |c| if c.cluster_keyless_wide { "cluster" } else { "node" }.to_string()),
    param("handoff-rate", BYTES, "64mb", Startup, "bandwidth bound of slot handoffs, bytes per second",
        |c, v| { c.handoff_rate = v.unsigned(); Ok(()) },
        |c| c.handoff_rate.to_string()),
    param("cluster-secret", Kind::Text, "", Startup, "shared secret of the cluster: authenticates gossip and peer links (prefer --cluster-secret-file, which keeps it out of ps)",
        |c, v| { c.cluster_secret = optional(v); Ok(()) },
        |c| c.cluster_secret.clone().unwrap_or_default()).secret(),
    param("cluster-secret-file", Kind::Text, "", Startup, "file whose first line is the cluster secret",
        |c, v| { c.cluster_secret_file = optional(v).map(Into::into); Ok(()) },
        |c| c.cluster_secret_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()).secret(),
    param("cluster-name", Kind::Text, "ringcache", Startup, "name of the cluster: nodes of differently named clusters never join",
        |c, v| {
            let name = v.text().trim();
            if name.is_empty() || name.len() > 128 {
                return Err("cluster-name must be 1 to 128 bytes".into());
            }
            c.cluster_name = name.to_string();
            Ok(())
        },
        |c| c.cluster_name.clone()),
    param("cluster-max-clock-skew", Kind::Millis { min: 1000 }, "60s", Startup, "largest clock difference between nodes: versions further ahead are refused, and gossip older or newer than this is dropped",
        |c, v| { c.cluster_max_clock_skew_ms = v.unsigned(); Ok(()) },
        |c| c.cluster_max_clock_skew_ms.to_string()),
    // TLS (server/src/tls).
    param("tls-port", PORT, "0", Runtime, "TLS port for clients (0: none); with port 0 the node serves TLS only; CONFIG SET binds the new port and closes the old one",
        |c, v| { c.tls.port = (v.int() > 0).then_some(v.int() as u16); Ok(()) },
        |c| c.tls.port.unwrap_or(0).to_string()).effect(Effect::TlsPort),
    param("tls-cert-file", Kind::Text, "", Runtime, "the node's certificate chain (PEM), for its TLS port and peer links",
        |c, v| { c.tls.cert_file = optional(v).map(Into::into); Ok(()) },
        |c| path(c.tls.cert_file.as_ref())).effect(Effect::Tls),
    param("tls-key-file", Kind::Text, "", Runtime, "the private key of tls-cert-file (PEM)",
        |c, v| { c.tls.key_file = optional(v).map(Into::into); Ok(()) },
        |c| path(c.tls.key_file.as_ref())).effect(Effect::Tls),
    param("tls-key-file-pass", Kind::Text, "", Runtime, "passphrase of an encrypted PKCS#8 tls-key-file (BEGIN ENCRYPTED PRIVATE KEY)",
        |c, v| { c.tls.key_file_pass = (!v.text().is_empty()).then(|| v.text().to_string()); Ok(()) },
        |c| c.tls.key_file_pass.clone().unwrap_or_default()).sensitive().effect(Effect::Tls),
    param("tls-ca-cert-file", Kind::Text, "", Runtime, "CA certificates (PEM) that client and peer certificates must chain to",
        |c, v| { c.tls.ca_cert_file = optional(v).map(Into::into); Ok(()) },
        |c| path(c.tls.ca_cert_file.as_ref())).effect(Effect::Tls),
    param("tls-ca-cert-dir", Kind::Text, "", Runtime, "a directory of CA certificates (every PEM file in it)",
        |c, v| { c.tls.ca_cert_dir = optional(v).map(Into::into); Ok(()) },
        |c| path(c.tls.ca_cert_dir.as_ref())).effect(Effect::Tls),
    param("tls-auth-clients", Kind::OneOf(&["yes", "no", "optional"]), "yes", Runtime, "clients must present a certificate signed by the CA: yes, no, or optional (checked when given)",
        |c, v| { c.tls.auth_clients = AuthClients::parse(v.text())?; Ok(()) },
        |c| c.tls.auth_clients.word().to_string()).effect(Effect::Tls),
    param("tls-protocols", Kind::Text, "", Runtime, "TLS versions allowed, space-separated: TLSv1.2 TLSv1.3 (empty: both)",
        |c, v| { c.tls.protocols = v.text().trim().to_string(); Ok(()) },
        |c| c.tls.protocols.clone()).effect(Effect::Tls),
    param("tls-ciphersuites", Kind::Text, "", Runtime, "cipher suites allowed, colon-separated IANA names (TLS_AES_256_GCM_SHA384:...; empty: rustls's defaults)",
        |c, v| { c.tls.ciphersuites = v.text().trim().to_string(); Ok(()) },
        |c| c.tls.ciphersuites.clone()).effect(Effect::Tls),
    param("tls-prefer-server-ciphers", Kind::Bool, "no", Runtime, "the node's order of cipher suites wins over the client's",
        |c, v| { c.tls.prefer_server_ciphers = v.flag(); Ok(()) },
        |c| yes_no(c.tls.prefer_server_ciphers)).effect(Effect::Tls),
    param("tls-cluster", Kind::Bool, "no", Startup, "peer links between nodes over TLS, mutually authenticated with tls-cert-file (with the cluster secret's handshake on top)",
        |c, v| { c.tls.cluster = v.flag(); Ok(()) },
        |c| yes_no(c.tls.cluster)),
    // How to start, not what the node is.
    param("config", Kind::Text, "", CommandLine, "Redis-style config file (one 'name value' per line); flags override it",
        |c, v| { c.config_file = optional(v).map(Into::into); Ok(()) },
        |c| c.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
    param("local-cluster", Kind::Int { min: 0, max: 32 }, "0", CommandLine, "start N cluster nodes in this process on consecutive ports from --port (default 7000), to try a cluster locally",
        |c, v| { c.local_cluster = v.int() as usize; Ok(()) },
        |c| c.local_cluster.to_string()),
];

/// Half the cores, at least one: the kernel's network stack (and, when it
/// shares the machine, the load) needs the rest. On 2 cores with the load
/// generator beside the node, one worker served 1.15x the GETs of two at
/// pipeline 1 with a lower p99 (BENCHMARKS.md).
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// The parameter called `name` (any case; `_` for `-`; aliases).
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.is_named(name))
}
