//! Test harness: starts real `ringcache-server` processes on 127.0.0.1 with
//! port 0, learns the port from the node's log, and kills them on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod cluster;
pub mod random;
pub mod redis_server;
pub mod rng;
pub mod wire;

use redis::{Connection, Value};

/// How long a node may take to start on a loaded machine.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

/// The server binary, built on first use if `cargo test` did not build it.
pub fn server_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            // target/<profile>/deps/<test binary> -> target/<profile>/
            let exe = std::env::current_exe().expect("test binary path");
            let profile_dir = exe
                .parent()
                .and_then(|d| d.parent())
                .expect("target dir")
                .to_path_buf();
            let profile = profile_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("debug")
                .to_string();
            let binary = profile_dir.join("ringcache-server");
            cargo_build(
                &["-p", "ringcache-server", "--bin", "ringcache-server"],
                profile == "release",
            );
            binary
        })
        .clone()
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
    /// The address it serves RESP on.
    pub addr: SocketAddr,
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
            let line = match logs.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    panic!("node did not report its address in time");
                }
            };
            if let Some(rest) = line.split("ready to accept connections addr=").nth(1) {
                let addr: SocketAddr = strip_ansi(rest).trim().parse().expect("address in the log");
                return TestNode {
                    child,
                    addr,
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

    /// A multiplexed async redis-rs connection.
    pub async fn async_conn(&self) -> redis::aio::MultiplexedConnection {
        self.client()
            .get_multiplexed_async_connection()
            .await
            .expect("async connection")
    }

    /// A raw TCP connection for exact wire tests.
    pub fn raw(&self) -> RawConn {
        let stream = TcpStream::connect(self.addr).expect("raw connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        RawConn::new(stream)
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the process (e.g. libc SIGTERM = 15).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit, up to `deadline`; returns its exit code.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<i32> {
        let until = Instant::now() + deadline;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
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

/// A plain TCP connection speaking raw bytes.
pub struct RawConn {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read past the last reply returned.
    unread: Vec<u8>,
}

impl RawConn {
    /// Wraps a connected socket.
    pub fn new(stream: TcpStream) -> RawConn {
        RawConn {
            stream,
            unread: Vec::new(),
        }
    }

    /// Sends bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads one complete RESP reply (keeping what follows it for the
    /// next call).
    pub fn read_reply(&mut self) -> ringcache_client::resp::Value {
        let mut buf = std::mem::take(&mut self.unread);
        let mut chunk = [0u8; 65536];
        loop {
            if let Some((value, used)) = ringcache_client::resp::decode(&buf).expect("valid reply")
            {
                self.unread = buf.split_off(used);
                return value;
            }
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(
                n > 0,
                "connection closed before a full reply; got {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends `bytes` and returns everything the node writes until it
    /// closes the connection (or the read timeout passes).
    pub fn send_and_read_to_close(&mut self, bytes: &[u8]) -> Vec<u8> {
        let _ = self.stream.write_all(bytes);
        let mut out = Vec::new();
        let _ = self.stream.read_to_end(&mut out);
        out
    }
}

/// Polls `check` until it returns true or `deadline` passes.
pub fn eventually(deadline: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + deadline;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A field of INFO as text.
pub fn info_field(conn: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg("everything")
        .query(conn)
        .expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO has no {field}"))
        .trim()
        .to_string()
}

// Command helpers shared by the conformance tests.

/// A command from its words.
pub fn cmd(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

/// Runs a command that must succeed.
pub fn q<T: redis::FromRedisValue>(conn: &mut Connection, args: &[&str]) -> T {
    cmd(args)
        .query(conn)
        .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

/// The raw reply value of a command that must not fail.
pub fn v(conn: &mut Connection, args: &[&str]) -> Value {
    q(conn, args)
}

/// Runs a command that must fail and returns the whole error line as the
/// server sent it (code and message).
pub fn err(conn: &mut Connection, args: &[&str]) -> String {
    let e = match cmd(args).query::<Value>(conn) {
        Ok(Value::ServerError(e)) => {
            return format!("{} {}", e.code(), e.details().unwrap_or(""))
                .trim_end()
                .to_string()
        }
        Ok(other) => panic!("{args:?} should fail, got {other:?}"),
        Err(e) => e,
    };
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => panic!("{args:?}: not a server error: {e}"),
    }
}

pub fn bulk(text: &str) -> Value {
    Value::BulkString(text.as_bytes().to_vec())
}

pub fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Asserts that `key`'s TTL in seconds lies in `range` (long TTLs only, so
/// a slow machine cannot make it flaky).
pub fn assert_ttl(conn: &mut Connection, key: &str, range: std::ops::RangeInclusive<i64>) {
    let ttl: i64 = q(conn, &["TTL", key]);
    assert!(
        range.contains(&ttl),
        "TTL {key} = {ttl}, expected {range:?}"
    );
}
