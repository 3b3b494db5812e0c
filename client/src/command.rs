//! An encoded command with what routing and retries need to know about it:
//! its key's slot (or none), whether a replica may serve it, and whether it
//! is safe to send twice.

use bytes::{Bytes, BytesMut};

use crate::resp;
use crate::slot::key_slot;

/// Where a command must run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// On the node serving this slot.
    Slot(u16),
    /// On any node.
    Any,
}

/// One command, encoded once and possibly sent several times.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    /// The RESP request.
    pub frame: Bytes,
    pub route: Route,
    /// A read: a replica may serve it when the client reads from replicas.
    pub read: bool,
    /// Applying it twice leaves the same state as once, so it may be resent
    /// after the connection broke with it in flight.
    pub idempotent: bool,
    /// Where the key of a single-key command lies in `frame`.
    key: Option<(usize, usize)>,
}

impl Command {
    /// A command on `key` (routed by its slot), `args` following the name
    /// and the key.
    pub(crate) fn keyed(name: &[u8], key: &[u8], rest: &[&[u8]]) -> Command {
        let mut frame = BytesMut::with_capacity(
            32 + name.len() + key.len() + rest.iter().map(|a| a.len() + 16).sum::<usize>(),
        );
        resp::write_len(&mut frame, b'*', 2 + rest.len() as i64);
        resp::write_bulk(&mut frame, name);
        resp::write_bulk(&mut frame, key);
        let end = frame.len() - 2;
        for arg in rest {
            resp::write_bulk(&mut frame, arg);
        }
        Command {
            frame: frame.freeze(),
            route: Route::Slot(key_slot(key)),
            read: false,
            idempotent: true,
            key: Some((end - key.len(), end)),
        }
    }

    /// A command from all its words, routed by `route`.
    pub(crate) fn raw(args: &[&[u8]], route: Route) -> Command {
        let mut frame = BytesMut::new();
        resp::write_command(&mut frame, args);
        Command {
            frame: frame.freeze(),
            route,
            read: false,
            idempotent: false,
            key: None,
        }
    }

    /// The key of a command made by [`Command::keyed`].
    pub(crate) fn key(&self) -> Option<&[u8]> {
        self.key.and_then(|(start, end)| self.frame.get(start..end))
    }

    /// The same command marked as a read (replicas may serve it).
    pub(crate) fn read(mut self) -> Command {
        self.read = true;
        self
    }

    /// The same command marked as safe to apply twice.
    pub(crate) fn idempotent(mut self) -> Command {
        self.idempotent = true;
        self
    }

    /// The same command marked as not safe to apply twice.
    pub(crate) fn not_idempotent(mut self) -> Command {
        self.idempotent = false;
        self
    }
}

/// Commands with no key, sent to any node by [`Client::cmd`](crate::Client::cmd).
const KEYLESS: &[&str] = &[
    "ACL",
    "AUTH",
    "BGSAVE",
    "CLIENT",
    "CLUSTER",
    "COMMAND",
    "CONFIG",
    "DBSIZE",
    "DEBUG",
    "ECHO",
    "FLUSHALL",
    "FLUSHDB",
    "HELLO",
    "INFO",
    "KEYS",
    "LASTSAVE",
    "LATENCY",
    "MEMORY",
    "MONITOR",
    "PING",
    "QUIT",
    "RANDOMKEY",
    "READONLY",
    "READWRITE",
    "RESET",
    "ROLE",
    "SAVE",
    "SCAN",
    "SELECT",
    "SLOWLOG",
    "TIME",
    "WAIT",
];

/// How a raw command is routed: keyless commands (by name) go to any node;
/// every other command by its second word, the key for most commands.
/// Commands whose first key is elsewhere are corrected by the node's MOVED
/// (or forwarded, in proxy mode).
pub(crate) fn route_raw(args: &[&[u8]]) -> Route {
    let Some(name) = args.first() else {
        return Route::Any;
    };
    if KEYLESS
        .iter()
        .any(|k| k.as_bytes().eq_ignore_ascii_case(name))
    {
        return Route::Any;
    }
    match args.get(1) {
        Some(key) => Route::Slot(key_slot(key)),
        None => Route::Any,
    }
}

/// The parts back to back, in one buffer (no copy for a single part).
pub(crate) fn concat(parts: &[&Bytes]) -> Bytes {
    if let [only] = parts {
        return (*only).clone();
    }
    let mut out = BytesMut::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.extend_from_slice(part);
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_commands_are_encoded_and_routed_by_key() {
        let cmd = Command::keyed(b"SET", b"{user1000}.following", &[b"v"]);
        assert_eq!(
            &cmd.frame[..],
            b"*3\r\n$3\r\nSET\r\n$20\r\n{user1000}.following\r\n$1\r\nv\r\n"
        );
        assert_eq!(cmd.route, Route::Slot(3443));
        assert!(cmd.idempotent && !cmd.read);
        assert_eq!(cmd.key(), Some(&b"{user1000}.following"[..]));
        assert_eq!(Command::raw(&[b"DEL", b"k"], Route::Any).key(), None);
    }

    #[test]
    fn raw_commands_route_by_name_then_second_word() {
        assert_eq!(route_raw(&[b"ping", b"hello"]), Route::Any);
        assert_eq!(route_raw(&[b"INFO"]), Route::Any);
        assert_eq!(route_raw(&[b"GET", b"{user1000}.x"]), Route::Slot(3443));
        assert_eq!(route_raw(&[]), Route::Any);
    }
}
