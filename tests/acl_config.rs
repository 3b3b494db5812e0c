//! The ACL's configuration against redis-server 7.0 started in the same
//! test: `acllog-max-len` (how many ACL LOG entries are kept, and when a
//! lower bound trims), `acl-pubsub-default` (the channels of users and
//! selectors created after it is set), and `requirepass` as the `default`
//! user's password (what CONFIG GET requirepass answers after ACL SETUSER
//! default). Then the same settings from a config file and flags, and
//! requirepass across a cluster, where the user set is one.

mod common;

use common::cluster::TestCluster;
use common::process::TempFile;
use common::redis_server::{assert_same_replies, RedisServer};
use common::wire::Frame;
use common::{eventually, q, RawConn, TestNode, TestServer, DEADLINE};

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// The usernames of the ACL LOG entries, newest first.
fn log_users(conn: &mut RawConn) -> Vec<String> {
    let Frame::Array(entries) = conn.call(&["ACL", "LOG"]) else {
        panic!("ACL LOG is not an array");
    };
    entries
        .iter()
        .map(|entry| {
            let Frame::Array(fields) = entry else {
                panic!("an entry is not an array");
            };
            let at = fields
                .iter()
                .position(|f| f.bytes() == Some(&b"username"[..]))
                .expect("a username field");
            let name = fields[at + 1].bytes().expect("a username");
            String::from_utf8_lossy(name).into_owned()
        })
        .collect()
}

/// Failed AUTHs as each of `users`, each logged once.
fn fail_auths(conn: &mut RawConn, users: &[&str]) {
    for user in users {
        let reply = conn.call(&["AUTH", user, "wrong"]);
        assert_eq!(reply.error_text().as_deref(), Some(WRONGPASS));
    }
}

#[test]
fn acllog_max_len_as_redis() {
    let Some(redis) = RedisServer::start_or_skip("acllog_max_len_as_redis") else {
        return;
    };
    let server = TestServer::start();
    let (mut theirs, mut ours) = (redis.raw(), server.raw());
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["CONFIG", "GET", "acllog-max-len"],
            &["CONFIG", "SET", "acllog-max-len", "-1"],
            &["CONFIG", "SET", "acllog-max-len", "x"],
        ],
    );
    for conn in [&mut theirs, &mut ours] {
        fail_auths(conn, &["u1", "u2", "u3", "u4"]);
    }
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["CONFIG", "SET", "acllog-max-len", "2"],
            &["CONFIG", "GET", "acllog-max-len"],
        ],
    );
    // Lowered, the log keeps what it has until its next entry.
    let kept = log_users(&mut theirs);
    assert_eq!(kept, ["u4", "u3", "u2", "u1"]);
    assert_eq!(log_users(&mut ours), kept);
    for conn in [&mut theirs, &mut ours] {
        fail_auths(conn, &["u5"]);
    }
    let kept = log_users(&mut theirs);
    assert_eq!(kept, ["u5", "u4"]);
    assert_eq!(log_users(&mut ours), kept);
    // 0 keeps nothing.
    for conn in [&mut theirs, &mut ours] {
        assert_ok(conn, &["CONFIG", "SET", "acllog-max-len", "0"]);
        fail_auths(conn, &["u6"]);
        assert!(log_users(conn).is_empty());
    }
}

fn assert_ok(conn: &mut RawConn, request: &[&str]) {
    let reply = conn.roundtrip(request);
    assert_eq!(reply, b"+OK\r\n", "{request:?}");
}

#[test]
fn acl_pubsub_default_as_redis() {
    let Some(redis) = RedisServer::start_or_skip("acl_pubsub_default_as_redis") else {
        return;
    };
    let server = TestServer::start();
    let (mut theirs, mut ours) = (redis.raw(), server.raw());
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["CONFIG", "GET", "acl-pubsub-default"],
            &["CONFIG", "SET", "acl-pubsub-default", "some"],
            &["ACL", "SETUSER", "before", "on", ">p", "+@all"],
            &["CONFIG", "SET", "acl-pubsub-default", "allchannels"],
            &["CONFIG", "GET", "acl-pubsub-default"],
            &["ACL", "SETUSER", "wide", "on", ">p", "+@all", "(~x +get)"],
            &["ACL", "GETUSER", "wide"],
            &["ACL", "GETUSER", "before"],
            // Users already there keep their channels; ones created
            // later follow the new default.
            &["CONFIG", "SET", "acl-pubsub-default", "resetchannels"],
            &["ACL", "GETUSER", "wide"],
            &["ACL", "SETUSER", "narrow", "on", ">p", "+@all"],
            &["ACL", "SETUSER", "wide", "(~y +set)"],
            &["ACL", "LIST"],
        ],
    );
    // What the channels allow, on connections of each user.
    for addr in [redis.addr, server.addr] {
        let mut wide = RawConn::connect(addr);
        assert_ok(&mut wide, &["AUTH", "wide", "p"]);
        let mut narrow = RawConn::connect(addr);
        assert_ok(&mut narrow, &["AUTH", "narrow", "p"]);
        assert_eq!(wide.roundtrip(&["PUBLISH", "news", "x"]), b":0\r\n");
        let refused = narrow.call(&["PUBLISH", "news", "x"]);
        assert_eq!(
            refused.error_text().as_deref(),
            Some("NOPERM this user has no permissions to access one of the channels used as arguments")
        );
    }
}

#[test]
fn requirepass_and_the_default_user_as_redis() {
    let Some(redis) = RedisServer::start_or_skip("requirepass_and_the_default_user_as_redis")
    else {
        return;
    };
    let server = TestServer::start();
    let (mut theirs, mut ours) = (redis.raw(), server.raw());
    // CONFIG SET requirepass sets the default user's only password; ACL
    // SETUSER default changes the user but not what CONFIG GET answers.
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["CONFIG", "SET", "requirepass", "abc"],
            &["ACL", "GETUSER", "default"],
            &["ACL", "SETUSER", "default", ">second"],
            &["CONFIG", "GET", "requirepass"],
            &["ACL", "SETUSER", "default", "<abc"],
            &["CONFIG", "GET", "requirepass"],
            &["ACL", "SETUSER", "default", "resetpass"],
            &["CONFIG", "GET", "requirepass"],
            &["ACL", "LIST"],
            &["ACL", "SETUSER", "default", "nopass"],
            &["CONFIG", "GET", "requirepass"],
            &["CONFIG", "SET", "requirepass", "xyz"],
            &["ACL", "LIST"],
            &["CONFIG", "GET", "requirepass"],
        ],
    );
    for addr in [redis.addr, server.addr] {
        let mut fresh = RawConn::connect(addr);
        let refused = fresh.call(&["GET", "k"]);
        assert_eq!(
            refused.error_text().as_deref(),
            Some("NOAUTH Authentication required.")
        );
        let wrong = fresh.call(&["AUTH", "abc"]);
        assert_eq!(wrong.error_text().as_deref(), Some(WRONGPASS));
        assert_ok(&mut fresh, &["AUTH", "xyz"]);
    }
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["CONFIG", "SET", "requirepass", ""],
            &["ACL", "LIST"],
            &["CONFIG", "GET", "requirepass"],
        ],
    );
}

#[test]
fn acl_settings_from_a_config_file_and_flags() {
    let conf = TempFile::new(
        "acl-settings.conf",
        "user svc on >pw ~svc:* +@all\nacl-pubsub-default allchannels\nacllog-max-len 3\n",
    );
    let node = TestNode::start(&["--config", conf.path(), "--acllog-max-len", "5"]);
    let mut conn = node.conn();
    let got: Vec<String> = q(&mut conn, &["CONFIG", "GET", "acl*"]);
    let pairs: Vec<(&str, &str)> = got
        .chunks(2)
        .map(|p| (p[0].as_str(), p[1].as_str()))
        .collect();
    assert!(pairs.contains(&("acllog-max-len", "5")), "{pairs:?}");
    assert!(
        pairs.contains(&("acl-pubsub-default", "allchannels")),
        "{pairs:?}"
    );
    // The user line follows acl-pubsub-default wherever it is in the file.
    let users: Vec<String> = q(&mut conn, &["ACL", "LIST"]);
    assert!(
        users
            .iter()
            .any(|u| u.contains("svc") && u.contains(" &* ")),
        "{users:?}"
    );
    let mut raw = node.raw();
    fail_auths(&mut raw, &["a", "b", "c", "d", "e", "f", "g"]);
    assert_eq!(log_users(&mut raw).len(), 5);
}

/// A connection to `node` that must authenticate with `password` (none:
/// it must not need one), once the change has reached it.
fn requires(node: &TestNode, password: Option<&str>) -> bool {
    let mut raw = node.raw();
    let open = raw.call(&["PING"]).error_text().is_none();
    match password {
        None => open,
        Some(password) => {
            !open
                && raw.call(&["AUTH", password]).error_text().is_none()
                && raw.call(&["PING"]).error_text().is_none()
        }
    }
}

#[test]
fn requirepass_is_the_clusters_default_user() {
    let mut cluster = TestCluster::start(3, &[]);
    let mut admin = cluster.conn(0);
    let () = q(&mut admin, &["CONFIG", "SET", "requirepass", "shared"]);
    for i in 0..3 {
        let node = cluster.node(i);
        let reached = eventually(DEADLINE, || requires(node, Some("shared")));
        assert!(reached, "node {i} asks for the password set on node 0");
    }
    // A later change of another user carries the default user as node 0
    // left it: the password is not undone anywhere.
    let mut other = cluster.node(1).conn();
    let () = q(&mut other, &["AUTH", "shared"]);
    let () = q(&mut other, &["ACL", "SETUSER", "svc", "on", ">pw", "+@all"]);
    for i in 0..3 {
        let node = cluster.node(i);
        let synced = eventually(DEADLINE, || {
            let mut raw = node.raw();
            raw.call(&["AUTH", "svc", "pw"]).error_text().is_none()
        });
        assert!(synced, "node {i} has the user");
        assert!(requires(node, Some("shared")), "node {i} still asks");
    }
    // CONFIG GET requirepass answers what was set on that node, as
    // Redis's does after ACL SETUSER default.
    let here: Vec<String> = q(&mut admin, &["CONFIG", "GET", "requirepass"]);
    assert_eq!(here, ["requirepass", "shared"]);
    let there: Vec<String> = q(&mut other, &["CONFIG", "GET", "requirepass"]);
    assert_eq!(there, ["requirepass", ""]);
    // A node that joins later asks for it too.
    let joined = cluster.add_node();
    let node = cluster.node(joined);
    let reached = eventually(DEADLINE, || requires(node, Some("shared")));
    assert!(reached, "the joining node asks for the password");
    // Emptied on any node, no node asks any more.
    let () = q(&mut other, &["CONFIG", "SET", "requirepass", ""]);
    for i in 0..4 {
        let node = cluster.node(i);
        assert!(eventually(DEADLINE, || requires(node, None)), "node {i}");
    }
}
