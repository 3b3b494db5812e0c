//! Zipf sampling over ranks `1..=n` by rejection-inversion (Hörmann and
//! Derflinger, 1996): O(1) time and memory per draw whatever `n`, so a
//! 10-million-key range needs no cumulative table.
//!
//! The formulas follow Apache Commons' `RejectionInversionZipfSampler`,
//! which stays accurate for every exponent > 0, including 1, by writing the
//! integral of `x^-s` with `log1p`/`expm1` helpers.

/// Draws a rank has this many tries to be accepted; acceptance is above 90%
/// for every exponent, so hitting the bound (and returning the last
/// candidate, which is still in range) is practically never the case.
const MAX_TRIES: usize = 64;

/// A Zipf distribution over ranks `1..=n` with exponent `s`:
/// P(k) ∝ k^-s.
#[derive(Debug, Clone)]
pub struct Zipf {
    n: f64,
    exponent: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    squeeze: f64,
}

impl Zipf {
    /// A distribution over `1..=n`. `n` must be at least 1 and `exponent`
    /// positive and finite (checked by the caller's option validation; a
    /// bad value is clamped rather than trusted).
    pub fn new(n: u64, exponent: f64) -> Zipf {
        let n = n.max(1) as f64;
        let exponent = if exponent.is_finite() && exponent > 0.0 {
            exponent
        } else {
            1.0
        };
        let mut z = Zipf {
            n,
            exponent,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            squeeze: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(n + 0.5);
        z.squeeze = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// One rank in `1..=n`; `uniform` yields numbers in `[0, 1)`.
    pub fn sample(&self, mut uniform: impl FnMut() -> f64) -> u64 {
        let mut k = 1.0;
        for _ in 0..MAX_TRIES {
            let u = self.h_integral_n + uniform() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.squeeze || u >= self.h_integral(k + 0.5) - self.h(k) {
                break;
            }
        }
        k as u64
    }

    /// `h(x) = x^-s`, the unnormalised density.
    fn h(&self, x: f64) -> f64 {
        (-self.exponent * x.ln()).exp()
    }

    /// An antiderivative of `h`: `(x^(1-s) - 1) / (1 - s)`, or `ln x` at s = 1.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.exponent) * log_x) * log_x
    }

    /// The inverse of [`Zipf::h_integral`].
    fn h_integral_inverse(&self, x: f64) -> f64 {
        // Rounding can push t just below -1, where log1p is undefined.
        let t = (x * (1.0 - self.exponent)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// `ln(1 + x) / x`, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1) / x`, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frequencies of ranks 1..=n over `draws` samples.
    fn histogram(n: u64, exponent: f64, draws: usize) -> Vec<usize> {
        let z = Zipf::new(n, exponent);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts = vec![0usize; n as usize + 1];
        for _ in 0..draws {
            let k = z.sample(|| rng.f64());
            assert!((1..=n).contains(&k), "rank {k} outside 1..={n}");
            counts[k as usize] += 1;
        }
        counts
    }

    #[test]
    fn matches_the_exact_probabilities_for_small_n() {
        // For n = 10, s = 1: P(1) = 1 / H(10) ≈ 0.3414, P(2) ≈ 0.1707.
        let draws = 200_000;
        let counts = histogram(10, 1.0, draws);
        let harmonic: f64 = (1..=10).map(|k| 1.0 / k as f64).sum();
        for k in [1usize, 2, 5, 10] {
            let expected = 1.0 / (k as f64 * harmonic);
            let got = counts[k] as f64 / draws as f64;
            assert!(
                (got - expected).abs() < 0.01,
                "rank {k}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn works_for_exponents_below_and_above_one() {
        for s in [0.6, 0.8, 0.99, 1.0, 1.2, 2.0] {
            let counts = histogram(1000, s, 50_000);
            assert!(counts[1] > counts[10], "s={s}");
            assert!(counts[10] > counts[500], "s={s}");
        }
    }

    #[test]
    fn a_single_rank_always_draws_it() {
        let z = Zipf::new(1, 0.99);
        let mut rng = fastrand::Rng::with_seed(1);
        assert!((0..100).all(|_| z.sample(|| rng.f64()) == 1));
    }
}
