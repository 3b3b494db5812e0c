//! Store tests of small collections held inline in their entry: each type
//! round-trips through its inline form, stays inline while compact and
//! small, is boxed in the slab past its thresholds (or past the inline
//! size bound while still compact), keeps its TTL and version across the
//! rebuilds, and memory accounting stays exact throughout.
//!
//! As in `tests.rs`, unit tests do not run on jemalloc, so
//! [`Store::used_memory`] moves exactly by the bytes the store tracks.

use super::tests_large::assert_accounted;
use super::*;

const T0: u64 = 1_700_000_000_000;

fn store() -> Store {
    Store::new(StoreOptions {
        shards: 1,
        clock: Clock::manual(T0),
        ..StoreOptions::default()
    })
}

/// (boxed, OBJECT ENCODING) of `key`'s value.
fn layout(store: &Store, key: &[u8]) -> (bool, &'static str) {
    let mut lock = store.lock(key);
    let index = lock.peek(key).expect("present");
    let boxed = lock.shard.at(index).is_boxed();
    let encoding = lock
        .shard
        .collection(index)
        .expect("a collection")
        .encoding();
    (boxed, encoding)
}

/// Runs `f` on the value of type `T` at `key` as a write command does.
fn write<T: CollectionType, R>(store: &Store, key: &[u8], f: impl FnOnce(&mut T) -> R) -> R {
    let mut lock = store.lock(key);
    let index = lock.for_write::<T>(key).expect("type");
    lock.shard.with_mut(index, f).expect("type")
}

fn members(store: &Store, key: &[u8]) -> Vec<Vec<u8>> {
    let mut lock = store.lock(key);
    let set = lock
        .read_as::<SetValue>(key)
        .expect("a set")
        .expect("present");
    let mut all: Vec<Vec<u8>> = set.iter().map(SetMember::to_vec).collect();
    all.sort();
    all
}

#[test]
fn a_set_stays_inline_through_its_compact_encodings_then_is_boxed() {
    let store = store();
    let baseline = store.used_memory();
    let limits = EncodingLimits::default();
    write(&store, b"s", |s: &mut SetValue| {
        (0..10).for_each(|i| _ = s.add(i.to_string().as_bytes(), &limits))
    });
    assert_eq!(layout(&store, b"s"), (false, "intset"));
    assert_accounted(&store, baseline);
    {
        // Ten small integers: the entry is the whole value.
        let mut lock = store.lock(b"s");
        let index = lock.peek(b"s").expect("present");
        assert!(lock.shard.usage_at(index) <= shard::SLOT_BYTES + 64);
    }
    write(&store, b"s", |s: &mut SetValue| s.add(b"member", &limits));
    assert_eq!(layout(&store, b"s"), (false, "listpack"));
    assert_accounted(&store, baseline);
    write(&store, b"s", |s: &mut SetValue| {
        (0..200).for_each(|i| _ = s.add(format!("m{i}").as_bytes(), &limits))
    });
    assert_eq!(layout(&store, b"s"), (true, "hashtable"));
    assert_accounted(&store, baseline);
    assert_eq!(members(&store, b"s").len(), 211);
    store.lock(b"s").remove(b"s");
    assert_accounted(&store, baseline);
}

#[test]
fn a_compact_value_past_the_inline_bound_is_boxed_and_keeps_its_encoding() {
    let store = store();
    let baseline = store.used_memory();
    let limits = EncodingLimits::default();
    let long = [b'v'; 60];
    write(&store, b"h", |h: &mut HashValue| {
        (0..40).for_each(|i| _ = h.insert_with(format!("f{i}").as_bytes(), &long, &limits))
    });
    assert_eq!(layout(&store, b"h"), (true, "listpack"));
    assert_accounted(&store, baseline);
    let mut lock = store.lock(b"h");
    let hash = lock
        .read_as::<HashValue>(b"h")
        .expect("a hash")
        .expect("present");
    assert_eq!(hash.len(), 40);
    assert_eq!(hash.get(b"f39"), Some(&long[..]));
}

#[test]
fn every_type_round_trips_through_its_inline_form() {
    let store = store();
    let baseline = store.used_memory();
    let mut zset = SortedSet::default();
    for (i, member) in ["a", "b", "c"].iter().enumerate() {
        zset.insert(member.as_bytes(), i as f64 + 0.5);
    }
    let mut list: ListValue = [&b"x"[..], b"y", b"z"].into_iter().collect();
    list.push_back(b"w");
    let values = [
        Collection::Hash(HashValue::build([(&b"f"[..], &b"v"[..])])),
        Collection::List(list),
        Collection::Set(SetValue::build(
            [&b"1"[..], b"2"],
            &EncodingLimits::default(),
        )),
        Collection::Set(SetValue::build(
            [&b"a"[..], b"2"],
            &EncodingLimits::default(),
        )),
        Collection::ZSet(zset),
    ];
    for (i, value) in values.into_iter().enumerate() {
        let key = format!("k{i}").into_bytes();
        let mut lock = store.lock(&key);
        let expire = Some(T0 + 1000);
        lock.put(&key, OwnedValue::Collection(value.clone()), expire);
        let index = lock.peek(&key).expect("present");
        let entry = lock.shard.at(index);
        assert!(!entry.is_boxed(), "{:?} is inline", value.kind());
        assert_eq!(entry.kind(), value.kind());
        assert_eq!(
            lock.shard.value(index).to_owned_value(),
            OwnedValue::Collection(value.clone())
        );
        assert_eq!(
            lock.shard.collection(index).map(|c| c.encoding()),
            Some(value.encoding())
        );
        let (removed, expiry) = lock.shard.remove_at(index);
        assert_eq!((removed, expiry), (OwnedValue::Collection(value), expire));
    }
    assert_accounted(&store, baseline);
}

#[test]
fn writes_to_an_inline_value_keep_its_ttl_version_and_type_checks() {
    let store = store();
    let limits = EncodingLimits::default();
    write(&store, b"z", |z: &mut SortedSet| z.add(b"m", 1.0, &limits));
    {
        let mut lock = store.lock(b"z");
        let index = lock.peek(b"z").expect("present");
        lock.shard.set_expire_at(index, Some(T0 + 5000));
        lock.shard.set_version_at(index, 7);
        assert_eq!(lock.shard.with_mut(index, |_: &mut SetValue| ()), None);
        assert!(lock.shard.typed::<ListValue>(index).is_none());
    }
    write(&store, b"z", |z: &mut SortedSet| z.add(b"n", 2.0, &limits));
    let mut lock = store.lock(b"z");
    let index = lock.peek(b"z").expect("present");
    let entry = lock.shard.at(index);
    assert_eq!(
        (entry.expire_at(), entry.version(), entry.is_boxed()),
        (Some(T0 + 5000), Some(7), false)
    );
    let zset = lock.shard.typed::<SortedSet>(index).expect("a sorted set");
    assert_eq!(zset.score(b"n"), Some(2.0));
    assert_eq!(lock.shard.volatile(), 1);
}

#[test]
fn emptying_an_inline_value_removes_its_key() {
    let store = store();
    let baseline = store.used_memory();
    let limits = EncodingLimits::default();
    write(&store, b"s", |s: &mut SetValue| s.add(b"1", &limits));
    write(&store, b"s", |s: &mut SetValue| s.remove(b"1"));
    assert!(store.lock(b"s").peek(b"s").is_none());
    let table = store.lock_shard(0).table_bytes() as u64;
    assert_eq!(store.used_memory(), baseline + table);
}
