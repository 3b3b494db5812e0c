//! Routing: which node a command goes to, and what happens when that node
//! says no.
//!
//! On connect the router asks the seed nodes for `CLUSTER SLOTS`. A node
//! that answers it makes this a cluster client: commands go to their slot's
//! primary (or, for reads with `read_from_replicas`, to a replica over a
//! `READONLY` connection). A node answering that cluster support is disabled
//! (redis-server, a standalone ringcache node) makes it a single-node client.
//!
//! The slot map (`slot_map`) sits in an `ArcSwap`: readers load it
//! without locking, and one refresh path (`refresh`) replaces it. The
//! background task runs that path every `refresh_interval`, and soon after a
//! request asks for it: on `MOVED`, a connection failure, `TRYAGAIN` or
//! `CLUSTERDOWN`. The task holds only a `Weak` and a stop channel, so it
//! ends when the last client is dropped.
//!
//! A request has one deadline (`request_timeout`). Within it, the router
//! (`retry`) follows `MOVED` to the node named (up to `max_redirects`
//! times), sends `ASKING` then the command for `ASK`, and retries
//! `TRYAGAIN`, `CLUSTERDOWN` and unreachable nodes after a short, growing,
//! jittered pause. A command that was in flight when its connection broke
//! is resent only if it is idempotent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use tokio::sync::{oneshot, Notify};
use tracing::{debug, info};

use crate::client::ClientConfig;
use crate::command::{Command, Route};
use crate::connection::{Connection, ConnectionOptions, Pool};
use crate::error::{Error, ErrorKind, Result};

mod refresh;
mod retry;
mod slot_map;

use slot_map::SlotMap;

/// How the client found the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One node without cluster support (redis-server, a standalone
    /// ringcache node): every command goes to it.
    Standalone,
    /// A cluster: commands are routed by key slot.
    Cluster,
}

/// What the router talks to.
enum Topology {
    Standalone(Arc<str>),
    Cluster(ArcSwap<SlotMap>),
}

#[derive(Default)]
struct Counters {
    refreshes: AtomicU64,
    moved: AtomicU64,
    asked: AtomicU64,
    retries: AtomicU64,
}

/// A snapshot of the router's counters, from
/// [`Client::stats`](crate::Client::stats).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// Cluster or single node.
    pub mode: Mode,
    /// Nodes in the slot map (1 for a single node).
    pub known_nodes: usize,
    /// Slot maps installed (the one from connecting included).
    pub slot_map_refreshes: u64,
    /// `MOVED` replies followed.
    pub moved: u64,
    /// `ASK` replies followed.
    pub asked: u64,
    /// Requests resent after `TRYAGAIN`, `CLUSTERDOWN` or a connection
    /// failure.
    pub retries: u64,
}

/// Pools kept for addresses outside the slot map and the seeds before
/// they are let go (see `Router::bound_strays`).
const MAX_STRAY_POOLS: usize = 16;

/// The shared core of every [`Client`](crate::Client) clone: the topology,
/// the connection pools, and the retry logic.
pub(crate) struct Router {
    config: ClientConfig,
    topology: Topology,
    options: ConnectionOptions,
    /// Pools by node address. A std lock: held only to look up or insert.
    pools: RwLock<HashMap<Arc<str>, Pool>>,
    refresh_wanted: Arc<Notify>,
    /// One refresh at a time.
    refresh_lock: tokio::sync::Mutex<()>,
    counters: Counters,
    /// Bumped each time a refresh installs a map in which some slot has a
    /// new primary (what a near cache's entries depend on).
    owners_epoch: AtomicU64,
    /// Dropped with the router, which stops the refresh task.
    _stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("mode", &self.mode())
            .field("nodes", &self.nodes())
            .finish()
    }
}

fn is_cluster_disabled(error: &Error) -> bool {
    // The one place reply text is read outside `Error::from_reply`: Redis
    // and ringcache answer CLUSTER on a node without cluster support with a
    // plain ERR ("This instance has cluster support disabled"), so only the
    // message tells it apart. Servers without a CLUSTER command at all are
    // single nodes too.
    if !matches!(error.kind(), ErrorKind::Server(code) if code == "ERR") {
        return false;
    }
    let text = error.message().to_ascii_lowercase();
    text.contains("cluster support disabled")
        || text.contains("cluster is disabled")
        || text.starts_with("err unknown command")
}

impl Router {
    /// Finds out what the seeds are (cluster or single node), builds the
    /// router, and starts the refresh task for a cluster.
    pub(crate) async fn connect(config: ClientConfig) -> Result<Arc<Router>> {
        if config.nodes.is_empty() {
            return Err(Error::new(ErrorKind::Config, "no seed nodes given"));
        }
        let discovery = ConnectionOptions {
            readonly: false,
            ..ConnectionOptions::from(&config)
        };
        let mut last_error = None;
        let mut found = None;
        for seed in &config.nodes {
            let conn = Connection::new(seed.as_str(), discovery.clone());
            let wait = config.connect_timeout + config.request_timeout;
            match conn.query(&[b"CLUSTER", b"SLOTS"], wait).await {
                Ok(reply) => match SlotMap::parse(&reply, seed) {
                    Ok(map) => {
                        found = Some(Topology::Cluster(ArcSwap::from_pointee(map)));
                        break;
                    }
                    Err(e) => last_error = Some(e),
                },
                Err(e) if is_cluster_disabled(&e) => {
                    found = Some(Topology::Standalone(Arc::from(seed.as_str())));
                    break;
                }
                Err(e) => {
                    debug!(seed = %seed, error = %e, "seed did not answer CLUSTER SLOTS");
                    last_error = Some(e);
                }
            }
        }
        let Some(topology) = found else {
            return Err(last_error.unwrap_or_else(|| Error::io("no seed answered")));
        };
        let cluster = matches!(topology, Topology::Cluster(_));
        let options = ConnectionOptions {
            readonly: cluster && config.read_from_replicas,
            ..ConnectionOptions::from(&config)
        };
        let (stop, stopped) = oneshot::channel();
        let router = Arc::new(Router {
            refresh_wanted: Arc::new(Notify::new()),
            topology,
            options,
            pools: RwLock::new(HashMap::new()),
            refresh_lock: tokio::sync::Mutex::new(()),
            counters: Counters::default(),
            owners_epoch: AtomicU64::new(0),
            _stop: cluster.then_some(stop),
            config,
        });
        if cluster {
            router.counters.refreshes.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(refresh::refresh_task(
                Arc::downgrade(&router),
                Arc::clone(&router.refresh_wanted),
                router.config.refresh_interval,
                stopped,
            ));
        }
        info!(mode = ?router.mode(), nodes = router.nodes().len(), "ringcache client connected");
        Ok(router)
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// How the router's connections are opened.
    pub(crate) fn connection_options(&self) -> &ConnectionOptions {
        &self.options
    }

    /// The slot owners' epoch: it changes whenever some slot gets a new
    /// primary.
    pub(crate) fn owners_epoch(&self) -> u64 {
        self.owners_epoch.load(Ordering::Acquire)
    }

    /// The primary serving `key` now (the node, for a single node).
    ///
    /// # Errors
    /// [`ErrorKind::ClusterDown`] when no known node serves its slot.
    pub(crate) fn primary_of(&self, key: &[u8]) -> Result<Arc<str>> {
        self.target(&Command::keyed(b"GET", key, &[]), true)
    }

    pub(crate) fn mode(&self) -> Mode {
        match self.topology {
            Topology::Standalone(_) => Mode::Standalone,
            Topology::Cluster(_) => Mode::Cluster,
        }
    }

    /// Every node the client knows of.
    pub(crate) fn nodes(&self) -> Vec<String> {
        match &self.topology {
            Topology::Standalone(addr) => vec![addr.to_string()],
            Topology::Cluster(map) => map.load().nodes().iter().map(|n| n.to_string()).collect(),
        }
    }

    pub(crate) fn stats(&self) -> ClientStats {
        let c = &self.counters;
        ClientStats {
            mode: self.mode(),
            known_nodes: match &self.topology {
                Topology::Standalone(_) => 1,
                Topology::Cluster(map) => map.load().nodes().len(),
            },
            slot_map_refreshes: c.refreshes.load(Ordering::Relaxed),
            moved: c.moved.load(Ordering::Relaxed),
            asked: c.asked.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
        }
    }

    /// The slot of each group of keys: in a cluster the keys are grouped by
    /// slot (first appearance order), as multi-key commands need one slot;
    /// for a single node all keys form one group.
    pub(crate) fn group_by_slot<'k>(
        &self,
        keys: impl Iterator<Item = &'k [u8]>,
    ) -> Vec<(Route, Vec<usize>)> {
        if matches!(self.topology, Topology::Standalone(_)) {
            let all: Vec<usize> = keys.enumerate().map(|(i, _)| i).collect();
            return vec![(Route::Any, all)];
        }
        let mut groups: Vec<(Route, Vec<usize>)> = Vec::new();
        let mut index_of: HashMap<u16, usize> = HashMap::new();
        for (i, key) in keys.enumerate() {
            let slot = crate::key_slot(key);
            match index_of.get(&slot) {
                Some(&g) => groups[g].1.push(i),
                None => {
                    index_of.insert(slot, groups.len());
                    groups.push((Route::Slot(slot), vec![i]));
                }
            }
        }
        groups
    }

    /// A connection to `addr`, from its pool (created on first use).
    fn connection(&self, addr: &Arc<str>) -> Connection {
        if let Ok(pools) = self.pools.read() {
            if let Some(pool) = pools.get(addr) {
                return pool.get().clone();
            }
        }
        let size = self.config.pool_size;
        match self.pools.write() {
            Ok(mut pools) => {
                if !pools.contains_key(addr) {
                    self.bound_strays(&mut pools);
                }
                pools
                    .entry(Arc::clone(addr))
                    .or_insert_with(|| Pool::new(addr, size, &self.options))
                    .get()
                    .clone()
            }
            // Poisoned by a panic elsewhere: a connection outside the pool
            // still works.
            Err(_) => Connection::new(addr.to_string(), self.options.clone()),
        }
    }

    /// Before a pool is added: when the pools outside the slot map and
    /// the seeds (MOVED and ASK targets the map does not list, kept until
    /// a refresh succeeds) reach [`MAX_STRAY_POOLS`], they are let go, so
    /// redirects to ever new addresses while refreshes fail cannot grow
    /// the pools without bound.
    fn bound_strays(&self, pools: &mut HashMap<Arc<str>, Pool>) {
        let Topology::Cluster(map) = &self.topology else {
            return;
        };
        let map = map.load();
        if pools.len() >= map.nodes().len() + self.config.nodes.len() + MAX_STRAY_POOLS {
            self.keep_known(pools, map.nodes());
        }
    }

    /// Drops the pools of addresses neither in `known` nor among the
    /// seeds (requests using them hold their own handles; the seeds' stay
    /// for the next refresh).
    fn keep_known(&self, pools: &mut HashMap<Arc<str>, Pool>, known: &[Arc<str>]) {
        let seeds = &self.config.nodes;
        pools.retain(|addr, _| known.contains(addr) || seeds.iter().any(|s| **s == **addr));
    }

    /// The node `cmd` goes to now.
    fn target(&self, cmd: &Command, prefer_primary: bool) -> Result<Arc<str>> {
        let map = match &self.topology {
            Topology::Standalone(addr) => return Ok(Arc::clone(addr)),
            Topology::Cluster(map) => map.load(),
        };
        match cmd.route {
            Route::Slot(slot) => {
                let Some(shard) = map.shard(slot) else {
                    return Err(Error::new(
                        ErrorKind::ClusterDown,
                        format!("no known node serves slot {slot}"),
                    ));
                };
                let replica = cmd.read && self.config.read_from_replicas && !prefer_primary;
                if replica && !shard.replicas.is_empty() {
                    let pick = fastrand::usize(..shard.replicas.len());
                    return Ok(Arc::clone(&shard.replicas[pick]));
                }
                Ok(Arc::clone(&shard.primary))
            }
            Route::Any => {
                let nodes = map.nodes();
                if nodes.is_empty() {
                    return Err(Error::new(ErrorKind::ClusterDown, "no known node"));
                }
                Ok(Arc::clone(&nodes[fastrand::usize(..nodes.len())]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_nodes_are_recognized_by_their_cluster_error() {
        for line in [
            &b"ERR This instance has cluster support disabled"[..],
            b"ERR unknown command 'CLUSTER', with args beginning with: 'SLOTS' ",
        ] {
            assert!(is_cluster_disabled(&Error::from_reply(line)));
        }
        assert!(!is_cluster_disabled(&Error::from_reply(
            b"NOAUTH Authentication required."
        )));
        assert!(!is_cluster_disabled(&Error::timeout("x")));
    }
}
