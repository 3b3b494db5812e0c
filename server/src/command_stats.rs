//! Per-command metric handles (calls and a latency histogram per command),
//! registered once with the metrics recorder so the hot path records
//! through a handle, with no registry lookup per command.

use metrics::{counter, histogram, Counter, Histogram};

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
