//! A node as it is served: its shared state and, on a cluster node, its
//! cluster layer; what the listener, the pipeline and the metrics endpoint
//! are given.

use std::sync::Arc;

use crate::cluster::Cluster;
use crate::state::NodeState;

/// A node as the listener serves it: its state and, on a cluster node, its
/// cluster layer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Node {
    /// What every connection and task of the node shares.
    pub state: Arc<NodeState>,
    /// The cluster layer, on a cluster node.
    pub cluster: Option<Arc<Cluster>>,
}

impl Node {
    /// A node outside any cluster.
    pub fn standalone(state: Arc<NodeState>) -> Node {
        Node {
            state,
            cluster: None,
        }
    }
}
