//! INFO: the node's figures in Redis's sections and field names (server,
//! clients, memory, persistence, stats, replication, cpu, modules,
//! commandstats, errorstats, cluster, keyspace), and Redis's section
//! sets (`default`, `all`, `everything`).

use std::fmt::Write as _;

use super::session::REDIS_COMPAT_VERSION;
use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F};
use super::{Ctx, Outcome};
use crate::config::Config;
use crate::protocol::Args;
use crate::state::NodeState;
use crate::stats::ServerStats;
use crate::store::SlotSet;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("info", info, -1, F::LOADING.with(F::STALE), "server", "Returns information and statistics about the server.").acl(C::DANGEROUS).routing(super::Routing::ThisNode),
];

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
pub(super) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// The sections INFO prints, in Redis's order; a request names some of
/// them, or a set: `default` (no name: the same), `all` or `everything`.
pub const SECTIONS: [&str; 12] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
];

/// The sections `all` and `everything` add to `default` (Redis's
/// latencystats has no counterpart here).
const NOT_DEFAULT: [&str; 1] = ["commandstats"];

/// The text of INFO for `sections` (empty = the default set); `cluster`
/// holds the cluster section's fields, on a cluster node.
pub fn info_text(
    node: &NodeState,
    sections: &[String],
    cluster: Option<Vec<(&'static str, String)>>,
    own: Option<&SlotSet>,
) -> String {
    let all = sections.iter().any(|s| s == "all" || s == "everything");
    let default = sections.is_empty() || sections.iter().any(|s| s == "default");
    let wanted = |name: &str| {
        all || (default && !NOT_DEFAULT.contains(&name)) || sections.iter().any(|s| s == name)
    };
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
                    "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\n",
                    node.clients.len(),
                    config.maxclients,
                    node.blocking.blocked_clients(),
                    node.tracking.stats().clients
                );
            }
            "memory" => memory_section(node, &mut out),
            "persistence" => out.push_str("# Persistence\r\nloading:0\r\naof_enabled:0\r\n"),
            "stats" => stats_section(node, &mut out),
            "replication" => out.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"),
            "cpu" => cpu_section(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "commandstats" => {
                out.push_str("# Commandstats\r\n");
                super::statistics::stats(node).write_info(&mut out);
            }
            "errorstats" => {
                out.push_str("# Errorstats\r\n");
                node.error_stats.write_info(&mut out);
            }
            "cluster" => {
                out.push_str("# Cluster\r\n");
                match &cluster {
                    None => out.push_str("cluster_enabled:0\r\n"),
                    Some(fields) => {
                        out.push_str("cluster_enabled:1\r\n");
                        for (name, value) in fields {
                            let _ = write!(out, "cluster_{name}:{value}\r\n");
                        }
                    }
                }
            }
            "keyspace" => {
                out.push_str("# Keyspace\r\n");
                for (db, store) in node.databases.iter().enumerate() {
                    // A cluster node's key space is its primary slots'.
                    let (keys, expires) = match (own, store.slot_counts()) {
                        (Some(own), Some(counts)) => counts.sum(own, true),
                        _ => (store.len() as u64, store.volatile_len() as u64),
                    };
                    if keys > 0 {
                        let avg_ttl = store.avg_ttl();
                        let _ = write!(
                            out,
                            "db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
                        );
                    }
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
    let _ = write!(
        out,
        "lazyfree_pending_objects:{}\r\n",
        node.store.lazyfree_pending()
    );
}

/// CPU time from getrusage: the process, its children, and the thread
/// serving this INFO (Redis's `_main_thread`: here every worker thread
/// serves clients, so it is the one that answers).
fn cpu_section(out: &mut String) {
    use nix::sys::resource::{getrusage, UsageWho};
    let times = |who| {
        getrusage(who).map_or((0, 0, 0, 0), |usage| {
            let (sys, user) = (usage.system_time(), usage.user_time());
            (sys.tv_sec(), sys.tv_usec(), user.tv_sec(), user.tv_usec())
        })
    };
    out.push_str("# CPU\r\n");
    for (who, suffix) in [
        (UsageWho::RUSAGE_SELF, ""),
        (UsageWho::RUSAGE_CHILDREN, "_children"),
        (UsageWho::RUSAGE_THREAD, "_main_thread"),
    ] {
        let (sys_s, sys_us, user_s, user_us) = times(who);
        let _ = write!(
            out,
            "used_cpu_sys{suffix}:{sys_s}.{sys_us:06}\r\nused_cpu_user{suffix}:{user_s}.{user_us:06}\r\n"
        );
    }
}

fn stats_section(node: &NodeState, out: &mut String) {
    let s = &node.stats;
    let keyspace = node.store.stats();
    let tracking = node.tracking.stats();
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\ntotal_error_replies:{}\r\nprotocol_errors:{}\r\nacl_access_denied_auth:{}\r\nauth_failure_disconnects:{}\r\ncross_protocol_rejections:{}\r\nclient_output_buffer_limit_disconnections:{}\r\ncommand_panics:{}\r\n",
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
        tracking.keys,
        tracking.items,
        tracking.prefixes,
        node.error_stats.total(),
        ServerStats::get(&s.protocol_errors),
        ServerStats::get(&s.auth_failures),
        ServerStats::get(&s.auth_failure_disconnects),
        ServerStats::get(&s.cross_protocol_rejections),
        ServerStats::get(&s.output_limit_disconnects),
        ServerStats::get(&s.command_panics),
    );
    // lazyfree_inline_objects is ours: values the full lazyfree queue sent
    // back to be freed inline; so are leases_outstanding: RC.LEASE.GET's
    // leases not yet filled, released, ended or reclaimed, and the
    // worker's polls before it sleeps (`idle_poll`, for the process).
    let polls = crate::idle_poll::counters();
    let _ = write!(
        out,
        "lazyfreed_objects:{}\r\nlazyfree_inline_objects:{}\r\nleases_outstanding:{}\r\nidle_polls:{}\r\nidle_polls_found_work:{}\r\nidle_polls_skipped_contended:{}\r\n",
        node.store.lazyfreed(),
        node.store.lazyfree_inline(),
        node.leases.count(),
        polls.polls,
        polls.found,
        polls.contended
    );
}

/// INFO [section ...]
pub fn info(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
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
    let own = ctx.own_slots();
    let cluster = ctx.with_cluster(|port, ctx| {
        let mut fields = port.info();
        if let (Some(own), Some(counts)) = (&own, ctx.node.store.slot_counts()) {
            fields.push(("keys_primary", counts.sum(own, true).0.to_string()));
            fields.push(("keys_replica", counts.sum(own, false).0.to_string()));
        }
        fields
    });
    let text = info_text(ctx.node, &sections, cluster, own.as_deref());
    ctx.reply.verbatim(text.as_bytes());
    Outcome::Unchanged
}
