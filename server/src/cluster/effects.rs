//! Replication by effect: a write that changes a large collection in place
//! (LPUSH on a list of 100,000 elements) is shipped to the replicas as the
//! command itself, `RCEFFECT <before> <after> <command>...`, instead of the
//! whole value; shipping the value would cost the primary, the link and
//! each replica time in proportion to the collection for every element
//! written.
//!
//! A replica runs the command only on a copy at version `before` (the
//! version of exactly the state the primary changed: see
//! `store::versioning`), so the copies step through the same states; the
//! commands shipped this way ([`Flags::REPLAYABLE`]) are deterministic on
//! one key. Anything else (no copy, another version, a copy that changed
//! while the command ran) is answered `-RCSTALE`, and the primary then
//! ships the key's whole state at a new version, as for any other write,
//! whose confirmation stands for the effect's. Small values, new keys and
//! every other command go as whole states (`replication`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ringcache_proto::resp;
use tokio::sync::oneshot;

use super::hlc::Version;
use super::peer::PeerReply;
use super::{wire, Cluster};
use crate::commands::{self, Ctx, Flags, Outcome, OwnedArgs};
use crate::protocol::{Args, Reply};
use crate::store::versioning::{self, Arming, VersionSource, Versioned};
use crate::store::Store;

/// Values smaller than this go whole: copying them costs less than the
/// effect's bookkeeping.
pub const EFFECT_MIN_BYTES: usize = 2048;
/// The replica's answer when its copy is not the one the effect applies
/// to.
const STALE: &str = "RCSTALE the copy here is not at the effect's version";

/// A write's effect on its one key: the command and the versions it moved
/// the key between.
#[derive(Clone, Copy)]
pub struct Effect<'a> {
    /// The command as the client sent it.
    pub args: Args<'a>,
    /// The key it changed.
    pub key: &'a [u8],
    /// The versions (see `store::versioning`).
    pub versioned: Versioned,
}

/// Arms the thread for a command about to run here, when its write may be
/// shipped as its effect: a replayable command on a key whose slot this
/// node is primary of, in a cluster with replicas.
pub fn arm(
    cluster: &Cluster,
    source: &VersionSource,
    spec: &commands::CommandSpec,
    args: Args<'_>,
) -> Option<Arming> {
    if cluster.settings.replicas == 0 || !spec.has(Flags::REPLAYABLE) {
        return None;
    }
    let primary = match spec.keys.single() {
        Some(at) => args
            .try_get(at)
            .is_some_and(|key| cluster.view().is_primary(ringcache_proto::key_slot(key))),
        // A pop from the first non-empty of several keys (their slot is
        // one in a cluster).
        None => super::router::primary_of_all(cluster, spec, args),
    };
    primary.then(|| versioning::arm(source.clone()))
}

/// The effect of the command that just ran armed, if it changed one key in
/// place: the command itself, or what it described as its effect
/// (`rewrite`, see `Ctx::rewrite`).
pub fn taken<'a>(
    spec: &commands::CommandSpec,
    args: Args<'a>,
    rewrite: Option<&'a OwnedArgs>,
) -> Option<Effect<'a>> {
    let versioned = versioning::take()?;
    let (spec, args) = match rewrite {
        Some(rewrite) => (commands::lookup(rewrite.args().get(0))?, rewrite.args()),
        None => (spec, args),
    };
    let key = args.try_get(spec.keys.single()?)?;
    Some(Effect {
        args,
        key,
        versioned,
    })
}

/// `RCEFFECT <before> <after> <command>...`.
pub fn encode(effect: &Effect<'_>) -> Bytes {
    // Sized once: each argument takes its bytes and at most 16 of framing
    // (`$<len>\r\n...\r\n`); the two versions at most 20 digits each.
    let payload: usize = effect.args.iter_from(0).map(|a| a.len() + 16).sum();
    let mut out = BytesMut::with_capacity(payload + 3 * 16 + 2 * 20 + 8);
    resp::write_len(&mut out, b'*', effect.args.len() as i64 + 3);
    resp::write_bulk(&mut out, b"RCEFFECT");
    let mut digits = itoa::Buffer::new();
    resp::write_bulk(&mut out, digits.format(effect.versioned.before).as_bytes());
    resp::write_bulk(&mut out, digits.format(effect.versioned.after).as_bytes());
    for arg in effect.args.iter_from(0) {
        resp::write_bulk(&mut out, arg);
    }
    out.freeze()
}

/// Sends `command` (an effect) to `replica`; the receiver gets its
/// confirmation, or, when the replica's copy was not the one the effect
/// applies to, the confirmation of the key's whole state shipped instead.
pub fn ship_to(
    cluster: &Arc<Cluster>,
    store: &Store,
    key: &[u8],
    replica: SocketAddr,
    command: Bytes,
) -> oneshot::Receiver<PeerReply> {
    let first = cluster.peers.send(replica, false, command);
    let (done, confirmed) = oneshot::channel();
    let (cluster, store, key) = (cluster.clone(), store.clone(), key.to_vec());
    tokio::spawn(async move {
        let Ok(reply) = first.await else {
            return;
        };
        let stale = matches!(&reply, Ok(frame) if frame.starts_with(b"-RCSTALE"));
        if !stale {
            let _ = done.send(reply);
            return;
        }
        cluster.stats.effects_stale.fetch_add(1, Ordering::Relaxed);
        let snapshot = store.stamp(&key, || cluster.hlc.next().0);
        let mut whole = BytesMut::new();
        wire::encode_apply(&mut whole, &snapshot);
        if let Ok(reply) = cluster.peers.send(replica, false, whole.freeze()).await {
            let _ = done.send(reply);
        }
    });
    confirmed
}

/// RCEFFECT on a replica: runs the command on the copy at `before` and
/// moves it to `after`, or answers `-RCSTALE`.
pub fn run(cluster: &Cluster, ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let version = |at: usize| {
        args.try_get(at)
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
    };
    let command = args.slice_from(3);
    let spec = command.try_get(0).and_then(commands::lookup);
    let (Some(before), Some(after), Some(spec)) = (version(1), version(2), spec) else {
        return ctx.fail("ERR malformed RCEFFECT");
    };
    let key = spec.keys.single().and_then(|at| command.try_get(at));
    let Some(key) = key.filter(|_| spec.has(Flags::REPLAYABLE)) else {
        return ctx.fail("ERR RCEFFECT runs replayable one-key commands only");
    };
    if let Err(ahead) = cluster.admit_version(Version(after), ctx.session.handle.peer) {
        return ctx.fail(&ahead.reply());
    }
    let copy = ctx.store.state_of(key);
    if !copy.present || copy.version != before {
        return ctx.fail(STALE);
    }
    let mut scratch = BytesMut::new();
    let ran = {
        let mut inner = Ctx::new(ctx.node, ctx.session, Reply::new(&mut scratch, false), None);
        commands::execute(&mut inner, command)
    };
    // A copy replaced or removed while the command ran (a snapshot from
    // another link, eviction) keeps no effect's version: the primary
    // ships the whole state instead.
    if matches!(ran, Outcome::Failed) || !ctx.store.restamp(key, before, after) {
        return ctx.fail(STALE);
    }
    cluster.stats.applied.fetch_add(1, Ordering::Relaxed);
    ctx.reply.ok();
    Outcome::Unchanged
}
