//! Versions given at the moment of a write, for replication by effect.
//!
//! A cluster primary ships a write to a large collection as the command
//! itself (`RCEFFECT before after <command>`), which a replica runs only
//! on the copy at version `before`, rather than as the whole value. That
//! is right only if `before` is the version of exactly the state the
//! command changed: a version given after the command ran could follow
//! another worker's write to the same key. So while a command is *armed*
//! on its thread ([`arm`]), the store gives the key's entry a new version
//! in the same lock hold in which the command finds it for a change
//! (`Shard::with_mut`), and notes the version it had before
//! ([`take`]). Unarmed, a write costs one thread-local read here.

use std::cell::RefCell;
use std::sync::Arc;

/// Where new versions come from (the cluster's clock).
pub type VersionSource = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The versions of the one key an armed command changed in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versioned {
    /// The entry's version when the command first found it.
    pub before: u64,
    /// The version it was given by the command's last change.
    pub after: u64,
}

struct Armed {
    next: VersionSource,
    versioned: Option<Versioned>,
    /// Another write stamped the key between two of the command's own
    /// changes: the pair no longer describes one step.
    spoiled: bool,
}

thread_local! {
    static ARMED: RefCell<Option<Armed>> = const { RefCell::new(None) };
}

/// Disarms the thread when dropped (whatever path the command took).
#[must_use = "the command is armed only while this lives"]
pub struct Arming(());

impl Drop for Arming {
    fn drop(&mut self) {
        ARMED.with(|armed| armed.borrow_mut().take());
    }
}

/// Arms this thread for the command about to run (one key, changed in
/// place): its change of an existing entry gets a version from `next`.
pub fn arm(next: VersionSource) -> Arming {
    ARMED.with(|armed| {
        *armed.borrow_mut() = Some(Armed {
            next,
            versioned: None,
            spoiled: false,
        });
    });
    Arming(())
}

/// True while a command is armed on this thread: one that describes its
/// effect as another command (`Ctx::rewrite`) need not build it otherwise.
pub fn armed() -> bool {
    ARMED.with(|armed| armed.borrow().is_some())
}

/// The versions the armed command gave, and disarms the thread; `None`
/// when it changed no existing entry (it created the key, or wrote
/// nothing) or the versions do not describe one step.
pub fn take() -> Option<Versioned> {
    ARMED.with(|armed| {
        let armed = armed.borrow_mut().take()?;
        armed.versioned.filter(|_| !armed.spoiled)
    })
}

/// Called under the key's shard lock when an armed command is about to
/// change an existing entry whose version is `current`: the entry's new
/// version, or `None` when the thread is not armed.
#[inline]
pub(super) fn changing(current: u64) -> Option<u64> {
    ARMED.with(|armed| {
        let mut armed = armed.borrow_mut();
        let armed = armed.as_mut()?;
        let after = (armed.next)();
        match &mut armed.versioned {
            None => {
                armed.versioned = Some(Versioned {
                    before: current,
                    after,
                });
            }
            Some(versioned) => {
                armed.spoiled |= versioned.after != current;
                versioned.after = after;
            }
        }
        Some(after)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn counter() -> VersionSource {
        let next = Arc::new(AtomicU64::new(100));
        Arc::new(move || next.fetch_add(1, Ordering::Relaxed))
    }

    #[test]
    fn unarmed_writes_get_no_version() {
        assert_eq!(changing(7), None);
        assert_eq!(take(), None);
    }

    #[test]
    fn an_armed_command_notes_one_step_from_its_first_to_its_last_change() {
        let _armed = arm(counter());
        assert_eq!(changing(7), Some(100));
        assert_eq!(changing(100), Some(101));
        assert_eq!(
            take(),
            Some(Versioned {
                before: 7,
                after: 101
            })
        );
        // Taken: the thread is disarmed.
        assert_eq!(changing(101), None);
    }

    #[test]
    fn a_stamp_between_two_changes_spoils_the_step() {
        let _armed = arm(counter());
        assert_eq!(changing(7), Some(100));
        assert_eq!(changing(555), Some(101));
        assert_eq!(take(), None);
    }

    #[test]
    fn dropping_the_arming_disarms() {
        drop(arm(counter()));
        assert_eq!(changing(7), None);
    }
}
