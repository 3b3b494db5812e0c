//! Store tests on a manual clock: eviction order under each policy, TTL
//! edges, lazy and active expiry, flush, scan, random keys and the
//! bookkeeping (volatile counts, tracked memory) behind INFO.
//!
//! Unit tests do not run on jemalloc (only the binary installs it), so the
//! allocator sample taken when the store is created is a constant and
//! [`Store::used_memory`] moves exactly by the bytes the store tracks. The
//! tests never call `sample_memory`, which keeps memory figures exact.

use super::*;
use std::time::Duration;

/// A fixed start time (Unix ms), far from zero so TTL arithmetic is real.
const T0: u64 = 1_700_000_000_000;
/// One second: many LRU ticks, so idle times never tie by accident.
const SECOND: u64 = 1000;
/// Enough samples that each eviction sees every key of the small tables
/// used here: missing one of 100 keys in 2,000 draws has odds of ~1e-9.
const ALL_SAMPLES: usize = 2000;

/// A store with one shard (so sampling sees the whole key space), the
/// given policy and samples, on a manual clock at `T0`.
fn store(policy: EvictionPolicy, samples: usize) -> Store {
    Store::new(StoreOptions {
        shards: 1,
        maxmemory: 0,
        policy,
        samples,
        clock: Clock::manual(T0),
        ..StoreOptions::default()
    })
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:04}").into_bytes()
}

fn set(store: &Store, key: &[u8], value: &[u8], expire_at: Option<u64>) {
    store.lock(key).put_string(key, value, expire_at);
}

/// Reads `key` as GET does (touching it); true if it is live.
fn touch(store: &Store, key: &[u8]) -> bool {
    store.lock(key).find(key).is_some()
}

/// True if `key` is live, without touching it.
fn exists(store: &Store, key: &[u8]) -> bool {
    store.lock(key).peek(key).is_some()
}

/// Evicts one entry and returns the key that went (exactly one must go).
fn evict(store: &Store, policy: EvictionPolicy, keys: &[Vec<u8>]) -> Vec<u8> {
    let before: Vec<&Vec<u8>> = keys.iter().filter(|k| exists(store, k)).collect();
    assert!(
        store.evict_one(policy),
        "nothing evictable under {policy:?}"
    );
    let gone: Vec<&Vec<u8>> = before.into_iter().filter(|k| !exists(store, k)).collect();
    assert_eq!(gone.len(), 1, "one eviction removed {gone:?}");
    gone[0].clone()
}

/// Heap bytes of a string entry as the shard accounts it.
fn entry_bytes(key: &[u8], value: &[u8], expire_at: Option<u64>) -> u64 {
    Entry::string(key, value, expire_at, 0).heap_size() as u64
}

/// Writes `count` keys one second apart (key 0 is the oldest).
fn load_aging(store: &Store, count: usize, expire_at: Option<u64>) -> Vec<Vec<u8>> {
    let keys: Vec<Vec<u8>> = (0..count).map(key).collect();
    for k in &keys {
        set(store, k, b"value", expire_at);
        store.clock().advance(SECOND);
    }
    keys
}

#[test]
fn allkeys_lru_evicts_the_least_recently_used_first() {
    let store = store(EvictionPolicy::AllKeysLru, ALL_SAMPLES);
    let keys = load_aging(&store, 20, None);
    // Keys 0..5 are the oldest writes but were read last.
    for k in &keys[..5] {
        assert!(touch(&store, k));
    }
    store.clock().advance(SECOND);
    for expected in &keys[5..] {
        assert_eq!(&evict(&store, EvictionPolicy::AllKeysLru, &keys), expected);
    }
    assert!(
        keys[..5].iter().all(|k| exists(&store, k)),
        "recently read keys survive"
    );
    assert_eq!(store.stats().evicted, 15);
    assert_eq!(store.len(), 5);
}

#[test]
fn a_key_read_between_evictions_is_spared() {
    let store = store(EvictionPolicy::AllKeysLru, ALL_SAMPLES);
    let keys = load_aging(&store, 10, None);
    assert_eq!(evict(&store, EvictionPolicy::AllKeysLru, &keys), keys[0]);
    // Key 1 is now in the eviction pool with an old idle time; reading it
    // must move it to the back of the line.
    assert!(touch(&store, &keys[1]));
    store.clock().advance(SECOND);
    assert_eq!(evict(&store, EvictionPolicy::AllKeysLru, &keys), keys[2]);
    assert_eq!(evict(&store, EvictionPolicy::AllKeysLru, &keys), keys[3]);
    assert!(exists(&store, &keys[1]));
}

#[test]
fn stale_pool_candidates_are_rechecked_before_eviction() {
    // The pool keeps candidates between evictions with the score they had
    // when sampled; a key read since then must not be evicted on the
    // strength of its old idle time. Seeded, so the sampling is the same
    // on every run.
    fastrand::seed(7);
    let store = store(EvictionPolicy::AllKeysLru, 20_000);
    let keys = load_aging(&store, 200, None);
    assert_eq!(evict(&store, EvictionPolicy::AllKeysLru, &keys), keys[0]);
    // The pool now holds keys 1..16 with their old idle times.
    for k in &keys[1..16] {
        assert!(touch(&store, k));
    }
    store.clock().advance(SECOND);
    store.set_samples(5);
    for _ in 0..10 {
        let gone = evict(&store, EvictionPolicy::AllKeysLru, &keys);
        assert!(
            !keys[1..16].contains(&gone),
            "{} was read after being pooled",
            String::from_utf8_lossy(&gone)
        );
    }
}

#[test]
fn a_read_stamped_after_the_eviction_clock_is_not_idle() {
    // A worker may stamp a key with a clock a tick ahead of the one an
    // eviction started with (or the system clock may step back). The
    // wrapping idle time must not make that key look the oldest.
    for policy in [EvictionPolicy::AllKeysLru, EvictionPolicy::AllKeysLfu] {
        let store = store(policy, ALL_SAMPLES);
        let keys = load_aging(&store, 10, None);
        let hot = &keys[0];
        {
            let mut lock = store.lock(hot);
            lock.now += 60 * SECOND;
            for _ in 0..10 {
                assert!(lock.find(hot).is_some());
            }
        }
        for _ in 0..9 {
            let gone = evict(&store, policy, &keys);
            assert_ne!(&gone, hot, "{policy:?}");
        }
        assert!(exists(&store, hot), "{policy:?}");
    }
}

#[test]
fn make_room_evicts_just_enough_oldest_keys() {
    let store = store(EvictionPolicy::AllKeysLru, ALL_SAMPLES);
    let keys = load_aging(&store, 100, None);
    for k in &keys[..10] {
        assert!(touch(&store, k));
    }
    store.clock().advance(SECOND);
    let per_key = entry_bytes(&keys[0], b"value", None);
    assert_eq!(store.make_room(), Ok(()), "no bound: nothing to do");
    // Ten keys over the bound (less one byte): exactly ten must go.
    store.set_maxmemory(store.used_memory() - 10 * per_key + 1);
    assert_eq!(store.make_room(), Ok(()));
    assert!(store.used_memory() <= store.maxmemory());
    assert_eq!(store.stats().evicted, 10);
    let gone: Vec<usize> = (0..100).filter(|&i| !exists(&store, &keys[i])).collect();
    assert_eq!(
        gone,
        (10..20).collect::<Vec<_>>(),
        "the ten least recently used go"
    );
}

#[test]
fn volatile_policies_evict_only_keys_with_a_ttl() {
    for policy in [
        EvictionPolicy::VolatileLru,
        EvictionPolicy::VolatileLfu,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::VolatileTtl,
    ] {
        let store = store(policy, ALL_SAMPLES);
        let persistent = load_aging(&store, 20, None);
        let far = T0 + 3600 * SECOND;
        let volatile: Vec<Vec<u8>> = (100..105).map(key).collect();
        for k in &volatile {
            set(&store, k, b"value", Some(far));
        }
        for _ in 0..volatile.len() {
            assert!(store.evict_one(policy), "{policy:?}");
        }
        assert!(volatile.iter().all(|k| !exists(&store, k)), "{policy:?}");
        assert!(persistent.iter().all(|k| exists(&store, k)), "{policy:?}");
        assert!(
            !store.evict_one(policy),
            "{policy:?}: only keys without a TTL left"
        );
        store.set_maxmemory(1);
        assert_eq!(store.make_room(), Err(OutOfMemory), "{policy:?}");
        assert_eq!(store.len(), persistent.len(), "{policy:?}");
        assert_eq!(store.stats().evicted, volatile.len() as u64, "{policy:?}");
    }
}

#[test]
fn volatile_policies_find_a_rare_ttl_key() {
    // One key with a TTL among many without: random probes rarely land on
    // it, but it is evictable and OOM would be wrong.
    for policy in [
        EvictionPolicy::VolatileLru,
        EvictionPolicy::VolatileTtl,
        EvictionPolicy::VolatileRandom,
    ] {
        let store = store(policy, 5);
        for i in 0..20_000 {
            set(&store, &key(i), b"v", None);
        }
        let rare = b"rare".to_vec();
        set(&store, &rare, b"v", Some(T0 + SECOND));
        assert!(
            store.evict_one(policy),
            "{policy:?}: the TTL key was not found"
        );
        assert!(!exists(&store, &rare), "{policy:?}");
        assert_eq!(store.len(), 20_000, "{policy:?}");
        assert!(!store.evict_one(policy), "{policy:?}");
    }
}

#[test]
fn allkeys_finds_keys_in_a_sparse_table() {
    // After most keys are deleted the table keeps its buckets until the
    // expiry cycle shrinks it; eviction must still find the survivors.
    let store = store(EvictionPolicy::AllKeysLru, 5);
    for i in 0..20_000 {
        set(&store, &key(i), b"v", None);
    }
    for i in 1..20_000 {
        assert!(store.lock(&key(i)).remove(&key(i)));
    }
    assert!(
        store.evict_one(EvictionPolicy::AllKeysLru),
        "the last key was not found"
    );
    assert!(store.is_empty());
    assert!(!store.evict_one(EvictionPolicy::AllKeysLru));
}

#[test]
fn volatile_ttl_evicts_the_soonest_expiry_first() {
    let store = store(EvictionPolicy::VolatileTtl, ALL_SAMPLES);
    // Insertion order differs from expiry order.
    let order = [7usize, 2, 9, 0, 5, 3, 8, 1, 6, 4];
    let keys: Vec<Vec<u8>> = (0..10).map(key).collect();
    for &i in &order {
        set(
            &store,
            &keys[i],
            b"value",
            Some(T0 + 60 * SECOND + i as u64 * SECOND),
        );
    }
    set(&store, b"persistent", b"value", None);
    for expected in &keys {
        assert_eq!(&evict(&store, EvictionPolicy::VolatileTtl, &keys), expected);
    }
    assert!(exists(&store, b"persistent"));
    assert!(!store.evict_one(EvictionPolicy::VolatileTtl));
}

#[test]
fn allkeys_lfu_keeps_frequently_used_keys() {
    let store = store(EvictionPolicy::AllKeysLfu, ALL_SAMPLES);
    let keys: Vec<Vec<u8>> = (0..30).map(key).collect();
    for k in &keys {
        set(&store, k, b"value", None);
    }
    // The first access of a new key always raises its counter (Redis's
    // logarithmic increment has probability 1 at the initial value).
    let hot = &keys[..10];
    for _ in 0..100 {
        for k in hot {
            assert!(touch(&store, k));
        }
    }
    // Recency does not matter to LFU: the cold keys are the newest reads.
    store.clock().advance(SECOND);
    for k in &keys[10..] {
        assert!(exists(&store, k));
    }
    for _ in 10..30 {
        let gone = evict(&store, EvictionPolicy::AllKeysLfu, &keys);
        assert!(
            !hot.contains(&gone),
            "a hot key went first: {}",
            String::from_utf8_lossy(&gone)
        );
    }
    assert!(hot.iter().all(|k| exists(&store, k)));
}

#[test]
fn noeviction_refuses_over_the_bound_and_evicts_nothing() {
    let store = store(EvictionPolicy::NoEviction, ALL_SAMPLES);
    let keys = load_aging(&store, 10, None);
    store.set_maxmemory(store.used_memory());
    assert_eq!(store.make_room(), Ok(()), "at the bound is not over it");
    store.set_maxmemory(store.used_memory() - 1);
    assert_eq!(store.make_room(), Err(OutOfMemory));
    assert!(
        !store.evict_one(EvictionPolicy::NoEviction),
        "noeviction never picks a victim"
    );
    assert!(keys.iter().all(|k| exists(&store, k)));
    assert_eq!(store.stats().evicted, 0);
    // Deleting makes room again.
    assert!(store.lock(&keys[0]).remove(&keys[0]));
    assert_eq!(store.make_room(), Ok(()));
}

#[test]
fn allkeys_make_room_fails_only_when_the_store_is_empty() {
    let store = store(EvictionPolicy::AllKeysRandom, 5);
    load_aging(&store, 50, None);
    store.set_maxmemory(1);
    assert_eq!(
        store.make_room(),
        Err(OutOfMemory),
        "the bound is below the empty store"
    );
    assert!(store.is_empty(), "everything was evicted on the way");
    assert_eq!(store.stats().evicted, 50);
}

#[test]
fn a_key_expires_exactly_at_its_expiry_time() {
    let store = store(EvictionPolicy::AllKeysLru, 5);
    let now = store.now();
    set(&store, b"at-now", b"v", Some(now));
    set(&store, b"one-ms-later", b"v", Some(now + 1));
    assert!(!exists(&store, b"at-now"), "expire_at == now is expired");
    assert!(
        exists(&store, b"one-ms-later"),
        "1 ms before expiry is live"
    );
    store.clock().advance(1);
    assert!(!exists(&store, b"one-ms-later"));
    assert_eq!(store.stats().expired, 2);
    assert!(store.is_empty());
}

#[test]
fn lazy_expiry_removes_and_counts_on_access() {
    let store = store(EvictionPolicy::AllKeysLru, 5);
    for i in 0..10 {
        set(&store, &key(i), b"v", Some(T0 + SECOND));
    }
    set(&store, b"persistent", b"v", None);
    store.clock().advance(SECOND);
    // Expired but unread keys still count in len (DBSIZE), as in Redis.
    assert_eq!(store.len(), 11);
    for i in 0..5 {
        assert!(store.lock(&key(i)).read(&key(i)).is_none());
    }
    assert!(
        !store.lock(&key(5)).remove(&key(5)),
        "DEL of an expired key deletes nothing"
    );
    let stats = store.stats();
    assert_eq!((stats.expired, stats.misses, stats.hits), (6, 5, 0));
    assert_eq!((store.len(), store.volatile_len()), (5, 4));
    assert!(store.lock(b"persistent").read(b"persistent").is_some());
    assert_eq!(store.stats().hits, 1);
}

#[test]
fn active_expiry_reclaims_unread_keys_and_keeps_the_rest() {
    let store = Store::new(StoreOptions {
        clock: Clock::manual(T0),
        ..StoreOptions::default()
    });
    let baseline = store.used_memory();
    for i in 0..40_000 {
        let expire_at = match i % 4 {
            0 | 1 => Some(T0 + SECOND),
            2 => Some(T0 + 3600 * SECOND),
            _ => None,
        };
        set(&store, &key(i), b"some value bytes", expire_at);
    }
    let loaded = store.used_memory();
    store.clock().advance(SECOND);
    // A pass every 100 ms should visit every bucket about once a second;
    // allow five seconds' worth before calling it stuck.
    let budget = store.expire_budget(Duration::from_millis(100));
    let mut removed = 0;
    let mut passes = 0;
    while removed < 20_000 && passes < 50 {
        removed += store.expire_cycle(budget);
        passes += 1;
    }
    assert_eq!(removed, 20_000, "after {passes} passes");
    assert!(passes <= 20, "took {passes} passes of budget {budget}");
    assert_eq!(store.expire_cycle(budget), 0, "nothing left to expire");
    assert_eq!((store.len(), store.volatile_len()), (20_000, 10_000));
    let stats = store.stats();
    assert_eq!((stats.expired, stats.hits, stats.misses), (20_000, 0, 0));
    for i in (0..40_000).filter(|i| i % 4 >= 2) {
        assert!(exists(&store, &key(i)), "live key {i} was removed");
    }
    let used = store.used_memory();
    assert!(
        used < loaded && used > baseline,
        "{baseline} < {used} < {loaded}"
    );
}

#[test]
fn active_expiry_gives_the_table_back_when_everything_expired() {
    let store = store(EvictionPolicy::AllKeysLru, 5);
    let baseline = store.used_memory();
    for i in 0..10_000 {
        set(&store, &key(i), b"v", Some(T0 + SECOND));
    }
    store.clock().advance(SECOND);
    let budget = store.expire_budget(Duration::from_millis(100));
    let mut passes = 0;
    while !store.is_empty() && passes < 50 {
        store.expire_cycle(budget);
        passes += 1;
    }
    assert!(store.is_empty(), "after {passes} passes");
    // The table shrinks as it empties, down to a small one (at most 64
    // slots) that is not worth giving back.
    let slot_bytes = std::mem::size_of::<Entry>() as u64 + 1;
    assert!(store.lock_shard(0).num_buckets() <= 64);
    let left = store.used_memory() - baseline;
    assert!(left <= 64 * slot_bytes, "{left} bytes still accounted");
    assert_eq!(store.stats().expired, 10_000);
}

#[test]
fn flush_removes_everything_and_its_memory() {
    for asynchronously in [false, true] {
        let store = store(EvictionPolicy::AllKeysLru, 5);
        let baseline = store.used_memory();
        for i in 0..1000 {
            set(
                &store,
                &key(i),
                b"value",
                (i % 2 == 0).then_some(T0 + SECOND),
            );
        }
        let mut hash = HashValue::default();
        hash.insert(b"field", b"value");
        store.lock(b"hash").put(
            b"hash",
            OwnedValue::Collection(Collection::Hash(hash)),
            Some(T0 + SECOND),
        );
        assert!(store.used_memory() > baseline);
        store.flush(asynchronously);
        assert!(store.is_empty());
        assert_eq!(store.volatile_len(), 0);
        assert_eq!(store.used_memory(), baseline, "async: {asynchronously}");
        assert!(store.random_key().is_none());
        // The store works as before.
        set(&store, b"after", b"v", None);
        assert!(exists(&store, b"after"));
    }
}

/// Every key SCAN returns across a full iteration with COUNT `count`.
fn scan_all(store: &Store, count: usize) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut cursor = 0;
    // Each call advances at least one bucket or shard.
    let bound = store.shard_count() * 100_000;
    for _ in 0..bound {
        cursor = store.scan(cursor, count, |e| seen.push(e.key().to_vec()));
        if cursor == 0 {
            return seen;
        }
    }
    panic!("scan did not finish in {bound} calls");
}

#[test]
fn scan_visits_every_key_once() {
    for shards in [1, 4, 64] {
        let store = Store::new(StoreOptions {
            shards,
            clock: Clock::manual(T0),
            ..StoreOptions::default()
        });
        assert!(scan_all(&store, 3).is_empty());
        let mut keys: Vec<Vec<u8>> = (0..1000).map(key).collect();
        for k in &keys {
            set(&store, k, b"v", None);
        }
        set(&store, b"expired", b"v", Some(T0));
        for count in [1, 3, 10, 1000, usize::MAX] {
            let mut seen = scan_all(&store, count);
            seen.sort();
            keys.sort();
            assert_eq!(seen, keys, "shards {shards}, count {count}");
        }
    }
}

#[test]
fn random_key_returns_only_live_keys() {
    let store = store(EvictionPolicy::AllKeysLru, 5);
    assert_eq!(store.random_key(), None);
    for i in 0..1000 {
        set(&store, &key(i), b"v", Some(T0 + SECOND));
    }
    set(&store, b"survivor", b"v", Some(T0 + 2 * SECOND));
    let k = store.random_key().expect("a key");
    assert!(exists(&store, &k));
    store.clock().advance(SECOND);
    // Only one live key among many expired ones.
    for _ in 0..20 {
        assert_eq!(store.random_key().as_deref(), Some(&b"survivor"[..]));
    }
    store.clock().advance(SECOND);
    assert_eq!(store.random_key(), None);
}

#[test]
fn random_key_covers_the_key_space() {
    let store = Store::new(StoreOptions {
        clock: Clock::manual(T0),
        ..StoreOptions::default()
    });
    for i in 0..8 {
        set(&store, &key(i), b"v", None);
    }
    let mut seen = std::collections::HashSet::new();
    // 8 keys in 2,000 draws: missing one has odds of ~1e-116.
    for _ in 0..2000 {
        seen.insert(store.random_key().expect("a key"));
        if seen.len() == 8 {
            break;
        }
    }
    assert_eq!(seen.len(), 8);
}

#[test]
fn volatile_count_and_memory_follow_every_change() {
    let store = store(EvictionPolicy::AllKeysLru, 5);
    let baseline = store.used_memory();
    let slot_bytes = std::mem::size_of::<Entry>() as u64 + 1;
    let table = |store: &Store| store.lock_shard(0).num_buckets() as u64 * slot_bytes;
    let later = Some(T0 + 10 * SECOND);
    let check = |volatile: usize, entries: u64| {
        assert_eq!(store.volatile_len(), volatile);
        assert_eq!(store.used_memory(), baseline + table(&store) + entries);
    };

    set(&store, b"k", b"v", later);
    check(1, entry_bytes(b"k", b"v", later));
    set(&store, b"k", b"longer value", None);
    check(0, entry_bytes(b"k", b"longer value", None));
    set(&store, b"k", b"v", later);
    check(1, entry_bytes(b"k", b"v", later));

    // A hash replacing a string, then a string replacing the hash.
    let mut hash = HashValue::default();
    hash.insert(b"f", b"x");
    // Small and compact: held inline in its entry.
    let form = hash.inline_form().expect("a listpack").parts().concat();
    let hash_entry = Entry::packed(Kind::Hash, b"k", [&form, &[]], None, 0).heap_size() as u64;
    store.lock(b"k").put(
        b"k",
        OwnedValue::Collection(Collection::Hash(hash.clone())),
        None,
    );
    check(0, hash_entry);
    store
        .lock(b"k")
        .put(b"k", OwnedValue::Str(b"v".to_vec()), later);
    check(1, entry_bytes(b"k", b"v", later));

    // Expiry set and cleared in place.
    {
        let mut lock = store.lock(b"k");
        let index = lock.find(b"k").expect("live");
        lock.shard.set_expire_at(index, None);
    }
    check(0, entry_bytes(b"k", b"v", None));
    {
        let mut lock = store.lock(b"k");
        let index = lock.find(b"k").expect("live");
        lock.shard.set_expire_at(index, later);
    }
    check(1, entry_bytes(b"k", b"v", later));

    // Emptying a hash removes its key.
    store
        .lock(b"h")
        .put(b"h", OwnedValue::Collection(Collection::Hash(hash)), later);
    {
        let mut lock = store.lock(b"h");
        let index = lock.find(b"h").expect("live");
        lock.shard.with_hash_mut(index, |h| h.remove(b"f"));
    }
    assert!(!exists(&store, b"h"));
    check(1, entry_bytes(b"k", b"v", later));

    // Removal, lazy expiry, active expiry.
    assert!(store.lock(b"k").remove(b"k"));
    check(0, 0);
    set(&store, b"a", b"v", Some(T0 + 1));
    set(&store, b"b", b"v", Some(T0 + 1));
    store.clock().advance(1);
    assert!(!exists(&store, b"a"));
    check(1, entry_bytes(b"b", b"v", Some(T0 + 1)));
    assert_eq!(store.expire_cycle(1024), 1);
    check(0, 0);
}

#[test]
fn pooled_candidates_are_checked_against_the_current_policy() {
    for change_policy in [false, true] {
        let store = store(EvictionPolicy::AllKeysLru, ALL_SAMPLES);
        let keys = load_aging(&store, 20, None);
        assert_eq!(evict(&store, EvictionPolicy::AllKeysLru, &keys), keys[0]);
        // The pool holds keys without a TTL; volatile-lru must not take
        // them, whether or not the policy change cleared the pool.
        if change_policy {
            store.set_policy(EvictionPolicy::VolatileLru);
        }
        assert!(!store.evict_one(EvictionPolicy::VolatileLru));
        assert_eq!(store.len(), 19);
    }
}

#[test]
fn versioned_copies_keep_the_newer_state_and_deletes_stay_deleted() {
    use super::Snapshot;
    let store = store(EvictionPolicy::AllKeysLru, 5);
    let copy = |value: &[u8], version| Snapshot {
        key: b"k".to_vec(),
        value: Some((OwnedValue::Str(value.to_vec()), None)),
        version,
    };
    assert!(store.apply(copy(b"v5", 5)));
    assert!(!store.apply(copy(b"v4", 4)), "older than the local copy");
    assert!(store.apply(copy(b"v6", 6)));
    // A delete here (stamped at 10) keeps an older copy from coming back,
    // as a transfer page cut before the delete would.
    set(&store, b"k", b"x", None);
    let mut lock = store.lock(b"k");
    lock.remove(b"k");
    drop(lock);
    let deleted = store.stamp(b"k", || 10);
    assert_eq!(deleted.value, None);
    assert!(!store.apply(copy(b"v7", 7)), "cut before the delete");
    assert!(!exists(&store, b"k"));
    assert!(store.apply(copy(b"v11", 11)), "written after the delete");
    assert!(exists(&store, b"k"));
    // A replicated delete leaves the same mark.
    assert!(store.apply(Snapshot {
        key: b"k".to_vec(),
        value: None,
        version: 20,
    }));
    assert!(!store.apply(copy(b"v15", 15)));
    assert!(!exists(&store, b"k"));
}

#[test]
fn a_write_without_replicas_is_versioned_in_place() {
    use super::Snapshot;
    let store = store(EvictionPolicy::AllKeysLru, 5);
    let copy = |value: &[u8], version| Snapshot {
        key: b"k".to_vec(),
        value: Some((OwnedValue::Str(value.to_vec()), None)),
        version,
    };
    // Written here with no replica to ship to: the version it gets decides
    // against copies sent later, as a shipped write's would.
    set(&store, b"k", b"here", None);
    store.stamp_in_place(b"k", 8);
    assert_eq!(store.state_of(b"k").version, 8);
    assert!(!store.apply(copy(b"older", 7)));
    assert_eq!(store.state_of(b"k").version, 8, "the local write stays");
    assert!(store.apply(copy(b"newer", 9)));
    // A delete leaves its versioned mark.
    store.lock(b"k").remove(b"k");
    store.stamp_in_place(b"k", 12);
    assert!(!store.apply(copy(b"older", 11)));
    assert!(!exists(&store, b"k"));
}

#[test]
fn collections_are_created_typed_and_removed_when_emptied() {
    let store = store(EvictionPolicy::NoEviction, 5);
    // The table's own buckets stay once allocated: allocate them first.
    set(&store, b"l", b"v", None);
    store.lock(b"l").remove(b"l");
    let before = store.used_memory();
    let mut lock = store.lock(b"l");
    let index = lock.for_write::<ListValue>(b"l").expect("absent key");
    lock.shard.with_mut(index, |list: &mut ListValue| {
        list.push_back(b"a");
        list.push_front(b"b");
    });
    assert_eq!(lock.shard.at(index).kind(), Kind::List);
    assert_eq!(lock.for_write::<SetValue>(b"l"), Err(WrongType));
    assert!(matches!(lock.read_as::<HashValue>(b"l"), Err(WrongType)));
    let list = lock
        .read_as::<ListValue>(b"l")
        .expect("a list")
        .expect("present");
    assert_eq!(list.iter().collect::<Vec<_>>(), [&b"b"[..], b"a"]);
    let index = lock.find(b"l").expect("present");
    let emptied = lock.shard.with_mut(index, |list: &mut ListValue| {
        list.pop_back();
        list.pop_back();
    });
    assert_eq!(emptied, Some(()));
    assert!(
        lock.find(b"l").is_none(),
        "an emptied list takes its key along"
    );
    drop(lock);
    assert_eq!(store.used_memory(), before);
}

#[test]
fn an_empty_collection_made_for_a_write_that_adds_nothing_goes_away() {
    let store = store(EvictionPolicy::NoEviction, 5);
    let mut lock = store.lock(b"s");
    let index = lock.for_write::<SetValue>(b"s").expect("absent key");
    lock.shard
        .with_mut(index, |set: &mut SetValue| set.remove(b"m"));
    assert!(lock.find(b"s").is_none());
}

#[test]
fn encoding_limits_reach_the_values_on_their_next_write() {
    let store = store(EvictionPolicy::NoEviction, 5);
    store.set_encoding_limits(EncodingLimits {
        hash_max_listpack_entries: 2,
        ..EncodingLimits::default()
    });
    let mut lock = store.lock(b"h");
    let index = lock.for_write::<HashValue>(b"h").expect("absent key");
    lock.shard
        .with_mut(index, |h: &mut HashValue| h.insert(b"a", b"1"));
    assert_eq!(
        lock.shard.collection(index).map(|c| c.encoding()),
        Some("listpack")
    );
    lock.shard.with_mut(index, |h: &mut HashValue| {
        h.insert(b"b", b"1");
        h.insert(b"c", b"1")
    });
    assert_eq!(
        lock.shard.collection(index).map(|c| c.encoding()),
        Some("hashtable")
    );
}
