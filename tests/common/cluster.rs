//! Test clusters: several `ringcache-server` processes on 127.0.0.1 joined
//! through gossip, each with a stable name, started and killed like real
//! deployments (SIGKILL for crashes, SIGTERM for graceful leaves).

use std::time::{Duration, Instant};

use redis::Value;

use super::{eventually, TestNode};

/// How long a cluster may take to agree on its ring on a loaded machine.
pub const CONVERGE_DEADLINE: Duration = Duration::from_secs(60);

/// Nodes of one cluster; `None` where a node was stopped.
pub struct TestCluster {
    /// The nodes, by index (node `i` is named `node-i`).
    pub nodes: Vec<Option<TestNode>>,
    seed: String,
    flags: Vec<String>,
}

impl TestCluster {
    /// Starts `count` nodes with `flags` (each node gets a free RESP and
    /// gossip port, a stable name, and node 0 as its seed).
    pub fn start(count: usize, flags: &[&str]) -> TestCluster {
        let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        let mut first = start_node(0, None, &flags);
        let line = first
            .wait_for_log("cluster membership started", Duration::from_secs(30))
            .expect("node 0 starts gossip");
        let seed = line
            .split("gossip=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("gossip address in the log")
            .to_string();
        let mut cluster = TestCluster {
            nodes: vec![Some(first)],
            seed,
            flags,
        };
        for _ in 1..count {
            cluster.add_node();
        }
        cluster.wait_converged(count);
        cluster
    }

    /// Starts one more node (or restarts node `index` under its name).
    pub fn add_node(&mut self) -> usize {
        let index = self.nodes.len();
        let node = start_node(index, Some(&self.seed), &self.flags);
        self.nodes.push(Some(node));
        index
    }

    /// Restarts the stopped node `index` under the same name.
    pub fn restart(&mut self, index: usize) {
        assert!(self.nodes[index].is_none(), "node {index} is running");
        self.nodes[index] = Some(start_node(index, Some(&self.seed), &self.flags));
    }

    /// Node `index`.
    pub fn node(&self, index: usize) -> &TestNode {
        self.nodes[index].as_ref().expect("node is running")
    }

    /// True while node `index`'s process runs.
    pub fn running(&mut self, index: usize) -> bool {
        self.nodes[index].as_mut().is_some_and(TestNode::running)
    }

    /// Indexes of running nodes.
    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_some())
            .collect()
    }

    /// SIGKILL node `index` (a crash: no goodbye, no handoff).
    pub fn kill(&mut self, index: usize) {
        if let Some(mut node) = self.nodes[index].take() {
            node.signal("KILL");
            node.wait_exit(Duration::from_secs(30));
        }
    }

    /// SIGTERM node `index` and wait for it to hand off and exit.
    pub fn leave(&mut self, index: usize) -> Option<i32> {
        let mut node = self.nodes[index].take()?;
        node.signal("TERM");
        node.wait_exit(Duration::from_secs(90))
    }

    /// Waits until every running node sees a ring of `expected` nodes, all
    /// agree on the owners of every slot, and no handoff or import is left.
    pub fn wait_converged(&self, expected: usize) {
        let converged = eventually(CONVERGE_DEADLINE, || self.converged(expected));
        assert!(
            converged,
            "cluster did not converge on {expected} nodes: {}",
            self.describe()
        );
    }

    fn converged(&self, expected: usize) -> bool {
        let mut slots: Option<Value> = None;
        for index in self.live() {
            let Ok(mut conn) = self.node(index).client().get_connection() else {
                return false;
            };
            let Ok(info) = redis::cmd("INFO").arg("cluster").query::<String>(&mut conn) else {
                return false;
            };
            let field = |name: &str| field_of(&info, name);
            if field("cluster_nodes") != Some(expected as u64)
                || field("cluster_importing_slots") != Some(0)
                || field("cluster_handoff_slots_pending") != Some(0)
            {
                return false;
            }
            let Ok(these) = redis::cmd("CLUSTER").arg("SLOTS").query::<Value>(&mut conn) else {
                return false;
            };
            match &slots {
                None => slots = Some(these),
                Some(first) if *first != these => return false,
                Some(_) => {}
            }
        }
        true
    }

    fn describe(&self) -> String {
        let mut text = String::new();
        for index in self.live() {
            let info = self
                .node(index)
                .client()
                .get_connection()
                .ok()
                .and_then(|mut c| {
                    redis::cmd("INFO")
                        .arg("cluster")
                        .query::<String>(&mut c)
                        .ok()
                })
                .unwrap_or_default();
            text.push_str(&format!("\nnode-{index}: {}", info.replace("\r\n", " ")));
        }
        text
    }

    /// A figure of INFO cluster on node `index`.
    pub fn figure(&self, index: usize, name: &str) -> u64 {
        let mut conn = self.node(index).conn();
        let info: String = redis::cmd("INFO")
            .arg("cluster")
            .query(&mut conn)
            .expect("INFO");
        field_of(&info, name).unwrap_or_else(|| panic!("no {name} in INFO cluster"))
    }

    /// Total keys over all running nodes (copies included).
    pub fn total_keys(&self) -> u64 {
        self.live()
            .into_iter()
            .map(|i| {
                let mut conn = self.node(i).conn();
                redis::cmd("DBSIZE")
                    .query::<u64>(&mut conn)
                    .expect("DBSIZE")
            })
            .sum()
    }
}

fn field_of(info: &str, name: &str) -> Option<u64> {
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
}

fn start_node(index: usize, seed: Option<&str>, flags: &[String]) -> TestNode {
    let name = format!("node-{index}");
    let mut args: Vec<&str> = vec![
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        "0",
        "--node-name",
        &name,
    ];
    if let Some(seed) = seed {
        args.push("--cluster-seeds");
        args.push(seed);
    }
    args.extend(flags.iter().map(String::as_str));
    let started = Instant::now();
    let node = TestNode::start(&args);
    assert!(started.elapsed() < Duration::from_secs(120));
    node
}
