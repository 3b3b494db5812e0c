//! Counters and latency histograms of one connection, merged into the run's
//! totals at the end. Each connection owns its own, so recording is plain
//! arithmetic with no locks or atomics on the request path.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::reply::{Op, Outcome};

/// Latencies are recorded in microseconds, from 1 µs to this (one minute);
/// longer ones saturate at the top bucket rather than failing.
const MAX_LATENCY_US: u64 = 60_000_000;
/// Significant digits kept by the histograms (0.1% resolution).
const SIGFIG: u8 = 3;

fn histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy hdrhistogram's rules
    // (low >= 1, high >= 2 * low, sigfig <= 5), so creation cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGFIG)
        .expect("constant histogram bounds are valid")
}

/// Requests of one kind (or of every kind) and their latencies.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Replies counted (any outcome).
    pub count: u64,
    /// Latency of each, µs.
    pub latency: Histogram<u64>,
}

impl Default for OpStats {
    fn default() -> OpStats {
        OpStats {
            count: 0,
            latency: histogram(),
        }
    }
}

impl OpStats {
    fn record(&mut self, us: u64) {
        self.count += 1;
        self.latency.saturating_record(us);
    }

    fn merge(&mut self, other: &OpStats) {
        self.count += other.count;
        // Same bounds on both sides, so adding cannot fail; saturate anyway
        // by ignoring the (impossible) error rather than panicking.
        let _ = self.latency.add(&other.latency);
    }
}

/// What one connection (or, merged, the whole run) measured.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Every counted request.
    pub all: OpStats,
    /// SETs.
    pub sets: OpStats,
    /// GETs.
    pub gets: OpStats,
    /// GETs answered with a value.
    pub hits: u64,
    /// GETs answered nil.
    pub misses: u64,
    /// Error replies other than redirects, and replies of the wrong type.
    pub errors: u64,
    /// MOVED and ASK replies.
    pub redirects: u64,
    /// Connections lost, refused or timed out.
    pub connection_errors: u64,
    /// When measuring started (the end of the warmup).
    pub started: Option<Instant>,
    /// When the last counted reply arrived.
    pub finished: Option<Instant>,
    /// The first connection error, kept for the report.
    pub first_error: Option<String>,
}

impl Stats {
    /// Counts one reply that took `latency` and arrived at `now`.
    pub fn record(&mut self, op: Op, outcome: &Outcome, latency: Duration, now: Instant) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.all.record(us);
        match op {
            // A WAIT is recorded only as part of its SET (see conn.rs).
            Op::Set | Op::Wait => self.sets.record(us),
            Op::Get => self.gets.record(us),
        }
        match outcome {
            Outcome::Stored | Outcome::Replicas(_) => {}
            Outcome::Hit => self.hits += 1,
            Outcome::Miss => self.misses += 1,
            Outcome::Moved { .. } | Outcome::Ask => self.redirects += 1,
            Outcome::Error => self.errors += 1,
        }
        // Replies of different cluster nodes are recorded node by node, not
        // in arrival order, so keep the latest rather than the last.
        self.finished = latest(self.finished, Some(now));
    }

    /// Counts a lost connection.
    pub fn connection_error(&mut self, error: impl std::fmt::Display) {
        self.connection_errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
    }

    /// Requests counted.
    pub fn ops(&self) -> u64 {
        self.all.count
    }

    /// Adds `other` into `self`; the measured window becomes the union.
    pub fn merge(&mut self, other: &Stats) {
        self.all.merge(&other.all);
        self.sets.merge(&other.sets);
        self.gets.merge(&other.gets);
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
        self.redirects += other.redirects;
        self.connection_errors += other.connection_errors;
        self.started = earliest(self.started, other.started);
        self.finished = latest(self.finished, other.finished);
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    /// The measured window: start of measurement to the last counted reply.
    pub fn elapsed(&self) -> Duration {
        match (self.started, self.finished) {
            (Some(s), Some(f)) => f.saturating_duration_since(s),
            _ => Duration::ZERO,
        }
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_widens_the_window() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut a = Stats {
            started: Some(t0),
            ..Stats::default()
        };
        a.record(
            Op::Get,
            &Outcome::Hit,
            Duration::from_micros(100),
            t0 + ms(5),
        );
        let mut b = Stats {
            started: Some(t0 + ms(1)),
            ..Stats::default()
        };
        // (op, outcome, latency in µs, arrival in ms after t0)
        for (op, outcome, us, at) in [
            (Op::Get, Outcome::Miss, 300, 9),
            (Op::Set, Outcome::Error, 200, 8),
        ] {
            b.record(op, &outcome, Duration::from_micros(us), t0 + ms(at));
        }
        b.connection_error("reset");
        a.merge(&b);
        assert_eq!(
            (a.gets.count, a.sets.count, a.hits, a.misses, a.errors),
            (2, 1, 1, 1, 1)
        );
        assert_eq!(a.connection_errors, 1);
        assert_eq!(a.first_error.as_deref(), Some("reset"));
        assert_eq!((a.ops(), a.all.latency.len()), (3, 3));
        let gets = &a.gets.latency;
        assert_eq!(gets.max(), gets.highest_equivalent(300));
        assert_eq!(a.elapsed(), ms(9));
    }
}
