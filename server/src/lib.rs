//! ringcache-server: a cache node that speaks the Redis protocol.
//!
//! Data flow: [`server::run`] accepts connections and spawns one task per
//! connection ([`pipeline::serve`]). A connection reads into a buffer,
//! parses every complete request ([`protocol::RequestParser`]), checks it
//! against the session, routes it (on a cluster node: here, to its owner,
//! split across owners, or redirected: [`cluster::Link`]), runs it through
//! the command table ([`commands::run`]) against the sharded
//! [`store::Store`], ships a write's effect to its replicas, and writes all
//! replies of the batch at once. A maintenance thread samples allocator
//! statistics for `maxmemory` and runs active expiry; the cluster layer
//! gossips membership, rebuilds the ring, and streams slots to new owners.
//! One [`shutdown::Shutdown`] signal stops everything. ARCHITECTURE.md at
//! the repository root maps the modules.

pub mod acl;
pub mod bits;
pub mod blocking;
pub mod clients;
pub mod cluster;
pub mod command_stats;
pub mod commands;
pub mod config;
pub mod gate;
pub mod glob;
pub mod hyperloglog;
pub mod idle_poll;
pub mod inbox;
pub mod latency;
pub mod leases;
pub mod log_limit;
pub mod metrics;
pub mod monitor;
pub mod node;
pub mod notify;
pub mod pause;
pub mod pipeline;
pub mod protocol;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod shutdown;
pub mod slowlog;
pub mod socket;
pub mod soft_limit;
pub mod state;
pub mod stats;
pub mod store;
pub mod stream;
pub mod tls;
pub mod tracking;
pub mod watches;

pub use config::Config;
pub use state::NodeState;
