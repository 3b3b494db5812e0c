//! Runs the whole load: finds the topology, gives every connection its plan
//! (key range slice, seed), starts one OS thread per `--threads` with its own
//! single-threaded tokio runtime, lines all connections up on one start
//! instant, and merges their statistics.

use std::sync::{Arc, Barrier, OnceLock};
use std::time::Instant;

use crate::cluster::{self, Topology};
use crate::config::{Config, Stop};
use crate::conn::{Clock, Connection, Plan};
use crate::keys::KeyGen;
use crate::stats::Stats;

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Nodes the keys went to.
    pub topology: Topology,
    /// Why `--cluster` fell back to the single seed node, if it did.
    pub cluster_note: Option<String>,
    /// Everything measured, merged.
    pub stats: Stats,
    /// Connections that could not be opened.
    pub failed_connections: usize,
}

/// The key slice `index` of `parts` of `min..=max`, for `--load`: the slices
/// tile the range exactly, so every key is written once. `None` when the
/// range has fewer keys than there are connections and this one gets none.
pub fn load_slice(min: u64, max: u64, index: usize, parts: usize) -> Option<(u64, u64)> {
    // u128 so that a range covering all of u64 does not overflow.
    let len = u128::from(max - min) + 1;
    let parts = parts.max(1) as u128;
    let lo = len * index as u128 / parts;
    let hi = len * (index as u128 + 1) / parts;
    // Both are at most len, so they fit back into u64 after adding min.
    (lo < hi).then(|| (min + lo as u64, min + (hi - 1) as u64))
}

/// The plan of connection `index`.
pub fn plan(config: &Config, index: usize) -> Plan {
    let total = config.total_connections();
    // Distinct, well-spread seeds per connection (golden-ratio increment).
    let seed = config.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    match config.stop {
        Stop::Load => {
            // An empty slice gets a zero-request plan; the range has fewer
            // keys than there are connections.
            let (lo, hi, requests) = match load_slice(config.key_min, config.key_max, index, total)
            {
                Some((lo, hi)) => (lo, hi, hi - lo + 1),
                None => (config.key_min, config.key_min, 0),
            };
            Plan {
                index,
                keys: KeyGen::new(config.key_pattern, lo, hi, lo, config, seed),
                requests: Some(requests),
            }
        }
        Stop::Time(_) | Stop::Requests(_) => {
            // Sequential walks start spread over the range so connections do
            // not all hit the same key at once.
            let start = load_slice(config.key_min, config.key_max, index, total)
                .map_or(config.key_min, |(lo, _)| lo);
            Plan {
                index,
                keys: KeyGen::new(
                    config.key_pattern,
                    config.key_min,
                    config.key_max,
                    start,
                    config,
                    seed,
                ),
                requests: match config.stop {
                    Stop::Requests(n) => Some(n),
                    _ => None,
                },
            }
        }
    }
}

/// Finds where keys go: the slot map with `--cluster`, else the one server.
/// A server without cluster support gets a note and every key.
fn topology(config: &Config, runtime: &tokio::runtime::Runtime) -> (Topology, Option<String>) {
    if !config.cluster {
        return (Topology::single(&config.server), None);
    }
    match runtime.block_on(cluster::fetch(&config.server, config.timeout)) {
        Ok(t) => (t, None),
        Err(e) => (
            Topology::single(&config.server),
            Some(format!("{e}; sending every key to {}", config.server)),
        ),
    }
}

fn current_thread_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs the load described by `config`.
///
/// # Errors
/// The runtime or a thread could not be created.
pub fn run(config: Config) -> std::io::Result<Outcome> {
    let (topology, cluster_note) = topology(&config, &current_thread_runtime()?);
    let config = Arc::new(config);
    let shared = Arc::new(topology.clone());
    // Every thread connects first, then all wait here, so connection setup
    // is never measured and all windows share one start instant.
    let barrier = Arc::new(Barrier::new(config.threads));
    let start = Arc::new(OnceLock::new());
    let mut handles = Vec::with_capacity(config.threads);
    for thread in 0..config.threads {
        let (config, shared, barrier, start) = (
            config.clone(),
            shared.clone(),
            barrier.clone(),
            start.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("loadgen-{thread}"))
            .spawn(move || worker(thread, &config, &shared, &barrier, &start));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                // The barrier counts on every thread arriving; without this
                // one the others would wait forever, so stop here instead.
                eprintln!("cannot start thread {thread}: {e}");
                std::process::exit(1);
            }
        }
    }
    let mut stats = Stats::default();
    let mut failed_connections = 0;
    for handle in handles {
        match handle.join() {
            Ok((s, failed)) => {
                stats.merge(&s);
                failed_connections += failed;
            }
            Err(_) => stats.connection_error("a worker thread panicked"),
        }
    }
    Ok(Outcome {
        topology,
        cluster_note,
        stats,
        failed_connections,
    })
}

/// One thread: its connections on its own runtime. Returns the merged stats
/// and how many connections could not be opened.
fn worker(
    thread: usize,
    config: &Config,
    topology: &Topology,
    barrier: &Barrier,
    start: &OnceLock<Instant>,
) -> (Stats, usize) {
    let mut stats = Stats::default();
    let runtime = match current_thread_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            stats.connection_error(format!("runtime: {e}"));
            barrier.wait();
            return (stats, config.connections);
        }
    };
    let opened = runtime.block_on(async {
        let mut opened = Vec::with_capacity(config.connections);
        for c in 0..config.connections {
            let plan = plan(config, thread * config.connections + c);
            opened.push(Connection::open(config, topology, plan).await);
        }
        opened
    });
    barrier.wait();
    // The first thread past the barrier fixes the start for all.
    let clock = Clock::new(config, *start.get_or_init(Instant::now));
    let mut failed = 0;
    let mut connections = Vec::with_capacity(opened.len());
    for result in opened {
        match result {
            Ok(c) => connections.push(c),
            Err(e) => {
                failed += 1;
                stats.connection_error(e);
            }
        }
    }
    runtime.block_on(async {
        let tasks: Vec<_> = connections
            .into_iter()
            .map(|c| tokio::spawn(c.run(clock)))
            .collect();
        for task in tasks {
            match task.await {
                Ok(s) => stats.merge(&s),
                Err(e) => stats.connection_error(format!("connection task failed: {e}")),
            }
        }
    });
    (stats, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_slices_tile_the_range_exactly() {
        for (min, max, parts) in [
            (0u64, 99u64, 7usize),
            (1, 1_000_000, 25),
            (5, 7, 10),
            (0, u64::MAX, 3),
        ] {
            let slices: Vec<_> = (0..parts)
                .filter_map(|i| load_slice(min, max, i, parts))
                .collect();
            assert_eq!(slices.first().map(|s| s.0), Some(min));
            assert_eq!(slices.last().map(|s| s.1), Some(max));
            for pair in slices.windows(2) {
                assert_eq!(
                    pair[0].1 + 1,
                    pair[1].0,
                    "gap or overlap in {min}..={max}/{parts}"
                );
            }
        }
        // Three keys over ten connections: three get one key, seven get none.
        assert_eq!((0..10).filter_map(|i| load_slice(5, 7, i, 10)).count(), 3);
    }
}
