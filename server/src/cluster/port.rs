//! The cluster's own commands, run for one connection's [`Link`]:
//! CLUSTER (in `topology`), READONLY, READWRITE, ASKING, WAIT, and the
//! commands nodes send each other (RCPEER, RCREAD, RCAPPLY, RCEFFECT via
//! `effects.rs`, RCHANDOFF,
//! RCEXPORT, RCDUMP, RCWAIT, RCSTATES, and RCTRACK and RCINVALIDATE via
//! `tracking.rs`); and INFO's cluster section.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::future::join_all;
use ringcache_proto::{key_slot, resp};
use tracing::warn;

use super::link::Link;
use super::peer_auth::{self, Answer};
use super::topology::{self, parse_slot};
use super::{wait, wire};
use crate::commands::args::{parse_i64, NOT_INTEGER};
use crate::commands::{
    self, After, ClusterOp, ClusterPort, Ctx, Flags, LocalKeys, Outcome, ScriptReplication,
};
use crate::log_limit::LogLimit;
use crate::protocol::Args;
use crate::store::SlotSet;

/// Longest a script or function change waits for the other nodes.
const BROADCAST_WAIT: Duration = Duration::from_secs(2);
/// Longest WAIT blocks when asked to wait forever.
const WAIT_CAP: Duration = Duration::from_secs(60);

/// Limits the warnings of refused peer handshakes (a stranger sets their
/// rate).
static PEER_AUTH_WARNINGS: LogLimit = LogLimit::new(crate::log_limit::WARN_PERIOD_MS);

impl Link {
    /// Refuses a peer handshake: counted, logged (rate-limited), and the
    /// connection closed.
    fn refuse_peer(&self, ctx: &mut Ctx<'_>, why: &str) -> Outcome {
        self.cluster
            .stats
            .peer_auth_refused
            .fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = PEER_AUTH_WARNINGS.allow() {
            warn!(client = %ctx.session.handle.peer, suppressed, reason = why, "peer handshake refused");
        }
        ctx.after = After::Close;
        ctx.fail(peer_auth::REFUSED)
    }

    /// Sends `command` to every other live member of the cluster, without
    /// waiting for their replies (fire and forget).
    fn send_to_other_nodes(&self, command: bytes::Bytes) {
        self.cluster.send_to_other_nodes(command);
    }
}

impl ClusterPort for Link {
    fn run(&mut self, ctx: &mut Ctx<'_>, op: ClusterOp, args: Args<'_>) -> Outcome {
        match op {
            ClusterOp::Cluster => topology::cluster(ctx, &self.cluster, args),
            ClusterOp::ReadOnly | ClusterOp::ReadWrite => {
                self.readonly = op == ClusterOp::ReadOnly;
                ctx.reply.ok();
                Outcome::Unchanged
            }
            // Slots here are served by their new owner at once (reading
            // through to the old one), so no request needs ASKING.
            ClusterOp::Asking => {
                ctx.reply.ok();
                Outcome::Unchanged
            }
            ClusterOp::Wait => self.wait(ctx, args),
            ClusterOp::Peer => self.peer_handshake(ctx, args),
            ClusterOp::Read => read(ctx, args),
            ClusterOp::Apply => self.apply(ctx, args),
            ClusterOp::Effect => super::effects::run(&self.cluster, ctx, args),
            ClusterOp::Handoff => self.handoff(ctx, args),
            ClusterOp::Export => self.export(ctx, args),
            ClusterOp::Dump => dump(ctx, args),
            ClusterOp::AwaitReplicas => self.await_replicas(ctx, args),
            ClusterOp::States => states(ctx, args),
            ClusterOp::Track => super::tracking::track_read(ctx, args),
            ClusterOp::Invalidate => super::tracking::invalidated(ctx, args),
        }
    }

    fn info(&self) -> Vec<(&'static str, String)> {
        let settings = &self.cluster.settings;
        let mode = if settings.redirect {
            "redirect"
        } else {
            "proxy"
        };
        let mut fields = vec![
            ("node_name", settings.node_name.clone()),
            ("mode", mode.to_string()),
        ];
        fields.extend(
            self.cluster
                .figures()
                .into_iter()
                .map(|(name, value)| (name, value.to_string())),
        );
        fields
    }

    fn local_keys(&self) -> LocalKeys {
        let cluster = self.cluster.clone();
        let readonly = self.readonly;
        Arc::new(move |key, write| {
            let view = cluster.view();
            let slot = key_slot(key);
            view.is_primary(slot) || (readonly && !write && view.is_owner(slot))
        })
    }

    fn primary_slots(&self) -> Arc<SlotSet> {
        self.cluster.view().primary_slots()
    }

    fn broadcast(&mut self, args: Args<'_>) -> Option<commands::Ran> {
        let command = super::router::encode(args);
        let view = self.cluster.view();
        let me = &self.cluster.settings.node_name;
        let replies: Vec<_> = view
            .members
            .iter()
            .filter(|member| &member.name != me)
            .map(|member| {
                self.cluster
                    .peers
                    .send(member.resp_addr, false, command.clone())
            })
            .collect();
        if replies.is_empty() {
            return None;
        }
        // A node that misses it (down, or slower than the bound) answers
        // NOSCRIPT, and clients fall back to EVAL, as with Redis Cluster.
        Some(Box::pin(async move {
            let _ = tokio::time::timeout(BROADCAST_WAIT, join_all(replies)).await;
        }))
    }

    fn keyless_ring(&self) -> Option<commands::KeylessRing> {
        self.ring_for_keyless()
    }

    fn ask_node(&self, node: &commands::RingNode, args: &[&[u8]]) -> commands::Asked {
        self.ask_for_keyless(node, args)
    }

    fn owned_here(&self, key: &[u8], what: &str) -> Result<(), String> {
        let slot = key_slot(key);
        let view = self.cluster.view();
        if view.is_primary(slot) {
            return Ok(());
        }
        match (self.cluster.settings.redirect, view.primary(slot)) {
            (true, Some((_, addr))) => Err(format!("MOVED {slot} {addr}")),
            (false, Some(_)) => Err(format!(
                "ERR {what} of a key owned by another node: connect to its owner \
                 (CLUSTER SLOTS, or --cluster-redirect)"
            )),
            (_, None) => Err(super::router::CLUSTERDOWN.to_string()),
        }
    }

    fn publish_elsewhere(&mut self, channel: &[u8], message: &[u8]) {
        let mut command = BytesMut::new();
        ringcache_proto::resp::write_command(&mut command, &[&b"RCPUBLISH"[..], channel, message]);
        // A node that misses a message misses it, as a subscriber that
        // reconnects does in Redis.
        self.send_to_other_nodes(command.freeze());
    }

    fn reset(&mut self) {
        self.readonly = false;
        self.written.clear();
    }

    fn script_replication(&self, keys: &[Vec<u8>]) -> Option<ScriptReplication> {
        Some(self.script_replication(keys))
    }
}

impl Link {
    /// WAIT numreplicas timeout: how many replicas hold all of this
    /// connection's writes so far (`wait`).
    fn wait(&mut self, ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
        let (Some(needed), Some(timeout)) = (parse_i64(args.get(1)), parse_i64(args.get(2))) else {
            return ctx.fail(NOT_INTEGER);
        };
        if timeout < 0 {
            return ctx.fail("ERR timeout is negative");
        }
        let limit = if timeout == 0 {
            WAIT_CAP
        } else {
            Duration::from_millis(timeout as u64).min(WAIT_CAP)
        };
        let view = self.cluster.view();
        let every_replica = view
            .members
            .len()
            .saturating_sub(1)
            .min(self.cluster.settings.replicas);
        drop(view);
        let written = self.written.clone();
        let cluster = self.cluster.clone();
        let store = ctx.store.clone();
        let needed = usize::try_from(needed).unwrap_or(0);
        ctx.defer(async move {
            // Replies go out in request order, so the writes before this
            // WAIT (and their quorum waits) have finished when this runs.
            let count = written
                .wait(cluster, store, needed, limit, every_replica)
                .await;
            let mut out = BytesMut::new();
            resp::write_int(&mut out, count as i64);
            out.freeze()
        });
        Outcome::Unchanged
    }

    /// RCWAIT numreplicas timeout-ms key...: how many replicas hold these
    /// keys' current states here (WAIT on a node that forwarded writes).
    fn await_replicas(&mut self, ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
        let (Some(needed), Some(timeout)) = (parse_i64(args.get(1)), parse_i64(args.get(2))) else {
            return ctx.fail(NOT_INTEGER);
        };
        let limit = Duration::from_millis(timeout.clamp(0, WAIT_CAP.as_millis() as i64) as u64);
        let keys: Vec<bytes::Bytes> = args
            .iter_from(3)
            .map(bytes::Bytes::copy_from_slice)
            .collect();
        let cluster = self.cluster.clone();
        let store = ctx.store.clone();
        let needed = usize::try_from(needed).unwrap_or(0);
        ctx.defer(async move {
            let deadline = std::time::Instant::now() + limit;
            let answer = wait::replicated(&cluster, &store, &keys, needed, deadline).await;
            let mut out = BytesMut::new();
            wait::encode_replicated(&mut out, answer);
            out.freeze()
        });
        Outcome::Unchanged
    }

    /// RCPEER nonce | RCPEER proof: the node's side of the peer handshake
    /// (`peer_auth`). Once the dialer proved the cluster key, this
    /// connection is a link from another node: authenticated (the link
    /// stands in for AUTH), and its requests run here and are never
    /// forwarded again. A wrong or malformed proof is refused, counted, and
    /// closes the connection.
    fn peer_handshake(&mut self, ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
        if !self.certified && self.node.config.read().tls.cluster {
            // tls-cluster: the certificate comes first, then the secret.
            return self.refuse_peer(ctx, "not over TLS with a client certificate (tls-cluster)");
        }
        let pending = self.peer_challenge.take();
        match peer_auth::answer(&self.cluster.settings.keys, pending, args.get(1)) {
            Answer::Challenge(challenge, [nonce, proof]) => {
                self.peer_challenge = Some(challenge);
                ctx.reply.array(2);
                ctx.reply.bulk(nonce.as_bytes());
                ctx.reply.bulk(proof.as_bytes());
                Outcome::Unchanged
            }
            Answer::Accepted => {
                ctx.session.peer = true;
                ctx.session.authenticated = true;
                // The forwarding node checked its client's user.
                ctx.session.user = crate::acl::unrestricted();
                ctx.session.handle.user.lock().clear();
                ctx.session.protected = false;
                ctx.reply.ok();
                Outcome::Unchanged
            }
            Answer::Refused => self.refuse_peer(ctx, "wrong or malformed proof"),
        }
    }

    /// RCAPPLY: applies one key's state unless the local copy is newer.
    fn apply(&mut self, ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
        let Some(snapshot) = wire::decode_apply(args) else {
            return ctx.fail("ERR malformed RCAPPLY");
        };
        let peer = ctx.session.handle.peer;
        let key = snapshot.key.clone();
        // Before the key changes, as for a command's write: a fill on this
        // node cannot land after the state it would hide.
        ctx.node.leases.invalidate(&key);
        match self.cluster.apply_from_peer(ctx.store, snapshot, peer) {
            Ok(applied) => {
                if applied {
                    super::announce_applied(ctx.node, ctx.store.db(), &key);
                }
                ctx.reply.ok();
                Outcome::Unchanged
            }
            Err(ahead) => ctx.fail(&ahead.reply()),
        }
    }

    /// RCHANDOFF: the previous owner finished streaming these slots.
    fn handoff(&mut self, ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
        let slots: Option<Vec<u16>> = args.iter_from(1).map(parse_slot).collect();
        let Some(slots) = slots else {
            return ctx.fail("ERR Invalid slot");
        };
        self.cluster.handoffs.taken(&slots);
        ctx.reply.ok();
        Outcome::Unchanged
    }

    /// RCEXPORT shard slot...: one page of the entries of `slots` (the keys
    /// of one shard), for a new owner pulling them.
    fn export(&mut self, ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
        let shard_count = ctx.store.shard_count();
        let shard = parse_i64(args.get(1)).filter(|&s| s >= 0 && (s as usize) < shard_count);
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
            .store
            .export_shard(shard as usize, |key, _| wanted[usize::from(key_slot(key))]);
        let next = if (shard as usize) + 1 < shard_count {
            shard + 1
        } else {
            -1
        };
        self.cluster
            .handoffs
            .keys_sent
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        let mut page = BytesMut::new();
        super::handoff::encode_page(&mut page, next, &entries);
        ctx.reply.raw(&page);
        Outcome::Unchanged
    }
}

/// RCDUMP key...: the keys' states here (a deleted state for a missing
/// key), as an export page, for a node gathering the keys of a read.
fn dump(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let entries: Vec<_> = args
        .iter_from(1)
        .map(|key| ctx.store.copy_of(key))
        .collect();
    let mut page = BytesMut::new();
    super::handoff::encode_page(&mut page, -1, &entries);
    ctx.reply.raw(&page);
    Outcome::Unchanged
}

/// RCSTATES key...: the keys' states here, for their primary counting the
/// replicas that hold its writes (WAIT).
fn states(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let states: Vec<_> = args
        .iter_from(1)
        .map(|key| ctx.store.state_of(key))
        .collect();
    let mut out = BytesMut::new();
    wait::encode_states(&mut out, &states);
    ctx.reply.raw(&out);
    Outcome::Unchanged
}

/// RCREAD command...: runs a read here as it is, with no routing (a new
/// owner reading a miss through to the previous owner).
fn read(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let inner = args.slice_from(1);
    match commands::lookup(inner.get(0)) {
        Some(spec) if spec.has(Flags::READONLY) => commands::execute(ctx, inner),
        _ => ctx.fail("ERR RCREAD runs read-only commands only"),
    }
}
