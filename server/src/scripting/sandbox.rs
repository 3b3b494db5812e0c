//! A Lua state set up as Redis 7 sets up its own: the libraries scripts
//! see (base, table, string, math, and bit, cjson, cmsgpack, struct), no
//! os, io, debug, print, dofile or loadfile, and every table the state
//! provides read-only.
//!
//! Redis patches its Lua to make tables read-only; the stock Lua 5.1 that
//! mlua builds has no such tables, so the globals and the library tables
//! are proxies (`sandbox.lua`): empty tables whose metatable reads through
//! to the real one and refuses writes ("Attempt to modify a readonly
//! table"), with `rawset`, `rawget`, `setmetatable`, `next` and `pairs`
//! wrapped so they cannot reach around a proxy. A global that does not
//! exist raises Redis's "Script attempted to access nonexistent global
//! variable". What the globals show is switchable ([`Sandbox::show`]):
//! a function library sees a smaller `redis` table while it loads.

use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value};

use super::libs;

/// Name of the chunks the sandbox itself runs: the error handler skips
/// their frames when it looks for the script's line.
pub const INTERNAL_CHUNK: &str = "=internal";

/// Base functions Redis 7 does not give scripts.
const REMOVED: &[&str] = &[
    "print", "dofile", "loadfile", "getfenv", "setfenv", "newproxy", "module", "require",
];

/// A sandboxed state's handles.
pub struct Sandbox {
    /// The Lua state.
    pub lua: Lua,
    /// What the globals hold (behind the read-only globals table).
    pub backing: Table,
    /// `phase.current` is the table globals read from.
    phase: Table,
    /// Makes a read-only proxy of a table.
    protect: Function,
}

impl Sandbox {
    /// A new state with the libraries and the protection in place; its
    /// globals show `backing` until [`Sandbox::show`] says otherwise.
    ///
    /// # Errors
    /// Lua failed (out of memory).
    pub fn new() -> mlua::Result<Sandbox> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::new(),
        )?;
        let globals = lua.globals();
        libs::register(&lua, &globals)?;
        for name in REMOVED {
            globals.raw_set(*name, Value::Nil)?;
        }
        // Move every global behind the proxy.
        let backing = lua.create_table()?;
        let pairs: Vec<(Value, Value)> = globals
            .pairs::<Value, Value>()
            .collect::<mlua::Result<_>>()?;
        for (key, value) in pairs {
            globals.raw_set(key.clone(), Value::Nil)?;
            backing.raw_set(key, value)?;
        }
        backing.raw_set("_G", globals.clone())?;
        let phase = lua.create_table()?;
        phase.raw_set("current", backing.clone())?;
        let protect: Function = lua
            .load(include_str!("sandbox.lua"))
            .set_name(INTERNAL_CHUNK)
            .call((globals, backing.clone(), phase.clone()))?;
        let sandbox = Sandbox {
            lua,
            backing,
            phase,
            protect,
        };
        for library in [
            "string",
            "table",
            "math",
            "coroutine",
            "bit",
            "cjson",
            "cmsgpack",
            "struct",
        ] {
            let table: Table = sandbox.backing.raw_get(library)?;
            sandbox.backing.raw_set(library, sandbox.protect(&table)?)?;
        }
        Ok(sandbox)
    }

    /// A read-only proxy of `table`.
    ///
    /// # Errors
    /// Lua failed.
    pub fn protect(&self, table: &Table) -> mlua::Result<Table> {
        self.protect.call((table.clone(), Value::Nil))
    }

    /// A read-only proxy of `table` whose unknown fields raise the
    /// nonexistent-global error (the `redis` table a library sees while
    /// it loads).
    ///
    /// # Errors
    /// Lua failed.
    pub fn protect_strict(&self, table: &Table) -> mlua::Result<Table> {
        let strict: Function = self
            .lua
            .load(
                "local table, error, tostring = ...\n\
                 return function(_, name)\n\
                   local value = table[name]\n\
                   if value == nil then\n\
                     error(\"Script attempted to access nonexistent global variable '\" .. tostring(name) .. \"'\", 2)\n\
                   end\n\
                   return value\n\
                 end",
            )
            .set_name(INTERNAL_CHUNK)
            .call((
                table.clone(),
                self.backing.raw_get::<Function>("error")?,
                self.backing.raw_get::<Function>("tostring")?,
            ))?;
        self.protect.call((table.clone(), strict))
    }

    /// Makes the globals show `table` from now on.
    ///
    /// # Errors
    /// Lua failed.
    pub fn show(&self, table: &Table) -> mlua::Result<()> {
        self.phase.raw_set("current", table.clone())
    }
}
