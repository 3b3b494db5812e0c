//! Routing: where a request runs. Key positions and the routing kind come
//! from the command table, so no command handler knows about the cluster
//! and nothing here knows a command by its name. A request whose keys all
//! belong to this node runs here; otherwise it is forwarded to the owner
//! (proxy mode, the default, so plain clients work against any node), split
//! by owner when the table gives a merge rule (MGET, MSET, DEL, ...), or
//! answered with MOVED (redirect mode, as Redis Cluster).

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use ringcache_proto::resp::{self, Value};
use ringcache_proto::{key_slot, ring::NodeIndex};

use super::view::ClusterView;
use super::Cluster;
use crate::commands::{CommandSpec, Flags, Merge, Routing};
use crate::protocol::Args;

/// Redis's error for keys of one command in different slots.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
/// Redis's error when no node serves a slot.
pub const CLUSTERDOWN: &str = "CLUSTERDOWN Hash slot not served";

/// One owner's share of a split command.
#[derive(Debug)]
pub struct Part {
    /// Where it runs: `None` for this node.
    pub target: Option<SocketAddr>,
    /// The sub-command, encoded.
    pub command: Bytes,
    /// Positions (in key order) of its keys in the original request.
    pub keys: Vec<usize>,
}

/// Where a request runs.
#[derive(Debug)]
pub enum Route {
    /// Here.
    Local,
    /// At its owner, relayed.
    Forward(SocketAddr),
    /// Here, but a miss reads through to the previous owner (import).
    ReadThrough(SocketAddr),
    /// `-MOVED slot addr`.
    Moved(u16, SocketAddr),
    /// Split by owner and merged.
    Split(Merge, Vec<Part>),
    /// Copies of the keys gathered here (each part an `RCDUMP` of one
    /// owner's keys; `None`: this node's), the reply computed here.
    Gather(Vec<Part>),
    /// An error reply.
    Fail(&'static str),
    /// EXEC of a transaction whose slot another node owns: the queue runs
    /// there as one unit (RCEXEC), its reply relayed.
    Transaction(SocketAddr),
}

/// Per-connection flags routing depends on.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteFlags {
    /// READONLY: reads may be served by a replica.
    pub readonly: bool,
    /// RESP3 connection (forwards go over a RESP3 link).
    pub resp3: bool,
}

/// Decides where `args` (a command described by `spec`) runs.
pub fn route(cluster: &Cluster, spec: &CommandSpec, args: Args<'_>, flags: RouteFlags) -> Route {
    let spread = match spec.routing {
        Routing::Slot => Spread::Refused,
        Routing::Split(merge) => Spread::Split(merge),
        Routing::Gather => Spread::Gathered,
        Routing::AnyNode | Routing::ThisNode | Routing::Keyless | Routing::Cluster => {
            return Route::Local
        }
    };
    let view = cluster.view();
    // The common case, one key: no allocation.
    if let Some(position) = spec.keys.single() {
        let Some(key) = args.try_get(position) else {
            return Route::Local;
        };
        return route_one(cluster, &view, spec, key_slot(key), flags);
    }
    let all = spec.keys.positions(args);
    let Some(&first) = all.first() else {
        return Route::Local;
    };
    let slot = key_slot(args.get(first));
    let read_any_copy = flags.readonly && spec.has(Flags::READONLY);
    let serves = |slot: u16| {
        if read_any_copy {
            view.is_owner(slot)
        } else {
            view.is_primary(slot)
        }
    };
    if cluster.settings.redirect {
        if all.iter().any(|&p| key_slot(args.get(p)) != slot) {
            return Route::Fail(CROSSSLOT);
        }
        if serves(slot) {
            return Route::Local;
        }
        return match view.primary(slot) {
            Some((_, addr)) => Route::Moved(slot, addr),
            None => Route::Fail(CLUSTERDOWN),
        };
    }
    // Proxy mode: group the keys by the node that serves them (None: here).
    let mut groups: Vec<(Option<NodeIndex>, Vec<usize>)> = Vec::new();
    for (index, &position) in all.iter().enumerate() {
        let slot = key_slot(args.get(position));
        let owner = if serves(slot) {
            None
        } else {
            match view.placement.primary(slot) {
                Some(node) => Some(node),
                None => return Route::Fail(CLUSTERDOWN),
            }
        };
        match groups.iter_mut().find(|(o, _)| *o == owner) {
            Some((_, keys)) => keys.push(index),
            None => groups.push((owner, vec![index])),
        }
    }
    match (groups.as_slice(), spread) {
        ([(None, _)], _) => Route::Local,
        ([(Some(node), _)], _) => Route::Forward(view.addr(*node)),
        (_, Spread::Refused) => Route::Fail(CROSSSLOT),
        (_, Spread::Split(merge)) => split(&view, spec, args, &all, groups, merge),
        (_, Spread::Gathered) => gather(&view, args, &all, groups),
    }
}

/// What becomes of a request whose keys live on several nodes.
#[derive(Debug, Clone, Copy)]
enum Spread {
    /// CROSSSLOT, as Redis Cluster.
    Refused,
    /// One request per owner, the replies merged.
    Split(Merge),
    /// The keys copied here, the reply computed here.
    Gathered,
}

/// One `RCDUMP` of its keys per owner.
fn gather(
    view: &ClusterView,
    args: Args<'_>,
    all: &[usize],
    groups: Vec<(Option<NodeIndex>, Vec<usize>)>,
) -> Route {
    let parts = groups
        .into_iter()
        .map(|(owner, keys)| {
            let mut parts: Vec<&[u8]> = vec![b"RCDUMP"];
            parts.extend(keys.iter().map(|&index| args.get(all[index])));
            let mut command = BytesMut::new();
            resp::write_command(&mut command, &parts);
            Part {
                target: owner.map(|node| view.addr(node)),
                command: command.freeze(),
                keys,
            }
        })
        .collect();
    Route::Gather(parts)
}

/// A request whose keys live on several nodes, cut into one request per
/// owner; each key takes the arguments up to the next key along (MSET's
/// value).
fn split(
    view: &ClusterView,
    spec: &CommandSpec,
    args: Args<'_>,
    all: &[usize],
    groups: Vec<(Option<NodeIndex>, Vec<usize>)>,
    merge: Merge,
) -> Route {
    let (_, _, step) = spec.keys.triple();
    let per_key = step.max(1) as usize;
    // A key without all of them (MSET with no last value): the handler
    // answers Redis's arity error.
    if all.iter().any(|&p| p + per_key > args.len()) {
        return Route::Local;
    }
    let parts = groups
        .into_iter()
        .map(|(owner, keys)| {
            let mut parts: Vec<&[u8]> = vec![args.get(0)];
            for &index in &keys {
                parts.extend(args.iter_from(all[index]).take(per_key));
            }
            let mut command = BytesMut::new();
            resp::write_command(&mut command, &parts);
            Part {
                target: owner.map(|node| view.addr(node)),
                command: command.freeze(),
                keys,
            }
        })
        .collect();
    Route::Split(merge, parts)
}

/// Where a one-key request runs.
fn route_one(
    cluster: &Cluster,
    view: &ClusterView,
    spec: &CommandSpec,
    slot: u16,
    flags: RouteFlags,
) -> Route {
    let read_any_copy = flags.readonly && spec.has(Flags::READONLY);
    let serves = if read_any_copy {
        view.is_owner(slot)
    } else {
        view.is_primary(slot)
    };
    if serves {
        if spec.has(Flags::READONLY) {
            if let Some(from) = cluster.imports.source(slot) {
                return Route::ReadThrough(from);
            }
        }
        return Route::Local;
    }
    let Some((_, addr)) = view.primary(slot) else {
        return Route::Fail(CLUSTERDOWN);
    };
    if cluster.settings.redirect {
        Route::Moved(slot, addr)
    } else {
        Route::Forward(addr)
    }
}

/// True if this node is the primary of every key of `args` (or it has no
/// keys): where a write forwarded by a peer may run.
pub fn primary_of_all(cluster: &Cluster, spec: &CommandSpec, args: Args<'_>) -> bool {
    let view = cluster.view();
    if let Some(position) = spec.keys.single() {
        return args
            .try_get(position)
            .is_none_or(|key| view.is_primary(key_slot(key)));
    }
    spec.keys
        .positions(args)
        .iter()
        .all(|&p| view.is_primary(key_slot(args.get(p))))
}

/// The previous owner to read a one-key read through from, when its slot
/// is being imported (whoever sent the request; for `RCTRACK`, the read it
/// carries).
pub fn read_through_source(
    cluster: &Cluster,
    spec: &CommandSpec,
    args: Args<'_>,
) -> Option<SocketAddr> {
    let (spec, args) = tracked_read(spec, args);
    if !spec.has(Flags::READONLY) {
        return None;
    }
    let key = args.try_get(spec.keys.single()?)?;
    cluster.imports.source(key_slot(key))
}

/// The read inside `RCTRACK read...` (another node's tracking client's
/// read: its keys are those of the read) with its row; any other request
/// as it is.
pub fn tracked_read<'s, 'a>(spec: &'s CommandSpec, args: Args<'a>) -> (&'s CommandSpec, Args<'a>) {
    // Its row names no keys of its own (see `cluster/tracking.rs`).
    if spec.has(Flags::CARRIES_READ) && args.len() > 1 {
        if let Some(inner) = crate::commands::lookup(args.get(1)) {
            return (inner, args.slice_from(1));
        }
    }
    (spec, args)
}

/// Encodes `args` behind the command name `wrapper`.
pub fn encode_wrapped(wrapper: &[u8], args: Args<'_>) -> Bytes {
    let mut out = BytesMut::new();
    resp::write_len(&mut out, b'*', args.len() as i64 + 1);
    resp::write_bulk(&mut out, wrapper);
    for arg in args.iter_from(0) {
        resp::write_bulk(&mut out, arg);
    }
    out.freeze()
}

/// Re-encodes a request to forward it.
pub fn encode(args: Args<'_>) -> Bytes {
    let mut out = BytesMut::new();
    resp::write_len(&mut out, b'*', args.len() as i64);
    for arg in args.iter_from(0) {
        resp::write_bulk(&mut out, arg);
    }
    out.freeze()
}

/// Combines the replies of a split command's parts (each with the
/// positions of its keys) into one reply for `total` keys.
pub fn merge(merge: Merge, total: usize, parts: Vec<(Vec<usize>, Bytes)>) -> Bytes {
    // An error from any part is the answer.
    if let Some((_, error)) = parts.iter().find(|(_, reply)| reply.first() == Some(&b'-')) {
        return error.clone();
    }
    let mut out = BytesMut::new();
    match merge {
        Merge::Sum => {
            let mut sum = 0i64;
            for (_, reply) in &parts {
                match resp::decode(reply) {
                    Ok(Some((Value::Int(n), _))) => sum += n,
                    _ => return error_reply("ERR unexpected reply from a peer"),
                }
            }
            resp::write_int(&mut out, sum);
        }
        Merge::AllOk => resp::write_simple(&mut out, b"OK"),
        Merge::Values => {
            let mut slots: Vec<Option<Bytes>> = vec![None; total];
            for (keys, reply) in &parts {
                let Some(elements) = array_elements(reply) else {
                    return error_reply("ERR unexpected reply from a peer");
                };
                if elements.len() != keys.len() {
                    return error_reply("ERR unexpected reply from a peer");
                }
                for (&at, element) in keys.iter().zip(elements) {
                    if let Some(slot) = slots.get_mut(at) {
                        *slot = Some(element);
                    }
                }
            }
            resp::write_len(&mut out, b'*', total as i64);
            for element in slots {
                match element {
                    Some(bytes) => out.extend_from_slice(&bytes),
                    None => out.extend_from_slice(b"$-1\r\n"),
                }
            }
        }
    }
    out.freeze()
}

/// The raw frames of an array reply's elements.
fn array_elements(reply: &Bytes) -> Option<Vec<Bytes>> {
    let header_end = reply.windows(2).position(|w| w == b"\r\n")?;
    if reply.first() != Some(&b'*') {
        return None;
    }
    let count: usize = std::str::from_utf8(&reply[1..header_end])
        .ok()?
        .parse()
        .ok()?;
    let mut at = header_end + 2;
    let mut elements = Vec::with_capacity(count);
    for _ in 0..count {
        let (_, used) = resp::decode(&reply[at..]).ok()??;
        elements.push(reply.slice(at..at + used));
        at += used;
    }
    Some(elements)
}

/// An error frame.
pub fn error_reply(text: &str) -> Bytes {
    let mut out = BytesMut::new();
    resp::write_error(&mut out, text.as_bytes());
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_replies_merge_in_request_order() {
        let a = Bytes::from_static(b"*2\r\n$1\r\na\r\n$-1\r\n");
        let b = Bytes::from_static(b"*1\r\n$1\r\nb\r\n");
        let merged = merge(Merge::Values, 3, vec![(vec![0, 2], a), (vec![1], b)]);
        assert_eq!(&merged[..], b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$-1\r\n");
        let sum = merge(
            Merge::Sum,
            2,
            vec![
                (vec![0], Bytes::from_static(b":1\r\n")),
                (vec![1], Bytes::from_static(b":2\r\n")),
            ],
        );
        assert_eq!(&sum[..], b":3\r\n");
        let failed = merge(
            Merge::AllOk,
            2,
            vec![
                (vec![0], Bytes::from_static(b"+OK\r\n")),
                (vec![1], Bytes::from_static(b"-ERR x\r\n")),
            ],
        );
        assert_eq!(&failed[..], b"-ERR x\r\n");
    }
}
