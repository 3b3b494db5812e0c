//! The cluster layer: membership through gossip, the ring built from it,
//! routing of requests to their owners, replication of writes, and handoff
//! of slots when the ring changes.
//!
//! Data flow: the membership watch yields the live members; each change
//! builds a new [`ClusterView`] (ring, owners of every slot, addresses) and
//! publishes it with an atomic swap; connections read the current view
//! without locking to route each request ([`router`]); writes a node runs as
//! a slot's primary are shipped to the slot's replicas ([`replication`]);
//! slots that change owners are streamed to their new owners in the
//! background ([`handoff`]), while the new owners read through to the old
//! ones on a miss.

mod acl_sync;
pub mod effects;
pub mod gossip_codec;
pub mod handoff;
pub mod hlc;
mod keyless;
mod link;
pub mod membership;
pub mod peer;
pub mod peer_auth;
mod port;
pub mod rejoin;
pub mod repair;
pub mod replication;
pub mod router;
pub mod sealed_transport;
pub mod secret;
pub mod topology;
mod tracking;
pub mod view;
pub mod wait;
pub mod wire;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tracing::{info, warn};

use crate::config::Config;
use crate::log_limit::LogLimit;
use crate::state::NodeState;
use crate::store::{unix_ms, Snapshot, Store};
use handoff::{Handoffs, Imports};
use hlc::Hlc;
pub use link::Link;
use membership::{MemberState, Membership, MembershipConfig};
use peer::PeerPool;
pub use router::Route;
use sealed_transport::{Seal, SealStats};
use secret::ClusterKeys;
use view::ClusterView;

/// Longest a joining node waits to hear from its seeds before it takes
/// slots anyway (so a cluster whose seeds are all gone can restart).
const JOIN_WAIT: Duration = Duration::from_secs(10);
/// How long the member list must stay unchanged before a joining node
/// takes slots, so it enters the ring knowing every member.
const JOIN_SETTLE: Duration = Duration::from_secs(1);
/// Longest a graceful leave waits for its handoffs.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Cluster options of a node.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Stable name: the ring places a node by its name.
    pub node_name: String,
    /// Address clients and peers use for this node's RESP port.
    pub announce: SocketAddr,
    /// UDP address gossip binds.
    pub gossip_listen: SocketAddr,
    /// UDP address other nodes gossip to.
    pub gossip_advertise: SocketAddr,
    /// Gossip addresses of nodes to join through.
    pub seeds: Vec<String>,
    /// Share of the ring relative to other nodes.
    pub weight: u32,
    /// Copies of each slot besides the primary.
    pub replicas: usize,
    /// Copies that must hold a write before it is acknowledged.
    pub write_quorum: usize,
    /// How soon a silent node is declared dead.
    pub failure_timeout: Duration,
    /// Answer MOVED instead of forwarding.
    pub redirect: bool,
    /// Virtual nodes per unit of weight.
    pub vnodes: u32,
    /// Handoff bandwidth bound in bytes per second.
    pub handoff_rate: u64,
    /// Keys of gossip seals and peer handshakes (from the cluster secret
    /// and name).
    pub keys: ClusterKeys,
    /// Largest clock skew between nodes: bounds versions from peers and
    /// the age of gossip datagrams.
    pub max_clock_skew: Duration,
}

impl ClusterSettings {
    /// Settings from the node's configuration, for a node whose RESP
    /// listener is bound to `port`.
    ///
    /// # Errors
    /// No gossip port can be derived or found, or the node would be
    /// reachable beyond loopback without a secret ([`check_secret`]).
    pub fn from_config(config: &Config, port: u16) -> std::io::Result<ClusterSettings> {
        check_secret(config)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let ip = config
            .cluster_announce_ip
            .unwrap_or(if config.bind.is_unspecified() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                config.bind
            });
        let announce = SocketAddr::new(ip, port);
        let gossip_port = match config.cluster_port {
            // Port 0: any free UDP port (tests, several nodes on one host).
            Some(0) => std::net::UdpSocket::bind(SocketAddr::new(config.bind, 0))?
                .local_addr()?
                .port(),
            Some(p) => p,
            None => port.checked_add(10_000).ok_or_else(|| {
                std::io::Error::other(format!(
                    "no default gossip port for RESP port {port}: give --cluster-port"
                ))
            })?,
        };
        Ok(ClusterSettings {
            node_name: config
                .node_name
                .clone()
                .unwrap_or_else(|| announce.to_string()),
            announce,
            gossip_listen: SocketAddr::new(config.bind, gossip_port),
            gossip_advertise: SocketAddr::new(ip, gossip_port),
            seeds: config.cluster_seeds.clone(),
            weight: config.weight,
            replicas: config.replicas,
            write_quorum: config.write_quorum,
            failure_timeout: Duration::from_millis(config.failure_timeout_ms),
            redirect: config.cluster_redirect,
            vnodes: config.vnodes,
            handoff_rate: config.handoff_rate,
            keys: ClusterKeys::derive(config.cluster_secret.as_deref(), &config.cluster_name),
            max_clock_skew: Duration::from_millis(config.cluster_max_clock_skew_ms),
        })
    }
}

/// Refuses a cluster node that others could reach beyond loopback (bound
/// to, or announcing, a non-loopback address) when it has no cluster
/// secret: its gossip and peer links would then take anyone in.
///
/// # Errors
/// Such a node, with a message saying why and what to set.
pub fn check_secret(config: &Config) -> Result<(), String> {
    if !config.cluster_enabled || config.cluster_secret.is_some() {
        return Ok(());
    }
    let mut exposed = Vec::new();
    if !config.bind.is_loopback() {
        exposed.push(format!("bound to {}", config.bind));
    }
    if let Some(ip) = config.cluster_announce_ip.filter(|ip| !ip.is_loopback()) {
        exposed.push(format!("announcing {ip}"));
    }
    if exposed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "refusing to start: this cluster node is {}, which is not a loopback address, \
         and has no cluster secret; without one any host that reaches its gossip port \
         could join the cluster, take slots and read every key. Set the same secret on \
         every node with --cluster-secret-file PATH (or --cluster-secret, or \
         cluster-secret in the config file), or bind to a loopback address",
        exposed.join(" and ")
    ))
}

/// Cluster counters (INFO cluster, metrics).
#[derive(Debug, Default)]
pub struct ClusterStats {
    /// Writes shipped to replicas.
    pub replicated: AtomicU64,
    /// Of those, writes shipped as their effect (`effects`).
    pub effects_shipped: AtomicU64,
    /// Effects a replica could not apply, shipped again whole.
    pub effects_stale: AtomicU64,
    /// Snapshots applied from peers (replication, handoff, repair).
    pub applied: AtomicU64,
    /// Snapshots refused because the local copy was newer.
    pub stale_refused: AtomicU64,
    /// Requests forwarded to their owner.
    pub forwarded: AtomicU64,
    /// Misses read through to a slot's previous owner.
    pub read_through: AtomicU64,
    /// MOVED redirections answered.
    pub redirected: AtomicU64,
    /// Peer handshakes refused: a wrong or malformed proof.
    pub peer_auth_refused: AtomicU64,
    /// Key states from peers refused: their version was further ahead of
    /// the local clock than the skew limit.
    pub versions_refused: AtomicU64,
}

/// A key state from a peer whose version is too far ahead of this node's
/// clock; how far, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AheadOfClock(pub u64);

impl AheadOfClock {
    /// The error reply to the peer that sent the version.
    pub fn reply(self) -> String {
        format!(
            "ERR version {} ms ahead of this node's clock (over cluster-max-clock-skew)",
            self.0
        )
    }
}

/// A key changed by a state a peer sent (replication, a slot's import):
/// the clients that read it through this node (tracking; a replica serves
/// READONLY reads), its WATCHers and the clients blocked on it learn of it
/// as of a write.
pub(crate) fn announce_applied(node: &NodeState, db: usize, key: &[u8]) {
    node.tracking.invalidate(&node.clients, None, &[key]);
    node.watches.touch(db, key);
    node.blocking.key_ready(db, key);
}

/// See the module docs; one per node, shared by every connection.
pub struct Cluster {
    /// Options.
    pub settings: ClusterSettings,
    view: ArcSwap<ClusterView>,
    /// Links to peers.
    pub peers: PeerPool,
    /// Versions of writes.
    pub hlc: Hlc,
    /// Slots being imported, with their previous owner.
    pub imports: Imports,
    /// Slots to stream to new owners.
    pub handoffs: Handoffs,
    /// Counters.
    pub stats: ClusterStats,
    /// Gossip datagrams dropped, by reason.
    pub gossip_drops: Arc<SealStats>,
    /// Replica repairs done.
    pub repairs: repair::RepairStats,
    /// Peers out of the ring, with what they may have missed.
    departed: repair::Departed,
    members: tokio::sync::watch::Receiver<Arc<Vec<membership::MemberInfo>>>,
    membership: Membership,
    started: Instant,
    skew_warnings: LogLimit,
    ring_history: rejoin::RingHistory,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.settings.node_name)
            .field("ring_version", &self.view().version)
            .finish()
    }
}

impl Cluster {
    /// Joins the cluster: starts gossip, follows membership changes, and
    /// runs the handoff worker, all until the node shuts down.
    ///
    /// # Errors
    /// The gossip socket cannot be bound.
    pub async fn start(
        node: Arc<NodeState>,
        settings: ClusterSettings,
    ) -> std::io::Result<Arc<Cluster>> {
        let seal = Seal::new(settings.keys.clone(), settings.max_clock_skew);
        let gossip_drops = seal.stats().clone();
        let membership = Membership::start(MembershipConfig {
            node_name: settings.node_name.clone(),
            cluster_id: settings.keys.cluster_name().to_string(),
            gossip_listen: settings.gossip_listen,
            gossip_advertise: settings.gossip_advertise,
            resp_addr: settings.announce,
            seeds: settings.seeds.clone(),
            weight: settings.weight,
            failure_timeout: settings.failure_timeout,
            gossip_interval: membership::GOSSIP_INTERVAL,
            seal,
        })
        .await?;
        let empty = ClusterView::build(
            0,
            Arc::new(Vec::new()),
            &settings.node_name,
            settings.vnodes,
            settings.replicas + 1,
        );
        let cluster = Arc::new(Cluster {
            peers: PeerPool::new(
                settings.keys.clone(),
                node.shutdown.clone(),
                node.config.read().tls.cluster.then(|| node.tls.clone()),
            ),
            view: ArcSwap::from_pointee(empty),
            hlc: Hlc::default(),
            imports: Imports::default(),
            handoffs: Handoffs::default(),
            stats: ClusterStats::default(),
            gossip_drops,
            repairs: repair::RepairStats::default(),
            departed: repair::Departed::default(),
            members: membership.subscribe(),
            membership,
            started: Instant::now(),
            skew_warnings: LogLimit::default(),
            ring_history: rejoin::RingHistory::default(),
            settings,
        });
        info!(
            node = %cluster.settings.node_name,
            gossip = %cluster.settings.gossip_listen,
            "cluster membership started"
        );
        tracking::install(&cluster, &node);
        tokio::spawn(follow_membership(cluster.clone(), node.clone()));
        tokio::spawn(handoff::run_worker(cluster.clone(), node.clone()));
        tokio::spawn(repair::run_worker(cluster.clone(), node.clone()));
        tokio::spawn(become_active(cluster.clone(), node.clone()));
        // Keyspace events about expired and evicted keys come from the
        // primary only; a replica's copies leave quietly. Weak: the node's
        // state must not keep the cluster alive.
        let weak = Arc::downgrade(&cluster);
        node.events.set_owner_filter(Box::new(move |key| {
            weak.upgrade()
                .is_some_and(|c| c.view().is_primary(ringcache_proto::key_slot(key)))
        }));
        if let Some(evictions) = node.store.log_evictions(EVICTION_LOG_CAPACITY) {
            tokio::spawn(replicate_evictions(
                cluster.clone(),
                node.clone(),
                evictions,
            ));
        }
        Ok(cluster)
    }

    /// Sends `command` to every other live member of the cluster, without
    /// waiting for their replies (fire and forget).
    pub fn send_to_other_nodes(&self, command: bytes::Bytes) {
        let view = self.view();
        for member in view.members.iter() {
            if member.name != self.settings.node_name {
                drop(self.peers.send(member.resp_addr, false, command.clone()));
            }
        }
    }

    /// The current view.
    #[inline]
    pub fn view(&self) -> arc_swap::Guard<Arc<ClusterView>> {
        self.view.load()
    }

    /// The current view, owned.
    pub fn view_full(&self) -> Arc<ClusterView> {
        self.view.load_full()
    }

    /// Seconds since the cluster layer started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Publishes the view of `members`; plans handoffs and imports, and
    /// invalidates what clients track in slots that got another primary,
    /// when the ring changed.
    fn apply_members(&self, node: &NodeState, members: Arc<Vec<membership::MemberInfo>>) {
        let old = self.view.load_full();
        let mut next = ClusterView::build(
            old.version,
            members,
            &self.settings.node_name,
            self.settings.vnodes,
            self.settings.replicas + 1,
        );
        if !next.ring_differs(&old) {
            handoff::prune(self, &next);
            self.view.store(Arc::new(next));
            return;
        }
        next.version = old.version + 1;
        let returning = self.ring_history.returning(&old, &next);
        let next = Arc::new(next);
        self.view.store(next.clone());
        let live: Vec<SocketAddr> = next.members.iter().map(|m| m.resp_addr).collect();
        self.peers.retain(&live);
        repair::after_ring_change(self, &old, &next);
        tracking::after_ring_change(node, &old, &next);
        info!(
            ring_version = next.version,
            nodes = next.placement.nodes().len(),
            owned = next.me.map_or(0, |me| next.placement.slot_counts(me).0),
            "ring changed"
        );
        if old.me.is_none() && next.me.is_some() {
            // Entering the ring: what this node must pull is what the
            // others own now, whatever this node's earlier views said.
            let others: Vec<_> = next
                .members
                .iter()
                .filter(|m| m.name != self.settings.node_name)
                .cloned()
                .collect();
            let before = ClusterView::build(
                old.version,
                Arc::new(others),
                &self.settings.node_name,
                self.settings.vnodes,
                self.settings.replicas + 1,
            );
            handoff::plan(self, &before, &next, &returning);
        } else {
            handoff::plan(self, &old, &next, &returning);
        }
    }

    /// Leaves the cluster gracefully: announces it, waits (bounded) until
    /// this node's slots are handed off, then stops gossip.
    pub async fn leave(&self) {
        info!(node = %self.settings.node_name, "leaving the cluster: handing off slots");
        self.set_state(MemberState::Leaving).await;
        let deadline = Instant::now() + LEAVE_TIMEOUT;
        // Wait for the ring without this node, then until new owners took
        // every slot it was primary of (they pull, then say so).
        while Instant::now() < deadline {
            let view = self.view();
            // Nobody left to take the slots (the whole cluster is stopping).
            let alone = !view
                .members
                .iter()
                .any(|m| m.name != self.settings.node_name && m.state == MemberState::Active);
            if view.me.is_none() && view.version > 0 && (self.handoffs.untaken() == 0 || alone) {
                break;
            }
            drop(view);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if self.handoffs.untaken() > 0 {
            warn!(
                untaken = self.handoffs.untaken(),
                "leaving before every slot was taken"
            );
        }
        self.membership.shutdown().await;
    }

    /// The cluster figures INFO and the metrics endpoint report, by name.
    pub fn figures(&self) -> Vec<(&'static str, u64)> {
        let view = self.view();
        let (primary, replica) = view.me.map_or((0, 0), |me| view.placement.slot_counts(me));
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let handoffs = &self.handoffs;
        let mut figures = vec![
            ("ring_version", view.version),
            ("nodes", view.placement.nodes().len() as u64),
            ("members", view.members.len() as u64),
            ("slots_primary", primary as u64),
            ("slots_replica", replica as u64),
            ("replicas", self.settings.replicas as u64),
            ("write_quorum", self.settings.write_quorum as u64),
            ("forwarded", load(&self.stats.forwarded)),
            ("redirected", load(&self.stats.redirected)),
            ("read_through", load(&self.stats.read_through)),
            ("replicated", load(&self.stats.replicated)),
            ("replicated_effects", load(&self.stats.effects_shipped)),
            ("replicated_effects_stale", load(&self.stats.effects_stale)),
            ("peer_request_failures", self.peers.failures()),
            ("peer_auth_refused", load(&self.stats.peer_auth_refused)),
            ("peer_auth_failed", self.peers.auth_failures()),
            ("replication_lag", self.peers.in_flight() as u64),
            ("applied", load(&self.stats.applied)),
            ("stale_refused", load(&self.stats.stale_refused)),
            ("versions_refused", load(&self.stats.versions_refused)),
            ("importing_slots", self.imports.len() as u64),
            (
                "handoff_slots_pending",
                handoffs.slots_pending.load(Ordering::Relaxed) as u64,
            ),
            ("handoff_slots_done", load(&handoffs.slots_done)),
            ("handoff_keys_received", load(&handoffs.keys_received)),
            ("handoff_keys_sent", load(&handoffs.keys_sent)),
            ("handoff_keys_dropped", load(&handoffs.keys_dropped)),
            ("repairs", load(&self.repairs.runs)),
            ("repair_keys_pushed", load(&self.repairs.keys)),
        ];
        figures.extend(self.gossip_drops.all().map(|(r, n)| (r.figure(), n)));
        figures
    }

    /// Applies a key state a peer sent (replication, transfer) unless the
    /// local copy is newer; returns whether it was applied.
    ///
    /// # Errors
    /// Its version is further ahead of this node's clock than the skew
    /// limit: refused (counted, logged at a rate limit) and not observed by
    /// the clock.
    pub fn apply_from_peer(
        &self,
        store: &Store,
        snapshot: Snapshot,
        peer: SocketAddr,
    ) -> Result<bool, AheadOfClock> {
        self.admit_version(hlc::Version(snapshot.version), peer)?;
        let applied = store.apply(snapshot);
        let counter = if applied {
            &self.stats.applied
        } else {
            &self.stats.stale_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(applied)
    }

    /// Takes note of a version a peer sent (its clock observes it).
    ///
    /// # Errors
    /// It is further ahead of this node's clock than the skew limit:
    /// refused (counted, logged at a rate limit) and not observed.
    pub fn admit_version(
        &self,
        version: hlc::Version,
        peer: SocketAddr,
    ) -> Result<(), AheadOfClock> {
        if let Some(ahead_ms) = version.too_far_ahead(unix_ms(), self.settings.max_clock_skew) {
            self.stats.versions_refused.fetch_add(1, Ordering::Relaxed);
            if let Some(suppressed) = self.skew_warnings.allow() {
                warn!(
                    %peer,
                    ahead_ms,
                    suppressed,
                    "refused a version ahead of the local clock by more than cluster-max-clock-skew"
                );
            }
            return Err(AheadOfClock(ahead_ms));
        }
        self.hlc.observe(version);
        Ok(())
    }

    /// Advertises this node's state.
    pub async fn set_state(&self, state: MemberState) {
        self.membership.set_state(state).await;
    }
}

/// Evicted keys waiting to be shipped to replicas as deletes.
const EVICTION_LOG_CAPACITY: usize = 65_536;
/// How often evicted keys are shipped.
const EVICTION_SHIP_PERIOD: Duration = Duration::from_millis(50);

/// Ships keys this node evicted as a primary to their replicas as deletes,
/// so replicas do not keep what the primary no longer has.
async fn replicate_evictions(
    cluster: Arc<Cluster>,
    node: Arc<NodeState>,
    evictions: std::sync::mpsc::Receiver<Vec<u8>>,
) {
    let mut shutdown = node.shutdown.listener();
    let mut keys = Vec::new();
    loop {
        tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep(EVICTION_SHIP_PERIOD) => {}
        }
        keys.extend(evictions.try_iter().take(EVICTION_LOG_CAPACITY));
        if !keys.is_empty() {
            // Confirmations are not awaited: an eviction has no client.
            let _ = replication::ship(&cluster, &node.store, keys.iter().map(Vec::as_slice), None);
            keys.clear();
        }
    }
}

/// Rebuilds the view on every membership change until shutdown.
async fn follow_membership(cluster: Arc<Cluster>, node: Arc<NodeState>) {
    let mut members = cluster.members.clone();
    let mut shutdown = node.shutdown.listener();
    let mut greeted = acl_sync::Greeted::default();
    loop {
        let current = members.borrow_and_update().clone();
        cluster.apply_members(&node, current.clone());
        greeted.greet(&cluster, &node, &current);
        tokio::select! {
            () = shutdown.wait() => return,
            changed = members.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Turns this node Active once it has heard from the cluster (or has no
/// seeds, or waited long enough): a node that took slots before it knew
/// the other members would think it owned every slot and serve them cold.
async fn become_active(cluster: Arc<Cluster>, node: Arc<NodeState>) {
    let deadline = Instant::now() + JOIN_WAIT;
    let mut shutdown = node.shutdown.listener();
    if !cluster.settings.seeds.is_empty() {
        let mut members = cluster.members.clone();
        let mut settled_at = Instant::now() + JOIN_SETTLE;
        loop {
            let others_active = members
                .borrow_and_update()
                .iter()
                .any(|m| m.name != cluster.settings.node_name && m.state == MemberState::Active);
            let now = Instant::now();
            if (others_active && now >= settled_at) || now >= deadline {
                break;
            }
            let wake = if others_active {
                settled_at.min(deadline)
            } else {
                deadline
            };
            tokio::select! {
                () = shutdown.wait() => return,
                changed = members.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    settled_at = Instant::now() + JOIN_SETTLE;
                }
                () = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }
    cluster.set_state(MemberState::Active).await;
    info!(node = %cluster.settings.node_name, "active in the ring");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_reachable_beyond_loopback_needs_a_secret() {
        let mut config = Config {
            cluster_enabled: true,
            ..Config::default()
        };
        assert!(check_secret(&config).is_ok(), "loopback needs none");
        config.bind = "0.0.0.0".parse().unwrap();
        let refused = check_secret(&config).unwrap_err();
        assert!(refused.contains("bound to 0.0.0.0"), "{refused}");
        assert!(refused.contains("--cluster-secret-file"), "{refused}");
        config.bind = "127.0.0.1".parse().unwrap();
        config.cluster_announce_ip = Some("10.0.0.5".parse().unwrap());
        assert!(check_secret(&config)
            .unwrap_err()
            .contains("announcing 10.0.0.5"));
        config.cluster_secret = Some("s".into());
        assert!(check_secret(&config).is_ok());
        config.cluster_secret = None;
        config.cluster_enabled = false;
        assert!(check_secret(&config).is_ok(), "not a cluster node");
    }
}
