//! Redis's error replies that many tests assert, written once, as the node
//! must send them (code and message, without the `-` and CRLF).

/// A command on a key of another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// An argument that must be an integer.
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// An argument that must be a float.
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// A float result or argument that is NaN or infinite.
pub const NAN_OR_INFINITY: &str = "ERR value is NaN or Infinity";
/// INCR/DECR past the i64 range.
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// INCRBYFLOAT/HINCRBYFLOAT to an infinite or NaN result.
pub const FLOAT_RESULT_NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";
/// Options that do not parse.
pub const SYNTAX: &str = "ERR syntax error";
/// A SCAN cursor that is not a number.
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
/// RENAME of a missing key.
pub const NO_SUCH_KEY: &str = "ERR no such key";
/// Any command but AUTH/HELLO before authenticating.
pub const NOAUTH: &str = "NOAUTH Authentication required.";
/// A wrong password.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
/// A connection beyond `maxclients`.
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
/// A write refused under `maxmemory` with nothing to evict.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// CLIENT SETNAME (or HELLO SETNAME) with a space or a control byte.
pub const BAD_CLIENT_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";
/// HELLO with a version that is not a number.
pub const BAD_PROTOCOL_VERSION: &str = "ERR Protocol version is not an integer or out of range";
/// SELECT of a database other than 0.
pub const DB_OUT_OF_RANGE: &str = "ERR DB index is out of range";

/// The arity error of `command` (named in lower case, as Redis does).
pub fn wrong_arity(command: &str) -> String {
    format!(
        "ERR wrong number of arguments for '{}' command",
        command.to_lowercase()
    )
}

/// Redis 7's error for an unknown subcommand `sub` of `container`.
pub fn unknown_subcommand(sub: &str, container: &str) -> String {
    format!("ERR unknown subcommand '{sub}'. Try {container} HELP.")
}

/// Redis 7's error for a subcommand given the wrong number of arguments.
pub fn wrong_subcommand_arity(container: &str, sub: &str) -> String {
    format!("ERR wrong number of arguments for '{container}|{sub}' command")
}

/// A CONFIG SET refusal of `name`, with Redis's `reason`.
pub fn config_set_failed(name: &str, reason: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
}

/// An error as it is on the wire: `-text\r\n`.
pub fn line(text: &str) -> Vec<u8> {
    format!("-{text}\r\n").into_bytes()
}
