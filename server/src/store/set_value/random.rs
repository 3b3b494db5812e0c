//! Random members: SRANDMEMBER's picks (with and without repeats) and
//! SPOP's removals, uniform over the members, with Redis's strategies for
//! large counts (and the encodings they leave).

use hashbrown::HashSet;

use super::{EncodingLimits, IntSet, Member, Packed, Repr, SetValue};

/// SPOP builds a new set of the members it keeps once it pops more than
/// this many times as many members as it keeps (Redis's
/// `SPOP_MOVE_STRATEGY_MUL`).
const SPOP_MOVE_STRATEGY_MUL: usize = 5;
/// A distinct SRANDMEMBER sample of a table is drawn by random probes
/// while the table holds more than this many times the count (Redis's
/// `SRANDMEMBER_SUB_STRATEGY_MUL`); by shuffling a copy otherwise.
const SRANDMEMBER_SUB_STRATEGY_MUL: usize = 3;

/// Moves a uniform random choice of `count` items to the front of `items`
/// (a partial Fisher-Yates shuffle).
fn choose_front<T>(items: &mut [T], count: usize, rng: &mut fastrand::Rng) {
    for i in 0..count.min(items.len()) {
        let j = rng.usize(i..items.len());
        items.swap(i, j);
    }
}

impl SetValue {
    /// A member picked uniformly at random; None when empty.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<Member<'_>> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        match &self.0 {
            Repr::Ints(s) => Some(Member::Int(s.get(rng.usize(..len)))),
            Repr::Packed(p) => p.get(rng.usize(..len)).map(Member::Bytes),
            Repr::Table(t) => t.random(rng).map(Member::Bytes),
        }
    }

    /// `count` members picked uniformly and independently: repeats
    /// allowed (SRANDMEMBER with a negative count).
    pub fn sample_repeated(&self, count: usize, rng: &mut fastrand::Rng) -> Vec<Member<'_>> {
        match &self.0 {
            Repr::Packed(p) if !p.is_empty() => {
                // Index once rather than walk the block for every pick.
                let all: Vec<&[u8]> = p.iter().collect();
                (0..count)
                    .map(|_| Member::Bytes(all[rng.usize(..all.len())]))
                    .collect()
            }
            _ => (0..count).filter_map(|_| self.random(rng)).collect(),
        }
    }

    /// `count` distinct members, a uniform random choice among the subsets
    /// of that size; every member when `count` reaches the size
    /// (SRANDMEMBER with a positive count).
    pub fn sample_distinct(&self, count: usize, rng: &mut fastrand::Rng) -> Vec<Member<'_>> {
        let len = self.len();
        if count >= len {
            return self.iter().collect();
        }
        match &self.0 {
            Repr::Table(t) if count.saturating_mul(SRANDMEMBER_SUB_STRATEGY_MUL) <= len => {
                let mut picked: HashSet<&[u8]> = HashSet::with_capacity(count);
                while picked.len() < count {
                    if let Some(member) = t.random(rng) {
                        picked.insert(member);
                    }
                }
                picked.into_iter().map(Member::Bytes).collect()
            }
            _ => {
                let mut all: Vec<Member<'_>> = self.iter().collect();
                choose_front(&mut all, count, rng);
                all.truncate(count);
                all
            }
        }
    }

    /// Removes and returns a member picked uniformly; None when empty.
    pub fn pop(&mut self, rng: &mut fastrand::Rng) -> Option<Vec<u8>> {
        if let Repr::Table(table) = &mut self.0 {
            return table.pop_random(rng).map(Vec::from);
        }
        let member = self.random(rng)?.to_vec();
        self.remove(&member);
        Some(member)
    }

    /// Removes and returns `count` distinct members, a uniform random
    /// choice; `count` must be below the size (SPOP of the whole set is
    /// the caller's: it deletes the key).
    ///
    /// As Redis, when the members kept are few next to those popped, a
    /// new set of the kept members replaces this one: an intset stays an
    /// intset, a listpack a listpack, and a table becomes a listpack again
    /// if the kept members fit one (`limits`).
    pub fn pop_many(
        &mut self,
        count: usize,
        limits: &EncodingLimits,
        rng: &mut fastrand::Rng,
    ) -> Vec<Vec<u8>> {
        let remaining = self.len().saturating_sub(count);
        let few_kept = remaining.saturating_mul(SPOP_MOVE_STRATEGY_MUL) <= count;
        match &mut self.0 {
            Repr::Table(table) if few_kept => {
                let mut kept = SetValue(Repr::Packed(Packed::default()));
                for _ in 0..remaining {
                    let Some(member) = table.random(rng).map(<[u8]>::to_vec) else {
                        break;
                    };
                    table.remove(&member);
                    kept.add(&member, limits);
                }
                let popped = table.iter().map(<[u8]>::to_vec).collect();
                *self = kept;
                popped
            }
            Repr::Table(_) => (0..count).filter_map(|_| self.pop(rng)).collect(),
            _ => self.split_random(count, rng),
        }
    }

    /// Pops `count` members of a compact set chosen at random, rebuilding
    /// its block once with the members kept, in their order.
    fn split_random(&mut self, count: usize, rng: &mut fastrand::Rng) -> Vec<Vec<u8>> {
        if let Repr::Table(_) = self.0 {
            return (0..count).filter_map(|_| self.pop(rng)).collect();
        }
        let len = self.len();
        let mut positions: Vec<usize> = (0..len).collect();
        choose_front(&mut positions, count, rng);
        let mut popped_at = vec![false; len];
        for &at in &positions[..count.min(len)] {
            popped_at[at] = true;
        }
        let mut popped = Vec::with_capacity(count);
        match &self.0 {
            Repr::Ints(s) => {
                let mut kept = Vec::with_capacity(len - count.min(len));
                for (at, n) in s.iter().enumerate() {
                    if popped_at[at] {
                        popped.push(Member::Int(n).to_vec());
                    } else {
                        kept.push(n);
                    }
                }
                self.0 = Repr::Ints(IntSet::from_sorted(&kept));
            }
            Repr::Packed(p) => {
                let mut kept = Vec::with_capacity(len);
                for (at, item) in p.iter().enumerate() {
                    if popped_at[at] {
                        popped.push(item.to_vec());
                    } else {
                        kept.push(item);
                    }
                }
                let block: Packed = kept.into_iter().collect();
                self.0 = Repr::Packed(block);
            }
            Repr::Table(_) => {}
        }
        popped
    }
}
