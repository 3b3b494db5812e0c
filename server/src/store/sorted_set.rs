//! The value of a sorted-set key: members with scores, ordered by score
//! then member bytes, in one of Redis's two encodings: "listpack" (pairs
//! in one compact block, [`listpack`]) while the set is small, "skiplist"
//! (a skip list with spans and a member index, [`skiplist`]) past
//! `zset-max-listpack-entries` members or a member longer than
//! `zset-max-listpack-value` bytes.
//!
//! Everything a command needs is expressed with ranks: the number of
//! leading members that satisfy a bound ([`SortedSet::count_while`]), a
//! walk from a rank, and the removal of a range of ranks. Both encodings
//! answer those, the skip list in O(log n).

mod listpack;
mod skiplist;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;

use super::collection::Collection;
use super::encoding::EncodingLimits;
use super::inline::{Form, Reader};
use super::packed::Packed;
use listpack::{Listpack, Pairs};
use skiplist::{SkipList, Walk};

/// The order of a sorted set: by score (scores are never NaN, and -0
/// equals 0 as in Redis), then by member bytes.
pub fn order(score: f64, member: &[u8], other_score: f64, other: &[u8]) -> Ordering {
    if score < other_score {
        Ordering::Less
    } else if score > other_score {
        Ordering::Greater
    } else {
        member.cmp(other)
    }
}

/// The bytes the allocator (jemalloc) hands out for a request of `n`:
/// its size classes are 8, 16, 32, 48, 64, then four per doubling.
pub(crate) fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=16 => 16,
        17..=32 => 32,
        33..=64 => n.div_ceil(16) * 16,
        _ => {
            let top = usize::BITS - 1 - (n - 1).leading_zeros();
            let step = 1usize << (top - 2);
            n.div_ceil(step) * step
        }
    }
}

#[derive(Debug, Clone)]
enum Encoding {
    Packed(Listpack),
    Skip(Box<SkipList>),
}

/// A sorted-set value.
#[derive(Debug, Clone)]
pub struct SortedSet {
    encoding: Encoding,
}

impl Default for SortedSet {
    fn default() -> Self {
        SortedSet {
            encoding: Encoding::Packed(Listpack::default()),
        }
    }
}

impl PartialEq for SortedSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
impl Eq for SortedSet {}

impl SortedSet {
    /// The order of members: by score (-0 equals 0), then by bytes.
    pub fn order(score: f64, member: &[u8], other_score: f64, other: &[u8]) -> Ordering {
        order(score, member, other_score, other)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.encoding {
            Encoding::Packed(p) => p.len(),
            Encoding::Skip(s) => s.len(),
        }
    }

    /// True without members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes, close to what the allocator hands out (the value's slot
    /// in the shard's collection slab included).
    pub fn heap_size(&self) -> usize {
        let slot = std::mem::size_of::<Collection>();
        slot + match &self.encoding {
            Encoding::Packed(p) => alloc_size(p.block_len()),
            Encoding::Skip(s) => s.heap_size(),
        }
    }

    /// The inline form of a listpack (see `inline`): its item count and
    /// its block; `None` for a skip list.
    pub fn inline_form(&self) -> Option<Form<'_>> {
        match &self.encoding {
            Encoding::Packed(p) => Some(Form::new(p.items().block()).varint(p.items().len())),
            Encoding::Skip(_) => None,
        }
    }

    /// The sorted set an inline form holds.
    pub fn from_inline(form: &[u8]) -> SortedSet {
        let mut reader = Reader::new(form);
        let len = reader.varint();
        let items = Packed::from_block(reader.block(), len);
        SortedSet {
            encoding: Encoding::Packed(Listpack::from_items(items)),
        }
    }

    /// The encoding Redis would report.
    pub fn encoding(&self) -> &'static str {
        match self.encoding {
            Encoding::Packed(_) => "listpack",
            Encoding::Skip(_) => "skiplist",
        }
    }

    /// Nothing to do after a write: a compact set converts in [`add`]
    /// (before the member that would take it past a threshold goes in), as
    /// Redis's `zsetAdd` does, and never converts back on writes.
    ///
    /// [`add`]: SortedSet::add
    pub fn settle(&mut self, _limits: &EncodingLimits) {}

    /// Sets `member`'s score (never NaN) as ZADD does; true if the member
    /// is new. A new member that would take a compact set past
    /// `zset-max-listpack-entries`, or that is longer than
    /// `zset-max-listpack-value`, converts it to a skip list first; a score
    /// update never converts.
    pub fn add(&mut self, member: &[u8], score: f64, limits: &EncodingLimits) -> bool {
        if let Encoding::Packed(packed) = &self.encoding {
            let grows = packed.len() as i64 + 1 > limits.zset_max_listpack_entries
                || member.len() as i64 > limits.zset_max_listpack_value;
            if grows && packed.score(member).is_none() {
                self.convert_to_skiplist();
            }
        }
        self.insert(member, score)
    }

    /// True if the set may be stored compactly under `limits`.
    pub fn fits_listpack(&self, limits: &EncodingLimits) -> bool {
        let longest = limits.zset_max_listpack_value.max(0) as usize;
        self.len() as i64 <= limits.zset_max_listpack_entries
            && self.iter().all(|(m, _)| m.len() <= longest)
    }

    /// Picks the encoding by size, as Redis does for the sets that
    /// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE and ZRANGESTORE build: the
    /// compact one whenever the set fits it.
    pub fn fit_encoding(&mut self, limits: &EncodingLimits) {
        let fits = self.fits_listpack(limits);
        match &self.encoding {
            Encoding::Skip(s) if fits => {
                self.encoding = Encoding::Packed(Listpack::from_sorted(s.iter()));
            }
            Encoding::Packed(_) if !fits => self.convert_to_skiplist(),
            _ => {}
        }
    }

    fn convert_to_skiplist(&mut self) {
        if let Encoding::Packed(packed) = &self.encoding {
            let mut list = SkipList::default();
            for (member, score) in packed.iter() {
                list.insert(member, score);
            }
            self.encoding = Encoding::Skip(Box::new(list));
        }
    }

    /// A set of `pairs` (a repeated member keeps its last score) in the
    /// encoding Redis's default thresholds give its size: what a replica or
    /// a slot import builds.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], f64)>) -> SortedSet {
        let mut list = SkipList::default();
        for (member, score) in pairs {
            list.insert(member, score);
        }
        let mut set = SortedSet {
            encoding: Encoding::Skip(Box::new(list)),
        };
        set.fit_encoding(&EncodingLimits::default());
        set
    }

    /// Sets `member`'s score (never NaN) in the encoding the set has (the
    /// builders' form; commands use [`SortedSet::add`]); true if the
    /// member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        debug_assert!(!score.is_nan(), "sorted-set scores are never NaN");
        match &mut self.encoding {
            Encoding::Packed(p) => p.insert(member, score),
            Encoding::Skip(s) => s.insert(member, score),
        }
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.encoding {
            Encoding::Packed(p) => p.remove(member).is_some(),
            Encoding::Skip(s) => s.remove(member).is_some(),
        }
    }

    /// `member`'s score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.encoding {
            Encoding::Packed(p) => p.score(member),
            Encoding::Skip(s) => s.score(member),
        }
    }

    /// The 0-based rank of `member` (lowest score first) and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.encoding {
            Encoding::Packed(p) => p.rank(member),
            Encoding::Skip(s) => s.rank(member),
        }
    }

    /// The number of leading members (lowest first) for which
    /// `below(score, member)` holds. `below` must hold for a prefix of the
    /// order and then never again (e.g. "score < min"), so this is the
    /// rank where a range starts or ends.
    pub fn count_while(&self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.encoding {
            Encoding::Packed(p) => p.count_while(below),
            Encoding::Skip(s) => s.count_while(below),
        }
    }

    /// Members and scores from 0-based `rank` on: towards higher scores
    /// when `forward`, towards lower ones otherwise.
    pub fn walk(&self, rank: usize, forward: bool) -> Iter<'_> {
        let len = self.len();
        if rank >= len {
            return Iter {
                inner: Inner::Done,
                left: 0,
            };
        }
        let left = if forward { len - rank } else { rank + 1 };
        let inner = match (&self.encoding, forward) {
            (Encoding::Packed(p), true) => {
                let mut pairs = p.iter();
                if rank > 0 {
                    pairs.nth(rank - 1);
                }
                Inner::Packed(pairs)
            }
            (Encoding::Packed(p), false) => {
                let mut head: Vec<(&[u8], f64)> = p.iter().take(rank + 1).collect();
                head.reverse();
                Inner::Reversed(head.into_iter())
            }
            (Encoding::Skip(s), forward) => Inner::Skip(s.walk(rank, forward)),
        };
        Iter { inner, left }
    }

    /// The member and score at 0-based `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.walk(rank, true).next()
    }

    /// Removes the members of 0-based ranks `from..to` (clamped to the
    /// length), handing each to `sink`, lowest first.
    pub fn remove_ranks(&mut self, from: usize, to: usize, sink: impl FnMut(Box<[u8]>, f64)) {
        match &mut self.encoding {
            Encoding::Packed(p) => p.remove_ranks(from, to, sink),
            Encoding::Skip(s) => s.remove_ranks(from, to, sink),
        }
    }

    /// Members and scores, lowest score first (ties by member bytes).
    pub fn iter(&self) -> Iter<'_> {
        self.walk(0, true)
    }

    /// ZSCAN: visits members and scores from `cursor` on (about `count`
    /// of them) and returns the next cursor, 0 at the end. A listpack is
    /// visited whole in one call, whatever the cursor, as Redis does.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], f64),
    ) -> u64 {
        match &self.encoding {
            Encoding::Skip(s) => s.scan(cursor, count, visit),
            Encoding::Packed(_) => {
                self.iter().for_each(|(member, score)| visit(member, score));
                0
            }
        }
    }
}

/// Members and scores of a [`SortedSet`] in order (or reverse order).
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    inner: Inner<'a>,
    left: usize,
}

#[derive(Debug, Clone)]
enum Inner<'a> {
    Done,
    Packed(Pairs<'a>),
    Reversed(std::vec::IntoIter<(&'a [u8], f64)>),
    Skip(Walk<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match &mut self.inner {
            Inner::Done => None,
            Inner::Packed(p) => p.next(),
            Inner::Reversed(r) => r.next(),
            Inner::Skip(s) => s.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}
