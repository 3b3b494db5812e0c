//! Store tests of long walks and large values: grown strings (APPEND and
//! SETRANGE in place, against a model), KEYS' per-shard walk and the
//! lazyfree path of UNLINK and `FLUSHALL ASYNC`, with exact memory
//! accounting.
//!
//! As in `tests.rs`, unit tests do not run on jemalloc, so
//! [`Store::used_memory`] moves exactly by the bytes the store tracks.

use super::*;
use crate::glob::Pattern;

const T0: u64 = 1_700_000_000_000;

fn store(shards: usize) -> Store {
    Store::new(StoreOptions {
        shards,
        clock: Clock::manual(T0),
        ..StoreOptions::default()
    })
}

/// Used memory must be the table plus every entry's usage (without its
/// slot, which the table counts).
pub(super) fn assert_accounted(store: &Store, baseline: u64) {
    let mut expected = baseline;
    for i in 0..store.shard_count() {
        let shard = store.lock_shard(i);
        expected += shard.table_bytes() as u64;
        for bucket in 0..shard.num_buckets() {
            if shard.bucket(bucket).is_some() {
                expected += (shard.usage_at(bucket) - shard::SLOT_BYTES) as u64;
            }
        }
    }
    assert_eq!(store.used_memory(), expected);
}

fn value_of(store: &Store, key: &[u8]) -> Option<Vec<u8>> {
    let mut lock = store.lock(key);
    let index = lock.peek(key)?;
    lock.shard.value(index).as_str().map(<[u8]>::to_vec)
}

fn append(store: &Store, key: &[u8], tail: &[u8]) -> usize {
    let mut lock = store.lock(key);
    match lock.find(key) {
        Some(index) => lock.shard.append_at(index, tail),
        None => {
            lock.put_string(key, tail, None);
            tail.len()
        }
    }
}

fn set_range(store: &Store, key: &[u8], offset: usize, patch: &[u8]) -> usize {
    let mut lock = store.lock(key);
    match lock.find(key) {
        Some(index) => lock.shard.set_range_at(index, offset, patch),
        None => {
            let mut value = vec![0; offset + patch.len()];
            value[offset..].copy_from_slice(patch);
            let (hash, access) = (lock.hash, lock.new_access());
            lock.shard.insert_built(hash, key, value, access);
            offset + patch.len()
        }
    }
}

#[test]
fn grown_strings_follow_a_model_and_their_memory_is_counted() {
    let store = store(1);
    let baseline = store.used_memory();
    let mut rng = fastrand::Rng::with_seed(8);
    let keys: [&[u8]; 3] = [b"a", b"bb", b"ccc"];
    let mut model: [Vec<u8>; 3] = Default::default();
    for step in 0..3000 {
        let k = rng.usize(..keys.len());
        let key = keys[k];
        let len = match rng.u8(..10) {
            0..=4 => {
                let tail: Vec<u8> = (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect();
                model[k].extend_from_slice(&tail);
                append(&store, key, &tail)
            }
            5..=7 => {
                let patch: Vec<u8> = (0..rng.usize(1..40)).map(|_| rng.u8(..)).collect();
                let offset = rng.usize(0..model[k].len() + 500);
                if model[k].len() < offset + patch.len() {
                    model[k].resize(offset + patch.len(), 0);
                }
                model[k][offset..offset + patch.len()].copy_from_slice(&patch);
                set_range(&store, key, offset, &patch)
            }
            8 => {
                // SET replaces a grown string with an inline one.
                model[k] = vec![b'x'; rng.usize(0..20)];
                store.lock(key).put_string(key, &model[k], None);
                model[k].len()
            }
            _ => {
                // Expiry and version changes rebuild the entry around the
                // same buffer.
                let mut lock = store.lock(key);
                if let Some(index) = lock.find(key) {
                    lock.shard.set_expire_at(index, Some(T0 + 1000 + step));
                    lock.shard.set_version_at(index, step);
                    lock.shard.set_expire_at(index, None);
                }
                model[k].len()
            }
        };
        assert_eq!(len, model[k].len(), "step {step}");
        if !model[k].is_empty() || value_of(&store, key).is_some() {
            assert_eq!(
                value_of(&store, key).as_deref(),
                Some(&model[k][..]),
                "step {step}"
            );
        }
        assert_accounted(&store, baseline);
    }
    // Removal hands the buffer back without losing a byte.
    let (value, _) = {
        let mut lock = store.lock(b"a");
        let index = lock.find(b"a").expect("live");
        lock.shard.remove_at(index)
    };
    assert!(matches!(value, OwnedValue::Str(v) if v == model[0]));
    store.flush(false);
    assert_eq!(store.used_memory(), baseline);
}

#[test]
fn spare_room_is_counted_and_values_set_stay_exact() {
    let store = store(1);
    store.lock(b"k").put_string(b"k", &[b'v'; 1000], None);
    let set_usage = {
        let mut lock = store.lock(b"k");
        let index = lock.find(b"k").expect("live");
        lock.shard.usage_at(index)
    };
    // A SET value is one exact block: header, key and value.
    assert!(set_usage < 1000 + 40, "{set_usage}");
    append(&store, b"k", b"w");
    let mut lock = store.lock(b"k");
    let index = lock.find(b"k").expect("live");
    // Grown: the buffer doubled, and MEMORY USAGE says so.
    assert!(
        lock.shard.usage_at(index) >= 2002,
        "{}",
        lock.shard.usage_at(index)
    );
    assert!(lock.shard.at(index).grown_index().is_some());
}

#[test]
fn keys_are_collected_one_shard_at_a_time() {
    let store = store(4);
    for i in 0..200 {
        let key = format!("user:{i}");
        store
            .lock(key.as_bytes())
            .put_string(key.as_bytes(), b"v", None);
    }
    store.lock(b"").put_string(b"", b"v", None);
    store
        .lock(b"user:gone")
        .put_string(b"user:gone", b"v", Some(T0 + 1));
    store.clock().advance(2);
    let collect = |pattern: &[u8]| {
        let pattern = Pattern::new(pattern);
        let mut keys: Vec<Vec<u8>> = (0..store.shard_count())
            .flat_map(|i| store.keys_in_shard(i, &pattern))
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(collect(b"*").len(), 201);
    assert_eq!(collect(b"**").len(), 200);
    let mut ones: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("user:{i}").into_bytes())
        .filter(|k| k.ends_with(b"1"))
        .collect();
    ones.sort();
    assert_eq!(collect(b"user:*1"), ones);
    assert_eq!(collect(b"user:gone"), Vec::<Vec<u8>>::new());
}

/// A hash of `fields` fields, a listpack up to `LAZYFREE_THRESHOLD` of
/// them and a table past it: freeing a listpack is one free wherever it
/// is held (as in Redis), a table's effort is its size.
fn hash_of(fields: usize) -> OwnedValue {
    let mut h = HashValue::default();
    for i in 0..fields {
        h.insert(format!("field:{i}").as_bytes(), b"value");
    }
    h.settle(&EncodingLimits {
        hash_max_listpack_entries: LAZYFREE_THRESHOLD as i64,
        ..EncodingLimits::default()
    });
    OwnedValue::Collection(Collection::Hash(h))
}

#[test]
fn unlink_and_flush_async_free_on_the_lazyfree_thread() {
    let store = store(2);
    let baseline = store.used_memory();
    store
        .lock(b"big")
        .put(b"big", hash_of(LAZYFREE_THRESHOLD + 1), None);
    store
        .lock(b"small")
        .put(b"small", hash_of(LAZYFREE_THRESHOLD), None);
    assert!(store.lock(b"big").unlink(b"big"));
    assert!(store.lock(b"small").unlink(b"small"));
    assert!(!store.lock(b"big").unlink(b"big"));
    // Gone at once, and no longer counted, whether freed yet or not.
    assert!(store.lock(b"big").peek(b"big").is_none());
    assert_accounted(&store, baseline);
    for i in 0..10 {
        let key = format!("k{i}");
        store
            .lock(key.as_bytes())
            .put_string(key.as_bytes(), b"v", None);
    }
    store.flush(true);
    assert!(store.is_empty());
    assert_eq!(store.used_memory(), baseline);
    store.stop_background();
    // The big hash (one object) and the ten flushed keys; the small hash
    // was freed inline.
    assert_eq!(store.lazyfreed(), 11);
    assert_eq!((store.lazyfree_pending(), store.lazyfree_inline()), (0, 0));
}
