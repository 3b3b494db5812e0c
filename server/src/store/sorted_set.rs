//! The value of a sorted-set key: members with scores, ordered by score
//! then member bytes, that know their own heap size.

use std::collections::BTreeSet;

use hashbrown::HashMap;

use super::encoding::EncodingLimits;

/// Per-member bookkeeping beyond its bytes (two boxed copies, the map slot
/// and the tree node's share).
const MEMBER_OVERHEAD: usize = 64;

/// A score with the total order sorted sets use (scores are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sorted-set value.
#[derive(Debug, Default, Clone)]
pub struct SortedSet {
    scores: HashMap<Box<[u8]>, f64>,
    order: BTreeSet<(Score, Box<[u8]>)>,
    bytes: usize,
}

impl PartialEq for SortedSet {
    fn eq(&self, other: &Self) -> bool {
        self.scores == other.scores
    }
}
impl Eq for SortedSet {}

impl SortedSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// True without members.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.bytes + 64
    }

    /// The encoding Redis would report.
    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }

    /// Re-encodes past the thresholds (one encoding so far).
    pub fn settle(&mut self, _limits: &EncodingLimits) {}

    /// Sets `member`'s score (never NaN); true if the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        debug_assert!(!score.is_nan(), "sorted-set scores are never NaN");
        if let Some(old) = self.scores.get_mut(member) {
            let before = Score(*old);
            *old = score;
            let key = self.order.take(&(before, member.into()));
            if let Some((_, member)) = key {
                self.order.insert((Score(score), member));
            }
            return false;
        }
        self.bytes += 2 * member.len() + MEMBER_OVERHEAD;
        self.scores.insert(member.into(), score);
        self.order.insert((Score(score), member.into()));
        true
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let Some(score) = self.scores.remove(member) else {
            return false;
        };
        self.order.remove(&(Score(score), member.into()));
        self.bytes -= 2 * member.len() + MEMBER_OVERHEAD;
        true
    }

    /// `member`'s score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Members and scores, lowest score first (ties by member bytes).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], f64)> + DoubleEndedIterator {
        self.order
            .iter()
            .map(|(score, member)| (&member[..], score.0))
    }
}
