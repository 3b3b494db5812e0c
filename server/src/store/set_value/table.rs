//! The full encoding of a large set (Redis's "hashtable"): members in a
//! hash table with bucket access, so a random member is a few probes away
//! (SPOP, SRANDMEMBER) and SSCAN resumes from a bucket position.

use std::hash::BuildHasher;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};

use crate::store::buckets;
use crate::store::memory::allocation_size;

/// See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Table {
    members: HashTable<Box<[u8]>>,
    hasher: DefaultHashBuilder,
    /// Heap bytes of the members' own allocations.
    member_bytes: usize,
    /// Changes whenever members may have moved to other buckets (a rehash
    /// on insert, a shrink), so an SSCAN cursor from before can tell.
    layout: u16,
}

impl Table {
    /// An empty table with room for `capacity` members.
    pub fn with_capacity(capacity: usize) -> Table {
        Table {
            members: HashTable::with_capacity(capacity),
            ..Table::default()
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Heap bytes: the table's buckets and control bytes, and each member.
    pub fn heap_size(&self) -> usize {
        let buckets = if self.members.capacity() == 0 {
            0
        } else {
            let n = self.members.num_buckets();
            // A slot per bucket, a control byte per bucket plus a group.
            allocation_size(n * std::mem::size_of::<Box<[u8]>>() + n + 16)
        };
        buckets + self.member_bytes + allocation_size(std::mem::size_of::<Table>())
    }

    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    /// True if `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.members
            .find(self.hash(member), |m| &m[..] == member)
            .is_some()
    }

    /// Adds `member`; true if it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        let hash = self.hash(member);
        buckets::before_insert(&self.members, &mut self.layout);
        let hasher = &self.hasher;
        let entry = self
            .members
            .entry(hash, |m| &m[..] == member, |m| hasher.hash_one(&m[..]));
        let Entry::Vacant(vacant) = entry else {
            return false;
        };
        vacant.insert(member.into());
        self.member_bytes += allocation_size(member.len());
        true
    }

    /// Removes `member`; true if it was there. A table left mostly empty
    /// shrinks, so random picks stay a few probes away.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let hash = self.hash(member);
        let Ok(entry) = self.members.find_entry(hash, |m| &m[..] == member) else {
            return false;
        };
        entry.remove();
        self.member_bytes -= allocation_size(member.len());
        self.maybe_shrink();
        true
    }

    fn maybe_shrink(&mut self) {
        let hasher = &self.hasher;
        buckets::shrink_sparse(&mut self.members, &mut self.layout, |m| {
            hasher.hash_one(&m[..])
        });
    }

    /// The members, in table order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + Clone {
        self.members.iter().map(|m| &m[..])
    }

    /// The members' boxes, in table order.
    pub fn raw_iter(&self) -> hashbrown::hash_table::Iter<'_, Box<[u8]>> {
        self.members.iter()
    }

    /// A member picked uniformly at random ([`buckets::random`]; `remove`
    /// keeps the table at least an eighth full).
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<&[u8]> {
        buckets::random(&self.members, rng).map(|m| &m[..])
    }

    /// Removes and returns a member picked uniformly at random (as
    /// [`Table::random`], taken out of its bucket without hashing it again).
    pub fn pop_random(&mut self, rng: &mut fastrand::Rng) -> Option<Box<[u8]>> {
        if self.members.is_empty() {
            return None;
        }
        let buckets = self.members.num_buckets();
        let member = loop {
            if let Ok(entry) = self.members.get_bucket_entry(rng.usize(..buckets)) {
                break entry.remove().0;
            }
        };
        self.member_bytes -= allocation_size(member.len());
        self.maybe_shrink();
        Some(member)
    }

    /// SSCAN's walk of the members from `cursor` on ([`buckets::scan`]).
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut visit: impl FnMut(&'a [u8])) -> u64 {
        buckets::scan(&self.members, self.layout, cursor, count, |m| visit(&m[..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_removes_and_accounts_members() {
        let mut table = Table::default();
        let empty = table.heap_size();
        for i in 0..1000u32 {
            assert!(table.insert(format!("member:{i}").as_bytes()));
        }
        assert!(!table.insert(b"member:7"));
        assert_eq!(table.len(), 1000);
        assert!(table.contains(b"member:999"));
        // Each short member takes a 16-byte allocation beside its slot.
        assert!(table.heap_size() > empty + 1000 * (16 + 16));
        for i in 0..1000u32 {
            assert!(table.remove(format!("member:{i}").as_bytes()));
        }
        assert!(!table.remove(b"member:1"));
        assert_eq!(table.len(), 0);
        assert!(
            table.heap_size() < empty + 64 * 17 + 64,
            "shrunk when emptied"
        );
    }

    #[test]
    fn random_picks_cover_every_member_evenly() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut table = Table::default();
        for i in 0..10u8 {
            table.insert(&[i]);
        }
        let mut seen = [0u32; 10];
        for _ in 0..20_000 {
            let m = table.random(&mut rng).expect("not empty");
            seen[usize::from(m[0])] += 1;
        }
        // 2000 expected each; a fair pick stays well inside these bounds.
        assert!(seen.iter().all(|&n| (1600..2400).contains(&n)), "{seen:?}");
        // Popping takes each member once, and accounts it.
        let empty = Table::default().heap_size();
        let mut popped: Vec<u8> = std::iter::from_fn(|| table.pop_random(&mut rng))
            .map(|m| m[0])
            .collect();
        popped.sort_unstable();
        assert_eq!(popped, (0..10).collect::<Vec<u8>>());
        assert_eq!((table.len(), table.member_bytes), (0, 0));
        assert!(table.heap_size() >= empty);
    }

    #[test]
    fn a_scan_survives_rehashes() {
        let mut table = Table::default();
        for i in 0..200u32 {
            table.insert(&i.to_le_bytes());
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut next = 200u32;
        for call in 0.. {
            cursor = table.scan(cursor, 7, |m| {
                seen.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
            // Grow the table between the first calls: positions change.
            if call < 20 {
                for _ in 0..50 {
                    table.insert(&next.to_le_bytes());
                    next += 1;
                }
            }
        }
        assert!((0..200u32).all(|i| seen.contains(i.to_le_bytes().as_slice())));
    }

    #[test]
    fn a_full_table_rehashed_by_adding_a_held_member_restarts_a_scan() {
        let mut table = Table::default();
        let mut i = 0u32;
        while table.len() < 200 || table.len() < table.members.capacity() {
            table.insert(format!("m{i}").as_bytes());
            i += 1;
        }
        let mut seen = std::collections::HashSet::new();
        let cursor = table.scan(0, 50, |m| {
            seen.insert(m.to_vec());
        });
        assert_ne!(cursor, 0);
        // The member is there already, yet hashbrown grows the full table.
        let buckets = table.members.num_buckets();
        assert!(!table.insert(b"m0"));
        assert!(table.members.num_buckets() > buckets);
        let mut cursor = cursor;
        while cursor != 0 {
            cursor = table.scan(cursor, 50, |m| {
                seen.insert(m.to_vec());
            });
        }
        assert_eq!(
            seen.len(),
            table.len(),
            "every member held throughout is visited"
        );
    }
}
