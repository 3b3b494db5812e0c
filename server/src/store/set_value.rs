//! The value of a set key: distinct byte-string members that know their
//! own heap size.

use hashbrown::HashSet;

use super::encoding::EncodingLimits;

/// Per-member bookkeeping beyond its bytes (the boxed slice and the table
/// slot).
const MEMBER_OVERHEAD: usize = 32;

/// A set value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SetValue {
    members: HashSet<Box<[u8]>>,
    bytes: usize,
}

impl SetValue {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True without members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.bytes + 64
    }

    /// The encoding Redis would report.
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }

    /// Re-encodes past the thresholds (one encoding so far).
    pub fn settle(&mut self, _limits: &EncodingLimits) {}

    /// Adds `member`; true if it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if self.members.contains(member) {
            return false;
        }
        self.bytes += member.len() + MEMBER_OVERHEAD;
        self.members.insert(member.into())
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let removed = self.members.remove(member);
        if removed {
            self.bytes -= member.len() + MEMBER_OVERHEAD;
        }
        removed
    }

    /// True if `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.members.contains(member)
    }

    /// The members, in no particular order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.members.iter().map(|m| &m[..])
    }
}
