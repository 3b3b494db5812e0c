//! End-to-end tests of the connection commands (PING, ECHO, HELLO, AUTH,
//! SELECT, QUIT, RESET, CLIENT, COMMAND), of command errors that keep the
//! connection open, and of the connection limits (`--maxclients`,
//! `--timeout`), checked against Redis's exact replies.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::errors::{
    line, unknown_subcommand, wrong_arity, BAD_CLIENT_NAME, BAD_PROTOCOL_VERSION, MAX_CLIENTS,
    NOAUTH, SYNTAX, WRONGPASS,
};
use common::redis_server::skip_without;
use common::wire::{frame_of, Frame};
use common::{error_text, eventually, info_field, q, TestServer, DEADLINE};

/// The map fields of a HELLO reply (a map in RESP3, pairs in RESP2).
fn hello_fields(reply: Frame) -> Vec<(String, Frame)> {
    let pairs: Vec<(Frame, Frame)> = match reply {
        Frame::Map(pairs) => pairs,
        Frame::Array(items) => items
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect(),
        other => panic!("HELLO reply {other:?}"),
    };
    pairs
        .into_iter()
        .map(|(k, v)| match k {
            Frame::Bulk(k) => (String::from_utf8(k).expect("UTF-8"), v),
            other => panic!("HELLO key {other:?}"),
        })
        .collect()
}

fn bulk(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec())
}

#[test]
fn ping_and_echo() {
    let node = TestServer::start();
    let mut conn = node.conn();
    assert_eq!(q::<String>(&mut conn, &["PING"]), "PONG");
    assert_eq!(q::<String>(&mut conn, &["PING", "hello"]), "hello");
    let binary = b"a\r\nb\0\xffc".to_vec();
    let back: Vec<u8> = redis::cmd("ECHO").arg(&binary).query(&mut conn).unwrap();
    assert_eq!(back, binary, "ECHO is binary safe");
    let mut raw = node.raw();
    assert_eq!(raw.roundtrip(&["PING"]), b"+PONG\r\n");
    assert_eq!(raw.roundtrip(&["ping", "x y"]), b"$3\r\nx y\r\n");
    assert_eq!(
        raw.roundtrip(&["PING", "a", "b"]),
        line(&wrong_arity("ping"))
    );
    assert_eq!(raw.roundtrip(&["ECHO", ""]), b"$0\r\n\r\n");
}

#[test]
fn hello_2_and_3_report_the_connection() {
    let node = TestServer::start();
    let mut raw = node.raw();
    let id = raw.client_id();
    let raw3 = raw.roundtrip(&["HELLO", "3"]);
    assert!(
        raw3.starts_with(b"%7\r\n"),
        "{:?}",
        String::from_utf8_lossy(&raw3)
    );
    let fields = hello_fields(frame_of(&raw3, true));
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["server", "version", "proto", "id", "mode", "role", "modules"]
    );
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).unwrap().1.clone();
    assert_eq!(get("server"), bulk("redis"));
    assert_eq!(get("proto"), Frame::Int(3));
    assert_eq!(get("id"), Frame::Int(id));
    assert_eq!(get("mode"), bulk("standalone"));
    assert_eq!(get("role"), bulk("master"));
    assert_eq!(get("modules"), Frame::Array(vec![]));
    let Frame::Bulk(version) = get("version") else {
        panic!("version")
    };
    assert!(String::from_utf8(version).unwrap().starts_with('7'));

    // HELLO without a version keeps the current one.
    let fields = hello_fields(raw.call(&["HELLO"]));
    assert!(fields.contains(&("proto".to_string(), Frame::Int(3))));
    let raw2 = raw.roundtrip(&["HELLO", "2"]);
    assert!(raw2.starts_with(b"*14\r\n"), "RESP2 HELLO is a flat array");
    assert!(hello_fields(frame_of(&raw2, false)).contains(&("proto".to_string(), Frame::Int(2))));

    assert_eq!(
        raw.roundtrip(&["HELLO", "4"]),
        line("NOPROTO unsupported protocol version")
    );
    assert_eq!(raw.roundtrip(&["HELLO", "x"]), line(BAD_PROTOCOL_VERSION));
    assert_eq!(
        raw.roundtrip(&["HELLO", "3", "bogus"]),
        line("ERR Syntax error in HELLO option 'bogus'")
    );
    assert_eq!(
        raw.roundtrip(&["GET", "missing"]),
        b"$-1\r\n",
        "failed HELLOs kept RESP2"
    );
}

#[test]
fn hello_setname_and_auth_options() {
    let node = TestServer::with(&[("requirepass", "secret")]);
    let mut raw = node.raw();
    assert_eq!(
        raw.roundtrip(&["HELLO", "3"]),
        line("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
    );
    assert_eq!(
        raw.roundtrip(&["HELLO", "3", "AUTH", "default", "wrong"]),
        line(WRONGPASS)
    );
    assert_eq!(raw.roundtrip(&["GET", "k"]), line(NOAUTH));
    let fields = hello_fields(raw.call(&[
        "HELLO", "3", "AUTH", "default", "secret", "SETNAME", "conn-1",
    ]));
    assert!(fields.contains(&("proto".to_string(), Frame::Int(3))));
    assert_eq!(raw.roundtrip(&["CLIENT", "GETNAME"]), b"$6\r\nconn-1\r\n");
    assert_eq!(
        raw.roundtrip(&["GET", "k"]),
        b"_\r\n",
        "authenticated and in RESP3"
    );
    assert_eq!(
        raw.roundtrip(&["HELLO", "3", "SETNAME", "bad name"]),
        line(BAD_CLIENT_NAME)
    );
    assert_eq!(raw.roundtrip(&["CLIENT", "GETNAME"]), b"$6\r\nconn-1\r\n");
}

#[test]
fn auth_with_requirepass() {
    let node = TestServer::with(&[("requirepass", "secret")]);
    let mut raw = node.raw();
    let cases: [(&[&str], Vec<u8>); 10] = [
        (&["PING"], line(NOAUTH)),
        (&["SET", "k", "v"], line(NOAUTH)),
        (&["AUTH", "wrong"], line(WRONGPASS)),
        (&["AUTH", "default", "wrong"], line(WRONGPASS)),
        (&["AUTH", "alice", "secret"], line(WRONGPASS)),
        (&["AUTH", "a", "b", "c"], line(SYNTAX)),
        (&["AUTH", "secret"], b"+OK\r\n".to_vec()),
        (&["SET", "k", "v"], b"+OK\r\n".to_vec()),
        (&["AUTH", "default", "secret"], b"+OK\r\n".to_vec()),
        // RESET forgets the authentication.
        (&["RESET"], b"+RESET\r\n".to_vec()),
    ];
    for (request, reply) in cases {
        assert_eq!(raw.roundtrip(request), reply, "{request:?}");
    }
    assert_eq!(raw.roundtrip(&["GET", "k"]), line(NOAUTH));

    // redis-rs sends AUTH for a password in the URL.
    let url = format!("redis://:secret@{}/", node.addr);
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    assert_eq!(q::<String>(&mut conn, &["GET", "k"]), "v");
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
    let node = TestServer::start();
    let mut raw = node.raw();
    assert_eq!(
        raw.roundtrip(&["AUTH", "x"]),
        line("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
    assert_eq!(
        raw.roundtrip(&["AUTH", "default", "anything"]),
        b"+OK\r\n",
        "default user has nopass"
    );
    assert_eq!(raw.roundtrip(&["PING"]), b"+PONG\r\n");
}

#[test]
fn quit_answers_then_closes() {
    let node = TestServer::start();
    let mut raw = node.raw();
    // Requests pipelined after QUIT are not run.
    raw.send(b"SET k v\r\nQUIT\r\nSET k w\r\n");
    assert_eq!(raw.read_until_closed(), b"+OK\r\n+OK\r\n");
    assert_eq!(q::<String>(&mut node.conn(), &["GET", "k"]), "v");
}

#[test]
fn reset_restores_a_fresh_connection() {
    let node = TestServer::start();
    let mut raw = node.raw();
    raw.call(&["HELLO", "3", "SETNAME", "before"]);
    assert_eq!(raw.roundtrip(&["RESET"]), b"+RESET\r\n");
    assert_eq!(
        raw.roundtrip(&["GET", "missing"]),
        b"$-1\r\n",
        "back to RESP2"
    );
    assert_eq!(
        raw.roundtrip(&["CLIENT", "GETNAME"]),
        b"$-1\r\n",
        "name cleared"
    );
    let Frame::Bulk(info) = raw.call(&["CLIENT", "INFO"]) else {
        panic!("CLIENT INFO")
    };
    assert!(String::from_utf8(info).unwrap().contains(" resp=2 "));
}

#[test]
fn client_id_names_list_info_and_setinfo() {
    let node = TestServer::start();
    let mut raw = node.raw();
    let mut other = node.conn();
    let id = raw.client_id();
    let other_id: i64 = q(&mut other, &["CLIENT", "ID"]);
    assert_ne!(id, other_id);
    assert!(id > 0 && other_id > 0);

    let cases: [(&[&str], Vec<u8>); 7] = [
        (&["CLIENT", "GETNAME"], b"$-1\r\n".to_vec()),
        (&["CLIENT", "SETNAME", "worker-1"], b"+OK\r\n".to_vec()),
        (&["CLIENT", "GETNAME"], b"$8\r\nworker-1\r\n".to_vec()),
        (&["CLIENT", "SETNAME", "two words"], line(BAD_CLIENT_NAME)),
        (
            &["CLIENT", "SETINFO", "lib-name", "mylib"],
            b"+OK\r\n".to_vec(),
        ),
        (
            &["CLIENT", "SETINFO", "LIB-VER", "1.2.3"],
            b"+OK\r\n".to_vec(),
        ),
        (
            &["CLIENT", "SETINFO", "color", "red"],
            line("ERR Unrecognized option 'color'"),
        ),
    ];
    for (request, reply) in cases {
        assert_eq!(raw.roundtrip(request), reply, "{request:?}");
    }

    let Frame::Bulk(info) = raw.call(&["CLIENT", "INFO"]) else {
        panic!("CLIENT INFO")
    };
    let info = String::from_utf8(info).unwrap();
    assert_eq!(info.lines().count(), 1, "{info}");
    let local = raw.stream.local_addr().unwrap();
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

    let list: String = q(&mut other, &["CLIENT", "LIST"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list
        .lines()
        .any(|l| l.starts_with(&format!("id={id} ")) && l.contains("name=worker-1 ")));
    assert!(list
        .lines()
        .any(|l| l.starts_with(&format!("id={other_id} "))));
    let only: String = q(&mut other, &["CLIENT", "LIST", "ID", &id.to_string()]);
    assert_eq!(only.lines().count(), 1);
    assert!(only.starts_with(&format!("id={id} ")));
    let normal: String = q(&mut other, &["CLIENT", "LIST", "TYPE", "normal"]);
    assert_eq!(normal.lines().count(), 2);
    assert!(
        error_text(redis::cmd("CLIENT").arg("NOSUCH").query::<()>(&mut other))
            .starts_with(&unknown_subcommand("NOSUCH", "CLIENT"))
    );
}

#[test]
fn client_kill_closes_the_other_connection() {
    let node = TestServer::start();
    let mut admin = node.conn();
    let mut victim = node.raw();
    let victim_id = victim.client_id().to_string();
    let killed: i64 = q(&mut admin, &["CLIENT", "KILL", "ID", &victim_id]);
    assert_eq!(killed, 1);
    assert_eq!(
        victim.read_until_closed(),
        b"",
        "the victim is closed without a reply"
    );
    assert!(eventually(DEADLINE, || {
        let list: String = q(&mut admin, &["CLIENT", "LIST"]);
        !list.contains(&format!("id={victim_id} "))
    }));

    // The old form, by address.
    let mut second = node.raw();
    assert_eq!(second.call(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    let addr = second.stream.local_addr().unwrap().to_string();
    let () = q(&mut admin, &["CLIENT", "KILL", &addr]);
    assert_eq!(second.read_until_closed(), b"");
    assert_eq!(
        error_text(
            redis::cmd("CLIENT")
                .arg("KILL")
                .arg(&addr)
                .query::<()>(&mut admin)
        ),
        "ERR No such client"
    );
    let none: i64 = q(&mut admin, &["CLIENT", "KILL", "ID", "999999"]);
    assert_eq!(none, 0);
    // SKIPME yes (the default) spares the caller.
    let own: i64 = q(&mut admin, &["CLIENT", "ID"]);
    let spared: i64 = q(&mut admin, &["CLIENT", "KILL", "ID", &own.to_string()]);
    assert_eq!(spared, 0);
    assert_eq!(q::<String>(&mut admin, &["PING"]), "PONG");
}

#[test]
fn command_count_info_and_docs() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let count: usize = q(&mut conn, &["COMMAND", "COUNT"]);
    let names: Vec<String> = q(&mut conn, &["COMMAND", "LIST"]);
    assert_eq!(count, names.len());
    for name in ["get", "set", "hset", "ping", "info", "client", "command"] {
        assert!(names.iter().any(|n| n == name), "{name} in COMMAND LIST");
    }

    let mut raw = node.raw();
    let Frame::Array(infos) = raw.call(&["COMMAND", "INFO", "get", "nosuchcommand", "SET"]) else {
        panic!("COMMAND INFO")
    };
    assert_eq!(infos.len(), 3);
    let Frame::Array(get) = &infos[0] else {
        panic!("info of get")
    };
    assert_eq!(get.len(), 10);
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], Frame::Int(2));
    assert!(
        matches!(&get[2], Frame::Array(flags) if flags.contains(&Frame::Simple(b"readonly".to_vec())))
    );
    assert_eq!(&get[3..6], &[Frame::Int(1), Frame::Int(1), Frame::Int(1)]);
    // A nil for the unknown command (redis-server 7.0 sends `$-1`).
    assert!(
        matches!(infos[1], Frame::NullBulk | Frame::NullArray),
        "{:?}",
        infos[1]
    );
    let Frame::Array(set) = &infos[2] else {
        panic!("info of SET")
    };
    assert_eq!(set[1], Frame::Int(-3));

    let Frame::Array(docs) = raw.call(&["COMMAND", "DOCS", "get"]) else {
        panic!("COMMAND DOCS in RESP2 is a flat array")
    };
    assert_eq!(docs[0], bulk("get"));
    let Frame::Array(fields) = &docs[1] else {
        panic!("docs of get")
    };
    let summary = fields
        .chunks(2)
        .find(|p| p[0] == bulk("summary"))
        .expect("summary");
    assert!(matches!(&summary[1], Frame::Bulk(text) if !text.is_empty()));
    assert_eq!(
        raw.roundtrip(&["COMMAND", "BOGUS"]),
        line(&unknown_subcommand("BOGUS", "COMMAND"))
    );
}

#[test]
fn unknown_commands_and_wrong_arity_keep_the_connection() {
    let node = TestServer::start();
    let mut raw = node.raw();
    assert_eq!(
        raw.roundtrip(&["FOO", "bar", "baz"]),
        line("ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' ")
    );
    for request in [&["GET"][..], &["ECHO", "a", "b"], &["SET", "k"]] {
        assert_eq!(raw.roundtrip(request), line(&wrong_arity(request[0])));
    }
    assert_eq!(raw.roundtrip(&["PING"]), b"+PONG\r\n");
}

/// True when a new connection gets PONG to a PING (not a refusal).
fn a_new_client_is_served(node: &TestServer) -> bool {
    let mut next = node.raw();
    next.send(b"PING\r\n");
    matches!(next.next(), Ok(Frame::Simple(pong)) if pong == b"PONG")
}

#[test]
fn maxclients_refuses_connections_beyond_the_limit() {
    let node = TestServer::with(&[("maxclients", "2")]);
    let mut first = node.conn();
    let mut second = node.raw();
    assert_eq!(second.roundtrip(&["PING"]), b"+PONG\r\n");
    let mut third = node.raw();
    assert_eq!(third.read_until_closed(), line(MAX_CLIENTS));
    let rejected: u64 = info_field(&mut first, "rejected_connections")
        .parse()
        .unwrap();
    assert!(rejected >= 1);
    // A freed slot is usable again.
    drop(second);
    assert!(eventually(DEADLINE, || a_new_client_is_served(&node)));
}

#[test]
fn timeout_closes_idle_clients() {
    let node = TestServer::with(&[("timeout", "1")]);
    let mut idle = node.raw();
    assert_eq!(idle.roundtrip(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        idle.read_until_closed(),
        b"",
        "idle connection closed by the node"
    );
    let mut fresh = node.raw();
    assert_eq!(fresh.roundtrip(&["PING"]), b"+PONG\r\n");
}

/// CONFIG SET reaches clients already connected, as in Redis: the idle
/// timeout, and the protocol limits on their next request.
#[test]
fn config_set_applies_to_connected_clients() {
    let node = TestServer::start();
    let mut admin = node.raw();
    let mut idle = node.raw();
    let mut busy = node.raw();
    assert_eq!(idle.roundtrip(&["PING"]), b"+PONG\r\n");
    assert_eq!(busy.roundtrip(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        admin.roundtrip(&["CONFIG", "SET", "proto-max-bulk-len", "2kb"]),
        b"+OK\r\n"
    );
    busy.send_command(&[&b"SET"[..], b"k", &[b'x'; 5000]]);
    assert_eq!(
        busy.read_until_closed(),
        line("ERR Protocol error: invalid bulk length")
    );
    assert_eq!(
        admin.roundtrip(&["CONFIG", "SET", "timeout", "1"]),
        b"+OK\r\n"
    );
    assert_eq!(
        idle.read_until_closed(),
        b"",
        "a client connected before the change is closed once idle"
    );
}

/// Runs redis-cli with `args` against `node`, bounded in time.
fn redis_cli(node: &TestServer, args: &[&str]) -> String {
    common::redis_server::redis_cli(node.addr.port(), args)
}

#[test]
fn redis_cli_works() {
    if skip_without("redis_cli_works", &["redis-cli"]) {
        return;
    }
    let node = TestServer::start();
    assert_eq!(redis_cli(&node, &["PING"]).trim(), "PONG");
    assert_eq!(
        redis_cli(&node, &["SET", "cli:key", "hello world"]).trim(),
        "OK"
    );
    assert_eq!(redis_cli(&node, &["GET", "cli:key"]).trim(), "hello world");
    assert_eq!(redis_cli(&node, &["-3", "GET", "missing"]).trim(), "");
    let info = redis_cli(&node, &["INFO", "server"]);
    assert!(info.contains("redis_version:"), "{info}");
    assert_eq!(
        q::<String>(&mut node.conn(), &["GET", "cli:key"]),
        "hello world"
    );
}

/// `CONFIG SET maxclients` bounds new connections at once, as in Redis.
#[test]
fn config_set_maxclients_applies_to_new_connections() {
    let node = TestServer::start();
    let mut admin = node.conn();
    let () = q(&mut admin, &["CONFIG", "SET", "maxclients", "1"]);
    let mut extra = node.raw();
    assert_eq!(extra.read_until_closed(), line(MAX_CLIENTS));
}

#[test]
fn a_client_that_sends_then_closes_gets_its_replies_and_the_close() {
    // Data and the end of stream can arrive in one readiness event: the
    // node must answer the data and still notice the close.
    let node = TestServer::start();
    for _ in 0..20 {
        let mut stream = node.raw().stream;
        stream.write_all(b"SET k v\r\nGET k\r\n").unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let started = Instant::now();
        let mut reply = Vec::new();
        stream
            .read_to_end(&mut reply)
            .expect("the node closes its side");
        assert_eq!(reply, b"+OK\r\n$1\r\nv\r\n");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    let mut conn = node.conn();
    assert!(eventually(Duration::from_secs(10), || {
        info_field(&mut conn, "connected_clients") == "1"
    }));
}
