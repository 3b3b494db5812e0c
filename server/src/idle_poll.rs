//! Polling briefly before the worker sleeps (`idle-poll-us`). When a pass
//! of the runtime ends with nothing ready, the worker sleeps in
//! `epoll_wait`, and the next client to send must wake it. On a virtual
//! machine whose idle CPUs halt (no guest halt-polling), that wake is an
//! inter-processor interrupt paid inside the client's `send`, and a node
//! that serves a pass quickly sleeps, and is woken, more often than a
//! slower one: at pipeline 1 the client then spends more per request
//! than the node does. Under dense traffic the next request is usually a
//! few microseconds away, so the worker first polls, for at most the
//! budget and giving the CPU to any other runnable thread between polls,
//! until a watched socket has something to read or another thread has
//! woken a task; then it parks and finds the event at once.
//!
//! It polls only after a short sleep (the last one ended within the
//! budget), so an idle node, or one whose requests come further apart,
//! sleeps at once as before; and only while the machine has a CPU to
//! spare: a polling worker holds a CPU that other runnable threads may
//! need (several nodes and their clients on two cores lost a quarter of
//! their throughput to it), so the share of time that some thread waited
//! for a CPU (the kernel's pressure stall information,
//! `/proc/pressure/cpu`) is read every few milliseconds while polling is
//! wanted, and above [`CONTENDED_SHARE`] the worker sleeps at once. Without
//! that file it never polls (and says so once in the log). The watched sockets (listeners, clients,
//! peer links) are in an epoll set of their own, level-triggered: a socket
//! holding data the runtime has not read yet ends the poll at once (so
//! does one the node leaves unread on purpose, a client held back by its
//! backlog or a half-closed socket: polling is then in effect off until it
//! is read). Not watched, so waiting at most the budget: timers, signals,
//! the metrics port and cluster gossip datagrams. Only a single-worker
//! runtime polls (several workers would poll side by side). The budget
//! and the counters are the process's (all nodes of a `--local-cluster`).

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::event::{epoll, Timespec};

/// The process's poller, made by [`start`].
struct Poller {
    /// The watched sockets.
    set: OwnedFd,
    /// The budget per park in microseconds; 0 sleeps at once.
    budget_us: AtomicU64,
}

impl Poller {
    /// The budget per park; zero sleeps at once.
    fn budget(&self) -> Duration {
        Duration::from_micros(self.budget_us.load(Ordering::Relaxed))
    }
}

static POLLER: OnceLock<Poller> = OnceLock::new();

/// Polls run, polls that found work before the budget ran out, and times
/// a poll was wanted but the CPU was contended (INFO stats).
static POLLS: AtomicU64 = AtomicU64::new(0);
static POLLS_FOUND: AtomicU64 = AtomicU64::new(0);
static POLLS_CONTENDED: AtomicU64 = AtomicU64::new(0);

/// What INFO shows of the polling.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    /// Polls run.
    pub polls: u64,
    /// Polls that found work before the budget ran out.
    pub found: u64,
    /// Polls not run: some thread was waiting for a CPU.
    pub contended: u64,
}

/// The process's counters.
pub fn counters() -> Counters {
    Counters {
        polls: POLLS.load(Ordering::Relaxed),
        found: POLLS_FOUND.load(Ordering::Relaxed),
        contended: POLLS_CONTENDED.load(Ordering::Relaxed),
    }
}

/// Above this share of time with some thread waiting for a CPU, the
/// machine has none to spare.
pub const CONTENDED_SHARE: f64 = 0.10;

/// How often the CPU pressure is read while polling is wanted.
const PRESSURE_PERIOD: Duration = Duration::from_millis(10);

/// The machine's CPU pressure as last read.
struct Pressure {
    /// `/proc/pressure/cpu`, kept open (read again from its start).
    file: Option<File>,
    /// The stall time it gave (microseconds with some thread waiting).
    total_us: u64,
    read_at: Instant,
    contended: bool,
}

impl Pressure {
    fn open() -> Pressure {
        let file = File::open("/proc/pressure/cpu").ok();
        let mut pressure = Pressure {
            file,
            total_us: 0,
            read_at: Instant::now(),
            // Unknown until a first period has passed.
            contended: true,
        };
        match pressure.stall_total() {
            Some(total) => pressure.total_us = total,
            None => pressure.unreadable(),
        }
        pressure
    }

    fn unreadable(&mut self) {
        self.file = None;
        tracing::warn!("/proc/pressure/cpu cannot be read: the worker will not poll before it sleeps (idle-poll-us)");
    }

    /// Whether no thread waited for a CPU for more than [`CONTENDED_SHARE`]
    /// of the time since the last reading (read again when that is older
    /// than [`PRESSURE_PERIOD`]); `None` without the pressure file.
    fn spare_cpu(&mut self) -> Option<bool> {
        self.file.as_ref()?;
        let elapsed = self.read_at.elapsed();
        if elapsed >= PRESSURE_PERIOD {
            let Some(total) = self.stall_total() else {
                self.unreadable();
                return None;
            };
            let stalled = total.saturating_sub(self.total_us) as f64;
            // A reading after a long quiet spell would average a burst of
            // contention away: it only starts a new period.
            self.contended = elapsed > 10 * PRESSURE_PERIOD
                || stalled > CONTENDED_SHARE * elapsed.as_micros() as f64;
            self.total_us = total;
            self.read_at = Instant::now();
        }
        Some(!self.contended)
    }

    /// The `total=` of the file's `some` line.
    fn stall_total(&self) -> Option<u64> {
        let mut buf = [0u8; 256];
        let n = self.file.as_ref()?.read_at(&mut buf, 0).ok()?;
        some_total(std::str::from_utf8(&buf[..n]).ok()?)
    }
}

/// The `total=` of the `some` line of a pressure file's text.
fn some_total(text: &str) -> Option<u64> {
    let some = text.lines().find(|l| l.starts_with("some "))?;
    some.split_whitespace()
        .find_map(|field| field.strip_prefix("total="))?
        .parse()
        .ok()
}

thread_local! {
    /// When the worker went to sleep, if it is asleep.
    static ASLEEP_SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The last sleep ended within the budget: traffic is dense enough to
    /// poll for.
    static DENSE: Cell<bool> = const { Cell::new(false) };
    /// Read only by a worker that wants to poll.
    static PRESSURE: RefCell<Option<Pressure>> = const { RefCell::new(None) };
}

/// Makes the process's poller, with this budget (microseconds, 0 = off
/// until [`set_budget`]); later calls only set the budget. The runtime
/// calls [`before_park`] and [`after_unpark`] around each sleep.
///
/// # Errors
/// The epoll set cannot be made.
pub fn start(budget_us: u64) -> std::io::Result<()> {
    if POLLER.get().is_none() {
        let set = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let _ = POLLER.set(Poller {
            set,
            budget_us: AtomicU64::new(budget_us),
        });
    }
    set_budget(budget_us);
    Ok(())
}

/// Changes the budget (CONFIG SET idle-poll-us).
pub fn set_budget(budget_us: u64) {
    if let Some(poller) = POLLER.get() {
        poller.budget_us.store(budget_us, Ordering::Relaxed);
    }
}

/// Watches `socket` until it is closed (closing removes it from the set),
/// if this process polls.
pub fn watch(socket: impl AsFd) {
    if let Some(poller) = POLLER.get() {
        // A socket that cannot be added (out of memory) is only not
        // watched: the worker then sleeps as it would without polling.
        let _ = epoll::add(
            &poller.set,
            socket,
            epoll::EventData::new_u64(0),
            epoll::EventFlags::IN | epoll::EventFlags::RDHUP,
        );
    }
}

/// The runtime's hook before the worker sleeps: polls while traffic is
/// dense, until a watched socket is readable, a task is woken from another
/// thread, or the budget is spent.
pub fn before_park() {
    let Some(poller) = POLLER.get() else {
        return;
    };
    let budget = poller.budget();
    if !budget.is_zero() && DENSE.get() {
        match spare_cpu() {
            Some(true) => {
                POLLS.fetch_add(1, Ordering::Relaxed);
                if poll(poller, budget) {
                    POLLS_FOUND.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(false) => {
                POLLS_CONTENDED.fetch_add(1, Ordering::Relaxed);
            }
            None => {}
        }
    }
    ASLEEP_SINCE.set(Some(Instant::now()));
}

/// The runtime's hook after the worker wakes: notes whether the sleep was
/// short enough to poll before the next one.
pub fn after_unpark() {
    let Some(poller) = POLLER.get() else {
        return;
    };
    if let Some(since) = ASLEEP_SINCE.take() {
        DENSE.set(since.elapsed() < poller.budget());
    }
}

fn spare_cpu() -> Option<bool> {
    PRESSURE.with_borrow_mut(|pressure| pressure.get_or_insert_with(Pressure::open).spare_cpu())
}

/// Polls until there is work (true) or the budget is spent.
fn poll(poller: &Poller, budget: Duration) -> bool {
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut events = [epoll::Event {
        flags: epoll::EventFlags::empty(),
        data: epoll::EventData::new_u64(0),
    }];
    // A task woken from another thread (a script's reply, a lazily freed
    // value's) waits in the runtime's global queue.
    let runtime = tokio::runtime::Handle::try_current().ok();
    let woken = || {
        runtime
            .as_ref()
            .is_some_and(|r| r.metrics().global_queue_depth() > 0)
    };
    let start = Instant::now();
    for round in 1u32.. {
        match epoll::wait(&poller.set, &mut events[..], Some(&zero)) {
            Ok(0) if !woken() => {}
            Ok(_) => return true,
            // The set cannot be read: sleep.
            Err(_) => return false,
        }
        if start.elapsed() >= budget {
            return false;
        }
        // Now and then the CPU goes to any other thread runnable here
        // (yielding on every poll could hand it away for a whole slice).
        if round % 16 == 0 {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stall_total_is_the_some_lines() {
        let text = "some avg10=23.52 avg60=46.89 avg300=20.21 total=31525586012\n\
                    full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(some_total(text), Some(31_525_586_012));
        assert_eq!(some_total("full avg10=0.00 total=5\n"), None);
        assert_eq!(some_total("some avg10=0.00\n"), None);
    }

    #[test]
    fn without_the_pressure_file_there_is_no_cpu_to_spare() {
        let mut pressure = Pressure {
            file: None,
            total_us: 0,
            read_at: Instant::now(),
            contended: false,
        };
        assert_eq!(pressure.spare_cpu(), None);
    }

    #[test]
    fn before_start_the_hooks_and_watching_do_nothing() {
        // Not started in this process (the tests' runtimes have no hooks):
        // the hooks do nothing and watching is a no-op.
        before_park();
        after_unpark();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        watch(&listener);
        assert!(POLLER.get().is_none());
    }
}
