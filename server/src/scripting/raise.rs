//! Errors that Rust functions of the `redis` API and the libraries raise
//! in Lua. mlua carries an error a Rust function returns as its own error
//! object; [`Raised`] says what Redis would have raised (a table
//! `{err=...}`, or a message string with the caller's position, as
//! `luaL_error` words it), and the error handler and `pcall` turn it back
//! into that.
//!
//! Raising from Rust (rather than from a Lua wrapper calling `error`)
//! keeps the script's own frame on the stack: a Lua wrapper reached by a
//! tail call (`return redis.call(...)`) would replace it, and the error
//! would lose the script's line.

use mlua::{Lua, Value};

/// What a Rust function raised.
#[derive(Debug, Clone)]
pub enum Raised {
    /// `{err = message}` (the message with its code: `ERR ...`).
    Table(String),
    /// A message string.
    Message(String),
}

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Raised::Table(text) | Raised::Message(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for Raised {}

/// Raises `{err = message}`.
pub fn table(message: impl Into<String>) -> mlua::Error {
    mlua::Error::external(Raised::Table(message.into()))
}

/// Raises `message` prefixed with the caller's position, as `luaL_error`
/// does (nothing when the caller is not Lua code).
pub fn message(lua: &Lua, message: &str) -> mlua::Error {
    let position = lua
        .inspect_stack(1, |debug| {
            let source = debug.source();
            let line = debug.current_line()?;
            if source.what == "C" {
                return None;
            }
            Some(format!(
                "{}:{line}: ",
                source.short_src.as_deref().unwrap_or("?")
            ))
        })
        .flatten()
        .unwrap_or_default();
    mlua::Error::external(Raised::Message(format!("{position}{message}")))
}

/// What a Rust function raised, if `error` is one of ours.
pub fn find(error: &mlua::Error) -> Option<&Raised> {
    match error {
        mlua::Error::CallbackError { cause, .. } => find(cause),
        other => other.downcast_ref::<Raised>(),
    }
}

/// `pcall`'s view of an error, as Redis's `pcall` gives it: the message
/// of an error table, the text of a raised message.
pub fn unwrap(lua: &Lua, error: Value) -> mlua::Result<Value> {
    match &error {
        Value::Error(e) => match find(e) {
            Some(Raised::Table(text) | Raised::Message(text)) => {
                Ok(Value::String(lua.create_string(text)?))
            }
            None => Ok(error),
        },
        Value::Table(t) => match t.raw_get::<Value>("err")? {
            Value::String(text) => Ok(Value::String(text)),
            _ => Ok(error),
        },
        _ => Ok(error),
    }
}
