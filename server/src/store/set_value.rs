//! The value of a set key, in the encodings Redis 7.2 gives a set and by
//! its rules for when each applies:
//! - "intset" ([`IntSet`]): only members Redis reads as integers (the
//!   canonical decimal text of an i64), up to `set-max-intset-entries`;
//! - "listpack" (a [`Packed`] block of the members in insertion order): up
//!   to `set-max-listpack-entries` members of at most
//!   `set-max-listpack-value` bytes;
//! - "hashtable" ([`Table`]) beyond.
//!
//! Conversions happen as members are added ([`SetValue::add`], which
//! follows Redis's `setTypeAddAux`), never back, except where Redis itself
//! builds a new set (the result of a STORE, what SPOP leaves of a set when
//! it pops most of it).

mod intset;
mod random;
mod table;

use std::borrow::Cow;

use super::encoding::EncodingLimits;
use super::inline::{Form, Reader};
use super::memory::allocation_size;
use super::packed::{Items, Packed};
use intset::IntSet;
use table::Table;

/// The set's slot in the shard's slab of collections, counted in its heap
/// size (as a grown string counts its slab slot).
const SLAB_SLOT: usize = std::mem::size_of::<super::Collection>();

/// Redis caps an intset at 2^30 entries whatever the setting.
const INTSET_HARD_MAX: i64 = 1 << 30;

/// A set value.
#[derive(Debug, Clone)]
pub struct SetValue(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Ints(IntSet),
    Packed(Packed),
    Table(Box<Table>),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue(Repr::Ints(IntSet::default()))
    }
}

impl PartialEq for SetValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|m| m.with_bytes(|b| other.contains(b)))
    }
}
impl Eq for SetValue {}

/// One member as a set holds it: bytes, or an integer of an intset (whose
/// text is the member).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<'a> {
    /// A member stored as its bytes.
    Bytes(&'a [u8]),
    /// A member of an intset.
    Int(i64),
}

impl<'a> Member<'a> {
    /// Runs `f` on the member's bytes (an integer's text, formatted on the
    /// stack).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Member::Bytes(bytes) => f(bytes),
            Member::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
        }
    }

    /// The member's bytes, borrowed when the set holds them as bytes.
    pub fn into_cow(self) -> Cow<'a, [u8]> {
        match self {
            Member::Bytes(bytes) => Cow::Borrowed(bytes),
            Member::Int(n) => Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()),
        }
    }

    /// A copy of the member's bytes.
    pub fn to_vec(self) -> Vec<u8> {
        self.into_cow().into_owned()
    }
}

/// The integer Redis stores `member` as in an intset, if any.
fn as_int(member: &[u8]) -> Option<i64> {
    crate::store::number::parse_canonical(member)
}

fn listpack_max(limits: &EncodingLimits) -> usize {
    usize::try_from(limits.set_max_listpack_entries).unwrap_or(0)
}

fn value_max(limits: &EncodingLimits) -> usize {
    usize::try_from(limits.set_max_listpack_value).unwrap_or(0)
}

fn intset_max(limits: &EncodingLimits) -> usize {
    usize::try_from(limits.set_max_intset_entries.min(INTSET_HARD_MAX)).unwrap_or(0)
}

/// Length of `n`'s decimal text (Redis's `sdigits10`).
fn digits(n: i64) -> usize {
    itoa::Buffer::new().format(n).len()
}

impl SetValue {
    /// An empty set made for `hint` members, the first of which is
    /// `first` (Redis's `setTypeCreate`): an intset when `first` is an
    /// integer and the hint fits one, else a listpack when the hint fits
    /// one, else a table sized for the hint.
    pub fn fresh(first: &[u8], hint: usize, limits: &EncodingLimits) -> SetValue {
        let hint = i64::try_from(hint).unwrap_or(i64::MAX);
        if as_int(first).is_some() && hint <= limits.set_max_intset_entries {
            SetValue::default()
        } else if hint <= limits.set_max_listpack_entries {
            SetValue(Repr::Packed(Packed::default()))
        } else {
            // The hint counts arguments, and a client picks it: cap the
            // room made in advance.
            let room = usize::try_from(hint).unwrap_or(0).min(1 << 16);
            SetValue(Repr::Table(Box::new(Table::with_capacity(room))))
        }
    }

    /// Converts to a table ahead of adding `hint` members when they could
    /// not fit the compact encoding (Redis's `setTypeMaybeConvert`).
    pub fn reserve(&mut self, hint: usize, limits: &EncodingLimits) {
        let hint = i64::try_from(hint).unwrap_or(i64::MAX);
        let over = match &self.0 {
            Repr::Packed(_) => hint > limits.set_max_listpack_entries,
            Repr::Ints(_) => hint > limits.set_max_intset_entries,
            Repr::Table(_) => false,
        };
        if over {
            let room = usize::try_from(hint).unwrap_or(0).min(1 << 16);
            self.convert_to_table(room);
        }
    }

    /// A set of `members`, added in order from an empty intset (the result
    /// of SINTERSTORE, SUNIONSTORE and SDIFFSTORE).
    pub fn build<'m>(members: impl IntoIterator<Item = &'m [u8]>, limits: &EncodingLimits) -> Self {
        let mut set = SetValue::default();
        for member in members {
            set.add(member, limits);
        }
        set
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Ints(s) => s.len(),
            Repr::Packed(p) => p.len(),
            Repr::Table(t) => t.len(),
        }
    }

    /// True without members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes, as the allocator hands them out, with the set's slab
    /// slot.
    pub fn heap_size(&self) -> usize {
        SLAB_SLOT
            + match &self.0 {
                Repr::Ints(s) => s.heap_size(),
                Repr::Packed(p) => allocation_size(p.heap_size()),
                Repr::Table(t) => t.heap_size(),
            }
    }

    /// The inline form of an intset or a listpack (see `inline`): a tag,
    /// the listpack's length, the block; `None` for a table.
    pub fn inline_form(&self) -> Option<Form<'_>> {
        match &self.0 {
            Repr::Ints(s) => Some(Form::new(s.block()).byte(0)),
            Repr::Packed(p) => Some(Form::new(p.block()).byte(1).varint(p.len())),
            Repr::Table(_) => None,
        }
    }

    /// The set an inline form holds.
    pub fn from_inline(form: &[u8]) -> SetValue {
        let mut reader = Reader::new(form);
        if reader.byte() == 0 {
            return SetValue(Repr::Ints(IntSet::from_block(reader.block())));
        }
        let len = reader.varint();
        SetValue(Repr::Packed(Packed::from_block(reader.block(), len)))
    }

    /// The encoding Redis would report.
    pub fn encoding(&self) -> &'static str {
        match &self.0 {
            Repr::Ints(_) => "intset",
            Repr::Packed(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Nothing to do: [`SetValue::add`] converts as members arrive, and
    /// removals never convert, as in Redis (a lowered threshold applies
    /// from the next add).
    pub fn settle(&mut self, _limits: &EncodingLimits) {}

    /// Re-encodes as a table with room for `room` members.
    fn convert_to_table(&mut self, room: usize) {
        let mut table = Table::with_capacity(room.max(self.len()));
        for member in self.iter() {
            member.with_bytes(|m| table.insert(m));
        }
        self.0 = Repr::Table(Box::new(table));
    }

    /// Adds `member` with the thresholds `limits`, converting as Redis's
    /// `setTypeAddAux` does; true if it is new.
    pub fn add(&mut self, member: &[u8], limits: &EncodingLimits) -> bool {
        match &mut self.0 {
            Repr::Table(t) => t.insert(member),
            Repr::Packed(p) => {
                if p.position(member).is_some() {
                    return false;
                }
                if p.len() < listpack_max(limits) && member.len() <= value_max(limits) {
                    p.push_back(member);
                } else {
                    let room = p.len() + 1;
                    self.convert_to_table(room);
                    self.add(member, limits);
                }
                true
            }
            Repr::Ints(s) => match as_int(member) {
                Some(n) => {
                    if !s.insert(n) {
                        return false;
                    }
                    let len = s.len();
                    if len > intset_max(limits) {
                        self.convert_to_table(len);
                    }
                    true
                }
                None => {
                    let longest = s.bounds().map_or(0, |(lo, hi)| digits(lo).max(digits(hi)));
                    let fits = s.len() < listpack_max(limits)
                        && member.len() <= value_max(limits)
                        && longest <= value_max(limits);
                    if fits {
                        let texts: Vec<Vec<u8>> =
                            s.iter().map(|n| Member::Int(n).to_vec()).collect();
                        let mut packed: Packed = texts.iter().map(Vec::as_slice).collect();
                        packed.push_back(member);
                        self.0 = Repr::Packed(packed);
                    } else {
                        let room = s.len() + 1;
                        self.convert_to_table(room);
                        self.add(member, limits);
                    }
                    true
                }
            },
        }
    }

    /// Adds `member` with Redis's default thresholds (building a value
    /// decoded from the node wire); true if it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        self.add(member, &EncodingLimits::default())
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Ints(s) => as_int(member).is_some_and(|n| s.remove(n)),
            Repr::Packed(p) => match p.position(member) {
                Some(at) => {
                    p.remove(at);
                    true
                }
                None => false,
            },
            Repr::Table(t) => t.remove(member),
        }
    }

    /// True if `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.0 {
            Repr::Ints(s) => as_int(member).is_some_and(|n| s.contains(n)),
            Repr::Packed(p) => p.position(member).is_some(),
            Repr::Table(t) => t.contains(member),
        }
    }

    /// The members: ascending for an intset, in insertion order for a
    /// listpack, in table order for a table.
    pub fn iter(&self) -> Members<'_> {
        Members(match &self.0 {
            Repr::Ints(s) => Inner::Ints(s, 0..s.len()),
            Repr::Packed(p) => Inner::Packed(p.iter()),
            Repr::Table(t) => Inner::Table(t.raw_iter()),
        })
    }

    /// SSCAN: visits members from `cursor` on (about `count` of them) and
    /// returns the next cursor, 0 at the end. A compact set is visited
    /// whole in one call, whatever the cursor, as Redis does.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut visit: impl FnMut(Member<'a>)) -> u64 {
        match &self.0 {
            Repr::Table(t) => t.scan(cursor, count, |m| visit(Member::Bytes(m))),
            _ => {
                self.iter().for_each(visit);
                0
            }
        }
    }
}

/// The members of a [`SetValue`] (see [`SetValue::iter`]).
#[derive(Debug, Clone)]
pub struct Members<'a>(Inner<'a>);

#[derive(Debug, Clone)]
enum Inner<'a> {
    Ints(&'a IntSet, std::ops::Range<usize>),
    Packed(Items<'a>),
    Table(hashbrown::hash_table::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Members<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match &mut self.0 {
            Inner::Ints(s, range) => range.next().map(|i| Member::Int(s.get(i))),
            Inner::Packed(items) => items.next().map(Member::Bytes),
            Inner::Table(iter) => iter.next().map(|m| Member::Bytes(m)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            Inner::Ints(_, range) => range.size_hint(),
            Inner::Packed(items) => items.size_hint(),
            Inner::Table(iter) => iter.size_hint(),
        }
    }
}

impl ExactSizeIterator for Members<'_> {}

#[cfg(test)]
mod tests;
