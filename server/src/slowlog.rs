//! The slow log: commands that ran longer than `slowlog-log-slower-than`
//! microseconds, newest first, capped at `slowlog-max-len` entries.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::protocol::Args;

/// Redis truncates logged arguments to this many...
const MAX_ARGS: usize = 32;
/// ...and each argument to this many bytes.
const MAX_ARG_LEN: usize = 128;

/// One slow command.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    /// Increasing id.
    pub id: u64,
    /// Unix time in seconds.
    pub timestamp: i64,
    /// Execution time in microseconds.
    pub micros: i64,
    /// The command and its arguments, shortened like Redis.
    pub args: Vec<Vec<u8>>,
    /// Client address.
    pub peer: String,
    /// Client name.
    pub name: String,
}

/// See the module docs.
#[derive(Debug)]
pub struct SlowLog {
    /// Threshold in microseconds; negative disables the log. Kept here as
    /// an atomic so the per-command check takes no lock.
    slower_than: AtomicI64,
    max_len: AtomicU64,
    inner: Mutex<(u64, VecDeque<SlowEntry>)>,
}

impl SlowLog {
    /// An empty log with its threshold and capacity.
    pub fn new(slower_than: i64, max_len: u64) -> Self {
        SlowLog {
            slower_than: AtomicI64::new(slower_than),
            max_len: AtomicU64::new(max_len),
            inner: Mutex::new((0, VecDeque::new())),
        }
    }

    /// Changes the threshold (CONFIG SET slowlog-log-slower-than).
    pub fn set_slower_than(&self, micros: i64) {
        self.slower_than.store(micros, Ordering::Relaxed);
    }

    /// Changes the capacity (CONFIG SET slowlog-max-len).
    pub fn set_max_len(&self, n: u64) {
        self.max_len.store(n, Ordering::Relaxed);
        self.inner.lock().1.truncate(n as usize);
    }

    /// True if a command that took `micros` belongs in the log.
    #[inline]
    pub fn is_slow(&self, micros: i64) -> bool {
        let threshold = self.slower_than.load(Ordering::Relaxed);
        threshold >= 0 && micros >= threshold
    }

    /// Adds an entry, dropping the oldest beyond the capacity; arguments at
    /// the positions `redacted` picks are logged as `(redacted)`, as Redis
    /// logs passwords.
    pub fn record(
        &self,
        args: Args<'_>,
        redacted: &dyn Fn(usize) -> bool,
        micros: i64,
        timestamp: i64,
        peer: String,
        name: String,
    ) {
        let max_len = self.max_len.load(Ordering::Relaxed) as usize;
        let total = args.len();
        let mut logged: Vec<Vec<u8>> = args
            .iter_from(0)
            .take(if total > MAX_ARGS {
                MAX_ARGS - 1
            } else {
                MAX_ARGS
            })
            .enumerate()
            .map(|(position, a)| {
                if redacted(position) {
                    b"(redacted)".to_vec()
                } else if a.len() > MAX_ARG_LEN {
                    let mut v = a[..MAX_ARG_LEN].to_vec();
                    v.extend_from_slice(
                        format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes(),
                    );
                    v
                } else {
                    a.to_vec()
                }
            })
            .collect();
        if total > MAX_ARGS {
            logged.push(format!("... ({} more arguments)", total - MAX_ARGS + 1).into_bytes());
        }
        let mut inner = self.inner.lock();
        let id = inner.0;
        inner.0 += 1;
        inner.1.push_front(SlowEntry {
            id,
            timestamp,
            micros,
            args: logged,
            peer,
            name,
        });
        inner.1.truncate(max_len);
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<SlowEntry> {
        self.inner.lock().1.iter().take(count).cloned().collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.inner.lock().1.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry.
    pub fn reset(&self) {
        self.inner.lock().1.clear();
    }
}
