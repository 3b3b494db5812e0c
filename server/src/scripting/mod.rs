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
mod env;
mod functions;
mod libs;
mod lua_thread;
mod numbers;
mod raise;
mod sandbox;
mod shebang;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use parking_lot::{MappedMutexGuard, Mutex, MutexGuard};

pub use busy::{Kind, Running, KILLED};
pub use engine::{CallOptions, Engine, Host, Invocation, LogLevel};
pub use functions::{FunctionInfo, Functions, LibraryInfo, RestorePolicy};
pub use lua_thread::Job;
use lua_thread::LuaThread;
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
    /// Where Lua code runs (started at the first script).
    lua_thread: Mutex<Option<LuaThread>>,
}

impl Scripts {
    /// Scripting for a node; `stopping` tells a running script to give up
    /// when the node shuts down; `maxmemory` bounds the Lua heaps (see
    /// [`Scripts::set_memory_limit`]).
    pub fn new(stopping: Arc<dyn Fn() -> bool + Send + Sync>, maxmemory: u64) -> Scripts {
        Scripts {
            running: Arc::new(Running::new(stopping)),
            engine: Mutex::new(None),
            counts: Mutex::new((0, 0)),
            memory_limit: AtomicU64::new(heap_limit(maxmemory)),
            lua_thread: Mutex::new(None),
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

    /// Queues `job` on the Lua thread (started at the first use, and again
    /// if it stopped).
    ///
    /// # Errors
    /// The job, when no thread can be started.
    pub fn on_lua_thread(&self, job: Job) -> Result<(), Job> {
        let thread = {
            let mut thread = self.lua_thread.lock();
            if thread.is_none() {
                *thread = LuaThread::start();
            }
            thread.as_ref().map(LuaThread::handle)
        };
        let Some(thread) = thread else {
            return Err(job);
        };
        thread.send(job).inspect_err(|_| {
            *self.lua_thread.lock() = None;
        })
    }

    /// Lets the Lua thread end (at shutdown, once the connections are
    /// gone): it returns when the last handle to its queue is dropped, and
    /// none is made again unless a script comes.
    pub fn stop_thread(&self) {
        self.lua_thread.lock().take();
    }

    /// Runs `f` on the Lua thread and waits for it; the caller holds the
    /// node's gate (shared or alone), so `f` never waits for a script.
    /// `None` if `f` panicked or no thread could run it.
    pub fn run_held<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> Option<R> {
        let (done, result) = mpsc::sync_channel(1);
        let job = Job::Held(Box::new(move || {
            let _ = done.send(f());
        }));
        self.on_lua_thread(job).ok()?;
        result.recv().ok()
    }

    /// Libraries and functions loaded.
    pub fn counts(&self) -> (usize, usize) {
        *self.counts.lock()
    }

    /// Records the libraries and functions loaded now.
    pub fn set_counts(&self, counts: (usize, usize)) {
        *self.counts.lock() = counts;
    }

    /// Sets the Lua heaps' limit from `maxmemory` (0: none), also for an
    /// engine that exists. A script's memory is the allocator's, so it
    /// counts in `used_memory` against `maxmemory` like everything else
    /// (writes are then refused, as Redis refuses them); the cap only keeps
    /// a runaway script from growing the process far past the bound.
    pub fn set_memory_limit(&self, maxmemory: u64) {
        let limit = heap_limit(maxmemory);
        self.memory_limit.store(limit, Ordering::Relaxed);
        if let Some(engine) = self.engine.lock().as_mut() {
            engine.set_memory_limit(limit);
        }
    }
}

/// Room a Lua heap may take beyond `maxmemory`.
const HEAP_HEADROOM: u64 = 64 << 20;

/// Each Lua heap's cap for `maxmemory` (0: none).
fn heap_limit(maxmemory: u64) -> u64 {
    if maxmemory == 0 {
        0
    } else {
        maxmemory.saturating_add(HEAP_HEADROOM)
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
