//! Per-command figures: the metric handles (calls and a latency histogram
//! per command), registered once with the metrics recorder so the hot path
//! records through a handle, with no registry lookup per command; INFO
//! commandstats' counters ([`CommandStats`]) and errorstats'
//! ([`ErrorStats`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{counter, histogram, Counter, Histogram};
use parking_lot::Mutex;

/// Handles for the per-command metrics, indexed like the command table.
#[derive(Debug)]
pub struct CommandMetrics {
    calls: Vec<Counter>,
    latency: Vec<Histogram>,
}

impl CommandMetrics {
    /// Registers one counter and one histogram per command name, in table
    /// order, with the global recorder (no-ops when none is installed).
    pub fn new(names: impl Iterator<Item = &'static str> + Clone) -> Self {
        CommandMetrics {
            calls: names
                .clone()
                .map(|name| counter!("ringcache_commands_total", "command" => name))
                .collect(),
            latency: names
                .map(|name| histogram!("ringcache_command_duration_seconds", "command" => name))
                .collect(),
        }
    }

    /// Records one call of command `index` that took `seconds`.
    #[inline]
    pub fn record(&self, index: usize, seconds: f64) {
        if let (Some(calls), Some(latency)) = (self.calls.get(index), self.latency.get(index)) {
            calls.increment(1);
            latency.record(seconds);
        }
    }
}

/// INFO commandstats' figures for one command or subcommand.
#[derive(Debug, Default)]
struct Counts {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

/// INFO commandstats: calls, time, rejections and failures per command
/// and per subcommand (`client|list`), in slots the command table
/// numbers (`commands::statistics`).
#[derive(Debug)]
pub struct CommandStats {
    names: Vec<String>,
    counts: Vec<Counts>,
}

impl CommandStats {
    /// One slot per name, in order.
    pub fn new(names: Vec<String>) -> Self {
        let counts = names.iter().map(|_| Counts::default()).collect();
        CommandStats { names, counts }
    }

    /// One run of the command in `slot` that took `usec`; `failed`: it
    /// answered an error.
    #[inline]
    pub fn record(&self, slot: usize, usec: u64, failed: bool) {
        if let Some(counts) = self.counts.get(slot) {
            counts.calls.fetch_add(1, Ordering::Relaxed);
            counts.usec.fetch_add(usec, Ordering::Relaxed);
            if failed {
                counts.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A request for the command in `slot` refused before it ran (arity,
    /// authentication, memory, a busy script).
    pub fn reject(&self, slot: usize) {
        if let Some(counts) = self.counts.get(slot) {
            counts.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The `cmdstat_` lines of the commands that ran or were refused, in
    /// table order.
    pub fn write_info(&self, out: &mut String) {
        for (name, counts) in self.names.iter().zip(&self.counts) {
            let calls = counts.calls.load(Ordering::Relaxed);
            let rejected = counts.rejected.load(Ordering::Relaxed);
            let failed = counts.failed.load(Ordering::Relaxed);
            if calls == 0 && rejected == 0 && failed == 0 {
                continue;
            }
            let usec = counts.usec.load(Ordering::Relaxed);
            let per_call = if calls == 0 {
                0.0
            } else {
                usec as f64 / calls as f64
            };
            let _ = write!(
                out,
                "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n"
            );
        }
    }

    /// Zeroes every figure (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for counts in &self.counts {
            for figure in [
                &counts.calls,
                &counts.usec,
                &counts.rejected,
                &counts.failed,
            ] {
                figure.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// Distinct error codes INFO errorstats keeps, as Redis (a client cannot
/// grow the table without bound by inventing codes).
pub const MAX_ERROR_CODES: usize = 128;

/// INFO errorstats and `total_error_replies`: error replies counted by
/// their code (the first word: `ERR`, `WRONGTYPE`, `NOAUTH`...).
#[derive(Debug, Default)]
pub struct ErrorStats {
    total: AtomicU64,
    by_code: Mutex<BTreeMap<String, u64>>,
}

impl ErrorStats {
    /// Counts one error reply `text` (without its `-`). Its code is the
    /// text up to the first space within 32 bytes, else `ERR`, as Redis
    /// reads it.
    pub fn count(&self, text: &[u8]) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let head = &text[..text.len().min(32)];
        let code = match head.iter().position(|&b| b == b' ') {
            Some(end) if end > 0 => String::from_utf8_lossy(&head[..end]).into_owned(),
            _ => "ERR".to_owned(),
        };
        let mut by_code = self.by_code.lock();
        if let Some(n) = by_code.get_mut(&code) {
            *n += 1;
        } else if by_code.len() < MAX_ERROR_CODES {
            by_code.insert(code, 1);
        }
    }

    /// Every error reply counted.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// The `errorstat_` lines, by code in byte order (Redis's).
    pub fn write_info(&self, out: &mut String) {
        for (code, count) in self.by_code.lock().iter() {
            let _ = write!(out, "errorstat_{code}:count={count}\r\n");
        }
    }

    /// Zeroes everything (CONFIG RESETSTAT).
    pub fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        self.by_code.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_first_words() {
        let stats = ErrorStats::default();
        stats.count(b"ERR syntax error");
        stats.count(b"WRONGTYPE Operation against a key");
        stats.count(b"NOSPACE");
        stats.count(b"ERR again");
        let mut out = String::new();
        stats.write_info(&mut out);
        assert_eq!(
            out,
            "errorstat_ERR:count=3\r\nerrorstat_WRONGTYPE:count=1\r\n"
        );
        assert_eq!(stats.total(), 4);
        for i in 0..2 * MAX_ERROR_CODES {
            stats.count(format!("E{i} x").as_bytes());
        }
        assert_eq!(stats.by_code.lock().len(), MAX_ERROR_CODES);
    }

    #[test]
    fn command_lines_are_redis_lines() {
        let stats = CommandStats::new(vec!["get".into(), "client|list".into()]);
        stats.record(1, 10, false);
        stats.record(1, 5, true);
        stats.reject(1);
        let mut out = String::new();
        stats.write_info(&mut out);
        assert_eq!(
            out,
            "cmdstat_client|list:calls=2,usec=15,usec_per_call=7.50,rejected_calls=1,failed_calls=1\r\n"
        );
        stats.reset();
        out.clear();
        stats.write_info(&mut out);
        assert!(out.is_empty());
    }
}
