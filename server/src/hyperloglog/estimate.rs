//! The cardinality estimate from a histogram of register values: Otmar
//! Ertl's improved estimator ("New cardinality estimation algorithms for
//! HyperLogLog sketches", arXiv:1702.01284), the one Redis 5 and later
//! use, computed in the same order of double operations so the result is
//! the same integer.

use super::{Histogram, Q, REGISTERS};

/// 0.5 / ln 2: the estimator's constant for an infinite register count.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// sigma(x) of the paper: the correction for registers still at zero.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

/// tau(x) of the paper: the correction for registers at their maximum.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

/// The estimated number of distinct elements behind `histogram` (how many
/// registers hold each value). Values above Q + 1 cannot come from the
/// hash and are left out, as in Redis.
pub fn cardinality(histogram: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histogram[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(histogram[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    // llroundl: to the nearest integer, halves away from zero.
    (ALPHA_INF * m * m / z).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_single_registers() {
        let mut histogram = [0u32; 64];
        histogram[0] = REGISTERS as u32;
        assert_eq!(cardinality(&histogram), 0);
        histogram[0] -= 1;
        histogram[1] += 1;
        assert_eq!(cardinality(&histogram), 1);
        histogram[0] -= 2;
        histogram[2] += 2;
        assert_eq!(cardinality(&histogram), 3);
    }
}
