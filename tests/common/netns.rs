//! Real network isolation for tests: each node in a network namespace of
//! its own, on a bridge in the root namespace (which the test's clients
//! use, so they reach every node whatever is cut). Built with iproute2
//! only (`ip netns`, veth pairs, a bridge).
//!
//! A cut from node a to node b is a permanent neighbour entry, in a's
//! namespace, giving b's address a MAC nobody has: a's packets to b are
//! silently lost on the bridge (no error reaches a's sockets, as in a real
//! partition), b's packets to a still arrive, and the test's client still
//! reaches both. Healing deletes the entry.
//!
//! Everything is undone on drop, panics included: node processes get
//! SIGKILL, then namespaces, veths and the bridge are deleted.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A MAC address no interface has: frames sent to it go nowhere.
const NOWHERE: &str = "02:00:00:00:de:ad";

/// Namespaces on a bridge, and the node processes started in them.
pub struct Lab {
    tag: String,
    subnet: u8,
    count: usize,
    children: Vec<Child>,
    /// Files to remove on drop (kept, and named, when the test failed).
    pub scratch: Vec<PathBuf>,
}

/// Why a lab could not be built.
#[derive(Debug)]
pub struct Unavailable(pub String);

fn ip(args: &[&str]) -> Result<Output, String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Lab {
    /// Builds `count` namespaces on a fresh bridge and subnet.
    ///
    /// # Errors
    /// Not root, no `ip`, or no namespace support.
    pub fn create(count: usize) -> Result<Lab, Unavailable> {
        static LABS: AtomicUsize = AtomicUsize::new(0);
        let number = LABS.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        // Interface names are at most 15 bytes: "rcv" + 8 + 1 digit.
        let tag = format!("{:06x}{number:02x}", pid & 0xff_ffff);
        // Another lab (another test process) may hold a subnet: try a few.
        let mut last_error = String::new();
        for attempt in 0..8u32 {
            let subnet =
                ((pid as usize * 7 + number * 13 + attempt as usize * 31) % 240 + 10) as u8;
            let mut lab = Lab {
                tag: tag.clone(),
                subnet,
                count,
                children: Vec::new(),
                scratch: Vec::new(),
            };
            match lab.build() {
                Ok(()) => return Ok(lab),
                Err(e) => {
                    last_error = e;
                    drop(lab);
                }
            }
        }
        Err(Unavailable(last_error))
    }

    fn build(&mut self) -> Result<(), String> {
        let bridge = self.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        ip(&["link", "set", &bridge, "up"])?;
        let client = format!("{}/24", self.client_ip());
        ip(&["addr", "add", &client, "dev", &bridge])?;
        for i in 0..self.count {
            let (ns, host, inner) = (self.ns(i), self.host_veth(i), format!("rcp{}{i}", self.tag));
            ip(&["netns", "add", &ns])?;
            ip(&["link", "add", &host, "type", "veth", "peer", "name", &inner])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &host, "master", &bridge])?;
            ip(&["link", "set", &host, "up"])?;
            ip(&["-n", &ns, "link", "set", &inner, "name", "eth0"])?;
            let addr = format!("{}/24", self.addr(i));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            // Gossip's codec and local clients use loopback.
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    fn bridge(&self) -> String {
        format!("rcb{}", self.tag)
    }

    fn host_veth(&self, i: usize) -> String {
        format!("rcv{}{i}", self.tag)
    }

    /// Namespace of node `i`.
    pub fn ns(&self, i: usize) -> String {
        format!("rc-{}-{i}", self.tag)
    }

    /// Address of node `i` (in its namespace).
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, i as u8 + 1)
    }

    /// The root namespace's address on the bridge, where clients come from.
    pub fn client_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, 254)
    }

    /// A command running `program` in node `i`'s namespace.
    pub fn command(&self, i: usize, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.ns(i), program]);
        command
    }

    /// Starts a process (in a namespace: see [`Lab::command`]) and keeps
    /// it, to be killed on drop.
    pub fn spawn(&mut self, mut command: Command) {
        let child = command.spawn().expect("spawning in a namespace");
        self.children.push(child);
    }

    /// Packets from node `from` to node `to` are lost from now on.
    pub fn cut(&self, from: usize, to: usize) {
        let to = self.addr(to).to_string();
        ip(&[
            "-n",
            &self.ns(from),
            "neigh",
            "replace",
            &to,
            "lladdr",
            NOWHERE,
            "dev",
            "eth0",
            "nud",
            "permanent",
        ])
        .expect("cutting a link");
    }

    /// Packets from node `from` to node `to` flow again.
    pub fn heal(&self, from: usize, to: usize) {
        let to = self.addr(to).to_string();
        ip(&["-n", &self.ns(from), "neigh", "del", &to, "dev", "eth0"]).expect("healing a link");
    }

    /// Cuts node `i` off from every other node, both ways.
    pub fn isolate(&self, i: usize) {
        for other in (0..self.count).filter(|&o| o != i) {
            self.cut(i, other);
            self.cut(other, i);
        }
    }

    /// Undoes [`Lab::isolate`].
    pub fn rejoin(&self, i: usize) {
        for other in (0..self.count).filter(|&o| o != i) {
            self.heal(i, other);
            self.heal(other, i);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for i in 0..self.count {
            let _ = ip(&["netns", "del", &self.ns(i)]);
            let _ = ip(&["link", "del", &self.host_veth(i)]);
        }
        let _ = ip(&["link", "del", &self.bridge()]);
        if std::thread::panicking() {
            for path in &self.scratch {
                eprintln!("kept for the failed test: {}", path.display());
            }
            return;
        }
        for path in &self.scratch {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A lab, or the reason there is none: under `CI=true` a missing lab fails
/// the test; elsewhere it is skipped loudly.
pub fn lab_or_skip(count: usize, test: &str) -> Option<Lab> {
    match Lab::create(count) {
        Ok(lab) => Some(lab),
        Err(Unavailable(why)) => {
            super::skip_loudly(
                test,
                &format!(
                    "cannot create network namespaces ({why}); run as root with iproute2 installed"
                ),
            );
            None
        }
    }
}
