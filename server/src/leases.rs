//! Leases against stampedes and stale fills (`RC.LEASE.GET`, `FILL`,
//! `RELEASE`, in `commands/leases.rs`): a miss hands one caller a token
//! for the key; the others are told to wait until the holder fills the key
//! or the lease expires; a fill is accepted only with a live token.
//!
//! The table is keyed by key name (a key's leases in every database in one
//! entry), bounded in count ([`MAX_LEASES`]; expired leases are reclaimed
//! when the earliest of them is due, and a full table grants nothing).
//! Every change of a key drops its leases in every database
//! ([`Leases::invalidate`]): the command pipeline calls it *before* a
//! write command runs (`commands::effects::before`), a peer's applied
//! state before it is applied, the store's removal hook on expiry and
//! eviction; a flush or SWAPDB drops them all. A fill checks its token and
//! writes under the key's shard lock, and writes only a missing key, so a
//! fill never lands after a newer write or delete of the key. While no
//! lease is outstanding every hook costs one atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::store::{Removal, RemovalListener};

/// Leases outstanding at most on a node; past it (after reclaiming the
/// expired ones) a miss gets no lease.
pub const MAX_LEASES: usize = 65_536;

/// Tokens are positive and below 2^62, so every client reads them as a
/// signed 64-bit integer.
const TOKEN_MASK: u64 = (1 << 62) - 1;

/// One outstanding lease.
#[derive(Debug, Clone, Copy)]
struct Lease {
    db: usize,
    token: u64,
    /// Unix ms (the store's clock).
    expires_at: u64,
}

/// What a miss gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The lease is the caller's: fill the key with this token.
    Token(u64),
    /// Another caller holds the lease for this many more milliseconds.
    Wait(u64),
    /// The table is full: no lease for now.
    Full,
}

#[derive(Debug, Default)]
struct Table {
    by_key: HashMap<Box<[u8]>, Vec<Lease>>,
    /// Leases in `by_key`.
    count: usize,
    /// The earliest expiry among them (u64::MAX: none), when a sweep is due.
    next_expiry: u64,
}

impl Table {
    /// Drops the expired leases once the earliest is due.
    fn reclaim(&mut self, now: u64) {
        if now < self.next_expiry {
            return;
        }
        let mut earliest = u64::MAX;
        let mut count = 0;
        self.by_key.retain(|_, leases| {
            leases.retain(|l| l.expires_at > now);
            for lease in leases.iter() {
                earliest = earliest.min(lease.expires_at);
            }
            count += leases.len();
            !leases.is_empty()
        });
        self.count = count;
        self.next_expiry = earliest;
    }

    /// Removes `key`'s lease in `db` if it has `token`; its expiry.
    fn remove(&mut self, db: usize, key: &[u8], token: u64) -> Option<u64> {
        let leases = self.by_key.get_mut(key)?;
        let at = leases.iter().position(|l| l.db == db && l.token == token)?;
        let lease = leases.swap_remove(at);
        if leases.is_empty() {
            self.by_key.remove(key);
        }
        self.count -= 1;
        Some(lease.expires_at)
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct Leases {
    /// Leases in the table: the one load every hook starts with.
    outstanding: AtomicUsize,
    next_token: AtomicU64,
    /// Short critical sections, never across an `.await`; taken after a
    /// key's shard lock, never before one.
    table: Mutex<Table>,
    max: usize,
}

impl Default for Leases {
    fn default() -> Self {
        Leases::with_max(MAX_LEASES)
    }
}

impl Leases {
    /// A table of at most `max` leases.
    pub fn with_max(max: usize) -> Self {
        Leases {
            outstanding: AtomicUsize::new(0),
            // A random start: a token another node (or this one before a
            // restart) handed out is not taken for one of this table's.
            next_token: AtomicU64::new(fastrand::u64(1..TOKEN_MASK / 2)),
            table: Mutex::new(Table {
                next_expiry: u64::MAX,
                ..Table::default()
            }),
            max,
        }
    }

    /// True while some lease is outstanding (expired ones included until
    /// reclaimed).
    #[inline]
    pub fn any(&self) -> bool {
        self.outstanding.load(Ordering::Acquire) > 0
    }

    /// Leases outstanding (INFO).
    pub fn count(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    fn token(&self) -> u64 {
        loop {
            let token = self.next_token.fetch_add(1, Ordering::Relaxed) & TOKEN_MASK;
            if token != 0 {
                return token;
            }
        }
    }

    /// A miss of `key` in `db` at `now` asks for a lease of `ttl_ms`.
    /// Called under the key's shard lock, after the miss was seen.
    pub fn acquire(&self, db: usize, key: &[u8], ttl_ms: u64, now: u64) -> Grant {
        let mut table = self.table.lock();
        table.reclaim(now);
        if let Some(lease) = table
            .by_key
            .get(key)
            .and_then(|leases| leases.iter().find(|l| l.db == db && l.expires_at > now))
        {
            return Grant::Wait((lease.expires_at - now).max(1));
        }
        if table.count >= self.max {
            return Grant::Full;
        }
        let lease = Lease {
            db,
            token: self.token(),
            expires_at: now.saturating_add(ttl_ms),
        };
        let table = &mut *table;
        let leases = table.by_key.entry(Box::from(key)).or_default();
        // An expired lease of this key and database not yet reclaimed.
        let before = leases.len();
        leases.retain(|l| l.db != db);
        let replaced = before - leases.len();
        leases.push(lease);
        table.count = table.count - replaced + 1;
        table.next_expiry = table.next_expiry.min(lease.expires_at);
        self.outstanding.store(table.count, Ordering::Release);
        Grant::Token(lease.token)
    }

    /// Ends `key`'s lease in `db` if `token` is its token (a fill or a
    /// release); true if that lease was still live at `now`. Called under
    /// the key's shard lock by a fill, so the check and the write are one
    /// step for every other command.
    pub fn take(&self, db: usize, key: &[u8], token: u64, now: u64) -> bool {
        if !self.any() {
            return false;
        }
        let mut table = self.table.lock();
        let live = table
            .remove(db, key, token)
            .is_some_and(|expires_at| expires_at > now);
        self.outstanding.store(table.count, Ordering::Release);
        live
    }

    /// `key` changes (or may have): its leases in every database end, so
    /// their fills are refused.
    #[inline]
    pub fn invalidate(&self, key: &[u8]) {
        if !self.any() {
            return;
        }
        let mut table = self.table.lock();
        if let Some(leases) = table.by_key.remove(key) {
            table.count -= leases.len();
            self.outstanding.store(table.count, Ordering::Release);
        }
    }

    /// Every lease ends (FLUSHALL, FLUSHDB, SWAPDB, a keyless write).
    pub fn clear(&self) {
        if !self.any() {
            return;
        }
        let mut table = self.table.lock();
        table.by_key.clear();
        table.count = 0;
        table.next_expiry = u64::MAX;
        self.outstanding.store(0, Ordering::Release);
    }
}

impl RemovalListener for Leases {
    fn removed(&self, _db: usize, key: &[u8], _why: Removal) {
        // Under the key's shard lock, as the lease commands take the table.
        self.invalidate(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lease_per_key_and_database_others_wait() {
        let leases = Leases::default();
        let Grant::Token(token) = leases.acquire(0, b"k", 1000, 10) else {
            panic!("first miss gets the lease");
        };
        assert_eq!(leases.acquire(0, b"k", 1000, 400), Grant::Wait(610));
        assert!(matches!(leases.acquire(1, b"k", 1000, 10), Grant::Token(_)));
        assert!(matches!(
            leases.acquire(0, b"other", 1000, 10),
            Grant::Token(_)
        ));
        assert_eq!(leases.count(), 3);
        assert!(!leases.take(0, b"k", token + 1, 20), "a wrong token");
        assert!(leases.take(0, b"k", token, 20));
        assert!(!leases.take(0, b"k", token, 20), "a token ends once");
        assert_eq!(leases.count(), 2);
    }

    #[test]
    fn an_expired_lease_is_refused_and_replaced() {
        let leases = Leases::default();
        let Grant::Token(old) = leases.acquire(0, b"k", 100, 0) else {
            panic!("lease");
        };
        let Grant::Token(new) = leases.acquire(0, b"k", 100, 100) else {
            panic!("the expired lease gives way");
        };
        assert_ne!(old, new);
        assert!(!leases.take(0, b"k", old, 150));
        assert!(!leases.take(0, b"k", new, 200), "expired at 200");
        assert!(!leases.any());
    }

    #[test]
    fn invalidation_ends_the_key_in_every_database_and_clear_ends_all() {
        let leases = Leases::default();
        let Grant::Token(a) = leases.acquire(0, b"k", 1000, 0) else {
            panic!("lease");
        };
        let Grant::Token(b) = leases.acquire(3, b"k", 1000, 0) else {
            panic!("lease");
        };
        assert!(matches!(leases.acquire(0, b"j", 1000, 0), Grant::Token(_)));
        leases.invalidate(b"k");
        assert!(!leases.take(0, b"k", a, 1));
        assert!(!leases.take(3, b"k", b, 1));
        assert_eq!(leases.count(), 1);
        leases.clear();
        assert!(!leases.any());
    }

    #[test]
    fn the_table_is_bounded_and_reclaims_expired_leases() {
        let leases = Leases::with_max(2);
        assert!(matches!(leases.acquire(0, b"a", 100, 0), Grant::Token(_)));
        assert!(matches!(leases.acquire(0, b"b", 500, 0), Grant::Token(_)));
        assert_eq!(leases.acquire(0, b"c", 100, 50), Grant::Full);
        // `a` expired at 100: reclaimed, room for `c`.
        assert!(matches!(leases.acquire(0, b"c", 100, 100), Grant::Token(_)));
        assert_eq!(leases.count(), 2);
        leases.removed(0, b"b", Removal::Expired);
        assert_eq!(leases.count(), 1);
    }
}
