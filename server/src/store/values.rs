//! The two views of a stored value: as its shard hands it out
//! ([`ValueRef`]) and owned, taken out or about to be put in
//! ([`OwnedValue`]).

use std::borrow::Cow;

use super::collection::Collection;
use super::entry::Kind;
use super::hash_value::HashValue;
use super::list_value::ListValue;
use super::set_value::SetValue;
use super::sorted_set::SortedSet;

/// A value as the store hands it out: borrowed, or for a small collection
/// held inline in its entry, decoded from it.
#[derive(Debug, Clone)]
pub enum ValueRef<'a> {
    /// A string.
    Str(&'a [u8]),
    /// A hash.
    Hash(Cow<'a, HashValue>),
    /// A list.
    List(Cow<'a, ListValue>),
    /// A set.
    Set(Cow<'a, SetValue>),
    /// A sorted set.
    ZSet(Cow<'a, SortedSet>),
}

impl<'a> ValueRef<'a> {
    pub(super) fn of(collection: Cow<'a, Collection>) -> Self {
        match collection {
            Cow::Borrowed(Collection::Hash(v)) => ValueRef::Hash(Cow::Borrowed(v)),
            Cow::Borrowed(Collection::List(v)) => ValueRef::List(Cow::Borrowed(v)),
            Cow::Borrowed(Collection::Set(v)) => ValueRef::Set(Cow::Borrowed(v)),
            Cow::Borrowed(Collection::ZSet(v)) => ValueRef::ZSet(Cow::Borrowed(v)),
            Cow::Owned(Collection::Hash(v)) => ValueRef::Hash(Cow::Owned(v)),
            Cow::Owned(Collection::List(v)) => ValueRef::List(Cow::Owned(v)),
            Cow::Owned(Collection::Set(v)) => ValueRef::Set(Cow::Owned(v)),
            Cow::Owned(Collection::ZSet(v)) => ValueRef::ZSet(Cow::Owned(v)),
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
    pub fn kind(&self) -> Kind {
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
            ValueRef::Hash(v) => OwnedValue::Collection(Collection::Hash(v.into_owned())),
            ValueRef::List(v) => OwnedValue::Collection(Collection::List(v.into_owned())),
            ValueRef::Set(v) => OwnedValue::Collection(Collection::Set(v.into_owned())),
            ValueRef::ZSet(v) => OwnedValue::Collection(Collection::ZSet(v.into_owned())),
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
