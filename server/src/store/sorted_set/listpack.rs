//! The small sorted-set encoding ("listpack" in Redis's words): member and
//! score pairs in one [`Packed`] block, ordered by score then member bytes.
//! Every operation is a scan, which is what Redis does too while a set is
//! under `zset-max-listpack-entries`.
//!
//! A score is stored in as few bytes as it needs: an integral score below
//! 2^53 as a zigzag integer of 0 to 7 bytes (a small integer takes one),
//! any other as the 8 bytes of the double. Like Redis's listpack, which
//! keeps integral scores as integers, it stores -0 as 0.

use std::cmp::Ordering;

use super::order;
use crate::store::packed::{Items, Packed};

/// Integral scores smaller than this in magnitude are stored as integers.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// Writes `score`'s stored form into `buf`; returns its length.
fn encode_score(score: f64, buf: &mut [u8; 8]) -> usize {
    if score.fract() == 0.0 && score.abs() < EXACT {
        let n = score as i64;
        let zigzag = ((n << 1) ^ (n >> 63)) as u64;
        let len = (64 - zigzag.leading_zeros() as usize).div_ceil(8);
        buf[..len].copy_from_slice(&zigzag.to_le_bytes()[..len]);
        return len;
    }
    *buf = score.to_bits().to_le_bytes();
    8
}

/// Reads a score written by [`encode_score`].
fn decode_score(bytes: &[u8]) -> f64 {
    let mut word = [0u8; 8];
    let len = bytes.len().min(8);
    word[..len].copy_from_slice(&bytes[..len]);
    let bits = u64::from_le_bytes(word);
    if bytes.len() == 8 {
        return f64::from_bits(bits);
    }
    let n = ((bits >> 1) as i64) ^ -((bits & 1) as i64);
    n as f64
}

/// See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Listpack {
    items: Packed,
}

impl Listpack {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.items.len() / 2
    }

    /// Bytes of the block.
    pub fn block_len(&self) -> usize {
        self.items.heap_size()
    }

    /// The pairs, a member then its score, as one packed sequence.
    pub fn items(&self) -> &Packed {
        &self.items
    }

    /// The listpack holding `items` (a copy of what [`Listpack::items`]
    /// gave).
    pub fn from_items(items: Packed) -> Listpack {
        Listpack { items }
    }

    /// Members and scores, lowest first.
    pub fn iter(&self) -> Pairs<'_> {
        Pairs {
            items: self.items.iter(),
        }
    }

    /// The pair index and score of `member`.
    fn find(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.iter()
            .enumerate()
            .find(|(_, (m, _))| *m == member)
            .map(|(i, (_, score))| (i, score))
    }

    /// `member`'s score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|(_, score)| score)
    }

    /// Sets `member`'s score; true if the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let found = self.find(member);
        if let Some((at, old)) = found {
            if old == score {
                return false;
            }
            self.items.remove_range(2 * at, 2 * at + 2);
        }
        let at = self.count_while(|s, m| order(s, m, score, member) == Ordering::Less);
        let mut buf = [0u8; 8];
        let len = encode_score(score, &mut buf);
        self.items.insert_all(2 * at, &[member, &buf[..len]]);
        found.is_none()
    }

    /// Removes `member`; its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (at, score) = self.find(member)?;
        self.items.remove_range(2 * at, 2 * at + 2);
        Some(score)
    }

    /// The number of leading members for which `below` holds.
    pub fn count_while(&self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.iter().take_while(|&(m, s)| below(s, m)).count()
    }

    /// The 0-based rank of `member` and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.find(member)
    }

    /// Removes the members of ranks `from..to`, handing each to `sink`.
    pub fn remove_ranks(&mut self, from: usize, to: usize, mut sink: impl FnMut(Box<[u8]>, f64)) {
        let to = to.min(self.len());
        if from >= to {
            return;
        }
        for (member, score) in self.iter().skip(from).take(to - from) {
            sink(member.into(), score);
        }
        self.items.remove_range(2 * from, 2 * to);
    }

    /// Builds the block from pairs already in order, without duplicates.
    pub fn from_sorted<'a>(pairs: impl Iterator<Item = (&'a [u8], f64)>) -> Listpack {
        let mut scores: Vec<([u8; 8], usize)> = Vec::new();
        let mut members: Vec<&[u8]> = Vec::new();
        for (member, score) in pairs {
            let mut buf = [0u8; 8];
            let len = encode_score(score, &mut buf);
            scores.push((buf, len));
            members.push(member);
        }
        let items = members
            .iter()
            .zip(&scores)
            .flat_map(|(member, (buf, len))| [*member, &buf[..*len]])
            .collect();
        Listpack { items }
    }
}

/// The pairs of a [`Listpack`], lowest first.
#[derive(Debug, Clone)]
pub(super) struct Pairs<'a> {
    items: Items<'a>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let member = self.items.next()?;
        let score = decode_score(self.items.next()?);
        Some((member, score))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = self.items.size_hint();
        (low / 2, high.map(|h| h / 2))
    }
}

impl ExactSizeIterator for Pairs<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip_in_few_bytes() {
        let cases = [
            (0.0, 0),
            (-0.0, 0),
            (1.0, 1),
            (-1.0, 1),
            (63.0, 1),
            (64.0, 1),
            (-64.0, 1),
            (128.0, 2),
            (1e15, 7),
            (-(EXACT - 1.0), 7),
            (EXACT, 8),
            (1.5, 8),
            (f64::INFINITY, 8),
            (f64::NEG_INFINITY, 8),
            (f64::MIN_POSITIVE / 4.0, 8),
        ];
        for (score, len) in cases {
            let mut buf = [0u8; 8];
            assert_eq!(encode_score(score, &mut buf), len, "{score}");
            let back = decode_score(&buf[..len]);
            assert_eq!(back, score, "{score}");
            // -0 comes back as 0, as from Redis's listpack.
            assert!(back.is_sign_positive() || score < 0.0, "{score}");
        }
    }
}
