//! One client connection's side of the cluster: where its requests run
//! (here, at their owner, split, or redirected), the effects of its writes
//! (shipped to the replicas, the reply held for the write quorum), and the
//! cluster's state of the connection (READONLY, the keys it wrote for WAIT,
//! the peer handshake between its steps). The request pipeline asks it
//! what to do; the cluster's own commands reach it as a
//! [`ClusterPort`](crate::commands::ClusterPort).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::future::join_all;

use super::effects::{self, Effect};
use super::peer::PeerReply;
use super::peer_auth::Challenge;
use super::replication::{self, Shipped};
use super::router::{self, Part, Route, RouteFlags};
use super::wait::Written;
use super::Cluster;
use crate::clients::ClientHandle;
use crate::commands::{self, CommandSpec, Ctx, Deferred, Flags, Merge, ScriptReplication, Session};
use crate::protocol::{Args, Limits, Reply, RequestParser};
use crate::state::NodeState;
use crate::store::versioning::{Arming, VersionSource};
use crate::store::{Snapshot, Store, StoreOptions};

/// Redis's error when a write cannot reach enough replicas.
const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
/// Longest a forwarded request waits for its owner: a peer that accepts
/// but never answers (a partition without resets) must not hold the
/// client's connection forever.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// See the module docs; one per client connection of a cluster node.
pub struct Link {
    pub(super) node: Arc<NodeState>,
    pub(super) cluster: Arc<Cluster>,
    /// READONLY: reads may be served by a replica of their slot.
    pub(super) readonly: bool,
    /// The keys the connection wrote, for WAIT.
    pub(super) written: Written,
    /// The peer handshake's state between its two steps.
    pub(super) peer_challenge: Option<Challenge>,
    /// The connection came over TLS with a client certificate the CA
    /// vouches for: with `tls-cluster`, only such a connection may become
    /// a peer link.
    pub(super) certified: bool,
    /// The cluster's clock, as the store takes versions from it for a
    /// write shipped as its effect (`effects`).
    versions: VersionSource,
}

impl Link {
    /// The cluster side of a new connection (`certified`: see the field).
    pub fn new(node: Arc<NodeState>, cluster: Arc<Cluster>, certified: bool) -> Link {
        let clock = cluster.clone();
        let versions: VersionSource = Arc::new(move || clock.hlc.next().0);
        Link {
            node,
            cluster,
            versions,
            readonly: false,
            written: Written::default(),
            peer_challenge: None,
            certified,
        }
    }

    /// Where a request runs. A request from another node runs here (one
    /// hop), except a read of a slot being imported, which reads through to
    /// the slot's previous owner on a miss.
    pub fn route(&self, session: &Session, spec: &CommandSpec, args: Args<'_>) -> Route {
        if session.peer {
            if spec.has(Flags::WRITE) && !router::primary_of_all(&self.cluster, spec, args) {
                return Route::Fail(crate::commands::NOT_PRIMARY_HERE);
            }
            return match router::read_through_source(&self.cluster, spec, args) {
                Some(from) => Route::ReadThrough(from),
                None => Route::Local,
            };
        }
        if spec.has(Flags::EXCLUSIVE) {
            if let Some(owner) = session.multi.as_ref().and_then(|t| t.owner) {
                return Route::Transaction(owner);
            }
        }
        let flags = RouteFlags {
            readonly: self.readonly,
            resp3: session.resp3,
        };
        router::route(&self.cluster, spec, args, flags)
    }

    /// Whether a command may join the open transaction: its keys must
    /// hash to the transaction's one slot, served here or (proxy mode) by
    /// one other node that will run the whole transaction. `Err` is the
    /// reply (the transaction then fails at EXEC, as in Redis Cluster).
    pub fn check_queued(
        &self,
        session: &mut Session,
        spec: &CommandSpec,
        args: Args<'_>,
    ) -> Result<(), String> {
        let positions = spec.keys.positions(args);
        let Some(&first) = positions.first() else {
            return Ok(());
        };
        let slot = ringcache_proto::key_slot(args.get(first));
        let Some(transaction) = session.multi.as_mut() else {
            return Ok(());
        };
        let same = positions
            .iter()
            .all(|&p| ringcache_proto::key_slot(args.get(p)) == slot);
        if !same || transaction.slot.is_some_and(|s| s != slot) {
            return Err(router::CROSSSLOT.to_string());
        }
        transaction.slot = Some(slot);
        let flags = RouteFlags {
            readonly: false,
            resp3: session.resp3,
        };
        match router::route(&self.cluster, spec, args, flags) {
            Route::Local | Route::ReadThrough(_) => Ok(()),
            Route::Forward(addr) => {
                if let Some(transaction) = session.multi.as_mut() {
                    transaction.owner = Some(addr);
                }
                Ok(())
            }
            Route::Moved(slot, addr) => Err(format!("MOVED {slot} {addr}")),
            Route::Fail(message) => Err(message.to_string()),
            Route::Split(..) | Route::Gather(_) | Route::Transaction(_) => {
                Err(router::CROSSSLOT.to_string())
            }
        }
    }

    /// Carries out a route other than [`Route::Local`]: the reply (or an
    /// error reply) is written to `output` now, or comes later.
    pub fn dispatch(
        &mut self,
        route: Route,
        session: &mut Session,
        spec: &CommandSpec,
        output: &mut BytesMut,
        args: Args<'_>,
    ) -> Option<Deferred> {
        let resp3 = session.resp3;
        match route {
            Route::Local => self.run_here(session, output, args),
            Route::Forward(addr) => {
                if !spec.has(Flags::READONLY) {
                    let keys = spec.keys.positions(args).into_iter();
                    self.note_written(Some(addr), keys.filter_map(|p| args.try_get(p)));
                }
                let request = self.tracked_request(session, spec, args);
                Some(self.forward(addr, resp3, request))
            }
            Route::ReadThrough(from) => {
                let (inner_spec, read) = router::tracked_read(spec, args);
                let key_at = inner_spec.keys.single()?;
                self.read_through(session, output, args, read, key_at, from)
            }
            Route::Moved(slot, addr) => {
                self.cluster
                    .stats
                    .redirected
                    .fetch_add(1, Ordering::Relaxed);
                Reply::new(output, resp3).error(&format!("MOVED {slot} {addr}"));
                None
            }
            Route::Fail(message) => {
                Reply::new(output, resp3).error(message);
                None
            }
            Route::Split(merge, mut parts) => {
                if !spec.has(Flags::READONLY) {
                    for part in parts.iter() {
                        let keys = part.keys.iter().filter_map(|&p| args.try_get(p));
                        if let Some(addr) = part.target {
                            self.note_written(Some(addr), keys);
                        }
                    }
                }
                self.track_parts(session, spec, args, &mut parts);
                Some(self.split(session, merge, parts))
            }
            Route::Gather(parts) => Some(self.gather(session, args, parts)),
            Route::Transaction(owner) => self.forward_transaction(session, output, owner),
        }
    }

    /// A request to forward: a tracking client's read goes as RCTRACK (the
    /// owner remembers its keys for this node), its keys remembered here
    /// for the client (`cluster/tracking.rs`).
    fn tracked_request(&self, session: &Session, spec: &CommandSpec, args: Args<'_>) -> Bytes {
        let positions = commands::tracked_positions(&self.node, session, spec, args);
        if positions.is_empty() {
            return router::encode(args);
        }
        let keys = positions.iter().filter_map(|&p| args.try_get(p));
        let node = &self.node;
        node.tracking.remember(&node.clients, &session.handle, keys);
        router::encode_wrapped(b"RCTRACK", args)
    }

    /// A tracking client's read split across owners (MGET): its keys are
    /// remembered here for the client, and the parts for other nodes go as
    /// RCTRACK (the part run here remembers its own keys).
    fn track_parts(
        &self,
        session: &Session,
        spec: &CommandSpec,
        args: Args<'_>,
        parts: &mut [Part],
    ) {
        let positions = commands::tracked_positions(&self.node, session, spec, args);
        if positions.is_empty() {
            return;
        }
        let node = &self.node;
        let keys = positions.iter().filter_map(|&p| args.try_get(p));
        node.tracking.remember(&node.clients, &session.handle, keys);
        for part in parts.iter_mut().filter(|p| p.target.is_some()) {
            if let Some(wrapped) = super::tracking::wrap_encoded(b"RCTRACK", &part.command) {
                part.command = wrapped;
            }
        }
    }

    /// Notes keys the connection wrote (through `node`; `None`: here) for
    /// WAIT. Without replicas WAIT answers 0 whatever was written, so the
    /// write path keeps nothing.
    fn note_written<'k>(&self, node: Option<SocketAddr>, keys: impl IntoIterator<Item = &'k [u8]>) {
        if self.cluster.settings.replicas > 0 {
            self.written.record(node, keys);
        }
    }

    /// Arms the thread for a command about to run here whose write may
    /// ship as its effect (`effects::arm`); disarmed when the result drops.
    pub fn arm_effect(&self, spec: &CommandSpec, args: Args<'_>) -> Option<Arming> {
        effects::arm(&self.cluster, &self.versions, spec, args)
    }

    /// The effects of a request run here: a write to slots this node is
    /// primary of is shipped to their replicas (as `effect` for its key
    /// when the command ran armed and changed it in place), and its reply
    /// (from `start` in `output`) held until W-1 of them confirm it.
    pub fn after_write(
        &mut self,
        keys: Option<Vec<&[u8]>>,
        effect: Option<Effect<'_>>,
        output: &mut BytesMut,
        start: usize,
    ) -> Option<Deferred> {
        let Some(keys) = keys else {
            // Refused or unchanged after all: the versions it moved the
            // keys to go back, so the copies still match them.
            for changed in effect.iter().flat_map(Effect::changed) {
                let versioned = changed.versioned;
                self.node
                    .store
                    .restamp(changed.key, versioned.after, versioned.before);
            }
            return None;
        };
        self.note_written(None, keys.iter().copied());
        let store = &self.node.store;
        let shipped = replication::ship(&self.cluster, store, keys.into_iter(), effect);
        let verdict = verdict(&self.cluster, shipped)?;
        Some(hold_for(verdict, output.split_off(start).freeze()))
    }

    /// How a script run here replicates its writes (`ScriptReplication`):
    /// the thread that runs it ships them, within this node's runtime.
    pub fn script_replication(&self, keys: &[Vec<u8>]) -> ScriptReplication {
        let versions = effects::script_versions(&self.cluster, &self.versions, keys);
        let (cluster, store) = (self.cluster.clone(), self.node.store.clone());
        let runtime = tokio::runtime::Handle::current();
        let ship = move |written: &[Vec<u8>], effect: Option<&commands::ScriptEffect>| {
            let _runtime = runtime.enter();
            let effect = effect.and_then(effects::of_script);
            let keys = written.iter().map(Vec::as_slice);
            verdict(&cluster, replication::ship(&cluster, &store, keys, effect))
        };
        ScriptReplication {
            versions,
            ship: Box::new(ship),
        }
    }

    /// A script's effects on this connection once its writes were shipped
    /// (`ScriptReplication`): they count for WAIT, and its reply (from
    /// `start` in `output`) waits for the write quorum's `verdict`.
    pub fn after_script(
        &mut self,
        written: &[Vec<u8>],
        verdict: Option<commands::Verdict>,
        output: &mut BytesMut,
        start: usize,
    ) -> Option<Deferred> {
        self.note_written(None, written.iter().map(Vec::as_slice));
        Some(hold_for(verdict?, output.split_off(start).freeze()))
    }

    /// Runs a request here as the pipeline does, execution then effects:
    /// the local part of a split request, a read-through's local read.
    fn run_here(
        &mut self,
        session: &mut Session,
        output: &mut BytesMut,
        args: Args<'_>,
    ) -> Option<Deferred> {
        let start = output.len();
        let node = self.node.clone();
        let resp3 = session.resp3;
        let found = commands::find(session, args.get(0));
        let mut ctx = Ctx::new(&node, session, Reply::new(output, resp3), None);
        let outcome = commands::execute(&mut ctx, args);
        let deferred = ctx.deferred.take();
        let written = std::mem::take(&mut ctx.written);
        drop(ctx);
        if deferred.is_some() {
            return deferred;
        }
        let (_, spec) = found?;
        let keys = commands::written_keys(spec, args, outcome, &written);
        self.after_write(keys, None, output, start)
    }

    /// Sends an encoded request to its owner; the reply is relayed as it
    /// is. Given up on (no reply in time), the request must not run later:
    /// the link to that peer is aborted (see `peer`'s module docs).
    fn forward(&self, addr: SocketAddr, resp3: bool, command: Bytes) -> Deferred {
        self.cluster.stats.forwarded.fetch_add(1, Ordering::Relaxed);
        let reply = self.cluster.peers.send(addr, resp3, command);
        let peers = self.cluster.peers.clone();
        Box::pin(async move {
            let reply = bounded(reply).await;
            if reply.is_none() {
                peers.abort(addr);
            }
            relayed(reply)
        })
    }

    /// Runs each owner's share of a split request (this node's here) and
    /// merges the replies by the table's rule.
    fn split(&mut self, session: &mut Session, merge: Merge, parts: Vec<Part>) -> Deferred {
        let resp3 = session.resp3;
        let total = parts.iter().map(|p| p.keys.len()).sum();
        let mut waits: Vec<(Vec<usize>, Deferred)> = Vec::with_capacity(parts.len());
        for part in parts {
            let reply = match part.target {
                Some(addr) => self.forward(addr, resp3, part.command),
                None => self.run_encoded(session, &part.command),
            };
            waits.push((part.keys, reply));
        }
        Box::pin(async move {
            let (keys, replies): (Vec<_>, Vec<_>) = waits.into_iter().unzip();
            let replies = join_all(replies).await;
            router::merge(merge, total, keys.into_iter().zip(replies).collect())
        })
    }

    /// Fetches copies of the request's keys from their owners (this node's
    /// are copied at once), then runs the request here against a scratch
    /// store holding them. An owner that cannot answer fails the request
    /// with its error.
    fn gather(&mut self, session: &Session, args: Args<'_>, parts: Vec<Part>) -> Deferred {
        let resp3 = session.resp3;
        let mut copies = Vec::new();
        let mut fetches = Vec::new();
        for part in parts {
            match part.target {
                Some(addr) => fetches.push(self.forward(addr, resp3, part.command)),
                None => {
                    let mut parser = RequestParser::new(Limits::default());
                    if let Ok(Some(_)) = parser.parse(&part.command) {
                        let dump = parser.args(&part.command);
                        copies.extend(dump.iter_from(1).map(|key| self.node.store.copy_of(key)));
                    }
                }
            }
        }
        let node = self.node.clone();
        let handle = session.handle.clone();
        let command = router::encode(args);
        Box::pin(async move {
            for reply in join_all(fetches).await {
                match super::wire::decode_page(&reply) {
                    Some((_, entries)) => copies.extend(entries),
                    // An error reply (the owner refused or did not answer).
                    None => return reply,
                }
            }
            run_on_copies(&node, handle, resp3, &command, copies)
        })
    }

    /// EXEC of a transaction the slot's owner runs: the queue goes there
    /// as one RCEXEC and its reply comes back as EXEC's.
    fn forward_transaction(
        &mut self,
        session: &mut Session,
        output: &mut BytesMut,
        owner: SocketAddr,
    ) -> Option<Deferred> {
        let transaction = session.multi.take()?;
        session.watching = None;
        if transaction.failed() {
            Reply::new(output, session.resp3)
                .error("EXECABORT Transaction discarded because of previous errors.");
            return None;
        }
        self.note_written(Some(owner), transaction.keys());
        let mut command = BytesMut::new();
        transaction.encode_for_owner(&mut command);
        Some(self.forward(owner, session.resp3, command.freeze()))
    }

    /// Runs an encoded request (a split request's local part) here.
    fn run_encoded(&mut self, session: &mut Session, command: &Bytes) -> Deferred {
        let mut parser = RequestParser::new(Limits::default());
        let mut output = BytesMut::new();
        let held = match parser.parse(command) {
            Ok(Some(_)) => self.run_here(session, &mut output, parser.args(command)),
            _ => {
                Reply::new(&mut output, session.resp3).error("ERR internal: bad sub-command");
                None
            }
        };
        held.unwrap_or_else(|| {
            let reply = output.freeze();
            Box::pin(async move { reply })
        })
    }

    /// A read of a slot being imported (`read`: the request `args`, or the
    /// read an RCTRACK carries, whose key is at `key_at`): served here if
    /// the key is here, otherwise by the previous owner (wrapped in RCREAD
    /// so it runs there and goes no further); if that owner cannot answer,
    /// the local (missing) answer stands. The request runs here either
    /// way, so an RCTRACK remembers its keys.
    fn read_through(
        &mut self,
        session: &mut Session,
        output: &mut BytesMut,
        args: Args<'_>,
        read: Args<'_>,
        key_at: usize,
        from: SocketAddr,
    ) -> Option<Deferred> {
        let key = read.get(key_at);
        if self.node.store.lock(key).peek(key).is_some() {
            return self.run_here(session, output, args);
        }
        let mut local = BytesMut::new();
        let held = self.run_here(session, &mut local, args);
        debug_assert!(held.is_none(), "reads are not held for replicas");
        self.cluster
            .stats
            .read_through
            .fetch_add(1, Ordering::Relaxed);
        let reply =
            self.cluster
                .peers
                .send(from, session.resp3, router::encode_wrapped(b"RCREAD", read));
        let local = local.freeze();
        Some(Box::pin(async move {
            match bounded(reply).await {
                Some(Ok(frame)) if !frame.starts_with(b"-") => frame,
                _ => local,
            }
        }))
    }
}

/// The write quorum's verdict on `shipped`, when the reply must wait for
/// it (a quorum above 1 and something shipped).
fn verdict(cluster: &Arc<Cluster>, shipped: Shipped) -> Option<commands::Verdict> {
    let quorum = cluster.settings.write_quorum;
    if quorum <= 1 || shipped.is_empty() {
        return None;
    }
    let timeout = cluster.settings.failure_timeout.min(Duration::from_secs(2));
    Some(Box::pin(async move {
        shipped.quorum(quorum - 1, timeout).await >= quorum - 1
    }))
}

/// `reply`, once the write quorum's `verdict` is in (NOREPLICAS if short).
fn hold_for(verdict: commands::Verdict, reply: Bytes) -> Deferred {
    Box::pin(async move {
        if verdict.await {
            reply
        } else {
            router::error_reply(NOREPLICAS)
        }
    })
}

/// Runs the encoded read `command` against a scratch store holding
/// `copies`, as a fresh authenticated session of the same client.
fn run_on_copies(
    node: &Arc<NodeState>,
    handle: Arc<ClientHandle>,
    resp3: bool,
    command: &Bytes,
    copies: Vec<Snapshot>,
) -> Bytes {
    let scratch = Store::new(StoreOptions {
        shards: 1,
        ..StoreOptions::default()
    });
    for copy in copies {
        if let Some((value, expire_at)) = copy.value {
            scratch.lock(&copy.key).put(&copy.key, value, expire_at);
        }
    }
    let mut output = BytesMut::new();
    let mut parser = RequestParser::new(Limits::default());
    let Ok(Some(_)) = parser.parse(command) else {
        Reply::new(&mut output, resp3).error("ERR internal: bad gathered command");
        return output.freeze();
    };
    let mut session = Session::new(handle, true, false);
    session.resp3 = resp3;
    let mut ctx = Ctx::new(node, &mut session, Reply::new(&mut output, resp3), None);
    ctx.store = &scratch;
    // Gathered commands are reads that answer at once: the outcome says
    // nothing to ship, and no reply is deferred.
    let _read = commands::execute(&mut ctx, parser.args(command));
    drop(ctx);
    output.freeze()
}

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
