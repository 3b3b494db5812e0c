//! The results: one [`Summary`] computed from the merged statistics, printed
//! as a memtier-style table and serialised as JSON with the same figures.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::config::{Config, Stop};
use crate::runner::Outcome;
use crate::stats::OpStats;

/// Latency percentiles of one request type, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    fn from_histogram(h: &Histogram<u64>) -> Latency {
        // Histograms hold microseconds; hdrhistogram answers 0 when empty.
        let ms = |us: u64| us as f64 / 1000.0;
        let q = |quantile: f64| ms(h.value_at_quantile(quantile));
        Latency {
            mean: h.mean() / 1000.0,
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p99_9: q(0.999),
            max: ms(h.max()),
        }
    }
}

/// Figures of one request type (or of all of them).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpSummary {
    /// Requests counted.
    pub ops: u64,
    /// Requests per second over the measured window.
    pub ops_per_sec: f64,
    /// Latency, ms.
    pub latency_ms: Latency,
}

/// GET hit and miss figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HitSummary {
    /// GETs that found a value.
    pub hits: u64,
    /// GETs answered nil.
    pub misses: u64,
    /// Hits per second.
    pub hits_per_sec: f64,
    /// Misses per second.
    pub misses_per_sec: f64,
    /// hits / (hits + misses), 0 without GETs.
    pub hit_ratio: f64,
}

/// Error counts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorSummary {
    /// Error replies (other than redirects) and replies of the wrong type.
    pub error_replies: u64,
    /// MOVED and ASK replies.
    pub redirects: u64,
    /// Connections that failed to open, broke or timed out.
    pub connection_errors: u64,
    /// The first connection error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_connection_error: Option<String>,
}

/// The settings the figures were measured with.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSettings {
    /// Seed address.
    pub server: String,
    /// Nodes the keys went to.
    pub nodes: Vec<String>,
    /// Threads.
    pub threads: usize,
    /// Connections per thread.
    pub connections: usize,
    /// Pipeline depth.
    pub pipeline: usize,
    /// `SET:GET`.
    pub ratio: String,
    /// Key pattern.
    pub key_pattern: String,
    /// Key range, inclusive.
    pub key_min: u64,
    /// Key range, inclusive.
    pub key_max: u64,
    /// Value size, bytes.
    pub data_size: usize,
    /// Warmup, seconds.
    pub warmup_secs: f64,
    /// `time`, `requests` or `load`.
    pub mode: String,
}

/// Everything the report shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// What was run.
    pub settings: RunSettings,
    /// Measured window, seconds.
    pub duration_secs: f64,
    /// All requests.
    pub totals: OpSummary,
    /// SETs.
    pub sets: OpSummary,
    /// GETs.
    pub gets: OpSummary,
    /// GET hits and misses.
    pub get_hits: HitSummary,
    /// Errors.
    pub errors: ErrorSummary,
    /// Why `--cluster` fell back to one node, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn rate(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

impl Summary {
    /// Computes the summary of a finished run.
    pub fn new(config: &Config, outcome: &Outcome) -> Summary {
        let s = &outcome.stats;
        let secs = s.elapsed().as_secs_f64();
        let op = |stats: &OpStats| OpSummary {
            ops: stats.count,
            ops_per_sec: rate(stats.count, secs),
            latency_ms: Latency::from_histogram(&stats.latency),
        };
        let answered = s.hits + s.misses;
        Summary {
            settings: RunSettings {
                server: config.server.clone(),
                nodes: outcome.topology.nodes.clone(),
                threads: config.threads,
                connections: config.connections,
                pipeline: config.pipeline,
                ratio: config.ratio.to_string(),
                key_pattern: config.key_pattern.to_string(),
                key_min: config.key_min,
                key_max: config.key_max,
                data_size: config.data_size,
                warmup_secs: config.warmup.as_secs_f64(),
                mode: match config.stop {
                    Stop::Time(_) => "time",
                    Stop::Requests(_) => "requests",
                    Stop::Load => "load",
                }
                .into(),
            },
            duration_secs: secs,
            totals: op(&s.all),
            sets: op(&s.sets),
            gets: op(&s.gets),
            get_hits: HitSummary {
                hits: s.hits,
                misses: s.misses,
                hits_per_sec: rate(s.hits, secs),
                misses_per_sec: rate(s.misses, secs),
                hit_ratio: if answered > 0 {
                    s.hits as f64 / answered as f64
                } else {
                    0.0
                },
            },
            errors: ErrorSummary {
                error_replies: s.errors,
                redirects: s.redirects,
                connection_errors: s.connection_errors,
                first_connection_error: s.first_error.clone(),
            },
            note: outcome.cluster_note.clone(),
        }
    }

    /// The memtier-style table.
    pub fn to_text(&self) -> String {
        let st = &self.settings;
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = writeln!(
            out,
            "{} thread(s) x {} connection(s), pipeline {}, SET:GET {}, {} keys {}..={}, {}-byte values, {} node(s), {:.2} s measured",
            st.threads,
            st.connections,
            st.pipeline,
            st.ratio,
            st.key_pattern,
            st.key_min,
            st.key_max,
            st.data_size,
            st.nodes.len(),
            self.duration_secs
        );
        if let Some(note) = &self.note {
            let _ = writeln!(out, "note: {note}");
        }
        let _ = writeln!(
            out,
            "{:<7} {:>12} {:>12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "Type",
            "Ops/sec",
            "Hits/sec",
            "Misses/sec",
            "Avg ms",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms"
        );
        let h = &self.get_hits;
        let rows = [
            ("Sets", &self.sets, None),
            ("Gets", &self.gets, Some((h.hits_per_sec, h.misses_per_sec))),
            (
                "Totals",
                &self.totals,
                Some((h.hits_per_sec, h.misses_per_sec)),
            ),
        ];
        for (name, op, hits) in rows {
            let (hits, misses) = hits.map_or(("---".into(), "---".into()), |(a, b)| {
                (format!("{a:.2}"), format!("{b:.2}"))
            });
            let l = &op.latency_ms;
            let _ = writeln!(
                out,
                "{:<7} {:>12.2} {:>12} {:>12} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                name, op.ops_per_sec, hits, misses, l.mean, l.p50, l.p90, l.p99, l.p99_9, l.max
            );
        }
        let e = &self.errors;
        let _ = writeln!(
            out,
            "requests: {} (SET {}, GET {}: {} hits, {} misses, hit ratio {:.3}); errors: {} error replies, {} redirects, {} connection errors",
            self.totals.ops,
            self.sets.ops,
            self.gets.ops,
            h.hits,
            h.misses,
            h.hit_ratio,
            e.error_replies,
            e.redirects,
            e.connection_errors
        );
        if let Some(first) = &e.first_connection_error {
            let _ = writeln!(out, "first connection error: {first}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Topology;
    use crate::config::{Args, Config};
    use crate::reply::{Op, Outcome as Reply};
    use crate::stats::Stats;
    use clap::Parser;
    use std::time::{Duration, Instant};

    #[test]
    fn summary_rates_and_percentiles() {
        let config =
            Config::try_from(Args::try_parse_from(["loadgen", "--test-time", "2"]).unwrap())
                .unwrap();
        let t0 = Instant::now();
        let mut stats = Stats {
            started: Some(t0),
            ..Stats::default()
        };
        for i in 1..=1000u64 {
            let (op, reply) = match i % 4 {
                0 => (Op::Set, Reply::Stored),
                1 => (Op::Get, Reply::Miss),
                _ => (Op::Get, Reply::Hit),
            };
            stats.record(
                op,
                &reply,
                Duration::from_micros(i),
                t0 + Duration::from_secs(2),
            );
        }
        let outcome = Outcome {
            topology: Topology::single("127.0.0.1:6379"),
            cluster_note: None,
            stats,
            failed_connections: 0,
        };
        let s = Summary::new(&config, &outcome);
        assert_eq!(s.duration_secs, 2.0);
        assert_eq!(s.totals.ops, 1000);
        assert_eq!(s.totals.ops_per_sec, 500.0);
        assert_eq!((s.sets.ops, s.gets.ops), (250, 750));
        assert_eq!((s.get_hits.hits, s.get_hits.misses), (500, 250));
        // Latencies 1..=1000 µs: the median is ~0.5 ms, the max 1 ms.
        assert!(
            (s.totals.latency_ms.p50 - 0.5).abs() < 0.01,
            "{:?}",
            s.totals.latency_ms
        );
        assert!((s.totals.latency_ms.max - 1.0).abs() < 0.01);
        let text = s.to_text();
        assert!(text.contains("Totals") && text.contains("500.00"), "{text}");
        let json: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(json["get_hits"]["hits"], 500);
        assert_eq!(
            json["totals"]["latency_ms"]["p99_9"],
            s.totals.latency_ms.p99_9
        );
    }
}
