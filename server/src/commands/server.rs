//! Server commands: INFO, CONFIG, TIME, MEMORY, OBJECT, SLOWLOG, SHUTDOWN,
//! DEBUG.

use std::fmt::Write as _;

use super::args::{glob_match, is, parse_i64, parse_usize, NOT_INTEGER, SYNTAX};
use super::connection::REDIS_COMPAT_VERSION;
use super::{After, Ctx};
use crate::config::Config;
use crate::protocol::Args;
use crate::state::NodeState;
use crate::stats::ServerStats;
use crate::store::{lfu_counter, lru_idle_ms, unix_us, Entry, ValueRef};

/// Formats bytes as Redis's `*_human` fields.
fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// Resident set size from /proc (Linux), in bytes.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

const SECTIONS: [&str; 8] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cluster",
    "keyspace",
];

/// The text of INFO for `sections` (empty = the default set).
pub fn info_text(node: &NodeState, sections: &[String]) -> String {
    let everything = sections.is_empty()
        || sections
            .iter()
            .any(|s| s == "all" || s == "everything" || s == "default");
    let wanted = |name: &str| everything || sections.iter().any(|s| s == name);
    let mut out = String::new();
    let config = node.config.read().clone();
    for section in SECTIONS.iter().filter(|s| wanted(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match *section {
            "server" => server_section(node, &config, &mut out),
            "clients" => {
                let _ = write!(
                    out,
                    "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n",
                    node.clients.len(),
                    config.maxclients
                );
            }
            "memory" => memory_section(node, &mut out),
            "persistence" => out.push_str("# Persistence\r\nloading:0\r\naof_enabled:0\r\n"),
            "stats" => stats_section(node, &mut out),
            "replication" => out.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"),
            "cluster" => {
                out.push_str("# Cluster\r\n");
                match node.cluster.get() {
                    None => out.push_str("cluster_enabled:0\r\n"),
                    Some(cluster) => {
                        let _ = write!(
                            out,
                            "cluster_enabled:1\r\ncluster_node_name:{}\r\ncluster_mode:{}\r\n",
                            cluster.settings.node_name,
                            if cluster.settings.redirect {
                                "redirect"
                            } else {
                                "proxy"
                            }
                        );
                        for (name, value) in cluster.figures() {
                            let _ = write!(out, "cluster_{name}:{value}\r\n");
                        }
                    }
                }
            }
            "keyspace" => {
                out.push_str("# Keyspace\r\n");
                let keys = node.store.len();
                if keys > 0 {
                    let _ = write!(
                        out,
                        "db0:keys={keys},expires={},avg_ttl=0\r\n",
                        node.store.volatile_len()
                    );
                }
            }
            _ => {}
        }
    }
    out
}

fn server_section(node: &NodeState, config: &Config, out: &mut String) {
    let uptime = node.started.elapsed().as_secs();
    let _ = write!(
        out,
        "# Server\r\nredis_version:{REDIS_COMPAT_VERSION}\r\nringcache_version:{}\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:{}\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nio_threads_active:{}\r\nexecutable:{}\r\nconfig_file:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        usize::BITS,
        std::process::id(),
        node.run_id,
        node.port(),
        uptime / 86_400,
        config.threads,
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
        config.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
    );
}

fn memory_section(node: &NodeState, out: &mut String) {
    let used = node.store.sample_memory();
    let rss = rss_bytes();
    let max = node.store.maxmemory();
    let _ = write!(
        out,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{}\r\nused_memory_peak_human:{}\r\nmaxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_allocator:jemalloc\r\n",
        human(used),
        human(rss),
        node.store.peak_memory(),
        human(node.store.peak_memory()),
        human(max),
        node.store.policy().name(),
        if used > 0 { rss as f64 / used as f64 } else { 0.0 },
    );
}

fn stats_section(node: &NodeState, out: &mut String) {
    let s = &node.stats;
    let keyspace = node.store.stats();
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\ntotal_error_replies:0\r\nprotocol_errors:{}\r\n",
        ServerStats::get(&s.connections_received),
        ServerStats::get(&s.commands_processed),
        s.instantaneous_ops(),
        ServerStats::get(&s.net_input_bytes),
        ServerStats::get(&s.net_output_bytes),
        ServerStats::get(&s.rejected_connections),
        keyspace.expired,
        keyspace.evicted,
        keyspace.hits,
        keyspace.misses,
        ServerStats::get(&s.protocol_errors),
    );
}

/// INFO [section ...]
pub fn info(ctx: &mut Ctx<'_>, args: Args<'_>) {
    // The batch's earlier commands are not yet in the shared counter; add
    // them so INFO agrees with what this client has sent. This INFO stays
    // pending: Redis counts a command after it ran, so INFO never includes
    // itself.
    let earlier = ctx.session.commands.saturating_sub(1);
    ServerStats::add(&ctx.node.stats.commands_processed, earlier);
    ctx.session.commands -= earlier;
    let sections: Vec<String> = args
        .iter_from(1)
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let text = info_text(ctx.node, &sections);
    ctx.reply.verbatim(text.as_bytes());
}

/// Every CONFIG parameter with its current value.
fn config_values(node: &NodeState) -> Vec<(&'static str, String)> {
    let c = node.config.read();
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    vec![
        ("bind", c.bind.to_string()),
        ("port", node.port().to_string()),
        ("maxmemory", node.store.maxmemory().to_string()),
        ("maxmemory-policy", node.store.policy().name().to_string()),
        ("maxmemory-samples", node.store.samples().to_string()),
        ("requirepass", c.requirepass.clone().unwrap_or_default()),
        ("maxclients", c.maxclients.to_string()),
        ("timeout", c.timeout.to_string()),
        ("io-threads", c.threads.to_string()),
        ("protected-mode", yes_no(c.protected_mode)),
        ("proto-max-bulk-len", c.proto_max_bulk_len.to_string()),
        (
            "client-query-buffer-limit",
            c.client_query_buffer_limit.to_string(),
        ),
        (
            "slowlog-log-slower-than",
            c.slowlog_log_slower_than.to_string(),
        ),
        ("slowlog-max-len", c.slowlog_max_len.to_string()),
        (
            "latency-monitor-threshold",
            c.latency_monitor_threshold.to_string(),
        ),
        // The cluster secret is never listed (README: Cluster security).
        ("cluster-name", c.cluster_name.clone()),
        (
            "cluster-max-clock-skew",
            c.cluster_max_clock_skew_ms.to_string(),
        ),
        // The node keeps no data on disk; clients (redis-benchmark among
        // them) read these to know that.
        ("save", String::new()),
        ("appendonly", "no".to_string()),
        ("databases", "1".to_string()),
    ]
}

const IMMUTABLE: [&str; 8] = [
    "bind",
    "port",
    "io-threads",
    "threads",
    "cluster-secret",
    "cluster-secret-file",
    "cluster-name",
    "cluster-max-clock-skew",
];

/// Applies CONFIG SET for every `(name, value)` pair, all or nothing as in
/// Redis 7: the pairs are checked against a copy of the configuration and
/// the node changes only when every one of them is valid, so a bad pair
/// late in the list cannot leave the earlier ones half applied.
fn config_set_all(node: &NodeState, pairs: &[(String, String)]) -> Result<(), String> {
    let mut config = node.config.write();
    let mut next = config.clone();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if pairs[..i]
            .iter()
            .any(|(earlier, _)| same_option(earlier, name))
        {
            return Err(set_failed(name, "duplicate parameter"));
        }
        config_set_one(&mut next, name, value)?;
    }
    node.store.set_maxmemory(next.maxmemory);
    node.store.set_policy(next.maxmemory_policy);
    node.store.set_samples(next.maxmemory_samples);
    node.slowlog.set_slower_than(next.slowlog_log_slower_than);
    node.slowlog.set_max_len(next.slowlog_max_len);
    node.latency.set_threshold(next.latency_monitor_threshold);
    *config = next;
    node.config_version
        .fetch_add(1, std::sync::atomic::Ordering::Release);
    Ok(())
}

/// Sets one parameter on `next` (a copy, not yet live) and checks it.
fn config_set_one(next: &mut Config, name: &str, value: &str) -> Result<(), String> {
    // Normalized as `Config::set` reads it, so `Cluster_Secret` is caught too.
    if IMMUTABLE.contains(&name.to_ascii_lowercase().replace('_', "-").as_str()) {
        return Err(set_failed(name, "can't set immutable config"));
    }
    next.set(name, value)
        .and_then(|()| next.validate())
        .map_err(|e| {
            if e.starts_with("unknown option") {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            } else {
                set_failed(name, &e)
            }
        })
}

/// Redis's wording for a CONFIG SET parameter that was refused.
fn set_failed(name: &str, why: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
}

/// True when two CONFIG SET names mean the same option (`Config::set`
/// accepts `_` for `-`).
fn same_option(a: &str, b: &str) -> bool {
    a.replace('_', "-") == b.replace('_', "-")
}

/// CONFIG GET pattern... | SET name value... | RESETSTAT | HELP
pub fn config(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let sub = args.get(1);
    if is(sub, "get") && args.len() >= 3 {
        let values = config_values(ctx.node);
        let patterns: Vec<Vec<u8>> = args.iter_from(2).map(|p| p.to_ascii_lowercase()).collect();
        let matched: Vec<_> = values
            .iter()
            .filter(|(name, _)| patterns.iter().any(|p| glob_match(p, name.as_bytes())))
            .collect();
        ctx.reply.map(matched.len());
        for (name, value) in matched {
            ctx.reply.bulk(name.as_bytes());
            ctx.reply.bulk(value.as_bytes());
        }
    } else if is(sub, "set") && args.len() >= 4 && args.len().is_multiple_of(2) {
        let pairs: Vec<(String, String)> = (2..args.len())
            .step_by(2)
            .map(|i| {
                let name = String::from_utf8_lossy(args.get(i)).to_ascii_lowercase();
                (name, String::from_utf8_lossy(args.get(i + 1)).into_owned())
            })
            .collect();
        match config_set_all(ctx.node, &pairs) {
            Ok(()) => ctx.reply.ok(),
            Err(e) => ctx.fail(&e),
        }
    } else if is(sub, "resetstat") && args.len() == 2 {
        ctx.node.stats.reset();
        ctx.node.store.reset_stats();
        ctx.node.slowlog.reset();
        ctx.reply.ok();
    } else if is(sub, "help") && args.len() == 2 {
        let lines = [
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "HELP",
            "    Print this help.",
        ];
        ctx.help(&lines);
    } else {
        ctx.unknown_subcommand(sub, "CONFIG");
    }
}

/// TIME
pub fn time(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    let us = unix_us();
    ctx.reply.array(2);
    ctx.reply.bulk_int((us / 1_000_000) as i64);
    ctx.reply.bulk_int((us % 1_000_000) as i64);
}

/// Bytes `entry` and its value take, table slot included.
fn usage_of(entry: &Entry, value: ValueRef<'_>) -> usize {
    let slot = std::mem::size_of::<Entry>() + 1;
    match value {
        ValueRef::Str(_) => entry.heap_size() + slot,
        ValueRef::Hash(h) => entry.heap_size() + slot + h.heap_size(),
    }
}

/// MEMORY USAGE key [SAMPLES count] | HELP
pub fn memory(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let sub = args.get(1);
    if is(sub, "usage") && (args.len() == 3 || args.len() == 5) {
        if args.len() == 5 {
            if !is(args.get(3), "samples") {
                return ctx.fail(SYNTAX);
            }
            if parse_i64(args.get(4)).is_none() {
                return ctx.fail(NOT_INTEGER);
            }
        }
        let key = args.get(2);
        let mut lock = ctx.node.store.lock(key);
        match lock.peek(key) {
            Some(i) => {
                let n = usage_of(lock.shard.at(i), lock.shard.value(i));
                ctx.reply.int(n as i64);
            }
            None => ctx.reply.null(),
        }
    } else if is(sub, "help") && args.len() == 2 {
        let lines = [
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value.",
            "HELP",
            "    Print this help.",
        ];
        ctx.help(&lines);
    } else {
        ctx.unknown_subcommand(sub, "MEMORY");
    }
}

/// The encoding Redis would report for a value.
fn encoding(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Str(v) if v.len() <= 20 && super::args::parse_i64(v).is_some() => "int",
        ValueRef::Str(v) if v.len() <= 44 => "embstr",
        ValueRef::Str(_) => "raw",
        ValueRef::Hash(h)
            if h.len() <= 128 && h.iter().all(|(f, v)| f.len() <= 64 && v.len() <= 64) =>
        {
            "listpack"
        }
        ValueRef::Hash(_) => "hashtable",
    }
}

/// OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT key, OBJECT HELP
pub fn object(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let sub = args.get(1);
    if is(sub, "help") && args.len() == 2 {
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>.",
            "REFCOUNT <key>",
            "    Return the reference count of the object stored at <key>.",
            "HELP",
            "    Print this help.",
        ];
        ctx.help(&lines);
        return;
    }
    if args.len() != 3
        || !["encoding", "freq", "idletime", "refcount"]
            .iter()
            .any(|s| is(sub, s))
    {
        return ctx.unknown_subcommand(sub, "OBJECT");
    }
    let key = args.get(2);
    let mut lock = ctx.node.store.lock(key);
    let Some(index) = lock.peek(key) else {
        return ctx.reply.null();
    };
    let (now, policy) = (lock.now, lock.policy);
    let entry = lock.shard.at(index);
    if is(sub, "encoding") {
        let name = encoding(lock.shard.value(index));
        ctx.reply.bulk(name.as_bytes());
    } else if is(sub, "refcount") {
        ctx.reply.int(1);
    } else if is(sub, "freq") {
        if !policy.is_lfu() {
            return ctx.fail("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        ctx.reply.int(i64::from(lfu_counter(entry.access(), now)));
    } else {
        if policy.is_lfu() {
            return ctx.fail("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        ctx.reply
            .int((lru_idle_ms(entry.access(), now) / 1000) as i64);
    }
}

/// SLOWLOG GET [count] | LEN | RESET | HELP
pub fn slowlog(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let sub = args.get(1);
    if is(sub, "get") && args.len() <= 3 {
        let count = match args.try_get(2) {
            None => 10,
            Some(b"-1") => usize::MAX,
            Some(n) => match parse_usize(n) {
                Some(n) => n,
                None => return ctx.fail("ERR count should be greater than or equal to -1"),
            },
        };
        let entries = ctx.node.slowlog.newest(count);
        ctx.reply.array(entries.len());
        for e in entries {
            ctx.reply.array(6);
            ctx.reply.int(e.id as i64);
            ctx.reply.int(e.timestamp);
            ctx.reply.int(e.micros);
            ctx.reply.array(e.args.len());
            for a in &e.args {
                ctx.reply.bulk(a);
            }
            ctx.reply.bulk(e.peer.as_bytes());
            ctx.reply.bulk(e.name.as_bytes());
        }
    } else if is(sub, "len") && args.len() == 2 {
        ctx.reply.int(ctx.node.slowlog.len() as i64);
    } else if is(sub, "reset") && args.len() == 2 {
        ctx.node.slowlog.reset();
        ctx.reply.ok();
    } else if is(sub, "help") && args.len() == 2 {
        let lines = [
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help.",
        ];
        ctx.help(&lines);
    } else {
        ctx.unknown_subcommand(sub, "SLOWLOG");
    }
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]: stops accepting, lets
/// connections finish their replies, exits. Nothing is saved: the node
/// keeps no data on disk.
pub fn shutdown(ctx: &mut Ctx<'_>, args: Args<'_>) {
    for arg in args.iter_from(1) {
        if is(arg, "abort") {
            return ctx.fail("ERR No shutdown in progress.");
        }
        if !["nosave", "save", "now", "force"]
            .iter()
            .any(|o| is(arg, o))
        {
            return ctx.fail(SYNTAX);
        }
    }
    tracing::info!(client = %ctx.session.handle.peer, "SHUTDOWN received");
    ctx.node.stop.trigger();
    ctx.after = After::Close;
}

/// DEBUG: refused, as Redis does by default.
pub fn debug(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    ctx.fail("ERR DEBUG command not allowed.");
}
