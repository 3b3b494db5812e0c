//! The wire protocol: an incremental request parser with Redis's limits,
//! a reply writer that speaks RESP2 or RESP3, and the argument view that
//! command handlers read.

pub mod reply;
pub mod request;

pub use reply::Reply;
pub use request::{Args, Limits, ProtocolError, RequestParser};
