//! The slot map: the owners of every slot, as one `CLUSTER SLOTS` reply
//! (read by [`ringcache_proto::topology`]) told them, with equal owner lists
//! shared and node names interned.

use std::collections::HashMap;
use std::sync::Arc;

use ringcache_proto::topology::parse_cluster_slots;

use crate::error::{Error, Result};
use crate::resp::Value;
use crate::slot::SLOT_COUNT;

/// A slot no known node serves.
const NO_SHARD: u16 = u16::MAX;

/// The owners of some slots: a primary, then replicas.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    pub primary: Arc<str>,
    pub replicas: Vec<Arc<str>>,
}

/// Owners of every slot, as one `CLUSTER SLOTS` reply told them.
#[derive(Debug)]
pub(crate) struct SlotMap {
    /// Index into `shards` per slot, or [`NO_SHARD`].
    slots: Box<[u16]>,
    shards: Vec<Shard>,
    /// Every distinct node named, primaries first.
    nodes: Vec<Arc<str>>,
}

impl SlotMap {
    /// Reads a `CLUSTER SLOTS` reply from the node at `queried` (whose host
    /// stands in for an empty or unknown node IP, as Redis Cluster means it).
    pub(crate) fn parse(reply: &Value, queried: &str) -> Result<SlotMap> {
        let ranges = parse_cluster_slots(reply, queried)
            .map_err(|e| Error::protocol(format!("CLUSTER SLOTS from {queried}: {e}")))?;
        let mut interned: HashMap<String, Arc<str>> = HashMap::new();
        let mut shard_of: HashMap<Vec<Arc<str>>, u16> = HashMap::new();
        let mut shards: Vec<Shard> = Vec::new();
        let mut slots = vec![NO_SHARD; usize::from(SLOT_COUNT)].into_boxed_slice();
        for range in ranges {
            let owners: Vec<Arc<str>> = range
                .owners
                .into_iter()
                .map(|addr| {
                    interned
                        .entry(addr)
                        .or_insert_with_key(|a| Arc::from(a.as_str()))
                        .clone()
                })
                .collect();
            let index = match shard_of.get(&owners) {
                Some(&index) => index,
                None => {
                    let index = u16::try_from(shards.len())
                        .ok()
                        .filter(|&i| i != NO_SHARD)
                        .ok_or_else(|| {
                            Error::protocol(format!(
                                "CLUSTER SLOTS from {queried}: too many shards"
                            ))
                        })?;
                    shards.push(Shard {
                        primary: owners[0].clone(),
                        replicas: owners[1..].to_vec(),
                    });
                    shard_of.insert(owners, index);
                    index
                }
            };
            slots[usize::from(range.start)..=usize::from(range.end)].fill(index);
        }
        let mut nodes: Vec<Arc<str>> = Vec::new();
        for shard in &shards {
            if !nodes.contains(&shard.primary) {
                nodes.push(shard.primary.clone());
            }
        }
        for replica in shards.iter().flat_map(|s| &s.replicas) {
            if !nodes.contains(replica) {
                nodes.push(replica.clone());
            }
        }
        Ok(SlotMap {
            slots,
            shards,
            nodes,
        })
    }

    /// The owners of `slot`, if a node serves it.
    pub(crate) fn shard(&self, slot: u16) -> Option<&Shard> {
        let index = *self.slots.get(usize::from(slot))?;
        self.shards.get(usize::from(index))
    }

    /// Every node in the map, primaries first.
    pub(crate) fn nodes(&self) -> &[Arc<str>] {
        &self.nodes
    }

    /// True when every slot has the same primary (or none) in both maps.
    pub(crate) fn same_primaries(&self, other: &SlotMap) -> bool {
        (0..SLOT_COUNT).all(|slot| {
            self.shard(slot).map(|s| &s.primary) == other.shard(slot).map(|s| &s.primary)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::resp;

    /// A slot range and its owners' `(ip, port)`.
    type Range<'a> = (u16, u16, &'a [(&'a str, u16)]);

    /// A `CLUSTER SLOTS` reply from `ranges`, through the RESP decoder as a
    /// node's reply would come.
    fn slots_reply(ranges: &[Range<'_>]) -> Value {
        let mut text = format!("*{}\r\n", ranges.len());
        for (start, end, owners) in ranges {
            text += &format!("*{}\r\n:{start}\r\n:{end}\r\n", 2 + owners.len());
            for (ip, port) in owners.iter() {
                text += &format!("*3\r\n${}\r\n{ip}\r\n:{port}\r\n$2\r\nid\r\n", ip.len());
            }
        }
        let (value, _) = resp::decode(text.as_bytes())
            .expect("valid RESP")
            .expect("complete");
        value
    }

    #[test]
    fn cluster_slots_reply_becomes_a_map() {
        let (a, b) = (("127.0.0.1", 7000), ("127.0.0.1", 7001));
        let reply = slots_reply(&[
            (0, 8000, &[a, b]),
            (8001, 16000, &[("", 7001), a]),
            (16001, 16383, &[a, b]),
        ]);
        let map = SlotMap::parse(&reply, "127.0.0.1:7000").expect("valid reply");
        assert_eq!(map.nodes().len(), 2);
        let first = map.shard(0).expect("served");
        assert_eq!(&*first.primary, "127.0.0.1:7000");
        assert_eq!(first.replicas.len(), 1);
        // The same owners share one shard entry.
        assert!(std::ptr::eq(first, map.shard(16383).expect("served")));
        // An empty IP means the node that was asked.
        assert_eq!(&*map.shard(9000).expect("served").primary, "127.0.0.1:7001");
        // Other replicas, same primaries; then one slot moves.
        let same = slots_reply(&[(0, 8000, &[a]), (8001, 16000, &[b]), (16001, 16383, &[a])]);
        let same = SlotMap::parse(&same, "127.0.0.1:7000").expect("valid reply");
        assert!(map.same_primaries(&same));
        let moved = slots_reply(&[(0, 8000, &[a]), (8001, 16001, &[b]), (16002, 16383, &[a])]);
        let moved = SlotMap::parse(&moved, "127.0.0.1:7000").expect("valid reply");
        assert!(!map.same_primaries(&moved));
    }

    #[test]
    fn gaps_are_unserved_and_bad_replies_are_protocol_errors() {
        let reply = slots_reply(&[(0, 99, &[("::1", 7000)])]);
        let map = SlotMap::parse(&reply, "[::1]:7000").expect("valid reply");
        assert_eq!(&*map.shard(5).expect("served").primary, "[::1]:7000");
        assert!(map.shard(100).is_none());
        // The reader's own checks are proto's (topology.rs); here, that a
        // refusal becomes the client's protocol error.
        let bad = slots_reply(&[(5, 2, &[("a", 1)])]);
        assert_eq!(
            SlotMap::parse(&bad, "a:1").expect_err("bad").kind(),
            &ErrorKind::Protocol
        );
    }
}
