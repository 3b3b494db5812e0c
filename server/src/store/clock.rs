//! The store's notion of now, in Unix milliseconds: the system clock, or a
//! manual clock that tests move by hand to check TTL logic exactly. While
//! a command runs, the system clock reads as the moment it started
//! ([`CommandTime`]).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringcache_proto::clock::unix_nanos;

thread_local! {
    /// When the command this thread runs started, in Unix ms (0: none).
    static COMMAND_MS: Cell<u64> = const { Cell::new(0) };
}

/// The time a command runs at, as Redis's command time snapshot: while it
/// lives, the store's system clock on this thread reads as the moment it
/// started, for the command and for the commands an EXEC (or a script,
/// whose thread holds one) runs inside it, so a key does not expire
/// halfway through them. It also times the
/// command: one read of the clock at each end, where the store would
/// otherwise read it again at every key.
#[derive(Debug)]
pub struct CommandTime {
    started_ns: u64,
    /// Whether this one set the snapshot (the outermost command).
    owns: bool,
}

impl CommandTime {
    /// Starts the snapshot, unless an enclosing command holds one.
    pub fn start() -> CommandTime {
        let started_ns = unix_nanos();
        let owns = COMMAND_MS.with(|ms| {
            let free = ms.get() == 0;
            if free {
                ms.set((started_ns / 1_000_000).max(1));
            }
            free
        });
        CommandTime { started_ns, owns }
    }

    /// The time since the command started (zero if the clock went back).
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(unix_nanos().saturating_sub(self.started_ns))
    }
}

impl Drop for CommandTime {
    fn drop(&mut self) {
        if self.owns {
            COMMAND_MS.with(|ms| ms.set(0));
        }
    }
}

/// Now for the store on the system clock: the running command's snapshot,
/// else the clock itself.
#[inline]
fn system_ms() -> u64 {
    match COMMAND_MS.with(Cell::get) {
        0 => unix_ms(),
        snapshot => snapshot,
    }
}

/// A source of the current time.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock that only moves when told.
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A manual clock starting at `start_ms`.
    pub fn manual(start_ms: u64) -> Clock {
        Clock::Manual(Arc::new(AtomicU64::new(start_ms)))
    }

    /// Now, in Unix milliseconds.
    #[inline]
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::System => system_ms(),
            Clock::Manual(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, ms: u64) {
        if let Clock::Manual(t) = self {
            t.fetch_add(ms, Ordering::Relaxed);
        }
    }
}

/// The system time in Unix microseconds.
pub use ringcache_proto::clock::unix_micros as unix_us;
/// The system time in Unix milliseconds.
pub use ringcache_proto::clock::unix_millis as unix_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_reads_the_time_it_started_at_and_nested_ones_share_it() {
        let clock = Clock::System;
        let outer = CommandTime::start();
        let snapshot = clock.now_ms();
        std::thread::sleep(Duration::from_millis(3));
        assert_eq!(clock.now_ms(), snapshot, "frozen while the command runs");
        {
            // A command EXEC runs inside: the same moment.
            let inner = CommandTime::start();
            assert_eq!(clock.now_ms(), snapshot);
            assert!(inner.elapsed() < outer.elapsed());
        }
        assert_eq!(clock.now_ms(), snapshot, "the inner one leaves it set");
        assert!(outer.elapsed() >= Duration::from_millis(3));
        drop(outer);
        assert!(clock.now_ms() >= snapshot + 3, "the system clock again");
        // Another thread never sees this thread's snapshot.
        let _held = CommandTime::start();
        std::thread::sleep(Duration::from_millis(2));
        let elsewhere = std::thread::spawn(move || Clock::System.now_ms())
            .join()
            .expect("thread");
        assert!(elsewhere > clock.now_ms());
    }
}
