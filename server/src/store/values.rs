//! The two views of a stored value: borrowed from its shard
//! ([`ValueRef`]) and owned, taken out or about to be put in
//! ([`OwnedValue`]).

use super::collection::Collection;
use super::entry::Kind;
use super::hash_value::HashValue;
use super::list_value::ListValue;
use super::set_value::SetValue;
use super::sorted_set::SortedSet;

/// A value borrowed from the store.
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'a> {
    /// A string.
    Str(&'a [u8]),
    /// A hash.
    Hash(&'a HashValue),
    /// A list.
    List(&'a ListValue),
    /// A set.
    Set(&'a SetValue),
    /// A sorted set.
    ZSet(&'a SortedSet),
}

impl<'a> ValueRef<'a> {
    pub(super) fn of(collection: &'a Collection) -> Self {
        match collection {
            Collection::Hash(v) => ValueRef::Hash(v),
            Collection::List(v) => ValueRef::List(v),
            Collection::Set(v) => ValueRef::Set(v),
            Collection::ZSet(v) => ValueRef::ZSet(v),
        }
    }

    /// The bytes of a string; `None` for any other type (WRONGTYPE).
    pub fn as_str(self) -> Option<&'a [u8]> {
        match self {
            ValueRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Its type.
    pub fn kind(self) -> Kind {
        match self {
            ValueRef::Str(_) => Kind::String,
            ValueRef::Hash(_) => Kind::Hash,
            ValueRef::List(_) => Kind::List,
            ValueRef::Set(_) => Kind::Set,
            ValueRef::ZSet(_) => Kind::ZSet,
        }
    }

    /// A copy of the value to keep or ship (COPY, replication).
    pub fn to_owned_value(self) -> OwnedValue {
        match self {
            ValueRef::Str(s) => OwnedValue::Str(s.to_vec()),
            ValueRef::Hash(v) => OwnedValue::Collection(Collection::Hash(v.clone())),
            ValueRef::List(v) => OwnedValue::Collection(Collection::List(v.clone())),
            ValueRef::Set(v) => OwnedValue::Collection(Collection::Set(v.clone())),
            ValueRef::ZSet(v) => OwnedValue::Collection(Collection::ZSet(v.clone())),
        }
    }
}

/// A value taken out of (or about to be put into) the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedValue {
    /// A string.
    Str(Vec<u8>),
    /// A hash, list, set or sorted set.
    Collection(Collection),
}
