//! Seeded random command sequences over strings, hashes, bitmaps,
//! HyperLogLogs, sorted sets, sets (`gen_sets.rs`), lists (`gen_lists.rs`),
//! keys and TTLs, with MULTI/EXEC blocks (`gen_tx.rs`) and Lua scripts
//! (`gen_scripts.rs`) mixed in, on a small key space, so commands collide (WRONGTYPE,
//! missing keys, overwrites, a HyperLogLog appended to), with wrong
//! arities, bad integers and bad options mixed in.
//!
//! TTL amounts stay far from "now" (at least 1000 s ahead, or in the
//! past): both servers get each command a moment apart, and a key must not
//! expire on one and not yet on the other.

use std::collections::VecDeque;

use crate::common::random::Gen;

mod bits;
#[path = "gen_zsets.rs"]
mod zsets;

/// Keys every generic command picks from (strings, hashes, TTLs, ...);
/// the families' own keys follow in [`KEYS`].
const GENERAL: usize = 10;

/// The key space: the general keys, the sorted-set keys, the
/// HyperLogLog keys, and last the sorted-set lex key (which only the lex
/// commands write).
pub const KEYS: &[&str] = &[
    "k1", "k2", "k3", "k4", "h1", "h2", "h3", "{a}1", "{a}2", "n1", "z1", "z2", "z3", "p1", "p2",
    "zl",
];
const HASH_KEYS: &[&str] = &["h1", "h2", "h3", "k1"];
const FIELDS: &[&str] = &["f1", "f2", "f3", "f4", "", "n"];
const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "10",
    "007",
    "3.5",
    "-2.25",
    "abc",
    "hello world",
    "9223372036854775807",
    "-9223372036854775808",
    "1e3",
    " 5",
    "inf",
    "12345678901234567890",
];
const INTEGERS: &[&str] = &[
    "1",
    "-1",
    "5",
    "-5",
    "100",
    "0",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "abc",
    "1.5",
    "",
    " 1",
    "+1",
    "01",
];
/// Increments whose sums are exact in binary, in f64 as in long double.
const FLOATS: &[&str] = &[
    "0.5", "-0.25", "1.5", "2.75", "-3", "10", "1e2", "5.0e3", "0", "-0", "inf", "-inf", "nan",
    "abc", "", "1.", ".5",
];
/// Increments that are not exact in binary (the last digits differ).
const INEXACT_FLOATS: &[&str] = &["0.1", "0.3", "1e-5", "3.3333"];
const PATTERNS: &[&str] = &[
    "*", "k*", "h?", "[kh]1", "[^k]*", "{a}*", "k[1-3]", "*1", "\\{*", "nomatch", "", "f*", "?",
    "[a-z]*",
];
/// HRANDFIELD counts; negative ones stay small (Redis builds a reply of
/// any length).
const HRANDFIELD_COUNTS: &[&str] = &[
    "0",
    "1",
    "2",
    "5",
    "-1",
    "-3",
    "-10",
    "x",
    "9223372036854775807",
    "-9223372036854775808",
];
const TTL_EDGES: &[&str] = &[
    "0",
    "-1",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775",
    "9223372036854776",
    "abc",
    "",
    "1.5",
];

/// Generates one sequence's commands.
pub struct CommandGen {
    g: Gen,
    now_secs: i64,
    /// The rest of a block (a transaction) already generated.
    pending: VecDeque<Vec<Vec<u8>>>,
}

fn args(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

impl CommandGen {
    /// A generator for `seed`; absolute TTLs are placed around `now_secs`.
    pub fn new(seed: u64, now_secs: i64) -> CommandGen {
        CommandGen {
            g: Gen::new(seed),
            now_secs,
            pending: VecDeque::new(),
        }
    }

    fn key(&mut self) -> Vec<u8> {
        // Mostly the general keys, so the families' own keys keep their
        // types (HyperLogLogs live long enough to grow dense); never the
        // lex key.
        if self.g.chance(0.85) {
            self.g.pick_bytes(&KEYS[..GENERAL])
        } else {
            self.g.pick_bytes(&KEYS[..KEYS.len() - 1])
        }
    }

    fn hash_key(&mut self) -> Vec<u8> {
        if self.g.chance(0.8) {
            self.g.pick_bytes(HASH_KEYS)
        } else {
            self.key()
        }
    }

    fn value(&mut self) -> Vec<u8> {
        match self.g.below(10) {
            0..=5 => self.g.pick_bytes(VALUES),
            6 | 7 => self.g.small_int(-20, 50),
            8 => self.g.word(6),
            _ => self.g.binary(6),
        }
    }

    /// A word that tests how an error message quotes it: binary, long.
    fn odd_word(&mut self) -> Vec<u8> {
        match self.g.below(3) {
            0 => self.g.binary(8),
            1 => {
                let n = self.g.rng().usize(40..300);
                self.g.long_value(n)
            }
            _ => self.value(),
        }
    }

    fn integer(&mut self) -> Vec<u8> {
        if self.g.chance(0.5) {
            self.g.pick_bytes(INTEGERS)
        } else {
            self.g.small_int(-100, 100)
        }
    }

    fn float(&mut self) -> Vec<u8> {
        match self.g.below(20) {
            0..=9 => self.g.pick_bytes(FLOATS),
            10 => self.g.pick_bytes(INEXACT_FLOATS),
            _ => {
                let quarters = self.g.rng().i64(-400..=400);
                format!("{}", quarters as f64 / 4.0).into_bytes()
            }
        }
    }

    /// A TTL amount in `unit` ("s", "ms", "unix-s", "unix-ms").
    fn ttl(&mut self, unit: &str) -> Vec<u8> {
        if self.g.chance(0.15) {
            return self.g.pick_bytes(TTL_EDGES);
        }
        let scale = if unit.ends_with("ms") { 1000 } else { 1 };
        let ahead = self.g.rng().i64(1000..=1_000_000) * scale;
        let amount = match unit {
            "s" | "ms" if self.g.chance(0.9) => ahead,
            "s" | "ms" => -self.g.rng().i64(0..=5),
            _ if self.g.chance(0.85) => self.now_secs * scale + ahead,
            _ => *self.g.pick(&[1, 100, self.now_secs - 1000]) * scale,
        };
        amount.to_string().into_bytes()
    }

    /// The next command.
    pub fn next(&mut self) -> Vec<Vec<u8>> {
        if let Some(argv) = self.pending.pop_front() {
            return argv;
        }
        if self.g.chance(0.04) {
            self.pending = crate::gen_tx::block(self).into();
            if let Some(argv) = self.pending.pop_front() {
                return argv;
            }
        }
        if self.g.chance(0.04) {
            return crate::gen_scripts::command(self);
        }
        self.plain()
    }

    /// The random generator (for the transaction and script generators).
    pub fn g(&mut self) -> &mut Gen {
        &mut self.g
    }

    /// A key of the general key space.
    pub fn any_key(&mut self) -> Vec<u8> {
        self.key()
    }

    /// A value (integers, words, binary).
    pub fn any_value(&mut self) -> Vec<u8> {
        self.value()
    }

    /// One command of the data families, sometimes with a wrong argument
    /// count (no transaction, no script).
    pub fn plain(&mut self) -> Vec<Vec<u8>> {
        let mut argv = self.command();
        // Now and then a wrong argument count.
        if self.g.chance(0.03) && argv.len() > 1 {
            argv.pop();
        } else if self.g.chance(0.02) && !zsets::takes_newer_option(&argv) {
            argv.push(b"extra".to_vec());
        }
        argv
    }

    fn command(&mut self) -> Vec<Vec<u8>> {
        if self.g.chance(0.2) {
            return crate::gen_sets::command(&mut self.g);
        }
        if self.g.chance(0.2) {
            return crate::gen_lists::command(&mut self.g);
        }
        match self.g.below(100) {
            0..=21 => self.string_command(),
            22..=41 => self.hash_command(),
            42..=55 => self.bits_command(),
            56..=77 => self.zset_command(),
            78..=97 => self.key_command(),
            _ => {
                let name = *self.g.pick(&["PING", "ECHO", "NOSUCH", "GETT"]);
                let mut argv = args(&[name]);
                if name != "PING" || self.g.chance(0.5) {
                    argv.push(self.value());
                }
                if name.len() > 4 || name == "GETT" {
                    // Unknown commands quote their first arguments.
                    for _ in 0..self.g.below(4) {
                        argv.push(self.odd_word());
                    }
                }
                argv
            }
        }
    }

    /// One of `names` (words separated by spaces; a name given twice is
    /// picked twice as often).
    fn pick_name(&mut self, names: &'static str) -> &'static str {
        let names: Vec<&'static str> = names.split_whitespace().collect();
        names[self.g.below(names.len())]
    }

    fn string_command(&mut self) -> Vec<Vec<u8>> {
        let k = self.key();
        let name = self.pick_name(
            "SET SET SET GET GET GETEX GETDEL GETSET MSET MGET MSETNX INCR DECR \
             INCRBY DECRBY INCRBYFLOAT APPEND STRLEN GETRANGE SUBSTR SETRANGE \
             SETNX SETEX PSETEX",
        );
        let mut argv = args(&[name]);
        argv.push(k);
        match name {
            "SET" => {
                argv.push(self.value());
                self.set_options(&mut argv);
            }
            "GETEX" => {
                for _ in 0..self.g.below(3) {
                    match self.g.below(5) {
                        0 => argv.extend([b"EX".to_vec(), self.ttl("s")]),
                        1 => argv.extend([b"PX".to_vec(), self.ttl("ms")]),
                        2 => argv.extend([b"EXAT".to_vec(), self.ttl("unix-s")]),
                        3 => argv.extend([b"PXAT".to_vec(), self.ttl("unix-ms")]),
                        _ => argv.push(self.g.pick_bytes(&["PERSIST", "persist", "KEEPTTL"])),
                    }
                }
            }
            "GETSET" | "APPEND" | "SETNX" => argv.push(self.value()),
            "MSET" | "MSETNX" => {
                argv.push(self.value());
                for _ in 0..self.g.below(3) {
                    let (k, v) = (self.key(), self.value());
                    argv.extend([k, v]);
                }
            }
            "MGET" => {
                for _ in 0..self.g.below(4) {
                    argv.push(self.key());
                }
            }
            "INCRBY" | "DECRBY" => argv.push(self.integer()),
            "INCRBYFLOAT" => argv.push(self.float()),
            "GETRANGE" | "SUBSTR" => {
                let (a, b) = (self.range_index(), self.range_index());
                argv.extend([a, b]);
            }
            "SETRANGE" => {
                let offset = if self.g.chance(0.9) {
                    self.g.small_int(0, 40)
                } else {
                    self.g
                        .pick_bytes(&["-1", "536870912", "9223372036854775807", "x"])
                };
                argv.extend([offset, self.value()]);
            }
            "SETEX" => argv.extend([self.ttl("s"), self.value()]),
            "PSETEX" => argv.extend([self.ttl("ms"), self.value()]),
            _ => {}
        }
        argv
    }

    fn range_index(&mut self) -> Vec<u8> {
        if self.g.chance(0.8) {
            self.g.small_int(-15, 15)
        } else {
            self.g.pick_bytes(&[
                "9223372036854775807",
                "-9223372036854775808",
                "x",
                "",
                "1.5",
            ])
        }
    }

    /// SET's options, in random order, sometimes conflicting or repeated.
    fn set_options(&mut self, argv: &mut Vec<Vec<u8>>) {
        for _ in 0..self.g.below(4) {
            match self.g.below(9) {
                0 => argv.push(b"NX".to_vec()),
                1 => argv.push(b"XX".to_vec()),
                2 => argv.push(b"GET".to_vec()),
                3 => argv.push(b"KEEPTTL".to_vec()),
                4 => argv.extend([b"EX".to_vec(), self.ttl("s")]),
                5 => argv.extend([b"PX".to_vec(), self.ttl("ms")]),
                6 => argv.extend([b"EXAT".to_vec(), self.ttl("unix-s")]),
                7 => argv.extend([b"PXAT".to_vec(), self.ttl("unix-ms")]),
                _ if self.g.chance(0.8) => {
                    argv.push(self.g.pick_bytes(&["nx", "get", "BAD", "EX", "keepttl"]))
                }
                _ => argv.push(self.odd_word()),
            }
        }
    }

    fn hash_command(&mut self) -> Vec<Vec<u8>> {
        let k = self.hash_key();
        let name = self.pick_name(
            "HSET HSET HSET HMSET HGET HGET HMGET HDEL HEXISTS HLEN HKEYS HVALS \
             HGETALL HINCRBY HINCRBYFLOAT HSETNX HSTRLEN HRANDFIELD HSCAN",
        );
        let mut argv = args(&[name]);
        argv.push(k);
        let field = self.g.pick_bytes(FIELDS);
        match name {
            "HSET" | "HMSET" => {
                argv.extend([field, self.value()]);
                for _ in 0..self.g.below(3) {
                    let (f, v) = (self.g.pick_bytes(FIELDS), self.value());
                    argv.extend([f, v]);
                }
            }
            "HGET" | "HEXISTS" | "HSTRLEN" => argv.push(field),
            "HMGET" | "HDEL" => {
                argv.push(field);
                for _ in 0..self.g.below(3) {
                    argv.push(self.g.pick_bytes(FIELDS));
                }
            }
            "HINCRBY" => argv.extend([field, self.integer()]),
            "HINCRBYFLOAT" => argv.extend([field, self.float()]),
            "HSETNX" => argv.extend([field, self.value()]),
            "HRANDFIELD" if self.g.chance(0.7) => {
                argv.push(self.g.pick_bytes(HRANDFIELD_COUNTS));
                if self.g.chance(0.5) {
                    argv.push(self.g.pick_bytes(&["WITHVALUES", "withvalues", "BAD"]));
                }
            }
            "HSCAN" => {
                argv.push(self.g.pick_bytes(&["0", "0", "0", "x", "-1"]));
                self.scan_options(&mut argv, false);
            }
            _ => {}
        }
        argv
    }

    fn scan_options(&mut self, argv: &mut Vec<Vec<u8>>, with_type: bool) {
        for _ in 0..self.g.below(3) {
            match self.g.below(4) {
                0 | 1 => argv.extend([b"MATCH".to_vec(), self.g.pick_bytes(PATTERNS)]),
                2 => argv.extend([
                    b"COUNT".to_vec(),
                    self.g.pick_bytes(&["1", "2", "10", "1000", "0", "-1", "x"]),
                ]),
                _ if with_type => argv.extend([
                    b"TYPE".to_vec(),
                    self.g
                        .pick_bytes(&["string", "hash", "STRING", "list", "x"]),
                ]),
                _ => argv.push(b"BAD".to_vec()),
            }
        }
    }

    fn key_command(&mut self) -> Vec<Vec<u8>> {
        let k = self.key();
        let name = self.pick_name(
            "DEL UNLINK EXISTS TOUCH TYPE TYPE RENAME RENAMENX COPY EXPIRE \
             PEXPIRE EXPIREAT PEXPIREAT TTL TTL PTTL EXPIRETIME PEXPIRETIME \
             PERSIST DBSIZE KEYS SCAN RANDOMKEY",
        );
        let mut argv = args(&[name]);
        match name {
            "DBSIZE" | "RANDOMKEY" => {}
            "KEYS" => argv.push(self.g.pick_bytes(PATTERNS)),
            "SCAN" => {
                argv.push(self.g.pick_bytes(&["0", "0", "0", "x", "-1"]));
                self.scan_options(&mut argv, true);
            }
            "DEL" | "UNLINK" | "EXISTS" | "TOUCH" => {
                argv.push(k);
                for _ in 0..self.g.below(3) {
                    argv.push(self.key());
                }
            }
            "RENAME" | "RENAMENX" => argv.extend([k, self.key()]),
            "COPY" => {
                argv.extend([k, self.key()]);
                if self.g.chance(0.3) {
                    argv.extend([b"DB".to_vec(), self.g.pick_bytes(&["0", "-1", "x"])]);
                }
                if self.g.chance(0.5) {
                    argv.push(self.g.pick_bytes(&["REPLACE", "replace", "BAD"]));
                }
            }
            "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" => {
                let unit = match name {
                    "EXPIRE" => "s",
                    "PEXPIRE" => "ms",
                    "EXPIREAT" => "unix-s",
                    _ => "unix-ms",
                };
                argv.extend([k, self.ttl(unit)]);
                for _ in 0..self.g.below(3) {
                    let option = if self.g.chance(0.9) {
                        self.g.pick_bytes(&["NX", "XX", "GT", "LT", "gt", "BAD"])
                    } else {
                        self.odd_word()
                    };
                    argv.push(option);
                }
            }
            _ => argv.push(k),
        }
        argv
    }
}
