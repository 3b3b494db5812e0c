//! The client's one error type: an [`ErrorKind`] callers match on, and a
//! message for people. Error replies from a node are classified here, once,
//! by their first word ([`Error::from_reply`]); nothing else in the client
//! looks at error text.

use std::fmt;

/// A `Result` whose error is the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, for code to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The node could not be reached (connect refused or timed out, or the
    /// connection was lost before the request was written). The request was
    /// not sent, so retrying it is always safe.
    Io,
    /// The connection broke while the request was in flight: it may or may
    /// not have been applied.
    ConnectionDropped,
    /// No reply within the request's deadline. The request may or may not
    /// have been applied.
    Timeout,
    /// `-MOVED slot addr`: the slot is served by another node.
    Moved {
        /// The key's slot.
        slot: u16,
        /// The node that serves it, `host:port`.
        addr: String,
    },
    /// `-ASK slot addr`: ask that node, once, after `ASKING`.
    Ask {
        /// The key's slot.
        slot: u16,
        /// The node to ask, `host:port`.
        addr: String,
    },
    /// `-TRYAGAIN`: the cluster is changing (or the owner was unreachable
    /// from the node that answered); retry shortly.
    TryAgain,
    /// `-CLUSTERDOWN`: no node serves the slot right now.
    ClusterDown,
    /// `-CROSSSLOT`: keys of one command belong to different slots.
    CrossSlot,
    /// Any other error reply; holds its code, the first word of the reply
    /// (`ERR`, `WRONGTYPE`, `NOAUTH`, `OOM`, ...).
    Server(String),
    /// The node sent something that is not valid RESP, or not the reply
    /// shape the command has.
    Protocol,
    /// A value could not be encoded or decoded by the codec.
    Codec,
    /// The connection's request queue is full: the request was shed
    /// without being sent.
    Overloaded,
    /// The client configuration is unusable (no seed nodes, bad address).
    Config,
}

/// A client error: a kind and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// Classifies an error reply (`line` is the text after `-`) by its first
    /// word. This is the only place reply text is interpreted.
    pub fn from_reply(line: &[u8]) -> Error {
        let text = String::from_utf8_lossy(line).into_owned();
        let mut words = text.split_ascii_whitespace();
        let code = words.next().unwrap_or("");
        let kind = match code {
            "MOVED" | "ASK" => {
                let slot = words.next().and_then(|s| s.parse::<u16>().ok());
                let addr = words.next();
                match (slot, addr) {
                    (Some(slot), Some(addr)) if slot < crate::SLOT_COUNT => {
                        let addr = addr.to_string();
                        if code == "MOVED" {
                            ErrorKind::Moved { slot, addr }
                        } else {
                            ErrorKind::Ask { slot, addr }
                        }
                    }
                    _ => ErrorKind::Protocol,
                }
            }
            "TRYAGAIN" => ErrorKind::TryAgain,
            "CLUSTERDOWN" => ErrorKind::ClusterDown,
            "CROSSSLOT" => ErrorKind::CrossSlot,
            other => ErrorKind::Server(other.to_string()),
        };
        Error::new(kind, text)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The message: the whole error line for error replies, a description
    /// otherwise.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The code of an error reply (`ERR`, `WRONGTYPE`, `MOVED`, ...), if this
    /// error came from one.
    pub fn code(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Server(code) => Some(code),
            ErrorKind::Moved { .. } => Some("MOVED"),
            ErrorKind::Ask { .. } => Some("ASK"),
            ErrorKind::TryAgain => Some("TRYAGAIN"),
            ErrorKind::ClusterDown => Some("CLUSTERDOWN"),
            ErrorKind::CrossSlot => Some("CROSSSLOT"),
            _ => None,
        }
    }

    /// True when the same request may succeed if tried again later (after a
    /// redirect, a slot map refresh, a reconnect or a short pause). The
    /// client already retries these within the request's deadline; seeing
    /// one means the deadline or the retry budget ran out.
    ///
    /// [`ErrorKind::ConnectionDropped`] and [`ErrorKind::Timeout`] count as
    /// retryable, but the first attempt may have been applied: retry only
    /// idempotent requests.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Io
                | ErrorKind::ConnectionDropped
                | ErrorKind::Timeout
                | ErrorKind::Moved { .. }
                | ErrorKind::Ask { .. }
                | ErrorKind::TryAgain
                | ErrorKind::ClusterDown
                | ErrorKind::Overloaded
        )
    }

    /// True when the node could not be reached or the connection broke
    /// ([`ErrorKind::Io`] or [`ErrorKind::ConnectionDropped`]).
    pub fn is_connection_dropped(&self) -> bool {
        matches!(self.kind, ErrorKind::Io | ErrorKind::ConnectionDropped)
    }

    /// True when the request ran out of time.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// True when the request certainly was not sent to any node, so even a
    /// non-idempotent command can be retried.
    pub(crate) fn was_not_sent(&self) -> bool {
        matches!(self.kind, ErrorKind::Io | ErrorKind::Overloaded)
    }

    pub(crate) fn io(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Io, message)
    }

    pub(crate) fn dropped(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::ConnectionDropped, message)
    }

    pub(crate) fn timeout(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Timeout, message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, message)
    }

    pub(crate) fn codec(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Codec, message)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ErrorKind::Io => "node unreachable",
            ErrorKind::ConnectionDropped => "connection dropped",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Moved { .. } => "moved",
            ErrorKind::Ask { .. } => "ask redirect",
            ErrorKind::TryAgain => "try again",
            ErrorKind::ClusterDown => "cluster down",
            ErrorKind::CrossSlot => "cross-slot request",
            ErrorKind::Server(_) => "server error",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Codec => "codec error",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Config => "invalid configuration",
        };
        f.write_str(text)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

impl From<crate::resp::DecodeError> for Error {
    fn from(e: crate::resp::DecodeError) -> Error {
        Error::protocol(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_classified_by_their_first_word() {
        let moved = Error::from_reply(b"MOVED 3999 127.0.0.1:6381");
        assert_eq!(
            moved.kind(),
            &ErrorKind::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381".into()
            }
        );
        assert!(moved.is_retryable());
        assert_eq!(
            Error::from_reply(b"ASK 1 10.0.0.1:7000").kind(),
            &ErrorKind::Ask {
                slot: 1,
                addr: "10.0.0.1:7000".into()
            }
        );
        assert_eq!(
            Error::from_reply(b"TRYAGAIN peer link closed").kind(),
            &ErrorKind::TryAgain
        );
        assert_eq!(
            Error::from_reply(b"CLUSTERDOWN Hash slot not served").kind(),
            &ErrorKind::ClusterDown
        );
        assert_eq!(
            Error::from_reply(b"CROSSSLOT Keys in request don't hash to the same slot").kind(),
            &ErrorKind::CrossSlot
        );
        let wrong = Error::from_reply(b"WRONGTYPE Operation against a key");
        assert_eq!(wrong.kind(), &ErrorKind::Server("WRONGTYPE".into()));
        assert_eq!(wrong.code(), Some("WRONGTYPE"));
        assert_eq!(wrong.message(), "WRONGTYPE Operation against a key");
        assert!(!wrong.is_retryable());
        // A malformed redirect is a protocol error, not a panic.
        assert_eq!(Error::from_reply(b"MOVED x").kind(), &ErrorKind::Protocol);
        assert_eq!(
            Error::from_reply(b"MOVED 99999 a:1").kind(),
            &ErrorKind::Protocol
        );
        assert_eq!(Error::from_reply(b"").kind(), &ErrorKind::Server("".into()));
    }

    #[test]
    fn predicates() {
        assert!(Error::io("x").is_connection_dropped());
        assert!(Error::dropped("x").is_connection_dropped());
        assert!(Error::timeout("x").is_timeout());
        assert!(Error::timeout("x").is_retryable());
        assert!(!Error::codec("x").is_retryable());
        assert!(Error::io("x").was_not_sent());
        assert!(!Error::dropped("x").was_not_sent());
    }
}
