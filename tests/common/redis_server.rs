//! A redis-server process to compare the node with: started on a free
//! 127.0.0.1 port with no persistence, ready once it answers PING, killed
//! (SIGKILL) and reaped on drop. Without redis-server installed a
//! comparison test skips loudly, and fails when `CI=true` (CI installs it,
//! so a missing binary there is a broken setup).

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::wire::FrameReader;
use super::START_DEADLINE;

/// A running redis-server.
pub struct RedisServer {
    child: Child,
    /// Its address.
    pub addr: SocketAddr,
    /// `redis_version` from INFO.
    pub version: String,
}

/// True when `redis-server` can be run.
pub fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether a missing redis-server fails the test (`CI=true`) or skips it
/// with a loud message; true when the caller should skip.
pub fn skip_without_redis(test: &str) -> bool {
    if installed() {
        return false;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "{test}: redis-server is not installed, and CI=true requires it (.ci/run installs it)"
    );
    eprintln!("\n*** SKIPPED {test}: redis-server is not installed (install redis-server to run it) ***\n");
    true
}

impl RedisServer {
    /// Starts redis-server on a free port (a few attempts: the port is
    /// probed free, then released, so another process may take it first).
    pub fn start() -> RedisServer {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            match Self::start_on(port) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    /// Starts redis-server, or returns None (after saying so) when it is
    /// not installed outside CI. `test` names the caller in the message.
    pub fn start_or_skip(test: &str) -> Option<RedisServer> {
        if skip_without_redis(test) {
            return None;
        }
        Some(Self::start())
    }

    /// The port it serves on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A synchronous redis-rs connection.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(format!("redis://{}/", self.addr))
            .expect("client")
            .get_connection()
            .expect("connection to redis-server")
    }

    fn start_on(port: u16) -> Result<RedisServer, String> {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning redis-server: {e}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("redis-server exited at start: {status}"));
            }
            if let Some(version) = ping_and_version(addr) {
                return Ok(RedisServer {
                    child,
                    addr,
                    version,
                });
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err("no answer to PING in time".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The version from INFO server, once the server answers.
fn ping_and_version(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        .ok()?;
    let reply = FrameReader::new(stream).next().ok()?;
    let text = String::from_utf8_lossy(reply.bytes()?).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(|v| v.trim().to_string())
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
