//! ringcache-bench: a memtier_benchmark-like load generator for ringcache
//! nodes and redis-server (binary `ringcache-loadgen`).
//!
//! Data flow: [`config`] turns the command line into a validated
//! [`config::Config`]; [`runner`] resolves where keys go ([`cluster`]),
//! gives each connection a [`conn::Plan`] (its [`keys`] generator and, for
//! `--load`, its slice of the key range), and starts one OS thread per
//! `--threads`, each with a single-threaded tokio runtime running its
//! connections as tasks. A connection sends windows of `--pipeline`
//! requests and times each reply ([`reply`] says what it means); its
//! [`stats`] are merged at the end and [`report`] prints them as a table
//! and as JSON.
//!
//! [`stall`] (binary `ringcache-stall`) measures how long one client's long
//! command (KEYS, UNLINK, FLUSHALL ASYNC) stalls another's PINGs. The binary
//! `ringcache-clientload` puts load through the client library itself
//! (`ringcache-client`) and reports its CPU per operation. The bench scripts
//! (`benches/*.sh`) share their start, ready, stop and median steps through
//! `benches/lib.sh`.
#![forbid(unsafe_code)]
// In unit tests a panic is the failure report, so unwrap is fine there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cluster;
pub mod config;
pub mod conn;
pub mod keys;
pub mod reply;
pub mod report;
pub mod runner;
pub mod stall;
pub mod stats;
pub mod zipf;
