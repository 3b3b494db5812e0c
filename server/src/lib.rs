//! ringcache-server: a cache node that speaks the Redis protocol.
//!
//! Data flow: [`server::run`] accepts connections and spawns one task per
//! connection ([`connection::serve`]). A connection reads into a buffer,
//! parses every complete request ([`protocol::RequestParser`]), executes
//! each through the command table ([`commands::execute`]) against the
//! sharded [`store::Store`], and writes all replies of the batch at once.
//! A maintenance thread samples allocator statistics for `maxmemory` and
//! runs active expiry. One [`shutdown::Shutdown`] signal stops everything.

pub mod clients;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod connection;
pub mod glob;
pub mod latency;
pub mod log_limit;
pub mod metrics;
pub mod protocol;
pub mod server;
pub mod shutdown;
pub mod slowlog;
pub mod socket;
pub mod state;
pub mod stats;
pub mod store;

pub use config::Config;
pub use state::NodeState;
