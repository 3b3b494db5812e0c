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

/// The versions of a key an armed command changed in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Versioned {
    /// The entry's version when the command first found it (0: it had
    /// none, or the command made it).
    pub before: u64,
    /// The version it was given by the command's last change.
    pub after: u64,
}

/// Most keys one armed command may change (LMOVE: its source and its
/// destination); a command that changes more is not shipped as its effect.
pub const MAX_KEYS: usize = 2;

/// The keys an armed command changed, each known by a fingerprint of its
/// name (no copy of the key is taken on the write path).
#[derive(Debug, Clone, Copy, Default)]
pub struct Changes {
    keys: [(u64, Versioned); MAX_KEYS],
    len: usize,
}

impl Changes {
    /// The versions `key` moved between, if the command changed it.
    pub fn of(&self, key: &[u8]) -> Option<Versioned> {
        let print = fingerprint(key);
        self.keys[..self.len]
            .iter()
            .find(|(p, _)| *p == print)
            .map(|&(_, v)| v)
    }

    /// How many keys the command changed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if it changed none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// FNV-1a over the key's bytes: two keys of one command will not collide.
fn fingerprint(key: &[u8]) -> u64 {
    key.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Armed {
    next: VersionSource,
    changes: Changes,
    /// Another write stamped a key between two of the command's own
    /// changes, or it changed more keys than are noted: the versions no
    /// longer describe one step.
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
            changes: Changes::default(),
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

/// The versions the armed command gave its keys, and disarms the thread;
/// `None` when it changed no existing entry (it wrote nothing, or only
/// made new keys) or the versions do not describe one step.
pub fn take() -> Option<Changes> {
    ARMED.with(|armed| {
        let armed = armed.borrow_mut().take()?;
        (!armed.spoiled && !armed.changes.is_empty()).then_some(armed.changes)
    })
}

/// Called under a key's shard lock when a command is about to change its
/// entry; `entry` gives the key and its version (read only when the thread
/// is armed: unarmed, this is one thread-local read). The entry's new
/// version, or `None` when the thread is not armed.
#[inline]
pub(super) fn changing<'k>(entry: impl FnOnce() -> (&'k [u8], u64)) -> Option<u64> {
    ARMED.with(|armed| {
        let mut armed = armed.borrow_mut();
        let armed = armed.as_mut()?;
        let (key, current) = entry();
        let after = (armed.next)();
        let print = fingerprint(key);
        let changes = &mut armed.changes;
        match changes.keys[..changes.len]
            .iter_mut()
            .find(|(p, _)| *p == print)
        {
            Some((_, versioned)) => {
                armed.spoiled |= versioned.after != current;
                versioned.after = after;
            }
            None if changes.len < MAX_KEYS => {
                changes.keys[changes.len] = (
                    print,
                    Versioned {
                        before: current,
                        after,
                    },
                );
                changes.len += 1;
            }
            None => armed.spoiled = true,
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
        assert_eq!(changing(|| (&b"k"[..], 7)), None);
        assert!(take().is_none());
    }

    #[test]
    fn an_armed_command_notes_one_step_per_key_from_its_first_to_its_last_change() {
        let _armed = arm(counter());
        assert_eq!(changing(|| (&b"src"[..], 7)), Some(100));
        assert_eq!(changing(|| (&b"dst"[..], 0)), Some(101));
        assert_eq!(changing(|| (&b"src"[..], 100)), Some(102));
        let changes = take().expect("two keys changed");
        assert_eq!(changes.len(), 2);
        assert_eq!(
            changes.of(b"src"),
            Some(Versioned {
                before: 7,
                after: 102
            })
        );
        assert_eq!(
            changes.of(b"dst"),
            Some(Versioned {
                before: 0,
                after: 101
            })
        );
        assert_eq!(changes.of(b"other"), None);
        // Taken: the thread is disarmed.
        assert_eq!(changing(|| (&b"src"[..], 102)), None);
    }

    #[test]
    fn a_stamp_between_two_changes_spoils_the_step() {
        let _armed = arm(counter());
        assert_eq!(changing(|| (&b"k"[..], 7)), Some(100));
        assert_eq!(changing(|| (&b"k"[..], 555)), Some(101));
        assert!(take().is_none());
    }

    #[test]
    fn more_keys_than_noted_spoil_the_step() {
        let _armed = arm(counter());
        for key in [&b"a"[..], b"b", b"c"] {
            changing(|| (key, 1));
        }
        assert!(take().is_none());
    }

    #[test]
    fn dropping_the_arming_disarms() {
        drop(arm(counter()));
        assert_eq!(changing(|| (&b"k"[..], 7)), None);
    }
}
