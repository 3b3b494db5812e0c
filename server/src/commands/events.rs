//! Keyspace events of the commands (`notify-keyspace-events`): how a
//! handler raises one ([`Ctx::notify`] and friends), the `new` events of
//! the keys a write creates, and the table row's default event for the
//! commands whose event does not depend on what happened. Publishing is
//! `crate::notify`'s.

use super::{CommandSpec, Ctx, Flags, Outcome};
use crate::notify::Classes;
use crate::protocol::Args;

impl Ctx<'_> {
    /// Raises keyspace event `event` of `class` about `key` (in this
    /// command's database), as Redis's `notifyKeyspaceEvent`; one atomic
    /// load while notifications are off. Never locks the store, so a
    /// handler may call it with a key locked.
    #[inline]
    pub fn notify(&mut self, class: Classes, event: &str, key: &[u8]) {
        let events = &self.node.events;
        if events.classes() == Classes::NONE {
            return;
        }
        self.notified = true;
        let db = self.store.db();
        if self
            .absent
            .as_mut()
            .is_some_and(|absent| absent.remove(key))
        {
            events.notify(Classes::NEW, "new", key, db);
        }
        events.notify(class, event, key, db);
    }

    /// Raises `event` about `key`, then `del` if the write emptied the
    /// collection (the store removed it with its key): `remains` looks,
    /// and runs only while notifications are on.
    pub fn notify_emptying(
        &mut self,
        class: Classes,
        event: &str,
        key: &[u8],
        remains: impl FnOnce() -> bool,
    ) {
        if self.node.events.classes() == Classes::NONE {
            return;
        }
        self.notify(class, event, key);
        if !remains() {
            self.notify(Classes::GENERIC, "del", key);
        }
    }

    /// Raises `new` for `key` now, whether or not it existed: RENAME and
    /// COPY replace a destination by deleting it and adding the key again,
    /// which Redis announces as new, before their other events.
    pub fn added(&mut self, key: &[u8]) {
        if let Some(absent) = &mut self.absent {
            absent.remove(key);
        }
        let db = self.store.db();
        self.node.events.notify(Classes::NEW, "new", key, db);
    }

    /// Raises an event about `key` of another database `db` (MOVE, COPY
    /// ... DB).
    pub fn notify_in(&mut self, db: usize, class: Classes, event: &str, key: &[u8]) {
        self.notified = true;
        self.node.events.notify(class, event, key, db);
    }
}

/// Readies a command's keyspace events: nothing raised yet, and with the
/// `n` class on, which of a write's keys are absent (looking may expire
/// one, raising `expired` first, as Redis's lookup does).
#[cold]
pub(super) fn before(ctx: &mut Ctx<'_>, spec: &CommandSpec, args: Args<'_>) {
    ctx.notified = false;
    ctx.absent = None;
    if !spec.has(Flags::WRITE) || !ctx.node.events.wants(Classes::NEW) {
        return;
    }
    let store = ctx.store;
    let absent = spec
        .keys
        .positions(args)
        .into_iter()
        .map(|position| args.get(position))
        .filter(|key| store.lock(key).peek(key).is_none())
        .map(<[u8]>::to_vec)
        .collect();
    ctx.absent = Some(absent);
}

/// Raises the table row's event for every key a command wrote, unless its
/// handler raised its own.
#[cold]
pub(super) fn defaults(ctx: &mut Ctx<'_>, spec: &CommandSpec, args: Args<'_>, outcome: Outcome) {
    let Some((class, event)) = spec.event else {
        return;
    };
    if ctx.notified {
        return;
    }
    let written = super::effects::written_positions(spec, args, outcome);
    for key in written.filter_map(|p| args.try_get(p)) {
        ctx.notify(class, event, key);
    }
}
