//! The latency monitor (LATENCY LATEST / HISTORY / RESET): records events
//! that took at least `latency-monitor-threshold` milliseconds, keeping per
//! event the latest and the highest latency and a short history. A
//! threshold of 0 disables it, as in Redis.

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
    fn zero_threshold_disables() {
        assert!(!LatencyMonitor::new(0).is_notable(u64::MAX / 2));
    }
}
