//! Where each key goes: one node for a plain server, or the slot owners
//! read from `CLUSTER SLOTS` with `--cluster`.

use std::time::Duration;

use bytes::BytesMut;
use ringcache_client::resp::{self, Value};
use ringcache_client::SLOT_COUNT;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest CLUSTER SLOTS reply read: a 16384-range map with replicas is well
/// under this.
const MAX_REPLY: usize = 16 << 20;
/// Most distinct nodes accepted (one connection each per worker connection).
const MAX_NODES: usize = 1024;

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
#[derive(Debug)]
pub enum TopologyError {
    /// Connecting, writing or reading failed or timed out.
    Io(std::io::Error),
    /// The server answered with an error (e.g. cluster support disabled).
    Refused(String),
    /// The reply did not have the CLUSTER SLOTS shape.
    Malformed(String),
}

impl std::fmt::Display for TopologyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TopologyError::Io(e) => write!(f, "CLUSTER SLOTS failed: {e}"),
            TopologyError::Refused(e) => write!(f, "CLUSTER SLOTS refused: {e}"),
            TopologyError::Malformed(e) => write!(f, "CLUSTER SLOTS reply malformed: {e}"),
        }
    }
}

impl std::error::Error for TopologyError {}

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
    let mut stream = TcpStream::connect(seed).await.map_err(TopologyError::Io)?;
    let mut out = BytesMut::new();
    resp::write_command(&mut out, &["CLUSTER", "SLOTS"]);
    stream.write_all(&out).await.map_err(TopologyError::Io)?;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        match resp::decode(&buf) {
            Ok(Some((value, _))) => return Ok(value),
            Ok(None) => {}
            Err(e) => return Err(TopologyError::Malformed(e.to_string())),
        }
        if buf.len() > MAX_REPLY {
            return Err(TopologyError::Malformed("reply too large".into()));
        }
        if stream.read_buf(&mut buf).await.map_err(TopologyError::Io)? == 0 {
            return Err(TopologyError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
}

fn int(v: Option<&Value>, what: &str) -> Result<i64, TopologyError> {
    match v {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(TopologyError::Malformed(format!(
            "{what} is not an integer"
        ))),
    }
}

/// Builds a [`Topology`] from a CLUSTER SLOTS reply: an array of
/// `[start, end, [host, port, id...], replicas...]`. Slots nobody claims
/// go to the seed, whose errors are then counted like any other.
///
/// # Errors
/// A reply that is not that shape, slots out of range or too many nodes.
pub fn parse_slots(seed: &str, reply: Value) -> Result<Topology, TopologyError> {
    let ranges = match reply {
        Value::Array(ranges) => ranges,
        Value::Error(text) => {
            return Err(TopologyError::Refused(
                String::from_utf8_lossy(&text).into_owned(),
            ))
        }
        other => {
            return Err(TopologyError::Malformed(format!(
                "expected an array, got {other:?}"
            )))
        }
    };
    // The seed is node 0, so unclaimed slots (and a fallback) go there.
    let mut topology = Topology::single(seed);
    topology.slots = vec![0; usize::from(SLOT_COUNT)];
    let seed_host = seed.rsplit_once(':').map_or(seed, |(host, _)| host);
    for range in ranges {
        let Value::Array(fields) = range else {
            return Err(TopologyError::Malformed(
                "slot range is not an array".into(),
            ));
        };
        let start = int(fields.first(), "start slot")?;
        let end = int(fields.get(1), "end slot")?;
        if !(0 <= start && start <= end && end < i64::from(SLOT_COUNT)) {
            return Err(TopologyError::Malformed(format!(
                "slot range {start}-{end}"
            )));
        }
        let Some(Value::Array(master)) = fields.get(2) else {
            return Err(TopologyError::Malformed("slot range has no master".into()));
        };
        let host = match master.first() {
            Some(Value::Bulk(h)) => String::from_utf8_lossy(h).into_owned(),
            _ => {
                return Err(TopologyError::Malformed(
                    "master host is not a string".into(),
                ))
            }
        };
        let port = int(master.get(1), "master port")?;
        if !(1..=65535).contains(&port) {
            return Err(TopologyError::Malformed(format!("port {port}")));
        }
        // Redis reports an empty host (or "?") when it does not know its own
        // address; it is then reachable where we reached the seed.
        let host = if host.is_empty() || host == "?" {
            seed_host.to_string()
        } else {
            host
        };
        let addr = format!("{host}:{port}");
        let index = match topology.node_index(&addr) {
            Some(i) => i,
            None if topology.nodes.len() < MAX_NODES => {
                topology.nodes.push(addr);
                topology.nodes.len() - 1
            }
            None => return Err(TopologyError::Malformed("too many nodes".into())),
        };
        // Both bounds were checked against SLOT_COUNT, and index < MAX_NODES,
        // so the casts are lossless.
        for slot in start as usize..=end as usize {
            topology.slots[slot] = index as u16;
        }
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
            Err(TopologyError::Refused(_))
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
                Err(TopologyError::Malformed(_))
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
