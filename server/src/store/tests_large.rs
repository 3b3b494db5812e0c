//! Store tests of long walks and large values: KEYS' per-shard walk and
//! the lazyfree path of UNLINK and `FLUSHALL ASYNC`, with exact memory
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
fn assert_accounted(store: &Store, baseline: u64) {
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

fn hash_of(fields: usize) -> OwnedValue {
    let mut h = HashValue::default();
    for i in 0..fields {
        h.insert(format!("field:{i}").as_bytes(), b"value");
    }
    OwnedValue::Hash(h)
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
