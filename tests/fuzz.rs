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

#[test]
fn random_and_mutated_frames_through_the_parser() {
    let seed = seed_from_env("RINGCACHE_FUZZ_SEED");
    let cases = count_from_env("RINGCACHE_FUZZ_CASES", CI_CASES);
    if let Err(failure) = fuzz_support::frames(seed, cases) {
        panic!("{failure}");
    }
}

#[test]
fn random_arguments_for_every_command_through_the_dispatcher() {
    let seed = seed_from_env("RINGCACHE_FUZZ_SEED");
    let cases = count_from_env("RINGCACHE_FUZZ_CASES", CI_CASES);
    if let Err(failure) = fuzz_support::commands(seed, cases) {
        panic!("{failure}");
    }
}

/// Cases of the cluster run in CI: slower per request (forwarding), and the
/// in-process run covers the handlers already.
const CI_CLUSTER_CASES: u64 = 20_000;

#[test]
fn random_arguments_through_a_two_node_cluster() {
    let seed = seed_from_env("RINGCACHE_FUZZ_SEED");
    let cases = count_from_env("RINGCACHE_FUZZ_CASES", CI_CASES).min(CI_CLUSTER_CASES);
    if let Err(failure) = fuzz_support::commands_on_cluster(2, seed, cases) {
        panic!("{failure}");
    }
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
    for bad in [
        &b":+5\r\n"[..],
        b":05\r\n",
        b"$-2\r\n",
        b"*-2\r\n",
        b"+a\nb\r\n",
        b"$1\r\nab\r\n",
        b"_\r\n",
        b"%0\r\n",
        b"-\r\n",
        b"?\r\n",
    ] {
        assert!(decode(bad, false).is_err(), "{}", common::wire::escape(bad));
    }
    for bad in [
        &b"#x\r\n"[..],
        b",1.5x\r\n",
        b"=3\r\nabc\r\n",
        b"_x\r\n",
        b"~-1\r\n",
    ] {
        assert!(decode(bad, true).is_err(), "{}", common::wire::escape(bad));
    }
    assert_eq!(decode(b"*2\r\n:1\r\n", false), Ok(None));
}

#[test]
fn shrinking_keeps_what_fails() {
    let input: Vec<u32> = (0..100).collect();
    let minimal = fuzz_support::shrink::shrink(input, 1000, |c| c.contains(&17) && c.contains(&80));
    assert_eq!(minimal, vec![17, 80]);
}
