//! The script running now, as other connections see it while it holds the
//! node's gate: how long it has run (past `busy-reply-threshold` they get
//! `-BUSY`), whether it wrote (then SCRIPT KILL answers `-UNKILLABLE`), and
//! a kill request the Lua hook of the running script acts on. Read with
//! atomics and one short lock, never the engine's.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

/// The error a killed script ends with.
pub const KILLED: &str = "Script killed by user with SCRIPT KILL...";
/// Redis's BUSY reply while an EVAL script runs too long.
const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// Redis's BUSY reply while a function runs too long.
const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// What runs: an EVAL script or a function (FCALL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// EVAL, EVALSHA and their `_RO` forms.
    Eval,
    /// FCALL and FCALL_RO.
    Function,
}

impl Kind {
    /// The BUSY reply while a script of this kind runs too long.
    pub fn busy_error(self) -> &'static str {
        match self {
            Kind::Eval => BUSY_EVAL,
            Kind::Function => BUSY_FUNCTION,
        }
    }
}

/// What FUNCTION STATS shows of the running script.
#[derive(Debug)]
struct Current {
    kind: Kind,
    name: String,
    command: Vec<Vec<u8>>,
    started: Instant,
}

/// See the module docs.
pub struct Running {
    current: Mutex<Option<Current>>,
    active: AtomicBool,
    /// Milliseconds since `epoch` when the running script started.
    started_ms: AtomicU64,
    epoch: Instant,
    threshold_ms: AtomicU64,
    killed: AtomicBool,
    wrote: AtomicBool,
    /// The slow-script warning was logged for the running script.
    warned: AtomicBool,
    stopping: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("active", &self.active)
            .field("killed", &self.killed)
            .finish_non_exhaustive()
    }
}

/// Ends the running script's record when dropped.
pub struct RunGuard<'a>(&'a Running);

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.0.active.store(false, Ordering::Release);
        *self.0.current.lock() = None;
    }
}

impl Running {
    /// No script running; `stopping` says the node shuts down.
    pub fn new(stopping: Arc<dyn Fn() -> bool + Send + Sync>) -> Running {
        Running {
            current: Mutex::new(None),
            active: AtomicBool::new(false),
            started_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            threshold_ms: AtomicU64::new(5000),
            killed: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            warned: AtomicBool::new(false),
            stopping,
        }
    }

    /// Records a script starting (`command`: its request, for FUNCTION
    /// STATS); `threshold_ms` is `busy-reply-threshold` now.
    pub fn begin(
        &self,
        kind: Kind,
        name: String,
        command: Vec<Vec<u8>>,
        threshold_ms: u64,
    ) -> RunGuard<'_> {
        self.killed.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.warned.store(false, Ordering::Relaxed);
        self.threshold_ms.store(threshold_ms, Ordering::Relaxed);
        *self.current.lock() = Some(Current {
            kind,
            name,
            command,
            started: Instant::now(),
        });
        self.started_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.active.store(true, Ordering::Release);
        RunGuard(self)
    }

    /// The BUSY reply when a script has run past the threshold; `None`
    /// while none runs or it is still within it.
    pub fn busy(&self) -> Option<&'static str> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let now = self.epoch.elapsed().as_millis() as u64;
        let ran = now.saturating_sub(self.started_ms.load(Ordering::Relaxed));
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        if ran < threshold {
            return None;
        }
        let current = self.current.lock();
        let current = current.as_ref()?;
        if !self.warned.swap(true, Ordering::Relaxed) {
            let command = match current.kind {
                Kind::Eval => "SCRIPT KILL",
                Kind::Function => "FUNCTION KILL",
            };
            tracing::warn!(
                script = %current.name,
                "slow script detected: still in execution after {threshold} milliseconds; you can try killing it with {command}"
            );
        }
        Some(current.kind.busy_error())
    }

    /// The kind of the running script, if one runs.
    pub fn kind(&self) -> Option<Kind> {
        self.current.lock().as_ref().map(|c| c.kind)
    }

    /// Notes that the running script wrote (it can no longer be killed).
    pub fn note_write(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    /// SCRIPT KILL (`from` Eval) or FUNCTION KILL (`from` Function).
    ///
    /// # Errors
    /// Redis's refusal: nothing runs, it wrote, or it is of the other kind.
    pub fn kill(&self, from: Kind) -> Result<(), &'static str> {
        let current = self.current.lock();
        let Some(current) = current.as_ref() else {
            return Err(NOTBUSY);
        };
        if self.wrote.load(Ordering::Relaxed) {
            return Err(UNKILLABLE);
        }
        if current.kind != from {
            return Err(current.kind.busy_error());
        }
        self.killed.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// True when the running script must stop now (killed, or the node
    /// shuts down): the Lua hook raises an error.
    pub fn must_stop(&self) -> bool {
        self.killed.load(Ordering::Relaxed) || (self.stopping)()
    }

    /// True when the running script was killed.
    pub fn was_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// FUNCTION STATS's `running_script`: name, command and milliseconds
    /// run, for a running function (an EVAL script is not shown there).
    pub fn stats(&self) -> Option<(String, Vec<Vec<u8>>, u64)> {
        let current = self.current.lock();
        let current = current.as_ref()?;
        Some((
            current.name.clone(),
            current.command.clone(),
            current.started.elapsed().as_millis() as u64,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_after_the_threshold_and_kill_rules() {
        let running = Running::new(Arc::new(|| false));
        assert_eq!(running.busy(), None);
        assert_eq!(running.kill(Kind::Eval), Err(NOTBUSY));
        let guard = running.begin(Kind::Eval, "s".into(), Vec::new(), 0);
        assert_eq!(running.busy(), Some(BUSY_EVAL));
        assert_eq!(running.kill(Kind::Function), Err(BUSY_EVAL));
        assert_eq!(running.kill(Kind::Eval), Ok(()));
        assert!(running.must_stop());
        drop(guard);
        assert_eq!(running.busy(), None);
        let _guard = running.begin(Kind::Function, "f".into(), Vec::new(), 60_000);
        assert_eq!(running.busy(), None);
        running.note_write();
        assert_eq!(running.kill(Kind::Function), Err(UNKILLABLE));
        assert!(!running.must_stop());
    }
}
