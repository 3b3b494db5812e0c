//! End-to-end tests of the server commands (INFO, CONFIG, TIME, MEMORY,
//! OBJECT, SLOWLOG, DEBUG, SHUTDOWN), graceful exit on SIGTERM, and the
//! config file with flags overriding it.

mod common;

use common::errors::{
    config_set_failed, unknown_subcommand, wrong_subcommand_arity, NOT_INTEGER, SYNTAX,
};
use common::process::{run_to_exit, TempFile};
use common::query::{config_get, config_set, config_value};
use common::wire::Frame;
use common::{err, eventually, info_field, info_u64, q, unix_secs, TestNode, TestServer, DEADLINE};

#[test]
fn info_has_the_redis_sections_and_fields() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let info: String = q(&mut conn, &["INFO"]);
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
    let memory: String = q(&mut conn, &["INFO", "memory"]);
    assert!(memory.starts_with("# Memory"));
    assert!(!memory.contains("# Stats") && !memory.contains("# Server"));
    let two: String = q(&mut conn, &["INFO", "server", "CLIENTS"]);
    assert!(two.contains("# Server") && two.contains("# Clients") && !two.contains("# Memory"));

    // The keyspace line appears with the first key.
    let keyspace: String = q(&mut conn, &["INFO", "keyspace"]);
    assert!(!keyspace.contains("db0:"), "{keyspace}");
    let () = q(&mut conn, &["SET", "a", "1"]);
    let () = q(&mut conn, &["SET", "b", "2", "EX", "1000"]);
    let keyspace: String = q(&mut conn, &["INFO", "keyspace"]);
    let db0 = keyspace
        .lines()
        .find(|l| l.starts_with("db0:"))
        .expect("db0 line");
    assert!(db0.starts_with("db0:keys=2,expires=1,avg_ttl="), "{db0}");
}

#[test]
fn info_counts_hits_misses_and_commands() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let () = q(&mut conn, &["SET", "k", "v"]);
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
        let _: Option<String> = q(&mut conn, &["GET", "k"]);
    }
    for _ in 0..2 {
        let _: Option<String> = q(&mut conn, &["GET", "missing"]);
    }
    assert_eq!(info_u64(&mut conn, "keyspace_hits"), hits + 3);
    assert_eq!(info_u64(&mut conn, "keyspace_misses"), misses + 2);
    // The five GETs, the two INFOs after them and this INFO.
    assert_eq!(
        info_u64(&mut conn, "total_commands_processed"),
        commands + 8
    );

    let mut other = node.conn();
    let _: String = q(&mut other, &["PING"]);
    assert!(info_u64(&mut conn, "connected_clients") >= 2);
    drop(other);
    assert!(eventually(DEADLINE, || info_u64(
        &mut conn,
        "connected_clients"
    ) == 1));

    let () = q(&mut conn, &["CONFIG", "RESETSTAT"]);
    assert_eq!(info_u64(&mut conn, "keyspace_hits"), 0);
    assert_eq!(info_u64(&mut conn, "keyspace_misses"), 0);
    // As Redis: RESETSTAT and the two INFOs since count, this INFO not yet.
    assert_eq!(info_u64(&mut conn, "total_commands_processed"), 3);
}

#[test]
fn config_get_with_globs() {
    let node = TestServer::start();
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
    let several: Vec<String> = q(&mut conn, &["CONFIG", "GET", "port", "timeout"]);
    assert_eq!(several.len(), 4);
}

#[test]
fn config_set_changes_the_running_node() {
    let node = TestServer::start();
    let mut conn = node.conn();
    config_set(&mut conn, "maxmemory", "100mb");
    assert_eq!(config_value(&mut conn, "maxmemory"), "104857600");
    assert_eq!(info_field(&mut conn, "maxmemory"), "104857600");
    config_set(&mut conn, "maxmemory-policy", "allkeys-lfu");
    assert_eq!(config_value(&mut conn, "maxmemory-policy"), "allkeys-lfu");
    assert_eq!(info_field(&mut conn, "maxmemory_policy"), "allkeys-lfu");
    assert!(
        err(&mut conn, &["CONFIG", "SET", "maxmemory-policy", "bogus"]).starts_with(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "
        )
    );
    assert_eq!(
        err(&mut conn, &["CONFIG", "SET", "port", "7000"]),
        config_set_failed("port", "can't set immutable config")
    );
    assert_eq!(
        err(&mut conn, &["CONFIG", "SET", "nosuch", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    assert!(err(&mut conn, &["CONFIG", "SET", "maxmemory"])
        .starts_with(&wrong_subcommand_arity("config", "set")));
    assert_eq!(
        config_value(&mut conn, "port"),
        node.addr.port().to_string()
    );

    // Several pairs at once: all applied, or none (as Redis 7).
    let () = q(
        &mut conn,
        &["CONFIG", "SET", "maxmemory-samples", "7", "timeout", "300"],
    );
    assert_eq!(config_value(&mut conn, "maxmemory-samples"), "7");
    assert_eq!(config_value(&mut conn, "timeout"), "300");
    let refused = err(
        &mut conn,
        &["CONFIG", "SET", "maxmemory-samples", "9", "port", "7000"],
    );
    assert!(refused.contains("'port'"));
    assert_eq!(
        config_value(&mut conn, "maxmemory-samples"),
        "7",
        "nothing applied from a refused CONFIG SET"
    );
    assert_eq!(
        err(
            &mut conn,
            &["CONFIG", "SET", "timeout", "1", "timeout", "2"]
        ),
        config_set_failed("timeout", "duplicate parameter")
    );
    assert_eq!(config_value(&mut conn, "timeout"), "300");
    let pong: String = q(&mut conn, &["PING"]);
    assert_eq!(pong, "PONG", "errors keep the connection");
}

#[test]
fn time_is_seconds_and_microseconds() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let time: Vec<String> = q(&mut conn, &["TIME"]);
    assert_eq!(time.len(), 2);
    let secs: i64 = time[0].parse().unwrap();
    let micros: u64 = time[1].parse().unwrap();
    assert!(micros < 1_000_000);
    let now = unix_secs();
    assert!(
        secs.abs_diff(now) < 3600,
        "node time {secs}, test time {now}"
    );
}

#[test]
fn memory_usage_grows_with_the_value() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let () = q(&mut conn, &["SET", "small", "v"]);
    let () = q(&mut conn, &["SET", "big", &"x".repeat(10_000)]);
    let small: i64 = q(&mut conn, &["MEMORY", "USAGE", "small"]);
    let big: i64 = q(&mut conn, &["MEMORY", "USAGE", "big"]);
    assert!(small > 0);
    assert!(big >= 10_000 && big > small, "small {small}, big {big}");
    let missing: Option<i64> = q(&mut conn, &["MEMORY", "USAGE", "missing"]);
    assert_eq!(missing, None);
    let sampled: i64 = q(&mut conn, &["MEMORY", "USAGE", "big", "SAMPLES", "5"]);
    assert_eq!(sampled, big);
    assert_eq!(
        err(&mut conn, &["MEMORY", "USAGE", "big", "SAMPLES", "x"]),
        NOT_INTEGER
    );
    let () = q(&mut conn, &["HSET", "h", "f", &"x".repeat(1000)]);
    let hash: i64 = q(&mut conn, &["MEMORY", "USAGE", "h"]);
    assert!(hash >= 1000);
}

#[test]
fn object_encoding_and_idletime_under_lru() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let () = q(&mut conn, &["SET", "int", "12345"]);
    let () = q(&mut conn, &["SET", "short", "hello"]);
    let () = q(&mut conn, &["SET", "long", &"x".repeat(100)]);
    let () = q(&mut conn, &["HSET", "hash", "f", "v"]);
    for (key, encoding) in [
        ("int", "int"),
        ("short", "embstr"),
        ("long", "raw"),
        ("hash", "listpack"),
    ] {
        let got: String = q(&mut conn, &["OBJECT", "ENCODING", key]);
        assert_eq!(got, encoding, "OBJECT ENCODING {key}");
    }
    let missing: Option<String> = q(&mut conn, &["OBJECT", "ENCODING", "missing"]);
    assert_eq!(missing, None);
    let idle: i64 = q(&mut conn, &["OBJECT", "IDLETIME", "short"]);
    assert!(
        (0..3600).contains(&idle),
        "idle {idle} s for a key just written"
    );
    assert_eq!(
        err(&mut conn, &["OBJECT", "FREQ", "short"]),
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    );
    assert!(err(&mut conn, &["OBJECT", "NOPE", "short"])
        .starts_with(&unknown_subcommand("NOPE", "OBJECT")));
}

#[test]
fn object_freq_under_lfu() {
    let node = TestServer::with(&[("maxmemory-policy", "allkeys-lfu")]);
    let mut conn = node.conn();
    let () = q(&mut conn, &["SET", "k", "v"]);
    let first: i64 = q(&mut conn, &["OBJECT", "FREQ", "k"]);
    assert!((0..=255).contains(&first));
    for _ in 0..100 {
        let _: String = q(&mut conn, &["GET", "k"]);
    }
    let later: i64 = q(&mut conn, &["OBJECT", "FREQ", "k"]);
    assert!(
        later >= first && later <= 255,
        "freq {first} then {later} after 100 reads"
    );
    assert_eq!(
        err(&mut conn, &["OBJECT", "IDLETIME", "k"]),
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
    let entries: Vec<redis::Value> = q(conn, &["SLOWLOG", "GET", &count.to_string()]);
    entries
        .into_iter()
        .map(|entry| {
            let redis::Value::Array(fields) = entry else {
                panic!("entry {entry:?}")
            };
            assert_eq!(fields.len(), 6, "{fields:?}");
            let id: i64 = redis::from_redis_value(fields[0].clone())
                .expect("a SLOWLOG field of the expected type");
            let timestamp: i64 = redis::from_redis_value(fields[1].clone())
                .expect("a SLOWLOG field of the expected type");
            let micros: i64 = redis::from_redis_value(fields[2].clone())
                .expect("a SLOWLOG field of the expected type");
            assert!(timestamp > 0 && micros >= 0);
            SlowEntry {
                id,
                args: redis::from_redis_value(fields[3].clone())
                    .expect("a SLOWLOG field of the expected type"),
                peer: redis::from_redis_value(fields[4].clone())
                    .expect("a SLOWLOG field of the expected type"),
                name: redis::from_redis_value(fields[5].clone())
                    .expect("a SLOWLOG field of the expected type"),
            }
        })
        .collect()
}

#[test]
fn slowlog_logs_every_command_at_threshold_zero() {
    let node = TestServer::start();
    let mut conn = node.conn();
    config_set(&mut conn, "slowlog-log-slower-than", "0");
    let () = q(&mut conn, &["SLOWLOG", "RESET"]);
    let () = q(&mut conn, &["CLIENT", "SETNAME", "slow-one"]);
    let () = q(&mut conn, &["SET", "slowkey", "v"]);
    let _: String = q(&mut conn, &["GET", "slowkey"]);
    let len: usize = q(&mut conn, &["SLOWLOG", "LEN"]);
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
    let () = q(&mut conn, &["SET", "long", &"x".repeat(200)]);
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
    let len: usize = q(&mut conn, &["SLOWLOG", "LEN"]);
    assert!(len <= 2, "LEN {len} with slowlog-max-len 2");

    let () = q(&mut conn, &["SLOWLOG", "RESET"]);
    let len: usize = q(&mut conn, &["SLOWLOG", "LEN"]);
    assert!(len <= 1, "only the RESET itself may be logged; LEN {len}");
    config_set(&mut conn, "slowlog-log-slower-than", "-1");
    let () = q(&mut conn, &["SLOWLOG", "RESET"]);
    let _: String = q(&mut conn, &["PING"]);
    let len: usize = q(&mut conn, &["SLOWLOG", "LEN"]);
    assert_eq!(len, 0, "a negative threshold disables the log");
}

#[test]
fn debug_is_refused_and_the_connection_stays() {
    let node = TestServer::start();
    let mut conn = node.conn();
    assert!(err(&mut conn, &["DEBUG", "SLEEP", "0"]).starts_with("ERR DEBUG command not allowed"));
    let pong: String = q(&mut conn, &["PING"]);
    assert_eq!(pong, "PONG");
}

#[test]
fn shutdown_exits_with_code_zero() {
    let mut node = TestNode::start(&[]);
    let mut conn = node.conn();
    assert_eq!(
        err(&mut conn, &["SHUTDOWN", "ABORT"]),
        "ERR No shutdown in progress."
    );
    assert_eq!(err(&mut conn, &["SHUTDOWN", "BOGUS"]), SYNTAX);
    let mut bystander = node.raw();
    assert_eq!(bystander.call(&["PING"]), Frame::Simple(b"PONG".to_vec()));
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
        assert_eq!(conn.call(&["SET", "k", "v"]), Frame::Simple(b"OK".to_vec()));
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

#[test]
fn config_file_with_flags_overriding_it() {
    let file = TempFile::new(
        "flags.conf",
        "# a Redis-style config file\nmaxmemory 10mb\nmaxmemory-policy volatile-ttl\ntimeout 120\nslowlog-max-len 64\n",
    );
    let node = TestNode::start(&[
        "--config",
        file.path(),
        "--maxmemory",
        "20mb",
        "--proto-max-bulk-len",
        "2kb",
    ]);
    let mut conn = node.conn();
    assert_eq!(
        config_value(&mut conn, "maxmemory"),
        (20u64 << 20).to_string(),
        "the flag wins"
    );
    assert_eq!(config_value(&mut conn, "proto-max-bulk-len"), "2048");
    assert_eq!(config_value(&mut conn, "maxmemory-policy"), "volatile-ttl");
    assert_eq!(config_value(&mut conn, "timeout"), "120");
    assert_eq!(config_value(&mut conn, "slowlog-max-len"), "64");
    assert_eq!(info_field(&mut conn, "config_file"), file.path());
}

#[test]
fn a_bad_config_file_stops_the_node_with_an_error() {
    let file = TempFile::new("bad.conf", "maxmemory 10mb\nnosuchoption 1\n");
    let (code, stderr) = run_to_exit(&[
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--config",
        file.path(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}
