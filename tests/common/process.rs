//! Node processes, for the tests where the process matters: the command
//! line and the config file, signals, exit codes, SIGKILL, the metrics
//! endpoint (one recorder per process), clusters. A [`TestNode`] runs the
//! `ringcache-server` binary on 127.0.0.1 with port 0, learns its port from
//! its log, and is killed and reaped on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use super::wire::RawConn;
use super::{eventually, DEADLINE, START_DEADLINE};

/// The server binary, built on first use if `cargo test` did not build it.
pub fn server_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let profile_dir = profile_dir();
            let release = profile_dir.file_name().and_then(|n| n.to_str()) == Some("release");
            cargo_build(
                &["-p", "ringcache-server", "--bin", "ringcache-server"],
                release,
            );
            profile_dir.join("ringcache-server")
        })
        .clone()
}

/// `target/<profile>/` of this test run.
pub fn profile_dir() -> PathBuf {
    // target/<profile>/deps/<test binary> -> target/<profile>/
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// Runs a nested `cargo build -q ARGS` (with `--release` for a release test
/// run) and fails the test if it fails.
pub fn cargo_build(args: &[&str], release: bool) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-q"]).args(args);
    if release {
        build.arg("--release");
    }
    // The outer `cargo test` hands its jobserver to tests; a nested
    // build waiting on it for tokens the test run holds would hang.
    for var in ["CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"] {
        build.env_remove(var);
    }
    let status = build.status().expect("running cargo build");
    assert!(status.success(), "cargo build {args:?} failed");
}

/// A node process.
pub struct TestNode {
    child: Child,
    /// The address it serves RESP on (its TLS port for a TLS node).
    pub addr: SocketAddr,
    /// Its TLS address: given `--tls-port`, the node serves TLS only (its
    /// `--port` is 0, as Redis's).
    pub tls_addr: Option<SocketAddr>,
    logs: mpsc::Receiver<String>,
    /// Lines read while waiting for the node to start.
    early_logs: Vec<String>,
}

impl TestNode {
    /// Starts a node with extra flags (the port is always 0).
    // The child is killed and reaped by Drop, or killed before the panic
    // when it never reports its address.
    #[allow(clippy::zombie_processes)]
    pub fn start(extra: &[&str]) -> TestNode {
        let mut child = Command::new(server_binary())
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning ringcache-server");
        let (tx, logs) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let deadline = Instant::now() + START_DEADLINE;
        let mut early_logs = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = logs.recv_timeout(left) else {
                let _ = child.kill();
                panic!("node did not report its address in time: {early_logs:?}");
            };
            let plain = line.split("ready to accept connections addr=").nth(1);
            let tls = line.split("ready to accept TLS connections addr=").nth(1);
            if let Some(rest) = plain.or(tls) {
                let addr: SocketAddr = strip_ansi(rest).trim().parse().expect("address in the log");
                return TestNode {
                    child,
                    addr,
                    tls_addr: tls.map(|_| addr),
                    logs,
                    early_logs,
                };
            }
            early_logs.push(line);
        }
    }

    /// A redis-rs client for this node.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://{}/", self.addr)).expect("client")
    }

    /// A synchronous redis-rs connection.
    pub fn conn(&self) -> redis::Connection {
        self.client().get_connection().expect("connection")
    }

    /// A raw connection for exact wire tests.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.addr)
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the process by name (`TERM`, `INT`, `KILL`).
    /// TERM and INT wait until the node catches them: it installs its
    /// handlers on a thread of their own, which may run after it reported
    /// its address, and a signal before that would kill it outright.
    pub fn signal(&self, signal: &str) {
        if let Some(number) = match signal {
            "TERM" => Some(15),
            "INT" => Some(2),
            _ => None,
        } {
            assert!(
                eventually(DEADLINE, || self.catches(number)),
                "the node never caught SIG{signal}"
            );
        }
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// True when the process has a handler for signal `number` (its
    /// SigCgt mask in /proc).
    fn catches(&self, number: u32) -> bool {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (number - 1)) != 0)
    }

    /// Waits for the process to exit, up to `deadline`; returns its exit code.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<i32> {
        let mut code = None;
        eventually(deadline, || match self.child.try_wait() {
            Ok(Some(status)) => {
                code = status.code();
                true
            }
            _ => false,
        });
        code
    }

    /// Log lines received so far.
    pub fn drain_logs(&self) -> Vec<String> {
        self.logs.try_iter().collect()
    }

    /// The first log line containing `needle`, waiting up to `deadline`.
    pub fn wait_for_log(&mut self, needle: &str, deadline: Duration) -> Option<String> {
        if let Some(line) = self.early_logs.iter().find(|l| l.contains(needle)) {
            return Some(line.clone());
        }
        let until = Instant::now() + deadline;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let line = self.logs.recv_timeout(left).ok()?;
            let found = line.contains(needle);
            self.early_logs.push(line);
            if found {
                return self.early_logs.last().cloned();
            }
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs the node binary with exactly `args` (no port or bind added) until
/// it exits, for start-up refusals; returns its exit code (None when it
/// was still running after [`DEADLINE`] and had to be killed) and stderr.
pub fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(server_binary())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning ringcache-server");
    let mut status = None;
    eventually(DEADLINE, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (status.and_then(|s| s.code()), stderr)
}

/// A file in the temporary directory, removed when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    /// Writes `text` to a file named after this process and `name`.
    pub fn new(name: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("ringcache-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("writing a temporary file");
        TempFile(path)
    }

    /// Its path as text (for a flag).
    pub fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
