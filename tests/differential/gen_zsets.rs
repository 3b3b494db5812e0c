//! The sorted-set part of the differential generator: every sorted-set
//! command with its options, scores and bounds from Redis's edge cases
//! (`inf`, `(` bounds, hex, exponents, bad floats), now and then a large
//! ZADD that takes a set past the listpack thresholds.
//!
//! Lex ranges are sent to `zl` only, whose members all score 0: over
//! members of different scores Redis's answer depends on its encoding and
//! skip-list levels. Unions and intersections take at most two inputs: with
//! three, Redis sums inputs of equal size in qsort's (unstable) order.

use super::{args, CommandGen};

/// True for the commands whose extra argument Redis 7.2 reads and the
/// 7.0 this runs against refuses by arity (ZRANK ... WITHSCORE).
pub fn takes_newer_option(argv: &[Vec<u8>]) -> bool {
    argv[0].eq_ignore_ascii_case(b"zrank") || argv[0].eq_ignore_ascii_case(b"zrevrank")
}

/// Sorted-set keys (a string or hash key collides now and then).
pub const ZSET_KEYS: &[&str] = &["z1", "z2", "z3"];
/// The key lex ranges run on: every member scores 0.
pub const LEX_KEY: &str = "zl";
const MEMBERS: &[&str] = &["a", "b", "c", "d", "e", "aa", "ab", "", "m1", "m2", "zz"];
const SCORES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-1",
    "-2",
    "10",
    "1.5",
    "-2.25",
    "0.1",
    "1e3",
    "-0",
    "+inf",
    "-inf",
    "inf",
    "0x10",
    "1e-5",
    "123456789.123",
    "1e20",
];
const BAD_SCORES: &[&str] = &["nan", "abc", "", " 1", "1e400", "(1", "1e"];
const SCORE_BOUNDS: &[&str] = &[
    "-inf", "+inf", "inf", "0", "1", "2", "(1", "(2", "3", "(3", "10", "-1", "1.5", "(1.5", "",
    "(", " 2", "x", "(nan", "1e400", "(-inf",
];
const LEX_BOUNDS: &[&str] = &[
    "-", "+", "[a", "(a", "[b", "(c", "[d", "[zz", "(", "[", "a", "+x",
];
const INDEXES: &[&str] = &[
    "0",
    "1",
    "2",
    "-1",
    "-2",
    "5",
    "-100",
    "100",
    "x",
    "9223372036854775807",
];
const COUNTS: &[&str] = &["0", "1", "2", "3", "10", "-1", "x", "9223372036854775807"];

impl CommandGen {
    fn zkey(&mut self) -> Vec<u8> {
        if self.g.chance(0.9) {
            self.g.pick_bytes(ZSET_KEYS)
        } else {
            self.key()
        }
    }

    fn score(&mut self) -> Vec<u8> {
        if self.g.chance(0.04) {
            self.g.pick_bytes(BAD_SCORES)
        } else {
            self.g.pick_bytes(SCORES)
        }
    }

    fn member(&mut self) -> Vec<u8> {
        match self.g.below(20) {
            0 => self.g.binary(4),
            _ => self.g.pick_bytes(MEMBERS),
        }
    }

    /// ZRANGE's options after the bounds, in random order.
    fn range_options(&mut self, argv: &mut Vec<Vec<u8>>, store: bool) {
        for _ in 0..self.g.below(3) {
            match self.g.below(6) {
                0 if !store => argv.push(self.g.pick_bytes(&["WITHSCORES", "withscores"])),
                1 => argv.push(b"REV".to_vec()),
                2 | 3 => {
                    let (o, c) = (self.g.pick_bytes(COUNTS), self.g.pick_bytes(COUNTS));
                    argv.extend([b"LIMIT".to_vec(), o, c]);
                }
                // BYLEX only on the lex key (see the module docs).
                4 => argv.push(self.g.pick_bytes(&["BYSCORE", "byscore"])),
                _ => argv.push(self.g.pick_bytes(&["BAD", "LIMIT"])),
            }
        }
    }

    /// The keys of a numkeys command: usually as many as announced.
    fn counted_keys(&mut self, argv: &mut Vec<Vec<u8>>, most: usize) {
        let n = 1 + self.g.below(most);
        let announced = match self.g.below(12) {
            0 => self.g.pick_bytes(&["0", "-1", "x", "3"]),
            _ => n.to_string().into_bytes(),
        };
        argv.push(announced);
        for _ in 0..n {
            let key = self.zkey();
            argv.push(key);
        }
    }

    /// One sorted-set command.
    pub(super) fn zset_command(&mut self) -> Vec<Vec<u8>> {
        let name = self.pick_name(
            "ZADD ZADD ZADD ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT \
             ZRANGE ZRANGE ZRANGE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGESTORE \
             ZREMRANGEBYSCORE ZREMRANGEBYRANK ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZSCAN \
             ZUNION ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD LEX LEX BIG",
        );
        let mut argv = args(&[name]);
        match name {
            "ZADD" => {
                argv.push(self.zkey());
                // Mostly compatible options, so most ZADDs change something.
                let options = [0, 0, 0, 1, 1, 2][self.g.below(6)];
                for _ in 0..options {
                    argv.push(
                        self.g
                            .pick_bytes(&["NX", "XX", "GT", "LT", "CH", "CH", "ch"]),
                    );
                }
                let incr = self.g.chance(0.1);
                if incr {
                    argv.push(b"INCR".to_vec());
                }
                for _ in 0..if incr { 1 } else { 1 + self.g.below(3) } {
                    let (s, m) = (self.score(), self.member());
                    argv.extend([s, m]);
                }
            }
            "ZINCRBY" => {
                argv.push(self.zkey());
                let (s, m) = (self.score(), self.member());
                argv.extend([s, m]);
            }
            "ZREM" | "ZMSCORE" => {
                argv.push(self.zkey());
                for _ in 0..1 + self.g.below(3) {
                    argv.push(self.member());
                }
            }
            "ZCARD" => argv.push(self.zkey()),
            "ZSCORE" | "ZRANK" | "ZREVRANK" => {
                argv.push(self.zkey());
                argv.push(self.member());
            }
            "ZCOUNT" | "ZRANGEBYSCORE" | "ZREVRANGEBYSCORE" | "ZREMRANGEBYSCORE" => {
                argv.push(self.zkey());
                argv.extend([
                    self.g.pick_bytes(SCORE_BOUNDS),
                    self.g.pick_bytes(SCORE_BOUNDS),
                ]);
                if name.contains("RANGEBY") && !name.starts_with("ZREM") {
                    self.range_options(&mut argv, false);
                }
            }
            "ZRANGE" | "ZREVRANGE" | "ZREMRANGEBYRANK" => {
                argv.push(self.zkey());
                self.range_bounds(&mut argv);
                if name != "ZREMRANGEBYRANK" {
                    self.range_options(&mut argv, false);
                }
            }
            "ZRANGESTORE" => {
                argv.extend([self.zkey(), self.zkey()]);
                self.range_bounds(&mut argv);
                self.range_options(&mut argv, true);
            }
            "ZPOPMIN" | "ZPOPMAX" => {
                argv.push(self.zkey());
                if self.g.chance(0.6) {
                    argv.push(self.g.pick_bytes(COUNTS));
                }
            }
            "ZMPOP" => {
                self.counted_keys(&mut argv, 3);
                argv.push(self.g.pick_bytes(&["MIN", "MAX", "max", "BAD"]));
                if self.g.chance(0.5) {
                    argv.extend([b"COUNT".to_vec(), self.g.pick_bytes(COUNTS)]);
                }
            }
            "ZRANDMEMBER" => {
                argv.push(self.zkey());
                if self.g.chance(0.7) {
                    argv.push(self.g.pick_bytes(&["0", "1", "3", "10", "-1", "-5", "x"]));
                    if self.g.chance(0.5) {
                        argv.push(self.g.pick_bytes(&["WITHSCORES", "BAD"]));
                    }
                }
            }
            "ZSCAN" => {
                argv.push(self.zkey());
                argv.push(self.g.pick_bytes(&["0", "0", "0", "x"]));
                self.scan_options(&mut argv, false);
            }
            "ZUNION" | "ZINTER" | "ZDIFF" | "ZINTERCARD" => {
                self.counted_keys(&mut argv, 2);
                self.algebra_options(&mut argv);
            }
            "ZUNIONSTORE" | "ZINTERSTORE" | "ZDIFFSTORE" => {
                argv.push(self.zkey());
                self.counted_keys(&mut argv, 2);
                self.algebra_options(&mut argv);
            }
            "LEX" => return self.lex_command(),
            _ => return self.big_zadd(),
        }
        argv
    }

    fn range_bounds(&mut self, argv: &mut Vec<Vec<u8>>) {
        let pool = match self.g.below(3) {
            0 => SCORE_BOUNDS,
            _ => INDEXES,
        };
        argv.extend([self.g.pick_bytes(pool), self.g.pick_bytes(pool)]);
    }

    fn algebra_options(&mut self, argv: &mut Vec<Vec<u8>>) {
        for _ in 0..self.g.below(3) {
            match self.g.below(5) {
                0 => {
                    argv.push(b"WEIGHTS".to_vec());
                    for _ in 0..1 + self.g.below(2) {
                        let w = self.g.pick_bytes(&["1", "2", "0", "-1", "0.5", "inf", "x"]);
                        argv.push(w);
                    }
                }
                1 => {
                    argv.push(b"AGGREGATE".to_vec());
                    argv.push(self.g.pick_bytes(&["SUM", "MIN", "MAX", "max", "AVG"]));
                }
                2 => argv.push(b"WITHSCORES".to_vec()),
                3 => {
                    argv.push(b"LIMIT".to_vec());
                    argv.push(self.g.pick_bytes(&["0", "1", "2", "-1", "x"]));
                }
                _ => argv.push(b"BAD".to_vec()),
            }
        }
    }

    /// A command on the lex key, whose members all score 0.
    fn lex_command(&mut self) -> Vec<Vec<u8>> {
        let name = self.pick_name(
            "ZADD ZADD ZRANGEBYLEX ZREVRANGEBYLEX ZLEXCOUNT ZREMRANGEBYLEX ZRANGE ZRANGESTORE",
        );
        let mut argv = args(&[name]);
        let key = LEX_KEY.as_bytes().to_vec();
        match name {
            "ZADD" => {
                argv.push(key);
                for _ in 0..1 + self.g.below(4) {
                    let m = self.member();
                    argv.extend([b"0".to_vec(), m]);
                }
            }
            "ZRANGE" | "ZRANGESTORE" => {
                if name == "ZRANGESTORE" {
                    argv.push(self.g.pick_bytes(ZSET_KEYS));
                }
                argv.push(key);
                argv.extend([self.g.pick_bytes(LEX_BOUNDS), self.g.pick_bytes(LEX_BOUNDS)]);
                argv.push(b"BYLEX".to_vec());
                if self.g.chance(0.5) {
                    argv.push(b"REV".to_vec());
                }
                if self.g.chance(0.4) {
                    let (o, c) = (self.g.pick_bytes(COUNTS), self.g.pick_bytes(COUNTS));
                    argv.extend([b"LIMIT".to_vec(), o, c]);
                }
            }
            _ => {
                argv.push(key);
                argv.extend([self.g.pick_bytes(LEX_BOUNDS), self.g.pick_bytes(LEX_BOUNDS)]);
                if name.contains("RANGEBY") && !name.starts_with("ZREM") && self.g.chance(0.4) {
                    let (o, c) = (self.g.pick_bytes(COUNTS), self.g.pick_bytes(COUNTS));
                    argv.extend([b"LIMIT".to_vec(), o, c]);
                }
            }
        }
        argv
    }

    /// A ZADD of 130 members, past `zset-max-listpack-entries`, so the
    /// commands that follow meet a skip list.
    fn big_zadd(&mut self) -> Vec<Vec<u8>> {
        let mut argv = args(&["ZADD", "z3"]);
        let base = self.g.rng().i64(0..1000);
        for i in 0..130 {
            argv.push(((base + i) % 97).to_string().into_bytes());
            argv.push(format!("big{i}").into_bytes());
        }
        argv
    }
}
