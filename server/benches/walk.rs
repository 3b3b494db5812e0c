//! Key-space walks and glob matching: how long one shard's lock is held.
//!
//! * `walk/keys_in_shard/*` — `Store::keys_in_shard` over one shard of a
//!   store of 1M keys (`key:00000000` .. `key:00999999`, 32-byte values)
//!   in the default 64 shards, about 15.6k keys per shard: with `*` (the
//!   shortcut, every key copied out), `key:*99` (about 1% returned), and
//!   the pathological `a*a*...*b` of issue 9 (20 stars, nothing returned).
//!   This is the longest a KEYS holds any one lock.
//! * `glob/pathological` — one match of that pattern against 40 `a`s, and
//!   of the CONFIG GET pattern (six copies of `"*?"x16 + "!"`) against a
//!   long name.

use std::hint::black_box;

use criterion::{criterion_main, Criterion};
use ringcache_server::glob::Pattern;
use ringcache_server::store::{Store, StoreOptions};

/// Keys in the walked store.
const KEYS: usize = 1_000_000;

fn bench_walk(c: &mut Criterion) {
    let store = Store::new(StoreOptions::default());
    let value = [b'v'; 32];
    for i in 0..KEYS {
        let key = format!("key:{i:08}");
        store
            .lock(key.as_bytes())
            .put_string(key.as_bytes(), &value, None);
    }
    let pathological = format!("{}b", "a*".repeat(20));
    let mut group = c.benchmark_group("walk/keys_in_shard");
    for (name, pattern) in [
        ("all", "*"),
        ("one_percent", "key:*99"),
        ("pathological", pathological.as_str()),
    ] {
        let pattern = Pattern::new(pattern.as_bytes());
        group.bench_function(name, |b| {
            b.iter(|| black_box(store.keys_in_shard(black_box(7), &pattern)).len());
        });
    }
    group.finish();
}

fn bench_glob(c: &mut Criterion) {
    let mut group = c.benchmark_group("glob/pathological");
    let stars = format!("{}b", "a*".repeat(20));
    let text = [b'a'; 40];
    group.bench_function("stars_40a", |b| {
        b.iter(|| Pattern::new(black_box(stars.as_bytes())).matches(black_box(&text)));
    });
    let config = format!("{}!", "*?".repeat(16)).repeat(6);
    let name = [b'x'; 200];
    group.bench_function("config_get_200", |b| {
        b.iter(|| Pattern::nocase(black_box(config.as_bytes())).matches(black_box(&name)));
    });
    group.finish();
}

/// The criterion group; a private module so the generated `pub fn` is not
/// part of the crate's (documented) surface.
mod group {
    criterion::criterion_group!(benches, super::bench_walk, super::bench_glob);
}
criterion_main!(group::benches);
