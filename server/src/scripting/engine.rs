//! The engine: EVAL's Lua state with its script cache, and FUNCTION's
//! with its libraries ([`super::functions`]). A script or function runs
//! with the `redis` API bound to a [`Host`] for that run only (mlua's
//! scope), under xpcall with Redis's error handler, and its result is
//! written as the reply.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;
use mlua::{Function, MultiValue, Table};

use super::busy::Running;
use super::env::{first_line, Env};
use super::functions::Functions;
use super::sha1_hex;
use super::shebang::{self, ScriptFlags};
use crate::protocol::Reply;

/// Severity of `redis.log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `redis.LOG_DEBUG`
    Debug,
    /// `redis.LOG_VERBOSE`
    Verbose,
    /// `redis.LOG_NOTICE`
    Notice,
    /// `redis.LOG_WARNING`
    Warning,
}

/// How one `redis.call` from a script runs.
#[derive(Debug, Clone, Copy)]
pub struct CallOptions {
    /// The script asked for RESP3 replies (`redis.setresp(3)`).
    pub resp3: bool,
    /// Writes are refused (EVAL_RO, FCALL_RO, `no-writes`).
    pub read_only: bool,
    /// The script declared `allow-oom`.
    pub allow_oom: bool,
    /// The script declared `allow-cross-slot-keys`.
    pub allow_cross_slot: bool,
    /// `redis.set_repl` leaves replicas in (REPL_REPLICA or REPL_ALL).
    pub replicate: bool,
}

/// What a script reaches the node through: the command layer implements
/// it for one run.
pub trait Host {
    /// Runs a command a script called, appending its reply (RESP3 if
    /// `options.resp3`) to `out`; a refusal is an error reply there.
    fn call(&mut self, args: &[&[u8]], options: CallOptions, out: &mut BytesMut);
    /// `redis.log`.
    fn log(&mut self, level: LogLevel, message: &str);
    /// True if a command called `name` exists (`redis.acl_check_cmd`).
    fn command_exists(&self, name: &[u8]) -> bool;
    /// Checks before a script with declared flags runs (memory, cluster);
    /// `Err` is the reply.
    ///
    /// # Errors
    /// The refusal.
    fn admit(&mut self, flags: ScriptFlags) -> Result<(), String>;
}

/// One run of a script or function.
#[derive(Debug)]
pub struct Invocation {
    /// The keys (KEYS).
    pub keys: Vec<Vec<u8>>,
    /// The other arguments (ARGV).
    pub args: Vec<Vec<u8>>,
    /// EVAL_RO, EVALSHA_RO or FCALL_RO.
    pub read_only: bool,
}

impl Invocation {
    /// KEYS and ARGV as Lua sequences of strings in `lua`: globals for a
    /// script, the two arguments of a function.
    pub(super) fn tables(&self, lua: &mlua::Lua) -> mlua::Result<(Table, Table)> {
        let sequence = |items: &[Vec<u8>]| {
            let strings = items.iter().map(|item| lua.create_string(item));
            lua.create_sequence_from(strings.collect::<mlua::Result<Vec<_>>>()?)
        };
        Ok((sequence(&self.keys)?, sequence(&self.args)?))
    }
}

/// A cached EVAL script.
struct Cached {
    function: Function,
    flags: ScriptFlags,
    /// Cached by EVAL only (not SCRIPT LOAD): may be evicted.
    evictable: bool,
    /// When it last ran or was cached (the engine's tick).
    used: u64,
}

/// Scripts cached by EVAL alone kept at most, as Redis 7.4 keeps them: a
/// client sending ever new script bodies (a value pasted into the code)
/// would otherwise grow the cache without end. The least recently used
/// goes first; SCRIPT LOAD's scripts are never evicted.
const EVAL_SCRIPTS_KEPT: usize = 500;

/// See the module docs.
pub struct Engine {
    eval: Env,
    scripts: HashMap<String, Cached>,
    /// How many of `scripts` are evictable.
    evictable: usize,
    /// Counts loads and runs, for `Cached::used`.
    tick: u64,
    /// FUNCTION's libraries.
    pub functions: Functions,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("scripts", &self.scripts.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Both Lua states, empty.
    ///
    /// # Errors
    /// Lua failed.
    pub fn new(running: Arc<Running>, version: &str) -> mlua::Result<Engine> {
        Ok(Engine {
            eval: Env::new(&running, version)?,
            scripts: HashMap::new(),
            evictable: 0,
            tick: 0,
            functions: Functions::new(&running, version)?,
        })
    }

    /// Caps both Lua heaps at `limit` bytes (0: no cap).
    pub fn set_memory_limit(&mut self, limit: u64) {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        self.eval.set_memory_limit(limit);
        self.functions.set_memory_limit(limit);
    }

    /// SCRIPT LOAD (`by_eval` false) and EVAL's first step: compiles and
    /// caches `body`, returning its SHA. A script EVAL cached stays
    /// evictable until SCRIPT LOAD loads it.
    ///
    /// # Errors
    /// Redis's error for a bad shebang or a script that does not compile.
    pub fn load(&mut self, body: &[u8], by_eval: bool) -> Result<String, String> {
        let sha = sha1_hex(body);
        self.tick += 1;
        if let Some(cached) = self.scripts.get_mut(&sha) {
            cached.used = self.tick;
            if cached.evictable && !by_eval {
                cached.evictable = false;
                self.evictable -= 1;
            }
            return Ok(sha);
        }
        let flags = shebang::parse(body)?;
        let code = if flags.declared {
            // The shebang's line stays, empty, so lines keep their numbers.
            &body[memchr::memchr(b'\n', body).unwrap_or(body.len())..]
        } else {
            body
        };
        let function = self
            .eval
            .lua()
            .load(code)
            .set_name("@user_script")
            .into_function()
            .map_err(|e| {
                format!(
                    "ERR Error compiling script (new function): {}",
                    compile_error(&e)
                )
            })?;
        if by_eval {
            if self.evictable >= EVAL_SCRIPTS_KEPT {
                self.evict_least_used();
            }
            self.evictable += 1;
        }
        let cached = Cached {
            function,
            flags,
            evictable: by_eval,
            used: self.tick,
        };
        self.scripts.insert(sha.clone(), cached);
        Ok(sha)
    }

    /// Drops the evictable script that ran longest ago (a walk over the
    /// cache, only when EVAL brings a new script to a full cache).
    fn evict_least_used(&mut self) {
        let oldest = self
            .scripts
            .iter()
            .filter(|(_, cached)| cached.evictable)
            .min_by_key(|(_, cached)| cached.used)
            .map(|(sha, _)| sha.clone());
        if let Some(sha) = oldest {
            self.scripts.remove(&sha);
            self.evictable -= 1;
        }
    }

    /// True if the script with this SHA (any case) is cached.
    pub fn exists(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.scripts.contains_key(&sha)
    }

    /// SCRIPT FLUSH.
    pub fn flush(&mut self) {
        self.scripts.clear();
        self.evictable = 0;
        let _ = self.eval.lua().gc_collect();
    }

    /// Runs the cached script `sha` (lower case) with `invocation`; the
    /// reply goes to `reply`.
    pub fn eval(
        &mut self,
        sha: &str,
        invocation: &Invocation,
        host: &mut dyn Host,
        reply: &mut Reply<'_>,
    ) {
        self.tick += 1;
        let Some(script) = self.scripts.get_mut(sha) else {
            reply.error(super::NOSCRIPT);
            return;
        };
        script.used = self.tick;
        let flags = script.flags;
        if let Err(refusal) = check_flags(flags, invocation.read_only, host) {
            reply.error(&refusal);
            return;
        }
        let function = script.function.clone();
        let lua = self.eval.lua();
        let set_globals = || -> mlua::Result<()> {
            let (keys, args) = invocation.tables(lua)?;
            self.eval.sandbox.backing.raw_set("KEYS", keys)?;
            self.eval.sandbox.backing.raw_set("ARGV", args)
        };
        if let Err(e) = set_globals() {
            reply.error(&format!("ERR {}", first_line(&e.to_string())));
            return;
        }
        let options = run_options(flags, invocation.read_only);
        self.eval
            .run(&function, MultiValue::new(), host, options, sha, reply);
    }
}

/// The checks of a script's declared flags before it runs.
pub(super) fn check_flags(
    flags: ScriptFlags,
    read_only: bool,
    host: &mut dyn Host,
) -> Result<(), String> {
    if !flags.declared {
        return Ok(());
    }
    // Redis checks the node's state (cluster, memory) before the command.
    host.admit(flags)?;
    if read_only && !flags.no_writes {
        return Err("ERR Can not execute a script with write flag using *_ro command.".into());
    }
    Ok(())
}

/// How the calls of a run with these flags behave.
pub(super) fn run_options(flags: ScriptFlags, read_only: bool) -> CallOptions {
    CallOptions {
        resp3: false,
        read_only: read_only || flags.no_writes,
        allow_oom: flags.allow_oom,
        allow_cross_slot: flags.allow_cross_slot,
        replicate: true,
    }
}

/// A compile error as Lua words it (mlua adds its own prefix).
pub(super) fn compile_error(error: &mlua::Error) -> String {
    match error {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => first_line(&other.to_string()).to_string(),
    }
}
