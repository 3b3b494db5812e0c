//! What the command handlers need from the cluster layer, as a trait the
//! cluster implements, so `commands` does not depend on `cluster`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use super::{ClusterOp, Ctx, LocalKeys, Outcome, ScriptEffect};
use crate::protocol::Args;
use crate::store::versioning::VersionSource;
use crate::store::SlotSet;

/// A write (or a transaction, RCEXEC) a peer forwarded here while this
/// node's ring says another node is the slot's primary (the two rings
/// differ for a moment): run here, it would reach neither the primary nor
/// the replicas, so the forwarder's client is told to try again.
pub const NOT_PRIMARY_HERE: &str =
    "TRYAGAIN the ring is changing: this node is not the primary of the key's slot";

/// What the command handlers need from the cluster layer: the cluster
/// implements it once per connection (with that connection's cluster
/// state), so this module does not depend on the cluster's.
pub trait ClusterPort {
    /// Runs a command of the cluster's own family.
    fn run(&mut self, ctx: &mut Ctx<'_>, op: ClusterOp, args: Args<'_>) -> Outcome;
    /// INFO's cluster section: its fields without the `cluster_` prefix.
    fn info(&self) -> Vec<(&'static str, String)>;
    /// RESET: the connection's cluster state back to a new connection's.
    fn reset(&mut self);
    /// Whether `what` (WATCH, SSUBSCRIBE) may act on `key` here: `Err` is
    /// the reply when another node owns it (a watch or a subscription here
    /// would never see its writes or messages).
    fn owned_here(&self, key: &[u8], what: &str) -> Result<(), String>;
    /// Sends a PUBLISH to every other node of the cluster (their
    /// subscribers get it; the reply counts this node's only, as Redis
    /// Cluster's).
    fn publish_elsewhere(&mut self, channel: &[u8], message: &[u8]);
    /// Which keys this node serves (a script may touch no others).
    fn local_keys(&self) -> LocalKeys;
    /// The slots this node is primary for: its key space as DBSIZE, KEYS,
    /// SCAN, RANDOMKEY and INFO keyspace see it (the replica copies it
    /// holds are other nodes' keys).
    fn primary_slots(&self) -> Arc<SlotSet>;
    /// Sends the request to every other node of the cluster (SCRIPT LOAD,
    /// FUNCTION LOAD: each node keeps its own); the future completes when
    /// they have run it or a bound passed (`None`: no other node).
    fn broadcast(&mut self, args: Args<'_>) -> Option<super::Ran>;
    /// With `cluster-keyless-scope cluster` in proxy mode: the ring a
    /// client's keyless command (DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHALL,
    /// FLUSHDB) answers for; `None` when it answers for this node.
    fn keyless_ring(&self) -> Option<KeylessRing>;
    /// Asks ring node `node` to run a keyless command (`args`, its name
    /// first) for the slots it is primary for (`RCKEYLESS`), over the link
    /// to that node, within a bound. The answer is its reply (a RESP2
    /// frame, an error from it included), or why it gave none.
    fn ask_node(&self, node: &RingNode, args: &[&[u8]]) -> Asked;
    /// How a script run here (with `keys` declared) replicates its writes
    /// (`None` where it does not: inside a script).
    fn script_replication(&self, keys: &[Vec<u8>]) -> Option<ScriptReplication>;
}

/// The write quorum's verdict on writes shipped to the replicas: true once
/// enough of them confirmed.
pub type Verdict = Pin<Box<dyn Future<Output = bool> + Send>>;

/// How a script's writes reach the replicas: shipped by the thread that ran
/// it as soon as it ran, still holding the gate, so that they reach the
/// replicas in the order the scripts ran (the connection waiting for the
/// reply runs later, maybe after another script changed the same keys, and
/// an effect shipped after a later one is refused as stale).
pub struct ScriptReplication {
    /// The clock to arm the run with, so that its writes may ship as the
    /// commands it called (replication by effect): set when every declared
    /// key's slot is one this node is primary of, in a cluster with
    /// replicas.
    pub versions: Option<VersionSource>,
    /// Ships the keys the script wrote.
    pub ship: ShipScript,
}

/// Ships the keys a script wrote (as its effect where it has one); the
/// write quorum's verdict when the reply must wait for it.
pub type ShipScript = Box<dyn FnOnce(&[Vec<u8>], Option<&ScriptEffect>) -> Option<Verdict> + Send>;

/// The ring as a cluster-wide keyless command walks it.
#[derive(Debug, Clone)]
pub struct KeylessRing {
    /// The ring's nodes in a stable order (sorted by name).
    pub nodes: Vec<RingNode>,
    /// Changes (but for a collision) when the ring's members change: a
    /// cluster-wide SCAN cursor carries it to notice a new ring.
    pub fingerprint: u64,
}

/// One ring node.
#[derive(Debug, Clone)]
pub struct RingNode {
    /// Its name.
    pub name: String,
    /// Its RESP address.
    pub addr: SocketAddr,
    /// True for this node (its part is computed here).
    pub here: bool,
}

impl RingNode {
    /// An error reply naming this node, for a part it could not give.
    pub fn failed(&self, why: &str) -> Bytes {
        let text = format!("ERR node {} ({}) {why}", self.name, self.addr);
        // One line: an error reply cannot hold a line break.
        let line: String = text
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        Bytes::from(format!("-{line}\r\n"))
    }
}

/// A ring node's answer to [`ClusterPort::ask_node`]: its reply frame, or
/// why it gave none (unreachable, no answer in time).
pub type Asked = Pin<Box<dyn Future<Output = Result<Bytes, String>> + Send>>;
