//! What the end-to-end tests share, once each: a node served in this
//! process ([`server::TestServer`]) for command-level tests, node processes
//! ([`process::TestNode`], [`cluster::TestCluster`]) where the process
//! matters, a raw connection that reads strictly decoded replies
//! ([`wire::RawConn`]), redis-rs query helpers, INFO readers, polling with
//! a deadline, Redis's error strings, a redis-server to compare with, and
//! one seeded random generator.
// Every test binary compiles this module and uses a part of it.
#![allow(dead_code, unused_imports)]

pub mod certs;
pub mod cluster;
pub mod errors;
pub mod info;
pub mod netns;
pub mod poll;
pub mod process;
pub mod query;
pub mod random;
pub mod redis_server;
pub mod server;
pub mod wire;

use std::io::Write;
use std::time::Duration;

pub use info::{info_field, info_u64};
pub use poll::{eventually, eventually_async};
pub use process::TestNode;
pub use query::{assert_ttl, bulk, cmd, err, error_text, q, unix_secs, v};
pub use server::TestServer;
pub use wire::RawConn;

// The node's allocator, as in the binary: `maxmemory` and INFO
// used_memory read its statistics.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Generous bound for anything that should happen soon on a loaded machine
/// (a reply, a close, a counter reaching its value).
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How long a node (or redis-server) may take to start on a loaded machine.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

/// A test that cannot run here, because `why`: it fails under CI
/// (`CI=true`, where .ci/run installs what the tests need) and is skipped
/// loudly elsewhere.
pub fn skip_loudly(test: &str, why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "{test}: {why}, and CI=true requires it");
    // Straight to stderr: the test harness captures eprintln! of tests
    // that pass, and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED {test}: {why} ***\n");
}
