//! Routing: which node a command goes to, and what happens when that node
//! says no.
//!
//! On connect the router asks the seed nodes for `CLUSTER SLOTS`. A node
//! that answers it makes this a cluster client: commands go to their slot's
//! primary (or, for reads with `read_from_replicas`, to a replica over a
//! `READONLY` connection). A node answering that cluster support is disabled
//! (redis-server, a standalone ringcache node) makes it a single-node client.
//!
//! The slot map (`SlotMap`) sits in an `ArcSwap`: readers load it without
//! locking, and one refresh path (`Router::refresh`) replaces it. The
//! background task (`refresh_task`) runs that path every
//! `refresh_interval`, and soon after a request asks for it: on `MOVED`, a
//! connection failure, `TRYAGAIN` or `CLUSTERDOWN`. The task holds only a
//! `Weak` and a stop channel, so it ends when the last client is dropped.
//!
//! A request has one deadline (`request_timeout`). Within it, `Router::run`
//! follows `MOVED` to the node named (up to `max_redirects` times), sends
//! `ASKING` then the command for `ASK`, and retries `TRYAGAIN`,
//! `CLUSTERDOWN` and unreachable nodes after a short, growing, jittered
//! pause. A command that was in flight when its connection broke is resent
//! only if it is idempotent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_util::future::join_all;
use tokio::sync::{oneshot, Notify};
use tokio::time::{sleep, sleep_until, Instant};
use tracing::{debug, info};

use crate::client::ClientConfig;
use crate::command::{concat, Command, Route};
use crate::connection::{Connection, ConnectionOptions, Pool};
use crate::error::{Error, ErrorKind, Result};
use crate::resp::Value;
use crate::slot::SLOT_COUNT;
use ringcache_proto::topology::parse_cluster_slots;

/// Shortest pause before retrying after `TRYAGAIN`, `CLUSTERDOWN` or an
/// unreachable node.
const RETRY_PAUSE_MIN: Duration = Duration::from_millis(10);
/// Longest such pause.
const RETRY_PAUSE_MAX: Duration = Duration::from_millis(200);
/// Attempts of one request at most, whatever its deadline.
const MAX_ATTEMPTS: u32 = 64;
/// Requested refreshes run at most this often.
const MIN_REFRESH_GAP: Duration = Duration::from_millis(100);
/// Nodes asked for `CLUSTER SLOTS` in one refresh, at most.
const MAX_REFRESH_CANDIDATES: usize = 16;
/// A slot no known node serves.
const NO_SHARD: u16 = u16::MAX;

/// How the client found the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One node without cluster support (redis-server, a standalone
    /// ringcache node): every command goes to it.
    Standalone,
    /// A cluster: commands are routed by key slot.
    Cluster,
}

/// The owners of some slots: a primary, then replicas.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    pub primary: Arc<str>,
    pub replicas: Vec<Arc<str>>,
}

/// Owners of every slot, as one `CLUSTER SLOTS` reply told them.
#[derive(Debug)]
pub(crate) struct SlotMap {
    /// Index into `shards` per slot, or [`NO_SHARD`].
    slots: Box<[u16]>,
    shards: Vec<Shard>,
    /// Every distinct node named, primaries first.
    nodes: Vec<Arc<str>>,
}

impl SlotMap {
    /// Reads a `CLUSTER SLOTS` reply from the node at `queried` (whose host
    /// stands in for an empty or unknown node IP, as Redis Cluster means it).
    pub(crate) fn parse(reply: &Value, queried: &str) -> Result<SlotMap> {
        let ranges = parse_cluster_slots(reply, queried)
            .map_err(|e| Error::protocol(format!("CLUSTER SLOTS from {queried}: {e}")))?;
        let mut interned: HashMap<String, Arc<str>> = HashMap::new();
        let mut shard_of: HashMap<Vec<Arc<str>>, u16> = HashMap::new();
        let mut shards: Vec<Shard> = Vec::new();
        let mut slots = vec![NO_SHARD; usize::from(SLOT_COUNT)].into_boxed_slice();
        for range in ranges {
            let owners: Vec<Arc<str>> = range
                .owners
                .into_iter()
                .map(|addr| {
                    interned
                        .entry(addr)
                        .or_insert_with_key(|a| Arc::from(a.as_str()))
                        .clone()
                })
                .collect();
            let index = match shard_of.get(&owners) {
                Some(&index) => index,
                None => {
                    let index = u16::try_from(shards.len())
                        .ok()
                        .filter(|&i| i != NO_SHARD)
                        .ok_or_else(|| {
                            Error::protocol(format!(
                                "CLUSTER SLOTS from {queried}: too many shards"
                            ))
                        })?;
                    shards.push(Shard {
                        primary: owners[0].clone(),
                        replicas: owners[1..].to_vec(),
                    });
                    shard_of.insert(owners, index);
                    index
                }
            };
            slots[usize::from(range.start)..=usize::from(range.end)].fill(index);
        }
        let mut nodes: Vec<Arc<str>> = Vec::new();
        for shard in &shards {
            if !nodes.contains(&shard.primary) {
                nodes.push(shard.primary.clone());
            }
        }
        for replica in shards.iter().flat_map(|s| &s.replicas) {
            if !nodes.contains(replica) {
                nodes.push(replica.clone());
            }
        }
        Ok(SlotMap {
            slots,
            shards,
            nodes,
        })
    }

    /// The owners of `slot`, if a node serves it.
    pub(crate) fn shard(&self, slot: u16) -> Option<&Shard> {
        let index = *self.slots.get(usize::from(slot))?;
        self.shards.get(usize::from(index))
    }

    /// Every node in the map, primaries first.
    pub(crate) fn nodes(&self) -> &[Arc<str>] {
        &self.nodes
    }
}

/// Where a redirect sends a command next.
#[derive(Debug, Clone)]
struct Redirect {
    addr: Arc<str>,
    /// `ASK` (send `ASKING` first) rather than `MOVED`.
    asking: bool,
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
            ..connection_options(&config)
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
            ..connection_options(&config)
        };
        let (stop, stopped) = oneshot::channel();
        let router = Arc::new(Router {
            refresh_wanted: Arc::new(Notify::new()),
            topology,
            options,
            pools: RwLock::new(HashMap::new()),
            refresh_lock: tokio::sync::Mutex::new(()),
            counters: Counters::default(),
            _stop: cluster.then_some(stop),
            config,
        });
        if cluster {
            router.counters.refreshes.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(refresh_task(
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

    /// Asks the refresh task for a new slot map soon.
    fn want_refresh(&self) {
        if matches!(self.topology, Topology::Cluster(_)) {
            self.refresh_wanted.notify_one();
        }
    }

    /// Replaces the slot map with a fresh `CLUSTER SLOTS` from one of the
    /// known nodes (or the seeds). The only place the map changes.
    pub(crate) async fn refresh(&self) -> Result<()> {
        let Topology::Cluster(map) = &self.topology else {
            return Ok(());
        };
        let _one_at_a_time = self.refresh_lock.lock().await;
        let mut candidates: Vec<Arc<str>> = map.load().nodes().to_vec();
        fastrand::shuffle(&mut candidates);
        for seed in &self.config.nodes {
            if !candidates.iter().any(|c| **c == **seed) {
                candidates.push(Arc::from(seed.as_str()));
            }
        }
        let mut last_error = None;
        for addr in candidates.iter().take(MAX_REFRESH_CANDIDATES) {
            let conn = self.connection(addr);
            let reply = conn
                .query(&[b"CLUSTER", b"SLOTS"], self.config.request_timeout)
                .await;
            match reply.and_then(|reply| SlotMap::parse(&reply, addr)) {
                Ok(fresh) if !fresh.nodes().is_empty() => {
                    let known: Vec<Arc<str>> = fresh.nodes().to_vec();
                    map.store(Arc::new(fresh));
                    self.counters.refreshes.fetch_add(1, Ordering::Relaxed);
                    // Connections to nodes that left go with their pools
                    // (requests using them hold their own handles); the
                    // seeds' stay for the next refresh.
                    let seeds = &self.config.nodes;
                    if let Ok(mut pools) = self.pools.write() {
                        pools.retain(|addr, _| {
                            known.contains(addr) || seeds.iter().any(|s| **s == **addr)
                        });
                    }
                    return Ok(());
                }
                Ok(_) => {
                    last_error = Some(Error::new(
                        ErrorKind::ClusterDown,
                        format!("{addr} serves no slots"),
                    ))
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::io("no node to ask for the slot map")))
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
            Ok(mut pools) => pools
                .entry(Arc::clone(addr))
                .or_insert_with(|| Pool::new(addr, size, &self.options))
                .get()
                .clone(),
            // Poisoned by a panic elsewhere: a connection outside the pool
            // still works.
            Err(_) => Connection::new(addr.to_string(), self.options.clone()),
        }
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

    /// Sends `cmd` to `addr` (after `ASKING` when `asking`); error replies
    /// become errors.
    async fn send_one(
        &self,
        addr: &Arc<str>,
        cmd: &Command,
        asking: bool,
        deadline: Instant,
    ) -> Result<Value> {
        let conn = self.connection(addr);
        let mut replies = if asking {
            let asking_frame = Bytes::from_static(b"*1\r\n$6\r\nASKING\r\n");
            conn.send(concat(&[&asking_frame, &cmd.frame]), 2, deadline)
                .await?
        } else {
            conn.send(cmd.frame.clone(), 1, deadline).await?
        };
        match replies.pop() {
            Some(Value::Error(line)) => Err(Error::from_reply(&line)),
            Some(value) => Ok(value),
            None => Err(Error::protocol("no reply")),
        }
    }

    /// Runs one command to completion: routes it, follows redirects, and
    /// retries what may succeed later, all before `deadline`.
    pub(crate) async fn run(&self, cmd: &Command, deadline: Instant) -> Result<Value> {
        self.run_from(cmd, deadline, None).await
    }

    /// [`Router::run`], starting with a redirect already received.
    async fn run_from(
        &self,
        cmd: &Command,
        deadline: Instant,
        mut redirect: Option<Redirect>,
    ) -> Result<Value> {
        let cluster = self.mode() == Mode::Cluster;
        let mut redirects = 0u32;
        let mut failures = 0u32;
        let mut prefer_primary = false;
        loop {
            let sent = match redirect.take() {
                Some(to) => self.send_one(&to.addr, cmd, to.asking, deadline).await,
                None => match self.target(cmd, prefer_primary) {
                    Ok(addr) => self.send_one(&addr, cmd, false, deadline).await,
                    Err(e) => Err(e),
                },
            };
            let error = match sent {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            match error.kind() {
                ErrorKind::Moved { addr, .. } | ErrorKind::Ask { addr, .. } if cluster => {
                    if redirects >= self.config.max_redirects {
                        return Err(error);
                    }
                    redirects += 1;
                    let asking = matches!(error.kind(), ErrorKind::Ask { .. });
                    if asking {
                        self.counters.asked.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.counters.moved.fetch_add(1, Ordering::Relaxed);
                        self.want_refresh();
                    }
                    redirect = Some(Redirect {
                        addr: Arc::from(addr.as_str()),
                        asking,
                    });
                    continue;
                }
                ErrorKind::TryAgain | ErrorKind::ClusterDown | ErrorKind::Io => {}
                ErrorKind::ConnectionDropped if cmd.idempotent => {}
                _ => return Err(error),
            }
            self.want_refresh();
            prefer_primary = true;
            failures += 1;
            let pause = retry_pause(failures);
            if failures >= MAX_ATTEMPTS || Instant::now() + pause >= deadline {
                return Err(error);
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            sleep(pause).await;
        }
    }

    /// Runs many commands: one write per node (commands grouped by target,
    /// the nodes in parallel), then [`Router::run`] for each command whose
    /// reply was a redirect or a retryable failure. Results are in the order
    /// of `cmds`.
    pub(crate) async fn run_batch(
        &self,
        cmds: &[Command],
        deadline: Instant,
    ) -> Vec<Result<Value>> {
        let cluster = self.mode() == Mode::Cluster;
        let mut results: Vec<Option<Result<Value>>> = vec![None; cmds.len()];
        let mut groups: Vec<(Arc<str>, Vec<usize>)> = Vec::new();
        // (command, redirect to follow first)
        let mut again: Vec<(usize, Option<Redirect>)> = Vec::new();
        for (i, cmd) in cmds.iter().enumerate() {
            match self.target(cmd, false) {
                Ok(addr) => match groups.iter_mut().find(|(a, _)| *a == addr) {
                    Some((_, members)) => members.push(i),
                    None => groups.push((addr, vec![i])),
                },
                Err(_) => again.push((i, None)),
            }
        }
        let sends = groups.iter().map(|(addr, members)| {
            let frames: Vec<&Bytes> = members.iter().map(|&i| &cmds[i].frame).collect();
            let frames = concat(&frames);
            let conn = self.connection(addr);
            let count = members.len();
            async move { conn.send(frames, count, deadline).await }
        });
        let replies = join_all(sends).await;
        for ((_, members), reply) in groups.iter().zip(replies) {
            match reply {
                Ok(values) if values.len() == members.len() => {
                    for (&i, value) in members.iter().zip(values) {
                        let Value::Error(line) = value else {
                            results[i] = Some(Ok(value));
                            continue;
                        };
                        let error = Error::from_reply(&line);
                        match error.kind() {
                            ErrorKind::Moved { addr, .. } | ErrorKind::Ask { addr, .. }
                                if cluster =>
                            {
                                let asking = matches!(error.kind(), ErrorKind::Ask { .. });
                                if asking {
                                    self.counters.asked.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    self.counters.moved.fetch_add(1, Ordering::Relaxed);
                                }
                                again.push((
                                    i,
                                    Some(Redirect {
                                        addr: Arc::from(addr.as_str()),
                                        asking,
                                    }),
                                ));
                            }
                            ErrorKind::TryAgain | ErrorKind::ClusterDown => again.push((i, None)),
                            _ => results[i] = Some(Err(error)),
                        }
                    }
                }
                Ok(_) => {
                    for &i in members {
                        results[i] = Some(Err(Error::protocol("reply count does not match")));
                    }
                }
                Err(error) => {
                    for &i in members {
                        let retry = error.was_not_sent()
                            || (error.kind() == &ErrorKind::ConnectionDropped
                                && cmds[i].idempotent);
                        if retry && error.kind() != &ErrorKind::Overloaded {
                            again.push((i, None));
                        } else {
                            results[i] = Some(Err(error.clone()));
                        }
                    }
                }
            }
        }
        if !again.is_empty() {
            self.want_refresh();
            let retried = join_all(
                again
                    .iter()
                    .map(|(i, redirect)| self.run_from(&cmds[*i], deadline, redirect.clone())),
            )
            .await;
            for ((i, _), result) in again.iter().zip(retried) {
                results[*i] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::protocol("command left without a result"))))
            .collect()
    }
}

/// Connection settings from the client's.
fn connection_options(config: &ClientConfig) -> ConnectionOptions {
    ConnectionOptions {
        username: config.username.clone(),
        password: config.password.clone(),
        readonly: false,
        connect_timeout: config.connect_timeout,
        queue_capacity: config.queue_capacity,
        max_in_flight: config.max_in_flight,
        stale_after: config.request_timeout.max(Duration::from_millis(500)),
    }
}

/// The pause before retry number `failures`: doubling from
/// [`RETRY_PAUSE_MIN`] to [`RETRY_PAUSE_MAX`], with jitter.
fn retry_pause(failures: u32) -> Duration {
    let full = RETRY_PAUSE_MIN
        .saturating_mul(1 << failures.saturating_sub(1).min(8))
        .min(RETRY_PAUSE_MAX);
    full.mul_f64(0.5 + fastrand::f64() / 2.0)
}

/// Refreshes the slot map every `interval`, and soon (at most every
/// [`MIN_REFRESH_GAP`]) after a request asks for it. Ends when the router is
/// dropped (`stop` closes) or cannot be upgraded.
async fn refresh_task(
    router: Weak<Router>,
    wanted: Arc<Notify>,
    interval: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    let mut last = Instant::now();
    loop {
        let asked = tokio::select! {
            _ = &mut stop => return,
            () = sleep_until(last + interval) => false,
            () = wanted.notified() => true,
        };
        if asked {
            tokio::select! {
                _ = &mut stop => return,
                () = sleep_until(last + MIN_REFRESH_GAP) => {}
            }
        }
        let Some(router) = router.upgrade() else {
            return;
        };
        if let Err(e) = router.refresh().await {
            debug!(error = %e, "slot map refresh failed");
        }
        drop(router);
        last = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ip: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::Bulk(ip.as_bytes().to_vec()),
            Value::Int(port),
            Value::Bulk(b"id".to_vec()),
        ])
    }

    #[test]
    fn cluster_slots_reply_becomes_a_map() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(8000),
                node("127.0.0.1", 7000),
                node("127.0.0.1", 7001),
            ]),
            Value::Array(vec![
                Value::Int(8001),
                Value::Int(16000),
                node("", 7001),
                node("127.0.0.1", 7000),
            ]),
            Value::Array(vec![
                Value::Int(16001),
                Value::Int(16383),
                node("127.0.0.1", 7000),
                node("127.0.0.1", 7001),
            ]),
        ]);
        let map = SlotMap::parse(&reply, "127.0.0.1:7000").expect("valid reply");
        assert_eq!(map.nodes().len(), 2);
        let first = map.shard(0).expect("served");
        assert_eq!(&*first.primary, "127.0.0.1:7000");
        assert_eq!(first.replicas.len(), 1);
        // The same owners share one shard entry.
        assert!(std::ptr::eq(first, map.shard(16383).expect("served")));
        // An empty IP means the node that was asked.
        assert_eq!(&*map.shard(9000).expect("served").primary, "127.0.0.1:7001");
    }

    #[test]
    fn gaps_and_bad_replies() {
        let reply = Value::Array(vec![Value::Array(vec![
            Value::Int(0),
            Value::Int(99),
            node("::1", 7000),
        ])]);
        let map = SlotMap::parse(&reply, "[::1]:7000").expect("valid reply");
        assert_eq!(&*map.shard(5).expect("served").primary, "[::1]:7000");
        assert!(map.shard(100).is_none());
        for bad in [
            Value::Int(1),
            Value::Array(vec![Value::Array(vec![Value::Int(0)])]),
            Value::Array(vec![Value::Array(vec![Value::Int(5), Value::Int(16384)])]),
            Value::Array(vec![Value::Array(vec![Value::Int(5), Value::Int(2)])]),
        ] {
            assert_eq!(
                SlotMap::parse(&bad, "a:1").expect_err("bad").kind(),
                &ErrorKind::Protocol,
                "{bad:?}"
            );
        }
    }

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

    #[test]
    fn retry_pause_grows_and_is_capped() {
        assert!(retry_pause(1) <= RETRY_PAUSE_MIN);
        assert!(retry_pause(30) <= RETRY_PAUSE_MAX);
        assert!(retry_pause(30) >= RETRY_PAUSE_MAX / 2);
    }
}
