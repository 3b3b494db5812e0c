//! A redis-server process to compare ringcache with: on a free port of
//! 127.0.0.1, without persistence, killed on drop. Without redis-server
//! installed a comparison test skips loudly, and fails when `CI=true`
//! (CI installs it, so a missing binary there is a broken setup).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{eventually, START_DEADLINE};

/// See the module docs.
pub struct RedisServer {
    child: Child,
    /// The port it serves on.
    pub port: u16,
}

impl RedisServer {
    /// Starts redis-server, or returns None (after saying so) when it is
    /// not installed outside CI. `test` names the caller in the message.
    pub fn start_or_skip(test: &str) -> Option<RedisServer> {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: redis-server is not installed, and CI=true requires it"
            );
            eprintln!("SKIPPED {test}: redis-server is not installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning redis-server");
        let server = RedisServer { child, port };
        let ready = eventually(START_DEADLINE, || {
            TcpStream::connect(("127.0.0.1", port)).is_ok_and(|s| {
                use std::io::{Read, Write};
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                let mut reply = [0u8; 7];
                s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut reply).is_ok()
                    && &reply == b"+PONG\r\n"
            })
        });
        assert!(ready, "redis-server on {port} did not start");
        Some(server)
    }

    /// A synchronous redis-rs connection.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .expect("client")
            .get_connection()
            .expect("connection to redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
