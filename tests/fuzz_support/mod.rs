//! The fuzzer of the node (tests/fuzz.rs in CI, examples/fuzz.rs for long
//! runs): random and mutated request bytes through the parser, and random
//! argument vectors for every command of the table through the dispatcher,
//! both against a node served in this process. A failure names the seed
//! to replay it and a shrunk input.
#![allow(dead_code)]

pub mod args_run;
pub mod commands;
pub mod frames;
pub mod frames_run;
pub mod scripts;
pub mod session;
pub mod shrink;
pub mod target;
pub mod vocabulary;

use std::time::Duration;

use crate::common::TestServer;
use target::{ClusterTarget, Target};

/// Requests per pipelined batch of the argument family.
pub const BATCH: usize = 200;

/// Runs the frame family; prints and returns its summary line.
///
/// # Errors
/// The failure, with its seed and shrunk input.
pub fn frames(seed: u64, cases: u64) -> Result<String, String> {
    let node = TestServer::start();
    let report = frames_run::run(&node, seed, cases)?;
    let line = format!(
        "frame fuzz: {} cases, {} bytes, {} replies, {} protocol errors, in {:.1?} (seed {seed})",
        report.cases, report.bytes, report.replies, report.protocol_errors, report.elapsed
    );
    eprintln!("{line}");
    Ok(line)
}

/// Runs the argument family; prints its summary and per-command counts.
///
/// # Errors
/// The failure, with its seed and shrunk input.
pub fn commands(seed: u64, cases: u64) -> Result<String, String> {
    let node = TestServer::start();
    commands_on(&node, "argument fuzz", seed, cases)
}

/// Runs the argument family against a cluster of `nodes` processes
/// (requests routed, forwarded and split between them).
///
/// # Errors
/// The failure, with its seed and shrunk input.
pub fn commands_on_cluster(nodes: usize, seed: u64, cases: u64) -> Result<String, String> {
    let cluster = ClusterTarget::start(nodes, &[]);
    commands_on(&cluster, "argument fuzz (cluster)", seed, cases)
}

fn commands_on(target: &dyn Target, what: &str, seed: u64, cases: u64) -> Result<String, String> {
    let report = args_run::run(target, seed, cases, BATCH)?;
    let line = format!(
        "{what}: {} requests in {} batches ({} ended by QUIT or CLIENT KILL), in {:.1?} (seed {seed})",
        report.cases, report.batches, report.closes, report.elapsed
    );
    eprintln!("{line}");
    let table: Vec<String> = report
        .per_command
        .iter()
        .map(|(name, (sent, ok))| format!("{name} {sent}/{ok}"))
        .collect();
    eprintln!(
        "  per command (requests/non-error replies): {}",
        table.join(", ")
    );
    let missing: Vec<&str> = ringcache_server::commands::commands()
        .iter()
        .map(|c| c.name)
        .filter(|n| !report.per_command.contains_key(*n))
        .collect();
    if !missing.is_empty() && report.cases >= 10_000 {
        return Err(format!("commands never sent: {missing:?}"));
    }
    Ok(line)
}

/// Rate of a run, for the summary.
pub fn per_second(cases: u64, elapsed: Duration) -> f64 {
    cases as f64 / elapsed.as_secs_f64().max(1e-9)
}
