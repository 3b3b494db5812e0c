//! Operations commands: MONITOR (its lines against redis-server's, the
//! redaction of secrets, the bound on a monitor that does not read, RESET
//! ending it), CLIENT PAUSE and UNPAUSE (what each mode holds, the order
//! held requests run in, expiry waiting, Redis's errors), CLIENT REPLY
//! (byte for byte against redis-server), INFO's section sets,
//! commandstats, errorstats (against redis-server) and cpu, COMMAND
//! GETKEYS and GETKEYSANDFLAGS (against redis-server, RESP2 and RESP3),
//! CLIENT NO-TOUCH (OBJECT IDLETIME unmoved by reads, moved by TOUCH) and
//! NO-EVICT (CLIENT LIST's flags, RESET), LATENCY DOCTOR.

mod common;

use std::time::Instant;

use common::redis_server::{skip_without_redis, RedisServer};
use common::wire::{Frame, RawConn};
use common::{TestServer, DEADLINE};

/// What a session does while another connection monitors: secrets,
/// escaping, refused commands (never shown), a transaction, a script,
/// administrative commands (never shown), another database.
const MONITORED: &[&[&str]] = &[
    &["AUTH", "pw"],
    &["AUTH", "default", "pw"],
    &["AUTH", "wrong"],
    &["SET", "a", "x y\"z\n\u{1}\u{e9}\\"],
    &["GET", "a"],
    &["NOSUCH", "1", "2"],
    &["GET"],
    &["MULTI"],
    &["SET", "b", "1"],
    &["INCR", "b"],
    &["EXEC"],
    &[
        "EVAL",
        "redis.call('set','c','1'); return redis.call('get','c')",
        "1",
        "c",
    ],
    &["CONFIG", "SET", "requirepass", "pw"],
    &["CONFIG", "GET", "maxmemory"],
    &["HELLO", "2", "AUTH", "default", "pw"],
    &["CLIENT", "LIST"],
    &["CLIENT", "SETNAME", "foo"],
    &["SELECT", "3"],
    &["SET", "d", "1"],
    &["PING"],
    &["SELECT", "0"],
];

/// The marker the last command echoes, so the monitor's reader knows it
/// saw everything.
const MARKER: &str = "end-of-session";

/// Runs [`MONITORED`] on `session` while `monitor` monitors; returns the
/// monitor's lines, each as `[db who] args` (`who`: `client` or `lua`),
/// after checking the time stamp's form.
fn monitored_lines(monitor: &mut RawConn, session: &mut RawConn) -> Vec<String> {
    assert_eq!(monitor.call(&["MONITOR"]), Frame::Simple(b"OK".to_vec()));
    for request in MONITORED {
        session.call(request);
    }
    session.call(&["ECHO", MARKER]);
    let mut lines = Vec::new();
    loop {
        let frame = monitor.next().expect("a monitor line");
        let Frame::Simple(line) = frame else {
            panic!("a monitor line is a simple string: {frame:?}");
        };
        let line = String::from_utf8(line).expect("escaped text");
        if line.contains(MARKER) {
            return lines;
        }
        lines.push(normalized(&line));
    }
}

/// `1796048475.258070 [0 127.0.0.1:38740] "GET" "a"` as `[0 client] "GET"
/// "a"`, after checking the stamp is seconds and six digits of micros.
fn normalized(line: &str) -> String {
    let (stamp, rest) = line.split_once(' ').expect("a stamp");
    let (secs, micros) = stamp.split_once('.').expect("secs.micros");
    assert!(secs.parse::<u64>().is_ok(), "{line}");
    assert!(micros.len() == 6 && micros.parse::<u32>().is_ok(), "{line}");
    let rest = rest.strip_prefix('[').expect("[db who]");
    let (db, rest) = rest.split_once(' ').expect("db");
    let (who, args) = rest.split_once("] ").expect("who");
    let who = if who == "lua" { "lua" } else { "client" };
    format!("[{db} {who}] {args}")
}

#[test]
fn monitor_shows_what_redis_shows() {
    if skip_without_redis("monitor_shows_what_redis_shows") {
        return;
    }
    let redis = RedisServer::start();
    let node = TestServer::start();
    let lines = |mut setup: RawConn, monitor: &mut RawConn, session: &mut RawConn| {
        setup.call(&["CONFIG", "SET", "requirepass", "pw"]);
        monitor.call(&["AUTH", "pw"]);
        monitored_lines(monitor, session)
    };
    let theirs = lines(redis.raw(), &mut redis.raw(), &mut redis.raw());
    let ours = lines(node.raw(), &mut node.raw(), &mut node.raw());
    assert_eq!(ours, theirs);
    assert!(ours.contains(&r#"[0 client] "AUTH" "(redacted)" "(redacted)""#.to_string()));
    assert!(ours.contains(&r#"[0 lua] "set" "c" "1""#.to_string()));
    assert!(ours.contains(&r#"[0 client] "SET" "a" "x y\"z\n\x01\xc3\xa9\\""#.to_string()));
}

#[test]
fn a_monitor_that_does_not_read_is_cut_and_the_node_goes_on() {
    let node = TestServer::with(&[("client-output-buffer-limit", "normal 1mb 0 0")]);
    let mut monitor = node.raw();
    assert_eq!(monitor.call(&["MONITOR"]), Frame::Simple(b"OK".to_vec()));
    // The monitor never reads: its lines pass 1 MB, it is cut.
    let mut conn = node.conn();
    let value = "v".repeat(64 * 1024);
    let started = Instant::now();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(&value)
            .query(&mut conn)
            .expect("SET while a monitor does not read");
    }
    assert!(started.elapsed() < DEADLINE);
    let gone = common::eventually(DEADLINE, || {
        let info: String = redis::cmd("INFO").arg("stats").query(&mut conn).unwrap();
        common::info::field_u64(&info, "client_output_buffer_limit_disconnections")
            .is_some_and(|n| n >= 1)
    });
    assert!(gone, "the monitor was not cut");
    let clients: String = redis::cmd("CLIENT").arg("LIST").query(&mut conn).unwrap();
    assert_eq!(clients.lines().count(), 1, "{clients}");
}

#[test]
fn reset_and_quit_end_monitoring() {
    let node = TestServer::start();
    let mut monitor = node.raw();
    let mut session = node.raw();
    assert_eq!(monitor.call(&["MONITOR"]), Frame::Simple(b"OK".to_vec()));
    session.call(&["SET", "k", "1"]);
    let Frame::Simple(line) = monitor.next().expect("a line") else {
        panic!("not a line");
    };
    assert!(String::from_utf8_lossy(&line).ends_with(r#""SET" "k" "1""#));
    assert_eq!(monitor.call(&["RESET"]), Frame::Simple(b"RESET".to_vec()));
    session.call(&["SET", "k", "2"]);
    // No line between: the next frame is the reply to PING.
    assert_eq!(monitor.call(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    // QUIT: the feed goes with the connection.
    assert_eq!(monitor.call(&["MONITOR"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(monitor.call(&["QUIT"]), Frame::Simple(b"OK".to_vec()));
    let closed = common::eventually(DEADLINE, || {
        session.call(&["PING"]);
        !node.state.monitors.any()
    });
    assert!(closed, "a closed monitor stays registered");
}

/// Sends `request` on a new raw connection without reading its reply.
fn send(node: &TestServer, request: &[&str]) -> RawConn {
    let mut conn = node.raw();
    conn.send_command(request);
    conn
}

#[test]
fn client_pause_write_holds_writes_and_releases_them_in_order() {
    let node = TestServer::start();
    let mut admin = node.raw();
    assert_eq!(
        admin.call(&["CLIENT", "PAUSE", "100000", "WRITE"]),
        Frame::Simple(b"OK".to_vec())
    );
    // Writes wait, one behind the other; reads go on.
    let mut first = send(&node, &["RPUSH", "order", "first"]);
    assert!(common::eventually(DEADLINE, || node.state.pause.held() == 1));
    let mut second = send(&node, &["RPUSH", "order", "second"]);
    let mut script = send(
        &node,
        &[
            "EVAL",
            "return redis.call('rpush', KEYS[1], 'script')",
            "1",
            "order",
        ],
    );
    assert!(common::eventually(DEADLINE, || node.state.pause.held() == 3));
    assert_eq!(admin.call(&["LLEN", "order"]), Frame::Int(0));
    assert_eq!(admin.call(&["EVAL_RO", "return 7", "0"]), Frame::Int(7));
    assert_eq!(
        admin.call(&["CLIENT", "UNPAUSE"]),
        Frame::Simple(b"OK".to_vec())
    );
    assert_eq!(first.reply(), Frame::Int(1));
    assert_eq!(second.reply(), Frame::Int(2));
    assert_eq!(script.reply(), Frame::Int(3));
    let order = admin.call(&["LRANGE", "order", "0", "-1"]);
    assert_eq!(
        order,
        Frame::Array(
            ["first", "second", "script"]
                .map(|s| Frame::Bulk(s.into()))
                .to_vec()
        )
    );
    assert_eq!(node.state.pause.held(), 0);
}

#[test]
fn client_pause_all_holds_everything_until_it_ends() {
    let node = TestServer::start();
    let mut admin = node.raw();
    // Expires during the pause (set just before it, the active cycle could
    // reclaim it before the pause began).
    let set_at = Instant::now();
    admin.call(&["SET", "k", "v", "PX", "1000"]);
    assert_eq!(
        admin.call(&["CLIENT", "PAUSE", "100000"]),
        Frame::Simple(b"OK".to_vec())
    );
    let mut reader = send(&node, &["PING"]);
    let mut unpauser = send(&node, &["CLIENT", "UNPAUSE"]);
    assert!(common::eventually(DEADLINE, || node.state.pause.held() == 2));
    // While paused, the active expiry cycle does not remove the expired key.
    common::eventually(DEADLINE, || {
        set_at.elapsed() > std::time::Duration::from_millis(1500)
    });
    assert_eq!(node.state.store.len(), 1);
    node.state.pause.unpause();
    assert_eq!(reader.reply(), Frame::Simple(b"PONG".to_vec()));
    assert_eq!(unpauser.reply(), Frame::Simple(b"OK".to_vec()));
    assert!(common::eventually(DEADLINE, || node.state.store.is_empty()));
}

#[test]
fn client_pause_errors_are_redis_errors() {
    let Some(redis) = RedisServer::start_or_skip("client_pause_errors_are_redis_errors") else {
        return;
    };
    let node = TestServer::start();
    common::redis_server::assert_same_replies(
        &mut node.raw(),
        &mut redis.raw(),
        &[
            &["CLIENT", "PAUSE"],
            &["CLIENT", "PAUSE", "x"],
            &["CLIENT", "PAUSE", "-1"],
            &["CLIENT", "PAUSE", "10", "foo"],
            &["CLIENT", "PAUSE", "x", "foo"],
            &["CLIENT", "PAUSE", "10", "write", "extra"],
            &["CLIENT", "UNPAUSE", "x"],
            &["CLIENT", "PAUSE", "0", "WRITE"],
            &["CLIENT", "UNPAUSE"],
        ],
    );
}

/// Sends `requests` in one write and reads every byte until the reply to
/// a final `ECHO end-of-replies`, which it leaves out.
fn replies_to(conn: &mut RawConn, requests: &[&[&str]]) -> Vec<u8> {
    use std::io::{Read, Write};
    let end: &[&str] = &["ECHO", "end-of-replies"];
    let bytes: Vec<u8> = requests
        .iter()
        .chain([&end])
        .flat_map(|r| common::wire::command(r))
        .collect();
    conn.stream.write_all(&bytes).expect("write");
    let marker = b"$14\r\nend-of-replies\r\n";
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(marker) {
        let n = conn.stream.read(&mut buf).expect("read");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    got.truncate(got.len() - marker.len());
    got
}

#[test]
fn client_reply_drops_what_redis_drops() {
    let Some(redis) = RedisServer::start_or_skip("client_reply_drops_what_redis_drops") else {
        return;
    };
    let node = TestServer::start();
    let session: &[&[&str]] = &[
        &["CLIENT", "REPLY", "OFF"],
        &["SET", "a", "1"],
        &["GET", "a"],
        &["NOSUCH"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "SKIP"],
        &["GET", "a"],
        &["PING"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "SKIP"],
        &["GET", "a"],
        &["PING", "after-two-skips"],
        &["CLIENT", "REPLY", "SKIP"],
        &["NOSUCH"],
        &["GET"],
        &["CLIENT", "REPLY", "foo"],
        &["CLIENT", "REPLY"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "ON"],
        &["MULTI"],
        &["CLIENT", "REPLY", "SKIP"],
        &["INCR", "a"],
        &["EXEC"],
        &["GET", "a"],
    ];
    let theirs = replies_to(&mut redis.raw(), session);
    let ours = replies_to(&mut node.raw(), session);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
    assert!(!theirs.is_empty());
}

/// The `# Section` headers of an INFO reply.
fn headers(info: &Frame) -> Vec<String> {
    let text = String::from_utf8_lossy(info.bytes().expect("INFO text")).into_owned();
    text.lines()
        .filter_map(|line| line.strip_prefix("# ").map(str::to_owned))
        .collect()
}

#[test]
fn info_section_sets_are_redis_sets() {
    let Some(redis) = RedisServer::start_or_skip("info_section_sets_are_redis_sets") else {
        return;
    };
    let node = TestServer::start();
    let (mut ours, mut theirs) = (node.raw(), redis.raw());
    for set in [
        &["INFO"][..],
        &["INFO", "default"],
        &["INFO", "all"],
        &["INFO", "everything"],
        &["INFO", "cpu", "errorstats"],
    ] {
        let mut expected = headers(&theirs.call(set));
        // No counterpart here for Redis's latency percentiles.
        expected.retain(|h| h != "Latencystats");
        assert_eq!(headers(&ours.call(set)), expected, "{set:?}");
    }
    let cpu = ours.call(&["INFO", "cpu"]);
    let text = String::from_utf8_lossy(cpu.bytes().unwrap()).into_owned();
    for field in [
        "used_cpu_sys",
        "used_cpu_user",
        "used_cpu_sys_children",
        "used_cpu_user_children",
        "used_cpu_sys_main_thread",
        "used_cpu_user_main_thread",
    ] {
        let value = common::info::field(&text, field).unwrap_or_else(|| panic!("{field}: {text}"));
        let (secs, micros) = value.split_once('.').expect("secs.micros");
        assert!(
            secs.parse::<u64>().is_ok() && micros.len() == 6,
            "{field}:{value}"
        );
    }
}

#[test]
fn errorstats_count_what_redis_counts() {
    let Some(redis) = RedisServer::start_or_skip("errorstats_count_what_redis_counts") else {
        return;
    };
    let node = TestServer::start();
    let errors: &[&[&str]] = &[
        &["SET", "s", "1"],
        &["LPUSH", "s", "x"],
        &["LPUSH", "s", "x"],
        &["NOSUCH", "a"],
        &["GET"],
        &["INCRBY", "s", "x"],
        &["SET", "a", "b", "NX", "XX"],
        &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        &["CLIENT", "PAUSE", "x"],
    ];
    for conn in [&mut node.raw(), &mut redis.raw()] {
        conn.call(&["CONFIG", "RESETSTAT"]);
        for request in errors {
            conn.call(request);
        }
    }
    let stats = |conn: &mut RawConn| {
        let info = conn.call(&["INFO", "errorstats"]);
        String::from_utf8_lossy(info.bytes().unwrap()).into_owned()
    };
    let ours = stats(&mut node.raw());
    assert_eq!(ours, stats(&mut redis.raw()));
    assert!(ours.contains("errorstat_WRONGTYPE:count=2"), "{ours}");
    let total = |conn: &mut RawConn| {
        let info = conn.call(&["INFO", "stats"]);
        common::info::field(
            &String::from_utf8_lossy(info.bytes().unwrap()),
            "total_error_replies",
        )
    };
    assert_eq!(total(&mut node.raw()), total(&mut redis.raw()));
}

#[test]
fn commandstats_count_calls_failures_and_rejections() {
    let node = TestServer::start();
    let mut conn = node.raw();
    conn.call(&["CONFIG", "RESETSTAT"]);
    conn.call(&["SET", "k", "v"]);
    conn.call(&["LPUSH", "k", "x"]);
    conn.call(&["GET"]);
    conn.call(&["CLIENT", "ID"]);
    conn.call(&["CLIENT", "ID"]);
    let info = conn.call(&["INFO", "commandstats"]);
    let text = String::from_utf8_lossy(info.bytes().unwrap()).into_owned();
    let line = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{name}:")))
            .map(|rest| {
                rest.split(',')
                    .filter(|f| !f.starts_with("usec"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
    };
    assert_eq!(
        line("set").as_deref(),
        Some("calls=1,rejected_calls=0,failed_calls=0"),
        "{text}"
    );
    assert_eq!(
        line("lpush").as_deref(),
        Some("calls=1,rejected_calls=0,failed_calls=1"),
        "{text}"
    );
    assert_eq!(
        line("get").as_deref(),
        Some("calls=0,rejected_calls=1,failed_calls=0"),
        "{text}"
    );
    assert_eq!(
        line("client|id").as_deref(),
        Some("calls=2,rejected_calls=0,failed_calls=0"),
        "{text}"
    );
    assert_eq!(line("incr"), None);
    conn.call(&["CONFIG", "RESETSTAT"]);
    let info = conn.call(&["INFO", "commandstats"]);
    let text = String::from_utf8_lossy(info.bytes().unwrap()).into_owned();
    assert!(!text.contains("cmdstat_set"), "{text}");
}

/// Requests whose keys COMMAND GETKEYS and GETKEYSANDFLAGS find: every
/// shape of key spec, the flags of sources and destinations, the flags
/// that depend on the arguments, subcommands, and Redis's errors.
const KEYED: &[&[&str]] = &[
    &["GET", "k"],
    &["SET", "k", "v"],
    &["SET", "k", "v", "GET"],
    &["SET", "k", "v", "EX", "10", "get"],
    &["GETDEL", "k"],
    &["GETEX", "k", "PERSIST"],
    &["APPEND", "k", "v"],
    &["INCR", "k"],
    &["MGET", "a", "b", "c"],
    &["MSET", "a", "1", "b", "2"],
    &["MSETNX", "a", "1", "b", "2"],
    &["DEL", "a", "b"],
    &["UNLINK", "a"],
    &["EXISTS", "a", "b"],
    &["EXPIRE", "k", "10"],
    &["TTL", "k"],
    &["TYPE", "k"],
    &["RENAME", "a", "b"],
    &["RENAMENX", "a", "b"],
    &["COPY", "a", "b", "REPLACE"],
    &["LPUSH", "l", "x"],
    &["LPOP", "l"],
    &["LRANGE", "l", "0", "-1"],
    &["LMOVE", "a", "b", "LEFT", "RIGHT"],
    &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
    &["RPOPLPUSH", "a", "b"],
    &["LMPOP", "2", "a", "b", "LEFT"],
    &["BLPOP", "a", "b", "0"],
    &["HSET", "h", "f", "v"],
    &["HGETALL", "h"],
    &["HDEL", "h", "f"],
    &["SADD", "s", "m"],
    &["SMOVE", "a", "b", "m"],
    &["SINTERSTORE", "d", "a", "b"],
    &["SUNIONSTORE", "d", "a", "b"],
    &["SDIFFSTORE", "d", "a", "b"],
    &["SINTERCARD", "2", "a", "b"],
    &["SUNION", "a", "b"],
    &["ZADD", "z", "1", "m"],
    &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
    &["ZINTERSTORE", "d", "2", "a", "b"],
    &["ZDIFFSTORE", "d", "2", "a", "b"],
    &["ZRANGESTORE", "d", "s", "0", "-1"],
    &["ZMPOP", "2", "a", "b", "MIN"],
    &["BZPOPMIN", "a", "b", "0"],
    &["PFADD", "p", "x"],
    &["PFCOUNT", "a", "b"],
    &["PFMERGE", "d", "a", "b"],
    &["SETBIT", "b", "1", "1"],
    &["BITOP", "AND", "d", "a", "b"],
    &["BITFIELD", "b", "GET", "u8", "0"],
    &["BITFIELD", "b", "SET", "u8", "0", "1"],
    &[
        "BITFIELD", "b", "OVERFLOW", "WRAP", "INCRBY", "u8", "0", "1",
    ],
    &["BITFIELD_RO", "b", "GET", "u8", "0"],
    &["LCS", "a", "b"],
    &["EVAL", "return 1", "2", "a", "b", "arg"],
    &["EVAL", "return 1", "0"],
    &["EVAL_RO", "return 1", "1", "a"],
    &["FCALL", "f", "1", "a"],
    &["OBJECT", "ENCODING", "k"],
    &["MEMORY", "USAGE", "k"],
    &["WATCH", "a", "b"],
    &["SPUBLISH", "ch", "m"],
    &["PING"],
    &["CLIENT", "LIST"],
    &["CLIENT", "NOSUCH"],
    &["NOSUCH", "a"],
    &["ZUNIONSTORE", "d", "0"],
    &["GET", "a", "b"],
    &["LMPOP", "0", "a", "LEFT"],
];

#[test]
fn command_getkeys_and_flags_are_redis_ones() {
    let Some(redis) = RedisServer::start_or_skip("command_getkeys_and_flags_are_redis_ones") else {
        return;
    };
    let node = TestServer::start();
    let mut requests: Vec<Vec<Vec<u8>>> = Vec::new();
    for keyed in KEYED {
        for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
            let mut request = vec![b"COMMAND".to_vec(), sub.as_bytes().to_vec()];
            request.extend(keyed.iter().map(|w| w.as_bytes().to_vec()));
            requests.push(request);
        }
    }
    let (mut theirs, mut ours) = (redis.raw(), node.raw());
    for resp3 in [false, true] {
        if resp3 {
            theirs.hello(3);
            ours.hello(3);
        }
        let differences =
            common::redis_server::differing_replies(&mut theirs, &mut ours, &requests);
        assert!(differences.is_empty(), "{}", differences.join("\n"));
    }
}

#[test]
fn a_no_touch_client_leaves_idle_times_alone() {
    let node = TestServer::with(&[("maxmemory-policy", "allkeys-lru")]);
    let mut conn = node.raw();
    conn.call(&["SET", "k", "v"]);
    assert_eq!(
        conn.call(&["CLIENT", "NO-TOUCH", "on"]),
        Frame::Simple(b"OK".to_vec())
    );
    // Idle for a while (LRU time has a resolution of a second).
    let idle_since = Instant::now();
    common::eventually(DEADLINE, || {
        idle_since.elapsed() > std::time::Duration::from_millis(2500)
    });
    assert_eq!(conn.call(&["GET", "k"]), Frame::Bulk(b"v".to_vec()));
    let idle = |conn: &mut RawConn| match conn.call(&["OBJECT", "IDLETIME", "k"]) {
        Frame::Int(n) => n,
        other => panic!("OBJECT IDLETIME: {other:?}"),
    };
    assert!(idle(&mut conn) >= 2, "a no-touch GET touched the key");
    let list = conn.call(&["CLIENT", "INFO"]);
    let text = String::from_utf8_lossy(list.bytes().unwrap()).into_owned();
    assert!(text.contains(" flags=T "), "{text}");
    // TOUCH still touches.
    assert_eq!(conn.call(&["TOUCH", "k"]), Frame::Int(1));
    assert!(idle(&mut conn) <= 1, "TOUCH did not touch");
    assert_eq!(
        conn.call(&["CLIENT", "NO-TOUCH", "off"]),
        Frame::Simple(b"OK".to_vec())
    );
    assert_eq!(
        conn.call(&["CLIENT", "NO-TOUCH", "maybe"])
            .error_text()
            .as_deref(),
        Some("ERR syntax error")
    );
}

#[test]
fn client_no_evict_is_recorded_and_reset() {
    let node = TestServer::start();
    let mut conn = node.raw();
    assert_eq!(
        conn.call(&["CLIENT", "NO-EVICT", "ON"]),
        Frame::Simple(b"OK".to_vec())
    );
    let flags = |conn: &mut RawConn| {
        let info = conn.call(&["CLIENT", "INFO"]);
        let text = String::from_utf8_lossy(info.bytes().unwrap()).into_owned();
        text.split(' ')
            .find_map(|f| f.strip_prefix("flags="))
            .map(str::to_owned)
            .expect("flags")
    };
    assert_eq!(flags(&mut conn), "e");
    conn.call(&["CLIENT", "NO-TOUCH", "on"]);
    assert_eq!(flags(&mut conn), "eT");
    conn.call(&["RESET"]);
    assert_eq!(flags(&mut conn), "N");
    assert!(conn.call(&["CLIENT", "NO-EVICT", "x"]).is_error());
}

#[test]
fn latency_doctor_says_when_there_is_nothing_to_report() {
    let node = TestServer::start();
    let mut conn = node.raw();
    let report = |conn: &mut RawConn| {
        let reply = conn.call(&["LATENCY", "DOCTOR"]);
        String::from_utf8_lossy(reply.bytes().expect("a report")).into_owned()
    };
    assert!(report(&mut conn)
        .starts_with("I'm sorry, Dave, I can't do that. Latency monitoring is disabled"));
    conn.call(&["CONFIG", "SET", "latency-monitor-threshold", "100"]);
    assert!(report(&mut conn).starts_with("Dave, no latency spike was observed"));
    assert!(conn.call(&["LATENCY", "DOCTOR", "x"]).is_error());
}

/// The field names of a MEMORY STATS reply (RESP2: a flat array).
fn stats_fields(reply: &Frame) -> Vec<String> {
    let Frame::Array(items) = reply else {
        panic!("MEMORY STATS: {reply:?}");
    };
    items
        .iter()
        .step_by(2)
        .map(|name| String::from_utf8_lossy(name.bytes().expect("a field name")).into_owned())
        .collect()
}

#[test]
fn memory_stats_and_doctor_answer_as_redis() {
    let Some(redis) = RedisServer::start_or_skip("memory_stats_and_doctor_answer_as_redis") else {
        return;
    };
    let node = TestServer::start();
    let (mut ours, mut theirs) = (node.raw(), redis.raw());
    for conn in [&mut ours, &mut theirs] {
        conn.call(&["SET", "a", "1"]);
        conn.call(&["SELECT", "2"]);
        conn.call(&["SET", "b", "2", "EX", "100"]);
        conn.call(&["SET", "c", "3"]);
    }
    // The same fields in the same order, less those this node does not
    // measure (the cluster's links, Lua's caches).
    let mut expected = stats_fields(&theirs.call(&["MEMORY", "STATS"]));
    expected.retain(|f| !["cluster.links", "lua.caches", "functions.caches"].contains(&f.as_str()));
    let reply = ours.call(&["MEMORY", "STATS"]);
    assert_eq!(stats_fields(&reply), expected);
    let Frame::Array(items) = &reply else {
        unreachable!()
    };
    let field = |name: &str| {
        let at = items
            .iter()
            .position(|f| f.bytes() == Some(name.as_bytes()))
            .expect(name);
        items[at + 1].clone()
    };
    assert_eq!(field("keys.count"), Frame::Int(3));
    assert!(matches!(field("db.2"), Frame::Array(ref db) if db.len() == 4));
    assert!(matches!(field("total.allocated"), Frame::Int(n) if n > 0));
    assert!(
        field("fragmentation").bytes().is_some(),
        "a double, as a bulk string in RESP2"
    );
    let error = |conn: &mut RawConn| conn.call(&["MEMORY", "STATS", "extra"]);
    assert_eq!(error(&mut ours), error(&mut theirs));

    // RESP3: a map, with doubles.
    ours.call(&["HELLO", "3"]);
    match ours.call(&["MEMORY", "STATS"]) {
        Frame::Map(pairs) => assert!(pairs
            .iter()
            .any(|(k, v)| k.bytes() == Some(b"peak.percentage") && matches!(v, Frame::Double(_)))),
        other => panic!("{other:?}"),
    }
    let doctor = ours.call(&["MEMORY", "DOCTOR"]);
    let text = String::from_utf8_lossy(doctor.bytes().expect("a report")).into_owned();
    assert!(
        [
            "Hi Sam, this instance is empty",
            "Hi Sam, I can't find any memory issue",
            "Sam, I detected a few issues"
        ]
        .iter()
        .any(|start| text.starts_with(start)),
        "{text}"
    );
    assert!(text.ends_with('\n'));
}
