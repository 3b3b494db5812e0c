//! The one seeded random generator of the tests (fuzz, differential and
//! randomized conformance tests): the seed (printed, and overridable from
//! the environment so a failure can be replayed) and generators of
//! argument values with the edge cases that break parsers: integer limits
//! and overflows, float spellings, empty, binary and long values.

/// A seeded generator; the same seed gives the same inputs.
pub struct Gen {
    rng: fastrand::Rng,
}

/// The seed named by `var` in the environment (decimal or 0x-hex), or a
/// fresh one; printed either way so a failing run can be repeated.
pub fn seed_from_env(var: &str) -> u64 {
    let seed = match std::env::var(var) {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{var}={text} is not a number"))
        }
        Err(_) => fastrand::u64(..),
    };
    eprintln!("{var}={seed} (set it to replay this run)");
    seed
}

/// A number from the environment variable `var`, or `default`.
pub fn count_from_env(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .map(|t| {
            t.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{var}={t} is not a number"))
        })
        .unwrap_or(default)
}

/// Mixes a seed with a stream number (splitmix64), so every batch of a run
/// has its own reproducible seed.
pub fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Integers as text, around every limit a parser checks.
pub const INT_EDGES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "-2",
    "3",
    "10",
    "100",
    "-100",
    "1000",
    "16383",
    "16384",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "9223372036854775806",
    "9223372036854775807",
    "-9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "+1",
    "01",
    "-0",
    "00",
    " 1",
    "1 ",
    "1.0",
    "1e3",
    "0x10",
    "-",
    "--1",
    "\u{ff11}",
];

/// Floats as text: valid spellings, limits, infinities, NaN, and near misses.
pub const FLOAT_EDGES: &[&str] = &[
    "0",
    "1.5",
    "-1.5",
    "0.1",
    "-0.0",
    "-0",
    "3.0",
    "1e308",
    "1.7976931348623157e308",
    "1e309",
    "-1e309",
    "inf",
    "-inf",
    "+inf",
    "Inf",
    "infinity",
    "-infinity",
    "nan",
    "NaN",
    "-nan",
    "1e-320",
    "4.9e-324",
    "5.0e3",
    ".5",
    "1.",
    "-.5",
    "1e",
    "e1",
    "1e+5",
    "1E5",
    "0x1p3",
    "1_0",
    " 1.5",
    "1.5 ",
    "3.14159265358979323846264338327950288",
    "1e-7",
    "123456789012345678901234567890",
];

impl Gen {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// A generator for a randomized test: seeded from `TEST_SEED` (decimal
    /// or 0x-hex) or afresh, the seed printed with `test`'s name so a
    /// failure can be replayed with `TEST_SEED=<seed>`.
    pub fn seeded(test: &str) -> Gen {
        eprint!("{test}: ");
        Gen::new(seed_from_env("TEST_SEED"))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.rng.u64(..)
    }

    /// `len` bytes drawn from `alphabet`.
    pub fn string(&mut self, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len).map(|_| *self.pick(alphabet)).collect()
    }

    /// The underlying generator.
    pub fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.rng
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.usize(..n)
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.usize(..items.len())]
    }

    /// One of `items` as bytes.
    pub fn pick_bytes(&mut self, items: &[&str]) -> Vec<u8> {
        self.pick(items).as_bytes().to_vec()
    }

    /// Random case of an ASCII word (`get` -> `gEt`).
    pub fn random_case(&mut self, word: &str) -> Vec<u8> {
        if self.chance(0.7) {
            return word.as_bytes().to_vec();
        }
        word.bytes()
            .map(|b| {
                if self.rng.bool() {
                    b.to_ascii_uppercase()
                } else {
                    b.to_ascii_lowercase()
                }
            })
            .collect()
    }

    /// An integer as text: a limit, a near miss, or a small number.
    pub fn int_text(&mut self) -> Vec<u8> {
        if self.chance(0.6) {
            self.pick_bytes(INT_EDGES)
        } else {
            self.rng.i64(-1000..=1000).to_string().into_bytes()
        }
    }

    /// A small integer as text, for amounts that must stay cheap.
    pub fn small_int(&mut self, lo: i64, hi: i64) -> Vec<u8> {
        self.rng.i64(lo..=hi).to_string().into_bytes()
    }

    /// A float as text.
    pub fn float_text(&mut self) -> Vec<u8> {
        if self.chance(0.6) {
            self.pick_bytes(FLOAT_EDGES)
        } else {
            let v = (self.rng.f64() - 0.5) * 10f64.powi(self.rng.i32(-8..=12));
            v.to_string().into_bytes()
        }
    }

    /// A lower-case ASCII word of 1 to `max` letters.
    pub fn word(&mut self, max: usize) -> Vec<u8> {
        let n = self.rng.usize(1..=max.max(1));
        (0..n).map(|_| self.rng.u8(b'a'..=b'z')).collect()
    }

    /// Random bytes (NUL, CR, LF and high bytes included), up to `max` long.
    pub fn binary(&mut self, max: usize) -> Vec<u8> {
        let n = self.rng.usize(0..=max);
        (0..n)
            .map(|_| match self.rng.u8(..8) {
                0 => b'\r',
                1 => b'\n',
                2 => 0,
                3 => 0xff,
                _ => self.rng.u8(..),
            })
            .collect()
    }

    /// A value of exactly `len` bytes that is cheap to make.
    pub fn long_value(&mut self, len: usize) -> Vec<u8> {
        let byte = self.rng.u8(b'a'..=b'z');
        vec![byte; len]
    }

    /// Any argument value: numbers, words, empty, binary, and now and then
    /// a long one of up to `max_long` bytes.
    pub fn value(&mut self, max_long: usize) -> Vec<u8> {
        match self.rng.u8(..100) {
            0..=21 => self.int_text(),
            22..=33 => self.float_text(),
            34..=53 => self.word(8),
            54..=61 => Vec::new(),
            62..=77 => self.binary(24),
            78..=89 => self.small_int(-5, 20),
            90..=97 => {
                let n = self.rng.usize(64..=4096.min(max_long.max(64)));
                self.long_value(n)
            }
            _ => {
                let n = self.rng.usize(0..=max_long);
                self.long_value(n)
            }
        }
    }
}
