//! End-to-end tests of the server commands (INFO, CONFIG, TIME, MEMORY,
//! OBJECT, SLOWLOG, DEBUG, SHUTDOWN), graceful exit on SIGTERM, and the
//! config file with flags overriding it.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{eventually, info_field, server_binary, TestNode};

/// Generous bound for anything that should happen soon on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// The text of an error from redis-rs (code and message, as sent).
fn error_text<T: std::fmt::Debug>(result: redis::RedisResult<T>) -> String {
    let e = result.expect_err("an error reply");
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

/// CONFIG GET as (name, value) pairs.
fn config_get(conn: &mut redis::Connection, pattern: &str) -> Vec<(String, String)> {
    let flat: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(pattern)
        .query(conn)
        .unwrap();
    flat.chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

/// The single value of one CONFIG parameter.
fn config_value(conn: &mut redis::Connection, name: &str) -> String {
    let pairs = config_get(conn, name);
    assert_eq!(pairs.len(), 1, "CONFIG GET {name}: {pairs:?}");
    pairs[0].1.clone()
}

fn config_set(conn: &mut redis::Connection, name: &str, value: &str) {
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(conn)
        .unwrap();
}

fn info_u64(conn: &mut redis::Connection, field: &str) -> u64 {
    info_field(conn, field)
        .parse()
        .unwrap_or_else(|_| panic!("{field} is a number"))
}

#[test]
fn info_has_the_redis_sections_and_fields() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let info: String = redis::cmd("INFO").query(&mut conn).unwrap();
    for section in ["# Server", "# Clients", "# Memory", "# Stats", "# Keyspace"] {
        assert!(info.contains(section), "{section} in INFO");
    }
    for field in [
        "redis_version",
        "tcp_port",
        "uptime_in_seconds",
        "used_memory",
        "maxmemory",
        "maxmemory_policy",
        "evicted_keys",
        "expired_keys",
        "keyspace_hits",
        "keyspace_misses",
        "connected_clients",
        "total_commands_processed",
        "instantaneous_ops_per_sec",
    ] {
        assert!(
            info.lines().any(|l| l.starts_with(&format!("{field}:"))),
            "{field} in INFO"
        );
    }
    assert!(info
        .lines()
        .all(|l| l.is_empty() || l.starts_with('#') || l.contains(':')));
    assert_eq!(
        info_field(&mut conn, "tcp_port"),
        node.addr.port().to_string()
    );
    assert_eq!(info_field(&mut conn, "maxmemory"), "0");
    assert_eq!(info_field(&mut conn, "maxmemory_policy"), "allkeys-lru");
    assert!(info_u64(&mut conn, "used_memory") > 0);
    assert!(info_u64(&mut conn, "connected_clients") >= 1);
    info_u64(&mut conn, "instantaneous_ops_per_sec");
    info_u64(&mut conn, "evicted_keys");
    info_u64(&mut conn, "expired_keys");

    // One section only.
    let memory: String = redis::cmd("INFO").arg("memory").query(&mut conn).unwrap();
    assert!(memory.starts_with("# Memory"));
    assert!(!memory.contains("# Stats") && !memory.contains("# Server"));
    let two: String = redis::cmd("INFO")
        .arg("server")
        .arg("CLIENTS")
        .query(&mut conn)
        .unwrap();
    assert!(two.contains("# Server") && two.contains("# Clients") && !two.contains("# Memory"));

    // The keyspace line appears with the first key.
    let keyspace: String = redis::cmd("INFO").arg("keyspace").query(&mut conn).unwrap();
    assert!(!keyspace.contains("db0:"), "{keyspace}");
    let () = redis::cmd("SET")
        .arg("a")
        .arg("1")
        .query(&mut conn)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("b")
        .arg("2")
        .arg("EX")
        .arg("1000")
        .query(&mut conn)
        .unwrap();
    let keyspace: String = redis::cmd("INFO").arg("keyspace").query(&mut conn).unwrap();
    let db0 = keyspace
        .lines()
        .find(|l| l.starts_with("db0:"))
        .expect("db0 line");
    assert!(db0.starts_with("db0:keys=2,expires=1,avg_ttl="), "{db0}");
}

#[test]
fn info_counts_hits_misses_and_commands() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    let (hits, misses) = (
        info_u64(&mut conn, "keyspace_hits"),
        info_u64(&mut conn, "keyspace_misses"),
    );
    let commands = info_u64(&mut conn, "total_commands_processed");
    // INFO does not count itself, as in Redis.
    assert_eq!(
        info_u64(&mut conn, "total_commands_processed"),
        commands + 1
    );
    let commands = commands + 1;
    for _ in 0..3 {
        let _: Option<String> = redis::cmd("GET").arg("k").query(&mut conn).unwrap();
    }
    for _ in 0..2 {
        let _: Option<String> = redis::cmd("GET").arg("missing").query(&mut conn).unwrap();
    }
    assert_eq!(info_u64(&mut conn, "keyspace_hits"), hits + 3);
    assert_eq!(info_u64(&mut conn, "keyspace_misses"), misses + 2);
    // The five GETs, the two INFOs after them and this INFO.
    assert_eq!(
        info_u64(&mut conn, "total_commands_processed"),
        commands + 8
    );

    let mut other = node.conn();
    let _: String = redis::cmd("PING").query(&mut other).unwrap();
    assert!(info_u64(&mut conn, "connected_clients") >= 2);
    drop(other);
    assert!(eventually(DEADLINE, || info_u64(
        &mut conn,
        "connected_clients"
    ) == 1));

    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();
    assert_eq!(info_u64(&mut conn, "keyspace_hits"), 0);
    assert_eq!(info_u64(&mut conn, "keyspace_misses"), 0);
    // As Redis: RESETSTAT and the two INFOs since count, this INFO not yet.
    assert_eq!(info_u64(&mut conn, "total_commands_processed"), 3);
}

#[test]
fn config_get_with_globs() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let names: Vec<String> = config_get(&mut conn, "maxmemory*")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for name in ["maxmemory", "maxmemory-policy", "maxmemory-samples"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    assert!(names.iter().all(|n| n.starts_with("maxmemory")));
    assert_eq!(
        config_value(&mut conn, "port"),
        node.addr.port().to_string()
    );
    assert_eq!(
        config_value(&mut conn, "MAXMEMORY-POLICY"),
        "allkeys-lru",
        "names ignore case"
    );
    assert_eq!(config_value(&mut conn, "save"), "");
    assert!(config_get(&mut conn, "nosuch*").is_empty());
    let all = config_get(&mut conn, "*");
    for name in [
        "bind",
        "timeout",
        "maxclients",
        "slowlog-log-slower-than",
        "slowlog-max-len",
        "proto-max-bulk-len",
    ] {
        assert!(all.iter().any(|(n, _)| n == name), "{name} in CONFIG GET *");
    }
    let several: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .arg("timeout")
        .query(&mut conn)
        .unwrap();
    assert_eq!(several.len(), 4);
}

#[test]
fn config_set_changes_the_running_node() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    config_set(&mut conn, "maxmemory", "100mb");
    assert_eq!(config_value(&mut conn, "maxmemory"), "104857600");
    assert_eq!(info_field(&mut conn, "maxmemory"), "104857600");
    config_set(&mut conn, "maxmemory-policy", "allkeys-lfu");
    assert_eq!(config_value(&mut conn, "maxmemory-policy"), "allkeys-lfu");
    assert_eq!(info_field(&mut conn, "maxmemory_policy"), "allkeys-lfu");
    assert!(error_text(
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg("bogus")
            .query::<()>(&mut conn)
    )
    .starts_with("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "));
    assert_eq!(
        error_text(
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("port")
                .arg("7000")
                .query::<()>(&mut conn)
        ),
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
    );
    assert_eq!(
        error_text(
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("nosuch")
                .arg("1")
                .query::<()>(&mut conn)
        ),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    assert!(error_text(
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .query::<()>(&mut conn)
    )
    .starts_with("ERR unknown subcommand or wrong number of arguments for 'SET'"));
    assert_eq!(
        config_value(&mut conn, "port"),
        node.addr.port().to_string()
    );

    // Several pairs at once: all applied, or none (as Redis 7).
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-samples")
        .arg("7")
        .arg("timeout")
        .arg("300")
        .query(&mut conn)
        .unwrap();
    assert_eq!(config_value(&mut conn, "maxmemory-samples"), "7");
    assert_eq!(config_value(&mut conn, "timeout"), "300");
    let refused = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-samples")
        .arg("9")
        .arg("port")
        .arg("7000")
        .query::<()>(&mut conn);
    assert!(error_text(refused).contains("'port'"));
    assert_eq!(
        config_value(&mut conn, "maxmemory-samples"),
        "7",
        "nothing applied from a refused CONFIG SET"
    );
    let duplicate = redis::cmd("CONFIG")
        .arg("SET")
        .arg("timeout")
        .arg("1")
        .arg("timeout")
        .arg("2")
        .query::<()>(&mut conn);
    assert_eq!(
        error_text(duplicate),
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter"
    );
    assert_eq!(config_value(&mut conn, "timeout"), "300");
    let pong: String = redis::cmd("PING").query(&mut conn).unwrap();
    assert_eq!(pong, "PONG", "errors keep the connection");
}

#[test]
fn time_is_seconds_and_microseconds() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let time: Vec<String> = redis::cmd("TIME").query(&mut conn).unwrap();
    assert_eq!(time.len(), 2);
    let secs: u64 = time[0].parse().unwrap();
    let micros: u64 = time[1].parse().unwrap();
    assert!(micros < 1_000_000);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        secs.abs_diff(now) < 3600,
        "node time {secs}, test time {now}"
    );
}

#[test]
fn memory_usage_grows_with_the_value() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let () = redis::cmd("SET")
        .arg("small")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("big")
        .arg("x".repeat(10_000))
        .query(&mut conn)
        .unwrap();
    let small: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("small")
        .query(&mut conn)
        .unwrap();
    let big: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("big")
        .query(&mut conn)
        .unwrap();
    assert!(small > 0);
    assert!(big >= 10_000 && big > small, "small {small}, big {big}");
    let missing: Option<i64> = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("missing")
        .query(&mut conn)
        .unwrap();
    assert_eq!(missing, None);
    let sampled: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("big")
        .arg("SAMPLES")
        .arg("5")
        .query(&mut conn)
        .unwrap();
    assert_eq!(sampled, big);
    assert_eq!(
        error_text(
            redis::cmd("MEMORY")
                .arg("USAGE")
                .arg("big")
                .arg("SAMPLES")
                .arg("x")
                .query::<i64>(&mut conn)
        ),
        "ERR value is not an integer or out of range"
    );
    let () = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("x".repeat(1000))
        .query(&mut conn)
        .unwrap();
    let hash: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("h")
        .query(&mut conn)
        .unwrap();
    assert!(hash >= 1000);
}

#[test]
fn object_encoding_and_idletime_under_lru() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let () = redis::cmd("SET")
        .arg("int")
        .arg("12345")
        .query(&mut conn)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("short")
        .arg("hello")
        .query(&mut conn)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("long")
        .arg("x".repeat(100))
        .query(&mut conn)
        .unwrap();
    let () = redis::cmd("HSET")
        .arg("hash")
        .arg("f")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    for (key, encoding) in [
        ("int", "int"),
        ("short", "embstr"),
        ("long", "raw"),
        ("hash", "listpack"),
    ] {
        let got: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(key)
            .query(&mut conn)
            .unwrap();
        assert_eq!(got, encoding, "OBJECT ENCODING {key}");
    }
    let missing: Option<String> = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("missing")
        .query(&mut conn)
        .unwrap();
    assert_eq!(missing, None);
    let idle: i64 = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("short")
        .query(&mut conn)
        .unwrap();
    assert!(
        (0..3600).contains(&idle),
        "idle {idle} s for a key just written"
    );
    assert_eq!(
        error_text(redis::cmd("OBJECT").arg("FREQ").arg("short").query::<i64>(&mut conn)),
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    );
    assert!(error_text(
        redis::cmd("OBJECT")
            .arg("NOPE")
            .arg("short")
            .query::<i64>(&mut conn)
    )
    .starts_with("ERR unknown subcommand or wrong number of arguments for 'NOPE'"));
}

#[test]
fn object_freq_under_lfu() {
    let node = TestNode::start(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut conn = node.conn();
    let () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    let first: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("k")
        .query(&mut conn)
        .unwrap();
    assert!((0..=255).contains(&first));
    for _ in 0..100 {
        let _: String = redis::cmd("GET").arg("k").query(&mut conn).unwrap();
    }
    let later: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("k")
        .query(&mut conn)
        .unwrap();
    assert!(
        later >= first && later <= 255,
        "freq {first} then {later} after 100 reads"
    );
    assert_eq!(
        error_text(redis::cmd("OBJECT").arg("IDLETIME").arg("k").query::<i64>(&mut conn)),
        "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    );
}

/// One SLOWLOG GET entry.
#[derive(Debug)]
struct SlowEntry {
    id: i64,
    args: Vec<String>,
    peer: String,
    name: String,
}

fn slowlog_get(conn: &mut redis::Connection, count: i64) -> Vec<SlowEntry> {
    let entries: Vec<redis::Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(count)
        .query(conn)
        .unwrap();
    entries
        .into_iter()
        .map(|entry| {
            let redis::Value::Array(fields) = entry else {
                panic!("entry {entry:?}")
            };
            assert_eq!(fields.len(), 6, "{fields:?}");
            let id: i64 = redis::from_redis_value(fields[0].clone()).unwrap();
            let timestamp: i64 = redis::from_redis_value(fields[1].clone()).unwrap();
            let micros: i64 = redis::from_redis_value(fields[2].clone()).unwrap();
            assert!(timestamp > 0 && micros >= 0);
            SlowEntry {
                id,
                args: redis::from_redis_value(fields[3].clone()).unwrap(),
                peer: redis::from_redis_value(fields[4].clone()).unwrap(),
                name: redis::from_redis_value(fields[5].clone()).unwrap(),
            }
        })
        .collect()
}

#[test]
fn slowlog_logs_every_command_at_threshold_zero() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    config_set(&mut conn, "slowlog-log-slower-than", "0");
    let () = redis::cmd("SLOWLOG").arg("RESET").query(&mut conn).unwrap();
    let () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("slow-one")
        .query(&mut conn)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("slowkey")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    let _: String = redis::cmd("GET").arg("slowkey").query(&mut conn).unwrap();
    let len: usize = redis::cmd("SLOWLOG").arg("LEN").query(&mut conn).unwrap();
    assert!(len >= 3, "SETNAME, SET and GET logged; LEN {len}");

    let entries = slowlog_get(&mut conn, 10);
    let set = entries
        .iter()
        .find(|e| e.args == ["SET", "slowkey", "v"])
        .expect("SET logged");
    let get = entries
        .iter()
        .find(|e| e.args == ["GET", "slowkey"])
        .expect("GET logged");
    assert!(get.id > set.id, "ids increase");
    assert!(
        entries.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    assert_eq!(set.name, "slow-one");
    assert!(set.peer.starts_with("127.0.0.1:"), "{}", set.peer);
    assert_eq!(slowlog_get(&mut conn, 1).len(), 1);
    assert!(slowlog_get(&mut conn, -1).len() >= 3);

    // Long arguments are shortened as in Redis.
    let () = redis::cmd("SET")
        .arg("long")
        .arg("x".repeat(200))
        .query(&mut conn)
        .unwrap();
    let entries = slowlog_get(&mut conn, 5);
    let long = entries
        .iter()
        .find(|e| e.args.first().is_some_and(|a| a == "SET") && e.args[1] == "long")
        .unwrap();
    assert_eq!(
        long.args[2],
        format!("{}... (72 more bytes)", "x".repeat(128))
    );

    config_set(&mut conn, "slowlog-max-len", "2");
    let len: usize = redis::cmd("SLOWLOG").arg("LEN").query(&mut conn).unwrap();
    assert!(len <= 2, "LEN {len} with slowlog-max-len 2");

    let () = redis::cmd("SLOWLOG").arg("RESET").query(&mut conn).unwrap();
    let len: usize = redis::cmd("SLOWLOG").arg("LEN").query(&mut conn).unwrap();
    assert!(len <= 1, "only the RESET itself may be logged; LEN {len}");
    config_set(&mut conn, "slowlog-log-slower-than", "-1");
    let () = redis::cmd("SLOWLOG").arg("RESET").query(&mut conn).unwrap();
    let _: String = redis::cmd("PING").query(&mut conn).unwrap();
    let len: usize = redis::cmd("SLOWLOG").arg("LEN").query(&mut conn).unwrap();
    assert_eq!(len, 0, "a negative threshold disables the log");
}

#[test]
fn debug_is_refused_and_the_connection_stays() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let refused = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg("0")
        .query::<()>(&mut conn);
    assert!(error_text(refused).starts_with("ERR DEBUG command not allowed"));
    let pong: String = redis::cmd("PING").query(&mut conn).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn shutdown_exits_with_code_zero() {
    let mut node = TestNode::start(&[]);
    let mut conn = node.conn();
    assert_eq!(
        error_text(redis::cmd("SHUTDOWN").arg("ABORT").query::<()>(&mut conn)),
        "ERR No shutdown in progress."
    );
    assert_eq!(
        error_text(redis::cmd("SHUTDOWN").arg("BOGUS").query::<()>(&mut conn)),
        "ERR syntax error"
    );
    let mut bystander = node.raw();
    bystander.send(b"PING\r\n");
    assert_eq!(
        bystander.read_reply(),
        ringcache_client::resp::Value::Simple(b"PONG".to_vec())
    );
    // Redis closes the connection without a reply.
    let mut raw = node.raw();
    assert_eq!(raw.send_and_read_to_close(b"SHUTDOWN NOSAVE\r\n"), b"");
    assert_eq!(node.wait_exit(DEADLINE), Some(0));
    assert!(
        std::net::TcpStream::connect(node.addr).is_err(),
        "no longer listening"
    );
}

#[test]
fn sigterm_exits_gracefully_with_code_zero() {
    for signal in ["TERM", "INT"] {
        let mut node = TestNode::start(&[]);
        let mut conn = node.raw();
        conn.send(b"SET k v\r\n");
        assert_eq!(
            conn.read_reply(),
            ringcache_client::resp::Value::Simple(b"OK".to_vec())
        );
        node.signal(signal);
        assert_eq!(
            node.wait_exit(DEADLINE),
            Some(0),
            "exit code after SIG{signal}"
        );
        let mut logs = Vec::new();
        let drained = eventually(DEADLINE, || {
            logs.extend(node.drain_logs());
            logs.iter().any(|l| l.contains("shutdown complete"))
        });
        assert!(drained, "drained after SIG{signal}: {logs:?}");
        assert_eq!(
            conn.send_and_read_to_close(b""),
            b"",
            "open connections are closed"
        );
    }
}

/// A config file removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("ringcache-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn config_file_with_flags_overriding_it() {
    let file = TempFile::new(
        "flags.conf",
        "# a Redis-style config file\nmaxmemory 10mb\nmaxmemory-policy volatile-ttl\ntimeout 120\nslowlog-max-len 64\n",
    );
    let node = TestNode::start(&["--config", file.path(), "--maxmemory", "20mb"]);
    let mut conn = node.conn();
    assert_eq!(
        config_value(&mut conn, "maxmemory"),
        (20u64 << 20).to_string(),
        "the flag wins"
    );
    assert_eq!(config_value(&mut conn, "maxmemory-policy"), "volatile-ttl");
    assert_eq!(config_value(&mut conn, "timeout"), "120");
    assert_eq!(config_value(&mut conn, "slowlog-max-len"), "64");
    assert_eq!(info_field(&mut conn, "config_file"), file.path());
}

#[test]
fn a_bad_config_file_stops_the_node_with_an_error() {
    let file = TempFile::new("bad.conf", "maxmemory 10mb\nnosuchoption 1\n");
    let mut child = Command::new(server_binary())
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--config",
            file.path(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            panic!("the node started with a bad config file");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}
