//! The command table: every command the node runs, with Redis's arity,
//! flags and key positions (COMMAND reports them; routing will read them).

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{cluster, connection, hashes, keys, latency, server, strings};
use super::{Ctx, ADMIN, CONNECTION, DENYOOM, FAST, HANDSHAKE, NO_AUTH, PEER, READONLY, WRITE};
use crate::protocol::Args;

/// A command handler.
pub type Handler = fn(&mut Ctx<'_>, Args<'_>);

/// One command.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// The code that runs it.
    pub handler: Handler,
    /// Redis arity: n exactly, or -n for at least n (the name included).
    pub arity: i32,
    /// Flag bits (see the constants in `commands`).
    pub flags: u16,
    /// Position of the first key (0 = no keys).
    pub first_key: i32,
    /// Position of the last key (-1 = the last argument).
    pub last_key: i32,
    /// Distance between keys.
    pub step: i32,
    /// COMMAND DOCS group.
    pub group: &'static str,
    /// COMMAND DOCS summary.
    pub summary: &'static str,
}

const fn spec(
    name: &'static str,
    handler: Handler,
    arity: i32,
    flags: u16,
    keys: (i32, i32, i32),
    group: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        handler,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group,
        summary,
    }
}

const NONE: (i32, i32, i32) = (0, 0, 0);
const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);
const PAIRS: (i32, i32, i32) = (1, -1, 2);
const TWO: (i32, i32, i32) = (1, 2, 1);

const R: u16 = READONLY;
const RF: u16 = READONLY | FAST;
const W: u16 = WRITE;
const WF: u16 = WRITE | FAST;
const WM: u16 = WRITE | DENYOOM;
const WMF: u16 = WRITE | DENYOOM | FAST;
const C: u16 = CONNECTION | FAST;
const CA: u16 = CONNECTION | FAST | NO_AUTH;
const P: u16 = ADMIN | PEER;

/// Every command.
pub static COMMANDS: &[CommandSpec] = &[
    // connection
    spec("ping", connection::ping, -1, C, NONE, "connection", "Returns the server's liveliness response."),
    spec("echo", connection::echo, 2, C, NONE, "connection", "Returns the given string."),
    spec("hello", connection::hello, -1, CA, NONE, "connection", "Handshakes with the server."),
    spec("auth", connection::auth, -2, CA, NONE, "connection", "Authenticates the connection."),
    spec("select", connection::select, 2, C, NONE, "connection", "Changes the selected database."),
    spec("quit", connection::quit, -1, CA, NONE, "connection", "Closes the connection."),
    spec("reset", connection::reset, 1, CA, NONE, "connection", "Resets the connection."),
    spec("client", connection::client, -2, CONNECTION, NONE, "connection", "A container for client connection commands."),
    spec("command", connection::command, -1, CONNECTION, NONE, "server", "Returns detailed information about all commands."),
    // strings
    spec("get", strings::get, 2, RF, ONE, "string", "Returns the string value of a key."),
    spec("set", strings::set, -3, WM, ONE, "string", "Sets the string value of a key, ignoring its type."),
    spec("setnx", strings::setnx, 3, WMF, ONE, "string", "Set the string value of a key only when the key doesn't exist."),
    spec("setex", strings::setex, 4, WM, ONE, "string", "Sets the string value and expiration time of a key."),
    spec("psetex", strings::psetex, 4, WM, ONE, "string", "Sets the string value and expiration time in milliseconds of a key."),
    spec("getset", strings::getset, 3, WMF, ONE, "string", "Returns the previous string value of a key after setting it to a new value."),
    spec("getdel", strings::getdel, 2, WF, ONE, "string", "Returns the string value of a key after deleting the key."),
    spec("getex", strings::getex, -2, WF, ONE, "string", "Returns the string value of a key after setting its expiration time."),
    spec("mget", strings::mget, -2, RF, ALL, "string", "Atomically returns the string values of one or more keys."),
    spec("mset", strings::mset, -3, WM, PAIRS, "string", "Atomically creates or modifies the string values of one or more keys."),
    spec("msetnx", strings::msetnx, -3, WM, PAIRS, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    spec("incr", strings::incr, 2, WMF, ONE, "string", "Increments the integer value of a key by one."),
    spec("decr", strings::decr, 2, WMF, ONE, "string", "Decrements the integer value of a key by one."),
    spec("incrby", strings::incrby, 3, WMF, ONE, "string", "Increments the integer value of a key by a number."),
    spec("decrby", strings::decrby, 3, WMF, ONE, "string", "Decrements a number from the integer value of a key."),
    spec("incrbyfloat", strings::incrbyfloat, 3, WMF, ONE, "string", "Increment the floating point value of a key by a number."),
    spec("append", strings::append, 3, WMF, ONE, "string", "Appends a string to the value of a key."),
    spec("strlen", strings::strlen, 2, RF, ONE, "string", "Returns the length of a string value."),
    spec("getrange", strings::getrange, 4, R, ONE, "string", "Returns a substring of the string stored at a key."),
    spec("substr", strings::getrange, 4, R, ONE, "string", "Returns a substring from a string value."),
    spec("setrange", strings::setrange, 4, WM, ONE, "string", "Overwrites a part of a string value with another by an offset."),
    // keys
    spec("del", keys::del, -2, W, ALL, "generic", "Deletes one or more keys."),
    spec("unlink", keys::del, -2, WF, ALL, "generic", "Asynchronously deletes one or more keys."),
    spec("exists", keys::exists, -2, RF, ALL, "generic", "Determines whether one or more keys exist."),
    spec("touch", keys::touch, -2, RF, ALL, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    spec("type", keys::key_type, 2, RF, ONE, "generic", "Determines the type of value stored at a key."),
    spec("rename", keys::rename, 3, W, TWO, "generic", "Renames a key and overwrites the destination."),
    spec("renamenx", keys::renamenx, 3, WF, TWO, "generic", "Renames a key only when the target key name doesn't exist."),
    spec("copy", keys::copy, -3, WM, TWO, "generic", "Copies the value of a key to a new key."),
    spec("expire", keys::expire, -3, WF, ONE, "generic", "Sets the expiration time of a key in seconds."),
    spec("pexpire", keys::pexpire, -3, WF, ONE, "generic", "Sets the expiration time of a key in milliseconds."),
    spec("expireat", keys::expireat, -3, WF, ONE, "generic", "Sets the expiration time of a key to a Unix timestamp."),
    spec("pexpireat", keys::pexpireat, -3, WF, ONE, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    spec("ttl", keys::ttl, 2, RF, ONE, "generic", "Returns the expiration time in seconds of a key."),
    spec("pttl", keys::pttl, 2, RF, ONE, "generic", "Returns the expiration time in milliseconds of a key."),
    spec("expiretime", keys::expiretime, 2, RF, ONE, "generic", "Returns the expiration time of a key as a Unix timestamp."),
    spec("pexpiretime", keys::pexpiretime, 2, RF, ONE, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    spec("persist", keys::persist, 2, WF, ONE, "generic", "Removes the expiration time of a key."),
    spec("keys", keys::keys, 2, R, NONE, "generic", "Returns all key names that match a pattern."),
    spec("scan", keys::scan, -2, R, NONE, "generic", "Iterates over the key names in the database."),
    spec("randomkey", keys::randomkey, 1, R, NONE, "generic", "Returns a random key name from the database."),
    spec("dbsize", keys::dbsize, 1, RF, NONE, "server", "Returns the number of keys in the database."),
    spec("flushdb", keys::flushall, -1, W, NONE, "server", "Remove all keys from the current database."),
    spec("flushall", keys::flushall, -1, W, NONE, "server", "Removes all keys from all databases."),
    // hashes
    spec("hset", hashes::hset, -4, WMF, ONE, "hash", "Creates or modifies the value of a field in a hash."),
    spec("hmset", hashes::hmset, -4, WMF, ONE, "hash", "Sets the values of multiple fields."),
    spec("hsetnx", hashes::hsetnx, 4, WMF, ONE, "hash", "Sets the value of a field in a hash only when the field doesn't exist."),
    spec("hget", hashes::hget, 3, RF, ONE, "hash", "Returns the value of a field in a hash."),
    spec("hmget", hashes::hmget, -3, RF, ONE, "hash", "Returns the values of all fields in a hash."),
    spec("hgetall", hashes::hgetall, 2, R, ONE, "hash", "Returns all fields and values in a hash."),
    spec("hdel", hashes::hdel, -3, WF, ONE, "hash", "Deletes one or more fields and their values from a hash."),
    spec("hexists", hashes::hexists, 3, RF, ONE, "hash", "Determines whether a field exists in a hash."),
    spec("hlen", hashes::hlen, 2, RF, ONE, "hash", "Returns the number of fields in a hash."),
    spec("hkeys", hashes::hkeys, 2, R, ONE, "hash", "Returns all fields in a hash."),
    spec("hvals", hashes::hvals, 2, R, ONE, "hash", "Returns all values in a hash."),
    spec("hstrlen", hashes::hstrlen, 3, RF, ONE, "hash", "Returns the length of the value of a field."),
    spec("hincrby", hashes::hincrby, 4, WMF, ONE, "hash", "Increments the integer value of a field in a hash by a number."),
    spec("hincrbyfloat", hashes::hincrbyfloat, 4, WMF, ONE, "hash", "Increments the floating point value of a field by a number."),
    spec("hrandfield", hashes::hrandfield, -2, R, ONE, "hash", "Returns one or more random fields from a hash."),
    spec("hscan", hashes::hscan, -3, R, ONE, "hash", "Iterates over fields and values of a hash."),
    // server
    spec("info", server::info, -1, ADMIN, NONE, "server", "Returns information and statistics about the server."),
    spec("config", server::config, -2, ADMIN, NONE, "server", "A container for server configuration commands."),
    spec("time", server::time, 1, FAST, NONE, "server", "Returns the server time."),
    spec("memory", server::memory, -2, R, NONE, "server", "A container for memory diagnostics commands."),
    spec("object", server::object, -2, R, NONE, "generic", "A container for object introspection commands."),
    spec("slowlog", server::slowlog, -2, ADMIN, NONE, "server", "A container for slow log commands."),
    // cluster
    spec("cluster", cluster::cluster, -2, C, NONE, "cluster", "A container for Redis Cluster commands."),
    spec("readonly", cluster::readonly, 1, C, NONE, "cluster", "Enables read-only queries for a connection to a Redis Cluster replica node."),
    spec("readwrite", cluster::readwrite, 1, C, NONE, "cluster", "Enables read-write queries for a connection to a Redis Cluster replica node."),
    spec("asking", cluster::asking, 1, C, NONE, "cluster", "Signals that a cluster client is following an -ASK redirect."),
    spec("wait", cluster::wait, 3, C, NONE, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed."),
    spec("rcpeer", cluster::rcpeer, 2, CONNECTION | NO_AUTH | HANDSHAKE, NONE, "cluster", "Authenticates the connection as a link from another node of the cluster."),
    spec("rcapply", cluster::rcapply, -5, P, NONE, "cluster", "Applies a key's state at a version, unless the local copy is newer (replication and handoff)."),
    spec("rchandoff", cluster::rchandoff, -1, P, NONE, "cluster", "Tells a previous owner that a new owner took these slots."),
    spec("rcread", cluster::rcread, -2, P, NONE, "cluster", "Runs a read-only command on this node without routing it."),
    spec("rcexport", cluster::rcexport, -3, P, NONE, "cluster", "Returns one page of the entries of some slots, for a new owner pulling them."),
    spec("shutdown", server::shutdown, -1, ADMIN, NONE, "server", "Synchronously saves the database(s) to disk and shuts down the Redis server."),
    spec("latency", latency::latency, -2, ADMIN, NONE, "server", "A container for latency diagnostics commands."),
    spec("debug", server::debug, -2, ADMIN, NONE, "server", "A container for debugging commands."),
];

/// Longest command name; longer names cannot be commands.
const MAX_NAME: usize = 32;

static BY_NAME: LazyLock<HashMap<&'static [u8], (usize, &'static CommandSpec)>> =
    LazyLock::new(|| {
        COMMANDS
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_bytes(), (i, c)))
            .collect()
    });

/// Finds a command and its index in [`COMMANDS`] by name, any case,
/// without allocating.
#[inline]
pub fn lookup_indexed(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut lower = [0u8; MAX_NAME];
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    BY_NAME.get(&lower[..name.len()]).copied()
}

/// Finds a command by name, any case.
#[inline]
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_indexed(name).map(|(_, spec)| spec)
}

/// True for the commands clients see in COMMAND: all but those only
/// cluster nodes send each other.
fn is_listed(spec: &CommandSpec) -> bool {
    spec.flags & (PEER | HANDSHAKE) == 0
}

/// The commands COMMAND lists, in table order.
pub fn listed() -> impl Iterator<Item = &'static CommandSpec> + Clone {
    COMMANDS.iter().filter(|spec| is_listed(spec))
}

/// Finds a command COMMAND lists, by name, any case.
pub fn lookup_listed(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup(name).filter(|spec| is_listed(spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn commands_only_nodes_send_are_not_listed() {
        for name in ["rcpeer", "rcapply", "rchandoff", "rcread", "rcexport"] {
            assert!(lookup(name.as_bytes()).is_some(), "{name}");
            assert!(lookup_listed(name.as_bytes()).is_none(), "{name}");
            assert!(listed().all(|spec| spec.name != name), "{name}");
        }
        assert_eq!(listed().count(), COMMANDS.len() - 5);
        assert!(lookup_listed(b"GET").is_some());
    }

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut names: Vec<_> = COMMANDS.iter().map(|c| c.name).collect();
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase())));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
    }
}
