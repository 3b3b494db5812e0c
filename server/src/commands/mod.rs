//! Command execution: one table that knows every command's name, arity,
//! flags and key positions, and the dispatcher that checks a request against
//! it (arity, authentication, memory) before calling the family's handler.
//!
//! Handlers write their reply through [`Ctx::reply`]; a bad argument gets an
//! error reply and the connection stays open.

pub mod args;
mod cluster;
mod connection;
mod expiry_args;
mod hashes;
mod keys;
mod latency;
mod server;
mod strings;
mod table;

use std::sync::Arc;
use std::time::Instant;

use crate::clients::ClientHandle;
use crate::protocol::reply::c_string;
use crate::protocol::{Args, Reply};
use crate::state::NodeState;
use crate::store::{unix_ms, Store};

pub use cluster::node_id;
pub use table::{lookup, lookup_indexed, CommandSpec, COMMANDS};

/// Flag: changes data.
pub const WRITE: u16 = 1;
/// Flag: only reads data.
pub const READONLY: u16 = 1 << 1;
/// Flag: may grow memory, so it is refused or evicts first under maxmemory.
pub const DENYOOM: u16 = 1 << 2;
/// Flag: administrative.
pub const ADMIN: u16 = 1 << 3;
/// Flag: O(1) or O(log n).
pub const FAST: u16 = 1 << 4;
/// Flag: allowed before AUTH.
pub const NO_AUTH: u16 = 1 << 5;
/// Flag: connection-level command.
pub const CONNECTION: u16 = 1 << 6;

/// What the connection must do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Keep reading.
    Continue,
    /// Write pending replies, then close (QUIT, CLIENT KILL of itself).
    Close,
}

/// Per-connection state that commands read and change.
#[derive(Debug)]
pub struct Session {
    /// The handle other tasks see.
    pub handle: Arc<ClientHandle>,
    /// AUTH succeeded, or no password is required.
    pub authenticated: bool,
    /// RESP3 after HELLO 3.
    pub resp3: bool,
    /// Commands run since the last flush to the shared counter.
    pub commands: u64,
    /// A link from another cluster node: run requests here, never forward.
    pub peer: bool,
    /// READONLY: reads may be served by replicas.
    pub readonly: bool,
    /// Replica confirmations of this connection's last write (WAIT).
    pub last_write: Option<crate::cluster::dispatch::LastWrite>,
}

/// Everything a handler can reach.
pub struct Ctx<'a> {
    /// The node.
    pub node: &'a NodeState,
    /// The connection.
    pub session: &'a mut Session,
    /// Where the reply goes.
    pub reply: Reply<'a>,
    /// Set by QUIT and friends.
    pub after: After,
}

impl Ctx<'_> {
    /// The key space.
    #[inline]
    pub fn store(&self) -> &Store {
        &self.node.store
    }

    /// Replies with a HELP text, one simple string per line.
    pub fn help(&mut self, lines: &[&str]) {
        self.reply.array(lines.len());
        for line in lines {
            self.reply.simple(line);
        }
    }

    /// Redis's error for an unknown subcommand of `command` (upper case).
    pub fn unknown_subcommand(&mut self, sub: &[u8], command: &str) {
        self.fail(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {command} HELP.",
            String::from_utf8_lossy(sub)
        ));
    }

    /// Replies with an error and returns nothing, for `return ctx.fail(..)`.
    pub fn fail(&mut self, message: &str) {
        self.reply.error(message);
    }
}

/// The Redis error for an unknown command, quoting its name and first
/// arguments as Redis 7 does: bytes as they came, each cut at a NUL (C
/// strings), the name at 128 bytes, and arguments while the quoted list
/// is shorter than 128 bytes, the last one cut to what is left of them.
pub fn unknown_command(args: Args<'_>) -> Vec<u8> {
    let name = c_string(args.get(0));
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(&name[..name.len().min(128)]);
    text.extend_from_slice(b"', with args beginning with: ");
    let mut quoted: Vec<u8> = Vec::new();
    for arg in args.iter_from(1) {
        if quoted.len() >= 128 {
            break;
        }
        let arg = c_string(arg);
        let room = 128 - quoted.len();
        quoted.push(b'\'');
        quoted.extend_from_slice(&arg[..arg.len().min(room)]);
        quoted.extend_from_slice(b"' ");
    }
    text.extend_from_slice(&quoted);
    text
}

/// The Redis error for a wrong argument count.
pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// True if `arity` (Redis convention: n exact, -n at least n) admits `n`.
pub fn arity_ok(arity: i32, n: usize) -> bool {
    if arity >= 0 {
        n == arity as usize
    } else {
        n >= arity.unsigned_abs() as usize
    }
}

/// Runs one request: table lookup, checks, the handler, the slow log.
/// Returns the command's index in [`COMMANDS`], if it is one.
pub fn execute(ctx: &mut Ctx<'_>, args: Args<'_>) -> Option<usize> {
    let Some((index, spec)) = lookup_indexed(args.get(0)) else {
        ctx.reply.error_bytes(&unknown_command(args));
        return None;
    };
    ctx.session
        .handle
        .last_command
        .store(index as u64, std::sync::atomic::Ordering::Relaxed);
    run(ctx, index, spec, args);
    Some(index)
}

fn run(ctx: &mut Ctx<'_>, index: usize, spec: &CommandSpec, args: Args<'_>) {
    if !arity_ok(spec.arity, args.len()) {
        return ctx.fail(&wrong_arity(spec.name));
    }
    if !ctx.session.authenticated && spec.flags & NO_AUTH == 0 {
        return ctx.fail(args::NOAUTH);
    }
    if spec.flags & DENYOOM != 0 && ctx.store().make_room().is_err() {
        return ctx.fail(args::OOM);
    }
    ctx.session.commands += 1;
    let started = Instant::now();
    (spec.handler)(ctx, args);
    let elapsed = started.elapsed();
    ctx.node
        .command_metrics
        .record(index, elapsed.as_secs_f64());
    record_slow(ctx, args, elapsed.as_micros() as i64);
    if ctx.node.latency.is_notable(elapsed.as_micros() as u64) {
        ctx.node.latency.record(
            "command",
            (unix_ms() / 1000) as i64,
            elapsed.as_millis() as u64,
        );
    }
}

#[inline]
fn record_slow(ctx: &Ctx<'_>, args: Args<'_>, micros: i64) {
    if !ctx.node.slowlog.is_slow(micros) {
        return;
    }
    let handle = &ctx.session.handle;
    ctx.node.slowlog.record(
        args,
        micros,
        (unix_ms() / 1000) as i64,
        handle.peer.to_string(),
        handle.name_text(),
    );
}
