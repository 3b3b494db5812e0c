//! Lua scripting, as Redis 7 embeds it: EVAL's scripts and FUNCTION's
//! libraries run on Lua 5.1 (through mlua) in a sandbox with Redis's
//! globals, its `redis` API, its conversions between RESP and Lua, and the
//! cjson, cmsgpack, bit and struct libraries.
//!
//! This module knows nothing of commands or the store: a script reaches
//! the key space through a [`Host`] that the command layer implements
//! (`commands/scripting.rs`), so scripting depends on no other part of the
//! node but the reply writer. The node keeps one [`Scripts`]: the engine
//! (both Lua states, created at the first use), and the state of the
//! running script that other connections read without waiting for it
//! ([`Running`]: BUSY, SCRIPT KILL, FUNCTION STATS).

mod busy;
mod convert;
mod engine;
mod functions;
mod libs;
mod numbers;
mod raise;
mod sandbox;
mod shebang;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{MappedMutexGuard, Mutex, MutexGuard};

pub use busy::{Kind, Running, KILLED};
pub use engine::{CallOptions, Engine, Host, Invocation, LogLevel, Ran};
pub use functions::{FunctionFlags, FunctionInfo, Functions, LibraryInfo, RestorePolicy};
pub use shebang::ScriptFlags;

/// Redis's reply to EVALSHA of an unknown script.
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// The node's scripting: the engine and the running script's state.
#[derive(Debug)]
pub struct Scripts {
    /// The script running now, if any (read without the engine's lock).
    pub running: Arc<Running>,
    /// Both Lua states and their scripts and libraries, created at the
    /// first use (a node that never scripts pays nothing). Locked only
    /// while holding the node's gate (shared by script commands that do
    /// not run Lua code, alone by a running script), so it never makes
    /// a command wait on a long script.
    engine: Mutex<Option<Engine>>,
    /// Libraries and functions loaded (FUNCTION STATS reads them while a
    /// function runs and holds the engine).
    counts: Mutex<(usize, usize)>,
    /// The Lua heaps' limit in bytes (`maxmemory`; 0: none).
    memory_limit: AtomicU64,
}

impl Scripts {
    /// Scripting for a node; `stopping` tells a running script to give up
    /// when the node shuts down; `memory_limit` caps each Lua heap
    /// (`maxmemory`, 0: none).
    pub fn new(stopping: Arc<dyn Fn() -> bool + Send + Sync>, memory_limit: u64) -> Scripts {
        Scripts {
            running: Arc::new(Running::new(stopping)),
            engine: Mutex::new(None),
            counts: Mutex::new((0, 0)),
            memory_limit: AtomicU64::new(memory_limit),
        }
    }

    /// The engine, created on first use (`version`: what scripts see as
    /// `redis.REDIS_VERSION`).
    ///
    /// # Errors
    /// Lua could not be set up (out of memory).
    pub fn engine(&self, version: &str) -> Result<MappedMutexGuard<'_, Engine>, String> {
        let mut guard = self.engine.lock();
        if guard.is_none() {
            let mut engine =
                Engine::new(self.running.clone(), version).map_err(|e| format!("ERR {e}"))?;
            engine.set_memory_limit(self.memory_limit.load(Ordering::Relaxed));
            *guard = Some(engine);
        }
        MutexGuard::try_map(guard, Option::as_mut).map_err(|_| "ERR no Lua engine".to_string())
    }

    /// Libraries and functions loaded.
    pub fn counts(&self) -> (usize, usize) {
        *self.counts.lock()
    }

    /// Records the libraries and functions loaded now.
    pub fn set_counts(&self, counts: (usize, usize)) {
        *self.counts.lock() = counts;
    }

    /// Sets the Lua heap's limit (`maxmemory`; 0: none), if the engine
    /// exists.
    pub fn set_memory_limit(&self, limit: u64) {
        self.memory_limit.store(limit, Ordering::Relaxed);
        if let Some(engine) = self.engine.lock().as_mut() {
            engine.set_memory_limit(limit);
        }
    }
}

/// SHA1 of `body` in lower-case hex, as SCRIPT LOAD answers it.
pub fn sha1_hex(body: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(body);
    let mut text = String::with_capacity(40);
    for byte in digest {
        text.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        text.push(char::from_digit(u32::from(byte & 15), 16).unwrap_or('0'));
    }
    text
}
