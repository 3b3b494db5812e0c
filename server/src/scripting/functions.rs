//! FUNCTION's libraries: `#!lua name=...` code that registers functions
//! with `redis.register_function` while it loads, in a Lua state of its
//! own (as Redis keeps one apart from EVAL's). While a library loads, the
//! globals show only a `redis` table with `register_function`, `log` and
//! the constants; its functions later run with every global and the whole
//! API.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use mlua::{Function, MultiValue, Table, Value};
use parking_lot::Mutex;

use super::busy::Running;
use super::engine::{self, check_flags, compile_error, Host, Invocation};
use super::env::{self, error_table, Env};
use super::raise;
use super::shebang::ScriptFlags;
use crate::protocol::Reply;

/// Redis's error for a library or function name it refuses.
const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// One registered function.
struct Registered {
    function: Function,
    flags: ScriptFlags,
    description: Option<String>,
}

/// One library.
struct Library {
    code: Vec<u8>,
    functions: BTreeMap<String, Registered>,
}

/// What FUNCTION LIST shows of a function.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    /// Its name.
    pub name: String,
    /// Its description, if registered with one.
    pub description: Option<String>,
    /// Its flags.
    pub flags: ScriptFlags,
}

/// What FUNCTION LIST shows of a library.
#[derive(Debug, Clone)]
pub struct LibraryInfo {
    /// Its name.
    pub name: String,
    /// Its functions, by name.
    pub functions: Vec<FunctionInfo>,
    /// Its code.
    pub code: Vec<u8>,
}

/// What FUNCTION RESTORE does with libraries that exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Fail on a library that exists (the default).
    Append,
    /// Replace libraries that exist.
    Replace,
    /// Delete every library first.
    Flush,
}

/// The functions engine: its Lua state and libraries.
pub struct Functions {
    env: Env,
    /// What the globals show while a library loads.
    load_view: Table,
    /// Its `register` field is the Rust side of `register_function`,
    /// set while a library loads.
    register_bridge: Table,
    libraries: BTreeMap<String, Library>,
    /// Function name -> its library.
    index: HashMap<String, String>,
}

/// Longest a library's code may run while it loads, as Redis.
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Magic and version at the head of a FUNCTION DUMP payload.
const DUMP_MAGIC: &[u8; 6] = b"RCFN\x00\x01";

impl Functions {
    /// An engine with no library.
    ///
    /// # Errors
    /// Lua failed.
    pub fn new(running: &Arc<Running>, version: &str) -> mlua::Result<Functions> {
        let env = Env::new(running, version)?;
        let sandbox = &env.sandbox;
        let lua = env.lua();
        let load_redis = lua.create_table()?;
        for name in [
            "log",
            "LOG_DEBUG",
            "LOG_VERBOSE",
            "LOG_NOTICE",
            "LOG_WARNING",
            "REDIS_VERSION",
            "REDIS_VERSION_NUM",
        ] {
            load_redis.raw_set(name, env.redis.raw_get::<Value>(name)?)?;
        }
        let register_bridge = lua.create_table()?;
        let bridge = register_bridge.clone();
        let register = lua.create_function(move |lua, args: MultiValue| {
            let Value::Function(target) = bridge.raw_get::<Value>("register")? else {
                return Err(raise::message(
                    lua,
                    "redis.register_function can only be called while a library loads",
                ));
            };
            let (ok, error): (bool, Value) = target.call(args)?;
            if ok {
                return Ok(());
            }
            let text = match &error {
                Value::Table(t) => t.raw_get::<Option<String>>("err")?.unwrap_or_default(),
                _ => String::new(),
            };
            Err(raise::table(text))
        })?;
        load_redis.raw_set("register_function", register)?;
        let strict = sandbox.protect_strict(&load_redis)?;
        // While a library loads its code sees `redis` and nothing else.
        let load_view = lua.create_table()?;
        load_view.raw_set("redis", strict)?;
        Ok(Functions {
            env,
            load_view,
            register_bridge,
            libraries: BTreeMap::new(),
            index: HashMap::new(),
        })
    }

    pub(super) fn set_memory_limit(&self, limit: usize) {
        self.env.set_memory_limit(limit);
    }

    /// FUNCTION LOAD [REPLACE]: returns the library's name.
    ///
    /// # Errors
    /// Redis's error (with its `ERR` code).
    pub fn load(&mut self, code: &[u8], replace: bool) -> Result<String, String> {
        let (name, body) = parse_metadata(code).map_err(|e| format!("ERR {e}"))?;
        if self.libraries.contains_key(&name) && !replace {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        if !valid_name(&name) {
            return Err(format!("ERR {BAD_NAME}"));
        }
        let functions = self.compile(body).map_err(|e| format!("ERR {e}"))?;
        for function in functions.keys() {
            if let Some(owner) = self.index.get(function) {
                if owner != &name {
                    return Err(format!("ERR Function {function} already exists"));
                }
            }
        }
        self.remove(&name);
        for function in functions.keys() {
            self.index.insert(function.clone(), name.clone());
        }
        self.libraries.insert(
            name.clone(),
            Library {
                code: code.to_vec(),
                functions,
            },
        );
        Ok(name)
    }

    /// Runs a library's code, collecting what it registers.
    fn compile(&self, body: &[u8]) -> Result<BTreeMap<String, Registered>, String> {
        let lua = self.env.lua();
        let chunk = lua
            .load(body)
            .set_name("@user_function")
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", compile_error(&e)))?;
        let registered: Mutex<BTreeMap<String, Registered>> = Mutex::new(BTreeMap::new());
        let deadline = std::time::Instant::now() + LOAD_TIMEOUT;
        self.env
            .watch_deadline(deadline, "ERR FUNCTION LOAD timeout")
            .map_err(|e| e.to_string())?;
        let failure: Mutex<Option<String>> = Mutex::new(None);
        let ran = lua.scope(|scope| {
            let register =
                scope.create_function(|lua, args: MultiValue| {
                    match read_registration(args).and_then(|(name, r)| {
                        let mut all = registered.lock();
                        if all.contains_key(&name) {
                            return Err("Function already exists in the library".to_string());
                        }
                        all.insert(name, r);
                        Ok(())
                    }) {
                        Ok(()) => Ok((true, Value::Nil)),
                        Err(message) => Ok((false, error_table(lua, &format!("ERR {message}"))?)),
                    }
                })?;
            let bridge = &self.register_bridge;
            bridge.raw_set("register", register)?;
            self.env.bridge.raw_set(
                "log",
                scope.create_function(|lua, args: MultiValue| {
                    env::bridge_log(lua, args, load_log)
                })?,
            )?;
            self.env.sandbox.show(&self.load_view)?;
            let handler: Function = self.env.sandbox.backing.raw_get("__redis__err__handler")?;
            let xpcall: Function = self.env.sandbox.backing.raw_get("xpcall")?;
            let result: MultiValue = xpcall.call((chunk, handler))?;
            bridge.raw_set("register", Value::Nil)?;
            self.env.bridge.raw_set("log", Value::Nil)?;
            let mut values = result.into_iter();
            if !matches!(values.next(), Some(Value::Boolean(true))) {
                let message = match values.next() {
                    Some(Value::Table(t)) => {
                        t.raw_get::<Option<String>>("err")?.unwrap_or_default()
                    }
                    _ => "ERR unknown error".into(),
                };
                *failure.lock() = Some(format!("Error registering functions: {message}"));
            }
            Ok(())
        });
        let _ = self.env.sandbox.show(&self.env.sandbox.backing);
        let _ = self.env.watch_running();
        ran.map_err(|e| format!("Error registering functions: {e}"))?;
        if let Some(message) = failure.into_inner() {
            return Err(message);
        }
        let registered = registered.into_inner();
        if registered.is_empty() {
            return Err("No functions registered".into());
        }
        Ok(registered)
    }

    fn remove(&mut self, library: &str) -> bool {
        let Some(old) = self.libraries.remove(library) else {
            return false;
        };
        for name in old.functions.keys() {
            self.index.remove(name);
        }
        true
    }

    /// FUNCTION DELETE: false if there is no such library.
    pub fn delete(&mut self, library: &str) -> bool {
        self.remove(library)
    }

    /// FUNCTION FLUSH.
    pub fn flush(&mut self) {
        self.libraries.clear();
        self.index.clear();
        let _ = self.env.lua().gc_collect();
    }

    /// Libraries and functions (FUNCTION STATS).
    pub fn counts(&self) -> (usize, usize) {
        (self.libraries.len(), self.index.len())
    }

    /// FUNCTION LIST's view of every library, by name.
    pub fn list(&self) -> Vec<LibraryInfo> {
        self.libraries
            .iter()
            .map(|(name, library)| LibraryInfo {
                name: name.clone(),
                code: library.code.clone(),
                functions: library
                    .functions
                    .iter()
                    .map(|(name, f)| FunctionInfo {
                        name: name.clone(),
                        description: f.description.clone(),
                        flags: f.flags,
                    })
                    .collect(),
            })
            .collect()
    }

    /// The flags of function `name`, if it exists.
    pub fn flags(&self, name: &str) -> Option<ScriptFlags> {
        let library = self.index.get(name)?;
        Some(self.libraries.get(library)?.functions.get(name)?.flags)
    }

    /// FUNCTION DUMP: every library's code, with a checksum.
    pub fn dump(&self) -> Vec<u8> {
        let mut out = DUMP_MAGIC.to_vec();
        out.extend_from_slice(&(self.libraries.len() as u32).to_le_bytes());
        for library in self.libraries.values() {
            out.extend_from_slice(&(library.code.len() as u32).to_le_bytes());
            out.extend_from_slice(&library.code);
        }
        let checksum = xxhash_rust::xxh3::xxh3_64(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    /// FUNCTION RESTORE.
    ///
    /// # Errors
    /// Redis's error: a bad payload, a library that exists (APPEND), or a
    /// library that does not load. Nothing changes then.
    pub fn restore(&mut self, payload: &[u8], policy: RestorePolicy) -> Result<(), String> {
        let codes = read_dump(payload).ok_or("ERR DUMP payload version or checksum are wrong")?;
        let mut names = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for code in &codes {
            let (name, _) = parse_metadata(code).map_err(|e| format!("ERR {e}"))?;
            if !seen.insert(name.clone()) {
                return Err(format!("ERR Library {name} already exists"));
            }
            if policy == RestorePolicy::Append && self.libraries.contains_key(&name) {
                return Err(format!("ERR Library {name} already exists"));
            }
            names.push(name);
        }
        let backup: Vec<(String, Vec<u8>)> = self
            .libraries
            .iter()
            .map(|(n, l)| (n.clone(), l.code.clone()))
            .collect();
        if policy == RestorePolicy::Flush {
            self.flush();
        }
        for code in &codes {
            if let Err(e) = self.load(code, policy != RestorePolicy::Append) {
                // Put back what was there.
                self.flush();
                for (_, code) in &backup {
                    let _ = self.load(code, true);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// FCALL: runs function `name`.
    pub fn call(
        &mut self,
        name: &str,
        invocation: &Invocation,
        host: &mut dyn Host,
        reply: &mut Reply<'_>,
    ) {
        let Some(registered) = self
            .index
            .get(name)
            .and_then(|l| self.libraries.get(l))
            .and_then(|l| l.functions.get(name))
        else {
            reply.error("ERR Function not found");
            return;
        };
        if let Err(refusal) = check_flags(registered.flags, invocation.read_only, host) {
            reply.error(&refusal);
            return;
        }
        let lua = self.env.lua();
        let (keys, args) = match invocation.tables(lua) {
            Ok(t) => t,
            Err(e) => {
                reply.error(&format!("ERR {e}"));
                return;
            }
        };
        let options = engine::run_options(registered.flags, invocation.read_only);
        let function = registered.function.clone();
        let mut call_args = MultiValue::new();
        call_args.push_back(Value::Table(keys));
        call_args.push_back(Value::Table(args));
        self.env
            .run(&function, call_args, host, options, name, reply);
    }
}

/// `redis.log` while a library loads.
fn load_log(level: engine::LogLevel, text: &str) {
    match level {
        engine::LogLevel::Warning => tracing::warn!(target: "script", "{text}"),
        engine::LogLevel::Notice => tracing::info!(target: "script", "{text}"),
        _ => tracing::debug!(target: "script", "{text}"),
    }
}

/// Reads the first line, `#!<engine> name=<library>`: the library's name
/// and the code after that line (which keeps its line, empty).
fn parse_metadata(code: &[u8]) -> Result<(String, &[u8]), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = memchr::memchr(b'\n', code) else {
        return Err("Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[2..end]).into_owned();
    let mut parts = line.split_ascii_whitespace();
    let engine = parts.next().unwrap_or_default();
    let mut name = None;
    for part in parts {
        // By bytes: the line may hold any character at byte 5.
        if part.len() >= 5 && part.as_bytes()[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            // Byte 5 follows the ASCII `=`: a character boundary.
            name = Some(part[5..].to_string());
            continue;
        }
        return Err(format!("Invalid metadata value given: {part}"));
    }
    let name = name.ok_or("Library name was not given")?;
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("Engine '{engine}' not found"));
    }
    Ok((name, &code[end..]))
}

/// Letters, digits and underscores, at least one.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The arguments of `redis.register_function`: positional `(name,
/// callback)` or one table of named arguments.
fn read_registration(args: MultiValue) -> Result<(String, Registered), String> {
    let args: Vec<Value> = args.into_iter().collect();
    let (name, function, flags, description) = match args.as_slice() {
        [Value::Table(named)] => read_named(named)?,
        [_] => {
            return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into())
        }
        [name, callback] => {
            let Some(name) = super::convert::to_argument(name) else {
                return Err("first argument to redis.register_function must be a string".into());
            };
            let Value::Function(callback) = callback else {
                return Err("second argument to redis.register_function must be a function".into());
            };
            let name = String::from_utf8_lossy(&name).into_owned();
            (name, callback.clone(), ScriptFlags::default(), None)
        }
        _ => return Err("wrong number of arguments to redis.register_function".into()),
    };
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    let flags = ScriptFlags {
        declared: true,
        ..flags
    };
    Ok((
        name,
        Registered {
            function,
            flags,
            description,
        },
    ))
}

type Named = (String, Function, ScriptFlags, Option<String>);

fn read_named(table: &Table) -> Result<Named, String> {
    let mut name = None;
    let mut callback = None;
    let mut flags = ScriptFlags::default();
    let mut description = None;
    for pair in table.pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| e.to_string())?;
        let Value::String(key) = key else {
            return Err(
                "named argument key given to redis.register_function is not a string".into(),
            );
        };
        match &*key.as_bytes() {
            b"function_name" => {
                match value {
                    Value::String(s) => name = Some(s.to_string_lossy()),
                    _ => return Err(
                        "function_name argument given to redis.register_function must be a string"
                            .into(),
                    ),
                }
            }
            b"description" => {
                match value {
                    Value::String(s) => description = Some(s.to_string_lossy()),
                    _ => return Err(
                        "description argument given to redis.register_function must be a string"
                            .into(),
                    ),
                }
            }
            b"callback" => match value {
                Value::Function(f) => callback = Some(f),
                _ => {
                    return Err(
                        "callback argument given to redis.register_function must be a function"
                            .into(),
                    )
                }
            },
            b"flags" => {
                let Value::Table(list) = value else {
                    return Err("flags argument to redis.register_function must be a table representing function flags".into());
                };
                for flag in list.sequence_values::<Value>() {
                    match flag.map_err(|e| e.to_string())? {
                        Value::String(s) if flags.set(&s.as_bytes()) => {}
                        _ => return Err("unknown flag given".into()),
                    }
                }
            }
            _ => return Err("unknown argument given to redis.register_function".into()),
        }
    }
    let name = name.ok_or("redis.register_function must get a function name argument")?;
    let callback = callback.ok_or("redis.register_function must get a callback argument")?;
    Ok((name, callback, flags, description))
}

/// The library codes in a FUNCTION DUMP payload; `None` if it is not one
/// (or its checksum does not match).
fn read_dump(payload: &[u8]) -> Option<Vec<Vec<u8>>> {
    let body_len = payload.len().checked_sub(8)?;
    let (body, checksum) = payload.split_at(body_len);
    if xxhash_rust::xxh3::xxh3_64(body).to_le_bytes() != checksum {
        return None;
    }
    let rest = body.strip_prefix(DUMP_MAGIC.as_slice())?;
    let (count, mut rest) = rest.split_at_checked(4)?;
    let count = u32::from_le_bytes(count.try_into().ok()?);
    let mut codes = Vec::new();
    for _ in 0..count {
        let (len, after) = rest.split_at_checked(4)?;
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let (code, after) = after.split_at_checked(len)?;
        codes.push(code.to_vec());
        rest = after;
    }
    rest.is_empty().then_some(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_as_redis_reads_it() {
        assert_eq!(
            parse_metadata(b"#!lua name=lib\ncode").unwrap(),
            ("lib".to_string(), &b"\ncode"[..])
        );
        assert_eq!(
            parse_metadata(b"return 1").unwrap_err(),
            "Missing library metadata"
        );
        assert_eq!(
            parse_metadata(b"#!lua\nx").unwrap_err(),
            "Library name was not given"
        );
        assert_eq!(
            parse_metadata(b"#!lua name=a foo=bar\nx").unwrap_err(),
            "Invalid metadata value given: foo=bar"
        );
        assert_eq!(
            parse_metadata(b"#!js name=a\nx").unwrap_err(),
            "Engine 'js' not found"
        );
        assert!(valid_name("a_1") && !valid_name("a b") && !valid_name(""));
    }

    #[test]
    fn metadata_with_a_wide_character_at_byte_five_is_refused_not_a_panic() {
        assert_eq!(
            parse_metadata("#!lua abcdé\nx".as_bytes()).unwrap_err(),
            "Invalid metadata value given: abcdé"
        );
        assert_eq!(
            parse_metadata(b"#!lua abcd\xff\nx").unwrap_err(),
            "Invalid metadata value given: abcd\u{fffd}"
        );
    }
}
