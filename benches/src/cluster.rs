//! Where each key goes: one node for a plain server, or the slot owners
//! read from `CLUSTER SLOTS` with `--cluster`.

use std::time::Duration;

use bytes::BytesMut;
use ringcache_proto::resp::{self, Value};
use ringcache_proto::topology::{parse_cluster_slots, TopologyError as ProtoError};
use ringcache_proto::SLOT_COUNT;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest CLUSTER SLOTS reply read: a 16384-range map with replicas is well
/// under this.
const MAX_REPLY: usize = 16 << 20;

/// The nodes to connect to and which of them owns each slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// `host:port` of each node; index 0 is the seed when no map is used.
    pub nodes: Vec<String>,
    /// Owner (index into `nodes`) of each slot; empty when every key goes to
    /// `nodes[0]`.
    pub slots: Vec<u16>,
}

impl Topology {
    /// Everything to one server.
    pub fn single(addr: &str) -> Topology {
        Topology {
            nodes: vec![addr.to_string()],
            slots: Vec::new(),
        }
    }

    /// Index of the node that owns `slot`.
    pub fn owner(&self, slot: u16) -> usize {
        self.slots
            .get(usize::from(slot))
            .map_or(0, |&n| usize::from(n))
    }

    /// Index of `addr` in the node list, if it is known.
    pub fn node_index(&self, addr: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n == addr)
    }

    /// Whether keys are routed by slot.
    pub fn is_cluster(&self) -> bool {
        !self.slots.is_empty()
    }
}

/// Why no slot map could be obtained.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// Connecting, writing or reading failed or timed out.
    #[error("CLUSTER SLOTS failed: {0}")]
    Io(#[from] std::io::Error),
    /// The server refused, or the reply was not a slot map (as the proto
    /// reader says).
    #[error(transparent)]
    Slots(#[from] ProtoError),
}

fn malformed(what: impl Into<String>) -> TopologyError {
    TopologyError::Slots(ProtoError::Malformed(what.into()))
}

/// Asks `seed` for `CLUSTER SLOTS` and builds the routing table.
///
/// # Errors
/// A connection failure or timeout, an error reply, or a malformed map.
pub async fn fetch(seed: &str, timeout: Duration) -> Result<Topology, TopologyError> {
    let reply = tokio::time::timeout(timeout, query(seed))
        .await
        .map_err(|_| TopologyError::Io(std::io::ErrorKind::TimedOut.into()))??;
    parse_slots(seed, reply)
}

async fn query(seed: &str) -> Result<Value, TopologyError> {
    let mut stream = TcpStream::connect(seed).await?;
    let mut out = BytesMut::new();
    resp::write_command(&mut out, &["CLUSTER", "SLOTS"]);
    stream.write_all(&out).await?;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        match resp::decode(&buf) {
            Ok(Some((value, _))) => return Ok(value),
            Ok(None) => {}
            Err(e) => return Err(malformed(e.to_string())),
        }
        if buf.len() > MAX_REPLY {
            return Err(malformed("reply too large"));
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(TopologyError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
}

/// Builds a [`Topology`] from a CLUSTER SLOTS reply. Slots nobody claims
/// go to the seed, whose errors are then counted like any other.
///
/// # Errors
/// An error reply, a reply that is not a slot map, or too many nodes.
pub fn parse_slots(seed: &str, reply: Value) -> Result<Topology, TopologyError> {
    let ranges = parse_cluster_slots(&reply, seed)?;
    // The seed is node 0, so unclaimed slots (and a fallback) go there.
    let mut topology = Topology::single(seed);
    topology.slots = vec![0; usize::from(SLOT_COUNT)];
    for range in ranges {
        let primary = &range.owners[0];
        let index = match topology.node_index(primary) {
            Some(i) => i,
            None => {
                topology.nodes.push(primary.clone());
                topology.nodes.len() - 1
            }
        };
        // The proto reader caps the nodes at MAX_NODES (1024), so the
        // index fits a u16.
        let index = u16::try_from(index).map_err(|_| malformed("too many nodes"))?;
        topology.slots[usize::from(range.start)..=usize::from(range.end)].fill(index);
    }
    Ok(topology)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: i64, end: i64, host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::Int(start),
            Value::Int(end),
            Value::Array(vec![
                Value::Bulk(host.into()),
                Value::Int(port),
                Value::Bulk(b"id".to_vec()),
            ]),
        ])
    }

    #[test]
    fn slot_map_routes_to_owners() {
        let reply = Value::Array(vec![
            range(0, 8191, "127.0.0.1", 7001),
            range(8192, 16383, "", 7002),
        ]);
        let t = parse_slots("127.0.0.1:7000", reply).unwrap();
        assert_eq!(
            t.nodes,
            ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"]
        );
        assert!(t.is_cluster());
        assert_eq!(t.nodes[t.owner(0)], "127.0.0.1:7001");
        assert_eq!(t.nodes[t.owner(8191)], "127.0.0.1:7001");
        assert_eq!(t.nodes[t.owner(16383)], "127.0.0.1:7002");
    }

    #[test]
    fn bad_replies_are_errors_not_panics() {
        let refused = Value::Error(b"ERR This instance has cluster support disabled".to_vec());
        assert!(matches!(
            parse_slots("a:1", refused),
            Err(TopologyError::Slots(ProtoError::Refused(_)))
        ));
        for bad in [
            Value::Int(3),
            Value::Array(vec![Value::Int(1)]),
            Value::Array(vec![range(5, 3, "h", 1)]),
            Value::Array(vec![range(0, 16384, "h", 1)]),
            Value::Array(vec![range(0, 1, "h", 0)]),
        ] {
            assert!(matches!(
                parse_slots("a:1", bad),
                Err(TopologyError::Slots(ProtoError::Malformed(_)))
            ));
        }
    }

    #[test]
    fn single_node_sends_everything_to_it() {
        let t = Topology::single("127.0.0.1:6379");
        assert!(!t.is_cluster());
        assert_eq!(t.owner(12345), 0);
    }
}
