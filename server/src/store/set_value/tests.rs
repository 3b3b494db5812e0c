//! The set encodings and their conversions, by Redis 7.2's rules.

use std::collections::HashSet;

use super::*;

fn limits() -> EncodingLimits {
    EncodingLimits::default()
}

fn small_limits() -> EncodingLimits {
    EncodingLimits {
        set_max_intset_entries: 4,
        set_max_listpack_entries: 3,
        set_max_listpack_value: 5,
        ..EncodingLimits::default()
    }
}

fn filled(members: &[&str], limits: &EncodingLimits) -> SetValue {
    let mut set = SetValue::fresh(members[0].as_bytes(), members.len(), limits);
    for m in members {
        set.add(m.as_bytes(), limits);
    }
    set
}

fn texts(set: &SetValue) -> Vec<String> {
    let mut all: Vec<String> = set
        .iter()
        .map(|m| String::from_utf8_lossy(&m.to_vec()).into_owned())
        .collect();
    all.sort();
    all
}

#[test]
fn a_new_set_takes_the_encoding_its_first_member_and_size_allow() {
    let l = limits();
    assert_eq!(SetValue::fresh(b"12", 1, &l).encoding(), "intset");
    assert_eq!(SetValue::fresh(b"12", 512, &l).encoding(), "intset");
    assert_eq!(SetValue::fresh(b"12", 513, &l).encoding(), "hashtable");
    assert_eq!(SetValue::fresh(b"a", 128, &l).encoding(), "listpack");
    assert_eq!(SetValue::fresh(b"a", 129, &l).encoding(), "hashtable");
    // Only canonical i64 text is an integer to Redis.
    for text in ["007", "+1", "-0", " 1", "1.0", "9223372036854775808", ""] {
        assert_eq!(
            SetValue::fresh(text.as_bytes(), 1, &l).encoding(),
            "listpack",
            "{text:?}"
        );
    }
    // A size hint over the threshold converts an existing compact set.
    let mut set = filled(&["1", "2"], &l);
    set.reserve(512, &l);
    assert_eq!(set.encoding(), "intset");
    set.reserve(513, &l);
    assert_eq!(set.encoding(), "hashtable");
    assert_eq!(texts(&set), ["1", "2"]);
    let mut set = filled(&["a"], &l);
    set.reserve(129, &l);
    assert_eq!(set.encoding(), "hashtable");
}

#[test]
fn intsets_grow_into_tables_or_listpacks() {
    let l = limits();
    let mut set = SetValue::default();
    for i in 0..512 {
        assert!(set.add(i.to_string().as_bytes(), &l));
    }
    assert!(!set.add(b"7", &l));
    assert_eq!(set.encoding(), "intset");
    set.add(b"-1", &l);
    assert_eq!((set.encoding(), set.len()), ("hashtable", 513));
    // A string joins a small intset as a listpack, the integers first.
    let mut set = filled(&["3", "1", "2"], &l);
    assert_eq!(
        set.iter().map(|m| m.to_vec()).collect::<Vec<_>>(),
        [b"1", b"2", b"3"]
    );
    set.add(b"x", &l);
    assert_eq!(set.encoding(), "listpack");
    let order: Vec<Vec<u8>> = set.iter().map(|m| m.to_vec()).collect();
    assert_eq!(order, [&b"1"[..], b"2", b"3", b"x"]);
    // ... unless the intset already holds the listpack's worth.
    let mut set = SetValue::default();
    for i in 0..128 {
        set.add(i.to_string().as_bytes(), &l);
    }
    set.add(b"x", &l);
    assert_eq!(set.encoding(), "hashtable");
    // ... or the string, or an integer's text, is too long for one.
    let long = [b'x'; 65];
    let mut set = filled(&["1"], &l);
    set.add(&long, &l);
    assert_eq!(set.encoding(), "hashtable");
    let tight = EncodingLimits {
        set_max_listpack_value: 3,
        ..limits()
    };
    let mut set = filled(&["12345"], &tight);
    set.add(b"x", &tight);
    assert_eq!(set.encoding(), "hashtable");
}

#[test]
fn listpacks_grow_into_tables_and_never_back() {
    let l = limits();
    let mut set = filled(&["a"], &l);
    for i in 1..128 {
        set.add(format!("m{i}").as_bytes(), &l);
    }
    assert_eq!((set.encoding(), set.len()), ("listpack", 128));
    // Integers join a listpack as text.
    assert!(!set.add(b"a", &l));
    set.add(b"1", &l);
    assert_eq!(set.encoding(), "hashtable");
    let mut set = filled(&["a"], &l);
    set.add(&[b'y'; 64], &l);
    assert_eq!(set.encoding(), "listpack");
    set.add(&[b'y'; 65], &l);
    assert_eq!(set.encoding(), "hashtable");
    // Removals keep the encoding.
    for m in texts(&set) {
        if m != "a" {
            assert!(set.remove(m.as_bytes()));
        }
    }
    assert_eq!((set.encoding(), set.len()), ("hashtable", 1));
    let mut set = filled(&["1", "2"], &l);
    assert!(set.remove(b"1"));
    assert!(!set.remove(b"1"));
    assert!(!set.remove(b"01"));
    assert_eq!(set.encoding(), "intset");
}

#[test]
fn thresholds_follow_the_limits() {
    let l = small_limits();
    let mut set = filled(&["1", "2", "3", "4"], &l);
    assert_eq!(set.encoding(), "intset");
    set.add(b"5", &l);
    assert_eq!(set.encoding(), "hashtable");
    let mut set = filled(&["a", "b", "c"], &l);
    assert_eq!(set.encoding(), "listpack");
    set.add(b"d", &l);
    assert_eq!(set.encoding(), "hashtable");
    let mut set = filled(&["abcde"], &l);
    assert_eq!(set.encoding(), "listpack");
    set.add(b"abcdef", &l);
    assert_eq!(set.encoding(), "hashtable");
    // Zero thresholds: a new set goes straight to a table.
    let zero = EncodingLimits {
        set_max_intset_entries: 0,
        set_max_listpack_entries: 0,
        ..limits()
    };
    assert_eq!(filled(&["1"], &zero).encoding(), "hashtable");
}

#[test]
fn built_sets_take_the_encoding_their_members_allow() {
    let l = limits();
    let ints: Vec<String> = (0..300).map(|i| i.to_string()).collect();
    let set = SetValue::build(ints.iter().map(|s| s.as_bytes()), &l);
    assert_eq!(set.encoding(), "intset");
    let mixed: Vec<String> = (0..100)
        .map(|i| format!("{i}{}", if i % 2 == 0 { "" } else { "x" }))
        .collect();
    let set = SetValue::build(mixed.iter().map(|s| s.as_bytes()), &l);
    assert_eq!((set.encoding(), set.len()), ("listpack", 100));
    let set = SetValue::build(ints.iter().map(|s| s.as_bytes()).chain([&b"x"[..]]), &l);
    assert_eq!(set.encoding(), "hashtable");
    assert_eq!(SetValue::build([], &l).len(), 0);
}

#[test]
fn follows_a_hash_set_model_in_every_encoding() {
    let mut rng = fastrand::Rng::with_seed(5);
    for l in [limits(), small_limits()] {
        let mut set = SetValue::default();
        let mut model: HashSet<Vec<u8>> = HashSet::new();
        for _ in 0..3000 {
            let member: Vec<u8> = match rng.u8(..4) {
                0 => rng.i64(-40..40).to_string().into_bytes(),
                1 => rng.i64(i64::MIN..=i64::MAX).to_string().into_bytes(),
                2 => vec![rng.u8(b'a'..b'e'); rng.usize(..8)],
                _ => vec![rng.u8(..); rng.usize(..3)],
            };
            if rng.u8(..3) == 0 {
                assert_eq!(set.remove(&member), model.remove(&member));
            } else {
                assert_eq!(set.add(&member, &l), model.insert(member.clone()));
            }
            assert_eq!(set.len(), model.len());
            assert_eq!(set.contains(&member), model.contains(&member));
        }
        let all: HashSet<Vec<u8>> = set.iter().map(|m| m.to_vec()).collect();
        assert_eq!(all, model);
        let mut scanned = HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = set.scan(cursor, 10, |m| {
                scanned.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(scanned, model);
    }
}

#[test]
fn equality_ignores_the_encoding() {
    let l = limits();
    let compact = filled(&["1", "2"], &l);
    let mut table = SetValue::fresh(b"1", 1000, &l);
    table.add(b"2", &l);
    table.add(b"1", &l);
    assert_eq!(table.encoding(), "hashtable");
    assert_eq!(compact, table);
    table.add(b"3", &l);
    assert_ne!(compact, table);
}

#[test]
fn heap_sizes_are_allocator_classes() {
    let l = limits();
    let ten: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let set = SetValue::build(ten.iter().map(|s| s.as_bytes()), &l);
    // A width byte and ten 2-byte integers, and the slab slot.
    assert_eq!(set.heap_size(), SLAB_SLOT + 32);
    let words = ["alpha", "beta", "gamma"];
    let set = filled(&words, &l);
    // A length byte before each word: 17 bytes.
    assert_eq!(set.heap_size(), SLAB_SLOT + 32);
    assert_eq!(SetValue::default().heap_size(), SLAB_SLOT);
}

/// Draws until each of the `n` members came out 600 times on average,
/// and checks each count is within a quarter of that (six standard
/// deviations of a fair draw).
fn assert_uniform(n: usize, mut draw: impl FnMut() -> Vec<Vec<u8>>) {
    let mut seen = std::collections::HashMap::new();
    let mut total = 0;
    while total < n * 600 {
        for m in draw() {
            *seen.entry(m).or_insert(0usize) += 1;
            total += 1;
        }
    }
    assert_eq!(seen.len(), n, "every member comes out");
    let mean = total / n;
    for (m, count) in seen {
        assert!(
            count * 4 > mean * 3 && count * 4 < mean * 5,
            "{m:?} drawn {count} times, mean {mean}"
        );
    }
}

#[test]
fn random_picks_are_uniform_in_every_encoding() {
    let l = limits();
    let mut rng = fastrand::Rng::with_seed(9);
    let ints: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    let words: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
    let big: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
    for members in [&ints, &words, &big] {
        let set = SetValue::build(members.iter().map(|s| s.as_bytes()), &l);
        let n = members.len();
        assert_uniform(n, || vec![set.random(&mut rng).expect("member").to_vec()]);
        assert_uniform(n, || {
            set.sample_repeated(5, &mut rng)
                .into_iter()
                .map(Member::to_vec)
                .collect()
        });
        for count in [1, 3, n / 2, n - 1] {
            assert_uniform(n, || {
                let picked = set.sample_distinct(count, &mut rng);
                let distinct: HashSet<Vec<u8>> = picked.iter().map(|m| m.to_vec()).collect();
                assert_eq!(distinct.len(), count);
                picked.into_iter().map(Member::to_vec).collect()
            });
        }
        assert_eq!(set.sample_distinct(n + 5, &mut rng).len(), n);
    }
}

#[test]
fn pops_are_uniform_and_keep_redis_encodings() {
    let l = limits();
    let mut rng = fastrand::Rng::with_seed(13);
    let words: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
    let ints: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    // Popping most of a table leaves the rest in a new listpack (Redis
    // 7.2's third SPOP case); popping a little keeps the table.
    let mut set = SetValue::build(words.iter().map(|s| s.as_bytes()), &l);
    let popped = set.pop_many(190, &l, &mut rng);
    assert_eq!(
        (popped.len(), set.len(), set.encoding()),
        (190, 10, "listpack")
    );
    let mut set = SetValue::build(words.iter().map(|s| s.as_bytes()), &l);
    set.pop_many(100, &l, &mut rng);
    assert_eq!((set.len(), set.encoding()), (100, "hashtable"));
    let mut set = SetValue::build(ints.iter().map(|s| s.as_bytes()), &l);
    let popped = set.pop_many(190, &l, &mut rng);
    assert_eq!((popped.len(), set.encoding()), (190, "intset"));
    let all: HashSet<Vec<u8>> = popped
        .into_iter()
        .chain(set.iter().map(Member::to_vec))
        .collect();
    assert_eq!(all.len(), 200, "popped and kept partition the set");
    // Every member is as likely to be popped, in both strategies.
    for (count, source) in [(3, &words), (170, &words), (3, &ints), (170, &ints)] {
        let full = SetValue::build(source[..180].iter().map(|s| s.as_bytes()), &l);
        assert_uniform(180, || {
            let mut set = full.clone();
            set.pop_many(count, &l, &mut rng)
        });
    }
    let mut set = filled(&["a", "b"], &l);
    let mut out = vec![set.pop(&mut rng).expect("a member")];
    out.extend(set.pop(&mut rng));
    out.sort();
    assert_eq!(out, [b"a".to_vec(), b"b".to_vec()]);
    assert!(set.pop(&mut rng).is_none());
}
