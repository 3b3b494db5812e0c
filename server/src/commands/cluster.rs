//! Cluster commands: CLUSTER (SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT,
//! COUNTKEYSINSLOT, GETKEYSINSLOT) in Redis Cluster's reply formats so
//! cluster-aware clients route straight to owners; READONLY, READWRITE,
//! ASKING and WAIT; and the internal commands nodes send each other
//! (RCPEER, RCAPPLY, RCHANDOFF).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ringcache_proto::key_slot;
use ringcache_proto::ring::NodeIndex;

use tracing::warn;

use super::args::{is, parse_i64, NOT_INTEGER};
use super::{After, Ctx};
use crate::cluster::peer_auth::{self, Answer};
use crate::cluster::view::ClusterView;
use crate::cluster::{wire, AheadOfClock, Cluster};
use crate::log_limit::{LogLimit, WARN_PERIOD_MS};
use crate::protocol::Args;
use crate::stats::ServerStats;

/// Redis's error for cluster commands on a node without cluster support.
const DISABLED: &str = "ERR This instance has cluster support disabled";

fn cluster_of<'a>(ctx: &mut Ctx<'a>) -> Option<&'a Arc<Cluster>> {
    let cluster = ctx.node.cluster.get();
    if cluster.is_none() {
        ctx.fail(DISABLED);
    }
    cluster
}

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

/// CLUSTER <subcommand>.
pub fn cluster(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let sub = args.get(1);
    if is(sub, "help") {
        return ctx.help(CLUSTER_HELP);
    }
    let Some(cluster) = cluster_of(ctx) else {
        return;
    };
    let view = cluster.view_full();
    let n = args.len();
    match () {
        () if is(sub, "slots") && n == 2 => slots(ctx, &view),
        () if is(sub, "shards") && n == 2 => shards(ctx, &view),
        () if is(sub, "nodes") && n == 2 => {
            let text = nodes(&view, &cluster.settings.node_name);
            ctx.reply.verbatim(text.as_bytes());
        }
        () if is(sub, "info") && n == 2 => {
            let text = info(cluster, &view);
            ctx.reply.verbatim(text.as_bytes());
        }
        () if is(sub, "myid") && n == 2 => ctx
            .reply
            .bulk(node_id(&cluster.settings.node_name).as_bytes()),
        () if is(sub, "keyslot") && n == 3 => ctx.reply.int(i64::from(key_slot(args.get(2)))),
        () if is(sub, "countkeysinslot") && n == 3 => {
            let Some(slot) = parse_slot(args.get(2)) else {
                return ctx.fail("ERR Invalid slot");
            };
            let (count, _) = ctx.store().find_keys(0, |key| key_slot(key) == slot);
            ctx.reply.int(count as i64);
        }
        () if is(sub, "getkeysinslot") && n == 4 => {
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
                .store()
                .find_keys(limit as usize, |key| key_slot(key) == slot);
            ctx.reply.array(keys.len());
            for key in keys {
                ctx.reply.bulk(&key);
            }
        }
        () => ctx.unknown_subcommand(sub, "CLUSTER"),
    }
}

fn parse_slot(text: &[u8]) -> Option<u16> {
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

/// CLUSTER SLOTS: each contiguous range with its primary, then replicas.
fn slots(ctx: &mut Ctx<'_>, view: &ClusterView) {
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
}

/// CLUSTER SHARDS: one shard per distinct owner list, with its ranges.
fn shards(ctx: &mut Ctx<'_>, view: &ClusterView) {
    // (owners, their slot ranges)
    type Shard = (Vec<NodeIndex>, Vec<(u16, u16)>);
    let mut groups: Vec<Shard> = Vec::new();
    for (start, end, owners) in view.placement.ranges() {
        if owners.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(o, _)| *o == owners) {
            Some((_, ranges)) => ranges.push((start, end)),
            None => groups.push((owners, vec![(start, end)])),
        }
    }
    ctx.reply.array(groups.len());
    for (owners, ranges) in groups {
        ctx.reply.map(2);
        ctx.reply.bulk(b"slots");
        ctx.reply.array(ranges.len() * 2);
        for (start, end) in ranges {
            ctx.reply.int(i64::from(start));
            ctx.reply.int(i64::from(end));
        }
        ctx.reply.bulk(b"nodes");
        ctx.reply.array(owners.len());
        for (i, &node) in owners.iter().enumerate() {
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
            ctx.reply.bulk(if i == 0 {
                b"master".as_slice()
            } else {
                b"replica"
            });
            ctx.reply.bulk(b"replication-offset");
            ctx.reply.int(0);
            ctx.reply.bulk(b"health");
            ctx.reply.bulk(b"online");
        }
    }
}

/// CLUSTER NODES: every ring node as a master of the ranges it is primary
/// for (on a ring every node is both a primary and a replica, which Redis's
/// master/replica flags cannot say; CLUSTER SLOTS and SHARDS list the
/// replicas of each range).
fn nodes(view: &ClusterView, me: &str) -> String {
    let mut text = String::new();
    let ranges = view.placement.ranges();
    for (index, member) in view.placement.nodes().iter().enumerate() {
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
            view.version
        );
        for (start, end, owners) in &ranges {
            if owners.first() == Some(&node) {
                if start == end {
                    let _ = write!(text, " {start}");
                } else {
                    let _ = write!(text, " {start}-{end}");
                }
            }
        }
        text.push('\n');
    }
    text
}

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
        view.version,
        view.version,
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

const CLUSTER_HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot> held by this node.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by this node in a slot.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node.",
    "SHARDS",
    "    Return information about slot range mappings and the nodes.",
    "SLOTS",
    "    Return information about slots range mappings.",
    "HELP",
    "    Print this help.",
];

/// READONLY: reads may be served by a replica of the key's slot.
pub fn readonly(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    if cluster_of(ctx).is_some() {
        ctx.session.readonly = true;
        ctx.reply.ok();
    }
}

/// READWRITE: back to reading from primaries.
pub fn readwrite(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    if cluster_of(ctx).is_some() {
        ctx.session.readonly = false;
        ctx.reply.ok();
    }
}

/// ASKING: accepted for cluster clients; slots here are served by their
/// new owner at once (reading through to the old one), so no request needs it.
pub fn asking(ctx: &mut Ctx<'_>, _args: Args<'_>) {
    if cluster_of(ctx).is_some() {
        ctx.reply.ok();
    }
}

/// WAIT on a node without replicas: no replica can confirm anything.
/// (Cluster nodes answer WAIT in the request path, where it can block.)
pub fn wait(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let (Some(_), Some(timeout)) = (parse_i64(args.get(1)), parse_i64(args.get(2))) else {
        return ctx.fail(NOT_INTEGER);
    };
    if timeout < 0 {
        return ctx.fail("ERR timeout is negative");
    }
    ctx.reply.int(0);
}

/// Limits the warnings of refused peer handshakes (a stranger sets their
/// rate).
static PEER_AUTH_WARNINGS: LogLimit = LogLimit::new(WARN_PERIOD_MS);

/// RCPEER nonce | RCPEER proof: the node's side of the peer handshake
/// (`cluster::peer_auth`). Once the dialer proved the cluster key, this
/// connection is a link from another node: authenticated (the link stands
/// in for AUTH), and its requests run here and are never forwarded again.
/// A wrong or malformed proof is refused, counted, and closes the
/// connection.
pub fn rcpeer(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(cluster) = cluster_of(ctx) else {
        return;
    };
    let pending = ctx.session.peer_challenge.take();
    match peer_auth::answer(&cluster.settings.keys, pending, args.get(1)) {
        Answer::Challenge(challenge, [nonce, proof]) => {
            ctx.session.peer_challenge = Some(challenge);
            ctx.reply.array(2);
            ctx.reply.bulk(nonce.as_bytes());
            ctx.reply.bulk(proof.as_bytes());
        }
        Answer::Accepted => {
            ctx.session.peer = true;
            ctx.session.authenticated = true;
            ctx.session.protected = false;
            ctx.reply.ok();
        }
        Answer::Refused => {
            cluster
                .stats
                .peer_auth_refused
                .fetch_add(1, Ordering::Relaxed);
            if let Some(suppressed) = PEER_AUTH_WARNINGS.allow() {
                warn!(client = %ctx.session.handle.peer, suppressed, "peer handshake refused: wrong or malformed proof");
            }
            ctx.fail(peer_auth::REFUSED);
            ctx.after = After::Close;
        }
    }
}

/// Protected mode on a cluster node: a non-loopback client that has not
/// proved it is a peer gets Redis's DENIED error and is closed.
pub fn deny_protected(ctx: &mut Ctx<'_>) {
    ServerStats::add(&ctx.node.stats.rejected_connections, 1);
    if let Some(suppressed) = crate::server::PROTECTED_WARNINGS.allow() {
        warn!(client = %ctx.session.handle.peer, suppressed, "protected mode: refused a non-loopback client that is not a peer");
    }
    let line = crate::server::PROTECTED_MODE_ERROR;
    ctx.fail(line.trim_start_matches('-').trim_end());
    ctx.after = After::Close;
}

/// RCREAD command...: runs a read here as it is, with no routing (a new
/// owner reading a miss through to the previous owner).
pub fn rcread(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let inner = args.slice_from(1);
    match super::lookup(inner.get(0)) {
        Some(spec) if spec.flags & super::READONLY != 0 => {
            super::execute(ctx, inner);
        }
        _ => ctx.fail("ERR RCREAD runs read-only commands only"),
    }
}

/// RCAPPLY: applies one key's state unless the local copy is newer.
pub fn rcapply(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(cluster) = cluster_of(ctx) else {
        return;
    };
    let Some(snapshot) = wire::decode_apply(args) else {
        return ctx.fail("ERR malformed RCAPPLY");
    };
    let peer = ctx.session.handle.peer;
    match cluster.apply_from_peer(ctx.store(), snapshot, peer) {
        Ok(_) => ctx.reply.ok(),
        Err(AheadOfClock(ms)) => ctx.fail(&format!(
            "ERR version {ms} ms ahead of this node's clock (over cluster-max-clock-skew)"
        )),
    }
}

/// RCHANDOFF: the previous owner finished streaming these slots.
pub fn rchandoff(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(cluster) = cluster_of(ctx) else {
        return;
    };
    let slots: Option<Vec<u16>> = args.iter_from(1).map(parse_slot).collect();
    let Some(slots) = slots else {
        return ctx.fail("ERR Invalid slot");
    };
    cluster.handoffs.taken(&slots);
    ctx.reply.ok();
}

/// RCEXPORT shard slot...: one page of the entries of `slots` (the keys of
/// one shard), for a new owner pulling them.
pub fn rcexport(ctx: &mut Ctx<'_>, args: Args<'_>) {
    let Some(cluster) = cluster_of(ctx) else {
        return;
    };
    let shard =
        parse_i64(args.get(1)).filter(|&s| s >= 0 && (s as usize) < ctx.store().shard_count());
    let Some(shard) = shard else {
        return ctx.fail("ERR Invalid shard");
    };
    let mut wanted = vec![false; usize::from(ringcache_proto::SLOT_COUNT)];
    for arg in args.iter_from(2) {
        let Some(slot) = parse_slot(arg) else {
            return ctx.fail("ERR Invalid slot");
        };
        wanted[usize::from(slot)] = true;
    }
    let entries = ctx
        .store()
        .export_shard(shard as usize, |key| wanted[usize::from(key_slot(key))]);
    let next = if (shard as usize) + 1 < ctx.store().shard_count() {
        shard + 1
    } else {
        -1
    };
    cluster
        .handoffs
        .keys_sent
        .fetch_add(entries.len() as u64, Ordering::Relaxed);
    let mut page = bytes::BytesMut::new();
    crate::cluster::handoff::encode_page(&mut page, next, &entries);
    ctx.reply.raw(&page);
}
