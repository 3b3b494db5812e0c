//! Key generators: which key number each request uses, per the key pattern,
//! and the key's bytes (`<prefix><number>`). One generator per connection,
//! each with its own seeded random source, so nothing is shared between
//! tasks.

use crate::config::{Config, KeyPattern};
use crate::zipf::Zipf;

/// Draws for a Gaussian key that falls outside the range before the last
/// one is clamped: with σ = range / 6 fewer than 0.3% fall outside, so the
/// bound only matters for a σ the user made very wide.
const GAUSSIAN_TRIES: usize = 16;

#[derive(Debug, Clone)]
enum Kind {
    Sequential { next: u64 },
    Uniform,
    Gaussian { median: f64, stddev: f64 },
    Zipf(Zipf),
}

/// Draws key numbers in `min..=max`.
#[derive(Debug, Clone)]
pub struct KeyGen {
    kind: Kind,
    min: u64,
    max: u64,
    rng: fastrand::Rng,
}

impl KeyGen {
    /// A generator for `pattern` over `min..=max`. `start` is where a
    /// sequential walk begins (clamped into the range); the other patterns
    /// ignore it.
    pub fn new(
        pattern: KeyPattern,
        min: u64,
        max: u64,
        start: u64,
        config: &Config,
        seed: u64,
    ) -> KeyGen {
        let (min, max) = (min.min(max), max.max(min));
        let kind = match pattern {
            KeyPattern::Sequential => Kind::Sequential {
                next: start.clamp(min, max),
            },
            KeyPattern::Uniform => Kind::Uniform,
            KeyPattern::Gaussian => Kind::Gaussian {
                median: config.key_median,
                stddev: config.key_stddev,
            },
            // Ranks 1..=n; n cannot overflow because max - min < u64::MAX
            // unless the range is the whole u64 space, which saturates.
            KeyPattern::Zipf => Kind::Zipf(Zipf::new(
                (max - min).saturating_add(1),
                config.zipf_exponent,
            )),
        };
        KeyGen {
            kind,
            min,
            max,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The next key number.
    pub fn next_key(&mut self) -> u64 {
        let (min, max) = (self.min, self.max);
        match &mut self.kind {
            Kind::Sequential { next } => {
                let key = *next;
                *next = if key >= max { min } else { key + 1 };
                key
            }
            Kind::Uniform => self.rng.u64(min..=max),
            Kind::Gaussian { median, stddev } => {
                let mut x = *median;
                for _ in 0..GAUSSIAN_TRIES {
                    x = *median + *stddev * standard_normal(&mut self.rng);
                    if x >= min as f64 && x <= max as f64 {
                        break;
                    }
                }
                // `as` saturates for out-of-range floats; the clamp keeps the
                // rare last miss inside the range.
                (x.round() as u64).clamp(min, max)
            }
            Kind::Zipf(zipf) => {
                let rng = &mut self.rng;
                let rank = zipf.sample(|| rng.f64());
                min.saturating_add(rank - 1).min(max)
            }
        }
    }
}

/// One standard normal draw (Box-Muller; the second value is dropped to keep
/// the generator stateless apart from its random source).
fn standard_normal(rng: &mut fastrand::Rng) -> f64 {
    // 1 - f64() is in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.f64();
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Writes `<prefix><n>` into `out`, reusing its allocation.
pub fn format_key(out: &mut Vec<u8>, prefix: &[u8], n: u64) {
    out.clear();
    out.extend_from_slice(prefix);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Args, Config};
    use clap::Parser;

    /// Options for the range `min..=max` (the Gaussian centre and σ derive
    /// from it).
    fn config(min: u64, max: u64) -> Config {
        let (min, max) = (min.to_string(), max.to_string());
        let args = Args::try_parse_from(["loadgen", "--key-min", &min, "--key-max", &max]).unwrap();
        Config::try_from(args).unwrap()
    }

    fn keys(pattern: KeyPattern, min: u64, max: u64, n: usize) -> Vec<u64> {
        let mut g = KeyGen::new(pattern, min, max, min, &config(min, max), 42);
        (0..n).map(|_| g.next_key()).collect()
    }

    #[test]
    fn every_pattern_stays_in_bounds() {
        for pattern in [
            KeyPattern::Sequential,
            KeyPattern::Uniform,
            KeyPattern::Gaussian,
            KeyPattern::Zipf,
        ] {
            for (min, max) in [(0, 0), (5, 5), (10, 19), (1_000, 1_000_000)] {
                let drawn = keys(pattern, min, max, 5_000);
                assert!(
                    drawn.iter().all(|k| (min..=max).contains(k)),
                    "{pattern} {min}..={max}"
                );
            }
        }
    }

    #[test]
    fn uniform_covers_the_whole_range() {
        let drawn = keys(KeyPattern::Uniform, 10, 19, 2_000);
        assert!((10..=19).all(|k| drawn.contains(&k)));
    }

    #[test]
    fn sequential_walks_in_order_and_wraps() {
        assert_eq!(
            keys(KeyPattern::Sequential, 3, 6, 10),
            [3, 4, 5, 6, 3, 4, 5, 6, 3, 4]
        );
        // A walk starting mid-range wraps to the start of the range.
        let mut g = KeyGen::new(KeyPattern::Sequential, 0, 4, 3, &config(0, 4), 0);
        let walk: Vec<u64> = (0..6).map(|_| g.next_key()).collect();
        assert_eq!(walk, [3, 4, 0, 1, 2, 3]);
    }

    #[test]
    fn zipf_prefers_low_ranks() {
        let drawn = keys(KeyPattern::Zipf, 100, 100_099, 100_000);
        let count = |lo: u64, hi: u64| drawn.iter().filter(|&&k| (lo..hi).contains(&k)).count();
        // Key 100 is rank 1, the hottest; the first 1% of the range holds far
        // more than 1% of the draws, and far more than the last 1%.
        let hottest = count(100, 101);
        let first = count(100, 1_100);
        let last = count(99_100, 100_100);
        assert!(hottest > count(110, 111) * 5, "hottest {hottest}");
        assert!(first > drawn.len() / 3, "first 1% got {first}");
        assert!(first > last * 20, "first {first} last {last}");
    }

    #[test]
    fn gaussian_clusters_around_the_middle() {
        let drawn = keys(KeyPattern::Gaussian, 0, 60_000, 50_000);
        let mean = drawn.iter().sum::<u64>() as f64 / drawn.len() as f64;
        assert!((mean - 30_000.0).abs() < 500.0, "mean {mean}");
        // σ = 10,000: about 68% lie within one σ of the middle.
        let inside = drawn
            .iter()
            .filter(|&&k| (20_000..=40_000).contains(&k))
            .count();
        let share = inside as f64 / drawn.len() as f64;
        assert!((0.64..0.72).contains(&share), "share within 1σ {share}");
    }

    #[test]
    fn keys_are_prefix_and_number() {
        let mut out = b"stale".to_vec();
        format_key(&mut out, b"memtier-", 123);
        assert_eq!(out, b"memtier-123");
    }
}
