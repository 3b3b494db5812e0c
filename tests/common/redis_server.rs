//! The one launcher of redis-server, the reference the node is compared
//! with: started on a free 127.0.0.1 port (or a given one, to restart it)
//! with no persistence, ready once it answers INFO, killed (SIGKILL) and
//! reaped on drop. Without redis-server (or redis-cli) installed a test
//! that needs it skips loudly, and fails when `CI=true` (CI installs them,
//! so a missing binary there is a broken setup).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::wire::{command, show_argv, RawConn};
use super::START_DEADLINE;

/// A running redis-server.
pub struct RedisServer {
    child: Child,
    /// Its address.
    pub addr: SocketAddr,
    /// `redis_version` from INFO.
    pub version: String,
}

/// True when `program --version` runs.
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether a missing program among `programs` fails the test (`CI=true`)
/// or skips it with a loud message; true when the caller should skip.
pub fn skip_without(test: &str, programs: &[&str]) -> bool {
    let Some(missing) = programs.iter().find(|p| !installed(p)) else {
        return false;
    };
    super::skip_loudly(test, &format!("{missing} is not installed"));
    true
}

/// [`skip_without`] for redis-server alone.
pub fn skip_without_redis(test: &str) -> bool {
    skip_without(test, &["redis-server"])
}

/// Runs redis-cli with `args` against 127.0.0.1:`port`, bounded in time,
/// and returns its standard output (its error output appended, where
/// `--cluster` writes some of its lines). Panics if it fails or hangs.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running redis-cli");
    // Read while it runs: a large output would fill the pipe and stall it.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child process") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("redis-cli {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().expect("the reader thread");
    let mut err = Vec::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = std::io::Read::read_to_end(&mut stderr, &mut err);
    }
    let text = String::from_utf8_lossy(&out).into_owned() + &String::from_utf8_lossy(&err);
    assert!(status.success(), "redis-cli {args:?}: {status:?}\n{text}");
    text
}

/// A free port on 127.0.0.1 (probed, then released: another process may
/// take it first, so a start on it may need another try).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl RedisServer {
    /// Starts redis-server on a free port.
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// Starts redis-server on a free port with `extra` flags (a few
    /// attempts: the port is probed free, then released).
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let mut last_error = String::new();
        for _ in 0..5 {
            match RedisServer::start_on(free_port(), extra) {
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
        Some(RedisServer::start())
    }

    /// Starts redis-server on `port` with `extra` flags.
    ///
    /// # Errors
    /// It could not be spawned, exited at start, or did not answer in time.
    pub fn start_on(port: u16, extra: &[&str]) -> Result<RedisServer, String> {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(extra)
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
                return Err("no answer to INFO in time".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

    /// Kills it now (SIGKILL) and reaps it.
    pub fn kill(self) {
        drop(self);
    }
}

/// Sends each request to redis-server and to the node over raw
/// connections (RESP3 after `HELLO 3` in `requests`, as each connection
/// follows it) and returns a description of every reply that differs in
/// type or bytes; empty when all agree.
pub fn differing_replies(
    redis: &mut RawConn,
    node: &mut RawConn,
    requests: &[Vec<Vec<u8>>],
) -> Vec<String> {
    let mut differences = Vec::new();
    for argv in requests {
        let (theirs, ours) = (redis.call(argv), node.call(argv));
        if theirs != ours {
            differences.push(format!(
                "{}\n  redis-server: {}\n  node:         {}",
                show_argv(argv),
                theirs.show(),
                ours.show()
            ));
        }
    }
    differences
}

/// Request words as argument vectors (for tables of requests).
pub fn argvs(requests: &[&[&str]]) -> Vec<Vec<Vec<u8>>> {
    requests
        .iter()
        .map(|words| words.iter().map(|w| w.as_bytes().to_vec()).collect())
        .collect()
}

/// The version from INFO server, once the server answers.
fn ping_and_version(addr: SocketAddr) -> Option<String> {
    let stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut conn = RawConn::new(stream);
    std::io::Write::write_all(&mut conn.stream, &command(&["INFO", "server"])).ok()?;
    let reply = conn.next().ok()?;
    let text = String::from_utf8_lossy(reply.bytes()?).into_owned();
    super::info::field(&text, "redis_version")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `session` to `ours` and to `theirs` (a redis-server), command by
/// command, and asserts the replies are byte for byte the same.
pub fn assert_same_replies(ours: &mut RawConn, theirs: &mut RawConn, session: &[&[&str]]) {
    for command in session {
        let expected = theirs.roundtrip(command);
        let got = ours.roundtrip(command);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{command:?}"
        );
    }
}

impl RedisServer {
    /// A raw connection to it.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(([127, 0, 0, 1], self.port()).into())
    }
}
