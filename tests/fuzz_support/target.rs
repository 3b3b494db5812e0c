//! What the argument family fuzzes: a node in this process (fast, panics
//! caught by a hook), or a cluster of node processes, where requests are
//! routed, forwarded and split between nodes (panics read from the nodes'
//! logs, a crash seen as a process that exited).

use std::net::SocketAddr;
use std::sync::Mutex;

use crate::common::cluster::TestCluster;

use crate::common::server::{panics, TestServer};

/// A node or cluster under test.
pub trait Target: Sync {
    /// The RESP address the fuzzer connects to.
    fn addr(&self) -> SocketAddr;
    /// False once a node stopped on its own.
    fn alive(&self) -> bool;
    /// Panics seen so far.
    fn panics(&self) -> usize;
    /// Their messages after the first `from`.
    fn panic_messages(&self, from: usize) -> Vec<String>;
    /// What the target last said about itself (log lines), for a failure.
    fn last_words(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Target for TestServer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn alive(&self) -> bool {
        TestServer::alive(self)
    }

    fn panics(&self) -> usize {
        panics::count()
    }

    fn panic_messages(&self, from: usize) -> Vec<String> {
        panics::since(from)
    }
}

/// A cluster of node processes; the fuzzer talks to node 0, which routes
/// to the others.
pub struct ClusterTarget {
    cluster: Mutex<TestCluster>,
    addr: SocketAddr,
    panics: Mutex<Vec<String>>,
    /// The last log lines of each node.
    tails: Mutex<Vec<std::collections::VecDeque<String>>>,
}

/// Log lines kept per node for a failure report.
const TAIL: usize = 120;

impl ClusterTarget {
    /// Starts `nodes` processes with `flags` and waits for their ring.
    pub fn start(nodes: usize, flags: &[&str]) -> ClusterTarget {
        let cluster = TestCluster::start(nodes, flags);
        let addr = cluster.node(0).addr;
        ClusterTarget {
            cluster: Mutex::new(cluster),
            addr,
            panics: Mutex::new(Vec::new()),
            tails: Mutex::new(vec![Default::default(); nodes]),
        }
    }

    /// Reads the nodes' new log lines for panics.
    fn collect(&self) -> usize {
        let cluster = self.cluster.lock().expect("cluster lock");
        let mut panics = self.panics.lock().expect("panics lock");
        let mut tails = self.tails.lock().expect("tails lock");
        for index in cluster.live() {
            for line in cluster.node(index).drain_logs() {
                if line.contains("panicked at") {
                    panics.push(format!("node {index}: {line}"));
                }
                let tail = &mut tails[index];
                // A panic on every request fills the tail with one line.
                if tail.back() == Some(&line) {
                    continue;
                }
                if tail.len() == TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
        panics.len()
    }
}

impl Target for ClusterTarget {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn alive(&self) -> bool {
        let mut cluster = self.cluster.lock().expect("cluster lock");
        let live = cluster.live();
        live.into_iter().all(|i| cluster.running(i))
    }

    fn panics(&self) -> usize {
        self.collect()
    }

    fn panic_messages(&self, from: usize) -> Vec<String> {
        self.collect();
        self.panics.lock().expect("panics lock")[from..].to_vec()
    }

    fn last_words(&self) -> Vec<String> {
        self.collect();
        let tails = self.tails.lock().expect("tails lock");
        tails
            .iter()
            .enumerate()
            .flat_map(|(i, tail)| tail.iter().map(move |l| format!("node {i}: {l}")))
            .collect()
    }
}
