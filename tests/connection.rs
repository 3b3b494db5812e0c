//! End-to-end tests of the connection commands (PING, ECHO, HELLO, AUTH,
//! SELECT, QUIT, RESET, CLIENT, COMMAND), of command errors that keep the
//! connection open, and of the connection limits (`--maxclients`,
//! `--timeout`), checked against Redis's exact replies.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{eventually, info_field, TestNode};
use ringcache_client::resp::{decode, Value};

/// Generous bound for anything that should happen soon on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// A request as RESP bytes.
fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// Sends one request on a raw connection and returns the reply's exact
/// bytes (one reply per call, so nothing is left over).
fn roundtrip(stream: &mut TcpStream, args: &[&str]) -> Vec<u8> {
    stream.write_all(&command(args)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        if let Some((_, used)) = decode(&buf).expect("valid reply") {
            assert_eq!(used, buf.len(), "one reply only");
            return buf;
        }
        let n = stream.read(&mut chunk).expect("read");
        assert!(
            n > 0,
            "closed before a full reply; got {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Like [`roundtrip`], decoded.
fn query(stream: &mut TcpStream, args: &[&str]) -> Value {
    let raw = roundtrip(stream, args);
    decode(&raw).unwrap().unwrap().0
}

/// A raw connection with a read timeout.
fn raw(node: &TestNode) -> TcpStream {
    let stream = node.raw().stream;
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// Reads until the node closes the connection; panics if it stays open
/// past the read timeout. Returns what arrived before the close.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return out,
            Err(e) => panic!(
                "connection still open ({e}); got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

/// The text of an error from redis-rs (code and message, as sent).
fn error_text<T: std::fmt::Debug>(result: redis::RedisResult<T>) -> String {
    let e = result.expect_err("an error reply");
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

/// The map fields of a HELLO reply (a map in RESP3, pairs in RESP2).
fn hello_fields(reply: Value) -> Vec<(String, Value)> {
    let pairs: Vec<(Value, Value)> = match reply {
        Value::Map(pairs) => pairs,
        Value::Array(items) => items
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect(),
        other => panic!("HELLO reply {other:?}"),
    };
    pairs
        .into_iter()
        .map(|(k, v)| match k {
            Value::Bulk(k) => (String::from_utf8(k).unwrap(), v),
            other => panic!("HELLO key {other:?}"),
        })
        .collect()
}

#[test]
fn ping_and_echo() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let pong: String = redis::cmd("PING").query(&mut conn).unwrap();
    assert_eq!(pong, "PONG");
    let echoed: String = redis::cmd("PING").arg("hello").query(&mut conn).unwrap();
    assert_eq!(echoed, "hello");
    let binary = b"a\r\nb\0\xffc".to_vec();
    let back: Vec<u8> = redis::cmd("ECHO").arg(&binary).query(&mut conn).unwrap();
    assert_eq!(back, binary, "ECHO is binary safe");
    let mut stream = raw(&node);
    assert_eq!(roundtrip(&mut stream, &["PING"]), b"+PONG\r\n");
    assert_eq!(roundtrip(&mut stream, &["ping", "x y"]), b"$3\r\nx y\r\n");
    assert_eq!(
        roundtrip(&mut stream, &["PING", "a", "b"]),
        b"-ERR wrong number of arguments for 'ping' command\r\n"
    );
    assert_eq!(roundtrip(&mut stream, &["ECHO", ""]), b"$0\r\n\r\n");
}

#[test]
fn hello_2_and_3_report_the_connection() {
    let node = TestNode::start(&[]);
    let mut stream = raw(&node);
    let Value::Int(id) = query(&mut stream, &["CLIENT", "ID"]) else {
        panic!("CLIENT ID")
    };
    let raw3 = roundtrip(&mut stream, &["HELLO", "3"]);
    assert!(
        raw3.starts_with(b"%7\r\n"),
        "{:?}",
        String::from_utf8_lossy(&raw3)
    );
    let fields = hello_fields(decode(&raw3).unwrap().unwrap().0);
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["server", "version", "proto", "id", "mode", "role", "modules"]
    );
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).unwrap().1.clone();
    assert_eq!(get("server"), Value::Bulk(b"redis".to_vec()));
    assert_eq!(get("proto"), Value::Int(3));
    assert_eq!(get("id"), Value::Int(id));
    assert_eq!(get("mode"), Value::Bulk(b"standalone".to_vec()));
    assert_eq!(get("role"), Value::Bulk(b"master".to_vec()));
    assert_eq!(get("modules"), Value::Array(vec![]));
    let Value::Bulk(version) = get("version") else {
        panic!("version")
    };
    assert!(String::from_utf8(version).unwrap().starts_with('7'));

    // HELLO without a version keeps the current one.
    let fields = hello_fields(query(&mut stream, &["HELLO"]));
    assert!(fields.contains(&("proto".to_string(), Value::Int(3))));
    let raw2 = roundtrip(&mut stream, &["HELLO", "2"]);
    assert!(raw2.starts_with(b"*14\r\n"), "RESP2 HELLO is a flat array");
    assert!(hello_fields(decode(&raw2).unwrap().unwrap().0)
        .contains(&("proto".to_string(), Value::Int(2))));

    assert_eq!(
        roundtrip(&mut stream, &["HELLO", "4"]),
        b"-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["HELLO", "x"]),
        b"-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["HELLO", "3", "bogus"]),
        b"-ERR Syntax error in HELLO option 'bogus'\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["GET", "missing"]),
        b"$-1\r\n",
        "failed HELLOs kept RESP2"
    );
}

#[test]
fn hello_setname_and_auth_options() {
    let node = TestNode::start(&["--requirepass", "secret"]);
    let mut stream = raw(&node);
    assert_eq!(
        roundtrip(&mut stream, &["HELLO", "3"]),
        b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["HELLO", "3", "AUTH", "default", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    let fields = hello_fields(query(
        &mut stream,
        &[
            "HELLO", "3", "AUTH", "default", "secret", "SETNAME", "conn-1",
        ],
    ));
    assert!(fields.contains(&("proto".to_string(), Value::Int(3))));
    assert_eq!(
        roundtrip(&mut stream, &["CLIENT", "GETNAME"]),
        b"$6\r\nconn-1\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["GET", "k"]),
        b"_\r\n",
        "authenticated and in RESP3"
    );
    assert_eq!(
        roundtrip(&mut stream, &["HELLO", "3", "SETNAME", "bad name"]),
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["CLIENT", "GETNAME"]),
        b"$6\r\nconn-1\r\n"
    );
}

#[test]
fn auth_with_requirepass() {
    let node = TestNode::start(&["--requirepass", "secret"]);
    let mut stream = raw(&node);
    assert_eq!(
        roundtrip(&mut stream, &["PING"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["SET", "k", "v"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    let wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(roundtrip(&mut stream, &["AUTH", "wrong"]), wrongpass);
    assert_eq!(
        roundtrip(&mut stream, &["AUTH", "default", "wrong"]),
        wrongpass
    );
    assert_eq!(
        roundtrip(&mut stream, &["AUTH", "alice", "secret"]),
        wrongpass
    );
    assert_eq!(
        roundtrip(&mut stream, &["AUTH", "a", "b", "c"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(roundtrip(&mut stream, &["AUTH", "secret"]), b"+OK\r\n");
    assert_eq!(roundtrip(&mut stream, &["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(
        roundtrip(&mut stream, &["AUTH", "default", "secret"]),
        b"+OK\r\n"
    );
    // RESET forgets the authentication.
    assert_eq!(roundtrip(&mut stream, &["RESET"]), b"+RESET\r\n");
    assert_eq!(
        roundtrip(&mut stream, &["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );

    // redis-rs sends AUTH for a password in the URL.
    let url = format!("redis://:secret@{}/", node.addr);
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut conn).unwrap();
    assert_eq!(v, "v");
    let wrong = format!("redis://:nope@{}/", node.addr);
    assert!(redis::Client::open(wrong)
        .unwrap()
        .get_connection()
        .is_err());
    let mut anonymous = node.conn();
    assert!(
        error_text(redis::cmd("GET").arg("k").query::<String>(&mut anonymous))
            .starts_with("NOAUTH")
    );
}

#[test]
fn auth_without_a_password_configured() {
    let node = TestNode::start(&[]);
    let mut stream = raw(&node);
    assert_eq!(
        roundtrip(&mut stream, &["AUTH", "x"]),
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["AUTH", "default", "anything"]),
        b"+OK\r\n",
        "default user has nopass"
    );
    assert_eq!(roundtrip(&mut stream, &["PING"]), b"+PONG\r\n");
}

#[test]
fn select_has_database_zero_only() {
    let node = TestNode::start(&[]);
    let mut stream = raw(&node);
    assert_eq!(roundtrip(&mut stream, &["SELECT", "0"]), b"+OK\r\n");
    assert_eq!(
        roundtrip(&mut stream, &["SELECT", "1"]),
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["SELECT", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(roundtrip(&mut stream, &["PING"]), b"+PONG\r\n");
    // redis-rs selects the URL's database.
    let mut db0 = redis::Client::open(format!("redis://{}/0", node.addr))
        .unwrap()
        .get_connection()
        .unwrap();
    let pong: String = redis::cmd("PING").query(&mut db0).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn quit_answers_then_closes() {
    let node = TestNode::start(&[]);
    let mut stream = raw(&node);
    // Requests pipelined after QUIT are not run.
    stream.write_all(b"SET k v\r\nQUIT\r\nSET k w\r\n").unwrap();
    assert_eq!(read_until_closed(&mut stream), b"+OK\r\n+OK\r\n");
    let mut conn = node.conn();
    let v: String = redis::cmd("GET").arg("k").query(&mut conn).unwrap();
    assert_eq!(v, "v");
}

#[test]
fn reset_restores_a_fresh_connection() {
    let node = TestNode::start(&[]);
    let mut stream = raw(&node);
    query(&mut stream, &["HELLO", "3", "SETNAME", "before"]);
    assert_eq!(roundtrip(&mut stream, &["RESET"]), b"+RESET\r\n");
    assert_eq!(
        roundtrip(&mut stream, &["GET", "missing"]),
        b"$-1\r\n",
        "back to RESP2"
    );
    assert_eq!(
        roundtrip(&mut stream, &["CLIENT", "GETNAME"]),
        b"$-1\r\n",
        "name cleared"
    );
    let Value::Bulk(info) = query(&mut stream, &["CLIENT", "INFO"]) else {
        panic!("CLIENT INFO")
    };
    assert!(String::from_utf8(info).unwrap().contains(" resp=2 "));
}

#[test]
fn client_id_names_list_info_and_setinfo() {
    let node = TestNode::start(&[]);
    let mut stream = raw(&node);
    let mut other = node.conn();
    let Value::Int(id) = query(&mut stream, &["CLIENT", "ID"]) else {
        panic!("CLIENT ID")
    };
    let other_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut other).unwrap();
    assert_ne!(id, other_id);
    assert!(id > 0 && other_id > 0);

    assert_eq!(roundtrip(&mut stream, &["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert_eq!(
        roundtrip(&mut stream, &["CLIENT", "SETNAME", "worker-1"]),
        b"+OK\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["CLIENT", "GETNAME"]),
        b"$8\r\nworker-1\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["CLIENT", "SETNAME", "two words"]),
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["CLIENT", "SETINFO", "lib-name", "mylib"]),
        b"+OK\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["CLIENT", "SETINFO", "LIB-VER", "1.2.3"]),
        b"+OK\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["CLIENT", "SETINFO", "color", "red"]),
        b"-ERR Unrecognized option 'color'\r\n"
    );

    let Value::Bulk(info) = query(&mut stream, &["CLIENT", "INFO"]) else {
        panic!("CLIENT INFO")
    };
    let info = String::from_utf8(info).unwrap();
    assert_eq!(info.lines().count(), 1, "{info}");
    let local = stream.local_addr().unwrap();
    for field in [
        format!("id={id} "),
        format!("addr={local} "),
        format!("laddr={} ", node.addr),
        "name=worker-1 ".to_string(),
        "db=0 ".to_string(),
        "lib-name=mylib ".to_string(),
        "lib-ver=1.2.3".to_string(),
    ] {
        assert!(info.contains(&field), "{field:?} in {info}");
    }

    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut other).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list
        .lines()
        .any(|l| l.starts_with(&format!("id={id} ")) && l.contains("name=worker-1 ")));
    assert!(list
        .lines()
        .any(|l| l.starts_with(&format!("id={other_id} "))));
    let only: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(id)
        .query(&mut other)
        .unwrap();
    assert_eq!(only.lines().count(), 1);
    assert!(only.starts_with(&format!("id={id} ")));
    let normal: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("normal")
        .query(&mut other)
        .unwrap();
    assert_eq!(normal.lines().count(), 2);
    assert!(
        error_text(redis::cmd("CLIENT").arg("NOSUCH").query::<()>(&mut other))
            .starts_with("ERR unknown subcommand or wrong number of arguments for 'NOSUCH'")
    );
}

#[test]
fn client_kill_closes_the_other_connection() {
    let node = TestNode::start(&[]);
    let mut admin = node.conn();
    let mut victim = raw(&node);
    let Value::Int(victim_id) = query(&mut victim, &["CLIENT", "ID"]) else {
        panic!("CLIENT ID")
    };
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(victim_id)
        .query(&mut admin)
        .unwrap();
    assert_eq!(killed, 1);
    assert_eq!(
        read_until_closed(&mut victim),
        b"",
        "the victim is closed without a reply"
    );
    assert!(eventually(DEADLINE, || {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
        !list.contains(&format!("id={victim_id} "))
    }));

    // The old form, by address.
    let mut second = raw(&node);
    assert_eq!(
        query(&mut second, &["PING"]),
        Value::Simple(b"PONG".to_vec())
    );
    let addr = second.local_addr().unwrap().to_string();
    let () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg(&addr)
        .query(&mut admin)
        .unwrap();
    assert_eq!(read_until_closed(&mut second), b"");
    assert_eq!(
        error_text(
            redis::cmd("CLIENT")
                .arg("KILL")
                .arg(&addr)
                .query::<()>(&mut admin)
        ),
        "ERR No such client"
    );
    let none: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(999_999)
        .query(&mut admin)
        .unwrap();
    assert_eq!(none, 0);
    // SKIPME yes (the default) spares the caller.
    let own: i64 = redis::cmd("CLIENT").arg("ID").query(&mut admin).unwrap();
    let spared: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(own)
        .query(&mut admin)
        .unwrap();
    assert_eq!(spared, 0);
    let pong: String = redis::cmd("PING").query(&mut admin).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn command_count_info_and_docs() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let count: usize = redis::cmd("COMMAND").arg("COUNT").query(&mut conn).unwrap();
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut conn).unwrap();
    assert_eq!(count, names.len());
    for name in ["get", "set", "hset", "ping", "info", "client", "command"] {
        assert!(names.iter().any(|n| n == name), "{name} in COMMAND LIST");
    }

    let mut stream = raw(&node);
    let Value::Array(infos) = query(
        &mut stream,
        &["COMMAND", "INFO", "get", "nosuchcommand", "SET"],
    ) else {
        panic!("COMMAND INFO")
    };
    assert_eq!(infos.len(), 3);
    let Value::Array(get) = &infos[0] else {
        panic!("info of get")
    };
    assert_eq!(get.len(), 10);
    assert_eq!(get[0], Value::Bulk(b"get".to_vec()));
    assert_eq!(get[1], Value::Int(2));
    assert!(
        matches!(&get[2], Value::Array(flags) if flags.contains(&Value::Simple(b"readonly".to_vec())))
    );
    assert_eq!(&get[3..6], &[Value::Int(1), Value::Int(1), Value::Int(1)]);
    assert_eq!(infos[1], Value::Nil);
    let Value::Array(set) = &infos[2] else {
        panic!("info of SET")
    };
    assert_eq!(set[1], Value::Int(-3));

    let docs = query(&mut stream, &["COMMAND", "DOCS", "get"]);
    let Value::Array(docs) = docs else {
        panic!("COMMAND DOCS in RESP2 is a flat array")
    };
    assert_eq!(docs[0], Value::Bulk(b"get".to_vec()));
    let Value::Array(fields) = &docs[1] else {
        panic!("docs of get")
    };
    let summary = fields
        .chunks(2)
        .find(|p| p[0] == Value::Bulk(b"summary".to_vec()))
        .expect("summary");
    assert!(matches!(&summary[1], Value::Bulk(text) if !text.is_empty()));
    assert_eq!(
        roundtrip(&mut stream, &["COMMAND", "BOGUS"]),
        b"-ERR unknown subcommand or wrong number of arguments for 'BOGUS'. Try COMMAND HELP.\r\n"
    );
}

#[test]
fn unknown_commands_and_wrong_arity_keep_the_connection() {
    let node = TestNode::start(&[]);
    let mut stream = raw(&node);
    assert_eq!(
        roundtrip(&mut stream, &["FOO", "bar", "baz"]),
        b"-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["GET"]),
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["ECHO", "a", "b"]),
        b"-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_eq!(
        roundtrip(&mut stream, &["SET", "k"]),
        b"-ERR wrong number of arguments for 'set' command\r\n"
    );
    assert_eq!(roundtrip(&mut stream, &["PING"]), b"+PONG\r\n");
}

#[test]
fn maxclients_refuses_connections_beyond_the_limit() {
    let node = TestNode::start(&["--maxclients", "2"]);
    let mut first = node.conn();
    let mut second = raw(&node);
    assert_eq!(roundtrip(&mut second, &["PING"]), b"+PONG\r\n");
    let mut third = raw(&node);
    assert_eq!(
        read_until_closed(&mut third),
        b"-ERR max number of clients reached\r\n"
    );
    let rejected: u64 = info_field(&mut first, "rejected_connections")
        .parse()
        .unwrap();
    assert!(rejected >= 1);
    // A freed slot is usable again.
    drop(second);
    assert!(eventually(DEADLINE, || {
        let mut next = raw(&node);
        next.write_all(b"PING\r\n").unwrap();
        read_until_closed_or_reply(&mut next) == b"+PONG\r\n"
    }));
}

/// Reads the first bytes the node sends: a short reply, or what arrived
/// before it closed.
fn read_until_closed_or_reply(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while !out.ends_with(b"\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    out
}

#[test]
fn timeout_closes_idle_clients() {
    let node = TestNode::start(&["--timeout", "1"]);
    let mut idle = raw(&node);
    assert_eq!(roundtrip(&mut idle, &["PING"]), b"+PONG\r\n");
    assert_eq!(
        read_until_closed(&mut idle),
        b"",
        "idle connection closed by the node"
    );
    let mut fresh = raw(&node);
    assert_eq!(roundtrip(&mut fresh, &["PING"]), b"+PONG\r\n");
}

/// CONFIG SET reaches clients already connected, as in Redis: the idle
/// timeout, and the protocol limits on their next request.
#[test]
fn config_set_applies_to_connected_clients() {
    let node = TestNode::start(&[]);
    let mut admin = raw(&node);
    let mut idle = raw(&node);
    let mut busy = raw(&node);
    assert_eq!(roundtrip(&mut idle, &["PING"]), b"+PONG\r\n");
    assert_eq!(roundtrip(&mut busy, &["PING"]), b"+PONG\r\n");
    assert_eq!(
        roundtrip(&mut admin, &["CONFIG", "SET", "proto-max-bulk-len", "2kb"]),
        b"+OK\r\n"
    );
    let mut big = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n".to_vec();
    big.extend_from_slice(&[b'x'; 5000]);
    big.extend_from_slice(b"\r\n");
    busy.write_all(&big).unwrap();
    assert_eq!(
        read_until_closed(&mut busy),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    assert_eq!(
        roundtrip(&mut admin, &["CONFIG", "SET", "timeout", "1"]),
        b"+OK\r\n"
    );
    assert_eq!(
        read_until_closed(&mut idle),
        b"",
        "a client connected before the change is closed once idle"
    );
}

/// Runs redis-cli with `args` against `node`, bounded in time; None when
/// redis-cli is not installed.
fn redis_cli(node: &TestNode, args: &[&str]) -> Option<String> {
    let mut child = match Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &node.addr.port().to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => return None,
        Err(e) => panic!("running redis-cli: {e}"),
    };
    let until = Instant::now() + DEADLINE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= until {
            let _ = child.kill();
            panic!("redis-cli {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "redis-cli {args:?}: {output:?}");
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn redis_cli_works() {
    let node = TestNode::start(&[]);
    let Some(pong) = redis_cli(&node, &["PING"]) else {
        println!("note: redis-cli is not installed; skipping the redis-cli check");
        return;
    };
    assert_eq!(pong.trim(), "PONG");
    assert_eq!(
        redis_cli(&node, &["SET", "cli:key", "hello world"])
            .unwrap()
            .trim(),
        "OK"
    );
    assert_eq!(
        redis_cli(&node, &["GET", "cli:key"]).unwrap().trim(),
        "hello world"
    );
    assert_eq!(
        redis_cli(&node, &["-3", "GET", "missing"]).unwrap().trim(),
        ""
    );
    let info = redis_cli(&node, &["INFO", "server"]).unwrap();
    assert!(info.contains("redis_version:"), "{info}");
    let mut conn = node.conn();
    let v: String = redis::cmd("GET").arg("cli:key").query(&mut conn).unwrap();
    assert_eq!(v, "hello world");
}

/// `CONFIG SET maxclients` bounds new connections at once, as in Redis.
#[test]
fn config_set_maxclients_applies_to_new_connections() {
    let node = TestNode::start(&[]);
    let mut admin = node.conn();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg("1")
        .query(&mut admin)
        .unwrap();
    let mut extra = raw(&node);
    assert_eq!(
        read_until_closed(&mut extra),
        b"-ERR max number of clients reached\r\n"
    );
}

#[test]
fn a_client_that_sends_then_closes_gets_its_replies_and_the_close() {
    // Data and the end of stream can arrive in one readiness event: the
    // node must answer the data and still notice the close.
    use std::io::{Read, Write};
    let node = TestNode::start(&[]);
    for _ in 0..20 {
        let mut stream = std::net::TcpStream::connect(node.addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        stream.write_all(b"SET k v\r\nGET k\r\n").unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let started = std::time::Instant::now();
        let mut reply = Vec::new();
        stream
            .read_to_end(&mut reply)
            .expect("the node closes its side");
        assert_eq!(reply, b"+OK\r\n$1\r\nv\r\n");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
    let mut conn = node.conn();
    assert!(common::eventually(
        std::time::Duration::from_secs(10),
        || { common::info_field(&mut conn, "connected_clients") == "1" }
    ));
}
