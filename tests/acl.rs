//! ACL users end to end: rules one by one (allowed, refused with Redis's
//! NOPERM words, an ACL LOG entry), key patterns with read/write access,
//! channel patterns, selectors, subcommands, AUTH and HELLO AUTH, MULTI
//! and scripts, the ACL file's round trip, `user` lines of the config
//! file, ACL CAT against redis-server, and the user set across a cluster
//! (propagated, given to a node that joins, enforced by a forwarding
//! node).

mod common;

use std::collections::BTreeSet;

use common::cluster::TestCluster;
use common::process::{run_to_exit, TempFile};
use common::redis_server::RedisServer;
use common::{err, eventually, q, v, TestNode, TestServer, DEADLINE};
use redis::{Connection, Value};

const NOPERM_KEY: &str =
    "NOPERM this user has no permissions to access one of the keys used as arguments";
const NOPERM_CHANNEL: &str =
    "NOPERM this user has no permissions to access one of the channels used as arguments";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn noperm(command: &str) -> String {
    format!("NOPERM this user has no permissions to run the '{command}' command")
}

/// A connection authenticated as `user` by the redis crate (AUTH user
/// password from the URL).
fn conn_as(addr: std::net::SocketAddr, user: &str, password: &str) -> Connection {
    redis::Client::open(format!("redis://{user}:{password}@{addr}/"))
        .expect("client")
        .get_connection()
        .expect("connection as the user")
}

fn setuser(admin: &mut Connection, name: &str, rules: &[&str]) {
    let mut args = vec!["ACL", "SETUSER", name];
    args.extend_from_slice(rules);
    let () = q(admin, &args);
}

/// The newest ACL LOG entry's fields (reason, context, object, username).
fn last_log(admin: &mut Connection) -> (String, String, String, String, i64) {
    let entries: Vec<Value> = q(admin, &["ACL", "LOG", "1"]);
    let Some(Value::Array(fields)) = entries.into_iter().next() else {
        panic!("no ACL LOG entry");
    };
    let field = |name: &str| -> Value {
        let at = fields
            .iter()
            .position(|f| matches!(f, Value::BulkString(b) if b == name.as_bytes()))
            .unwrap_or_else(|| panic!("no {name} in the entry"));
        fields[at + 1].clone()
    };
    let text = |name: &str| -> String { redis::from_redis_value(field(name)).expect(name) };
    let count: i64 = redis::from_redis_value(field("count")).expect("count");
    assert!(text("client-info").contains("id="));
    (
        text("reason"),
        text("context"),
        text("object"),
        text("username"),
        count,
    )
}

#[test]
fn commands_keys_and_their_log_entries() {
    let server = TestServer::start();
    let mut admin = server.conn();
    setuser(
        &mut admin,
        "app",
        &[
            "on",
            ">pw",
            "~app:*",
            "+get",
            "+set",
            "+config|get",
            "+acl|whoami",
        ],
    );
    let mut app = conn_as(server.addr, "app", "pw");
    let () = q(&mut app, &["SET", "app:1", "v"]);
    let got: String = q(&mut app, &["GET", "app:1"]);
    assert_eq!(got, "v");
    let _: Value = q(&mut app, &["CONFIG", "GET", "maxmemory"]);

    assert_eq!(err(&mut app, &["GET", "other"]), NOPERM_KEY);
    assert_eq!(
        last_log(&mut admin),
        (
            "key".into(),
            "toplevel".into(),
            "other".into(),
            "app".into(),
            1
        )
    );
    assert_eq!(err(&mut app, &["GET", "other"]), NOPERM_KEY);
    assert_eq!(
        last_log(&mut admin).4,
        2,
        "like refusals group on one entry"
    );
    assert_eq!(err(&mut app, &["DEL", "app:1"]), noperm("del"));
    assert_eq!(
        last_log(&mut admin),
        (
            "command".into(),
            "toplevel".into(),
            "del".into(),
            "app".into(),
            1
        )
    );
    assert_eq!(
        err(&mut app, &["CONFIG", "SET", "maxmemory", "0"]),
        noperm("config|set")
    );
    assert_eq!(last_log(&mut admin).2, "config|set");

    // Rules apply at once to the user's connections.
    setuser(&mut admin, "app", &["+del", "-get"]);
    let deleted: i64 = q(&mut app, &["DEL", "app:1"]);
    assert_eq!(deleted, 1);
    assert_eq!(err(&mut app, &["GET", "app:1"]), noperm("get"));
    let whoami: String = q(&mut app, &["ACL", "WHOAMI"]);
    assert_eq!(whoami, "app");
    let dry: String = q(&mut admin, &["ACL", "DRYRUN", "app", "SET", "x", "1"]);
    assert_eq!(dry, "This user has no permissions to access the 'x' key");
    let () = q(&mut admin, &["ACL", "DRYRUN", "app", "SET", "app:x", "1"]);
    let () = q(&mut admin, &["ACL", "LOG", "RESET"]);
    let empty: Vec<Value> = q(&mut admin, &["ACL", "LOG"]);
    assert!(empty.is_empty());
}

#[test]
fn categories_and_rule_errors() {
    let server = TestServer::start();
    let mut admin = server.conn();
    setuser(
        &mut admin,
        "reader",
        &["on", "nopass", "allkeys", "+@read", "-@hash"],
    );
    let mut reader = conn_as(server.addr, "reader", "any");
    let _: Option<String> = q(&mut reader, &["GET", "k"]);
    let _: i64 = q(&mut reader, &["EXISTS", "k"]);
    assert_eq!(err(&mut reader, &["SET", "k", "v"]), noperm("set"));
    assert_eq!(err(&mut reader, &["HGET", "h", "f"]), noperm("hget"));
    assert_eq!(
        err(&mut admin, &["ACL", "SETUSER", "x", "foo"]),
        "ERR Error in ACL SETUSER modifier 'foo': Syntax error"
    );
    assert_eq!(
        err(&mut admin, &["ACL", "SETUSER", "x", "+nosuch"]),
        "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
    );
    assert_eq!(
        err(&mut admin, &["ACL", "SETUSER", "x", "<nope"]),
        "ERR Error in ACL SETUSER modifier '<nope': The password you are trying to remove from the user does not exist"
    );
    let users: Vec<String> = q(&mut admin, &["ACL", "USERS"]);
    assert_eq!(
        users,
        ["default", "reader"],
        "a failed SETUSER creates nothing"
    );
    assert_eq!(
        err(&mut admin, &["ACL", "DELUSER", "default"]),
        "ERR The 'default' user cannot be removed"
    );
    let pass: String = q(&mut admin, &["ACL", "GENPASS"]);
    assert_eq!(pass.len(), 64);
    assert!(pass.bytes().all(|b| b.is_ascii_hexdigit()));
    let short: String = q(&mut admin, &["ACL", "GENPASS", "5"]);
    assert_eq!(short.len(), 2);
}

#[test]
fn read_and_write_key_patterns() {
    let server = TestServer::start();
    let mut admin = server.conn();
    setuser(
        &mut admin,
        "rw",
        &["on", ">pw", "+@all", "%R~r:*", "%W~w:*"],
    );
    let mut rw = conn_as(server.addr, "rw", "pw");
    let _: Option<String> = q(&mut rw, &["GET", "r:1"]);
    assert_eq!(err(&mut rw, &["SET", "r:1", "v"]), NOPERM_KEY);
    let () = q(&mut rw, &["SET", "w:1", "v"]);
    assert_eq!(err(&mut rw, &["GET", "w:1"]), NOPERM_KEY);
    // SET ... GET reads the old value too.
    assert_eq!(err(&mut rw, &["SET", "w:1", "v", "GET"]), NOPERM_KEY);
    // COPY reads its source and writes its destination.
    let copied: i64 = q(&mut rw, &["COPY", "r:1", "w:2"]);
    assert_eq!(copied, 0);
    assert_eq!(err(&mut rw, &["COPY", "w:1", "r:2"]), NOPERM_KEY);
}

#[test]
fn channel_patterns() {
    let server = TestServer::start();
    let mut admin = server.conn();
    setuser(
        &mut admin,
        "news",
        &["on", ">pw", "+@all", "allkeys", "&news.*"],
    );
    let mut news = conn_as(server.addr, "news", "pw");
    let _: i64 = q(&mut news, &["PUBLISH", "news.today", "m"]);
    assert_eq!(err(&mut news, &["PUBLISH", "sport", "m"]), NOPERM_CHANNEL);
    assert_eq!(
        last_log(&mut admin),
        (
            "channel".into(),
            "toplevel".into(),
            "sport".into(),
            "news".into(),
            1
        )
    );
    // A pattern subscription must name one of the user's patterns as is.
    let mut raw = server.raw();
    raw.call(&["AUTH", "news", "pw"]);
    assert_eq!(
        raw.call(&["PSUBSCRIBE", "news.a*"]).error_text().as_deref(),
        Some(NOPERM_CHANNEL)
    );
    assert!(!raw.call(&["PSUBSCRIBE", "news.*"]).is_error());
    let mut raw = server.raw();
    raw.call(&["AUTH", "news", "pw"]);
    assert_eq!(
        raw.call(&["SUBSCRIBE", "news.x", "sport"])
            .error_text()
            .as_deref(),
        Some(NOPERM_CHANNEL)
    );
    // A subscriber whose channel is taken away is disconnected.
    let mut subscriber = server.raw();
    subscriber.call(&["AUTH", "news", "pw"]);
    assert!(!subscriber.call(&["SUBSCRIBE", "news.x"]).is_error());
    setuser(&mut admin, "news", &["resetchannels", "&other"]);
    let rest = subscriber.read_until_closed();
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn selectors_allow_what_any_of_them_allows() {
    let server = TestServer::start();
    let mut admin = server.conn();
    setuser(
        &mut admin,
        "sel",
        &["on", ">pw", "~a:*", "+get", "(~b:* +set)"],
    );
    let mut sel = conn_as(server.addr, "sel", "pw");
    let _: Option<String> = q(&mut sel, &["GET", "a:1"]);
    let () = q(&mut sel, &["SET", "b:1", "v"]);
    assert_eq!(err(&mut sel, &["GET", "b:1"]), NOPERM_KEY);
    assert_eq!(err(&mut sel, &["SET", "a:1", "v"]), NOPERM_KEY);
    assert_eq!(err(&mut sel, &["DEL", "a:1"]), noperm("del"));
    let list: Vec<String> = q(&mut admin, &["ACL", "LIST"]);
    let line = list
        .iter()
        .find(|l| l.starts_with("user sel "))
        .expect("sel listed");
    assert!(
        line.ends_with(" ~a:* resetchannels -@all +get (~b:* resetchannels -@all +set)"),
        "{line}"
    );
    let user: Value = q(&mut admin, &["ACL", "GETUSER", "sel"]);
    let shown = format!("{user:?}");
    assert!(shown.contains("selectors"), "{shown}");
    setuser(&mut admin, "sel", &["clearselectors"]);
    assert_eq!(err(&mut sel, &["SET", "b:1", "v"]), noperm("set"));
}

#[test]
fn auth_hello_and_the_default_user() {
    let server = TestServer::with(&[("requirepass", "secret")]);
    let mut raw = server.raw();
    assert_eq!(
        raw.call(&["GET", "k"]).error_text().as_deref(),
        Some("NOAUTH Authentication required.")
    );
    assert_eq!(
        raw.call(&["AUTH", "wrong"]).error_text().as_deref(),
        Some(WRONGPASS)
    );
    assert!(!raw.call(&["AUTH", "secret"]).is_error());
    assert!(!raw.call(&["AUTH", "default", "secret"]).is_error());
    raw.call(&["ACL", "SETUSER", "alice", "on", ">a", "+@all", "~*"]);
    let hello = raw.call(&["HELLO", "3", "AUTH", "alice", "a"]);
    assert!(!hello.is_error(), "{}", hello.show());
    assert_eq!(raw.call(&["ACL", "WHOAMI"]).bytes(), Some(&b"alice"[..]));
    let info = raw.call(&["CLIENT", "INFO"]);
    let info = String::from_utf8_lossy(info.bytes().unwrap_or_default()).into_owned();
    assert!(info.contains(" user=alice "), "{info}");
    assert_eq!(
        raw.call(&["AUTH", "alice", "b"]).error_text().as_deref(),
        Some(WRONGPASS)
    );
    let mut admin = redis::Client::open(format!("redis://:secret@{}/", server.addr))
        .expect("client")
        .get_connection()
        .expect("connection");
    assert_eq!(
        last_log(&mut admin),
        (
            "auth".into(),
            "toplevel".into(),
            "AUTH".into(),
            "alice".into(),
            1
        )
    );
    // requirepass is the default user's password.
    let () = q(&mut admin, &["CONFIG", "SET", "requirepass", "other"]);
    let mut raw = server.raw();
    assert_eq!(
        raw.call(&["AUTH", "secret"]).error_text().as_deref(),
        Some(WRONGPASS)
    );
    assert!(!raw.call(&["AUTH", "other"]).is_error());
    // A disabled user cannot authenticate; its open connections run on,
    // as in Redis 7.0 (tests/acl_sessions.rs compares); a deleted user's
    // connections are closed.
    let mut alice = conn_as(server.addr, "alice", "a");
    setuser(&mut admin, "alice", &["off"]);
    let pong: String = q(&mut alice, &["PING"]);
    assert_eq!(pong, "PONG");
    let mut raw = server.raw();
    assert_eq!(
        raw.call(&["AUTH", "alice", "a"]).error_text().as_deref(),
        Some(WRONGPASS)
    );
    setuser(&mut admin, "alice", &["on"]);
    let mut alice = server.raw();
    assert!(!alice.call(&["AUTH", "alice", "a"]).is_error());
    let removed: i64 = q(&mut admin, &["ACL", "DELUSER", "alice"]);
    assert_eq!(removed, 1);
    let rest = alice.read_until_closed();
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn transactions_and_scripts_are_checked() {
    let server = TestServer::start();
    let mut admin = server.conn();
    setuser(
        &mut admin,
        "tx",
        &[
            "on", ">pw", "~k*", "+multi", "+exec", "+get", "+eval", "+set",
        ],
    );
    let mut raw = server.raw();
    raw.call(&["AUTH", "tx", "pw"]);
    raw.call(&["MULTI"]);
    assert_eq!(raw.call(&["DEL", "k"]).error_text(), Some(noperm("del")));
    assert_eq!(
        raw.call(&["GET", "other"]).error_text().as_deref(),
        Some(NOPERM_KEY)
    );
    let exec = raw.call(&["EXEC"]);
    assert_eq!(
        exec.error_text().as_deref(),
        Some("EXECABORT Transaction discarded because of previous errors.")
    );
    // Rules changed between queueing and EXEC.
    raw.call(&["MULTI"]);
    raw.call(&["GET", "k1"]);
    setuser(&mut admin, "tx", &["-get"]);
    let exec = raw.call(&["EXEC"]);
    let shown = exec.show();
    assert!(shown.contains("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand"), "{shown}");
    assert_eq!(last_log(&mut admin).1, "multi");
    // A script's declared keys are checked as any command's; its
    // commands run as the caller.
    let script = raw.call(&["EVAL", "return 1", "1", "other"]);
    assert_eq!(script.error_text().as_deref(), Some(NOPERM_KEY));
    let script = raw.call(&["EVAL", "return redis.call('set', 'other', 'v')", "0"]);
    let text = script.error_text().unwrap_or_default();
    assert!(text.starts_with("ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"), "{text}");
    assert_eq!(last_log(&mut admin).1, "lua");
    let script = raw.call(&["EVAL", "return redis.call('del', KEYS[1])", "1", "k1"]);
    let text = script.error_text().unwrap_or_default();
    assert!(
        text.starts_with("ERR The user executing the script can't run this command or subcommand"),
        "{text}"
    );
    assert!(!raw
        .call(&["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k1"])
        .is_error());
}

#[test]
fn the_acl_file_round_trips() {
    let file = TempFile::new(
        "acl-users.acl",
        "user default on nopass ~* &* +@all\nuser old on >x ~o:* -@all +get\n",
    );
    let server = TestServer::with(&[("aclfile", file.path())]);
    let mut admin = server.conn();
    let users: Vec<String> = q(&mut admin, &["ACL", "USERS"]);
    assert_eq!(users, ["default", "old"]);
    let _old = conn_as(server.addr, "old", "x");
    setuser(
        &mut admin,
        "new",
        &["on", ">y", "%R~n:*", "&c", "+@read", "(~s:* +set)"],
    );
    let () = q(&mut admin, &["ACL", "DELUSER", "old"]);
    let () = q(&mut admin, &["ACL", "SAVE"]);
    let text = std::fs::read_to_string(file.path()).expect("the ACL file");
    assert!(!text.contains("user old"), "{text}");
    assert!(
        !text.contains(">y"),
        "passwords are saved as digests: {text}"
    );
    let before: Vec<String> = q(&mut admin, &["ACL", "LIST"]);
    assert_eq!(text.lines().collect::<Vec<_>>(), before);
    // A change of the file, loaded.
    std::fs::write(file.path(), format!("{text}user extra on nopass +ping\n")).expect("write");
    let () = q(&mut admin, &["ACL", "LOAD"]);
    let after: Vec<String> = q(&mut admin, &["ACL", "LIST"]);
    assert!(before.iter().all(|line| after.contains(line)), "{after:?}");
    assert!(
        after.contains(&"user extra on nopass resetchannels -@all +ping".to_string()),
        "{after:?}"
    );
    assert_eq!(after.len(), before.len() + 1);
    // A bad file changes nothing.
    std::fs::write(file.path(), "user a on\nuser b foo\n").expect("write");
    let e = err(&mut admin, &["ACL", "LOAD"]);
    assert!(
        e.ends_with(":2: Error in applying operation 'foo': Syntax error"),
        "{e}"
    );
    let kept: Vec<String> = q(&mut admin, &["ACL", "LIST"]);
    assert_eq!(kept, after);
}

/// The ringcache client authenticates as a user given in its URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_crate_authenticates_as_a_user() {
    let server = TestServer::start();
    let mut admin = server.conn();
    setuser(&mut admin, "web", &["on", ">p@ss", "~web:*", "+@all"]);
    let url = format!("redis://web:p%40ss@{}", server.addr);
    let client = ringcache_client::Client::connect(
        ringcache_client::ClientConfig::from_url(&url).expect("the URL"),
    )
    .await
    .expect("connected as web");
    client
        .set("web:1", "v", ringcache_client::SetOptions::default())
        .await
        .expect("allowed");
    let got: Option<String> = client.get("web:1").await.expect("allowed");
    assert_eq!(got.as_deref(), Some("v"));
    let refused = client
        .set("other", "v", ringcache_client::SetOptions::default())
        .await
        .expect_err("refused");
    assert_eq!(
        refused.kind(),
        &ringcache_client::ErrorKind::Server("NOPERM".into()),
        "{refused}"
    );
    let bad = format!("redis://web:wrong@{}", server.addr);
    let config = ringcache_client::ClientConfig::from_url(&bad).expect("the URL");
    assert!(ringcache_client::Client::connect(config).await.is_err());
}

#[test]
fn users_from_config_file_lines() {
    let conf = TempFile::new("acl-node.conf", "user svc on >pw ~svc:* +@all\n");
    let node = TestNode::start(&["--config", conf.path()]);
    let mut svc = conn_as(node.addr, "svc", "pw");
    let () = q(&mut svc, &["SET", "svc:1", "v"]);
    assert_eq!(err(&mut svc, &["SET", "x", "v"]), NOPERM_KEY);
    // A bad user line, or users in both places, stop the start.
    let bad = TempFile::new("acl-bad.conf", "user svc on foo\n");
    let (code, stderr) = run_to_exit(&["--port", "0", "--config", bad.path()]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("Error in applying operation 'foo': Syntax error"),
        "{stderr}"
    );
    let file = TempFile::new("acl-both.acl", "user a on\n");
    let args = [
        "--port",
        "0",
        "--config",
        conf.path(),
        "--aclfile",
        file.path(),
    ];
    let (code, stderr) = run_to_exit(&args);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("not both"), "{stderr}");
}

/// ACL CAT of every category answers the commands redis-server 7.0 puts
/// there, among the commands both have.
#[test]
fn categories_match_redis() {
    let Some(redis) = RedisServer::start_or_skip("categories_match_redis") else {
        return;
    };
    let server = TestServer::start();
    let mut ours = server.conn();
    let mut theirs = redis::Client::open(format!("redis://{}/", redis.addr))
        .expect("client")
        .get_connection()
        .expect("redis-server");
    let categories: Vec<String> = q(&mut theirs, &["ACL", "CAT"]);
    let our_categories: Vec<String> = q(&mut ours, &["ACL", "CAT"]);
    assert_eq!(categories, our_categories);
    let all = |conn: &mut Connection| -> BTreeSet<String> {
        categories
            .iter()
            .flat_map(|c| q::<Vec<String>>(conn, &["ACL", "CAT", c]))
            .collect()
    };
    let (our_all, their_all) = (all(&mut ours), all(&mut theirs));
    let both: BTreeSet<&String> = our_all.intersection(&their_all).collect();
    assert!(both.len() > 200, "{} commands in common", both.len());
    let mut differences = Vec::new();
    for category in &categories {
        let of = |conn: &mut Connection| -> BTreeSet<String> {
            q::<Vec<String>>(conn, &["ACL", "CAT", category])
                .into_iter()
                .filter(|c| both.contains(c))
                .collect()
        };
        let (mine, reference) = (of(&mut ours), of(&mut theirs));
        for extra in mine.difference(&reference) {
            differences.push(format!("@{category}: {extra} is ours only"));
        }
        for missing in reference.difference(&mine) {
            differences.push(format!("@{category}: {missing} is redis-server's only"));
        }
    }
    assert!(differences.is_empty(), "{differences:#?}");
}

#[test]
fn users_reach_every_node_and_are_enforced_where_requests_enter() {
    let mut cluster = TestCluster::start(3, &[]);
    let mut admin = cluster.conn(0);
    setuser(&mut admin, "svc", &["on", ">pw", "~svc:*", "+@all"]);
    for i in 1..3 {
        let mut conn = cluster.conn(i);
        let found = eventually(DEADLINE, || {
            let users: Vec<String> = q(&mut conn, &["ACL", "USERS"]);
            users.contains(&"svc".to_string())
        });
        assert!(found, "node {i} has the user");
    }
    // Keys of every owner, through node 1: allowed ones run wherever they
    // live, refused ones are refused at node 1.
    let mut svc = conn_as(cluster.node(1).addr, "svc", "pw");
    let mut owners = BTreeSet::new();
    for i in 0..60 {
        let key = format!("svc:{i}");
        let () = q(&mut svc, &["SET", &key, "v"]);
        owners.extend(cluster.owners(&key).first().copied());
        let other = format!("other:{i}");
        assert_eq!(err(&mut svc, &["SET", &other, "v"]), NOPERM_KEY);
    }
    assert!(owners.len() > 1, "keys on several owners: {owners:?}");
    let mut node1 = cluster.conn(1);
    assert_eq!(last_log(&mut node1).0, "key");
    // A node that joins later gets the users.
    let joined = cluster.add_node();
    cluster.wait_converged(4);
    let mut conn = cluster.conn(joined);
    let found = eventually(DEADLINE, || {
        let users: Vec<String> = q(&mut conn, &["ACL", "USERS"]);
        users.contains(&"svc".to_string())
    });
    assert!(found, "the joining node has the user");
    // Deleting reaches every node too.
    let removed: i64 = q(&mut admin, &["ACL", "DELUSER", "svc"]);
    assert_eq!(removed, 1);
    for i in 1..4 {
        let mut conn = cluster.conn(i);
        let gone = eventually(DEADLINE, || {
            let users: Vec<String> = q(&mut conn, &["ACL", "USERS"]);
            !users.contains(&"svc".to_string())
        });
        assert!(gone, "node {i} dropped the user");
    }
    let _ = v(&mut admin, &["PING"]);
}
