//! Warm rebalancing, pulled by the new owners. When the ring changes, each
//! node works out from its own view which slots it now owns but did not
//! before, and from whom to take them: the first owner of the old ring that
//! is still alive (a leaving node stays alive until its slots are taken).
//! It pulls those slots' entries (value, absolute expiry, version) shard by
//! shard with `RCEXPORT`, in bounded pages at a bounded rate, applies them
//! unless it holds newer versions, and acknowledges with `RCHANDOFF`.
//! While a slot is importing, a miss on it reads through to the previous
//! owner, so a join or a leave does not turn the cache cold.
//!
//! Because the importer drives the transfer from its own view, a transfer
//! never waits on a plan another node made from a different view. The same
//! path restores the copy count after a failure: a node that becomes an
//! owner because another died simply pulls from a surviving copy. And it
//! reconciles after a partition: a node pulls the slots it shares with a
//! member back under the same generation ([`super::rejoin`]), from that
//! member, whichever side it was on. Keys of slots a node no longer owns
//! are dropped once the ring has been stable for a while (long enough for
//! the new owners to pull them).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use parking_lot::{Mutex, RwLock};
use ringcache_proto::key_slot;
use ringcache_proto::ring::NodeIndex;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

pub use super::wire::encode_page;

use super::view::ClusterView;
use super::{wire, Cluster};
use crate::state::NodeState;

/// Longest a slot stays importing if its transfer never finishes.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the ring must stay unchanged before keys of slots moved away
/// are dropped (new owners pull within seconds).
const STABLE_BEFORE_DROP: Duration = Duration::from_secs(10);
/// Longest one page request may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Slots this node imports, each with its previous owner's address.
#[derive(Debug, Default)]
pub struct Imports {
    slots: RwLock<HashMap<u16, (SocketAddr, Instant)>>,
    count: AtomicUsize,
}

impl Imports {
    /// The previous owner to read `slot` through from, if it is importing.
    #[inline]
    pub fn source(&self, slot: u16) -> Option<SocketAddr> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let slots = self.slots.read();
        let (addr, deadline) = slots.get(&slot)?;
        (Instant::now() < *deadline).then_some(*addr)
    }

    /// Number of slots importing.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// True when nothing is importing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks slots complete.
    pub fn finish(&self, done: &[u16]) {
        let mut slots = self.slots.write();
        for slot in done {
            slots.remove(slot);
        }
        self.count.store(slots.len(), Ordering::Relaxed);
    }

    fn replace(&self, next: HashMap<u16, (SocketAddr, Instant)>) {
        let mut slots = self.slots.write();
        *slots = next;
        self.count.store(slots.len(), Ordering::Relaxed);
    }
}

/// One transfer: these slots from that node.
#[derive(Debug, Clone)]
struct Job {
    source: String,
    addr: SocketAddr,
    slots: Vec<u16>,
    ring_version: u64,
}

/// The queue of transfers, their progress, and what a leaving node waits for.
#[derive(Debug, Default)]
pub struct Handoffs {
    queue: Mutex<VecDeque<Job>>,
    wake: Notify,
    running: AtomicUsize,
    /// When the ring last changed.
    changed_at: Mutex<Option<Instant>>,
    /// Slots this node was primary of before it left the ring, not yet
    /// taken by a new owner.
    untaken: Mutex<HashSet<u16>>,
    /// Slots waiting or being pulled.
    pub slots_pending: AtomicUsize,
    /// Entries pulled from previous owners.
    pub keys_received: AtomicU64,
    /// Entries served to new owners.
    pub keys_sent: AtomicU64,
    /// Slots pulled completely.
    pub slots_done: AtomicU64,
    /// Keys dropped after their slots moved away.
    pub keys_dropped: AtomicU64,
}

impl Handoffs {
    /// True when no transfer waits or runs.
    pub fn is_idle(&self) -> bool {
        self.running.load(Ordering::Acquire) == 0 && self.queue.lock().is_empty()
    }

    /// Slots of a leaving node that no new owner has taken yet.
    pub fn untaken(&self) -> usize {
        self.untaken.lock().len()
    }

    /// A new owner took these slots.
    pub fn taken(&self, slots: &[u16]) {
        let mut untaken = self.untaken.lock();
        for slot in slots {
            untaken.remove(slot);
        }
    }

    /// Queues `job`, or merges it into the job still waiting for the same
    /// source (at the newer ring version), so a member that flaps while
    /// its transfers run adds at most one job per source to the queue.
    fn push(&self, mut job: Job) {
        let mut queue = self.queue.lock();
        let added = match queue.iter_mut().find(|queued| queued.source == job.source) {
            Some(queued) => {
                let before = queued.slots.len();
                let held: HashSet<u16> = queued.slots.iter().copied().collect();
                job.slots.retain(|slot| !held.contains(slot));
                queued.slots.append(&mut job.slots);
                queued.addr = job.addr;
                queued.ring_version = queued.ring_version.max(job.ring_version);
                queued.slots.len() - before
            }
            None => {
                let added = job.slots.len();
                queue.push_back(job);
                added
            }
        };
        drop(queue);
        self.slots_pending.fetch_add(added, Ordering::Relaxed);
        self.wake.notify_one();
    }
}

/// The first owner in `owners` (of the old view) still alive in the new one.
fn surviving_owner<'a>(
    old: &'a ClusterView,
    next: &ClusterView,
    owners: &[NodeIndex],
) -> Option<&'a str> {
    owners
        .iter()
        .map(|&node| old.name(node))
        .find(|name| next.member(name).is_some())
}

/// Works out, for the change from `old` to `next`, which slots this node
/// pulls and from whom; `returning` names the ring members back from a
/// partition (see [`super::rejoin`]).
pub fn plan(cluster: &Cluster, old: &ClusterView, next: &ClusterView, returning: &HashSet<String>) {
    *cluster.handoffs.changed_at.lock() = Some(Instant::now());
    let me = cluster.settings.node_name.as_str();
    if let (Some(was), None) = (old.me, next.me) {
        // Leaving the ring: remember the slots new owners must take from us.
        let mut untaken = cluster.handoffs.untaken.lock();
        untaken.clear();
        // Only slots gaining an owner that held no copy need a transfer; the
        // others' remaining owners already hold them.
        untaken.extend((0..ringcache_proto::SLOT_COUNT).filter(|&s| {
            old.placement.primary(s) == Some(was)
                && next.placement.owners(s).iter().any(|&n| {
                    let name = next.name(n);
                    !old.placement.owners(s).iter().any(|&o| old.name(o) == name)
                })
        }));
    }
    let mut jobs: HashMap<String, Job> = HashMap::new();
    let mut imports = HashMap::new();
    let deadline = Instant::now() + IMPORT_TIMEOUT;
    if !old.placement.nodes().is_empty() && next.me.is_some() {
        for slot in 0..ringcache_proto::SLOT_COUNT {
            let old_owners = old.placement.owners(slot);
            if !next.is_owner(slot) || old_owners.iter().any(|&n| old.name(n) == me) {
                continue;
            }
            let Some(source) = surviving_owner(old, next, old_owners) else {
                continue;
            };
            let Some(member) = next.member(source) else {
                continue;
            };
            imports.insert(slot, (member.resp_addr, deadline));
            add_to_job(&mut jobs, source, member.resp_addr, next.version, slot);
        }
    }
    if next.me.is_some() && !returning.is_empty() {
        reconcile(next, me, returning, deadline, &mut jobs, &mut imports);
    }
    // Slots still importing from an earlier change stay importing while this
    // node owns them and their source is alive (their transfer is queued).
    for (slot, entry) in cluster.imports.slots.read().iter() {
        let source_alive = next.members.iter().any(|m| m.resp_addr == entry.0);
        if next.is_owner(*slot) && source_alive && !imports.contains_key(slot) {
            imports.insert(*slot, *entry);
        }
    }
    let importing = imports.len();
    cluster.imports.replace(imports);
    if importing > 0 {
        info!(
            ring_version = next.version,
            importing,
            sources = jobs.len(),
            "slot import planned"
        );
    }
    for job in jobs.into_values() {
        cluster.handoffs.push(job);
    }
    cluster.handoffs.wake.notify_one();
}

fn add_to_job(
    jobs: &mut HashMap<String, Job>,
    source: &str,
    addr: SocketAddr,
    ring_version: u64,
    slot: u16,
) {
    let job = jobs.entry(source.to_string()).or_insert_with(|| Job {
        source: source.to_string(),
        addr,
        slots: Vec::new(),
        ring_version,
    });
    // Slots are planned in increasing order: a repeat is the last one.
    if job.slots.last() != Some(&slot) {
        job.slots.push(slot);
    }
}

/// Adds, for every slot this node owns in `next`, a pull from each
/// co-owner in `returning`: it may hold writes this node missed.
fn reconcile(
    next: &ClusterView,
    me: &str,
    returning: &HashSet<String>,
    deadline: Instant,
    jobs: &mut HashMap<String, Job>,
    imports: &mut HashMap<u16, (SocketAddr, Instant)>,
) {
    for slot in 0..ringcache_proto::SLOT_COUNT {
        if !next.is_owner(slot) {
            continue;
        }
        for &owner in next.placement.owners(slot) {
            let name = next.name(owner);
            if name == me || !returning.contains(name) {
                continue;
            }
            let Some(member) = next.member(name) else {
                continue;
            };
            // A miss reads through to it while the pull runs.
            imports.entry(slot).or_insert((member.resp_addr, deadline));
            add_to_job(jobs, name, member.resp_addr, next.version, slot);
        }
    }
}

/// Forgets imports whose source is no longer alive (membership changed
/// without a ring change, e.g. a leaving node exited).
pub fn prune(cluster: &Cluster, next: &ClusterView) {
    let dead: Vec<u16> = cluster
        .imports
        .slots
        .read()
        .iter()
        .filter(|(_, (addr, _))| !next.members.iter().any(|m| m.resp_addr == *addr))
        .map(|(slot, _)| *slot)
        .collect();
    if !dead.is_empty() {
        cluster.imports.finish(&dead);
    }
}

/// Runs queued transfers one after another until shutdown; once the ring
/// has been stable for a while, drops keys of slots this node left.
pub async fn run_worker(cluster: Arc<Cluster>, node: Arc<NodeState>) {
    let mut shutdown = node.shutdown.listener();
    let mut dropped_for = 0u64;
    loop {
        let job = {
            let mut queue = cluster.handoffs.queue.lock();
            let job = queue.pop_front();
            if job.is_some() {
                cluster.handoffs.running.fetch_add(1, Ordering::AcqRel);
            }
            job
        };
        match job {
            Some(job) => {
                tokio::select! {
                    () = shutdown.wait() => return,
                    () = pull(&cluster, &node, &job) => {}
                }
                cluster.imports.finish(&job.slots);
                cluster
                    .handoffs
                    .slots_pending
                    .fetch_sub(job.slots.len(), Ordering::Relaxed);
                cluster.handoffs.running.fetch_sub(1, Ordering::AcqRel);
            }
            None => {
                let view = cluster.view_full();
                let stable = cluster
                    .handoffs
                    .changed_at
                    .lock()
                    .is_some_and(|at| at.elapsed() >= STABLE_BEFORE_DROP);
                if stable && dropped_for != view.version && view.me.is_some() {
                    dropped_for = view.version;
                    drop_unowned(&cluster, &node, &view);
                }
                tokio::select! {
                    () = shutdown.wait() => return,
                    () = cluster.handoffs.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Pulls `job`'s slots page by page (one page per shard of the source).
async fn pull(cluster: &Cluster, node: &NodeState, job: &Job) {
    let started = Instant::now();
    let rate = cluster.settings.handoff_rate.max(64 * 1024) as f64;
    let (mut keys, mut bytes) = (0u64, 0u64);
    let mut shard = 0i64;
    while shard >= 0 {
        if cluster.view().version != job.ring_version
            && cluster.view().member(&job.source).is_none()
        {
            warn!(source = %job.source, "import source gone; import abandoned");
            return;
        }
        let mut request = BytesMut::new();
        wire::encode_export(&mut request, shard as u64, &job.slots);
        let reply = cluster.peers.send(job.addr, false, request.freeze());
        let page = match tokio::time::timeout(PAGE_TIMEOUT, reply).await {
            Ok(Ok(Ok(frame))) => frame,
            other => {
                warn!(source = %job.source, shard, error = ?other.ok().and_then(|r| r.ok()).map(|r| r.err()), "import page failed; import abandoned");
                return;
            }
        };
        bytes += page.len() as u64;
        let Some((next, entries)) = wire::decode_page(&page) else {
            warn!(source = %job.source, "malformed import page; import abandoned");
            return;
        };
        for snapshot in entries {
            // One refused entry (counted and logged there) does not stop
            // the others. A lease taken here during the import ends first.
            node.leases.invalidate(&snapshot.key);
            let key = snapshot.key.clone();
            if let Ok(true) = cluster.apply_from_peer(&node.store, snapshot, job.addr) {
                super::announce_applied(node, node.store.db(), &key);
            }
            keys += 1;
        }
        shard = next;
        // Bound the bandwidth: wait until the average is back under the rate.
        let due = Duration::from_secs_f64(bytes as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    cluster
        .handoffs
        .keys_received
        .fetch_add(keys, Ordering::Relaxed);
    cluster
        .handoffs
        .slots_done
        .fetch_add(job.slots.len() as u64, Ordering::Relaxed);
    let mut done = BytesMut::new();
    wire::encode_handoff_done(&mut done, &job.slots);
    // The source only uses this to know its slots were taken (a leaving
    // node waits for it); losing it costs the source a timeout, not data.
    let _ = cluster.peers.send(job.addr, false, done.freeze()).await;
    info!(
        source = %job.source,
        slots = job.slots.len(),
        keys,
        bytes,
        ms = started.elapsed().as_millis() as u64,
        "import complete"
    );
}

/// Drops keys of slots this node no longer owns.
fn drop_unowned(cluster: &Cluster, node: &NodeState, view: &ClusterView) {
    let dropped = node.store.remove_where(|key| !view.is_owner(key_slot(key)));
    if dropped > 0 {
        cluster
            .handoffs
            .keys_dropped
            .fetch_add(dropped as u64, Ordering::Relaxed);
        debug!(
            dropped,
            ring_version = view.version,
            "dropped keys of slots moved away"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(source: &str, slots: &[u16], ring_version: u64) -> Job {
        Job {
            source: source.into(),
            addr: "127.0.0.1:7000".parse().expect("an address"),
            slots: slots.to_vec(),
            ring_version,
        }
    }

    #[test]
    fn jobs_waiting_for_one_source_merge() {
        let handoffs = Handoffs::default();
        handoffs.push(job("a", &[1, 2, 3], 1));
        handoffs.push(job("b", &[9], 1));
        // A flapping member: the same source again, some slots again.
        handoffs.push(job("a", &[3, 4], 2));
        handoffs.push(job("a", &[1, 4], 3));
        let queue = handoffs.queue.lock();
        assert_eq!(queue.len(), 2);
        assert_eq!(queue[0].slots, [1, 2, 3, 4]);
        assert_eq!(queue[0].ring_version, 3);
        assert_eq!(queue[1].slots, [9]);
        assert_eq!(handoffs.slots_pending.load(Ordering::Relaxed), 5);
    }
}
