//! CLUSTER's subcommands (SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT,
//! COUNTKEYSINSLOT, GETKEYSINSLOT) in Redis Cluster's reply formats, so
//! cluster-aware clients route straight to owners.

use std::fmt::Write as _;
use std::net::SocketAddr;

use ringcache_proto::key_slot;
use ringcache_proto::ring::NodeIndex;

use super::view::ClusterView;
use super::Cluster;
use crate::commands::args::{is, parse_i64, NOT_INTEGER};
use crate::commands::{Ctx, Outcome};
use crate::protocol::Args;

/// A node's 40-character id, derived from its stable name so it survives
/// restarts as the name does.
pub fn node_id(name: &str) -> String {
    let mut id = String::with_capacity(48);
    for seed in 0..3u64 {
        let hash = xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), seed);
        let _ = write!(id, "{hash:016x}");
    }
    id.truncate(40);
    id
}

/// CLUSTER <subcommand> (the command table checked its name and arity).
pub fn cluster(ctx: &mut Ctx<'_>, cluster: &Cluster, args: Args<'_>) -> Outcome {
    let sub = args.get(1);
    let view = cluster.view_full();
    match () {
        () if is(sub, "slots") => slots(ctx, &view),
        () if is(sub, "shards") => shards(ctx, &view),
        () if is(sub, "nodes") => {
            let text = nodes(&view, &cluster.settings.node_name);
            ctx.reply.verbatim(text.as_bytes());
        }
        () if is(sub, "info") => {
            let text = info(cluster, &view);
            ctx.reply.verbatim(text.as_bytes());
        }
        () if is(sub, "myid") => ctx
            .reply
            .bulk(node_id(&cluster.settings.node_name).as_bytes()),
        () if is(sub, "keyslot") => ctx.reply.int(i64::from(key_slot(args.get(2)))),
        () if is(sub, "countkeysinslot") => {
            let Some(slot) = parse_slot(args.get(2)) else {
                return ctx.fail("ERR Invalid slot");
            };
            let count = match ctx.store.slot_counts() {
                Some(counts) => counts.keys(slot),
                None => ctx.store.find_keys(0, |key| key_slot(key) == slot).0 as u64,
            };
            ctx.reply.int(count as i64);
        }
        () if is(sub, "getkeysinslot") => {
            let Some(slot) = parse_slot(args.get(2)) else {
                return ctx.fail("ERR Invalid slot");
            };
            let Some(limit) = parse_i64(args.get(3)) else {
                return ctx.fail(NOT_INTEGER);
            };
            if limit < 0 {
                return ctx.fail("ERR Invalid number of keys");
            }
            let (_, keys) = ctx
                .store
                .find_keys(limit as usize, |key| key_slot(key) == slot);
            ctx.reply.array(keys.len());
            for key in keys {
                ctx.reply.bulk(&key);
            }
        }
        () => return ctx.unknown_subcommand(sub, "CLUSTER"),
    }
    Outcome::Unchanged
}

/// A slot number, if `text` is one.
pub fn parse_slot(text: &[u8]) -> Option<u16> {
    parse_i64(text)
        .filter(|s| (0..i64::from(ringcache_proto::SLOT_COUNT)).contains(s))
        .map(|s| s as u16)
}

fn write_node(ctx: &mut Ctx<'_>, view: &ClusterView, node: NodeIndex) {
    let addr = view.addr(node);
    ctx.reply.array(4);
    ctx.reply.bulk(addr.ip().to_string().as_bytes());
    ctx.reply.int(i64::from(addr.port()));
    ctx.reply.bulk(node_id(view.name(node)).as_bytes());
    ctx.reply.map(0);
}

/// Contiguous slot ranges with one primary, in slot order: (start,
/// end_inclusive, primary). Ranges whose replica lists differ but whose
/// primary is the same are merged: this is the ring as a Redis Cluster of
/// masters only would describe it.
pub fn primary_ranges(view: &ClusterView) -> Vec<(u16, u16, NodeIndex)> {
    let mut merged: Vec<(u16, u16, NodeIndex)> = Vec::new();
    for (start, end, owners) in view.placement.ranges() {
        let Some(&primary) = owners.first() else {
            continue;
        };
        match merged.last_mut() {
            Some(last) if last.2 == primary && last.1 + 1 == start => last.1 = end,
            _ => merged.push((start, end, primary)),
        }
    }
    merged
}

/// CLUSTER SLOTS: each contiguous range with its primary; with
/// `cluster-announce-replicas yes`, its replica copies after it.
///
/// By default no replica is listed: on a ring every node is the primary of
/// some ranges and a replica of others, and a client that keeps one role
/// per node (redis-py keeps the first it reads) would take some nodes for
/// replicas only and leave them out of its fan-outs (DBSIZE, SCAN,
/// FLUSHALL to every primary).
fn slots(ctx: &mut Ctx<'_>, view: &ClusterView) {
    if ctx.node.config.read().cluster_announce_replicas {
        let ranges: Vec<_> = view
            .placement
            .ranges()
            .into_iter()
            .filter(|(_, _, owners)| !owners.is_empty())
            .collect();
        ctx.reply.array(ranges.len());
        for (start, end, owners) in ranges {
            ctx.reply.array(2 + owners.len());
            ctx.reply.int(i64::from(start));
            ctx.reply.int(i64::from(end));
            for node in owners {
                write_node(ctx, view, node);
            }
        }
        return;
    }
    let ranges = primary_ranges(view);
    ctx.reply.array(ranges.len());
    for (start, end, primary) in ranges {
        ctx.reply.array(3);
        ctx.reply.int(i64::from(start));
        ctx.reply.int(i64::from(end));
        write_node(ctx, view, primary);
    }
}

/// Each ring node's primary ranges, in node order (nodes primary for
/// nothing have none).
fn ranges_by_node(view: &ClusterView) -> Vec<Vec<(u16, u16)>> {
    let mut by_node = vec![Vec::new(); view.placement.nodes().len()];
    for (start, end, primary) in primary_ranges(view) {
        if let Some(ranges) = by_node.get_mut(usize::from(primary)) {
            ranges.push((start, end));
        }
    }
    by_node
}

/// CLUSTER SHARDS: one shard per node, holding the ranges it is primary
/// for, with the node as its only (master) member.
fn shards(ctx: &mut Ctx<'_>, view: &ClusterView) {
    let by_node = ranges_by_node(view);
    ctx.reply.array(by_node.len());
    for (index, ranges) in by_node.into_iter().enumerate() {
        let node = index as NodeIndex;
        ctx.reply.map(2);
        ctx.reply.bulk(b"slots");
        ctx.reply.array(ranges.len() * 2);
        for (start, end) in ranges {
            ctx.reply.int(i64::from(start));
            ctx.reply.int(i64::from(end));
        }
        ctx.reply.bulk(b"nodes");
        ctx.reply.array(1);
        let addr = view.addr(node);
        ctx.reply.map(7);
        ctx.reply.bulk(b"id");
        ctx.reply.bulk(node_id(view.name(node)).as_bytes());
        ctx.reply.bulk(b"port");
        ctx.reply.int(i64::from(addr.port()));
        ctx.reply.bulk(b"ip");
        ctx.reply.bulk(addr.ip().to_string().as_bytes());
        ctx.reply.bulk(b"endpoint");
        ctx.reply.bulk(addr.ip().to_string().as_bytes());
        ctx.reply.bulk(b"role");
        ctx.reply.bulk(b"master");
        ctx.reply.bulk(b"replication-offset");
        ctx.reply.int(0);
        ctx.reply.bulk(b"health");
        ctx.reply.bulk(b"online");
    }
}

/// CLUSTER NODES: every ring node as a master of the ranges it is primary
/// for (on a ring every node is both a primary and a replica, which Redis's
/// master/replica flags cannot say). Each node's config epoch is its place
/// in the ring plus one, distinct as Redis Cluster's masters' are.
fn nodes(view: &ClusterView, me: &str) -> String {
    let mut text = String::new();
    let by_node = ranges_by_node(view);
    for (index, (member, ranges)) in view.placement.nodes().iter().zip(by_node).enumerate() {
        let node = index as NodeIndex;
        let addr: SocketAddr = view.addr(node);
        let flags = if member.name == me {
            "myself,master"
        } else {
            "master"
        };
        let _ = write!(
            text,
            "{} {}:{}@{} {} - 0 0 {} connected",
            node_id(&member.name),
            addr.ip(),
            addr.port(),
            view.member(&member.name)
                .map_or(0, |m| m.gossip_addr.port()),
            flags,
            index + 1
        );
        for (start, end) in ranges {
            if start == end {
                let _ = write!(text, " {start}");
            } else {
                let _ = write!(text, " {start}-{end}");
            }
        }
        text.push('\n');
    }
    text
}

/// CLUSTER INFO. The epochs are those CLUSTER NODES shows: a node's place
/// in the ring plus one, the current epoch the highest of them.
fn info(cluster: &Cluster, view: &ClusterView) -> String {
    let served = (0..ringcache_proto::SLOT_COUNT)
        .filter(|&s| view.placement.primary(s).is_some())
        .count();
    let state = if served == usize::from(ringcache_proto::SLOT_COUNT) {
        "ok"
    } else {
        "fail"
    };
    let mut text = String::new();
    let _ = write!(
        text,
        "cluster_state:{state}\r\n\
         cluster_slots_assigned:{served}\r\n\
         cluster_slots_ok:{served}\r\n\
         cluster_slots_pfail:0\r\n\
         cluster_slots_fail:0\r\n\
         cluster_known_nodes:{}\r\n\
         cluster_size:{}\r\n\
         cluster_current_epoch:{}\r\n\
         cluster_my_epoch:{}\r\n\
         cluster_ring_version:{}\r\n\
         cluster_replicas:{}\r\n\
         cluster_write_quorum:{}\r\n\
         cluster_mode:{}\r\n",
        view.members.len(),
        view.placement.nodes().len(),
        view.placement.nodes().len(),
        view.placement
            .node_index(&cluster.settings.node_name)
            .map_or(0, |i| usize::from(i) + 1),
        view.version,
        cluster.settings.replicas,
        cluster.settings.write_quorum,
        if cluster.settings.redirect {
            "redirect"
        } else {
            "proxy"
        },
    );
    text
}
