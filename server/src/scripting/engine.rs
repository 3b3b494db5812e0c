//! The engine: EVAL's Lua state with its script cache, and FUNCTION's
//! with its libraries ([`super::functions`]). A script or function runs
//! with the `redis` API bound to a [`Host`] for that run only (mlua's
//! scope), under xpcall with Redis's error handler, and its result is
//! written as the reply.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;
use mlua::{Function, HookTriggers, Lua, MultiValue, Table, Value, VmState};
use parking_lot::Mutex;

use super::busy::{Running, KILLED};
use super::convert::{self, lua_to_reply, reply_to_lua, write_error};
use super::functions::Functions;
use super::raise::{self, Raised};
use super::sandbox::{Sandbox, INTERNAL_CHUNK};
use super::sha1_hex;
use super::shebang::{self, ScriptFlags};
use crate::protocol::Reply;

/// Instructions between two looks at a kill request.
const HOOK_EVERY: u32 = 100_000;

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

/// How a run ended, beyond its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// It ran (its reply may still be an error the script returned or
    /// raised).
    Ran,
    /// Refused before running (no such script, bad flags).
    Refused,
}

/// A cached EVAL script.
struct Cached {
    function: Function,
    flags: ScriptFlags,
}

/// Per-run state the `redis` API changes.
#[derive(Debug, Clone, Copy)]
struct RunState {
    resp3: bool,
    replicate: bool,
}

/// A Lua state with the `redis` API and what a run needs.
pub(super) struct Env {
    pub(super) sandbox: Sandbox,
    /// The Rust side of the API, set for each run.
    pub(super) bridge: Table,
    /// The `redis` table (before protection).
    pub(super) redis: Table,
    handler: Function,
    runner: Function,
    running: Arc<Running>,
}

impl Env {
    /// A sandboxed state with the `redis` API and the error handler.
    pub(super) fn new(running: &Arc<Running>, version: &str) -> mlua::Result<Env> {
        let sandbox = Sandbox::new()?;
        let lua = &sandbox.lua;
        let bridge = lua.create_table()?;
        let redis = lua.create_table()?;
        bridge.raw_set(
            "sha1hex",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() != 1 {
                    return Ok((false, error_table(lua, "ERR wrong number of arguments")?));
                }
                let bytes = args
                    .front()
                    .and_then(convert::to_argument)
                    .unwrap_or_default();
                Ok((true, Value::String(lua.create_string(sha1_hex(&bytes))?)))
            })?,
        )?;
        for name in [
            "call",
            "sha1hex",
            "log",
            "setresp",
            "set_repl",
            "acl_check_cmd",
        ] {
            redis.raw_set(name, forwarder(lua, &bridge, name, true)?)?;
        }
        redis.raw_set("pcall", forwarder(lua, &bridge, "pcall", false)?)?;
        let raw_pcall: Function = sandbox.backing.raw_get("pcall")?;
        let unraise = lua.create_function(|lua, error: Value| raise::unwrap(lua, error))?;
        let (runner, pcall): (Function, Function) = lua
            .load(include_str!("api.lua"))
            .set_name(INTERNAL_CHUNK)
            .call((
                redis.clone(),
                version,
                version_number(version),
                raw_pcall,
                unraise,
            ))?;
        sandbox.backing.raw_set("pcall", pcall)?;
        sandbox.backing.raw_set("redis", sandbox.protect(&redis)?)?;
        let handler = error_handler(lua, running.clone())?;
        sandbox
            .backing
            .raw_set("__redis__err__handler", handler.clone())?;
        let env = Env {
            sandbox,
            bridge,
            redis,
            handler,
            runner,
            running: running.clone(),
        };
        env.watch_running()?;
        Ok(env)
    }

    /// Stops the running script when SCRIPT KILL or FUNCTION KILL asks, or
    /// the node shuts down (looked at every [`HOOK_EVERY`] instructions).
    pub(super) fn watch_running(&self) -> mlua::Result<()> {
        let watched = self.running.clone();
        self.lua().set_global_hook(
            HookTriggers {
                every_nth_instruction: Some(HOOK_EVERY),
                ..HookTriggers::new()
            },
            move |_, _| {
                if watched.must_stop() {
                    Err(raise::table(format!("ERR {KILLED}")))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )
    }

    /// Stops code running past `deadline` (a library loading) with
    /// `message`.
    pub(super) fn watch_deadline(
        &self,
        deadline: std::time::Instant,
        message: &'static str,
    ) -> mlua::Result<()> {
        self.lua().set_global_hook(
            HookTriggers {
                every_nth_instruction: Some(HOOK_EVERY),
                ..HookTriggers::new()
            },
            move |_, _| {
                if std::time::Instant::now() > deadline {
                    Err(raise::table(message))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )
    }

    pub(super) fn lua(&self) -> &Lua {
        &self.sandbox.lua
    }

    /// Runs `target(args...)` with the API bound to `host`; the result or
    /// the error goes to `reply`. `name` is what errors call the script.
    pub(super) fn run(
        &self,
        target: &Function,
        args: MultiValue,
        host: &mut dyn Host,
        options: CallOptions,
        name: &str,
        reply: &mut Reply<'_>,
    ) -> mlua::Result<()> {
        let lua = self.lua();
        let host = Mutex::new(host);
        let state = Mutex::new(RunState {
            resp3: false,
            replicate: true,
        });
        let result = lua.scope(|scope| {
            let call = |raise: bool| {
                let (host, state) = (&host, &state);
                scope.create_function(move |lua, args: MultiValue| {
                    let run = *state.lock();
                    let options = CallOptions {
                        resp3: run.resp3,
                        replicate: run.replicate,
                        ..options
                    };
                    bridge_call(lua, &mut **host.lock(), options, args, raise)
                })
            };
            self.bridge.raw_set("call", call(true)?)?;
            self.bridge.raw_set("pcall", call(false)?)?;
            let log_host = &host;
            self.bridge.raw_set(
                "log",
                scope.create_function(move |lua, args: MultiValue| {
                    bridge_log(lua, args, |level, text| log_host.lock().log(level, text))
                })?,
            )?;
            let exists_host = &host;
            self.bridge.raw_set(
                "acl_check_cmd",
                scope.create_function(move |lua, args: MultiValue| {
                    let name = args.front().and_then(convert::to_argument);
                    match name {
                        Some(name) if exists_host.lock().command_exists(&name) => {
                            Ok((true, Value::Boolean(true)))
                        }
                        _ => Ok((false, error_table(lua, "ERR Invalid command passed to redis.acl_check_cmd()")?)),
                    }
                })?,
            )?;
            let resp_state = &state;
            self.bridge.raw_set(
                "setresp",
                scope.create_function(move |lua, args: MultiValue| {
                    if args.len() != 1 {
                        return Ok((false, error_table(lua, "ERR redis.setresp() requires one argument.")?));
                    }
                    match args.front().and_then(convert::to_argument).as_deref() {
                        Some(b"2") => resp_state.lock().resp3 = false,
                        Some(b"3") => resp_state.lock().resp3 = true,
                        _ => return Ok((false, error_table(lua, "ERR RESP version must be 2 or 3.")?)),
                    }
                    Ok((true, Value::Nil))
                })?,
            )?;
            let repl_state = &state;
            self.bridge.raw_set(
                "set_repl",
                scope.create_function(move |lua, args: MultiValue| {
                    if args.len() != 1 {
                        return Ok((false, error_table(lua, "ERR redis.set_repl() requires one argument.")?));
                    }
                    let flags = args.front().and_then(super::libs::to_number).unwrap_or(-1.0);
                    if !(0.0..=3.0).contains(&flags) || flags.fract() != 0.0 {
                        let message = "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.";
                        return Ok((false, error_table(lua, message)?));
                    }
                    repl_state.lock().replicate = flags as u8 & 2 != 0;
                    Ok((true, Value::Nil))
                })?,
            )?;
            let mut call_args = MultiValue::new();
            call_args.push_back(Value::Function(self.handler.clone()));
            call_args.push_back(Value::Function(target.clone()));
            call_args.extend(args);
            let result: MultiValue = self.runner.call(call_args)?;
            for name in ["call", "pcall", "log", "acl_check_cmd", "setresp", "set_repl"] {
                self.bridge.raw_set(name, Value::Nil)?;
            }
            Ok(result)
        });
        let script_resp3 = state.lock().resp3;
        match result {
            Ok(result) => {
                let mut values = result.into_iter();
                let ok = matches!(values.next(), Some(Value::Boolean(true)));
                let value = values.next().unwrap_or(Value::Nil);
                if ok {
                    lua_to_reply(&value, reply, script_resp3);
                } else {
                    write_script_error(&value, name, reply);
                }
            }
            Err(e) => {
                // An error outside the script's own pcall (the scope, out of
                // memory while setting up).
                reply.error(&format!(
                    "ERR Error running script {name}, {}",
                    first_line(&e.to_string())
                ));
            }
        }
        Ok(())
    }
}

/// A `redis.*` function: calls the run's `bridge[name]` (which answers
/// `ok, value`) and raises the error table's message when `raise`.
fn forwarder(lua: &Lua, bridge: &Table, name: &'static str, raise: bool) -> mlua::Result<Function> {
    let bridge = bridge.clone();
    lua.create_function(move |lua, args: MultiValue| {
        let Value::Function(target) = bridge.raw_get::<Value>(name)? else {
            let text = format!("Script attempted to access nonexistent global variable '{name}'");
            return Err(raise::message(lua, &text));
        };
        let (ok, value): (bool, Value) = target.call(args)?;
        if ok || !raise {
            return Ok(value);
        }
        let text = match &value {
            Value::Table(t) => t.raw_get::<Option<String>>("err")?.unwrap_or_default(),
            _ => String::new(),
        };
        Err(raise::table(text))
    })
}

/// The first line of an error's text (mlua's carry tracebacks).
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// `redis.call`/`redis.pcall`: returns `ok, value`; a failed call's value
/// is the error table.
fn bridge_call(
    lua: &Lua,
    host: &mut dyn Host,
    options: CallOptions,
    args: MultiValue,
    raise: bool,
) -> mlua::Result<(bool, Value)> {
    if args.is_empty() {
        let message = "ERR Please specify at least one argument for this redis lib call";
        return Ok((false, error_table(lua, message)?));
    }
    let mut argv = Vec::with_capacity(args.len());
    for arg in &args {
        match convert::to_argument(arg) {
            Some(bytes) => argv.push(bytes),
            None => {
                let message = "ERR Lua redis lib command arguments must be strings or integers";
                return Ok((false, error_table(lua, message)?));
            }
        }
    }
    let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let mut out = BytesMut::new();
    host.call(&refs, options, &mut out);
    let converted = reply_to_lua(lua, &out)?;
    Ok((!(converted.is_error && raise), converted.value))
}

/// `redis.log(level, message...)`: checks, then `log`.
pub(super) fn bridge_log(
    lua: &Lua,
    args: MultiValue,
    log: impl FnOnce(LogLevel, &str),
) -> mlua::Result<(bool, Value)> {
    if args.len() < 2 {
        return Ok((
            false,
            error_table(lua, "ERR redis.log() requires two arguments or more.")?,
        ));
    }
    let mut values = args.into_iter();
    let level = values.next().as_ref().and_then(super::libs::to_number);
    let level = match level {
        None => {
            return Ok((
                false,
                error_table(lua, "ERR First argument must be a number (log level).")?,
            ))
        }
        Some(0.0) => LogLevel::Debug,
        Some(1.0) => LogLevel::Verbose,
        Some(2.0) => LogLevel::Notice,
        Some(3.0) => LogLevel::Warning,
        Some(_) => return Ok((false, error_table(lua, "ERR Invalid debug level.")?)),
    };
    let parts: Vec<String> = values
        .filter_map(|v| convert::to_argument(&v))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect();
    log(level, &parts.join(" "));
    Ok((true, Value::Nil))
}

/// `{err = message}`.
pub(super) fn error_table(lua: &Lua, message: &str) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.raw_set("err", message)?;
    Ok(Value::Table(table))
}

/// Redis's `__redis__err__handler`: makes every error a table `{err=...}`
/// and adds where the script was (`source`, `line`), skipping C frames and
/// the sandbox's own.
fn error_handler(lua: &Lua, running: Arc<Running>) -> mlua::Result<Function> {
    let tostring: Function = lua
        .globals()
        .raw_get("tostring")
        .or_else(|_| lua.load("return tostring").set_name(INTERNAL_CHUNK).eval())?;
    lua.create_function(move |lua, error: Value| {
        let table = match error {
            Value::Table(table) => table,
            other => {
                let text = match &other {
                    Value::Error(e) => match raise::find(e) {
                        Some(Raised::Table(text)) => text.clone(),
                        Some(Raised::Message(text)) => format!("ERR {text}"),
                        None if running.was_killed() => format!("ERR {KILLED}"),
                        None => match e.as_ref() {
                            mlua::Error::RuntimeError(text) | mlua::Error::MemoryError(text) => {
                                format!("ERR {text}")
                            }
                            e => format!("ERR {}", first_line(&e.to_string())),
                        },
                    },
                    _ => format!(
                        "ERR {}",
                        tostring.call::<mlua::String>(other)?.to_string_lossy()
                    ),
                };
                let table = lua.create_table()?;
                table.raw_set("err", text)?;
                table
            }
        };
        if let Some((source, line)) = script_position(lua) {
            table.raw_set("source", source)?;
            table.raw_set("line", line)?;
        }
        Ok(table)
    })
}

/// The innermost frame of the script's own code: its source and line.
fn script_position(lua: &Lua) -> Option<(String, i32)> {
    for level in 1..200 {
        let frame = lua.inspect_stack(level, |debug| {
            let source = debug.source();
            let name = source.source.as_deref().unwrap_or_default().to_string();
            (
                source.what,
                name,
                debug.current_line().map_or(-1, |l| l as i32),
            )
        })?;
        let (what, source, line) = frame;
        if what != "C" && source != INTERNAL_CHUNK {
            return Some((source, line));
        }
    }
    None
}

/// The reply for a script that raised `error` (the handler's table).
fn write_script_error(error: &Value, name: &str, reply: &mut Reply<'_>) {
    let Value::Table(table) = error else {
        reply.error(&format!(
            "ERR Error running script {name}, execution failure"
        ));
        return;
    };
    let text = |key: &str| match table.raw_get::<Value>(key) {
        Ok(Value::String(s)) => Some(s.to_string_lossy()),
        Ok(Value::Integer(n)) => Some(n.to_string()),
        Ok(Value::Number(n)) => Some(super::numbers::format_g(n, 14)),
        _ => None,
    };
    let mut message = text("err").unwrap_or_else(|| "ERR unknown error".into());
    if let (Some(source), Some(line)) = (text("source"), text("line")) {
        message.push_str(&format!(" script: {name}, on {source}:{line}."));
    }
    write_error(reply, message.as_bytes());
}

/// `REDIS_VERSION_NUM`: major, minor and patch as 0x00MMmmpp.
fn version_number(version: &str) -> i64 {
    let mut parts = version.split('.').map(|p| p.parse::<i64>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (major << 16) | (minor << 8) | patch
}

/// See the module docs.
pub struct Engine {
    eval: Env,
    scripts: HashMap<String, Cached>,
    /// Bodies by SHA, for SCRIPT EXISTS and the cluster's copies.
    bodies: HashMap<String, Arc<[u8]>>,
    /// FUNCTION's libraries.
    pub functions: Functions,
    running: Arc<Running>,
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
            bodies: HashMap::new(),
            functions: Functions::new(&running, version)?,
            running,
        })
    }

    /// Caps both Lua heaps at `limit` bytes (0: no cap).
    pub fn set_memory_limit(&mut self, limit: u64) {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let _ = self.eval.lua().set_memory_limit(limit);
        self.functions.set_memory_limit(limit);
    }

    /// SCRIPT LOAD (and EVAL's first step): compiles and caches `body`,
    /// returning its SHA.
    ///
    /// # Errors
    /// Redis's error for a bad shebang or a script that does not compile.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
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
        self.scripts.insert(sha.clone(), Cached { function, flags });
        self.bodies.insert(sha.clone(), body.into());
        Ok(sha)
    }

    /// True if the script with this SHA (any case) is cached.
    pub fn exists(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.scripts.contains_key(&sha)
    }

    /// SCRIPT FLUSH.
    pub fn flush(&mut self) {
        self.scripts.clear();
        self.bodies.clear();
        let _ = self.eval.lua().gc_collect();
    }

    /// The flags of the cached script `sha` (lower case), if cached.
    pub fn script_flags(&self, sha: &str) -> Option<ScriptFlags> {
        self.scripts.get(sha).map(|s| s.flags)
    }

    /// Runs the cached script `sha` (lower case) with `invocation`; the
    /// reply goes to `reply`.
    pub fn eval(
        &mut self,
        sha: &str,
        invocation: &Invocation,
        host: &mut dyn Host,
        reply: &mut Reply<'_>,
    ) -> Ran {
        let Some(script) = self.scripts.get(sha) else {
            reply.error(super::NOSCRIPT);
            return Ran::Refused;
        };
        let flags = script.flags;
        if let Err(refusal) = check_flags(flags, invocation.read_only, host) {
            reply.error(&refusal);
            return Ran::Refused;
        }
        let function = script.function.clone();
        let lua = self.eval.lua();
        let set_globals = || -> mlua::Result<()> {
            let keys = lua.create_sequence_from(
                invocation
                    .keys
                    .iter()
                    .map(|k| lua.create_string(k))
                    .collect::<mlua::Result<Vec<_>>>()?,
            )?;
            let args = lua.create_sequence_from(
                invocation
                    .args
                    .iter()
                    .map(|a| lua.create_string(a))
                    .collect::<mlua::Result<Vec<_>>>()?,
            )?;
            self.eval.sandbox.backing.raw_set("KEYS", keys)?;
            self.eval.sandbox.backing.raw_set("ARGV", args)
        };
        if let Err(e) = set_globals() {
            reply.error(&format!("ERR {}", first_line(&e.to_string())));
            return Ran::Refused;
        }
        let options = run_options(flags, invocation.read_only);
        if let Err(e) = self
            .eval
            .run(&function, MultiValue::new(), host, options, sha, reply)
        {
            reply.error(&format!("ERR {}", first_line(&e.to_string())));
        }
        Ran::Ran
    }

    /// The running-script state this engine reports to.
    pub fn running(&self) -> &Arc<Running> {
        &self.running
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
    if read_only && !flags.no_writes {
        return Err("ERR Can not execute a script with write flag using *_ro command.".into());
    }
    host.admit(flags)
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
