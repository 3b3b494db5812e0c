//! State shared by every connection and background task of one node.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::RwLock;

use crate::acl::Acl;
use crate::blocking::Blocking;
use crate::clients::Clients;
use crate::command_stats::{CommandMetrics, CommandStats, ErrorStats};
use crate::config::{Config, Effect};
use crate::gate::Gate;
use crate::latency::LatencyMonitor;
use crate::leases::Leases;
use crate::monitor::Monitors;
use crate::notify::{Classes, KeyspaceEvents};
use crate::pause::Pause;
use crate::protocol::Limits;
use crate::pubsub::PubSub;
use crate::scripting::Scripts;
use crate::shutdown::Shutdown;
use crate::slowlog::SlowLog;
use crate::stats::ServerStats;
use crate::store::{Clock, Store, StoreOptions, DEFAULT_SHARDS};
use crate::tracking::{RemovalInvalidator, Tracking};
use crate::watches::Watches;

/// See the module docs.
#[derive(Debug)]
pub struct NodeState {
    /// The key space: database 0 (the only one a cluster node serves).
    pub store: Store,
    /// A handle to each numbered database (SELECT), `store` first.
    pub databases: Vec<Store>,
    /// The same handles for CLIENT NO-TOUCH clients: their reads leave
    /// the keys' LRU/LFU access as it was.
    pub untouched: Vec<Store>,
    /// Passed by every command, held alone by EXEC and scripts.
    pub gate: Gate,
    /// Lua scripts and functions, and the script running now.
    pub scripts: Scripts,
    /// The keys connections WATCH.
    pub watches: Arc<Watches>,
    /// Outstanding leases (`RC.LEASE.*`), ended by every change of their key.
    pub leases: Arc<Leases>,
    /// Pub/Sub subscriptions.
    pub pubsub: Arc<PubSub>,
    /// Client-side caching: who tracks which keys.
    pub tracking: Arc<Tracking>,
    /// Keyspace notifications (published through `pubsub`).
    pub events: Arc<KeyspaceEvents>,
    /// ACL users.
    pub acl: Acl,
    /// The configuration; CONFIG SET writes it (rarely), connections read it.
    pub config: RwLock<Config>,
    /// Bumped by every CONFIG SET, so a connection notices a change with
    /// one atomic load per read instead of a lock.
    pub config_version: AtomicU64,
    /// Server counters.
    pub stats: ServerStats,
    /// Connected clients.
    pub clients: Arc<Clients>,
    /// Clients blocked on keys, and the wake-up of writes to them.
    pub blocking: Blocking,
    /// Slow commands.
    pub slowlog: SlowLog,
    /// Events over the latency threshold.
    pub latency: LatencyMonitor,
    /// The clients in MONITOR mode.
    pub monitors: Monitors,
    /// CLIENT PAUSE.
    pub pause: Pause,
    /// Stops everything.
    pub shutdown: Shutdown,
    /// When the node started.
    pub started: Instant,
    /// Bytes allocated once the node was set up, before any client
    /// (MEMORY STATS `startup.allocated`).
    pub startup_memory: u64,
    /// Random id of this run (INFO run_id).
    pub run_id: String,
    /// The port actually bound (differs from the config for port 0).
    pub port: AtomicU16,
    /// Per-command metric handles, registered at the first command (after
    /// the metrics recorder is installed).
    command_metrics: OnceLock<CommandMetrics>,
    /// INFO commandstats, numbered at the first command.
    command_stats: OnceLock<CommandStats>,
    /// INFO errorstats and `total_error_replies`.
    pub error_stats: ErrorStats,
    /// A stop was asked for (SHUTDOWN, SIGTERM): the node leaves its
    /// cluster gracefully, then triggers `shutdown`.
    pub stop: Shutdown,
    /// The TLS configurations in force (CONFIG SET replaces them).
    pub tls: Arc<crate::tls::TlsState>,
}

/// The users `config` names (aclfile or `user` lines) and the default
/// user's `requirepass`.
fn initial_acl(config: &Config) -> Acl {
    let acl = Acl::new();
    acl.log
        .set_max_len(usize::try_from(config.acllog_max_len).unwrap_or(usize::MAX));
    acl.set_pubsub_default(config.acl_pubsub_all);
    // The binary read them before it bound its port; a file changed since
    // is reported and the node starts with the default user only.
    match crate::acl::initial_users(config) {
        Ok(users) if !users.is_empty() => acl.replace(users),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "ACL users not loaded"),
    }
    if let Some(password) = config.requirepass.as_deref() {
        acl.set_requirepass(Some(password));
    }
    acl
}

impl NodeState {
    /// State for a node with `config`, on the system clock.
    pub fn new(config: Config) -> Arc<NodeState> {
        Self::with_clock(config, Clock::System)
    }

    /// State for a node whose store runs on `clock` (tests).
    pub fn with_clock(config: Config, clock: Clock) -> Arc<NodeState> {
        let store = Store::new(StoreOptions {
            shards: DEFAULT_SHARDS,
            databases: config.databases,
            maxmemory: config.maxmemory,
            policy: config.maxmemory_policy,
            samples: config.maxmemory_samples,
            clock,
            encodings: config.encodings,
            slot_counts: config.cluster_enabled,
        });
        let run_id = (0..40)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
            .collect();
        let databases: Vec<Store> = (0..store.databases())
            .map(|db| store.database(db))
            .collect();
        let untouched = databases.iter().map(Store::untouched).collect();
        let shutdown = Shutdown::new();
        let stopping = shutdown.clone();
        let scripts = Scripts::new(Arc::new(move || stopping.is_triggered()), config.maxmemory);
        let tracking = Arc::new(Tracking::default());
        let clients = Arc::new(Clients::default());
        tracking.set_max_keys(&clients, config.tracking_table_max_keys);
        store.on_removal(Arc::new(RemovalInvalidator::new(
            tracking.clone(),
            clients.clone(),
        )));
        let leases = Arc::new(Leases::with_max(lease_bound(config.lease_max_count)));
        store.on_removal(leases.clone());
        let pubsub = Arc::new(PubSub::default());
        let events = Arc::new(KeyspaceEvents::new(
            pubsub.clone(),
            config.notify_keyspace_events,
        ));
        store.on_removal(events.clone());
        store.report_misses(config.notify_keyspace_events.has(Classes::KEY_MISS));
        let acl = initial_acl(&config);
        Arc::new(NodeState {
            acl,
            store,
            databases,
            untouched,
            gate: Gate::default(),
            scripts,
            watches: Arc::default(),
            leases,
            pubsub,
            tracking,
            events,
            port: AtomicU16::new(config.port),
            slowlog: SlowLog::new(config.slowlog_log_slower_than, config.slowlog_max_len),
            latency: LatencyMonitor::new(config.latency_monitor_threshold),
            monitors: Monitors::default(),
            pause: Pause::default(),
            config: RwLock::new(config),
            config_version: AtomicU64::new(0),
            stats: ServerStats::default(),
            clients,
            blocking: Blocking::default(),
            shutdown,
            started: Instant::now(),
            startup_memory: crate::store::allocated_bytes().unwrap_or(0),
            run_id,
            command_metrics: OnceLock::new(),
            command_stats: OnceLock::new(),
            error_stats: ErrorStats::default(),
            stop: Shutdown::new(),
            tls: Arc::default(),
        })
    }

    /// The per-command metric handles, registered with `names` (the
    /// command table's, in order) the first time.
    #[inline]
    pub fn command_metrics<I>(&self, names: impl FnOnce() -> I) -> &CommandMetrics
    where
        I: Iterator<Item = &'static str> + Clone,
    {
        self.command_metrics
            .get_or_init(|| CommandMetrics::new(names()))
    }

    /// INFO commandstats' counters, with one slot per name `names` gives
    /// (the command table's numbering) the first time.
    #[inline]
    pub fn command_stats(&self, names: impl FnOnce() -> Vec<String>) -> &CommandStats {
        self.command_stats
            .get_or_init(|| CommandStats::new(names()))
    }

    /// The handle to database `db` a session uses: [`NodeState::untouched`]
    /// for a CLIENT NO-TOUCH client.
    #[inline]
    pub fn database(&self, db: usize, no_touch: bool) -> &Store {
        if no_touch {
            &self.untouched[db]
        } else {
            &self.databases[db]
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::Relaxed)
    }

    /// Makes a configuration change (already checked, about to be
    /// published) reach the parts that keep their own copy of a setting.
    pub fn apply_config(&self, config: &Config, effects: &[Effect]) {
        for effect in effects {
            match effect {
                Effect::None => {}
                Effect::Memory => {
                    self.store.set_maxmemory(config.maxmemory);
                    self.scripts.set_memory_limit(config.maxmemory);
                    self.store.set_policy(config.maxmemory_policy);
                    self.store.set_samples(config.maxmemory_samples);
                }
                Effect::SlowLog => {
                    self.slowlog.set_slower_than(config.slowlog_log_slower_than);
                    self.slowlog.set_max_len(config.slowlog_max_len);
                }
                Effect::Latency => self.latency.set_threshold(config.latency_monitor_threshold),
                Effect::Encoding => self.store.set_encoding_limits(config.encodings),
                Effect::Tracking => self
                    .tracking
                    .set_max_keys(&self.clients, config.tracking_table_max_keys),
                Effect::Leases => self.leases.set_max(lease_bound(config.lease_max_count)),
                // Loaded and bound by CONFIG SET before the change is
                // published (`tls::TlsState::reload`, `tls::port`), so a
                // bad file or a port in use is refused.
                Effect::Tls | Effect::TlsPort => {}
                Effect::Password => self.acl.set_requirepass(config.requirepass.as_deref()),
                Effect::IdlePoll => crate::idle_poll::set_budget(config.idle_poll_us),
                Effect::Acl => {
                    let max_len = usize::try_from(config.acllog_max_len).unwrap_or(usize::MAX);
                    self.acl.log.set_max_len(max_len);
                    self.acl.set_pubsub_default(config.acl_pubsub_all);
                }
                Effect::Notify => {
                    let classes = config.notify_keyspace_events;
                    self.events.set_classes(classes);
                    self.store.report_misses(classes.has(Classes::KEY_MISS));
                }
            }
        }
    }

    /// Parser limits from the current configuration.
    pub fn limits(&self) -> Limits {
        let config = self.config.read();
        Limits {
            max_bulk_len: config.proto_max_bulk_len,
            ..Limits::default()
        }
    }
}

/// `lease-max-count` as a table bound.
fn lease_bound(count: u64) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}
