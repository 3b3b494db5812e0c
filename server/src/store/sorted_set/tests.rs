//! Model tests: both encodings against a sorted vector.

use super::*;

/// The model: pairs kept sorted by the set's order.
#[derive(Default)]
struct Model(Vec<(f64, Vec<u8>)>);

impl Model {
    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let old = self.0.iter().position(|(_, m)| m == member);
        if let Some(i) = old {
            self.0.remove(i);
        }
        let at = self
            .0
            .partition_point(|(s, m)| order(*s, m, score, member) == Ordering::Less);
        self.0.insert(at, (score, member.to_vec()));
        old.is_none()
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        match self.0.iter().position(|(_, m)| m == member) {
            Some(i) => {
                self.0.remove(i);
                true
            }
            None => false,
        }
    }
}

fn pairs<'a>(it: impl Iterator<Item = (&'a [u8], f64)>) -> Vec<(f64, Vec<u8>)> {
    it.map(|(m, s)| (s, m.to_vec())).collect()
}

fn check(set: &SortedSet, model: &Model) {
    assert_eq!(set.len(), model.0.len());
    assert_eq!(pairs(set.iter()), model.0);
    if let Encoding::Skip(list) = &set.encoding {
        list.check();
    }
}

fn random_member(rng: &mut fastrand::Rng, space: u32) -> Vec<u8> {
    format!("m{}", rng.u32(..space)).into_bytes()
}

fn random_score(rng: &mut fastrand::Rng) -> f64 {
    match rng.u8(..10) {
        0 => f64::INFINITY,
        1 => f64::NEG_INFINITY,
        2 => -0.0,
        3 => rng.f64() * 1e6 - 5e5,
        // Few distinct scores, so ties are ordered by member.
        _ => f64::from(rng.i32(-3..4)),
    }
}

fn run_model(seed: u64, skiplist: bool, steps: usize, space: u32) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut set = SortedSet::default();
    if skiplist {
        set.convert_to_skiplist();
    }
    let mut model = Model::default();
    for step in 0..steps {
        match rng.u8(..10) {
            0..=4 => {
                let member = random_member(&mut rng, space);
                let score = random_score(&mut rng);
                assert_eq!(set.insert(&member, score), model.insert(&member, score));
            }
            5 | 6 => {
                let member = random_member(&mut rng, space);
                assert_eq!(set.remove(&member), model.remove(&member));
            }
            7 => {
                let len = model.0.len();
                let from = rng.usize(..=len);
                let to = from + rng.usize(..4);
                let mut removed = Vec::new();
                set.remove_ranks(from, to, |m, s| removed.push((s, m.to_vec())));
                let expected: Vec<_> = model.0.drain(from..to.min(len)).collect();
                assert_eq!(removed, expected);
            }
            8 => {
                let bound = random_score(&mut rng);
                let below = set.count_while(|s, _| s < bound);
                assert_eq!(below, model.0.iter().filter(|(s, _)| *s < bound).count());
                let member = random_member(&mut rng, space);
                let rank = model.0.iter().position(|(_, m)| *m == member);
                assert_eq!(set.rank(&member).map(|(r, _)| r), rank);
            }
            _ => {
                let len = model.0.len();
                let rank = rng.usize(..=len);
                let forward = rng.bool();
                let got = pairs(set.walk(rank, forward).take(5));
                let expected: Vec<_> = if forward {
                    model.0.iter().skip(rank).take(5).cloned().collect()
                } else if rank < len {
                    model.0[..=rank].iter().rev().take(5).cloned().collect()
                } else {
                    Vec::new()
                };
                assert_eq!(got, expected, "walk {rank} {forward}");
                assert_eq!(
                    set.walk(rank, forward).len(),
                    if forward {
                        len.saturating_sub(rank)
                    } else if rank < len {
                        rank + 1
                    } else {
                        0
                    }
                );
            }
        }
        if step % 97 == 0 {
            check(&set, &model);
        }
    }
    check(&set, &model);
}

#[test]
fn skiplist_follows_a_sorted_vector() {
    for seed in 0..4 {
        run_model(seed, true, 6000, 400);
    }
}

#[test]
fn listpack_follows_a_sorted_vector() {
    for seed in 10..14 {
        run_model(seed, false, 3000, 60);
    }
}

#[test]
fn large_skiplist_ranks_and_walks() {
    let mut set = SortedSet::default();
    set.convert_to_skiplist();
    let n = 20_000u32;
    for i in (0..n).rev() {
        set.insert(format!("{i:06}").as_bytes(), f64::from(i / 3));
    }
    for i in (0..n).step_by(997) {
        let member = format!("{i:06}");
        assert_eq!(
            set.rank(member.as_bytes()),
            Some((i as usize, f64::from(i / 3)))
        );
        assert_eq!(
            set.get(i as usize).map(|(m, _)| m.to_vec()),
            Some(member.into_bytes())
        );
    }
    assert_eq!(set.count_while(|s, _| s < 10.0), 30);
    let mut popped = Vec::new();
    set.remove_ranks(0, 5, |m, _| popped.push(m));
    assert_eq!(popped[4].as_ref(), b"000004");
    assert_eq!(set.len(), n as usize - 5);
    if let Encoding::Skip(list) = &set.encoding {
        list.check();
    }
}

#[test]
fn converts_past_the_thresholds_on_new_members_only() {
    let limits = EncodingLimits {
        zset_max_listpack_entries: 3,
        zset_max_listpack_value: 5,
        ..EncodingLimits::default()
    };
    let mut set = SortedSet::default();
    for (i, m) in ["a", "b", "c"].into_iter().enumerate() {
        set.add(m.as_bytes(), i as f64, &limits);
    }
    assert_eq!(set.encoding(), "listpack");
    set.add(b"d", 9.0, &limits);
    assert_eq!(set.encoding(), "skiplist");
    // Emptied below the threshold, it stays a skip list.
    set.remove(b"a");
    set.remove(b"b");
    set.settle(&limits);
    assert_eq!(set.encoding(), "skiplist");
    // A long member converts at once.
    let mut small = SortedSet::default();
    small.add(b"toolong", 1.0, &limits);
    assert_eq!(small.encoding(), "skiplist");
    // A score update of a compact set never converts it, even under
    // lower thresholds (as Redis).
    let mut kept = SortedSet::default();
    for m in ["a", "b", "c"] {
        kept.add(m.as_bytes(), 1.0, &limits);
    }
    let lower = EncodingLimits {
        zset_max_listpack_entries: 1,
        ..limits
    };
    kept.add(b"a", 5.0, &lower);
    assert_eq!(kept.encoding(), "listpack");
    kept.add(b"e", 5.0, &lower);
    assert_eq!(kept.encoding(), "skiplist");
    // Store results take the compact encoding when they fit.
    set.fit_encoding(&limits);
    assert_eq!(set.encoding(), "listpack");
    assert_eq!(
        pairs(set.iter()),
        vec![(2.0, b"c".to_vec()), (9.0, b"d".to_vec())]
    );
}

#[test]
fn built_from_pairs_by_size() {
    let small = SortedSet::from_pairs([(&b"x"[..], 1.0), (b"y", 2.0), (b"x", 3.0)]);
    assert_eq!(small.encoding(), "listpack");
    assert_eq!(
        pairs(small.iter()),
        vec![(2.0, b"y".to_vec()), (3.0, b"x".to_vec())]
    );
    let names: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    let large = SortedSet::from_pairs(names.iter().map(|n| (n.as_bytes(), 1.0)));
    assert_eq!(large.encoding(), "skiplist");
    assert_eq!(large.len(), 200);
    assert_eq!(large, large.clone());
}

#[test]
fn size_classes() {
    let cases = [
        (1, 8),
        (9, 16),
        (17, 32),
        (33, 48),
        (64, 64),
        (65, 80),
        (129, 160),
        (300, 320),
        (4097, 5120),
    ];
    for (n, size) in cases {
        assert_eq!(alloc_size(n), size, "{n}");
    }
}

#[test]
fn the_value_stays_small_in_the_slab() {
    // Every key's slot in the shard's collection slab is as large as the
    // largest collection value: a sorted set must not be the one.
    assert!(std::mem::size_of::<SortedSet>() <= 24);
}
