//! One shard of the key space: a hash table of packed entries, the
//! collection values (hashes, lists, sets, sorted sets), the buffers of
//! grown strings, and the counters the shard's lock already protects.
//!
//! Every method runs under the shard's mutex and never blocks, so critical
//! sections stay short. Entries are addressed by bucket index, which stays
//! valid until the table is next changed; `find` removes an expired entry it
//! meets (lazy expiry) and so never returns one.

mod collections;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};
use slab::Slab;

use super::collection::Collection;
use super::encoding::SharedLimits;
use super::entry::{Entry, Kind};
use super::grown::GrownString;
use super::lazyfree::{Boxed, Garbage, ShardContents};
use super::memory::MemoryGauge;
use super::removal::{Removal, RemovalHooks};
use super::slot_counts::SlotCounts;
use super::values::OwnedValue;
use super::versioning;

/// Size of one table slot plus its control byte.
pub const SLOT_BYTES: usize = std::mem::size_of::<Entry>() + 1;
/// Strings that APPEND or SETRANGE make up to this long stay inline in
/// their entry, rebuilt on each change (a copy this small costs less than
/// a second allocation); longer ones move to a grown buffer.
pub const INLINE_GROWTH_MAX: usize = 256;

/// Counters kept per shard (summed for INFO).
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardStats {
    /// Keys removed because their TTL passed.
    pub expired: u64,
    /// Keys removed to stay under maxmemory.
    pub evicted: u64,
    /// Reads that found their key.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
}

impl std::ops::AddAssign for ShardStats {
    fn add_assign(&mut self, o: Self) {
        self.expired += o.expired;
        self.evicted += o.evicted;
        self.hits += o.hits;
        self.misses += o.misses;
    }
}

/// See the module docs.
pub struct Shard {
    table: HashTable<Entry>,
    collections: Slab<Collection>,
    strings: Slab<GrownString>,
    hasher: DefaultHashBuilder,
    gauge: Arc<MemoryGauge>,
    limits: Arc<SharedLimits>,
    /// Told of keys this shard expires (evictions are reported by the
    /// driver in `evict.rs`).
    hooks: Arc<RemovalHooks>,
    /// The database this shard belongs to (kept when SWAPDB exchanges
    /// shard contents).
    pub(crate) db: usize,
    /// Entries with a TTL.
    volatile: usize,
    /// Heap bytes this shard has counted into the gauge (table, entries,
    /// boxed values), so a flush gives them back without walking them.
    bytes: isize,
    /// Where the active expiry cycle resumes.
    pub(crate) expire_cursor: usize,
    /// The keys with a TTL's average time to live in ms, as the active
    /// expiry cycle samples it (INFO keyspace `avg_ttl`; 0: none).
    avg_ttl: u64,
    /// Changes whenever entries may have moved to other buckets (a rehash
    /// on insert, a shrink, a flush), so a SCAN cursor into this table can
    /// tell that its position no longer means anything. Wraps; a cursor
    /// would have to sleep through 65,536 rehashes to be fooled.
    layout: u16,
    /// Where the table's slots end and its control bytes begin, as the
    /// last hit or insert saw it (`note_slot`; stale after a shrink until
    /// the next one: only `prefetch` reads it, and a stale address costs
    /// nothing but a wasted hint).
    slots_end: usize,
    /// Counters.
    pub stats: ShardStats,
    /// Recent deletes on a cluster node: key -> (version, when, Unix ms), so
    /// an older copy arriving later (a slot transfer page cut before the
    /// delete) does not bring the key back. Bounded; entries live
    /// [`TOMBSTONE_TTL_MS`].
    tombstones: HashMap<Box<[u8]>, (u64, u64)>,
    /// Keys per cluster slot, on a cluster node's store (see
    /// [`SlotCounts`]); None elsewhere, where keeping them would cost.
    slots: Option<Arc<SlotCounts>>,
}

/// How long a delete keeps older copies of its key out.
pub const TOMBSTONE_TTL_MS: u64 = 60_000;
/// Most tombstones one shard keeps.
const TOMBSTONE_CAP: usize = 4096;

impl Shard {
    pub(crate) fn new(
        hasher: DefaultHashBuilder,
        gauge: Arc<MemoryGauge>,
        limits: Arc<SharedLimits>,
        hooks: Arc<RemovalHooks>,
        db: usize,
        slots: Option<Arc<SlotCounts>>,
    ) -> Self {
        Shard {
            table: HashTable::new(),
            collections: Slab::new(),
            strings: Slab::new(),
            hasher,
            gauge,
            limits,
            hooks,
            db,
            volatile: 0,
            bytes: 0,
            expire_cursor: 0,
            avg_ttl: 0,
            layout: 0,
            slots_end: 0,
            stats: ShardStats::default(),
            tombstones: HashMap::new(),
            slots,
        }
    }

    /// Entries, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Entries with a TTL.
    pub fn volatile(&self) -> usize {
        self.volatile
    }

    /// See the field: equal values mean no entry changed bucket since.
    pub fn layout(&self) -> u16 {
        self.layout
    }

    /// Bucket count of the table (for sampling and scanning).
    pub fn num_buckets(&self) -> usize {
        self.table.num_buckets()
    }

    /// The entry in bucket `index`, if that bucket is occupied.
    pub fn bucket(&self, index: usize) -> Option<&Entry> {
        self.table.get_bucket(index)
    }

    fn account(&mut self, delta: isize) {
        self.bytes += delta;
        self.gauge.add(delta);
    }

    /// Heap bytes this shard holds (table, entries, values).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.max(0) as usize
    }

    /// Heap bytes of the table itself.
    pub(crate) fn table_bytes(&self) -> usize {
        // An unallocated table still reports one bucket (hashbrown's
        // shared empty singleton); it costs nothing.
        if self.table.capacity() == 0 {
            return 0;
        }
        self.table.num_buckets() * SLOT_BYTES
    }

    /// Bucket index of the live entry for `key`; an expired entry found on
    /// the way is removed and counted.
    #[inline]
    pub fn find(&mut self, hash: u64, key: &[u8], now: u64) -> Option<usize> {
        let index = self.table.find_bucket_index(hash, |e| e.key() == key)?;
        self.note_slot(index);
        if self.at(index).is_expired(now) {
            self.expire_at_index(index);
            return None;
        }
        Some(index)
    }

    /// Remembers where the table's slots end, from the occupied slot
    /// `index`: hashbrown lays slot i out at `end - (i + 1)` slots and its
    /// control bytes from `end` on. Kept fresh by every hit and insert
    /// (which is where a rehash moves the table).
    #[inline]
    fn note_slot(&mut self, index: usize) {
        self.slots_end = std::ptr::from_ref(self.at(index)) as usize
            + (index + 1) * std::mem::size_of::<Entry>();
    }

    /// Starts loading what a probe for `hash` reads first: the group of
    /// control bytes and the slot where its probe sequence starts.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if self.slots_end == 0 {
            return;
        }
        let start = hash as usize & self.table.num_buckets().wrapping_sub(1);
        super::prefetch::prefetch(self.slots_end.wrapping_add(start));
        let slot = (start + 1).wrapping_mul(std::mem::size_of::<Entry>());
        super::prefetch::prefetch(self.slots_end.wrapping_sub(slot));
    }

    /// Starts loading the block of the entry a probe for `hash` would
    /// compare first. This reads the control group and the slot for real
    /// (after `prefetch` hinted them, they are usually there by now).
    #[inline]
    pub fn prefetch_entry(&self, hash: u64) {
        let first = self.table.iter_hash_buckets(hash).next();
        if let Some(entry) = first.and_then(|index| self.table.get_bucket(index)) {
            super::prefetch::prefetch(entry.address());
        }
    }

    /// The entry at `index` (from `find` on the unchanged table).
    #[inline]
    pub fn at(&self, index: usize) -> &Entry {
        self.table
            .get_bucket(index)
            .expect("bucket index comes from find on an unchanged table")
    }

    /// The entry at `index`, mutably; callers must not change its kind,
    /// key or expiry (use the shard's methods for those).
    #[inline]
    pub fn at_mut(&mut self, index: usize) -> &mut Entry {
        self.table
            .get_bucket_mut(index)
            .expect("bucket index comes from find on an unchanged table")
    }

    /// Removes the entry at `index` and returns it with what it owned, for
    /// the caller to free (here, or on the lazyfree thread).
    pub fn delete_at(&mut self, index: usize) -> Garbage {
        let Ok(occupied) = self.table.get_bucket_entry(index) else {
            unreachable!("bucket index comes from find on an unchanged table");
        };
        let (entry, _) = occupied.remove();
        if entry.expire_at().is_some() {
            self.volatile -= 1;
        }
        if let Some(slots) = &self.slots {
            slots.removed(entry.key(), entry.expire_at().is_some());
        }
        let boxed = self.take_boxed(&entry);
        let outside = match &boxed {
            Some(Boxed::Collection(collection)) => collection.heap_size(),
            Some(Boxed::Str(grown)) => grown.heap_size(),
            None => 0,
        };
        self.account(-((entry.heap_size() + outside) as isize));
        Garbage::Value(entry, boxed)
    }

    /// Takes the value `entry` owns outside its block out of its slab,
    /// without accounting.
    fn take_boxed(&mut self, entry: &Entry) -> Option<Boxed> {
        match (entry.slab_index(), entry.grown_index()) {
            (Some(slab), _) => Some(Boxed::Collection(self.collections.remove(slab))),
            (None, Some(slot)) => Some(Boxed::Str(self.strings.remove(slot))),
            (None, None) => None,
        }
    }

    /// Removes the live entry for `key`, and returns it for the caller to
    /// free; None if there was none.
    pub fn remove(&mut self, hash: u64, key: &[u8], now: u64) -> Option<Garbage> {
        let index = self.find(hash, key, now)?;
        Some(self.delete_at(index))
    }

    /// Inserts `value` under `key`, replacing any entry (live or expired).
    /// Returns the bucket index of the new entry.
    pub fn put(
        &mut self,
        hash: u64,
        key: &[u8],
        value: OwnedValue,
        expire_at: Option<u64>,
        access: u32,
        now: u64,
    ) -> usize {
        if let Some(index) = self.table.find_bucket_index(hash, |e| e.key() == key) {
            self.expire_replaced(index, now);
            if let (OwnedValue::Str(v), Kind::String) = (&value, self.at(index).kind()) {
                let entry = Entry::string(key, v, expire_at, access);
                self.replace_at(index, entry);
                return index;
            }
            self.delete_at(index);
        }
        let entry = match value {
            OwnedValue::Str(v) => Entry::string(key, &v, expire_at, access),
            OwnedValue::Collection(c) => self.collection_entry(key, c, expire_at, access),
        };
        self.insert_new(hash, entry)
    }

    /// Inserts or replaces a string value: the hot path of SET.
    #[inline]
    pub fn put_string(
        &mut self,
        hash: u64,
        key: &[u8],
        value: &[u8],
        expire_at: Option<u64>,
        access: u32,
        now: u64,
    ) {
        let entry = Entry::string(key, value, expire_at, access);
        let found = self.table.find_bucket_index(hash, |e| e.key() == key);
        if let Some(index) = found {
            self.expire_replaced(index, now);
        }
        match found {
            Some(index) if self.at(index).kind() == Kind::String => self.replace_at(index, entry),
            Some(index) => {
                self.delete_at(index);
                self.insert_new(hash, entry);
            }
            None => {
                self.insert_new(hash, entry);
            }
        }
    }

    /// Replaces the string entry at `index` with `entry` (same key); the
    /// buffer of a grown string it replaces is freed, unless `entry` is the
    /// same string grown into it.
    pub fn replace_at(&mut self, index: usize, entry: Entry) {
        let new_size = entry.heap_size() as isize;
        let new_volatile = entry.expire_at().is_some();
        let kept = entry.grown_index();
        let old = std::mem::replace(self.at_mut(index), entry);
        debug_assert!(
            old.kind() == Kind::String,
            "replace_at is for string entries"
        );
        if old.expire_at().is_some() != new_volatile {
            if new_volatile {
                self.volatile += 1;
            } else {
                self.volatile -= 1;
            }
            if let Some(slots) = &self.slots {
                slots.volatility(old.key(), new_volatile);
            }
        }
        let mut freed = 0;
        if let Some(slot) = old.grown_index().filter(|&s| Some(s) != kept) {
            freed = self.strings.remove(slot).heap_size() as isize;
        }
        self.account(new_size - old.heap_size() as isize - freed);
    }

    /// Appends `tail` to the string at `index`; returns the new length.
    /// A grown string takes it in its spare room (growing as sds does when
    /// short); a short one is rebuilt inline; a long inline one becomes a
    /// grown string, so later appends no longer copy it.
    pub fn append_at(&mut self, index: usize, tail: &[u8]) -> usize {
        if let Some(slot) = self.at(index).grown_index() {
            let grown = &mut self.strings[slot];
            let before = grown.heap_size();
            let len = grown.append(tail);
            let after = grown.heap_size();
            self.account(after as isize - before as isize);
            return len;
        }
        let head = self.at(index).payload();
        let len = head.len() + tail.len();
        if len <= INLINE_GROWTH_MAX {
            let value = [head, tail].concat();
            let entry = self.at(index);
            self.replace_at(index, entry.rebuilt(&value, entry.expire_at()));
        } else {
            let grown = GrownString::joined(head, tail);
            self.store_grown(index, grown);
        }
        len
    }

    /// Writes `patch` at `offset` of the string at `index`, zero-filling a
    /// gap; returns the new length. In place when the string need not grow.
    pub fn set_range_at(&mut self, index: usize, offset: usize, patch: &[u8]) -> usize {
        let end = offset + patch.len();
        if let Some(slot) = self.at(index).grown_index() {
            let grown = &mut self.strings[slot];
            let before = grown.heap_size();
            let len = grown.set_range(offset, patch);
            let after = grown.heap_size();
            self.account(after as isize - before as isize);
            return len;
        }
        let len = self.at(index).payload().len();
        if end <= len {
            // The block's bytes are the value's: patch them where they are.
            self.at_mut(index).payload_mut()[offset..end].copy_from_slice(patch);
            return len;
        }
        let mut grown = GrownString::exact(Vec::new());
        grown.set_range(0, self.at(index).payload());
        let len = grown.set_range(offset, patch);
        if len <= INLINE_GROWTH_MAX {
            let entry = self.at(index);
            self.replace_at(index, entry.rebuilt(grown.as_slice(), entry.expire_at()));
        } else {
            self.store_grown(index, grown);
        }
        len
    }

    /// Creates `key` (known absent) holding `value` as a grown string when
    /// it is long (SETRANGE on a missing key), inline otherwise.
    pub fn insert_built(&mut self, hash: u64, key: &[u8], value: Vec<u8>, access: u32) {
        if value.len() <= INLINE_GROWTH_MAX {
            self.insert_new(hash, Entry::string(key, &value, None, access));
            return;
        }
        let grown = GrownString::exact(value);
        self.account(grown.heap_size() as isize);
        let slot = self.strings.insert(grown);
        let entry = Entry::string(key, b"", None, access).boxed(slot as u32);
        self.insert_new(hash, entry);
    }

    /// Moves the string at `index` into `grown`, a buffer of its own.
    fn store_grown(&mut self, index: usize, grown: GrownString) {
        self.account(grown.heap_size() as isize);
        let slot = self.strings.insert(grown);
        let entry = self.at(index).boxed(slot as u32);
        self.replace_at(index, entry);
    }

    /// Inserts an entry whose key is known to be absent.
    pub fn insert_new(&mut self, hash: u64, entry: Entry) -> usize {
        if entry.expire_at().is_some() {
            self.volatile += 1;
        }
        if let Some(slots) = &self.slots {
            slots.added(entry.key(), entry.expire_at().is_some());
        }
        let size = entry.heap_size() as isize;
        let table_before = self.table_bytes();
        // No room left: this insert rehashes the table (grown, or in place
        // when it is full of deleted marks), moving entries.
        super::buckets::before_insert(&self.table, &mut self.layout);
        let hasher = &self.hasher;
        let occupied = self
            .table
            .insert_unique(hash, entry, |e| hasher.hash_one(e.key()));
        let index = occupied.bucket_index();
        self.note_slot(index);
        let table_after = self.table_bytes();
        self.account(size + table_after as isize - table_before as isize);
        index
    }

    /// Sets or clears the expiry of the entry at `index`.
    pub fn set_expire_at(&mut self, index: usize, expire_at: Option<u64>) {
        // A command armed for replication by effect changes the entry at
        // the version it gives here, in this lock hold (`versioning`).
        let entry = self.at(index);
        if let Some(version) = versioning::changing(|| (entry.key(), entry.version().unwrap_or(0)))
        {
            self.set_version_at(index, version);
        }
        let entry = self.at_mut(index);
        let had = entry.expire_at().is_some();
        let before = entry.heap_size() as isize;
        entry.set_expire(expire_at);
        let after = entry.heap_size() as isize;
        if had != expire_at.is_some() {
            if had {
                self.volatile -= 1;
            } else {
                self.volatile += 1;
            }
            if let (Some(slots), Some(entry)) = (&self.slots, self.table.get_bucket(index)) {
                slots.volatility(entry.key(), !had);
            }
        }
        self.account(after - before);
    }

    /// Remembers that `key` was deleted at `version`.
    pub fn record_delete(&mut self, key: &[u8], version: u64, now: u64) {
        if self.tombstones.len() >= TOMBSTONE_CAP {
            self.tombstones
                .retain(|_, (_, at)| now.saturating_sub(*at) < TOMBSTONE_TTL_MS);
            if self.tombstones.len() >= TOMBSTONE_CAP {
                // Still full of fresh deletes: forget them all rather than
                // grow; a cache tolerates an old copy coming back.
                self.tombstones.clear();
            }
        }
        self.tombstones.insert(key.into(), (version, now));
    }

    /// True if `key` was deleted at a version newer than `version` within
    /// the tombstone lifetime.
    pub fn deleted_after(&self, key: &[u8], version: u64, now: u64) -> bool {
        self.tombstones.get(key).is_some_and(|&(deleted, at)| {
            deleted > version && now.saturating_sub(at) < TOMBSTONE_TTL_MS
        })
    }

    /// The version `key` was deleted at, if within the tombstone lifetime.
    pub fn deleted_at(&self, key: &[u8], now: u64) -> Option<u64> {
        self.tombstones
            .get(key)
            .filter(|&&(_, at)| now.saturating_sub(at) < TOMBSTONE_TTL_MS)
            .map(|&(deleted, _)| deleted)
    }

    /// Sets the version of the entry at `index` (see [`Entry::version`]).
    pub fn set_version_at(&mut self, index: usize, version: u64) {
        let entry = self.at_mut(index);
        let before = entry.heap_size() as isize;
        entry.set_version(version);
        let after = entry.heap_size() as isize;
        self.account(after - before);
    }

    /// Removes every entry and returns what was removed, so the caller can
    /// drop it elsewhere (FLUSHALL ASYNC). Constant time: the shard's lock
    /// is held for a few moves, whatever its size. The slot counts are the
    /// caller's to zero, once it holds every shard (they span shards).
    pub fn take_all(&mut self) -> ShardContents {
        self.account(-self.bytes);
        self.volatile = 0;
        self.expire_cursor = 0;
        self.layout = self.layout.wrapping_add(1);
        (
            std::mem::take(&mut self.table),
            std::mem::take(&mut self.collections),
            std::mem::take(&mut self.strings),
        )
    }

    /// Removes expired entries among up to `budget` buckets from the
    /// expiry cursor on; returns (buckets scanned, entries removed).
    pub fn expire_some(&mut self, budget: usize, now: u64) -> (usize, usize) {
        let buckets = self.table.num_buckets();
        if buckets == 0 || self.volatile == 0 {
            self.expire_cursor = 0;
            self.avg_ttl = 0;
            return (0, 0);
        }
        let mut removed = 0;
        let (mut ttl_sum, mut ttl_count) = (0u64, 0u64);
        let scan = budget.min(buckets);
        for _ in 0..scan {
            let index = self.expire_cursor % buckets;
            self.expire_cursor = (index + 1) % buckets;
            let Some(entry) = self.table.get_bucket(index) else {
                continue;
            };
            if entry.is_expired(now) {
                self.expire_at_index(index);
                removed += 1;
            } else if let Some(at) = entry.expire_at() {
                ttl_sum = ttl_sum.saturating_add(at.saturating_sub(now));
                ttl_count += 1;
            }
        }
        if let Some(sample) = ttl_sum.checked_div(ttl_count) {
            // Redis's running average: each cycle's sample weighs 1/50.
            self.avg_ttl = match self.avg_ttl {
                0 => sample,
                avg => avg / 50 * 49 + sample / 50,
            };
        }
        (scan, removed)
    }

    /// The estimate of the average time to live of the keys with a TTL,
    /// in ms (0 before the active expiry cycle sampled any).
    pub fn avg_ttl(&self) -> u64 {
        self.avg_ttl
    }

    /// Removes the expired entry at `index`, counts it and reports it.
    fn expire_at_index(&mut self, index: usize) {
        self.hooks
            .report(self.db, self.at(index).key(), Removal::Expired);
        self.delete_at(index);
        self.stats.expired += 1;
    }

    /// Counts a read of `key` that found nothing (a keyspace miss) and
    /// reports it.
    #[inline]
    pub fn count_miss(&mut self, key: &[u8]) {
        self.stats.misses += 1;
        self.hooks.report_miss(self.db, key);
    }

    /// A write replaces the entry at `index`: if it was stale at `now`, it
    /// counts as expired first (and is reported), as Redis's lookup before
    /// a write expires it.
    #[inline]
    fn expire_replaced(&mut self, index: usize, now: u64) {
        if self.at(index).is_expired(now) {
            self.hooks
                .report(self.db, self.at(index).key(), Removal::Expired);
            self.stats.expired += 1;
        }
    }

    /// Reports that the driver evicted `key` from this shard.
    pub(crate) fn report_evicted(&self, key: &[u8]) {
        self.hooks.report(self.db, key, Removal::Evicted);
    }

    /// Gives memory back after many removals: shrinks the table when it is
    /// less than a quarter full.
    pub fn maybe_shrink(&mut self) {
        let buckets = self.table.num_buckets();
        if buckets > 64 && self.table.len() * 4 < buckets {
            let before = self.table_bytes();
            self.layout = self.layout.wrapping_add(1);
            let hasher = &self.hasher;
            self.table
                .shrink_to(self.table.len(), |e| hasher.hash_one(e.key()));
            self.account(self.table_bytes() as isize - before as isize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoreOptions};

    /// `prefetch` computes addresses from hashbrown's layout instead of
    /// asking it: slot `i` just below `slots_end`, control bytes from it on,
    /// a probe starting at the hash's low bits. Were that to change, the
    /// hints would point elsewhere (harmless, but the speed-up gone).
    #[test]
    fn prefetch_addresses_are_where_the_table_keeps_slots_and_probes_start() {
        let store = Store::new(StoreOptions {
            shards: 1,
            ..StoreOptions::default()
        });
        let keys: Vec<Vec<u8>> = (0..5000).map(|i| format!("key:{i}").into_bytes()).collect();
        for key in &keys {
            store.lock(key).put_string(key, b"value", None);
        }
        let mut shard = store.lock_shard(0);
        let (probe, key) = (store.locate(&keys[0]).1, &keys[0]);
        assert!(shard.find(probe, key, 0).is_some());
        let size = std::mem::size_of::<Entry>();
        let buckets = shard.table.num_buckets();
        let mut full = 0;
        for index in 0..buckets {
            if let Some(entry) = shard.table.get_bucket(index) {
                let address = std::ptr::from_ref(entry) as usize;
                assert_eq!(address, shard.slots_end - (index + 1) * size);
                full += 1;
            }
        }
        assert_eq!(full, keys.len());
        // hashbrown compares a group of 16 control bytes from the probe's
        // start: nearly every key is found in that first group.
        let in_first_group = keys
            .iter()
            .filter(|key| {
                let hash = store.locate(key).1;
                let start = hash as usize & (buckets - 1);
                let index = shard.find(hash, key, 0).expect("every key is live");
                (index + buckets - start) % buckets < 16
            })
            .count();
        assert!(
            in_first_group * 10 >= keys.len() * 9,
            "{in_first_group} of {} keys in their probe's first group",
            keys.len()
        );
    }
}
