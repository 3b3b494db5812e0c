//! What running a command changes besides its reply, on this node: the
//! clients blocked on the keys it wrote are woken, their WATCHers marked,
//! and the tracking clients that read them told (`crate::tracking`); and
//! the keys a tracking client reads are remembered; before a write runs,
//! the leases of its keys end. Each step costs one atomic load while
//! nobody blocks, watches, tracks or holds a lease.

use super::spec::{Categories, CommandSpec, Flags};
use super::{lookup, Ctx, Outcome, Session};
use crate::clients::TrackingMode;
use crate::protocol::Args;
use crate::state::NodeState;
use crate::tracking;

/// After a command ran: wakes, marks and invalidates what it wrote.
pub(super) fn after_write(ctx: &Ctx<'_>, spec: &CommandSpec, args: Args<'_>, outcome: Outcome) {
    let node = ctx.node;
    wake_written(node, ctx.store.db(), spec, args, outcome);
    if node.watches.any() {
        touch_watched(ctx, spec, args, outcome);
    }
    if node.tracking.any() {
        invalidate_written(ctx, spec, args, outcome);
    }
}

/// Tells the clients blocked on the keys a command wrote that they may be
/// ready (a push, a move into a list, a key replaced by RENAME or COPY).
/// Nothing to do, and one atomic load, while no client is blocked.
pub fn wake_written(
    node: &NodeState,
    db: usize,
    spec: &CommandSpec,
    args: Args<'_>,
    outcome: Outcome,
) {
    if !node.blocking.any() {
        return;
    }
    // A transaction's commands woke their keys as they ran.
    for key in written_positions(spec, args, outcome).filter_map(|p| args.try_get(p)) {
        node.blocking.key_ready(db, key);
    }
}

/// The argument positions of the keys a command's `outcome` says it wrote
/// (none for a read, a failure, a flush, or a transaction, whose commands
/// each had their own effects).
pub(super) fn written_positions(
    spec: &CommandSpec,
    args: Args<'_>,
    outcome: Outcome,
) -> impl Iterator<Item = usize> {
    let positions = match outcome {
        Outcome::Wrote => spec.keys.positions(args),
        Outcome::WroteKey(position) => vec![position],
        Outcome::Unchanged | Outcome::Failed | Outcome::Flushed | Outcome::Transaction => {
            Vec::new()
        }
    };
    positions.into_iter()
}

/// The keys a command's `outcome` says it wrote (`written`: a
/// transaction's); `None` when it wrote nothing to ship (a read, a
/// failure, a flush).
pub fn written_keys<'k>(
    spec: &CommandSpec,
    args: Args<'k>,
    outcome: Outcome,
    written: &'k [Vec<u8>],
) -> Option<Vec<&'k [u8]>> {
    let keys = match outcome {
        Outcome::Unchanged | Outcome::Failed | Outcome::Flushed => return None,
        Outcome::Wrote => spec
            .keys
            .positions(args)
            .into_iter()
            .filter_map(|p| args.try_get(p))
            .collect(),
        Outcome::WroteKey(position) => args.try_get(position).into_iter().collect(),
        Outcome::Transaction => written.iter().map(Vec::as_slice).collect(),
    };
    Some(keys)
}

/// Marks the watchers of the keys a command wrote (WATCH).
fn touch_watched(ctx: &Ctx<'_>, spec: &CommandSpec, args: Args<'_>, outcome: Outcome) {
    let watches = &ctx.node.watches;
    let db = ctx.store.db();
    match outcome {
        Outcome::Wrote => {
            for position in spec.keys.positions(args) {
                watches.touch(db, args.get(position));
            }
        }
        Outcome::WroteKey(position) => watches.touch(db, args.get(position)),
        Outcome::Flushed => watches.touch_all(),
        // A transaction's commands touched their keys as they ran.
        Outcome::Unchanged | Outcome::Failed | Outcome::Transaction => {}
    }
}

/// Tells the tracking clients that read the keys a command wrote (a
/// transaction's and a script's commands told as they ran); a flush tells
/// every tracking client.
fn invalidate_written(ctx: &Ctx<'_>, spec: &CommandSpec, args: Args<'_>, outcome: Outcome) {
    let node = ctx.node;
    let writer = Some(ctx.session.handle.id);
    match outcome {
        Outcome::Wrote => {
            let keys: Vec<&[u8]> = spec
                .keys
                .positions(args)
                .into_iter()
                .filter_map(|p| args.try_get(p))
                .collect();
            node.tracking.invalidate(&node.clients, writer, &keys);
        }
        Outcome::WroteKey(position) => {
            if let Some(key) = args.try_get(position) {
                node.tracking.invalidate(&node.clients, writer, &[key]);
            }
        }
        Outcome::Flushed => node.tracking.flush(&node.clients),
        Outcome::Unchanged | Outcome::Failed | Outcome::Transaction => {}
    }
}

/// Before a command runs: ends the leases of the keys a write names
/// (`crate::leases`), then remembers a tracking client's reads (see
/// [`remember_reads`]; its answer). Ending them before the write, not
/// after, closes the race with a fill: the fill either lands first and is
/// overwritten, or comes after and is refused. A write without keys
/// (FLUSHALL, FLUSHDB, SWAPDB) ends every lease. One atomic load while no
/// lease is outstanding.
pub(super) fn before(ctx: &Ctx<'_>, spec: &CommandSpec, args: Args<'_>) -> bool {
    if ctx.node.leases.any() && !spec.flags.has(Flags::LEASES) {
        end_leases(ctx.node, spec, args);
    }
    remember_reads(ctx, spec, args)
}

fn end_leases(node: &NodeState, spec: &CommandSpec, args: Args<'_>) {
    let spec = effective_spec(spec, args);
    if !spec.flags.has(Flags::WRITE) {
        return;
    }
    let positions = spec.keys.positions(args);
    if positions.is_empty() {
        node.leases.clear();
    }
    for key in positions.into_iter().filter_map(|p| args.try_get(p)) {
        node.leases.invalidate(key);
    }
}

/// Remembers the keys a tracking client's read-only command reads (a
/// script's declared keys are not, the commands it runs are; Pub/Sub's
/// shard channels are not keys here), as Redis does; true when it did, so
/// the caller remembers them again after the command ran (see
/// `crate::tracking`).
pub(super) fn remember_reads(ctx: &Ctx<'_>, spec: &CommandSpec, args: Args<'_>) -> bool {
    let node = ctx.node;
    let positions = tracked_positions(node, ctx.session, spec, args);
    if positions.is_empty() {
        return false;
    }
    let keys = positions.into_iter().filter_map(|p| args.try_get(p));
    node.tracking
        .remember(&node.clients, &ctx.session.handle, keys);
    true
}

/// The positions of the keys of `session`'s request to remember for its
/// tracking (none when it does not track, or not now, or the command is
/// not a read of keys); one atomic load while nobody tracks.
pub fn tracked_positions(
    node: &NodeState,
    session: &Session,
    spec: &CommandSpec,
    args: Args<'_>,
) -> Vec<usize> {
    if !node.tracking.any() || !tracking::remembers(session.handle.tracking.mode()) {
        return Vec::new();
    }
    let spec = effective_spec(spec, args);
    if !spec.flags.has(Flags::READONLY)
        || spec.flags.has(Flags::PUBSUB)
        || spec.categories().has(Categories::SCRIPTING)
    {
        return Vec::new();
    }
    spec.keys.positions(args)
}

/// The row of the command a request names: its subcommand's, for a
/// container.
fn effective_spec(spec: &CommandSpec, args: Args<'_>) -> CommandSpec {
    if spec.subcommands.is_empty() || args.len() < 2 {
        return *spec;
    }
    let name = args.get(1);
    spec.subcommands
        .iter()
        .find(|sub| name.eq_ignore_ascii_case(sub.name().as_bytes()))
        .map_or(*spec, |sub| sub.as_command(spec))
}

/// After each request of a connection: CLIENT CACHING's override lasts
/// one command, or one transaction (it stays while MULTI queues, until
/// EXEC or DISCARD), and CLIENT's own subcommands keep it, as in Redis.
pub fn after_request(session: &Session, args: Args<'_>) {
    let tracking = &session.handle.tracking;
    if !tracking.mode().has(TrackingMode::CACHING) || session.multi.is_some() || args.is_empty() {
        return;
    }
    let client = lookup(args.get(0)).is_some_and(|spec| spec.name == "client");
    if !client {
        tracking.remove(TrackingMode::CACHING);
    }
}

/// Describes the command's effect for a replica as the command `parts`
/// (see `Ctx::rewrite`); nothing to build unless the command runs armed
/// for replication by effect.
pub(super) fn rewrite_as(ctx: &mut Ctx<'_>, parts: &[&[u8]]) {
    if crate::store::versioning::armed() {
        ctx.rewrite = Some(super::OwnedArgs::copy_slices(parts));
    }
}

/// Notes what a replica runs for a command an armed EXEC or script ran
/// (`replayed`, `None` once that cannot be): the command, or what it
/// described as its effect (`rewrite`); a write that cannot be replayed,
/// or one kept from the replicas (`replicate` false: a script's
/// `redis.set_repl`), ends the list, and the keys then ship whole.
pub(super) fn note_replayed(
    replayed: &mut Option<Vec<super::OwnedArgs>>,
    spec: &CommandSpec,
    args: Args<'_>,
    outcome: Outcome,
    rewrite: Option<super::OwnedArgs>,
    replicate: bool,
) {
    let Some(list) = replayed.as_mut() else {
        return;
    };
    if spec.has(Flags::REPLAYABLE) && replicate {
        list.push(rewrite.unwrap_or_else(|| super::OwnedArgs::copy(args)));
    } else if !matches!(outcome, Outcome::Unchanged | Outcome::Failed) {
        *replayed = None;
    }
}

/// Describes a pop from the first non-empty of several keys as the pop
/// `name` (LPOP, RPOP, ZPOPMIN, ZPOPMAX) of `count` from the key it took
/// (one without a count).
pub(super) fn rewrite_as_pop(ctx: &mut Ctx<'_>, name: &[u8], key: &[u8], count: Option<usize>) {
    let mut digits = itoa::Buffer::new();
    match count {
        Some(n) => rewrite_as(ctx, &[name, key, digits.format(n).as_bytes()]),
        None => rewrite_as(ctx, &[name, key]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::script_host::effective_flags;

    #[test]
    fn a_subcommand_row_gives_its_own_flags() {
        let object = lookup(b"object").unwrap();
        let owned = crate::commands::OwnedArgs::copy_slices(&[b"object", b"encoding", b"k"]);
        let args = owned.args();
        assert_eq!(
            effective_spec(object, args).flags,
            effective_flags(object, args)
        );
        assert!(effective_spec(object, args).keys.positions(args) == vec![2]);
    }
}
