//! A small seeded random generator (xorshift64*) for randomized tests: the
//! seed comes from `TEST_SEED` or the clock and is printed, so a failure
//! can be replayed with `TEST_SEED=<seed>`.

use std::time::{SystemTime, UNIX_EPOCH};

/// See the module docs.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `TEST_SEED` or the clock; prints the seed
    /// with `test`'s name.
    pub fn seeded(test: &str) -> Rng {
        let seed = std::env::var("TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{test}: TEST_SEED={seed}");
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `len` bytes drawn from `alphabet`.
    pub fn string(&mut self, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}
