//! The bitmap, HyperLogLog and LCS part of the sequences: small offsets
//! (keys stay short), ranges that cross the ends, every BITFIELD type and
//! overflow rule, and PFADDs now and then large enough to turn a key
//! dense, whose bytes the state check then compares.

use super::{args, CommandGen};

/// Range indexes around a short string's ends, and bad ones.
const RANGE_EDGES: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "x",
    "",
    "1.5",
];
const FIELD_TYPES: &[&str] = &[
    "i1", "u1", "i5", "u7", "i8", "u8", "i13", "i16", "u16", "i32", "u32", "i63", "i64", "u63",
    "u64", "i65", "i0", "x8", "I8",
];
const FIELD_VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "127",
    "-128",
    "255",
    "256",
    "9223372036854775807",
    "-9223372036854775808",
    "x",
];

impl CommandGen {
    pub(super) fn bits_command(&mut self) -> Vec<Vec<u8>> {
        let name = self.pick_name(
            "SETBIT SETBIT GETBIT BITCOUNT BITCOUNT BITPOS BITPOS BITOP BITFIELD BITFIELD \
             BITFIELD_RO PFADD PFADD PFADD PFCOUNT PFCOUNT PFMERGE LCS LCS",
        );
        let mut argv = args(&[name]);
        match name {
            "SETBIT" => {
                argv.extend([self.key(), self.bit_offset()]);
                argv.push(if self.g.chance(0.9) {
                    self.g.pick_bytes(&["0", "1"])
                } else {
                    self.g.pick_bytes(&["2", "-1", "x", ""])
                });
            }
            "GETBIT" => argv.extend([self.key(), self.bit_offset()]),
            "BITCOUNT" => {
                argv.push(self.key());
                if self.g.chance(0.7) {
                    argv.extend([self.bit_index(), self.bit_index()]);
                    if self.g.chance(0.5) {
                        argv.push(self.g.pick_bytes(&["BIT", "byte", "BYTE", "bits"]));
                    }
                }
            }
            "BITPOS" => {
                argv.push(self.key());
                argv.push(self.g.pick_bytes(&["0", "1", "0", "1", "2", "x"]));
                for _ in 0..self.g.below(4) {
                    argv.push(self.bit_index());
                }
                if argv.len() == 6 && self.g.chance(0.8) {
                    argv[5] = self.g.pick_bytes(&["BIT", "byte"]);
                }
            }
            "BITOP" => {
                argv.push(
                    self.g
                        .pick_bytes(&["AND", "or", "XOR", "NOT", "not", "NAND"]),
                );
                for _ in 0..2 + self.g.below(3) {
                    argv.push(self.key());
                }
            }
            "BITFIELD" | "BITFIELD_RO" => {
                argv.push(self.key());
                for _ in 0..self.g.below(5) {
                    self.field_op(&mut argv, name == "BITFIELD_RO");
                }
            }
            "PFADD" => {
                argv.push(self.hll_key());
                // Now and then enough elements to pass 3000 sparse bytes.
                let n = if self.g.chance(0.1) {
                    self.g.rng().usize(200..1500)
                } else {
                    self.g.below(8)
                };
                for _ in 0..n {
                    argv.push(self.element());
                }
            }
            "PFCOUNT" | "PFMERGE" => {
                for _ in 0..1 + self.g.below(3) {
                    argv.push(self.hll_key());
                }
            }
            _ => self.lcs(&mut argv),
        }
        argv
    }

    /// LCS's keys and options.
    fn lcs(&mut self, argv: &mut Vec<Vec<u8>>) {
        argv.extend([self.key(), self.key()]);
        for _ in 0..self.g.below(3) {
            match self.g.below(5) {
                0 => argv.push(b"LEN".to_vec()),
                1 | 2 => argv.push(self.g.pick_bytes(&["IDX", "idx"])),
                3 => argv.push(b"WITHMATCHLEN".to_vec()),
                _ => argv.extend([b"MINMATCHLEN".to_vec(), self.g.small_int(-1, 4)]),
            }
        }
    }

    /// Mostly the keys the other families rarely write, so that most
    /// HyperLogLog commands find one.
    fn hll_key(&mut self) -> Vec<u8> {
        if self.g.chance(0.9) {
            self.g.pick_bytes(&["p1", "p2"])
        } else {
            self.key()
        }
    }

    fn bit_offset(&mut self) -> Vec<u8> {
        if self.g.chance(0.9) {
            self.g.small_int(0, 400)
        } else {
            self.g
                .pick_bytes(&["-1", "x", "4294967296", "#3", "9223372036854775807"])
        }
    }

    fn bit_index(&mut self) -> Vec<u8> {
        if self.g.chance(0.85) {
            self.g.small_int(-60, 60)
        } else {
            self.g.pick_bytes(RANGE_EDGES)
        }
    }

    fn element(&mut self) -> Vec<u8> {
        if self.g.chance(0.9) {
            format!("e{}", self.g.below(50_000)).into_bytes()
        } else {
            self.g.binary(6)
        }
    }

    /// One BITFIELD operation (mostly GETs for BITFIELD_RO).
    fn field_op(&mut self, argv: &mut Vec<Vec<u8>>, read_only: bool) {
        let typ = if self.g.chance(0.9) {
            self.g.pick_bytes(&FIELD_TYPES[..14])
        } else {
            self.g.pick_bytes(FIELD_TYPES)
        };
        let offset = match self.g.below(10) {
            0..=6 => self.g.small_int(0, 200),
            7 | 8 => format!("#{}", self.g.below(20)).into_bytes(),
            _ => self.g.pick_bytes(&["-1", "x", "#-1", "4294967296"]),
        };
        let op = if read_only && self.g.chance(0.9) {
            "GET"
        } else {
            *self
                .g
                .pick(&["GET", "SET", "INCRBY", "OVERFLOW", "get", "FOO"])
        };
        match op {
            "GET" | "get" => argv.extend([op.as_bytes().to_vec(), typ, offset]),
            "OVERFLOW" => {
                argv.push(op.as_bytes().to_vec());
                argv.push(self.g.pick_bytes(&["WRAP", "sat", "FAIL", "fail", "NONE"]));
            }
            "FOO" => argv.push(op.as_bytes().to_vec()),
            _ => {
                let value = if self.g.chance(0.6) {
                    self.g.small_int(-300, 300)
                } else {
                    self.g.pick_bytes(FIELD_VALUES)
                };
                argv.extend([op.as_bytes().to_vec(), typ, offset, value]);
            }
        }
    }
}
