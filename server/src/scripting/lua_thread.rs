//! The thread Lua code runs on. Scripts nest deeply (Lua's C calls,
//! cjson's and the conversions' 1000 levels), more than a runtime
//! thread's stack allows, and one thread is enough: only one script runs
//! at a time (the node's gate).
//!
//! Work comes in two kinds. A script ([`Job::Alone`]) needs the gate alone:
//! the thread takes it, waiting as long as commands hold it. Work whose
//! sender already holds the gate ([`Job::Held`]: a script inside EXEC,
//! FUNCTION LOAD running a library's code) waits for nothing; the thread
//! runs such work while it waits for the gate, so a sender that holds the
//! gate and waits for its work never waits for a script that waits for
//! the gate. A script's caller is never blocked: its reply comes back on a
//! channel the connection awaits.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

/// The thread's stack: deep enough for Lua's own C recursion limits,
/// cjson's and the conversions' 1000 levels, in a debug build (only what
/// is touched is committed).
const STACK: usize = 256 << 20;

/// Work queued and not yet taken: at most one script per connection is in
/// flight (its connection waits for it), so this bounds nothing that the
/// connection limit does not already bound.
const QUEUE: usize = 1024;

/// How long one try at the gate waits before the thread looks for work
/// that does not need it.
const GATE_WAIT: Duration = Duration::from_millis(1);

/// Work for the Lua thread.
pub enum Job {
    /// A script: `attempt(wait)` tries to take the gate alone within
    /// `wait`, and if it got it runs the script and returns true.
    Alone(Box<dyn FnMut(Duration) -> bool + Send>),
    /// Work whose sender holds the gate.
    Held(Box<dyn FnOnce() + Send>),
}

/// The sending side; the thread ends when it is dropped.
#[derive(Debug)]
pub struct LuaThread {
    jobs: mpsc::SyncSender<Job>,
}

impl LuaThread {
    /// Starts the thread; `None` if the system refuses one.
    pub fn start() -> Option<LuaThread> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("lua".into())
            .stack_size(STACK)
            .spawn(move || serve(&queue))
            .ok()?;
        Some(LuaThread { jobs })
    }

    /// Queues `job`; gives it back if the thread is gone.
    ///
    /// # Errors
    /// The job, when the thread has stopped.
    pub fn send(&self, job: Job) -> Result<(), Job> {
        self.jobs.send(job).map_err(|e| e.0)
    }

    /// A second handle to the same thread.
    pub fn handle(&self) -> LuaThread {
        LuaThread {
            jobs: self.jobs.clone(),
        }
    }
}

/// The thread's loop: jobs in order, except that work needing no gate
/// runs while a script waits for it.
fn serve(queue: &mpsc::Receiver<Job>) {
    let mut waiting: VecDeque<Job> = VecDeque::new();
    loop {
        let job = match waiting.pop_front() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            Job::Held(work) => run(work),
            Job::Alone(mut attempt) => {
                while !timed(|| catch_unwind(AssertUnwindSafe(|| attempt(GATE_WAIT))))
                    .unwrap_or(true)
                {
                    while let Ok(next) = queue.try_recv() {
                        match next {
                            Job::Held(work) => run(work),
                            alone => waiting.push_back(alone),
                        }
                    }
                }
            }
        }
    }
}

/// Runs work; a panic costs that work only (its sender sees its reply
/// channel closed).
fn run(work: Box<dyn FnOnce() + Send>) {
    let _ = timed(|| catch_unwind(AssertUnwindSafe(work)));
}

/// Runs `f` with the store's clock stopped at its start, as Redis runs a
/// script: no key expires between two of its calls.
fn timed<R>(f: impl FnOnce() -> R) -> R {
    let _time = crate::store::CommandTime::start();
    f()
}
