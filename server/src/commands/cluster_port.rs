//! What the command handlers need from the cluster layer, as a trait the
//! cluster implements, so `commands` does not depend on `cluster`.

use std::sync::Arc;

use super::{ClusterOp, Ctx, LocalKeys, Outcome};
use crate::protocol::Args;
use crate::store::SlotSet;

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
}
