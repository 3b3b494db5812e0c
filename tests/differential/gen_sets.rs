//! The set commands of the differential test: seeded random SADD, SREM,
//! SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE,
//! SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF,
//! SDIFFSTORE and SSCAN over a few set keys (and keys of other types, for
//! WRONGTYPE; DEL, EXPIRE, COPY and RENAME of them too), with members that are integers to Redis and members that
//! only look like them, empty, binary and long ones, and now and then
//! enough members to cross the encoding thresholds.
//!
//! SPOP takes random members, so after one the key is rebuilt on both
//! servers from redis-server's members ([`resync_after_spop`]).

use crate::common::random::Gen;
use crate::common::wire::{Frame, RawConn};

/// The set keys (also in the key space of the other generators).
pub const SET_KEYS: &[&str] = &["s1", "s2", "s3"];
/// Keys of any type a set command may meet.
const OTHER_KEYS: &[&str] = &["k1", "h1", "n1"];
const MEMBERS: &[&str] = &[
    "1",
    "2",
    "3",
    "10",
    "-5",
    "0",
    "007",
    "+1",
    "1.0",
    "-0",
    " 1",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "a",
    "b",
    "c",
    "hello world",
    "",
];
const PATTERNS: &[&str] = &["*", "1*", "?", "[ab]", "*o*", "nomatch", "", "-*"];
const COUNTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "100",
    "-1",
    "-3",
    "-10",
    "x",
    "1.5",
    "9223372036854775807",
    "-9223372036854775808",
];

fn key(g: &mut Gen) -> Vec<u8> {
    if g.chance(0.9) {
        g.pick_bytes(SET_KEYS)
    } else {
        g.pick_bytes(OTHER_KEYS)
    }
}

fn member(g: &mut Gen) -> Vec<u8> {
    match g.below(12) {
        0..=5 => g.pick_bytes(MEMBERS),
        6..=8 => g.small_int(-20, 40),
        9 => g.word(4),
        10 => g.binary(4),
        // Around set-max-listpack-value (64 bytes).
        _ => vec![b'x'; g.rng().usize(60..70)],
    }
}

/// Members for one SADD: a few, or now and then enough distinct ones to
/// cross a threshold (128 for a listpack, 512 for an intset).
fn members(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    match g.below(40) {
        0 => {
            let start = g.rng().i64(-100..100);
            let n = g.rng().i64(120..140);
            argv.extend((start..start + n).map(|i| format!("m{i}").into_bytes()));
        }
        1 => {
            let start = g.rng().i64(-600..600);
            let n = *g.pick(&[126, 127, 128, 129, 510, 511, 512, 513, 514]);
            argv.extend((start..start + n).map(|i| i.to_string().into_bytes()));
        }
        _ => {
            argv.push(member(g));
            for _ in 0..g.below(4) {
                argv.push(member(g));
            }
        }
    }
}

/// Several keys (for the commands over sets).
fn keys(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    argv.push(key(g));
    for _ in 0..g.below(3) {
        argv.push(key(g));
    }
}

fn words(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// One set command.
pub fn command(g: &mut Gen) -> Vec<Vec<u8>> {
    const NAMES: &[&str] = &[
        "SADD",
        "SADD",
        "SADD",
        "SADD",
        "SREM",
        "SREM",
        "SMEMBERS",
        "SISMEMBER",
        "SMISMEMBER",
        "SCARD",
        "SPOP",
        "SRANDMEMBER",
        "SMOVE",
        "SINTER",
        "SINTERCARD",
        "SINTERSTORE",
        "SUNION",
        "SUNIONSTORE",
        "SDIFF",
        "SDIFFSTORE",
        "SSCAN",
    ];
    let name = *g.pick(NAMES);
    let mut argv = words(&[name]);
    match name {
        "SADD" => {
            argv.push(key(g));
            members(g, &mut argv);
        }
        "SREM" | "SMISMEMBER" => {
            argv.push(key(g));
            for _ in 0..=g.below(4) {
                argv.push(member(g));
            }
        }
        "SISMEMBER" => argv.extend([key(g), member(g)]),
        "SPOP" | "SRANDMEMBER" => {
            argv.push(key(g));
            if g.chance(0.7) {
                argv.push(g.pick_bytes(COUNTS));
            }
        }
        "SMOVE" => argv.extend([key(g), key(g), member(g)]),
        "SINTER" | "SUNION" | "SDIFF" => keys(g, &mut argv),
        "SINTERSTORE" | "SUNIONSTORE" | "SDIFFSTORE" => {
            argv.push(key(g));
            keys(g, &mut argv);
        }
        "SINTERCARD" => {
            let mut named = Vec::new();
            keys(g, &mut named);
            let numkeys = if g.chance(0.9) {
                named.len().to_string().into_bytes()
            } else {
                g.pick_bytes(&["0", "-1", "x", "9"])
            };
            argv.push(numkeys);
            argv.extend(named);
            if g.chance(0.4) {
                argv.push(g.pick_bytes(&["LIMIT", "limit", "BAD"]));
                argv.push(g.pick_bytes(&["0", "1", "2", "-1", "x"]));
            }
        }
        "SSCAN" => {
            argv.push(key(g));
            argv.push(g.pick_bytes(&["0", "0", "0", "x", "-1"]));
            for _ in 0..g.below(3) {
                match g.below(4) {
                    0 | 1 => argv.extend([b"MATCH".to_vec(), g.pick_bytes(PATTERNS)]),
                    2 => argv.extend([
                        b"COUNT".to_vec(),
                        g.pick_bytes(&["1", "2", "10", "0", "-1", "x"]),
                    ]),
                    _ => argv.push(g.pick_bytes(&["BAD", "NOVALUES", "TYPE"])),
                }
            }
        }
        "EXPIRE" => argv.extend([key(g), b"100000".to_vec()]),
        "COPY" | "RENAME" => {
            argv.extend([key(g), key(g)]);
            if name == "COPY" && g.chance(0.5) {
                argv.push(b"REPLACE".to_vec());
            }
        }
        _ => argv.push(key(g)),
    }
    argv
}

/// After an SPOP (its members are random picks, different on each server),
/// rebuilds the key on both servers from redis-server's members, in one
/// SADD, so later commands compare equal.
pub fn resync_after_spop(argv: &[Vec<u8>], redis: &mut RawConn, ours: &mut RawConn) {
    if !argv[0].eq_ignore_ascii_case(b"spop") || argv.len() < 2 {
        return;
    }
    let key = argv[1].clone();
    let (Frame::Set(left) | Frame::Array(left)) = redis.call(&[b"SMEMBERS".to_vec(), key.clone()])
    else {
        // Another type, or an error: nothing was popped.
        return;
    };
    let mut rebuild = vec![b"SADD".to_vec(), key.clone()];
    rebuild.extend(left.iter().filter_map(|m| m.bytes().map(<[u8]>::to_vec)));
    for server in [redis, ours] {
        server.call(&[b"DEL".to_vec(), key.clone()]);
        if rebuild.len() > 2 {
            server.call(&rebuild);
        }
    }
}
