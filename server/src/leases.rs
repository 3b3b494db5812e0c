//! Leases against stampedes and stale fills (`RC.LEASE.GET`, `FILL`,
//! `RELEASE`, in `commands/leases.rs`): a miss hands one caller a token
//! for the key; the others are told to wait until the holder fills the key
//! or the lease expires; a fill is accepted only with a live token.
//!
//! The table is keyed by key name (a key's leases in every database in one
//! entry), bounded in count (`lease-max-count`, [`MAX_LEASES`] by default;
//! a full table grants nothing). The leases are also ordered by expiry, so
//! each grant reclaims just the ones that are due, earliest first, instead
//! of scanning the table.
//! Every change of a key drops its leases in every database
//! ([`Leases::invalidate`]): the command pipeline calls it *before* a
//! write command runs (`commands::effects::before`), a peer's applied
//! state before it is applied, the store's removal hook on expiry and
//! eviction; a flush or SWAPDB drops them all. A fill checks its token and
//! writes under the key's shard lock, and writes only a missing key, so a
//! fill never lands after a newer write or delete of the key. While no
//! lease is outstanding every hook costs one atomic load.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::store::{Removal, RemovalListener};

/// The default `lease-max-count`: leases outstanding at most on a node;
/// past it (after reclaiming the expired ones) a miss gets no lease.
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

/// The leases by key, and the same leases by expiry (each lease is in
/// both, its key shared).
#[derive(Debug, Default)]
struct Table {
    by_key: HashMap<Arc<[u8]>, Vec<Lease>>,
    /// (expiry, token) of every lease, with its key: the next to reclaim
    /// first.
    by_expiry: BTreeMap<(u64, u64), Arc<[u8]>>,
}

impl Table {
    /// Leases in the table.
    fn count(&self) -> usize {
        self.by_expiry.len()
    }

    /// Drops the leases expired at `now`, earliest first: the cost is the
    /// number dropped, not the table's size.
    fn reclaim(&mut self, now: u64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 > now {
                return;
            }
            let ((_, token), key) = entry.remove_entry();
            if let Some(leases) = self.by_key.get_mut(&key) {
                leases.retain(|l| l.token != token);
                if leases.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    /// Adds `lease` of `key` (whose leases in its database have all ended).
    fn insert(&mut self, key: &[u8], lease: Lease) {
        let shared = match self.by_key.get_key_value(key) {
            Some((shared, _)) => shared.clone(),
            None => Arc::from(key),
        };
        self.by_key.entry(shared.clone()).or_default().push(lease);
        self.by_expiry
            .insert((lease.expires_at, lease.token), shared);
    }

    /// Removes `key`'s lease in `db` if it has `token`; its expiry.
    fn remove(&mut self, db: usize, key: &[u8], token: u64) -> Option<u64> {
        let leases = self.by_key.get_mut(key)?;
        let at = leases.iter().position(|l| l.db == db && l.token == token)?;
        let lease = leases.swap_remove(at);
        if leases.is_empty() {
            self.by_key.remove(key);
        }
        self.by_expiry.remove(&(lease.expires_at, lease.token));
        Some(lease.expires_at)
    }

    /// Removes every lease of `key`.
    fn remove_key(&mut self, key: &[u8]) {
        for lease in self.by_key.remove(key).unwrap_or_default() {
            self.by_expiry.remove(&(lease.expires_at, lease.token));
        }
    }

    fn clear(&mut self) {
        self.by_key.clear();
        self.by_expiry.clear();
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
    /// `lease-max-count`.
    max: AtomicUsize,
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
            table: Mutex::new(Table::default()),
            max: AtomicUsize::new(max),
        }
    }

    /// Sets `lease-max-count`: grants stop while this many are outstanding
    /// (those already given live on).
    pub fn set_max(&self, max: usize) {
        self.max.store(max, Ordering::Relaxed);
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
        self.outstanding.store(table.count(), Ordering::Release);
        if let Some(lease) = table
            .by_key
            .get(key)
            .and_then(|leases| leases.iter().find(|l| l.db == db && l.expires_at > now))
        {
            return Grant::Wait((lease.expires_at - now).max(1));
        }
        if table.count() >= self.max.load(Ordering::Relaxed) {
            return Grant::Full;
        }
        // Reclaimed above: the key has no lease in `db` any more.
        let lease = Lease {
            db,
            token: self.token(),
            expires_at: now.saturating_add(ttl_ms),
        };
        table.insert(key, lease);
        self.outstanding.store(table.count(), Ordering::Release);
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
        self.outstanding.store(table.count(), Ordering::Release);
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
        table.remove_key(key);
        self.outstanding.store(table.count(), Ordering::Release);
    }

    /// Every lease ends (FLUSHALL, FLUSHDB, SWAPDB, a keyless write).
    pub fn clear(&self) {
        if !self.any() {
            return;
        }
        self.table.lock().clear();
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

    #[test]
    fn reclaim_takes_the_due_leases_earliest_first_and_the_bound_can_change() {
        let leases = Leases::with_max(4);
        for (key, ttl) in [(&b"late"[..], 300), (b"early", 100), (b"mid", 200)] {
            assert!(matches!(leases.acquire(0, key, ttl, 0), Grant::Token(_)));
        }
        let Grant::Token(other_db) = leases.acquire(1, b"early", 100, 0) else {
            panic!("lease");
        };
        assert_eq!(leases.acquire(0, b"x", 1000, 50), Grant::Full);
        // At 150 both leases of `early` are due, the others are not.
        assert!(matches!(
            leases.acquire(0, b"x", 1000, 150),
            Grant::Token(_)
        ));
        assert_eq!(leases.count(), 3);
        assert!(!leases.take(1, b"early", other_db, 150), "reclaimed");
        assert_eq!(leases.acquire(0, b"mid", 1000, 150), Grant::Wait(50));
        {
            let table = leases.table.lock();
            let order: Vec<&[u8]> = table.by_expiry.values().map(|k| &k[..]).collect();
            assert_eq!(order, [&b"mid"[..], b"late", b"x"]);
        }
        leases.set_max(3);
        assert_eq!(leases.acquire(0, b"y", 1000, 150), Grant::Full);
        leases.set_max(5);
        assert!(matches!(
            leases.acquire(0, b"y", 1000, 150),
            Grant::Token(_)
        ));
        leases.invalidate(b"late");
        leases.invalidate(b"x");
        assert_eq!(leases.count(), 2);
        assert_eq!(leases.table.lock().by_key.len(), 2);
    }
}
