//! Running one request on a cluster node: route it, then run it here (and
//! ship its effect to replicas), relay it to its owner, split it, or
//! redirect. A reply that is not known at once (forwarded, split, or held
//! until replicas confirm) comes back as a future; the connection keeps
//! such replies in request order.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::future::join_all;
use ringcache_proto::resp;

use super::peer::PeerReply;
use super::router::{self, Route, RouteFlags};
use super::Cluster;
use crate::commands::{self, After, Ctx, Session, WRITE};
use crate::protocol::{Args, Limits, Reply, RequestParser};
use crate::state::NodeState;

/// What WAIT knows of a connection's last write.
#[derive(Debug)]
pub enum LastWrite {
    /// Shipped without waiting: WAIT waits for the confirmations.
    Shipped(super::replication::Shipped),
    /// Held for its quorum: the confirmations counted then.
    Confirmed(Arc<AtomicUsize>),
}

/// A reply that arrives later.
pub type PendingReply = commands::Deferred;

/// Redis's error when a write cannot reach enough replicas.
const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
/// Longest WAIT blocks when asked to wait forever.
const WAIT_CAP: Duration = Duration::from_secs(60);

/// One request's surroundings on this node: what running it here needs.
struct Here<'r> {
    node: &'r Arc<NodeState>,
    cluster: &'r Arc<Cluster>,
    session: &'r mut Session,
    after: &'r mut After,
}

/// Runs `args` on a cluster node. Appends the reply to `output` when it is
/// known now; otherwise returns it as a future (replies already in `output`
/// come before it).
pub fn run(
    node: &Arc<NodeState>,
    cluster: &Arc<Cluster>,
    session: &mut Session,
    output: &mut BytesMut,
    args: Args<'_>,
    after: &mut After,
) -> Option<PendingReply> {
    let spec = commands::lookup(args.get(0));
    let routable = session.authenticated && !session.peer;
    let checked = session.authenticated;
    let mut here = Here {
        node,
        cluster,
        session,
        after,
    };
    let Some(spec) = spec.filter(|s| checked && commands::arity_ok(s.arity, args.len())) else {
        return here.run(output, args);
    };
    if !routable {
        // A request another node forwarded runs here; only a miss on a
        // slot being imported goes one hop further, to the previous owner.
        return match router::read_through_source(cluster, spec, args) {
            Some(from) => here.read_through(output, args, spec.first_key as usize, from),
            None => here.run(output, args),
        };
    }
    if spec.name == "wait" {
        return wait(here.session, output, args);
    }
    let resp3 = here.session.resp3;
    let flags = RouteFlags {
        readonly: here.session.readonly,
        resp3,
    };
    match router::route(cluster, spec, args, flags) {
        Route::Local => here.run(output, args),
        Route::Forward(addr) => Some(forward(cluster, addr, resp3, router::encode(args))),
        Route::ReadThrough(from) => here.read_through(output, args, spec.first_key as usize, from),
        Route::Moved(slot, addr) => {
            cluster.stats.redirected.fetch_add(1, Ordering::Relaxed);
            Reply::new(output, resp3).error(&format!("MOVED {slot} {addr}"));
            None
        }
        Route::Fail(message) => {
            Reply::new(output, resp3).error(message);
            None
        }
        Route::Split(merge, parts) => {
            let total = parts.iter().map(|p| p.keys.len()).sum();
            let mut waits: Vec<(Vec<usize>, PendingReply)> = Vec::with_capacity(parts.len());
            for part in parts {
                let future = match part.target {
                    Some(addr) => forward(cluster, addr, resp3, part.command),
                    None => here.run_encoded(&part.command),
                };
                waits.push((part.keys, future));
            }
            Some(Box::pin(async move {
                let (keys, futures): (Vec<_>, Vec<_>) = waits.into_iter().unzip();
                let replies = join_all(futures).await;
                router::merge(merge, total, keys.into_iter().zip(replies).collect())
            }))
        }
    }
}

/// Sends an encoded request to its owner; the reply is relayed as it is.
/// Given up on (no reply in time), the request must not run later: the
/// link is aborted (see `peer`'s module docs).
fn forward(cluster: &Cluster, addr: SocketAddr, resp3: bool, command: Bytes) -> PendingReply {
    cluster.stats.forwarded.fetch_add(1, Ordering::Relaxed);
    let reply = cluster.peers.send(addr, resp3, command);
    let peers = cluster.peers.clone();
    Box::pin(async move {
        let reply = bounded(reply).await;
        if reply.is_none() {
            peers.abort(addr);
        }
        relayed(reply)
    })
}

impl Here<'_> {
    /// Runs `args` on this node; a write this node is primary for is
    /// shipped to the replicas, and its reply held until W-1 of them
    /// confirm.
    fn run(&mut self, output: &mut BytesMut, args: Args<'_>) -> Option<PendingReply> {
        let start = output.len();
        let resp3 = self.session.resp3;
        let mut ctx = Ctx {
            node: self.node,
            reply: Reply::new(output, resp3),
            session: self.session,
            after: *self.after,
            deferred: None,
        };
        let index = commands::execute(&mut ctx, args);
        *self.after = ctx.after;
        if let Some(deferred) = ctx.deferred.take() {
            // Only reads defer their reply (KEYS); nothing to replicate.
            return Some(deferred);
        }
        let spec = index.and_then(|i| commands::COMMANDS.get(i))?;
        if spec.flags & WRITE == 0 || output.get(start) == Some(&b'-') {
            return None;
        }
        let keys = router::key_positions(spec, args.len()).map(|p| args.get(p));
        let shipped = super::replication::ship(self.cluster, &self.node.store, keys);
        let quorum = self.cluster.settings.write_quorum;
        if quorum <= 1 || shipped.is_empty() {
            self.session.last_write = Some(LastWrite::Shipped(shipped));
            return None;
        }
        let reply = output.split_off(start).freeze();
        let timeout = self
            .cluster
            .settings
            .failure_timeout
            .min(Duration::from_secs(2));
        let confirmed = Arc::new(AtomicUsize::new(0));
        self.session.last_write = Some(LastWrite::Confirmed(confirmed.clone()));
        Some(Box::pin(async move {
            let count = shipped.quorum(quorum - 1, timeout).await;
            confirmed.store(count, Ordering::Relaxed);
            if count >= quorum - 1 {
                reply
            } else {
                router::error_reply(NOREPLICAS)
            }
        }))
    }

    /// A read of a slot being imported: served here if the key is here,
    /// otherwise by the previous owner (wrapped in RCREAD so it runs there
    /// and goes no further); if that owner cannot answer, the local
    /// (missing) answer stands.
    fn read_through(
        &mut self,
        output: &mut BytesMut,
        args: Args<'_>,
        key_at: usize,
        from: SocketAddr,
    ) -> Option<PendingReply> {
        let key = args.get(key_at);
        if self.node.store.lock(key).peek(key).is_some() {
            return self.run(output, args);
        }
        let mut local = BytesMut::new();
        let pending = self.run(&mut local, args);
        debug_assert!(pending.is_none(), "reads are not held for replicas");
        self.cluster
            .stats
            .read_through
            .fetch_add(1, Ordering::Relaxed);
        let reply = self.cluster.peers.send(
            from,
            self.session.resp3,
            router::encode_wrapped(b"RCREAD", args),
        );
        let local = local.freeze();
        Some(Box::pin(async move {
            match bounded(reply).await {
                Some(Ok(frame)) if !frame.starts_with(b"-") => frame,
                _ => local,
            }
        }))
    }

    /// Runs an encoded command (a split command's local part) on this node.
    fn run_encoded(&mut self, command: &Bytes) -> PendingReply {
        let mut parser = RequestParser::new(Limits::default());
        let mut output = BytesMut::new();
        let pending = match parser.parse(command) {
            Ok(Some(_)) => self.run(&mut output, parser.args(command)),
            _ => {
                Reply::new(&mut output, self.session.resp3).error("ERR internal: bad sub-command");
                None
            }
        };
        pending.unwrap_or_else(|| {
            let reply = output.freeze();
            Box::pin(async move { reply })
        })
    }
}

/// WAIT numreplicas timeout: how many replicas confirmed this
/// connection's last write.
fn wait(session: &mut Session, output: &mut BytesMut, args: Args<'_>) -> Option<PendingReply> {
    let parse = |i: usize| -> Option<i64> { std::str::from_utf8(args.get(i)).ok()?.parse().ok() };
    let (Some(wanted), Some(timeout)) = (parse(1), parse(2)) else {
        Reply::new(output, session.resp3).error("ERR value is not an integer or out of range");
        return None;
    };
    if timeout < 0 {
        Reply::new(output, session.resp3).error("ERR timeout is negative");
        return None;
    }
    let Some(last) = session.last_write.take() else {
        Reply::new(output, session.resp3).int(0);
        return None;
    };
    let limit = if timeout == 0 {
        WAIT_CAP
    } else {
        Duration::from_millis(timeout as u64).min(WAIT_CAP)
    };
    let _ = wanted;
    Some(Box::pin(async move {
        // Replies go out in request order, so a write held for its quorum
        // has finished by the time this runs.
        let confirmed = match last {
            LastWrite::Shipped(shipped) => shipped.confirmed(limit).await,
            LastWrite::Confirmed(count) => count.load(Ordering::Relaxed),
        };
        let mut out = BytesMut::new();
        resp::write_int(&mut out, confirmed as i64);
        out.freeze()
    }))
}

/// Longest a forwarded request waits for its owner: a peer that accepts
/// but never answers (a partition without resets) must not hold the
/// client's connection forever.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits for a peer's reply, at most [`FORWARD_TIMEOUT`].
async fn bounded(reply: tokio::sync::oneshot::Receiver<PeerReply>) -> Option<PeerReply> {
    tokio::time::timeout(FORWARD_TIMEOUT, reply)
        .await
        .ok()?
        .ok()
}

/// A forwarded request's reply, or the error the client sees when the
/// owner cannot be reached in time (TRYAGAIN: cluster clients retry it).
fn relayed(reply: Option<PeerReply>) -> Bytes {
    match reply {
        Some(Ok(frame)) => frame,
        Some(Err(e)) => router::error_reply(&format!("TRYAGAIN {e}")),
        None => router::error_reply("TRYAGAIN no reply from the slot's owner in time"),
    }
}
