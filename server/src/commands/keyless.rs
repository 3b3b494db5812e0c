//! Cluster-wide answers to the keyless commands (`cluster-keyless-scope
//! cluster`, proxy mode only): a plain client's DBSIZE, KEYS, SCAN,
//! RANDOMKEY, FLUSHALL and FLUSHDB sent to one node answer for every ring
//! node's primary slots. This node computes its own part as for itself,
//! asks each other ring node for its part (`RCKEYLESS`, over the peer
//! links, bounded in time), and merges them in the connection's own
//! deferred reply, so the worker serves other clients meanwhile. A node
//! that cannot answer makes the reply an error naming it, never a partial
//! answer presented as whole.
//!
//! A cluster-wide SCAN cursor walks the ring nodes in name order, one at a
//! time: from the top, 8 bits of node position, 12 bits of the ring's
//! fingerprint, then that node's own cursor ([`NARROW_CURSOR_BITS`]). A
//! cursor whose fingerprint is not the current ring's (a node joined or
//! left mid-scan) starts the walk over from the first node: keys come
//! again, which SCAN allows, rather than being lost when slots moved from a
//! node not yet walked to one already walked.

use bytes::{Bytes, BytesMut};
use futures_util::future::join_all;
use ringcache_proto::resp::{self, Value};

use super::cluster_port::{Asked, KeylessRing, RingNode};
use super::{Ctx, Outcome};
use crate::protocol::Reply;
use crate::store::NARROW_CURSOR_BITS;

/// Bits of a cluster-wide SCAN cursor that hold the node's position.
const NODE_BITS: u32 = 8;
/// Bits that hold the ring's fingerprint.
const FINGERPRINT_BITS: u32 = 64 - NODE_BITS - NARROW_CURSOR_BITS;
/// Most ring nodes a cluster-wide SCAN cursor can walk.
pub const SCAN_MAX_NODES: usize = 1 << NODE_BITS;

/// The ring a keyless command answers for, or `None`: for this node only.
/// A command inside a transaction or a script (which run on one node, at
/// once) or sent by another node answers for this node.
pub fn ring(ctx: &Ctx<'_>) -> Option<KeylessRing> {
    if ctx.atomic || ctx.script || ctx.session.peer {
        return None;
    }
    ctx.cluster.as_deref()?.keyless_ring()
}

/// Asks every ring node but this one to run `args` for its own slots.
fn ask_others(ctx: &Ctx<'_>, ring: &KeylessRing, args: &[&[u8]]) -> Vec<(RingNode, Asked)> {
    let Some(port) = ctx.cluster.as_deref() else {
        return Vec::new();
    };
    ring.nodes
        .iter()
        .filter(|node| !node.here)
        .map(|node| (node.clone(), port.ask_node(node, args)))
        .collect()
}

/// The other nodes' answers, decoded, in ring order; `Err` is the reply:
/// an error naming the first node that did not answer or answered an error.
async fn answers(asked: Vec<(RingNode, Asked)>) -> Result<Vec<(RingNode, Value)>, Bytes> {
    let (nodes, waits): (Vec<_>, Vec<_>) = asked.into_iter().unzip();
    let mut decoded = Vec::with_capacity(nodes.len());
    for (node, answer) in nodes.into_iter().zip(join_all(waits).await) {
        let frame = answer.map_err(|why| node.failed(&format!("did not answer: {why}")))?;
        match resp::decode(&frame) {
            Ok(Some((Value::Error(text), _))) => {
                let text = String::from_utf8_lossy(&text).into_owned();
                return Err(node.failed(&format!("answered: {text}")));
            }
            Ok(Some((value, _))) => decoded.push((node, value)),
            _ => return Err(node.failed("answered with a malformed reply")),
        }
    }
    Ok(decoded)
}

/// The error reply for an answer of the wrong shape.
fn unexpected(node: &RingNode) -> Bytes {
    node.failed("answered with an unexpected reply")
}

/// DBSIZE: this node's `own` count plus every other node's.
pub fn dbsize(ctx: &mut Ctx<'_>, ring: &KeylessRing, own: u64) -> Outcome {
    let asked = ask_others(ctx, ring, &[b"DBSIZE"]);
    let resp3 = ctx.reply.resp3();
    ctx.defer(async move {
        let mut total = i64::try_from(own).unwrap_or(i64::MAX);
        let answers = match answers(asked).await {
            Ok(answers) => answers,
            Err(reply) => return reply,
        };
        for (node, value) in answers {
            let Value::Int(count) = value else {
                return unexpected(&node);
            };
            total = total.saturating_add(count);
        }
        let mut out = BytesMut::new();
        Reply::new(&mut out, resp3).int(total);
        out.freeze()
    });
    Outcome::Unchanged
}

/// KEYS pattern: this node's matches (`own`, still to be walked) then
/// every other node's, in ring order.
pub fn keys(
    ctx: &mut Ctx<'_>,
    ring: &KeylessRing,
    pattern: &[u8],
    own: impl std::future::Future<Output = Vec<Vec<u8>>> + Send + 'static,
) -> Outcome {
    let asked = ask_others(ctx, ring, &[b"KEYS", pattern]);
    let resp3 = ctx.reply.resp3();
    ctx.defer(async move {
        let (mine, others) = futures_util::future::join(own, answers(asked)).await;
        let others = match others {
            Ok(others) => others,
            Err(reply) => return reply,
        };
        let mut lists = Vec::with_capacity(others.len());
        for (node, value) in others {
            match key_names(value) {
                Some(names) => lists.push(names),
                None => return unexpected(&node),
            }
        }
        let total = mine.len() + lists.iter().map(Vec::len).sum::<usize>();
        let mut out = BytesMut::new();
        let mut reply = Reply::new(&mut out, resp3);
        reply.array(total);
        for key in mine.iter().chain(lists.iter().flatten()) {
            reply.bulk(key);
        }
        out.freeze()
    });
    Outcome::Unchanged
}

/// The key names of an array reply (KEYS, SCAN's second element).
fn key_names(value: Value) -> Option<Vec<Vec<u8>>> {
    let Value::Array(items) = value else {
        return None;
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Bulk(key) => Some(key),
            _ => None,
        })
        .collect()
}

/// Where a cluster-wide SCAN cursor stands: the ring node's position and
/// that node's own cursor. An unknown ring (another fingerprint) or a
/// position past the ring starts over.
pub fn scan_position(cursor: u64, ring: &KeylessRing) -> (usize, u64) {
    let node = (cursor >> (64 - NODE_BITS)) as usize;
    let fingerprint = (cursor >> NARROW_CURSOR_BITS) & ((1 << FINGERPRINT_BITS) - 1);
    if cursor == 0 || fingerprint != ring_mark(ring) || node >= ring.nodes.len() {
        return (0, 0);
    }
    (node, cursor & ((1 << NARROW_CURSOR_BITS) - 1))
}

/// The cluster-wide cursor after node `node` answered `next` (0: that node
/// is done, the walk goes on at the next one; 0 after the last).
pub fn scan_cursor(node: usize, next: u64, ring: &KeylessRing) -> u64 {
    let (node, next) = if next == 0 {
        (node + 1, 0)
    } else {
        (node, next)
    };
    if node >= ring.nodes.len() {
        return 0;
    }
    ((node as u64) << (64 - NODE_BITS)) | (ring_mark(ring) << NARROW_CURSOR_BITS) | next
}

/// The ring's fingerprint as a cursor holds it.
fn ring_mark(ring: &KeylessRing) -> u64 {
    ring.fingerprint & ((1 << FINGERPRINT_BITS) - 1)
}

/// SCAN over another ring node: `args` is the client's request (options
/// from 2 on), sent there with that node's own cursor `at`; its keys are
/// relayed with the cluster-wide cursor.
pub fn scan_there(
    ctx: &mut Ctx<'_>,
    ring: &KeylessRing,
    node: usize,
    at: u64,
    options: &[&[u8]],
) -> Outcome {
    let Some(target) = ring.nodes.get(node).cloned() else {
        return ctx.fail("ERR invalid cursor");
    };
    let at = at.to_string();
    let mut args: Vec<&[u8]> = vec![b"SCAN", at.as_bytes()];
    args.extend_from_slice(options);
    let asked = match ctx.cluster.as_deref() {
        Some(port) => vec![(target.clone(), port.ask_node(&target, &args))],
        None => return ctx.fail("ERR invalid cursor"),
    };
    let ring = ring.clone();
    let resp3 = ctx.reply.resp3();
    ctx.defer(async move {
        let value = match answers(asked).await {
            Ok(mut answers) => match answers.pop() {
                Some((_, value)) => value,
                None => return unexpected(&target),
            },
            Err(reply) => return reply,
        };
        let Some((next, keys)) = scan_page(value) else {
            return unexpected(&target);
        };
        let mut out = BytesMut::new();
        write_scan(
            &mut Reply::new(&mut out, resp3),
            scan_cursor(node, next, &ring),
            &keys,
        );
        out.freeze()
    });
    Outcome::Unchanged
}

/// SCAN's reply: the next cursor and the keys.
fn scan_page(value: Value) -> Option<(u64, Vec<Vec<u8>>)> {
    let Value::Array(mut parts) = value else {
        return None;
    };
    if parts.len() != 2 {
        return None;
    }
    let keys = key_names(parts.pop()?)?;
    let Some(Value::Bulk(cursor)) = parts.pop() else {
        return None;
    };
    let next = super::keys::parse_cursor(&cursor)?;
    Some((next, keys))
}

/// Writes SCAN's reply.
pub fn write_scan(reply: &mut Reply<'_>, next: u64, keys: &[Vec<u8>]) {
    reply.array(2);
    reply.bulk(next.to_string().as_bytes());
    reply.array(keys.len());
    for key in keys {
        reply.bulk(key);
    }
}

/// RANDOMKEY: a key of a node picked with a probability proportional to
/// its key count (`own`: this node's count and random key), nil when the
/// cluster has no key.
pub fn randomkey(ctx: &mut Ctx<'_>, ring: &KeylessRing, own: (u64, Option<Vec<u8>>)) -> Outcome {
    let counts = ask_others(ctx, ring, &[b"DBSIZE"]);
    let picks = ask_others(ctx, ring, &[b"RANDOMKEY"]);
    let resp3 = ctx.reply.resp3();
    ctx.defer(async move {
        let (counts, picks) = futures_util::future::join(answers(counts), answers(picks)).await;
        let (counts, picks) = match (counts, picks) {
            (Ok(counts), Ok(picks)) => (counts, picks),
            (Err(reply), _) | (_, Err(reply)) => return reply,
        };
        let mut candidates = vec![own];
        for ((node, count), (_, pick)) in counts.into_iter().zip(picks) {
            let key = match pick {
                Value::Bulk(key) => Some(key),
                Value::Nil => None,
                _ => return unexpected(&node),
            };
            let Value::Int(count) = count else {
                return unexpected(&node);
            };
            candidates.push((u64::try_from(count).unwrap_or(0), key));
        }
        let mut out = BytesMut::new();
        Reply::new(&mut out, resp3)
            .opt_bulk(pick_weighted(candidates, fastrand::u64(..)).as_deref());
        out.freeze()
    });
    Outcome::Unchanged
}

/// One of the keys, each node's with a chance proportional to its count
/// (`roll` a uniform random number); a node without a key (it had none,
/// or its last expired between the two answers) is left out.
fn pick_weighted(candidates: Vec<(u64, Option<Vec<u8>>)>, roll: u64) -> Option<Vec<u8>> {
    let candidates: Vec<(u64, Vec<u8>)> = candidates
        .into_iter()
        .filter_map(|(count, key)| Some((count.max(1), key?)))
        .collect();
    let total: u64 = candidates
        .iter()
        .map(|(count, _)| *count)
        .fold(0, u64::saturating_add);
    let mut at = roll.checked_rem(total)?;
    for (count, key) in candidates {
        if at < count {
            return Some(key);
        }
        at -= count;
    }
    None
}

/// FLUSHALL / FLUSHDB: this node is flushed already; OK once every other
/// node answered OK, otherwise an error naming the first that did not.
pub fn flush(ctx: &mut Ctx<'_>, ring: &KeylessRing, args: &[&[u8]]) -> Outcome {
    let asked = ask_others(ctx, ring, args);
    let resp3 = ctx.reply.resp3();
    ctx.defer(async move {
        let answers = match answers(asked).await {
            Ok(answers) => answers,
            Err(reply) => return reply,
        };
        for (node, value) in answers {
            if !matches!(&value, Value::Simple(ok) if ok == b"OK") {
                return unexpected(&node);
            }
        }
        let mut out = BytesMut::new();
        Reply::new(&mut out, resp3).ok();
        out.freeze()
    });
    Outcome::Flushed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(nodes: usize, fingerprint: u64) -> KeylessRing {
        KeylessRing {
            nodes: (0..nodes)
                .map(|i| RingNode {
                    name: format!("node-{i}"),
                    addr: ([127, 0, 0, 1], 7000 + i as u16).into(),
                    here: i == 0,
                })
                .collect(),
            fingerprint,
        }
    }

    #[test]
    fn scan_cursors_walk_the_nodes_in_order() {
        let three = ring(3, 0xabc_def);
        assert_eq!(scan_position(0, &three), (0, 0));
        let mid = scan_cursor(0, 77, &three);
        assert_eq!(scan_position(mid, &three), (0, 77));
        let next = scan_cursor(0, 0, &three);
        assert_ne!(next, 0);
        assert_eq!(scan_position(next, &three), (1, 0));
        let widest = (1 << NARROW_CURSOR_BITS) - 1;
        assert_eq!(
            scan_position(scan_cursor(2, widest, &three), &three),
            (2, widest)
        );
        assert_eq!(scan_cursor(2, 0, &three), 0, "done after the last node");
    }

    #[test]
    fn a_cursor_of_another_ring_starts_over() {
        let before = ring(3, 1);
        let cursor = scan_cursor(1, 5, &before);
        assert_eq!(scan_position(cursor, &ring(3, 2)), (0, 0));
        assert_eq!(scan_position(cursor, &ring(1, 1)), (0, 0), "past the ring");
    }

    #[test]
    fn random_keys_follow_the_counts() {
        let candidates = || {
            vec![
                (1, Some(b"a".to_vec())),
                (0, None),
                (3, Some(b"b".to_vec())),
            ]
        };
        let picks: Vec<_> = (0..4)
            .map(|roll| pick_weighted(candidates(), roll))
            .collect();
        let a = Some(b"a".to_vec());
        let b = Some(b"b".to_vec());
        assert_eq!(picks, [a.clone(), b.clone(), b.clone(), b]);
        assert_eq!(pick_weighted(vec![(0, None)], 7), None);
        assert_eq!(pick_weighted(Vec::new(), 7), None);
    }

    #[test]
    fn failures_name_the_node_on_one_line() {
        let node = &ring(2, 0).nodes[1];
        let reply = node.failed("answered: ERR x\r\ny");
        assert_eq!(
            &reply[..],
            b"-ERR node node-1 (127.0.0.1:7001) answered: ERR x  y\r\n"
        );
    }
}
