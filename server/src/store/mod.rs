//! The in-memory key space: shards of packed entries behind short-lived
//! mutexes, with lazy and active expiry and eviction under `maxmemory`.
//!
//! The numbered databases (SELECT) are ranges of one flat array of
//! shards: a [`Store`] handle addresses one database for key-level work,
//! while memory, eviction, expiry and the lazyfree thread are shared by
//! all of them, as in Redis.
//!
//! A key's hash picks its shard; the shard's mutex is held only for the few
//! table operations of one command and never across an `.await`, so a plain
//! (parking_lot) mutex is the right tool. Commands that must see several keys
//! at once lock all their shards in index order ([`Store::lock_keys`]).
//! Large values removed by UNLINK, DEL or `FLUSHALL ASYNC` are freed on a
//! background thread ([`lazyfree`]).

mod buckets;
mod clock;
mod collection;
mod encoding;
mod entry;
mod evict;
mod eviction;
mod expire;
mod figures;
mod grown;
mod hash_value;
mod inline;
pub mod lazyfree;
mod list_value;
mod memory;
pub mod number;
pub mod packed;
mod policy;
mod prefetch;
mod removal;
mod set_value;
mod shard;
mod slot_counts;
mod sorted_set;
mod transfer;
mod values;
pub mod versioning;
mod walk;

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use hashbrown::DefaultHashBuilder;
use parking_lot::{Mutex, MutexGuard};

pub use clock::{unix_ms, unix_us, Clock, CommandTime};
pub use collection::{Collection, CollectionType};
pub use encoding::EncodingLimits;
pub use entry::{Entry, Kind};
pub use eviction::{Candidate, EvictionPool};
pub use hash_value::HashValue;
pub use lazyfree::LAZYFREE_THRESHOLD;
pub use list_value::{End, Fill, ListValue};
pub use memory::{active_bytes, allocated_bytes, resident_bytes, MemoryGauge};
pub use policy::{initial_access, lfu_counter, lru_idle_ms, touched, EvictionPolicy};
pub use removal::{Removal, RemovalHooks, RemovalListener};
pub use set_value::{Member as SetMember, SetValue};
pub use shard::{Shard, ShardStats, INLINE_GROWTH_MAX};
pub use slot_counts::{SlotCounts, SlotSet};
pub use sorted_set::SortedSet;
pub use transfer::{KeyState, Snapshot};
pub use values::{OwnedValue, ValueRef};
pub use walk::NARROW_CURSOR_BITS;

/// Default shard count: a few per core keeps lock contention negligible.
pub const DEFAULT_SHARDS: usize = 64;

/// Settings of a new store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Shard count per database (rounded up to a power of two).
    pub shards: usize,
    /// Number of databases (SELECT 0 .. databases - 1).
    pub databases: usize,
    /// Memory bound in bytes (0 = none).
    pub maxmemory: u64,
    /// What to evict over the bound.
    pub policy: EvictionPolicy,
    /// Entries sampled per eviction.
    pub samples: usize,
    /// Where time comes from.
    pub clock: Clock,
    /// When collections leave their compact encodings.
    pub encodings: EncodingLimits,
    /// Keep key counts per cluster slot in database 0 (a cluster node's
    /// store): DBSIZE of a node's own slots without a walk, for a few
    /// atomic adds per insert and remove.
    pub slot_counts: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            shards: DEFAULT_SHARDS,
            databases: 1,
            maxmemory: 0,
            policy: EvictionPolicy::AllKeysLru,
            samples: 5,
            clock: Clock::System,
            encodings: EncodingLimits::default(),
            slot_counts: false,
        }
    }
}

/// Returned when a key holds a value of another type than the command's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// Returned when a write may not run because memory is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

/// A cheap, cloneable handle to the key space, addressing one database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    /// The database this handle addresses.
    db: usize,
    /// Reads through this handle update the keys' LRU/LFU access (false:
    /// a CLIENT NO-TOUCH client's handle).
    touch: bool,
}

struct Inner {
    /// Every database's shards, database after database.
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    /// Shards per database (a power of two).
    per_db: usize,
    shard_mask: usize,
    hasher: DefaultHashBuilder,
    clock: Clock,
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicUsize,
    gauge: Arc<MemoryGauge>,
    limits: Arc<encoding::SharedLimits>,
    pool: Mutex<EvictionPool>,
    /// Frees large removed values off the request path.
    lazyfree: lazyfree::LazyFree,
    /// Told of every key expired or evicted (keyspace notifications,
    /// client tracking).
    hooks: Arc<RemovalHooks>,
    /// Keys per cluster slot in database 0, on a cluster node's store.
    slots: Option<Arc<SlotCounts>>,
    /// Where evicted keys are reported, when someone listens (a cluster
    /// primary tells its replicas).
    eviction_log: std::sync::OnceLock<std::sync::mpsc::SyncSender<Vec<u8>>>,
}

/// A locked shard together with the key's hash, the time of the command
/// and the eviction policy: everything a single-key command needs.
pub struct KeyLock<'a> {
    /// The locked shard.
    pub shard: MutexGuard<'a, Shard>,
    /// The key's hash.
    pub hash: u64,
    /// Now, in Unix ms, fixed for the command.
    pub now: u64,
    /// Current eviction policy (decides what the access field means).
    pub policy: EvictionPolicy,
    /// `find` updates the access time (see [`Store::untouched`]).
    touch: bool,
    lazyfree: &'a lazyfree::LazyFree,
}

impl KeyLock<'_> {
    /// The live entry for `key`, without touching its access time.
    #[inline]
    pub fn peek(&mut self, key: &[u8]) -> Option<usize> {
        self.shard.find(self.hash, key, self.now)
    }

    /// The live entry for `key`, touching its access time (LRU/LFU)
    /// unless the handle is [`Store::untouched`].
    #[inline]
    pub fn find(&mut self, key: &[u8]) -> Option<usize> {
        if !self.touch {
            return self.peek(key);
        }
        self.touch(key)
    }

    /// The live entry for `key`, touching its access time whatever the
    /// handle (TOUCH).
    #[inline]
    pub fn touch(&mut self, key: &[u8]) -> Option<usize> {
        let index = self.shard.find(self.hash, key, self.now)?;
        let entry = self.shard.at_mut(index);
        let access = touched(self.policy, entry.access(), self.now);
        entry.set_access(access);
        Some(index)
    }

    /// Like `find`, and counts a keyspace hit or miss.
    #[inline]
    pub fn read(&mut self, key: &[u8]) -> Option<usize> {
        let found = self.find(key);
        self.count_read(key, found)
    }

    /// Like `touch`, and counts a keyspace hit or miss (TOUCH, which
    /// touches even for a CLIENT NO-TOUCH client).
    #[inline]
    pub fn read_touching(&mut self, key: &[u8]) -> Option<usize> {
        let found = self.touch(key);
        self.count_read(key, found)
    }

    /// Like `peek`, and counts a keyspace hit or miss (EXISTS, TYPE: a
    /// read that leaves the access time alone).
    #[inline]
    pub fn read_untouched(&mut self, key: &[u8]) -> Option<usize> {
        let found = self.peek(key);
        self.count_read(key, found)
    }

    #[inline]
    fn count_read(&mut self, key: &[u8], found: Option<usize>) -> Option<usize> {
        if found.is_some() {
            self.shard.stats.hits += 1;
        } else {
            self.shard.count_miss(key);
        }
        found
    }

    /// The access field for a new entry.
    #[inline]
    pub fn new_access(&self) -> u32 {
        initial_access(self.policy, self.now)
    }

    /// Stores a string, replacing whatever was there.
    #[inline]
    pub fn put_string(&mut self, key: &[u8], value: &[u8], expire_at: Option<u64>) {
        let access = self.new_access();
        self.shard
            .put_string(self.hash, key, value, expire_at, access, self.now);
    }

    /// Stores the string `value` at `key`: over the live entry at `found`
    /// (from `find`), keeping its TTL, or as a new key without one. What
    /// the counters (INCR, INCRBYFLOAT) write back.
    pub fn rewrite_string(&mut self, found: Option<usize>, key: &[u8], value: &[u8]) {
        match found {
            Some(index) => {
                let entry = self.shard.at(index);
                let rebuilt = entry.rebuilt(value, entry.expire_at());
                self.shard.replace_at(index, rebuilt);
            }
            None => self.put_string(key, value, None),
        }
    }

    /// Stores any value, replacing whatever was there.
    pub fn put(&mut self, key: &[u8], value: OwnedValue, expire_at: Option<u64>) -> usize {
        let access = self.new_access();
        self.shard
            .put(self.hash, key, value, expire_at, access, self.now)
    }

    /// Index of the value of type `T` at `key`, creating an empty one when
    /// the key is absent (the write that follows fills it; `with_mut`
    /// removes it if it stays empty); `Err(WrongType)` when the key holds
    /// another type.
    pub fn for_write<T: CollectionType>(&mut self, key: &[u8]) -> Result<usize, WrongType> {
        match self.find(key) {
            Some(index) if self.shard.at(index).kind() == T::KIND => Ok(index),
            Some(_) => Err(WrongType),
            None => {
                let access = self.new_access();
                Ok(self.shard.insert_empty::<T>(self.hash, key, access))
            }
        }
    }

    /// The value of type `T` at `key` for reading (a keyspace hit or miss):
    /// `Ok(None)` when absent, `Err(WrongType)` when of another type.
    pub fn read_as<T: CollectionType>(
        &mut self,
        key: &[u8],
    ) -> Result<Option<Cow<'_, T>>, WrongType> {
        let Some(index) = self.read(key) else {
            return Ok(None);
        };
        self.shard.typed::<T>(index).map(Some).ok_or(WrongType)
    }

    /// Removes `key`; true if it existed.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        self.shard.remove(self.hash, key, self.now).is_some()
    }

    /// Removes `key` at once and frees a large value on the lazyfree
    /// thread (UNLINK, DEL); true if it existed.
    pub fn unlink(&mut self, key: &[u8]) -> bool {
        match self.shard.remove(self.hash, key, self.now) {
            Some(garbage) => {
                self.lazyfree.free(garbage, false);
                true
            }
            None => false,
        }
    }
}

/// Several shards locked at once, in index order (no deadlock), for
/// commands that must see several keys atomically.
pub struct MultiLock<'a> {
    store: &'a Store,
    guards: Vec<(usize, MutexGuard<'a, Shard>)>,
    /// Now, in Unix ms, fixed for the command.
    pub now: u64,
    /// Current eviction policy.
    pub policy: EvictionPolicy,
}

impl MultiLock<'_> {
    /// The shard holding `key` (which must be one of the locked keys) and
    /// the key's hash.
    pub fn shard(&mut self, key: &[u8]) -> (&mut Shard, u64) {
        let (index, hash) = self.store.locate(key);
        let at = self
            .guards
            .binary_search_by_key(&index, |(i, _)| *i)
            .expect("MultiLock::shard is only called with a key passed to lock_keys");
        (&mut self.guards[at].1, hash)
    }

    /// The live entry for `key` (touching it) and its shard.
    pub fn find(&mut self, key: &[u8]) -> (Option<usize>, &mut Shard, u64) {
        let (now, policy, touch) = (self.now, self.policy, self.store.touch);
        let (shard, hash) = self.shard(key);
        let found = shard.find(hash, key, now);
        if let Some(index) = found.filter(|_| touch) {
            let entry = shard.at_mut(index);
            let access = touched(policy, entry.access(), now);
            entry.set_access(access);
        }
        (found, shard, hash)
    }

    /// The values at `keys` (locked keys, each touched as by `find`), all
    /// borrowed at once, for commands that combine several keys
    /// (ZUNIONSTORE, SINTER); `None` for an absent key.
    pub fn values(&mut self, keys: &[&[u8]]) -> Vec<Option<ValueRef<'_>>> {
        let found: Vec<(usize, Option<usize>)> = keys
            .iter()
            .map(|key| {
                let (index, _) = self.store.locate(key);
                let at = self
                    .guards
                    .binary_search_by_key(&index, |(i, _)| *i)
                    .expect("MultiLock::values is only called with keys passed to lock_keys");
                // Removing an expired entry leaves other buckets in place,
                // so earlier indexes stay valid.
                (at, self.find(key).0)
            })
            .collect();
        found
            .into_iter()
            .map(|(at, index)| index.map(|i| self.guards[at].1.value(i)))
            .collect()
    }

    /// Stores any value under `key`.
    pub fn put(&mut self, key: &[u8], value: OwnedValue, expire_at: Option<u64>) {
        let (now, access) = (self.now, initial_access(self.policy, self.now));
        let (shard, hash) = self.shard(key);
        shard.put(hash, key, value, expire_at, access, now);
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("shards", &self.shard_count())
            .finish()
    }
}

impl Store {
    /// A new, empty store.
    pub fn new(options: StoreOptions) -> Store {
        let count = options.shards.max(1).next_power_of_two();
        let databases = options.databases.max(1);
        let hasher = DefaultHashBuilder::default();
        let gauge = Arc::new(MemoryGauge::default());
        let limits = Arc::new(encoding::SharedLimits::new(options.encodings));
        let hooks = Arc::new(RemovalHooks::default());
        let slots = options.slot_counts.then(|| Arc::new(SlotCounts::default()));
        let shards = (0..count * databases)
            .map(|flat| {
                let counted = slots.clone().filter(|_| flat < count);
                let shard = Shard::new(
                    hasher.clone(),
                    gauge.clone(),
                    limits.clone(),
                    hooks.clone(),
                    flat / count,
                    counted,
                );
                CachePadded::new(Mutex::new(shard))
            })
            .collect();
        gauge.sample();
        Store {
            db: 0,
            touch: true,
            inner: Arc::new(Inner {
                shards,
                per_db: count,
                shard_mask: count - 1,
                hasher,
                clock: options.clock,
                maxmemory: AtomicU64::new(options.maxmemory),
                policy: AtomicU8::new(options.policy.index()),
                samples: AtomicUsize::new(options.samples),
                gauge,
                limits,
                hooks,
                pool: Mutex::new(EvictionPool::default()),
                lazyfree: lazyfree::LazyFree::default(),
                slots,
                eviction_log: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.inner.shards.len() / self.inner.per_db
    }

    /// A handle to database `db` (which must be below [`Store::databases`]).
    pub fn database(&self, db: usize) -> Store {
        debug_assert!(
            db < self.databases(),
            "database index checked by the caller"
        );
        Store {
            inner: self.inner.clone(),
            db,
            touch: true,
        }
    }

    /// This handle, but its reads leave the keys' LRU/LFU access as it
    /// was (a CLIENT NO-TOUCH client's; TOUCH still touches).
    pub fn untouched(&self) -> Store {
        Store {
            touch: false,
            ..self.clone()
        }
    }

    /// The database this handle addresses.
    pub fn db(&self) -> usize {
        self.db
    }

    /// This database's shards.
    #[inline]
    fn db_shards(&self) -> &[CachePadded<Mutex<Shard>>] {
        let start = self.db * self.inner.per_db;
        &self.inner.shards[start..start + self.inner.per_db]
    }

    /// Exchanges the contents of databases `a` and `b` (SWAPDB): every
    /// shard of both is locked, in index order, for the swap.
    pub fn swap_databases(&self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let (low, high) = (a.min(b), a.max(b));
        let per_db = self.inner.per_db;
        let (first, rest) = self.inner.shards.split_at(high * per_db);
        let low_shards = &first[low * per_db..(low + 1) * per_db];
        let mut low_guards: Vec<_> = low_shards.iter().map(|s| s.lock()).collect();
        for (guard, shard) in low_guards.iter_mut().zip(&rest[..per_db]) {
            let mut other = shard.lock();
            std::mem::swap(&mut **guard, &mut *other);
            // The contents move; each shard stays in its database.
            std::mem::swap(&mut guard.db, &mut other.db);
        }
        self.inner.pool.lock().clear();
    }

    /// Adds a listener told of every key this store (any database)
    /// expires or evicts from now on; see [`RemovalListener`].
    pub fn on_removal(&self, listener: Arc<dyn RemovalListener>) {
        self.inner.hooks.add(listener);
    }

    /// Reports reads that miss to the removal listeners (see
    /// [`RemovalListener::missed`]) while `on`.
    pub fn report_misses(&self, on: bool) {
        self.inner.hooks.report_misses(on);
    }

    /// The clock the store runs on.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Now, in Unix ms.
    #[inline]
    pub fn now(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// (shard index, hash) of `key`.
    #[inline]
    pub fn locate(&self, key: &[u8]) -> (usize, u64) {
        let hash = self.inner.hasher.hash_one(key);
        // hashbrown uses the low bits for the bucket and the top seven for
        // its tag; take the shard from bits in between.
        (((hash >> 40) as usize) & self.inner.shard_mask, hash)
    }

    /// Starts loading the table memory a probe for `key` reads first (its
    /// control bytes and slot), so that the probes of a batch of requests
    /// wait for main memory together; skipped when the shard is busy.
    /// Returns where the key is, for `prefetch_entry`.
    #[inline]
    pub fn prefetch(&self, key: &[u8]) -> (usize, u64) {
        let (index, hash) = self.locate(key);
        if let Some(shard) = self.db_shards()[index].try_lock() {
            shard.prefetch(hash);
        }
        (index, hash)
    }

    /// After `prefetch`: starts loading the block of the entry the probe
    /// will compare, once its slot has arrived.
    #[inline]
    pub fn prefetch_entry(&self, (index, hash): (usize, u64)) {
        if let Some(shard) = self.db_shards()[index].try_lock() {
            shard.prefetch_entry(hash);
        }
    }

    /// Locks the shard of `key`.
    #[inline]
    pub fn lock(&self, key: &[u8]) -> KeyLock<'_> {
        let (index, hash) = self.locate(key);
        KeyLock {
            shard: self.db_shards()[index].lock(),
            hash,
            now: self.now(),
            policy: self.policy(),
            touch: self.touch,
            lazyfree: &self.inner.lazyfree,
        }
    }

    /// Locks `key`'s shard in this database and `other_key`'s in database
    /// `other_db` (another one), in index order, for MOVE and COPY ... DB.
    pub fn lock_across(
        &self,
        key: &[u8],
        other_db: usize,
        other_key: &[u8],
    ) -> (KeyLock<'_>, KeyLock<'_>) {
        debug_assert!(other_db != self.db, "one database: lock_keys");
        let (index, hash) = self.locate(key);
        let (other_index, other_hash) = self.locate(other_key);
        let here = self.db * self.inner.per_db + index;
        let there = other_db * self.inner.per_db + other_index;
        let lock = |flat: usize, hash: u64| KeyLock {
            shard: self.inner.shards[flat].lock(),
            hash,
            now: self.now(),
            policy: self.policy(),
            touch: self.touch,
            lazyfree: &self.inner.lazyfree,
        };
        if here < there {
            let first = lock(here, hash);
            (first, lock(there, other_hash))
        } else {
            let second = lock(there, other_hash);
            (lock(here, hash), second)
        }
    }

    /// Locks the shards of all `keys`, in index order.
    pub fn lock_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> MultiLock<'_> {
        let mut indexes: Vec<usize> = keys.into_iter().map(|k| self.locate(k).0).collect();
        indexes.sort_unstable();
        indexes.dedup();
        let guards = indexes
            .into_iter()
            .map(|i| (i, self.db_shards()[i].lock()))
            .collect();
        MultiLock {
            store: self,
            guards,
            now: self.now(),
            policy: self.policy(),
        }
    }

    /// Number of shards of a database.
    pub fn shard_count(&self) -> usize {
        self.inner.per_db
    }

    /// Locks shard `index` of this database.
    pub fn lock_shard(&self, index: usize) -> MutexGuard<'_, Shard> {
        self.db_shards()[index].lock()
    }

    /// Removes every key of this database (FLUSHDB). With
    /// `asynchronously`, the memory is freed on the lazyfree thread so the
    /// caller does not wait for it; otherwise here, once every shard is
    /// unlocked again.
    pub fn flush(&self, asynchronously: bool) {
        self.flush_shards(self.db_shards(), asynchronously);
    }

    /// Removes every key of every database (FLUSHALL), as `flush` does.
    pub fn flush_all(&self, asynchronously: bool) {
        self.flush_shards(&self.inner.shards, asynchronously);
    }

    /// Every shard of `shards` is locked (in index order, as every
    /// multi-shard lock is taken) before any is emptied, so the slot
    /// counts, which span shards, are zeroed with no insert in between.
    fn flush_shards(&self, shards: &[CachePadded<Mutex<Shard>>], asynchronously: bool) {
        let mut guards: Vec<_> = shards.iter().map(|shard| shard.lock()).collect();
        let taken: Vec<_> = guards.iter_mut().map(|guard| guard.take_all()).collect();
        // Database 0's shards come first: a flush that took them took all
        // the counted keys.
        let first = self.inner.shards.first().map(std::ptr::from_ref);
        if let (Some(slots), true) = (
            &self.inner.slots,
            shards.first().map(std::ptr::from_ref) == first,
        ) {
            slots.clear();
        }
        drop(guards);
        self.inner.pool.lock().clear();
        let garbage = lazyfree::Garbage::Shards(taken);
        if asynchronously {
            self.inner.lazyfree.free(garbage, true);
        }
    }

    /// Stops the background thread after it has freed what it holds (at
    /// shutdown); later frees happen inline.
    pub fn stop_background(&self) {
        self.inner.lazyfree.stop();
    }

    /// The memory bound in bytes (0 = none).
    pub fn maxmemory(&self) -> u64 {
        self.inner.maxmemory.load(Ordering::Relaxed)
    }

    /// Changes the memory bound.
    pub fn set_maxmemory(&self, bytes: u64) {
        self.inner.maxmemory.store(bytes, Ordering::Relaxed);
    }

    /// The eviction policy.
    #[inline]
    pub fn policy(&self) -> EvictionPolicy {
        EvictionPolicy::from_index(self.inner.policy.load(Ordering::Relaxed))
    }

    /// Changes the eviction policy.
    pub fn set_policy(&self, policy: EvictionPolicy) {
        self.inner.policy.store(policy.index(), Ordering::Relaxed);
        self.inner.pool.lock().clear();
    }

    /// Entries sampled per eviction.
    pub fn samples(&self) -> usize {
        self.inner.samples.load(Ordering::Relaxed)
    }

    /// Changes the entries sampled per eviction.
    pub fn set_samples(&self, samples: usize) {
        self.inner.samples.store(samples.max(1), Ordering::Relaxed);
    }

    /// Changes when collections leave their compact encodings (values
    /// re-encode on their next write).
    pub fn set_encoding_limits(&self, limits: EncodingLimits) {
        self.inner.limits.set(limits);
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_inline;
#[cfg(test)]
mod tests_large;
