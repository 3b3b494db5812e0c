//! The example web application end to end: two stateless instances share
//! sessions through a real 3-node cluster and products through SQLite plus
//! the cache helpers; stopping one instance, the other keeps serving the
//! same user.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::DEADLINE;

/// The example binary, built on first use (as the server binary is).
fn webapp_binary() -> PathBuf {
    let profile_dir = common::process::profile_dir();
    let release = profile_dir.file_name().and_then(|n| n.to_str()) == Some("release");
    common::process::cargo_build(&["-p", "ringcache-client", "--example", "webapp"], release);
    profile_dir.join("examples").join("webapp")
}

struct App {
    child: Child,
    addr: SocketAddr,
}

impl App {
    fn start(binary: &PathBuf, cache: &str, db: &str, extra: &[&str]) -> App {
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--cache", cache, "--db", db])
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn webapp");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("webapp listening addr=").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(addr) => addr.parse().expect("address"),
            Err(_) => {
                let _ = child.kill();
                panic!("webapp did not start");
            }
        };
        App { child, addr }
    }

    /// One HTTP/1.1 request; (status, body).
    fn request(&self, method: &str, path: &str, session: Option<&str>) -> (u16, serde_json::Value) {
        let mut stream = TcpStream::connect(self.addr).expect("connect succeeds");
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("a read timeout");
        let cookie = session
            .map(|s| format!("Cookie: session={s}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: app\r\n{cookie}Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let status: u16 = response[9..12].parse().expect("status");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
        (
            status,
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_stateless_instances_share_sessions_and_survive_one_stopping() {
    let cluster = TestCluster::start(3, &["--failure-timeout", "3s"]);
    let binary = webapp_binary();
    let db = std::env::temp_dir().join(format!("ringcache-webapp-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let db = db.to_str().unwrap().to_string();
    let first = App::start(&binary, &cluster.node(0).addr.to_string(), &db, &[]);
    let second = App::start(&binary, &cluster.node(1).addr.to_string(), &db, &[]);

    // Log in on the first instance; the second knows the user.
    let (status, login) = first.request("POST", "/login?user=alice", None);
    assert_eq!(status, 200, "{login}");
    let session = login["session"].as_str().unwrap().to_string();
    let (status, me) = second.request("GET", "/me", Some(&session));
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"], "alice");
    assert_eq!(me["instance"], second.addr.to_string());
    let (status, _) = first.request("POST", "/cart/2", Some(&session));
    assert_eq!(status, 200);
    let (status, _) = second.request("GET", "/me", Some("no-such-session"));
    assert_eq!(status, 401);

    // Products: read cache-aside (a miss loads from SQLite), written
    // write-through (SQLite first, then the cache), visible on both.
    let (status, product) = second.request("GET", "/products/1", None);
    assert_eq!(status, 200, "{product}");
    assert_eq!(product["product"]["name"], "teapot");
    let (status, _) = first.request("GET", "/products/999", None);
    assert_eq!(status, 404);
    let (status, _) = first.request("PUT", "/products/1?name=tea%20pot&price_cents=2700", None);
    assert_eq!(status, 200);
    let (_, product) = second.request("GET", "/products/1", None);
    assert_eq!(product["product"]["name"], "tea pot");
    assert_eq!(product["product"]["price_cents"], 2700);

    // The first instance goes away; the user carries on at the second.
    drop(first);
    let started = Instant::now();
    let (status, me) = second.request("GET", "/me", Some(&session));
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"], "alice");
    assert_eq!(me["cart"]["2"], 1);
    let (status, cart) = second.request("POST", "/cart/2", Some(&session));
    assert_eq!(status, 200);
    assert_eq!(cart["count"], 2);
    assert!(started.elapsed() < Duration::from_secs(10));
    let _ = std::fs::remove_file(&db);
}

#[test]
fn an_instance_with_a_near_cache_sees_another_instances_product_writes() {
    let cluster = TestCluster::start(3, &["--failure-timeout", "3s"]);
    let binary = webapp_binary();
    let db = std::env::temp_dir().join(format!("ringcache-webapp-near-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let db = db.to_str().unwrap().to_string();
    let near = App::start(
        &binary,
        &cluster.node(0).addr.to_string(),
        &db,
        &["--near-cache", "on"],
    );
    let plain = App::start(&binary, &cluster.node(1).addr.to_string(), &db, &[]);
    // Loaded, then held in the near instance's memory.
    for _ in 0..3 {
        let (status, product) = near.request("GET", "/products/2", None);
        assert_eq!(status, 200, "{product}");
        assert_eq!(product["product"]["name"], "kettle");
    }
    // A write through the other instance reaches the near cache through
    // the cluster's invalidation.
    let (status, _) = plain.request(
        "PUT",
        "/products/2?name=big%20kettle&price_cents=4500",
        None,
    );
    assert_eq!(status, 200);
    assert!(
        common::eventually(DEADLINE, || {
            let (_, product) = near.request("GET", "/products/2", None);
            product["product"]["name"] == "big kettle"
        }),
        "the near instance kept the old product"
    );
    let _ = std::fs::remove_file(&db);
}
