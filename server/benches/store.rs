//! Key-space (store) micro-benchmarks.
//!
//! Measures the store operations behind the hot commands, called the way
//! the command handlers call them, single-threaded (no lock contention):
//!
//! * `store/get_hit` — `lock(key)` + `read(key)` + `shard.value(index)` on
//!   a key that exists, in a store of 100k 32-byte string values;
//! * `store/get_miss` — the same lookup for a key that does not exist;
//! * `store/set_overwrite` — `make_room()` + `lock(key)` + `put_string` on a
//!   key that already holds a string of the same size (SET's replace path);
//! * `store/set_new_key` — the same for a key that does not exist yet. Each
//!   batch of up to 100k fresh keys is removed again outside the timed
//!   section, so the store stays at about 100k keys;
//! * `store/evict_one_allkeys_lru_100k` — one `evict_one(AllKeysLru)` with
//!   the default 5 samples, 64 shards and 100k keys. Evictions are timed in
//!   batches of 1,000; after each batch the same number of new keys is
//!   inserted outside the timed section, so the store stays populated;
//! * `store/expire_cycle/*` — one full pass of active expiry
//!   (`expire_cycle` with a budget of every bucket) over a single shard
//!   holding 100k volatile keys. `none_expired`: every TTL is in the
//!   future, so the pass only scans. `half_expired`: 50k of the keys have
//!   expired and are reclaimed by the pass; they are put back (untimed)
//!   between passes. Throughput is in buckets scanned.
//!
//! The get/set/evict stores use the default options (64 shards, system
//! clock, allkeys-lru, no `maxmemory`); the expiry store uses a manual clock
//! so exactly the intended keys are expired.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_main, BatchSize, Criterion, Throughput};
use ringcache_server::store::{Clock, EvictionPolicy, Store, StoreOptions, ValueRef};

/// Keys loaded into the populated stores.
const KEYS: usize = 100_000;
/// Evictions timed together between two refills.
const EVICT_BATCH: u64 = 1_000;
/// Manual-clock start for the expiry benchmarks (Unix ms).
const T0: u64 = 1_700_000_000_000;

fn keys(prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{prefix}:{i:08}").into_bytes())
        .collect()
}

fn value() -> Vec<u8> {
    vec![b'v'; 32]
}

/// A default store (64 shards, system clock, allkeys-lru) holding `keys`.
fn populated(keys: &[Vec<u8>]) -> Store {
    let store = Store::new(StoreOptions::default());
    let value = value();
    for key in keys {
        store.lock(key).put_string(key, &value, None);
    }
    store
}

/// GET as the command handler does it; returns the value length.
#[inline]
fn get(store: &Store, key: &[u8]) -> usize {
    let mut lock = store.lock(key);
    match lock.read(key).map(|i| lock.shard.value(i)) {
        Some(ValueRef::Str(v)) => black_box(v).len(),
        Some(_) => 1,
        None => 0,
    }
}

/// SET as the command handler does it (the DENYOOM check, then the write).
#[inline]
fn set(store: &Store, key: &[u8], value: &[u8]) {
    store
        .make_room()
        .expect("no maxmemory bound in these benchmarks");
    store.lock(key).put_string(key, value, None);
}

/// Cycles through `items` forever.
struct Cycle<'a, T> {
    items: &'a [T],
    next: usize,
}

impl<'a, T> Cycle<'a, T> {
    fn new(items: &'a [T]) -> Self {
        Cycle { items, next: 0 }
    }

    #[inline]
    fn next(&mut self) -> &'a T {
        let item = &self.items[self.next];
        self.next += 1;
        if self.next == self.items.len() {
            self.next = 0;
        }
        item
    }
}

fn bench_get_set(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    let present = keys("key", KEYS);
    let store = populated(&present);
    let value = value();

    group.bench_function("get_hit", |b| {
        let mut cycle = Cycle::new(&present);
        b.iter(|| get(&store, black_box(cycle.next())));
    });

    let absent = keys("missing", KEYS);
    group.bench_function("get_miss", |b| {
        let mut cycle = Cycle::new(&absent);
        b.iter(|| get(&store, black_box(cycle.next())));
    });

    group.bench_function("set_overwrite", |b| {
        let mut cycle = Cycle::new(&present);
        b.iter(|| set(&store, black_box(cycle.next()), black_box(&value)));
    });

    let fresh = keys("fresh", KEYS);
    group.bench_function("set_new_key", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(fresh.len() as u64) as usize;
                let start = Instant::now();
                for key in &fresh[..n] {
                    set(&store, black_box(key), black_box(&value));
                }
                elapsed += start.elapsed();
                for key in &fresh[..n] {
                    store.lock(key).remove(key);
                }
                left -= n as u64;
            }
            elapsed
        });
    });
    group.finish();
}

fn bench_evict(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    let store = populated(&keys("key", KEYS));
    let value = value();
    let mut refill = 0u64;
    group.bench_function("evict_one_allkeys_lru_100k", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(EVICT_BATCH);
                let start = Instant::now();
                for _ in 0..n {
                    let evicted = store.evict_one(black_box(EvictionPolicy::AllKeysLru));
                    assert!(evicted, "a populated store always has a victim");
                }
                elapsed += start.elapsed();
                for _ in 0..n {
                    let key = format!("refill:{refill:012}").into_bytes();
                    refill += 1;
                    store.lock(&key).put_string(&key, &value, None);
                }
                left -= n;
            }
            elapsed
        });
    });
    assert_eq!(store.len(), KEYS, "refills keep the store populated");
    group.finish();
}

/// A one-shard store on a manual clock at `T0` holding `KEYS` volatile
/// keys: the first `expired` of them expire 1 ms from now (and the clock is
/// then moved past that), the rest in an hour.
fn volatile_store(expired: usize) -> (Store, Vec<Vec<u8>>) {
    let store = Store::new(StoreOptions {
        shards: 1,
        clock: Clock::manual(T0),
        ..StoreOptions::default()
    });
    let keys = keys("ttl", KEYS);
    let value = value();
    let now = store.now();
    for (i, key) in keys.iter().enumerate() {
        let expire_at = if i < expired {
            now + 1
        } else {
            now + 3_600_000
        };
        store.lock(key).put_string(key, &value, Some(expire_at));
    }
    store.clock().advance(1);
    (store, keys[..expired].to_vec())
}

fn bench_expire(c: &mut Criterion) {
    let mut group = c.benchmark_group("store/expire_cycle");

    let (store, _) = volatile_store(0);
    let buckets = store.lock_shard(0).num_buckets();
    group.throughput(Throughput::Elements(buckets as u64));
    group.bench_function("none_expired", |b| {
        b.iter(|| {
            let removed = store.expire_cycle(black_box(buckets));
            assert_eq!(removed, 0);
        });
    });
    drop(store);

    let half = KEYS / 2;
    let (store, expiring) = volatile_store(half);
    let buckets = store.lock_shard(0).num_buckets();
    let value = value();
    group.throughput(Throughput::Elements(buckets as u64));
    group.bench_function("half_expired", |b| {
        b.iter_batched(
            || {
                // Put the reclaimed keys back, expiring 1 ms from now, then
                // let that millisecond pass.
                let now = store.now();
                for key in &expiring {
                    store.lock(key).put_string(key, &value, Some(now + 1));
                }
                store.clock().advance(1);
            },
            |()| {
                let removed = store.expire_cycle(black_box(buckets));
                assert_eq!(removed, half, "one full pass reclaims every expired key");
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// The criterion group; a private module so the generated `pub fn` is not
/// part of the crate's (documented) surface.
mod group {
    criterion::criterion_group!(
        benches,
        super::bench_get_set,
        super::bench_evict,
        super::bench_expire
    );
}

criterion_main!(group::benches);
