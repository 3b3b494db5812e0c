//! Server-wide counters for INFO (the keyspace counters live in the
//! store's shards). Connections add their command counts once per batch,
//! so the hot path touches no shared cache line per command.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Counters, all monotonic until CONFIG RESETSTAT.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted.
    pub connections_received: AtomicU64,
    /// Connections refused (maxclients, protected mode).
    pub rejected_connections: AtomicU64,
    /// Commands executed.
    pub commands_processed: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Connections closed for a protocol error.
    pub protocol_errors: AtomicU64,
    /// Failed AUTH / HELLO AUTH attempts (Redis's `acl_access_denied_auth`).
    pub auth_failures: AtomicU64,
    /// Connections closed after too many failed AUTH attempts.
    pub auth_failure_disconnects: AtomicU64,
    /// Connections closed for sending HTTP (`POST`, `Host:`) to the node.
    pub cross_protocol_rejections: AtomicU64,
    /// Clients closed for passing the output buffer limits.
    pub output_limit_disconnects: AtomicU64,
    /// Requests whose handler panicked (answered `-ERR internal error`).
    pub command_panics: AtomicU64,
    ops_samples: Mutex<OpsSamples>,
}

/// Recent (time, commands) samples for instantaneous_ops_per_sec.
#[derive(Debug, Default)]
struct OpsSamples {
    last: Option<(u64, u64)>,
    rates: [u64; 16],
    next: usize,
}

impl ServerStats {
    /// Adds `n` to a counter.
    #[inline]
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Records a sample of the command counter at `now_ms` (called about
    /// every 100 ms, as Redis's cron).
    pub fn sample_ops(&self, now_ms: u64) {
        let total = Self::get(&self.commands_processed);
        let mut s = self.ops_samples.lock();
        if let Some((t, n)) = s.last {
            let dt = now_ms.saturating_sub(t).max(1);
            let i = s.next;
            s.rates[i] = total.saturating_sub(n) * 1000 / dt;
            s.next = (i + 1) % s.rates.len();
        }
        s.last = Some((now_ms, total));
    }

    /// Mean of the recent per-second rates.
    pub fn instantaneous_ops(&self) -> u64 {
        let s = self.ops_samples.lock();
        s.rates.iter().sum::<u64>() / s.rates.len() as u64
    }

    /// Zeroes the counters (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.protocol_errors,
            &self.auth_failures,
            &self.auth_failure_disconnects,
            &self.cross_protocol_rejections,
            &self.output_limit_disconnects,
            &self.command_panics,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        *self.ops_samples.lock() = OpsSamples::default();
    }
}
