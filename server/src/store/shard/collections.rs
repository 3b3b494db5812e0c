//! The shard's side of collection values: where each one lives (inline in
//! its entry while small and compact, see `inline`; boxed in the shard's
//! slab otherwise), how commands read and change them, and what they cost.

use std::borrow::Cow;

use super::{Shard, SLOT_BYTES};
use crate::store::collection::{Collection, CollectionType};
use crate::store::encoding::EncodingLimits;
use crate::store::entry::Entry;
use crate::store::hash_value::HashValue;
use crate::store::inline::Form;
use crate::store::lazyfree::{Boxed, Garbage};
use crate::store::values::{OwnedValue, ValueRef};
use crate::store::versioning;

/// The collection an entry holds inline, decoded; `None` for a string or
/// a boxed value.
fn unpacked(entry: &Entry) -> Option<Collection> {
    Collection::from_inline(entry.kind(), entry.packed_form()?)
}

impl Shard {
    /// The value at `index`: borrowed, or decoded from its entry for a
    /// small collection held inline.
    #[inline]
    pub fn value(&self, index: usize) -> ValueRef<'_> {
        let entry = self.at(index);
        if !entry.is_boxed() {
            return match unpacked(entry) {
                Some(collection) => ValueRef::of(Cow::Owned(collection)),
                None => ValueRef::Str(entry.payload()),
            };
        }
        match (entry.slab_index(), entry.grown_index()) {
            (Some(slab), _) => ValueRef::of(Cow::Borrowed(&self.collections[slab])),
            (None, Some(slot)) => ValueRef::Str(self.strings[slot].as_slice()),
            (None, None) => ValueRef::Str(entry.payload()),
        }
    }

    /// Heap bytes the entry at `index` and its value take, spare room of a
    /// grown string and the table slot included (MEMORY USAGE).
    pub fn usage_at(&self, index: usize) -> usize {
        let entry = self.at(index);
        let outside = match (entry.slab_index(), entry.grown_index()) {
            (Some(slab), _) => self.collections[slab].heap_size(),
            (None, Some(slot)) => self.strings[slot].heap_size(),
            (None, None) => 0,
        };
        SLOT_BYTES + entry.heap_size() + outside
    }

    /// The encoding thresholds in force.
    pub fn encoding_limits(&self) -> EncodingLimits {
        self.limits.get()
    }

    /// The collection at `index` (borrowed, or decoded from its entry);
    /// `None` for a string.
    pub fn collection(&self, index: usize) -> Option<Cow<'_, Collection>> {
        let entry = self.at(index);
        match entry.slab_index() {
            Some(slab) => Some(Cow::Borrowed(&self.collections[slab])),
            None => unpacked(entry).map(Cow::Owned),
        }
    }

    /// The value of type `T` at `index` (borrowed, or decoded from its
    /// entry); `None` when it holds another type.
    pub fn typed<T: CollectionType>(&self, index: usize) -> Option<Cow<'_, T>> {
        let entry = self.at(index);
        if entry.kind() != T::KIND {
            return None;
        }
        match entry.slab_index() {
            Some(slab) => T::of(&self.collections[slab]).map(Cow::Borrowed),
            None => entry
                .packed_form()
                .map(|form| Cow::Owned(T::from_inline(form))),
        }
    }

    /// Runs `f` on the value of type `T` at `index` (None if it holds
    /// another type), then lets the value re-encode past its thresholds and
    /// keeps memory accounting right. A value held inline is decoded, and
    /// written back inline while its form is small, boxed once it is not.
    /// An emptied collection is removed with its key, as Redis does.
    pub fn with_mut<T: CollectionType, R>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        let limits = self.limits.get();
        if self.at(index).kind() != T::KIND {
            return None;
        }
        // A command armed for replication by effect changes the entry at
        // the version it gives here, in this lock hold (`versioning`).
        let entry = self.at(index);
        if let Some(version) = versioning::changing(|| (entry.key(), entry.version().unwrap_or(0)))
        {
            self.set_version_at(index, version);
        }
        let entry = self.at(index);
        let Some(slab) = entry.slab_index() else {
            let mut value = T::from_inline(entry.packed_form()?);
            let result = f(&mut value);
            value.settle(&limits);
            self.store_back(index, value.into_collection());
            return Some(result);
        };
        let collection = &mut self.collections[slab];
        let before = collection.heap_size();
        let value = T::of_mut(collection)?;
        let result = f(value);
        value.settle(&limits);
        let (after, empty) = (collection.heap_size(), collection.is_empty());
        self.account(after as isize - before as isize);
        if empty {
            self.delete_at(index);
        }
        Some(result)
    }

    /// Puts `collection`, the changed value of the inline entry at
    /// `index`, back: inline while its form fits, boxed otherwise; removes
    /// the key when it is empty.
    fn store_back(&mut self, index: usize, collection: Collection) {
        if collection.is_empty() {
            self.delete_at(index);
            return;
        }
        let entry = self.at(index);
        let (rebuilt, boxed) = match collection.inline_form().filter(Form::fits) {
            Some(form) => (entry.repacked(form.parts()), None),
            None => {
                let slot = self.collections.vacant_key() as u32;
                (entry.boxed(slot), Some(collection))
            }
        };
        if let Some(collection) = boxed {
            self.account(collection.heap_size() as isize);
            self.collections.insert(collection);
        }
        let size = rebuilt.heap_size() as isize;
        let old = std::mem::replace(self.at_mut(index), rebuilt);
        self.account(size - old.heap_size() as isize);
    }

    /// Runs `f` on the hash at `index` (None if it is not a hash); see
    /// [`Shard::with_mut`].
    pub fn with_hash_mut<R>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut HashValue) -> R,
    ) -> Option<R> {
        self.with_mut(index, f)
    }

    /// Removes the entry at `index` and returns its value and expiry.
    pub fn remove_at(&mut self, index: usize) -> (OwnedValue, Option<u64>) {
        let Garbage::Value(entry, boxed) = self.delete_at(index) else {
            unreachable!("delete_at returns one value");
        };
        let value = match (boxed, unpacked(&entry)) {
            (Some(Boxed::Collection(collection)), _) | (None, Some(collection)) => {
                OwnedValue::Collection(collection)
            }
            (Some(Boxed::Str(grown)), _) => OwnedValue::Str(grown.into_vec()),
            (None, None) => OwnedValue::Str(entry.payload().to_vec()),
        };
        (value, entry.expire_at())
    }

    /// The entry for `collection` under `key`: inline while its form
    /// fits, else boxed into the slab (and counted).
    pub(super) fn collection_entry(
        &mut self,
        key: &[u8],
        collection: Collection,
        expire_at: Option<u64>,
        access: u32,
    ) -> Entry {
        let kind = collection.kind();
        if let Some(form) = collection.inline_form().filter(Form::fits) {
            return Entry::packed(kind, key, form.parts(), expire_at, access);
        }
        self.account(collection.heap_size() as isize);
        let slab = self.collections.insert(collection);
        Entry::collection(kind, key, slab as u32, expire_at, access)
    }

    /// Creates an empty collection of type `T` under `key` (known absent)
    /// and returns its index. The caller fills it through `with_mut`, which
    /// removes it again if it stays empty.
    pub fn insert_empty<T: CollectionType>(&mut self, hash: u64, key: &[u8], access: u32) -> usize {
        let value = OwnedValue::Collection(T::default().into_collection());
        // Known absent: no stale entry to expire, whatever the time.
        self.put(hash, key, value, None, access, 0)
    }
}
