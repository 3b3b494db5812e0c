//! The collection values (hashes, lists, sets, sorted sets): one enum
//! that the shard's slab holds for the boxed ones (and that small ones are
//! decoded into from their entry, see `inline`), and the trait through
//! which a command reaches its own type of value and nothing else.

use super::encoding::EncodingLimits;
use super::entry::Kind;
use super::hash_value::HashValue;
use super::inline::Form;
use super::list_value::ListValue;
use super::set_value::SetValue;
use super::sorted_set::SortedSet;

/// A collection value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collection {
    /// A hash.
    Hash(HashValue),
    /// A list.
    List(ListValue),
    /// A set.
    Set(SetValue),
    /// A sorted set.
    ZSet(SortedSet),
}

impl Collection {
    /// Its type.
    pub fn kind(&self) -> Kind {
        match self {
            Collection::Hash(_) => Kind::Hash,
            Collection::List(_) => Kind::List,
            Collection::Set(_) => Kind::Set,
            Collection::ZSet(_) => Kind::ZSet,
        }
    }

    /// Number of fields, elements or members.
    pub fn len(&self) -> usize {
        match self {
            Collection::Hash(v) => v.len(),
            Collection::List(v) => v.len(),
            Collection::Set(v) => v.len(),
            Collection::ZSet(v) => v.len(),
        }
    }

    /// True when it holds nothing (the shard then removes its key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes it takes, close to what the allocator handed out.
    pub fn heap_size(&self) -> usize {
        match self {
            Collection::Hash(v) => v.heap_size(),
            Collection::List(v) => v.heap_size(),
            Collection::Set(v) => v.heap_size(),
            Collection::ZSet(v) => v.heap_size(),
        }
    }

    /// The encoding OBJECT ENCODING reports, in Redis's words.
    pub fn encoding(&self) -> &'static str {
        match self {
            Collection::Hash(v) => v.encoding(),
            Collection::List(v) => v.encoding(),
            Collection::Set(v) => v.encoding(),
            Collection::ZSet(v) => v.encoding(),
        }
    }

    /// The value's inline form, when it is in a compact encoding.
    pub fn inline_form(&self) -> Option<Form<'_>> {
        match self {
            Collection::Hash(v) => v.inline_form(),
            Collection::List(v) => v.inline_form(),
            Collection::Set(v) => v.inline_form(),
            Collection::ZSet(v) => v.inline_form(),
        }
    }

    /// The collection of kind `kind` an inline form holds; `None` for a
    /// string.
    pub fn from_inline(kind: Kind, form: &[u8]) -> Option<Collection> {
        Some(match kind {
            Kind::String => return None,
            Kind::Hash => Collection::Hash(HashValue::from_inline(form)),
            Kind::List => Collection::List(ListValue::from_inline(form)),
            Kind::Set => Collection::Set(SetValue::from_inline(form)),
            Kind::ZSet => Collection::ZSet(SortedSet::from_inline(form)),
        })
    }

    /// Re-encodes the value after a write that took it past a threshold.
    pub fn settle(&mut self, limits: &EncodingLimits) {
        match self {
            Collection::Hash(v) => v.settle(limits),
            Collection::List(v) => v.settle(limits),
            Collection::Set(v) => v.settle(limits),
            Collection::ZSet(v) => v.settle(limits),
        }
    }
}

/// One type of collection, as a command that works on it sees it.
pub trait CollectionType: Default + Clone + Sized {
    /// The kind of entry that holds it.
    const KIND: Kind;
    /// The value, if `collection` is of this type.
    fn of(collection: &Collection) -> Option<&Self>;
    /// The value, mutably, if `collection` is of this type.
    fn of_mut(collection: &mut Collection) -> Option<&mut Self>;
    /// Wrapped for the slab.
    fn into_collection(self) -> Collection;
    /// The value an inline form of this type holds.
    fn from_inline(form: &[u8]) -> Self;
    /// Re-encodes after a write that took the value past a threshold (the
    /// shard calls it after every write through `Shard::with_mut`).
    fn settle(&mut self, limits: &EncodingLimits);
}

macro_rules! collection_type {
    ($type:ty, $variant:ident) => {
        impl CollectionType for $type {
            const KIND: Kind = Kind::$variant;

            fn of(collection: &Collection) -> Option<&Self> {
                match collection {
                    Collection::$variant(value) => Some(value),
                    _ => None,
                }
            }

            fn of_mut(collection: &mut Collection) -> Option<&mut Self> {
                match collection {
                    Collection::$variant(value) => Some(value),
                    _ => None,
                }
            }

            fn into_collection(self) -> Collection {
                Collection::$variant(self)
            }

            fn from_inline(form: &[u8]) -> Self {
                <$type>::from_inline(form)
            }

            fn settle(&mut self, limits: &EncodingLimits) {
                <$type>::settle(self, limits)
            }
        }
    };
}

collection_type!(HashValue, Hash);
collection_type!(ListValue, List);
collection_type!(SetValue, Set);
collection_type!(SortedSet, ZSet);
