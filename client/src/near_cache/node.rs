//! The near cache's connection to one node: RESP3 with `CLIENT TRACKING`
//! turned on at every (re)connect, whose `invalidate` pushes are applied
//! on the socket's read half, in stream order, so an invalidation is in
//! effect before any reply after it on that connection is handed out.
//! When the socket ends, every entry read through it is dropped (its
//! invalidations would be lost).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tracing::debug;

use super::entries::NodeState;
use super::Core;
use crate::connection::{Connection, ConnectionOptions, Listener};
use crate::resp::{self, Value};

/// A tracked connection and the state its entries depend on.
#[derive(Clone, Debug)]
pub(crate) struct NodeLink {
    pub(crate) state: Arc<NodeState>,
    pub(crate) connection: Connection,
}

impl NodeLink {
    /// A link to `addr` (opened at its first request) with the client's
    /// connection `options`, reporting to `core`.
    pub(crate) fn new(addr: Arc<str>, options: &ConnectionOptions, core: &Arc<Core>) -> NodeLink {
        let state = Arc::new(NodeState::new(Arc::clone(&addr)));
        let listener = Arc::new(Tracker {
            state: Arc::clone(&state),
            core: Arc::clone(core),
        });
        let options = ConnectionOptions {
            // Reads go to primaries: a replica's connection would need its
            // own tracking of the replica's applies.
            readonly: false,
            listener: Some(listener),
            ..options.clone()
        };
        NodeLink {
            connection: Connection::new(addr.to_string(), options),
            state,
        }
    }
}

/// Applies one node's pushes to the near cache.
struct Tracker {
    state: Arc<NodeState>,
    core: Arc<Core>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("node", &self.state.addr)
            .finish()
    }
}

impl Listener for Tracker {
    fn setup(&self) -> Vec<Vec<Vec<u8>>> {
        vec![self.core.config.tracking_command()]
    }

    fn push(&self, frame: Bytes) {
        let Ok(Some((Value::Array(mut parts), _))) = resp::decode(&frame) else {
            return;
        };
        let is_invalidate = matches!(parts.first(), Some(Value::Bulk(kind)) if kind.eq_ignore_ascii_case(b"invalidate"));
        if !is_invalidate || parts.len() != 2 {
            return;
        }
        match parts.pop() {
            Some(Value::Array(keys)) => {
                for key in keys {
                    if let Value::Bulk(key) = key {
                        self.core.invalidate(&key);
                    }
                }
            }
            // A flush: every key of the node changed.
            Some(Value::Nil) => self.drop_entries("flush"),
            _ => {}
        }
    }

    fn closed(&self) {
        self.drop_entries("connection closed");
    }
}

impl Tracker {
    fn drop_entries(&self, why: &str) {
        self.state.drop_entries();
        self.core
            .counters
            .node_drops
            .fetch_add(1, Ordering::Relaxed);
        debug!(node = %self.state.addr, why, "near cache entries of the node dropped");
    }
}
