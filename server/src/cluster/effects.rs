//! Replication by effect: a write that changes a large collection in place
//! (LPUSH on a list of 100,000 elements, an LMOVE out of it, a MULTI/EXEC
//! of such commands) is shipped to the replicas as the commands,
//! `RCEFFECT <n> (<key> <before> <after>)×n (<argc> <arg>...)+`, instead of
//! the whole values; shipping the values would cost the primary, the link
//! and each replica time in proportion to the collections for every
//! element written.
//!
//! A replica runs the commands only when each key they changed is there at
//! version `before` (absent for 0: a key they made), the versions of
//! exactly the states the primary changed (see `store::versioning`), so the
//! copies step through the same states; the commands shipped this way
//! ([`Flags::REPLAYABLE`]) are deterministic on their keys, or describe
//! their effect as such a command (`Ctx::rewrite`). It runs them as EXEC
//! runs its queue, holding the node's gate alone and without the checks
//! the primary made (memory, permissions). Anything else (no copy, another
//! version, a copy that changed while they ran) is answered `-RCSTALE`, and
//! the primary then ships the keys' whole states at new versions, as for
//! any other write, whose confirmation stands for the effect's. Small
//! values, new keys alone and every other command go as whole states
//! (`replication`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ringcache_proto::key_slot;
use ringcache_proto::wire::{self as format, EffectKey};
use tokio::sync::oneshot;

use super::hlc::Version;
use super::peer::PeerReply;
use super::view::ClusterView;
use super::{wire, Cluster};
use crate::commands::{self, Ctx, Flags, Outcome, OwnedArgs};
use crate::protocol::{Args, Reply};
use crate::store::versioning::{self, Arming, Changes, VersionSource, Versioned, MAX_KEYS};
use crate::store::Store;

// The keys one command may change are the keys one RCEFFECT may name.
const _: () = assert!(MAX_KEYS == format::EFFECT_MAX_KEYS);

/// Values smaller than this go whole: copying them costs less than the
/// effect's bookkeeping.
pub const EFFECT_MIN_BYTES: usize = 2048;
/// The replica's answer when its copies are not the ones the effect
/// applies to.
const STALE: &str = "RCSTALE the copy here is not at the effect's version";

/// One key a write changed, and the versions it moved between.
#[derive(Debug, Clone, Copy)]
pub struct Changed<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The versions (see `store::versioning`).
    pub versioned: Versioned,
}

/// A write's effect: the commands a replica runs and the keys they
/// changed.
pub struct Effect<'a> {
    /// The commands: as the client sent it, as it described its effect
    /// (`Ctx::rewrite`), or an EXEC's (`Ctx::replayed`).
    commands: Vec<Args<'a>>,
    changed: [Option<Changed<'a>>; MAX_KEYS],
}

impl<'a> Effect<'a> {
    /// The keys it changed.
    pub fn changed(&self) -> impl Iterator<Item = Changed<'a>> + '_ {
        self.changed.iter().flatten().copied()
    }

    /// True if `key` is one of them.
    pub fn covers(&self, key: &[u8]) -> bool {
        self.changed().any(|c| c.key == key)
    }

    /// The slot whose replicas take it, when it is shipped as an effect
    /// from here: its keys share a slot this node is primary of, each
    /// key still carries the version the command gave it (none existed
    /// before it but one), and one of them is large.
    fn slot_to_ship(&self, store: &Store, view: &ClusterView) -> Option<u16> {
        let slot = key_slot(self.changed().next()?.key);
        let mut largest = 0;
        let mut existed = false;
        for changed in self.changed() {
            if key_slot(changed.key) != slot {
                return None;
            }
            largest = largest.max(store.carried(changed.key, changed.versioned.after)?);
            existed |= changed.versioned.before != 0;
        }
        (existed && largest >= EFFECT_MIN_BYTES && view.is_primary(slot)).then_some(slot)
    }
}

/// Arms the thread for a command about to run here, when its write may be
/// shipped as its effect: a replayable command on keys whose slot this
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
            .is_some_and(|key| cluster.view().is_primary(key_slot(key))),
        None => super::router::primary_of_all(cluster, spec, args),
    };
    primary.then(|| versioning::arm(source.clone()))
}

/// The clock a script's run is armed with (on the thread that runs it),
/// when its writes may ship as their effect: every declared key's slot is
/// one this node is primary of, in a cluster with replicas. Its effect is
/// then the replayable commands it called, as an EXEC's
/// (`commands::ScriptEffect`).
pub fn script_versions(
    cluster: &Cluster,
    source: &VersionSource,
    keys: &[Vec<u8>],
) -> Option<VersionSource> {
    let view = cluster.view();
    let primary = !keys.is_empty() && keys.iter().all(|key| view.is_primary(key_slot(key)));
    (cluster.settings.replicas > 0 && primary).then(|| source.clone())
}

/// The effect of the command that just ran armed, if it changed keys in
/// place: the command itself, what it described as its effect
/// (`rewrite`, see `Ctx::rewrite`), or an EXEC's commands (`replayed`),
/// with the keys they changed.
pub fn taken<'a>(
    args: Args<'a>,
    rewrite: Option<&'a OwnedArgs>,
    replayed: Option<&'a [OwnedArgs]>,
) -> Option<Effect<'a>> {
    let changes = versioning::take()?;
    let commands: Vec<Args<'a>> = match (replayed, rewrite) {
        (Some(replayed), _) => replayed.iter().map(OwnedArgs::args).collect(),
        (None, Some(rewrite)) => vec![rewrite.args()],
        (None, None) => vec![args],
    };
    of_commands(changes, commands)
}

/// A script's effect (armed on the thread that ran it, see
/// [`script_versions`]).
pub fn of_script(script: &commands::ScriptEffect) -> Option<Effect<'_>> {
    let commands = script.commands.iter().map(OwnedArgs::args).collect();
    of_commands(script.changes, commands)
}

/// The effect of `commands`, which moved the keys as `changes` says.
fn of_commands(changes: Changes, commands: Vec<Args<'_>>) -> Option<Effect<'_>> {
    let mut changed = [None; MAX_KEYS];
    let mut found = 0;
    for &command in &commands {
        let spec = commands::lookup(command.try_get(0)?)?;
        for position in spec.keys.positions(command) {
            let Some(key) = command.try_get(position) else {
                continue;
            };
            let Some(versioned) = changes.of(key) else {
                continue;
            };
            // A key named twice (LMOVE k k, two commands) is one change.
            if found == MAX_KEYS || changed.iter().flatten().any(|c: &Changed<'_>| c.key == key) {
                continue;
            }
            changed[found] = Some(Changed { key, versioned });
            found += 1;
        }
    }
    // Every change must belong to a key of the commands shipped.
    (found == changes.len()).then_some(Effect { commands, changed })
}

/// `RCEFFECT <n> (<key> <before> <after>)×n (<argc> <arg>...)+`
/// (`ringcache_proto::wire`).
pub fn encode(effect: &Effect<'_>) -> Bytes {
    let keys: Vec<EffectKey<'_>> = effect
        .changed()
        .map(|c| EffectKey {
            key: c.key,
            before: c.versioned.before,
            after: c.versioned.after,
        })
        .collect();
    // Sized once: each field takes its bytes and at most 16 of framing
    // (`$<len>\r\n...\r\n`), each number at most 20 digits.
    let payload: usize = effect
        .commands
        .iter()
        .map(|c| c.iter_from(0).map(|a| a.len() + 16).sum::<usize>() + 36)
        .sum();
    let mut out = BytesMut::with_capacity(payload + keys.len() * 100 + 48);
    let commands = effect.commands.iter().map(|c| (c.len(), c.iter_from(0)));
    format::encode_effect(&mut out, &keys, commands);
    out.freeze()
}

/// Ships `effect` to the replicas of its slot, when it is to go as an
/// effect from here (see [`Effect::slot_to_ship`]): one confirmation per
/// replica, or `None` (ship the keys whole).
pub fn ship(
    cluster: &Arc<Cluster>,
    store: &Store,
    view: &ClusterView,
    effect: &Effect<'_>,
) -> Option<Vec<oneshot::Receiver<PeerReply>>> {
    let slot = effect.slot_to_ship(store, view)?;
    let owners = view.placement.owners(slot);
    if owners.len() < 2 {
        return None;
    }
    let command = encode(effect);
    let keys: Arc<Vec<Vec<u8>>> = Arc::new(effect.changed().map(|c| c.key.to_vec()).collect());
    let replies: Vec<_> = owners[1..]
        .iter()
        .map(|&replica| ship_to(cluster, store, &keys, view.addr(replica), command.clone()))
        .collect();
    cluster
        .stats
        .effects_shipped
        .fetch_add(replies.len() as u64, Ordering::Relaxed);
    Some(replies)
}

/// Sends `command` (an effect) to `replica`; the receiver gets its
/// confirmation, or, when the replica's copies were not the ones the
/// effect applies to, the confirmation of `keys`' whole states shipped
/// instead.
fn ship_to(
    cluster: &Arc<Cluster>,
    store: &Store,
    keys: &Arc<Vec<Vec<u8>>>,
    replica: SocketAddr,
    command: Bytes,
) -> oneshot::Receiver<PeerReply> {
    let first = cluster.peers.send(replica, false, command);
    let (done, confirmed) = oneshot::channel();
    let (cluster, store, keys) = (cluster.clone(), store.clone(), keys.clone());
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
        let mut last = None;
        for key in keys.iter() {
            let snapshot = store.stamp(key, || cluster.hlc.next().0);
            let mut whole = BytesMut::new();
            wire::encode_apply(&mut whole, &snapshot);
            let Ok(reply) = cluster.peers.send(replica, false, whole.freeze()).await else {
                return;
            };
            let refused = !matches!(&reply, Ok(frame) if !frame.starts_with(b"-"));
            last = Some(reply);
            if refused {
                break;
            }
        }
        if let Some(reply) = last {
            let _ = done.send(reply);
        }
    });
    confirmed
}

/// RCEFFECT on a replica: runs the commands on the copies at their
/// `before` versions and moves them to `after`, or answers `-RCSTALE`.
pub fn run(cluster: &Cluster, ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let fields: Vec<&[u8]> = args.iter_from(0).collect();
    let Ok(effect) = format::decode_effect(&fields) else {
        return ctx.fail("ERR malformed RCEFFECT");
    };
    let commands: Vec<Args<'_>> = effect
        .commands
        .iter()
        .map(|r| args.slice(r.start, r.end))
        .collect();
    let changed: Vec<(&[u8], u64, u64)> = effect
        .keys
        .iter()
        .map(|k| (k.key, k.before, k.after))
        .collect();
    for command in &commands {
        let Some(spec) = commands::lookup(command.get(0)) else {
            return ctx.fail("ERR RCEFFECT runs replayable commands only");
        };
        if !spec.has(Flags::REPLAYABLE) || spec.has(Flags::EXCLUSIVE) {
            return ctx.fail("ERR RCEFFECT runs replayable commands only");
        }
        if let Err(error) = commands::check_carried(spec, *command) {
            return ctx.fail(&error);
        }
    }
    let named = |key: &[u8]| {
        commands.iter().any(|&command| {
            commands::lookup(command.get(0)).is_some_and(|spec| {
                spec.keys
                    .positions(command)
                    .iter()
                    .any(|&p| command.try_get(p) == Some(key))
            })
        })
    };
    if !changed.iter().all(|&(key, ..)| named(key)) {
        return ctx.fail("ERR RCEFFECT names a key its commands do not change");
    }
    for &(_, _, after) in &changed {
        if let Err(ahead) = cluster.admit_version(Version(after), ctx.session.handle.peer) {
            return ctx.fail(&ahead.reply());
        }
    }
    let at_versions = changed.iter().all(|&(key, before, _)| {
        let copy = ctx.store.state_of(key);
        match before {
            0 => !copy.present,
            _ => copy.present && copy.version == before,
        }
    });
    if !at_versions {
        return ctx.fail(STALE);
    }
    let mut scratch = BytesMut::new();
    {
        let mut inner = Ctx::new(ctx.node, ctx.session, Reply::new(&mut scratch, false), None);
        // As EXEC runs its queue (this command holds the gate alone), and
        // as a script's commands, without a memory check: the primary
        // made it. A command's error is the primary's too.
        inner.atomic = true;
        inner.script = true;
        for &command in &commands {
            if let Some((index, spec)) = commands::find(inner.session, command.get(0)) {
                let _ = commands::run(&mut inner, index, spec, command);
            }
        }
    }
    // A copy replaced or removed while the commands ran (eviction, a
    // background expiry) keeps no effect's version: the primary ships the
    // whole states instead.
    let mut restamped = true;
    for &(key, before, after) in &changed {
        restamped &= ctx.store.restamp(key, before, after);
    }
    if !restamped {
        return ctx.fail(STALE);
    }
    cluster.stats.applied.fetch_add(1, Ordering::Relaxed);
    ctx.reply.ok();
    Outcome::Unchanged
}
