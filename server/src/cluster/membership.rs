//! Cluster membership by gossip: each node advertises its name, RESP address,
//! state and weight through chitchat (scuttlebutt over UDP) and keeps a watch of
//! the live members, which changes when nodes join, leave, die or update keys.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chitchat::{
    spawn_chitchat, Chitchat, ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig,
    NodeState, ProtocolVersion,
};
use ringcache_proto::clock::{unix_nanos, Stamps};
use tokio::sync::{oneshot, watch, Mutex, Notify};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use super::sealed_transport::{Seal, SealedTransport};

/// Time between gossip rounds (the failure timeout, configurable, is
/// `failure-timeout` in the parameter table).
pub const GOSSIP_INTERVAL: Duration = Duration::from_millis(200);

// Keys this module owns. User keys get their own prefix so `set_key("state", ..)`
// cannot overwrite the advertised state.
const KEY_STATE: &str = "rc:state";
const KEY_RESP_ADDR: &str = "rc:resp_addr";
const KEY_WEIGHT: &str = "rc:weight";
// Set just before a graceful shutdown: peers drop the node at once instead of
// waiting for the failure detector (chitchat has no leave message of its own).
const KEY_LEFT: &str = "rc:left";
const USER_KEY_PREFIX: &str = "app:";

/// How often hostname seeds are resolved again, so a seed that was not yet in
/// DNS at start-up, or moved, is still found.
const SEED_REFRESH: Duration = Duration::from_secs(10);

/// How long a dead node's state, and a deleted key's tombstone, are kept. It
/// has no bearing on how fast a dead node leaves `members` (that happens when
/// it is declared dead). While kept, a dead node is still probed now and then,
/// so one cut off by a partition is found again when the partition heals; each
/// restart leaves one dead generation behind, so the state must not grow for
/// ever. 15 minutes is what chitchat's README suggests.
const DEAD_STATE_RETENTION: Duration = Duration::from_secs(15 * 60);

/// Weight chitchat gives its prior (`initial_interval`) when averaging heartbeat
/// intervals: `AdditiveSmoothing::prior_weight` in chitchat 0.13's
/// failure_detector.rs. It is hard-coded there; the detector bounds below
/// depend on it and the unit test `detector_bounds` checks the arithmetic.
const CHITCHAT_PRIOR_WEIGHT: f64 = 5.0;

/// A node's lifecycle as advertised to the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberState {
    /// Started, not yet serving its share of the ring.
    Joining,
    /// Serving its share of the ring.
    Active,
    /// Handing its data off before a graceful shutdown.
    Leaving,
}

impl MemberState {
    /// The value advertised through gossip.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Joining => "joining",
            MemberState::Active => "active",
            MemberState::Leaving => "leaving",
        }
    }

    /// Parses an advertised value; `None` for anything `as_str` does not produce.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "joining" => Some(MemberState::Joining),
            "active" => Some(MemberState::Active),
            "leaving" => Some(MemberState::Leaving),
            _ => None,
        }
    }
}

/// One live member as seen through gossip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// Stable node name (same across restarts).
    pub name: String,
    /// Where clients and peers reach its RESP port.
    pub resp_addr: SocketAddr,
    /// Where it gossips.
    pub gossip_addr: SocketAddr,
    /// Its advertised lifecycle state.
    pub state: MemberState,
    /// Its share of the ring relative to other members.
    pub weight: u32,
    /// Changes on every restart of the node (greater after a restart).
    pub generation: u64,
}

/// What a node needs to join the cluster.
#[derive(Clone, Debug)]
pub struct MembershipConfig {
    /// Stable node name, unique in the cluster and the same across restarts.
    pub node_name: String,
    /// Nodes only gossip with nodes of the same cluster id.
    pub cluster_id: String,
    /// UDP address the gossip socket binds.
    pub gossip_listen: SocketAddr,
    /// UDP address peers gossip to; its port must not be 0.
    pub gossip_advertise: SocketAddr,
    /// RESP address advertised to peers and clients.
    pub resp_addr: SocketAddr,
    /// Gossip addresses ("ip:port" or "host:port") of nodes to contact first.
    pub seeds: Vec<String>,
    /// Share of the ring relative to other members.
    pub weight: u32,
    /// A killed node disappears from `members` within this.
    pub failure_timeout: Duration,
    /// Time between gossip rounds.
    pub gossip_interval: Duration,
    /// Seals every datagram with the cluster key (and counts those dropped).
    pub seal: Seal,
}

/// A running membership: gossip in the background, a watch of live members.
///
/// Dropping it without [`Membership::shutdown`] stops gossip too, but without
/// the goodbye, so peers notice only after the failure timeout.
pub struct Membership {
    chitchat: Arc<Mutex<Chitchat>>,
    members_rx: watch::Receiver<Arc<Vec<MemberInfo>>>,
    local_change: Arc<Notify>,
    // Taken by the first shutdown; dropping the sender (with the whole
    // Membership) also stops the driver, without the goodbye.
    stop_tx: parking_lot::Mutex<Option<oneshot::Sender<()>>>,
    driver: parking_lot::Mutex<Option<JoinHandle<()>>>,
}

impl Membership {
    /// Binds the UDP socket and starts gossiping with state Joining.
    pub async fn start(config: MembershipConfig) -> io::Result<Membership> {
        validate(&config)?;
        let detector = detector_config(config.failure_timeout, config.gossip_interval);

        let (seed_addrs, dns_seeds) = resolve_seeds(&config).await;
        let chitchat_id = ChitchatId::new(
            config.node_name.clone(),
            next_generation(),
            config.gossip_advertise,
        );
        let chitchat_config = ChitchatConfig {
            chitchat_id,
            cluster_id: config.cluster_id.clone(),
            gossip_interval: config.gossip_interval,
            listen_addr: config.gossip_listen,
            // Only resolved addresses: given a hostname, chitchat spawns a DNS
            // task of its own that outlives shutdown by up to a minute.
            seed_nodes: seed_addrs.iter().map(ToString::to_string).collect(),
            failure_detector_config: detector,
            marked_for_deletion_grace_period: DEAD_STATE_RETENTION,
            catchup_callback: None,
            extra_liveness_predicate: None,
            // Every node of this product runs the same chitchat; V0 is the
            // format every chitchat version reads.
            protocol_version: ProtocolVersion::V0,
        };
        let initial_keys = vec![
            (
                KEY_STATE.to_string(),
                MemberState::Joining.as_str().to_string(),
            ),
            (KEY_RESP_ADDR.to_string(), config.resp_addr.to_string()),
            (KEY_WEIGHT.to_string(), config.weight.to_string()),
        ];
        let transport = SealedTransport::new(config.seal.clone());
        let handle = spawn_chitchat(chitchat_config, initial_keys, &transport)
            .await
            .map_err(|err| {
                // Keep the kind (AddrInUse, PermissionDenied) for the caller.
                let kind = err
                    .chain()
                    .find_map(|cause| cause.downcast_ref::<io::Error>())
                    .map_or(io::ErrorKind::Other, io::Error::kind);
                io::Error::new(kind, format!("{err:#}"))
            })?;

        let chitchat = handle.chitchat();
        let initial = {
            let guard = chitchat.lock().await;
            live_members(&guard, true)
        };
        let (members_tx, members_rx) = watch::channel(Arc::new(initial.members));
        let local_change = Arc::new(Notify::new());
        let (stop_tx, stop_rx) = oneshot::channel();
        let driver = Driver {
            handle,
            chitchat: chitchat.clone(),
            members_tx,
            fingerprint: initial.fingerprint,
            local_change: local_change.clone(),
            dns_seeds,
            advertise: config.gossip_advertise,
            goodbye_wait: config.gossip_interval.min(Duration::from_secs(1)),
        };
        let driver = tokio::spawn(driver.run(stop_rx));
        info!(
            node = %config.node_name,
            gossip = %config.gossip_advertise,
            seeds = ?seed_addrs,
            "gossip membership started"
        );
        Ok(Membership {
            chitchat,
            members_rx,
            local_change,
            stop_tx: parking_lot::Mutex::new(Some(stop_tx)),
            driver: parking_lot::Mutex::new(Some(driver)),
        })
    }

    /// Live members, self included, sorted by name; updated on every change
    /// (join, leave, death, state or key change). Only members whose advertised
    /// keys are complete and parse are included.
    ///
    /// The sender is dropped when the membership stops.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<MemberInfo>>> {
        self.members_rx.clone()
    }

    /// The current live members, as in [`Membership::subscribe`].
    pub fn members(&self) -> Arc<Vec<MemberInfo>> {
        self.members_rx.borrow().clone()
    }

    /// Advertises a new state (e.g. Active after start-up, Leaving on graceful shutdown).
    pub async fn set_state(&self, state: MemberState) {
        self.set_raw(KEY_STATE, state.as_str().to_string()).await;
    }

    /// Advertises an extra key/value (e.g. handoff progress).
    pub async fn set_key(&self, key: &str, value: String) {
        self.set_raw(&format!("{USER_KEY_PREFIX}{key}"), value)
            .await;
    }

    /// Reads a key advertised with [`Membership::set_key`] by a live member
    /// (the newest generation if several are live).
    pub async fn key_of(&self, member: &str, key: &str) -> Option<String> {
        let chitchat = self.chitchat.lock().await;
        let node = chitchat
            .live_nodes()
            .filter(|id| &*id.node_id == member)
            .filter_map(|id| chitchat.node_state(id))
            .filter(|state| state.get(KEY_LEFT).is_none())
            .max_by_key(|state| state.chitchat_id().generation_id)?;
        node.get(&format!("{USER_KEY_PREFIX}{key}"))
            .map(str::to_string)
    }

    /// Stops gossip: first tells the live peers it is leaving, so they drop it
    /// within about one gossip round instead of the failure timeout, then ends
    /// every background task and closes the socket before returning.
    /// Later calls return at once.
    pub async fn shutdown(&self) {
        // Send fails only if the driver already ended; nothing left to stop then.
        if let Some(stop) = self.stop_tx.lock().take() {
            let _ = stop.send(());
        }
        let driver = self.driver.lock().take();
        if let Some(driver) = driver {
            if let Err(err) = driver.await {
                error!(error = %err, "gossip membership task failed");
            }
        }
    }

    async fn set_raw(&self, key: &str, value: String) {
        self.chitchat.lock().await.self_node_state().set(key, value);
        // Chitchat would only report our own change at its next gossip round;
        // local readers should see it now.
        self.local_change.notify_one();
    }
}

/// The background task: owns the chitchat server and turns its live-node set
/// into the members watch.
struct Driver {
    handle: ChitchatHandle,
    chitchat: Arc<Mutex<Chitchat>>,
    members_tx: watch::Sender<Arc<Vec<MemberInfo>>>,
    fingerprint: Vec<(ChitchatId, u64)>,
    local_change: Arc<Notify>,
    dns_seeds: Vec<String>,
    advertise: SocketAddr,
    goodbye_wait: Duration,
}

impl Driver {
    async fn run(mut self, mut stop_rx: oneshot::Receiver<()>) {
        // Chitchat sends on this after every gossip round whose liveness check
        // changed the live set or the version of any live node's keys (not on
        // mere heartbeats), which covers joins, deaths and key changes.
        let mut live_rx = self.chitchat.lock().await.live_nodes_watcher();
        let terminated = self.handle.termination_watcher();
        tokio::pin!(terminated);
        let mut server_alive = true;
        let mut seed_refresh =
            tokio::time::interval_at(tokio::time::Instant::now() + SEED_REFRESH, SEED_REFRESH);
        seed_refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        let graceful = loop {
            tokio::select! {
                biased;
                stop = &mut stop_rx => break stop.is_ok(),
                result = &mut terminated, if server_alive => {
                    server_alive = false;
                    // Nothing updates liveness any more; listing the peers we
                    // last saw would keep dead nodes in the ring forever.
                    error!(?result, "gossip server stopped; only this node stays a member");
                }
                changed = live_rx.changed(), if server_alive => {
                    if changed.is_err() {
                        server_alive = false;
                    }
                }
                () = self.local_change.notified() => {}
                _ = seed_refresh.tick(), if server_alive && !self.dns_seeds.is_empty() => {
                    self.contact_dns_seeds().await;
                    continue;
                }
            }
            self.publish(server_alive).await;
        };

        if !server_alive {
            return;
        }
        if graceful {
            self.say_goodbye().await;
            if let Err(err) = self.handle.shutdown().await {
                warn!(error = %format!("{err:#}"), "gossip server did not stop cleanly");
            }
        } else {
            // The Membership was dropped: stop at once, like a crash.
            self.handle.abort();
        }
        debug!("gossip membership stopped");
    }

    async fn publish(&mut self, server_alive: bool) {
        let snapshot = {
            let chitchat = self.chitchat.lock().await;
            live_members(&chitchat, server_alive)
        };
        // A change of only a user key leaves the list equal, but subscribers
        // still need waking to read it with `key_of`.
        if snapshot.fingerprint == self.fingerprint {
            return;
        }
        self.fingerprint = snapshot.fingerprint;
        let members = snapshot.members;
        self.members_tx.send_if_modified(move |current| {
            if **current != members {
                info!(members = %describe(&members), "cluster membership changed");
            }
            *current = Arc::new(members);
            true
        });
    }

    async fn say_goodbye(&self) {
        let peers: HashSet<SocketAddr> = {
            let mut chitchat = self.chitchat.lock().await;
            chitchat.self_node_state().set(KEY_LEFT, "1");
            let self_id = chitchat.self_chitchat_id().clone();
            chitchat
                .live_nodes()
                .filter(|id| **id != self_id)
                .map(|id| id.gossip_advertise_addr)
                .collect()
        };
        // A peer learns our new key from the Ack we send after its SynAck, so
        // the server must keep running for a round trip after these syns; the
        // wait also lets peers that gossip with us on their own pick it up.
        for peer in peers {
            if self.handle.gossip(peer).is_err() {
                return;
            }
        }
        tokio::time::sleep(self.goodbye_wait).await;
    }

    async fn contact_dns_seeds(&self) {
        for seed in &self.dns_seeds {
            for addr in resolve_host(seed, self.advertise).await {
                if addr != self.advertise && self.handle.gossip(addr).is_err() {
                    return;
                }
            }
        }
    }
}

struct Snapshot {
    members: Vec<MemberInfo>,
    // What any change a subscriber cares about alters: the listed nodes and
    // the versions of their keys (heartbeats do not count).
    fingerprint: Vec<(ChitchatId, u64)>,
}

/// Live, complete members, one per name (the newest generation), sorted by name.
fn live_members(chitchat: &Chitchat, server_alive: bool) -> Snapshot {
    let self_id = chitchat.self_chitchat_id();
    let mut by_name: BTreeMap<&str, (MemberInfo, u64)> = BTreeMap::new();
    // `live_nodes` leaves out nodes the failure detector holds dead, even
    // though their state stays around until it is garbage collected.
    for id in chitchat.live_nodes() {
        if !server_alive && id != self_id {
            continue;
        }
        let Some(state) = chitchat.node_state(id) else {
            continue;
        };
        let Some(member) = member_from_state(id, state) else {
            continue;
        };
        let entry = (member, state.max_version());
        match by_name.entry(&*id.node_id) {
            Entry::Vacant(slot) => {
                slot.insert(entry);
            }
            // A restarted node is live under two generations until the old
            // one is declared dead.
            Entry::Occupied(mut slot) => {
                if entry.0.generation > slot.get().0.generation {
                    slot.insert(entry);
                }
            }
        }
    }
    let mut members = Vec::with_capacity(by_name.len());
    let mut fingerprint = Vec::with_capacity(by_name.len());
    for (member, version) in by_name.into_values() {
        fingerprint.push((
            ChitchatId::new(member.name.clone(), member.generation, member.gossip_addr),
            version,
        ));
        members.push(member);
    }
    Snapshot {
        members,
        fingerprint,
    }
}

fn member_from_state(id: &ChitchatId, state: &NodeState) -> Option<MemberInfo> {
    if state.get(KEY_LEFT).is_some() {
        return None;
    }
    Some(MemberInfo {
        name: id.node_id.to_string(),
        resp_addr: state.get(KEY_RESP_ADDR)?.parse().ok()?,
        gossip_addr: id.gossip_advertise_addr,
        state: MemberState::parse(state.get(KEY_STATE)?)?,
        weight: state
            .get(KEY_WEIGHT)?
            .parse()
            .ok()
            .filter(|w| (1..=ringcache_proto::ring::MAX_WEIGHT).contains(w))?,
        generation: id.generation_id,
    })
}

fn describe(members: &[MemberInfo]) -> String {
    let parts: Vec<String> = members
        .iter()
        .map(|m| format!("{}({},{})", m.name, m.state.as_str(), m.resp_addr))
        .collect();
    parts.join(" ")
}

fn validate(config: &MembershipConfig) -> io::Result<()> {
    let invalid = |msg: &str| -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::InvalidInput, msg.to_string()))
    };
    if config.node_name.is_empty() {
        return invalid("membership: node_name is empty");
    }
    if config.gossip_interval.is_zero() {
        return invalid("membership: gossip_interval is zero");
    }
    if config.failure_timeout.is_zero() {
        return invalid("membership: failure_timeout is zero");
    }
    // Peers learn the address before the socket is bound, so it cannot be
    // picked by the OS.
    if config.gossip_advertise.port() == 0 {
        return invalid("membership: gossip_advertise needs an explicit port");
    }
    Ok(())
}

/// A generation greater than that of any earlier start of this node, as long as
/// the clock does not go back; unique within the process even when two starts
/// share a clock tick.
fn next_generation() -> u64 {
    static GENERATIONS: Stamps = Stamps::new();
    GENERATIONS.next(unix_nanos())
}

/// Splits seeds into resolved addresses and the hostname seeds to resolve again later.
async fn resolve_seeds(config: &MembershipConfig) -> (Vec<SocketAddr>, Vec<String>) {
    let mut addrs = Vec::new();
    let mut hostnames = Vec::new();
    for seed in &config.seeds {
        let seed = seed.trim();
        if seed.is_empty() {
            continue;
        }
        if let Ok(addr) = seed.parse::<SocketAddr>() {
            addrs.push(addr);
        } else {
            addrs.extend(resolve_host(seed, config.gossip_advertise).await);
            hostnames.push(seed.to_string());
        }
    }
    addrs.sort_unstable();
    addrs.dedup();
    (addrs, hostnames)
}

/// Addresses of `seed` in the family of our own socket (the other family
/// cannot be reached from it and would only fill the log with send errors).
async fn resolve_host(seed: &str, own: SocketAddr) -> Vec<SocketAddr> {
    match tokio::net::lookup_host(seed).await {
        Ok(found) => found.filter(|a| a.is_ipv4() == own.is_ipv4()).collect(),
        Err(err) => {
            warn!(seed, error = %err, "cannot resolve gossip seed");
            Vec::new()
        }
    }
}

/// Failure detector settings that declare a silent node dead after a bounded
/// silence, whatever heartbeat rate is observed.
///
/// Chitchat 0.13's "phi" is `silence / mean`, where `silence` is the time since
/// the node's heartbeat last went up and `mean` is the average of the last
/// `sampling_window_size` heartbeat intervals with `initial_interval` added as
/// CHITCHAT_PRIOR_WEIGHT (5) extra samples; intervals over `max_interval` are
/// not recorded. A node is dead once phi exceeds `phi_threshold`, checked at
/// the end of each gossip round. The observed intervals are far shorter than a
/// gossip round and vary with cluster size (every message a node handles bumps
/// its heartbeat, and third parties relay it): in a 3-node cluster at 200 ms
/// they average ~50 ms, so the default threshold of 8 would kill a node after
/// 400 ms of silence, i.e. on a scheduling hiccup. So the prior is made to
/// dominate and the samples are capped, which pins the timeout into a band:
///
/// - window W = 5 (= the prior weight), max_interval M = g, initial_interval
///   p = 4g: mean = (sum + 5p) / (n + 5) with n <= W samples each <= M, so
///   mean lies in [5p/10, (5M + 5p)/10] = [2g, 2.5g] (fewer samples give the
///   same bounds because M < p).
/// - silence before death D = threshold * mean lies in [0.8 Dmax, Dmax] with
///   threshold = Dmax / 2.5g.
/// - Dmax = 0.9 T - 3g: the silence starts when the crashed node's last
///   heartbeat reaches us, which can be up to two rounds after the crash when
///   it is relayed by a third node or the crash falls mid-round, and it is
///   noticed at the end of a round, up to one more round late; the remaining
///   tenth of T is slack for a loaded scheduler.
///
/// For T = 3 s and g = 200 ms: Dmax = 2.1 s, threshold 4.2, D in [1.68 s,
/// 2.1 s], so a killed node is gone within 0.9 T = 2.7 s (1.8 to 2.6 s
/// measured on loopback), and a live node must be silent for over 1.6 s
/// (eight rounds) to be declared dead.
fn detector_config(failure_timeout: Duration, gossip_interval: Duration) -> FailureDetectorConfig {
    let g = gossip_interval.as_secs_f64();
    let timeout = failure_timeout.as_secs_f64();
    let mut max_silence = 0.9 * timeout - 3.0 * g;
    if max_silence < 2.0 * g {
        // The timeout cannot be kept with rounds this far apart; detection
        // falls back to about two rounds of silence and nodes may flap.
        warn!(
            ?failure_timeout,
            ?gossip_interval,
            "failure_timeout too short for gossip_interval (needs about 5.6 rounds)"
        );
        max_silence = 2.0 * g;
    }
    let max_interval = gossip_interval;
    let initial_interval = gossip_interval * 4;
    let window = 5;
    let max_mean = (window as f64 * max_interval.as_secs_f64()
        + CHITCHAT_PRIOR_WEIGHT * initial_interval.as_secs_f64())
        / (window as f64 + CHITCHAT_PRIOR_WEIGHT);
    FailureDetectorConfig {
        phi_threshold: max_silence / max_mean,
        sampling_window_size: window,
        max_interval,
        initial_interval,
        dead_node_grace_period: DEAD_STATE_RETENTION,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// The default of the `failure-timeout` parameter.
    const FAILURE_TIMEOUT: Duration = Duration::from_secs(3);
    /// Bound for anything that needs only a few gossip rounds.
    const CONVERGE: Duration = Duration::from_secs(10);
    /// Allowed beyond the failure timeout for the watch and a loaded test machine.
    const SLACK: Duration = Duration::from_millis(500);

    fn free_udp_port() -> u16 {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral port");
        socket.local_addr().expect("local addr").port()
    }

    fn localhost(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn config(name: &str, gossip_port: u16, resp_port: u16, seed: Option<u16>) -> MembershipConfig {
        MembershipConfig {
            node_name: name.to_string(),
            cluster_id: "ringcache-test".to_string(),
            gossip_listen: localhost(gossip_port),
            gossip_advertise: localhost(gossip_port),
            resp_addr: localhost(resp_port),
            seeds: seed.map(|p| localhost(p).to_string()).into_iter().collect(),
            weight: 100,
            failure_timeout: FAILURE_TIMEOUT,
            gossip_interval: GOSSIP_INTERVAL,
            seal: test_seal(),
        }
    }

    fn test_seal() -> Seal {
        let keys = crate::cluster::secret::ClusterKeys::derive(Some("test"), "ringcache-test");
        Seal::new(keys, Duration::from_secs(60))
    }

    /// Starts, retrying while the port is still held by a node that was just
    /// dropped (its socket closes when its task is torn down).
    async fn start_retrying(config: MembershipConfig) -> Membership {
        let deadline = Instant::now() + CONVERGE;
        loop {
            match Membership::start(config.clone()).await {
                Ok(m) => return m,
                Err(err) if err.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(err) => panic!("start {}: {err}", config.node_name),
            }
        }
    }

    /// Three nodes on fresh ports, the first one the seed of the others; c
    /// names it by hostname, which resolves to both 127.0.0.1 and ::1.
    async fn three_nodes() -> Vec<Membership> {
        let seed_port = free_udp_port();
        let a = start_retrying(config("a", seed_port, 7001, None)).await;
        let b = start_retrying(config("b", free_udp_port(), 7002, Some(seed_port))).await;
        let mut c_config = config("c", free_udp_port(), 7003, None);
        c_config.seeds = vec![format!("localhost:{seed_port}")];
        let c = start_retrying(c_config).await;
        vec![a, b, c]
    }

    /// Waits on the watch (not on a timer) until `pred` holds, or panics.
    async fn wait_for(
        node: &Membership,
        what: &str,
        within: Duration,
        pred: impl FnMut(&Arc<Vec<MemberInfo>>) -> bool,
    ) -> Arc<Vec<MemberInfo>> {
        let mut rx = node.subscribe();
        let outcome = match tokio::time::timeout(within, rx.wait_for(pred)).await {
            Ok(Ok(members)) => Ok(members.clone()),
            Ok(Err(_)) => Err("membership stopped".to_string()),
            Err(_) => Err(format!(
                "not within {within:?}; last view {:?}",
                node.members()
            )),
        };
        outcome.unwrap_or_else(|err| panic!("{what}: {err}"))
    }

    fn names_and_states(members: &[MemberInfo]) -> Vec<(&str, MemberState)> {
        members.iter().map(|m| (m.name.as_str(), m.state)).collect()
    }

    fn all_active(members: &Arc<Vec<MemberInfo>>) -> bool {
        names_and_states(members)
            == [
                ("a", MemberState::Active),
                ("b", MemberState::Active),
                ("c", MemberState::Active),
            ]
    }

    async fn activate_all(nodes: &[Membership]) {
        for node in nodes {
            node.set_state(MemberState::Active).await;
        }
        for node in nodes {
            wait_for(node, "all three active", CONVERGE, all_active).await;
        }
    }

    /// The port is free again only once the gossip task dropped its socket.
    fn port_is_free(port: u16) -> bool {
        std::net::UdpSocket::bind(localhost(port)).is_ok()
    }

    #[test]
    fn state_round_trips() {
        for state in [
            MemberState::Joining,
            MemberState::Active,
            MemberState::Leaving,
        ] {
            assert_eq!(MemberState::parse(state.as_str()), Some(state));
        }
        assert_eq!(MemberState::parse("Active"), None);
        assert_eq!(MemberState::parse(""), None);
    }

    #[test]
    fn detector_bounds() {
        let g = GOSSIP_INTERVAL.as_secs_f64();
        let t = FAILURE_TIMEOUT.as_secs_f64();
        let cfg = detector_config(FAILURE_TIMEOUT, GOSSIP_INTERVAL);
        let p = cfg.initial_interval.as_secs_f64();
        let m = cfg.max_interval.as_secs_f64();
        let w = cfg.sampling_window_size as f64;
        let min_mean = CHITCHAT_PRIOR_WEIGHT * p / (w + CHITCHAT_PRIOR_WEIGHT);
        let max_mean = (w * m + CHITCHAT_PRIOR_WEIGHT * p) / (w + CHITCHAT_PRIOR_WEIGHT);
        let min_silence = cfg.phi_threshold * min_mean;
        let max_silence = cfg.phi_threshold * max_mean;
        // Detected within the timeout even when the last heartbeat arrives two
        // rounds after the crash and death is noticed a round late...
        assert!(max_silence + 3.0 * g <= t, "max silence {max_silence}");
        // ...and a node survives far more than a 300 ms stall.
        assert!(min_silence >= 1.5, "min silence {min_silence}");
    }

    #[tokio::test]
    async fn rejects_unusable_config() {
        let mut bad = config("x", free_udp_port(), 7000, None);
        bad.gossip_interval = Duration::ZERO;
        let err = Membership::start(bad).await.err().expect("zero interval");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

        let mut bad = config("x", 0, 7000, None);
        bad.gossip_listen = localhost(free_udp_port());
        let err = Membership::start(bad)
            .await
            .err()
            .expect("advertised port 0");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_members_converge_and_share_keys() {
        let nodes = three_nodes().await;
        // Self is listed at once, before any gossip.
        assert_eq!(
            names_and_states(&nodes[1].members()),
            [("b", MemberState::Joining)]
        );

        activate_all(&nodes).await;
        let view = nodes[2].members();
        assert_eq!(view[0].resp_addr, localhost(7001));
        assert_eq!(view[0].gossip_addr, nodes_gossip_addr(&nodes[0]).await);
        assert_eq!(view[1].weight, 100);

        // A key change wakes subscribers even though the list stays equal.
        let mut rx = nodes[0].subscribe();
        rx.borrow_and_update();
        nodes[1].set_key("handoff", "42".to_string()).await;
        let seen = tokio::time::timeout(CONVERGE, async {
            loop {
                rx.changed().await.expect("membership running");
                if let Some(v) = nodes[0].key_of("b", "handoff").await {
                    return v;
                }
            }
        })
        .await
        .expect("key seen by a within the deadline");
        assert_eq!(seen, "42");
        assert_eq!(nodes[1].key_of("b", "handoff").await.as_deref(), Some("42"));
        assert_eq!(nodes[0].key_of("b", "missing").await, None);
        assert_eq!(nodes[0].key_of("nobody", "handoff").await, None);
        // User keys cannot clobber the advertised state.
        nodes[1].set_key("state", "bogus".to_string()).await;
        assert_eq!(nodes[1].members()[1].state, MemberState::Active);

        for node in nodes {
            node.shutdown().await;
        }
    }

    async fn nodes_gossip_addr(node: &Membership) -> SocketAddr {
        node.chitchat
            .lock()
            .await
            .self_chitchat_id()
            .gossip_advertise_addr
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn killed_member_vanishes_and_restarts_under_same_name() {
        let mut nodes = three_nodes().await;
        activate_all(&nodes).await;
        let c_config = config(
            "c",
            nodes_gossip_addr(&nodes[2]).await.port(),
            7003,
            Some(nodes_gossip_addr(&nodes[0]).await.port()),
        );
        let first_generation = nodes[2].members()[2].generation;

        // Dropping is the crash: no goodbye, the gossip task is aborted.
        let killed_at = Instant::now();
        drop(nodes.pop());
        let gone_from = |node| async move {
            wait_for(node, "killed c gone", FAILURE_TIMEOUT + SLACK, |m| {
                m.iter().all(|member| member.name != "c")
            })
            .await;
            killed_at.elapsed()
        };
        let (at_a, at_b) = tokio::join!(gone_from(&nodes[0]), gone_from(&nodes[1]));
        println!("killed member gone after {at_a:?} at a, {at_b:?} at b (failure_timeout {FAILURE_TIMEOUT:?})");
        for took in [at_a, at_b] {
            assert!(took <= FAILURE_TIMEOUT + SLACK, "detected after {took:?}");
            // Much faster would mean the detector is tight enough to flap.
            assert!(
                took >= Duration::from_secs(1),
                "detected after only {took:?}"
            );
        }

        // Restart on the same port: a new generation, listed once.
        let restarted = start_retrying(c_config.clone()).await;
        restarted.set_state(MemberState::Active).await;
        let mut second_generation = 0;
        for node in &nodes {
            let view = wait_for(node, "restarted c back", CONVERGE, all_active).await;
            second_generation = view[2].generation;
            assert!(second_generation > first_generation);
        }

        // Crash and restart again at once: peers still hold the old generation
        // live, so both are live until the old one is detected dead.
        drop(restarted);
        let restarted = start_retrying(c_config).await;
        restarted.set_state(MemberState::Active).await;
        let mut third_generation = 0;
        for node in &nodes {
            let view = wait_for(node, "quickly restarted c", CONVERGE, |m| {
                all_active(m) && m[2].generation > second_generation
            })
            .await;
            third_generation = view[2].generation;
        }
        // Through the old generation's death, c stays listed, once, as the newest.
        let mut rx = nodes[0].subscribe();
        let observe_until = tokio::time::Instant::now() + FAILURE_TIMEOUT + SLACK;
        loop {
            {
                let view = rx.borrow_and_update();
                assert!(
                    all_active(&view),
                    "view during old generation's death: {view:?}"
                );
                assert_eq!(view[2].generation, third_generation);
            }
            match tokio::time::timeout_at(observe_until, rx.changed()).await {
                Ok(changed) => changed.expect("membership running"),
                Err(_) => break,
            }
        }

        restarted.shutdown().await;
        for node in nodes {
            node.shutdown().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stalled_member_is_not_declared_dead() {
        let seed_port = free_udp_port();
        let a = start_retrying(config("a", seed_port, 7001, None)).await;
        let b = start_retrying(config("b", free_udp_port(), 7002, Some(seed_port))).await;

        // c runs on a runtime of its own, so blocking that runtime's thread
        // freezes everything c does, as a long scheduling stall would.
        let c_config = config("c", free_udp_port(), 7003, Some(seed_port));
        let (stall_tx, mut stall_rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
        let c_thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for c");
            runtime.block_on(async move {
                let c = start_retrying(c_config).await;
                c.set_state(MemberState::Active).await;
                while let Some(stall) = stall_rx.recv().await {
                    std::thread::sleep(stall);
                }
                c.shutdown().await;
            });
        });

        a.set_state(MemberState::Active).await;
        b.set_state(MemberState::Active).await;
        for node in [&a, &b] {
            wait_for(node, "all three active", CONVERGE, all_active).await;
        }

        let stall = Duration::from_secs(1);
        stall_tx.send(stall).expect("c is running");
        let mut rx = a.subscribe();
        let observe_until = tokio::time::Instant::now() + stall + Duration::from_secs(1);
        loop {
            {
                let view = rx.borrow_and_update();
                assert!(all_active(&view), "view while c stalls: {view:?}");
            }
            match tokio::time::timeout_at(observe_until, rx.changed()).await {
                Ok(changed) => changed.expect("membership running"),
                Err(_) => break,
            }
        }

        drop(stall_tx);
        tokio::task::spawn_blocking(move || c_thread.join())
            .await
            .expect("join task")
            .expect("c thread");
        a.shutdown().await;
        b.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leaving_is_visible_and_shutdown_is_quick_and_complete() {
        let mut nodes = three_nodes().await;
        activate_all(&nodes).await;

        nodes[2].set_state(MemberState::Leaving).await;
        for node in &nodes {
            wait_for(node, "c leaving", CONVERGE, |m| {
                m.len() == 3 && m[2].name == "c" && m[2].state == MemberState::Leaving
            })
            .await;
        }

        let c = nodes.pop().expect("three nodes");
        let c_port = nodes_gossip_addr(&c).await.port();
        let c_watch = c.subscribe();
        let started = Instant::now();
        tokio::time::timeout(CONVERGE, c.shutdown())
            .await
            .expect("shutdown finishes");
        println!("graceful shutdown took {:?}", started.elapsed());
        // Everything has stopped: the socket is closed and the watch sender gone.
        assert!(port_is_free(c_port));
        assert!(c_watch.has_changed().is_err());

        for node in &nodes {
            wait_for(node, "left c gone", FAILURE_TIMEOUT, |m| {
                m.iter().all(|member| member.name != "c")
            })
            .await;
            println!(
                "gracefully stopped member gone after {:?}",
                started.elapsed()
            );
        }
        // Well before the failure detector would have noticed.
        assert!(started.elapsed() < Duration::from_millis(1500));
        for node in nodes {
            node.shutdown().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_with_incomplete_keys_are_not_listed() {
        let a_port = free_udp_port();
        let a = start_retrying(config("a", a_port, 7001, None)).await;
        a.set_state(MemberState::Active).await;

        // A bare chitchat node that advertises a state but no RESP address.
        let bare_port = free_udp_port();
        let bare_config = ChitchatConfig {
            chitchat_id: ChitchatId::new("bare", 1, localhost(bare_port)),
            cluster_id: "ringcache-test".to_string(),
            gossip_interval: GOSSIP_INTERVAL,
            listen_addr: localhost(bare_port),
            seed_nodes: vec![localhost(a_port).to_string()],
            failure_detector_config: detector_config(FAILURE_TIMEOUT, GOSSIP_INTERVAL),
            marked_for_deletion_grace_period: DEAD_STATE_RETENTION,
            catchup_callback: None,
            extra_liveness_predicate: None,
            protocol_version: ProtocolVersion::V0,
        };
        let keys = vec![(KEY_STATE.to_string(), "active".to_string())];
        let bare = spawn_chitchat(bare_config, keys, &SealedTransport::new(test_seal()))
            .await
            .expect("bare node starts");

        let deadline = Instant::now() + CONVERGE;
        loop {
            let live = a
                .chitchat
                .lock()
                .await
                .live_nodes()
                .any(|id| &*id.node_id == "bare");
            if live {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "bare node never became live at a"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(names_and_states(&a.members()), [("a", MemberState::Active)]);

        // Once it advertises the rest, it is listed.
        bare.with_chitchat(|c| {
            c.self_node_state().set(KEY_RESP_ADDR, "127.0.0.1:7009");
            c.self_node_state().set(KEY_WEIGHT, "5");
        })
        .await;
        let view = wait_for(&a, "bare complete", CONVERGE, |m| m.len() == 2).await;
        assert_eq!(view[1].name, "bare");
        assert_eq!(view[1].resp_addr, localhost(7009));

        bare.shutdown().await.expect("bare node stops");
        a.shutdown().await;
    }
}
