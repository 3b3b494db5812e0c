//! A Lua state with the `redis` API bound for one run at a time (mlua's
//! scope: the API reaches the run's [`Host`]), Redis's error handler, the
//! hooks that stop a script (SCRIPT KILL, shutdown, a library's load time),
//! and how a run's result or error becomes the reply.

use std::sync::Arc;

use bytes::BytesMut;
use mlua::{Function, HookTriggers, Lua, MultiValue, Scope, Table, Value, VmState};
use parking_lot::Mutex;

use super::busy::{Running, KILLED};
use super::convert::{self, lua_to_reply, reply_to_lua, write_error};
use super::engine::{CallOptions, Host, LogLevel};
use super::raise::{self, Raised};
use super::sandbox::{Sandbox, INTERNAL_CHUNK};
use super::sha1_hex;
use crate::protocol::Reply;

/// Instructions between two looks at a kill request.
const HOOK_EVERY: u32 = 100_000;

/// The run's host, shared by the API's functions.
type HostCell<'s, 'h> = &'s Mutex<&'h mut dyn Host>;

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
    /// The heap's cap (0: none).
    memory_limit: std::sync::atomic::AtomicUsize,
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
            memory_limit: std::sync::atomic::AtomicUsize::new(0),
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
    ) {
        let host = Mutex::new(host);
        let state = Mutex::new(RunState {
            resp3: false,
            replicate: true,
        });
        let result = self.lua().scope(|scope| {
            self.bind_calls(scope, &host, &state, options)?;
            self.bind_host(scope, &host)?;
            self.bind_state(scope, &state)?;
            let mut call_args = MultiValue::new();
            call_args.push_back(Value::Function(self.handler.clone()));
            call_args.push_back(Value::Function(target.clone()));
            call_args.extend(args);
            let result: MultiValue = self.runner.call(call_args)?;
            for name in BOUND {
                self.bridge.raw_set(name, Value::Nil)?;
            }
            Ok(result)
        });
        self.collect_if_full();
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
            // An error outside the script's own protection (setting up the
            // run, out of memory).
            Err(e) => reply.error(&format!(
                "ERR Error running script {name}, {}",
                first_line(&e.to_string())
            )),
        }
    }

    /// Collects garbage when the heap is past half its cap: Lua 5.1 does
    /// not collect before it refuses an allocation, so what a script that
    /// ran out of memory left would make the next one fail too.
    fn collect_if_full(&self) {
        let limit = self.memory_limit.load(std::sync::atomic::Ordering::Relaxed);
        if limit > 0 && self.lua().used_memory() > limit / 2 {
            let _ = self.lua().gc_collect();
        }
    }

    /// Caps the heap at `limit` bytes (0: no cap).
    pub(super) fn set_memory_limit(&self, limit: usize) {
        self.memory_limit
            .store(limit, std::sync::atomic::Ordering::Relaxed);
        let _ = self.lua().set_memory_limit(limit);
    }

    /// `redis.call` and `redis.pcall` for one run.
    fn bind_calls<'s, 'h: 's>(
        &self,
        scope: &'s Scope<'s, '_>,
        host: HostCell<'s, 'h>,
        state: &'s Mutex<RunState>,
        options: CallOptions,
    ) -> mlua::Result<()> {
        for (name, raise) in [("call", true), ("pcall", false)] {
            let call = scope.create_function(move |lua, args: MultiValue| {
                let run = *state.lock();
                let options = CallOptions {
                    resp3: run.resp3,
                    replicate: run.replicate,
                    ..options
                };
                bridge_call(lua, &mut **host.lock(), options, args, raise)
            })?;
            self.bridge.raw_set(name, call)?;
        }
        Ok(())
    }

    /// `redis.log` and `redis.acl_check_cmd` for one run.
    fn bind_host<'s, 'h: 's>(
        &self,
        scope: &'s Scope<'s, '_>,
        host: HostCell<'s, 'h>,
    ) -> mlua::Result<()> {
        let log = scope.create_function(move |lua, args: MultiValue| {
            bridge_log(lua, args, |level, text| host.lock().log(level, text))
        })?;
        self.bridge.raw_set("log", log)?;
        let check = scope.create_function(move |lua, args: MultiValue| {
            match args.front().and_then(convert::to_argument) {
                Some(name) if host.lock().command_exists(&name) => Ok((true, Value::Boolean(true))),
                _ => {
                    let message = "ERR Invalid command passed to redis.acl_check_cmd()";
                    Ok((false, error_table(lua, message)?))
                }
            }
        })?;
        self.bridge.raw_set("acl_check_cmd", check)
    }

    /// `redis.setresp` and `redis.set_repl` for one run.
    fn bind_state<'s>(
        &self,
        scope: &'s Scope<'s, '_>,
        state: &'s Mutex<RunState>,
    ) -> mlua::Result<()> {
        let setresp = scope.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                let message = "ERR redis.setresp() requires one argument.";
                return Ok((false, error_table(lua, message)?));
            }
            match args.front().and_then(convert::to_argument).as_deref() {
                Some(b"2") => state.lock().resp3 = false,
                Some(b"3") => state.lock().resp3 = true,
                _ => return Ok((false, error_table(lua, "ERR RESP version must be 2 or 3.")?)),
            }
            Ok((true, Value::Nil))
        })?;
        self.bridge.raw_set("setresp", setresp)?;
        let set_repl = scope.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                let message = "ERR redis.set_repl() requires one argument.";
                return Ok((false, error_table(lua, message)?));
            }
            let flags = args.front().and_then(super::libs::to_number).unwrap_or(-1.0);
            if !(0.0..=3.0).contains(&flags) || flags.fract() != 0.0 {
                let message = "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.";
                return Ok((false, error_table(lua, message)?));
            }
            state.lock().replicate = flags as u8 & 2 != 0;
            Ok((true, Value::Nil))
        })?;
        self.bridge.raw_set("set_repl", set_repl)
    }
}

/// The bridge's entries bound for one run.
const BOUND: [&str; 6] = [
    "call",
    "pcall",
    "log",
    "acl_check_cmd",
    "setresp",
    "set_repl",
];

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
pub(super) fn first_line(text: &str) -> &str {
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
        // Not the handler's table: the handler itself failed (Lua's heap
        // is full), and Lua says why.
        let why = match error {
            Value::String(text) => text.to_string_lossy(),
            Value::Error(e) => first_line(&e.to_string()).to_string(),
            _ => "execution failure".into(),
        };
        let why: String = why.chars().take(100).collect();
        reply.error(&format!("ERR Error running script {name}, {why}"));
        return;
    };
    let text = |key: &str| match table.raw_get::<Value>(key) {
        Ok(Value::String(s)) => {
            Some(String::from_utf8_lossy(convert::c_string(&s.as_bytes())).into_owned())
        }
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
