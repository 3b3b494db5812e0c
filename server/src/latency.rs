//! The latency monitor (LATENCY LATEST / HISTORY / RESET / DOCTOR):
//! records events that took at least `latency-monitor-threshold`
//! milliseconds, keeping per event the latest and the highest latency and
//! a short history, and reports on them in Redis's words. A threshold of 0
//! disables it, as in Redis.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Samples kept per event (Redis LATENCY_TS_LEN).
pub const HISTORY_LEN: usize = 160;

/// One event's record.
#[derive(Debug, Clone, Default)]
pub struct EventRecord {
    /// (unix seconds, milliseconds), oldest first.
    pub history: VecDeque<(i64, u64)>,
    /// Highest latency seen.
    pub max_ms: u64,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    threshold_ms: AtomicU64,
    events: Mutex<BTreeMap<&'static str, EventRecord>>,
}

impl LatencyMonitor {
    /// A monitor with `threshold_ms` (0 = disabled).
    pub fn new(threshold_ms: u64) -> Self {
        LatencyMonitor {
            threshold_ms: AtomicU64::new(threshold_ms),
            events: Mutex::new(BTreeMap::new()),
        }
    }

    /// Changes the threshold.
    pub fn set_threshold(&self, ms: u64) {
        self.threshold_ms.store(ms, Ordering::Relaxed);
    }

    /// True when an event of `micros` must be recorded (cheap: one load).
    /// The threshold takes any value CONFIG SET accepts, up to
    /// 9223372036854775807 ms, so its microseconds saturate.
    #[inline]
    pub fn is_notable(&self, micros: u64) -> bool {
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        threshold > 0 && micros >= threshold.saturating_mul(1000)
    }

    /// Records `event` taking `ms` at `unix_secs`. Samples in the same
    /// second are merged, keeping the highest, as Redis does.
    pub fn record(&self, event: &'static str, unix_secs: i64, ms: u64) {
        let mut events = self.events.lock();
        let record = events.entry(event).or_default();
        match record.history.back_mut() {
            Some((t, m)) if *t == unix_secs => *m = (*m).max(ms),
            _ => {
                record.history.push_back((unix_secs, ms));
                if record.history.len() > HISTORY_LEN {
                    record.history.pop_front();
                }
            }
        }
        record.max_ms = record.max_ms.max(ms);
    }

    /// All events with their records.
    pub fn snapshot(&self) -> Vec<(&'static str, EventRecord)> {
        self.events
            .lock()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// Forgets the named events (all when `names` is empty); returns how many
    /// were reset.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        let before = events.len();
        events.retain(|k, _| !names.iter().any(|n| n.eq_ignore_ascii_case(k.as_bytes())));
        before - events.len()
    }
}

/// LATENCY DOCTOR's report, in Redis's style: each event's spikes
/// (count, average, mean deviation, mean period between spikes, worst),
/// then advice; Redis's sentences when nothing was observed or the
/// monitor is off. `slowlog_slower_than` (µs) decides the slow log advice.
pub fn doctor(monitor: &LatencyMonitor, slowlog_slower_than: i64) -> String {
    let events = monitor.snapshot();
    let threshold = monitor.threshold_ms.load(Ordering::Relaxed);
    if events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_owned();
    }
    if events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n".to_owned();
    }
    let mut report = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
    );
    for (i, (name, record)) in events.iter().enumerate() {
        let samples: Vec<f64> = record.history.iter().map(|&(_, ms)| ms as f64).collect();
        let count = samples.len().max(1) as f64;
        let average = samples.iter().sum::<f64>() / count;
        let deviation = samples.iter().map(|ms| (ms - average).abs()).sum::<f64>() / count;
        let period = match (record.history.front(), record.history.back()) {
            (Some(&(first, _)), Some(&(last, _))) if samples.len() > 1 => {
                (last - first) as f64 / (samples.len() - 1) as f64
            }
            _ => 0.0,
        };
        report.push_str(&format!(
            "{}. {name}: {} latency spikes (average {}ms, mean deviation {}ms, period {period:.2} sec). Worst all time event {}ms.\n",
            i + 1,
            samples.len(),
            average as u64,
            deviation as u64,
            record.max_ms
        ));
    }
    report.push_str("\nI have a few advices for you:\n\n");
    if events.iter().any(|(name, _)| *name == "command") {
        let threshold_us = i64::try_from(threshold.saturating_mul(1000)).unwrap_or(i64::MAX);
        if slowlog_slower_than < 0 || slowlog_slower_than > threshold_us {
            report.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {threshold_us}'.\n"));
        }
        report.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        report.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    } else {
        report.push_str("- While there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your request.\n");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_latest_max_and_merges_a_second() {
        let m = LatencyMonitor::new(1);
        assert!(!m.is_notable(999) && m.is_notable(1000));
        m.record("command", 10, 5);
        m.record("command", 10, 3);
        m.record("command", 11, 2);
        let snap = m.snapshot();
        assert_eq!(snap[0].1.history, VecDeque::from(vec![(10, 5), (11, 2)]));
        assert_eq!(snap[0].1.max_ms, 5);
        assert_eq!(m.reset(&[b"COMMAND"]), 1);
        assert!(m.snapshot().is_empty());
    }

    #[test]
    fn a_huge_threshold_records_nothing() {
        let m = LatencyMonitor::new(0);
        m.set_threshold(u64::MAX);
        assert!(!m.is_notable(u64::MAX - 1));
        m.set_threshold(i64::MAX as u64);
        assert!(!m.is_notable(1_000_000));
    }

    #[test]
    fn the_doctor_reports_spikes_or_their_absence() {
        let m = LatencyMonitor::new(0);
        assert!(doctor(&m, 10_000).starts_with("I'm sorry, Dave"));
        m.set_threshold(5);
        assert!(doctor(&m, 10_000).starts_with("Dave, no latency spike"));
        m.record("command", 10, 20);
        m.record("command", 12, 40);
        let report = doctor(&m, 10_000);
        assert!(
            report.contains("1. command: 2 latency spikes (average 30ms, mean deviation 10ms, period 2.00 sec). Worst all time event 40ms."),
            "{report}"
        );
        assert!(
            report.contains("CONFIG SET slowlog-log-slower-than 5000"),
            "{report}"
        );
    }

    #[test]
    fn zero_threshold_disables() {
        assert!(!LatencyMonitor::new(0).is_notable(u64::MAX / 2));
    }
}
