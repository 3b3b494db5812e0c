//! Fuzzing the node on stable Rust (issue 9, point 10): random and mutated
//! RESP frames through the parser, and random argument vectors for every
//! command of the table through the dispatcher, each family 100,000 cases
//! against an in-process node. Asserted: no panic, every reply well-formed
//! RESP (strictly decoded), a connection closed only for a reason the
//! client gave, PING answered afterwards.
//!
//! `RINGCACHE_FUZZ_SEED` replays a run (the seed is printed at the start),
//! `RINGCACHE_FUZZ_CASES` changes the number of cases per family. Long
//! runs: `cargo run --release --example fuzz -- --cases 10000000`.

mod common;
mod fuzz_support;

use common::random::{count_from_env, seed_from_env};
use common::wire::{decode, Frame};

/// Cases per family in CI.
const CI_CASES: u64 = 100_000;

/// Runs one family with the seed and case count of the environment (at
/// most `max_cases` cases); a failure is the test's panic.
fn run_family(max_cases: u64, family: fn(u64, u64) -> Result<String, String>) {
    let seed = seed_from_env("RINGCACHE_FUZZ_SEED");
    let cases = count_from_env("RINGCACHE_FUZZ_CASES", CI_CASES).min(max_cases);
    if let Err(failure) = family(seed, cases) {
        panic!("{failure}");
    }
}

#[test]
fn random_and_mutated_frames_through_the_parser() {
    run_family(u64::MAX, fuzz_support::frames);
}

#[test]
fn random_arguments_for_every_command_through_the_dispatcher() {
    run_family(u64::MAX, fuzz_support::commands);
}

/// Cases of the cluster run in CI: slower per request (forwarding), and the
/// in-process run covers the handlers already.
const CI_CLUSTER_CASES: u64 = 20_000;

#[test]
fn random_arguments_through_a_two_node_cluster() {
    run_family(CI_CLUSTER_CASES, |seed, cases| {
        fuzz_support::commands_on_cluster(2, seed, cases)
    });
}

#[test]
fn the_strict_decoder_refuses_what_redis_never_sends() {
    let ok = |b: &[u8], resp3| decode(b, resp3).unwrap().unwrap().0;
    assert_eq!(ok(b"$-1\r\n", false), Frame::NullBulk);
    assert_eq!(ok(b"*-1\r\n", false), Frame::NullArray);
    assert_eq!(
        ok(b"=8\r\ntxt:abcd\r\n", true),
        Frame::Verbatim(*b"txt", b"abcd".to_vec())
    );
    assert_eq!(
        ok(b"%1\r\n+a\r\n,1.5\r\n", true),
        Frame::Map(vec![(
            Frame::Simple(b"a".to_vec()),
            Frame::Double("1.5".into())
        )])
    );
    // Malformed in RESP2 (RESP3 types included), then in RESP3.
    let refused: [(&[u8], bool); 15] = [
        (b":+5\r\n", false),
        (b":05\r\n", false),
        (b"$-2\r\n", false),
        (b"*-2\r\n", false),
        (b"+a\nb\r\n", false),
        (b"$1\r\nab\r\n", false),
        (b"_\r\n", false),
        (b"%0\r\n", false),
        (b"-\r\n", false),
        (b"?\r\n", false),
        (b"#x\r\n", true),
        (b",1.5x\r\n", true),
        (b"=3\r\nabc\r\n", true),
        (b"_x\r\n", true),
        (b"~-1\r\n", true),
    ];
    for (bad, resp3) in refused {
        assert!(decode(bad, resp3).is_err(), "{}", common::wire::escape(bad));
    }
    assert_eq!(decode(b"*2\r\n:1\r\n", false), Ok(None));
}

#[test]
fn shrinking_keeps_what_fails() {
    let input: Vec<u32> = (0..100).collect();
    let minimal = fuzz_support::shrink::shrink(input, 1000, |c| c.contains(&17) && c.contains(&80));
    assert_eq!(minimal, vec![17, 80]);
}
