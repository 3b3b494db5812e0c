//! ACL check micro-benchmarks: the work the pipeline adds to each request
//! of an authenticated client (`User::check`), on arguments already parsed:
//!
//! * `acl/get_unrestricted` — the `default` user (allowed everything: the
//!   fast path, one flag);
//! * `acl/get_10_patterns`, `acl/set_10_patterns` — a user with `+@all`
//!   and ten key patterns, the one that matches last (`GET key:000042`,
//!   `SET key:000042 value`: the command bit, the key's access from its
//!   key-spec flags, ten glob matches).

use std::hint::black_box;

use criterion::{criterion_main, Criterion};
use ringcache_server::acl::User;
use ringcache_server::commands::lookup_indexed;
use ringcache_server::protocol::Args;

/// A user with ten key patterns, the matching one last.
fn ten_patterns() -> User {
    let mut user = User::new("bench");
    let mut rules: Vec<Vec<u8>> = vec![b"on".to_vec(), b"nopass".to_vec(), b"+@all".to_vec()];
    rules.extend((0..9).map(|i| format!("~p{i}:*").into_bytes()));
    rules.push(b"~key:*".to_vec());
    user.apply_all(rules.iter().map(Vec::as_slice))
        .expect("the benchmark's rules are valid");
    user
}

fn bench_acl(c: &mut Criterion) {
    let mut group = c.benchmark_group("acl");
    let get = b"GETkey:000042";
    let get_ranges = [(0, 3), (3, 13)];
    let set = b"SETkey:000042value";
    let set_ranges = [(0, 3), (3, 13), (13, 18)];
    let (get_index, get_spec) = lookup_indexed(b"GET").expect("GET");
    let (set_index, set_spec) = lookup_indexed(b"SET").expect("SET");
    let default = User::new_default();
    let restricted = ten_patterns();
    let cases = [
        (
            "get_unrestricted",
            &default,
            get_index,
            get_spec,
            &get[..],
            &get_ranges[..],
        ),
        (
            "get_10_patterns",
            &restricted,
            get_index,
            get_spec,
            &get[..],
            &get_ranges[..],
        ),
        (
            "set_10_patterns",
            &restricted,
            set_index,
            set_spec,
            &set[..],
            &set_ranges[..],
        ),
    ];
    for (name, user, index, spec, buf, ranges) in cases {
        let args = Args::new(buf, ranges);
        assert!(user.check(index, spec, args).is_ok(), "{name} is allowed");
        group.bench_function(name, |b| {
            b.iter(|| black_box(user).check(index, spec, black_box(args)));
        });
    }
    group.finish();
}

/// The criterion group; a private module so the generated `pub fn` is not
/// part of the crate's (documented) surface.
mod group {
    criterion::criterion_group!(benches, super::bench_acl);
}

criterion_main!(group::benches);
