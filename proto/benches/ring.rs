//! Consistent hash ring micro-benchmarks.
//!
//! Measures the routing work a node or client does per key, and the cost of
//! recomputing placement when membership changes:
//!
//! * `ring/owners_for_key` — [`key_slot`] + [`Placement::owners`] for one
//!   key (10 nodes, 3 copies), what routing a request costs. Keys rotate
//!   through 1,024 distinct `key:NNNNNN` names so the table lookups are not
//!   all the same cache line;
//! * `ring/walk_3_copies/{3,10}_nodes` — [`slot_point`] + one [`Ring::walk`]
//!   for 3 distinct owners (a binary search over 768 or 2,560 points plus
//!   the clockwise walk), what building one slot of a placement costs;
//!   the slot rotates through all 16,384;
//! * `ring/placement_new/{3,10}_nodes` — [`Placement::new`] with 256 virtual
//!   nodes and 3 copies: hashing and sorting every point, then a walk for
//!   each of the 16,384 slots. This runs once per membership change.

use std::hint::black_box;

use criterion::{criterion_main, BenchmarkId, Criterion};
use ringcache_proto::ring::slot_point;
use ringcache_proto::{key_slot, Placement, Ring, RingMember, DEFAULT_VNODES, SLOT_COUNT};

/// `count` members called `node-0`, `node-1`, ..., each of weight 1.
fn members(count: usize) -> Vec<RingMember> {
    (0..count)
        .map(|i| RingMember::new(format!("node-{i}")))
        .collect()
}

fn bench_ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring");

    let placement = Placement::new(&members(10), DEFAULT_VNODES, 3);
    let keys: Vec<Vec<u8>> = (0..1024)
        .map(|i| format!("key:{i:06}").into_bytes())
        .collect();
    group.bench_function("owners_for_key", |b| {
        let mut next = 0;
        b.iter(|| {
            let key = &keys[next % keys.len()];
            next += 1;
            let slot = key_slot(black_box(key));
            black_box(placement.owners(slot)).len()
        });
    });

    for nodes in [3, 10] {
        let ring = Ring::new(&members(nodes), DEFAULT_VNODES);
        group.bench_with_input(
            BenchmarkId::new("walk_3_copies", format!("{nodes}_nodes")),
            &ring,
            |b, ring| {
                let mut out = Vec::with_capacity(3);
                let mut slot = 0u16;
                b.iter(|| {
                    slot = (slot + 1) % SLOT_COUNT;
                    ring.walk(black_box(slot_point(slot)), 3, &mut out);
                    out.len()
                });
            },
        );
    }

    for nodes in [3, 10] {
        let members = members(nodes);
        group.bench_with_input(
            BenchmarkId::new("placement_new", format!("{nodes}_nodes")),
            &members,
            |b, members| b.iter(|| Placement::new(black_box(members), DEFAULT_VNODES, 3)),
        );
    }

    group.finish();
}

/// The criterion group; a private module so the generated `pub fn` is not
/// part of the crate's (documented) surface.
mod group {
    criterion::criterion_group!(benches, super::bench_ring);
}

criterion_main!(group::benches);
