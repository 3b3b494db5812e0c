//! Reading a cluster's slot map from a `CLUSTER SLOTS` reply, as Redis
//! Cluster defines it: an array of `[start, end, [host, port, id, ...],
//! replicas...]`. The client's router and the load generator both build
//! their routing tables from [`parse_cluster_slots`].

use crate::resp::Value;
use crate::slot::SLOT_COUNT;

/// Most distinct nodes accepted in one map.
pub const MAX_NODES: usize = 1024;

/// A range of slots and the nodes serving it, primary first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRange {
    /// First slot.
    pub start: u16,
    /// Last slot (inclusive).
    pub end: u16,
    /// `host:port` of each owner (IPv6 hosts in brackets), primary first,
    /// without duplicates.
    pub owners: Vec<String>,
}

/// Why a reply is not a slot map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// The node answered with an error (e.g. cluster support disabled).
    #[error("CLUSTER SLOTS refused: {0}")]
    Refused(String),
    /// The reply did not have the `CLUSTER SLOTS` shape; says what was wrong.
    #[error("CLUSTER SLOTS reply malformed: {0}")]
    Malformed(String),
}

fn malformed<T>(what: &str) -> Result<T, TopologyError> {
    Err(TopologyError::Malformed(what.to_string()))
}

/// Reads a `CLUSTER SLOTS` reply from the node at `queried` (`host:port`),
/// whose host stands in for an empty or `?` node address, as Redis Cluster
/// means it. Ranges without an owner are left out.
///
/// # Errors
/// An error reply, a reply of another shape, slots out of range, bad
/// ports, or more than [`MAX_NODES`] nodes.
pub fn parse_cluster_slots(reply: &Value, queried: &str) -> Result<Vec<SlotRange>, TopologyError> {
    let ranges = match reply {
        Value::Array(ranges) => ranges,
        Value::Error(text) => {
            return Err(TopologyError::Refused(
                String::from_utf8_lossy(text).into_owned(),
            ))
        }
        _ => return malformed("not an array"),
    };
    let queried_host = queried.rsplit_once(':').map_or(queried, |(host, _)| host);
    let mut nodes: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        let Value::Array(parts) = range else {
            return malformed("range not an array");
        };
        let (Some(Value::Int(start)), Some(Value::Int(end))) = (parts.first(), parts.get(1)) else {
            return malformed("range bounds");
        };
        let (Ok(start), Ok(end)) = (u16::try_from(*start), u16::try_from(*end)) else {
            return malformed("range out of bounds");
        };
        if start > end || end >= SLOT_COUNT {
            return malformed("range out of bounds");
        }
        let mut owners: Vec<String> = Vec::new();
        for node in &parts[2..] {
            let addr = node_address(node, queried_host)?;
            if !nodes.contains(&addr) {
                if nodes.len() >= MAX_NODES {
                    return malformed("too many nodes");
                }
                nodes.push(addr.clone());
            }
            if !owners.contains(&addr) {
                owners.push(addr);
            }
        }
        if !owners.is_empty() {
            out.push(SlotRange { start, end, owners });
        }
    }
    Ok(out)
}

/// `host:port` of one node entry `[host, port, ...]`.
fn node_address(node: &Value, queried_host: &str) -> Result<String, TopologyError> {
    let Value::Array(fields) = node else {
        return malformed("node not an array");
    };
    let host = match fields.first() {
        Some(Value::Bulk(ip) | Value::Simple(ip)) => String::from_utf8_lossy(ip).into_owned(),
        _ => return malformed("node address"),
    };
    let port = match fields.get(1) {
        Some(&Value::Int(port)) => u16::try_from(port).ok().filter(|&p| p > 0),
        _ => None,
    };
    let Some(port) = port else {
        return malformed("node port");
    };
    // An empty host (or "?") means the node does not know its own address:
    // it is reachable where the map came from.
    let host = if host.is_empty() || host == "?" {
        queried_host
    } else {
        &host
    };
    Ok(if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
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

    fn range(start: i64, end: i64, nodes: Vec<Value>) -> Value {
        let mut parts = vec![Value::Int(start), Value::Int(end)];
        parts.extend(nodes);
        Value::Array(parts)
    }

    #[test]
    fn ranges_name_their_owners_primary_first() {
        let reply = Value::Array(vec![
            range(
                0,
                8191,
                vec![node("10.0.0.1", 7000), node("10.0.0.2", 7001)],
            ),
            range(8192, 16383, vec![node("", 7002), node("::1", 7003)]),
            range(100, 100, vec![]),
        ]);
        let ranges = parse_cluster_slots(&reply, "127.0.0.1:7000").unwrap();
        assert_eq!(
            ranges,
            vec![
                SlotRange {
                    start: 0,
                    end: 8191,
                    owners: vec!["10.0.0.1:7000".into(), "10.0.0.2:7001".into()],
                },
                SlotRange {
                    start: 8192,
                    end: 16383,
                    owners: vec!["127.0.0.1:7002".into(), "[::1]:7003".into()],
                },
            ]
        );
    }

    #[test]
    fn bad_replies_are_errors_not_panics() {
        let refused = Value::Error(b"ERR This instance has cluster support disabled".to_vec());
        assert!(matches!(
            parse_cluster_slots(&refused, "a:1"),
            Err(TopologyError::Refused(_))
        ));
        for bad in [
            Value::Int(1),
            Value::Array(vec![Value::Int(1)]),
            Value::Array(vec![range(5, 1, vec![node("a", 1)])]),
            Value::Array(vec![range(0, 16384, vec![node("a", 1)])]),
            Value::Array(vec![range(0, 1, vec![node("a", 0)])]),
            Value::Array(vec![range(0, 1, vec![node("a", 70000)])]),
            Value::Array(vec![range(0, 1, vec![Value::Int(3)])]),
        ] {
            assert!(
                matches!(
                    parse_cluster_slots(&bad, "a:1"),
                    Err(TopologyError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }
}
