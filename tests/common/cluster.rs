//! Test clusters: several `ringcache-server` processes on 127.0.0.1 joined
//! through gossip, each with a stable name, started and killed like real
//! deployments (SIGKILL for crashes, SIGTERM for graceful leaves). Every
//! cluster has a secret of its own, given to its nodes in a file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redis::Value;

use super::info::field_u64;
use super::{eventually, TestNode, DEADLINE};

/// How long a cluster may take to agree on its ring on a loaded machine.
pub const CONVERGE_DEADLINE: Duration = Duration::from_secs(60);

/// Nodes of one cluster; `None` where a node was stopped.
pub struct TestCluster {
    /// The nodes, by index (node `i` is named `node-i`).
    pub nodes: Vec<Option<TestNode>>,
    seed: String,
    flags: Vec<String>,
    secret: String,
    secret_file: PathBuf,
    password: Option<String>,
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.secret_file);
    }
}

impl TestCluster {
    /// Starts `count` nodes with `flags` (each node gets a free RESP and
    /// gossip port, a stable name, the cluster's secret, and node 0 as its
    /// seed).
    pub fn start(count: usize, flags: &[&str]) -> TestCluster {
        TestCluster::start_with(count, flags, None)
    }

    /// As [`TestCluster::start`], with `--requirepass password` on every
    /// node (the harness's own connections authenticate).
    pub fn start_with_password(count: usize, flags: &[&str], password: &str) -> TestCluster {
        TestCluster::start_with(count, flags, Some(password))
    }

    fn start_with(count: usize, flags: &[&str], password: Option<&str>) -> TestCluster {
        static CLUSTERS: AtomicUsize = AtomicUsize::new(0);
        let number = CLUSTERS.fetch_add(1, Ordering::Relaxed);
        let secret = format!(
            "test-secret-{}-{number}-{}",
            std::process::id(),
            super::unix_secs()
        );
        let secret_file = std::env::temp_dir().join(format!(
            "ringcache-test-secret-{}-{number}",
            std::process::id()
        ));
        std::fs::write(&secret_file, format!("{secret}\n")).expect("writing the secret file");
        let mut flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        flags.push("--cluster-secret-file".into());
        flags.push(secret_file.display().to_string());
        if let Some(password) = password {
            flags.push("--requirepass".into());
            flags.push(password.into());
        }
        let mut first = start_node(0, None, &flags);
        let seed = gossip_seed(&mut first);
        let mut cluster = TestCluster {
            nodes: vec![Some(first)],
            seed,
            flags,
            secret,
            secret_file,
            password: password.map(String::from),
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

    /// The cluster's secret.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Node 0's gossip address: the seed of the others.
    pub fn seed(&self) -> &str {
        &self.seed
    }

    /// A client of node `index`, authenticated if the cluster has a
    /// password.
    pub fn client(&self, index: usize) -> redis::Client {
        let addr = self.node(index).addr;
        let url = match &self.password {
            Some(password) => format!("redis://:{password}@{addr}/"),
            None => format!("redis://{addr}/"),
        };
        redis::Client::open(url).expect("client")
    }

    /// A connection to node `index`, authenticated if the cluster has a
    /// password.
    pub fn conn(&self, index: usize) -> redis::Connection {
        self.client(index).get_connection().expect("connection")
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
            node.wait_exit(DEADLINE);
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
        let conns = self
            .live()
            .into_iter()
            .map(|index| self.client(index).get_connection().ok());
        ring_agreed(conns, expected)
    }

    fn describe(&self) -> String {
        let mut text = String::new();
        for index in self.live() {
            let info = self
                .client(index)
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
        let mut conn = self.conn(index);
        let info: String = redis::cmd("INFO")
            .arg("cluster")
            .query(&mut conn)
            .expect("INFO");
        field_u64(&info, name).unwrap_or_else(|| panic!("no {name} in INFO cluster"))
    }

    /// The running nodes that own `key`'s slot, its primary first.
    pub fn owners(&self, key: &str) -> Vec<usize> {
        let mut conn = self.conn(self.live()[0]);
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut conn)
            .expect("CLUSTER KEYSLOT");
        // Replica copies are listed only when announced (they are off by
        // default, so that clients see every node as a primary).
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("cluster-announce-replicas")
            .arg("yes")
            .query(&mut conn)
            .expect("CONFIG SET cluster-announce-replicas");
        let slots: Vec<Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut conn)
            .expect("CLUSTER SLOTS");
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("cluster-announce-replicas")
            .arg("no")
            .query(&mut conn)
            .expect("CONFIG SET cluster-announce-replicas");
        for range in slots {
            let Value::Array(parts) = range else { continue };
            let (Value::Int(start), Value::Int(end)) = (&parts[0], &parts[1]) else {
                continue;
            };
            if (*start..=*end).contains(&slot) {
                return parts[2..]
                    .iter()
                    .map(|node| {
                        let Value::Array(fields) = node else {
                            panic!("node entry {node:?}")
                        };
                        let Value::Int(port) = fields[1] else {
                            panic!("port in {fields:?}")
                        };
                        self.live()
                            .into_iter()
                            .find(|&i| i64::from(self.node(i).addr.port()) == port)
                            .expect("owner is a live node")
                    })
                    .collect();
            }
        }
        panic!("slot {slot} not covered");
    }

    /// Total keys over all running nodes, replica copies included (a
    /// node's DBSIZE counts only its primary slots' keys; INFO cluster
    /// counts both).
    pub fn total_keys(&self) -> u64 {
        self.live()
            .into_iter()
            .map(|i| {
                self.figure(i, "cluster_keys_primary") + self.figure(i, "cluster_keys_replica")
            })
            .sum()
    }

    /// DBSIZE summed over the running nodes: each key once, at its primary.
    pub fn dbsize_sum(&self) -> u64 {
        self.dbsize_each(|_| {}).into_iter().sum()
    }

    /// DBSIZE of every live node, asked on a connection `prepare` was
    /// given first.
    pub fn dbsize_each(&self, prepare: impl Fn(&mut redis::Connection)) -> Vec<u64> {
        self.live()
            .into_iter()
            .map(|i| {
                let mut conn = self.conn(i);
                prepare(&mut conn);
                redis::cmd("DBSIZE")
                    .query::<u64>(&mut conn)
                    .expect("DBSIZE")
            })
            .collect()
    }
}

/// Whether INFO cluster text shows a ring of `expected` nodes with no
/// import or handoff left.
pub fn ring_settled(info: &str, expected: usize) -> bool {
    field_u64(info, "cluster_nodes") == Some(expected as u64)
        && field_u64(info, "cluster_importing_slots") == Some(0)
        && field_u64(info, "cluster_handoff_slots_pending") == Some(0)
}

/// Whether every node behind `conns` (None: one that cannot be reached)
/// sees a ring of `expected` nodes with no import or handoff left, and all
/// agree on the owners of every slot.
pub fn ring_agreed(
    conns: impl IntoIterator<Item = Option<redis::Connection>>,
    expected: usize,
) -> bool {
    let mut slots: Option<Value> = None;
    for conn in conns {
        let Some(mut conn) = conn else {
            return false;
        };
        let Ok(info) = redis::cmd("INFO").arg("cluster").query::<String>(&mut conn) else {
            return false;
        };
        if !ring_settled(&info, expected) {
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

fn start_node(index: usize, seed: Option<&str>, flags: &[String]) -> TestNode {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    start_cluster_node(&format!("node-{index}"), seed, &flags)
}

/// Starts a cluster node named `name` (gossip on a free port), joining
/// through `seed` if given, with `flags` after the cluster ones.
pub fn start_cluster_node(name: &str, seed: Option<&str>, flags: &[&str]) -> TestNode {
    let mut args: Vec<&str> = vec![
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        "0",
        "--node-name",
        name,
    ];
    if let Some(seed) = seed {
        args.push("--cluster-seeds");
        args.push(seed);
    }
    args.extend(flags);
    let started = Instant::now();
    let node = TestNode::start(&args);
    assert!(started.elapsed() < Duration::from_secs(120));
    node
}

/// The gossip address `node` logged when it started gossip: the seed for
/// the nodes that join after it.
pub fn gossip_seed(node: &mut TestNode) -> String {
    let line = node
        .wait_for_log("cluster membership started", DEADLINE)
        .expect("the node starts gossip");
    line.split("gossip=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("gossip address in the log")
        .to_string()
}

/// A port below 50000 with `count` free TCP ports from it and, when
/// `gossip`, free UDP ports 10000 above them, for `--local-cluster`
/// (probed, then released: another process may take one first).
pub fn free_port_run(count: u16, gossip: bool) -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let all_free = port < 50_000
            && (0..count).all(|i| {
                std::net::TcpListener::bind(("127.0.0.1", port + i)).is_ok()
                    && (!gossip
                        || std::net::UdpSocket::bind(("127.0.0.1", port + i + 10_000)).is_ok())
            });
        if all_free {
            return port;
        }
    }
}
