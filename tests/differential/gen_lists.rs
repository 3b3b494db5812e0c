//! The list commands of the differential test: pushes, pops (with counts
//! of every kind), ranges and indexes at the edges, LSET, LINSERT, LREM,
//! LTRIM, LPOS with its options, LMOVE, RPOPLPUSH and LMPOP, on a few list
//! keys that strings and hashes sometimes overwrite (WRONGTYPE), with bad
//! numbers and options mixed in. The blocking forms run with elements
//! present or with a short timeout, and with bad timeouts.

use crate::common::random::Gen;

/// Keys the list commands mostly use (state-checked with `gen::KEYS`).
pub const LIST_KEYS: &[&str] = &["l1", "l2", "{a}l"];
/// Keys of other families they sometimes hit (and the key commands, RENAME
/// and COPY among them, then meet lists).
const OTHER_KEYS: &[&str] = &["k1", "h1", "{a}1"];
const ELEMENTS: &[&str] = &[
    "a",
    "b",
    "c",
    "",
    "1",
    "-1",
    "007",
    "hello world",
    "9223372036854775807",
    "-9223372036854775808",
];
/// Counts, indexes and ranks: small ones mostly, and the edges.
const EDGES: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "x",
    "",
    "1.5",
    "-0",
    "+1",
];
const TIMEOUTS: &[&str] = &["0.01", "0.01", "0.01", "-1", "x", "inf", "nan", ""];

fn args(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// One list command.
pub fn command(g: &mut Gen) -> Vec<Vec<u8>> {
    let names = "LPUSH LPUSH RPUSH RPUSH LPUSHX RPUSHX LPOP LPOP RPOP LLEN LRANGE LRANGE \
                 LINDEX LSET LINSERT LREM LTRIM LPOS LPOS LMOVE RPOPLPUSH LMPOP BLPOP BRPOP \
                 BLMOVE BRPOPLPUSH BLMPOP";
    let names: Vec<&str> = names.split_whitespace().collect();
    let name = names[g.below(names.len())];
    let mut argv = args(&[name]);
    match name {
        "LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX" => {
            argv.push(key(g));
            for _ in 0..g.rng().usize(1..5) {
                argv.push(element(g));
            }
        }
        "LPOP" | "RPOP" => {
            argv.push(key(g));
            if g.chance(0.5) {
                argv.push(number(g, 0, 6));
            }
        }
        "LLEN" => argv.push(key(g)),
        "LRANGE" | "LTRIM" => argv.extend([key(g), number(g, -8, 8), number(g, -8, 8)]),
        "LINDEX" => argv.extend([key(g), number(g, -8, 8)]),
        "LSET" => argv.extend([key(g), number(g, -6, 6), element(g)]),
        "LINSERT" => {
            let place = g.pick_bytes(&["BEFORE", "after", "AFTER", "middle"]);
            argv.extend([key(g), place, element(g), element(g)]);
        }
        "LREM" => argv.extend([key(g), number(g, -3, 3), element(g)]),
        "LPOS" => {
            argv.extend([key(g), element(g)]);
            lpos_options(g, &mut argv);
        }
        "LMOVE" | "BLMOVE" => {
            argv.extend([key(g), key(g), side(g), side(g)]);
            if name == "BLMOVE" {
                argv.push(g.pick_bytes(TIMEOUTS));
            }
        }
        "RPOPLPUSH" => argv.extend([key(g), key(g)]),
        "BRPOPLPUSH" => argv.extend([key(g), key(g), g.pick_bytes(TIMEOUTS)]),
        "BLPOP" | "BRPOP" => {
            for _ in 0..g.rng().usize(1..4) {
                argv.push(key(g));
            }
            argv.push(g.pick_bytes(TIMEOUTS));
        }
        _ => {
            if name == "BLMPOP" {
                argv.push(g.pick_bytes(TIMEOUTS));
            }
            mpop_args(g, &mut argv);
        }
    }
    argv
}

fn key(g: &mut Gen) -> Vec<u8> {
    if g.chance(0.85) {
        g.pick_bytes(LIST_KEYS)
    } else {
        g.pick_bytes(OTHER_KEYS)
    }
}

fn element(g: &mut Gen) -> Vec<u8> {
    match g.below(10) {
        0..=6 => g.pick_bytes(ELEMENTS),
        7 => g.small_int(-5, 200),
        8 => g.word(8),
        _ => g.binary(6),
    }
}

/// A number in `lo..=hi` mostly, an edge sometimes.
fn number(g: &mut Gen, lo: i64, hi: i64) -> Vec<u8> {
    if g.chance(0.9) {
        g.small_int(lo, hi)
    } else {
        g.pick_bytes(EDGES)
    }
}

fn side(g: &mut Gen) -> Vec<u8> {
    g.pick_bytes(&["LEFT", "RIGHT", "left", "right", "UP"])
}

fn lpos_options(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    for _ in 0..g.below(4) {
        match g.below(5) {
            0 => argv.extend([b"RANK".to_vec(), number(g, -3, 3)]),
            1 => argv.extend([b"COUNT".to_vec(), number(g, -1, 3)]),
            2 => argv.extend([b"MAXLEN".to_vec(), number(g, -1, 6)]),
            3 => argv.push(g.pick_bytes(&["COUNT", "rank", "BAD"])),
            _ => argv.extend([
                b"rank".to_vec(),
                g.pick_bytes(&["-9223372036854775808", "0"]),
            ]),
        }
    }
}

/// `numkeys key [key ...] LEFT|RIGHT [COUNT count]`, sometimes wrong.
fn mpop_args(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    let keys = g.rng().usize(1..4);
    let numkeys = if g.chance(0.85) {
        keys.to_string().into_bytes()
    } else {
        g.pick_bytes(&["0", "-1", "x", "5", "9223372036854775807"])
    };
    argv.push(numkeys);
    for _ in 0..keys {
        argv.push(key(g));
    }
    argv.push(side(g));
    if g.chance(0.4) {
        argv.extend([b"COUNT".to_vec(), number(g, 0, 4)]);
    }
    if g.chance(0.05) {
        argv.push(g.pick_bytes(&["COUNT", "BAD"]));
    }
}
