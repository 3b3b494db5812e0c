//! Open connections of a user whose ACL changes, as redis-server 7.0 does
//! (compared in the same test): turned `off` or given other passwords,
//! its connections keep running under its current rules (only new
//! authentications are refused); deleted, its connections are closed.
//! Across a cluster the same happens on every node once the change has
//! reached it.

mod common;

use common::cluster::TestCluster;
use common::redis_server::RedisServer;
use common::{eventually, q, RawConn, TestServer, DEADLINE};

const USERS: [&str; 4] = ["turned-off", "new-password", "deleted", "off-and-narrowed"];

/// A connection authenticated as `user` (password `p`).
fn authenticated(addr: std::net::SocketAddr, user: &str) -> RawConn {
    let mut conn = RawConn::connect(addr);
    let reply = conn.roundtrip(&["AUTH", user, "p"]);
    assert_eq!(reply, b"+OK\r\n", "AUTH {user}");
    conn
}

/// The changes, made on `admin`.
fn change_users(admin: &mut RawConn) {
    for request in [
        &["ACL", "SETUSER", "turned-off", "off"][..],
        &["ACL", "SETUSER", "new-password", "resetpass", ">q"],
        &["ACL", "DELUSER", "deleted"],
        &["ACL", "SETUSER", "off-and-narrowed", "off", "-set"],
    ] {
        let reply = admin.call(request);
        assert!(
            reply.error_text().is_none(),
            "{request:?}: {}",
            reply.show()
        );
    }
}

/// What each connection answers after the change, and whether the
/// deleted user's connection was closed.
fn after_change(addr: std::net::SocketAddr, conns: &mut [RawConn]) -> Vec<String> {
    let mut transcript = Vec::new();
    let mut show = |label: &str, bytes: Vec<u8>| {
        transcript.push(format!("{label}: {}", String::from_utf8_lossy(&bytes)));
    };
    for (i, name) in USERS.iter().enumerate() {
        if *name == "deleted" {
            let rest = conns[i].read_until_closed();
            show("deleted: closed after", rest);
            continue;
        }
        show(name, conns[i].roundtrip(&["SET", "k", name]));
        show(name, conns[i].roundtrip(&["GET", "k"]));
        show(name, conns[i].roundtrip(&["ACL", "WHOAMI"]));
    }
    // New authentications.
    let mut fresh = RawConn::connect(addr);
    for (user, password) in [
        ("turned-off", "p"),
        ("new-password", "p"),
        ("new-password", "q"),
        ("deleted", "p"),
    ] {
        show(user, fresh.roundtrip(&["AUTH", user, password]));
    }
    transcript
}

fn create_users(admin: &mut RawConn) {
    for name in USERS {
        let reply = admin.roundtrip(&["ACL", "SETUSER", name, "on", ">p", "~*", "+@all"]);
        assert_eq!(reply, b"+OK\r\n");
    }
}

#[test]
fn connections_of_changed_users_as_redis() {
    let Some(redis) = RedisServer::start_or_skip("connections_of_changed_users_as_redis") else {
        return;
    };
    let server = TestServer::start();
    let mut transcripts = Vec::new();
    for addr in [redis.addr, server.addr] {
        let mut admin = RawConn::connect(addr);
        create_users(&mut admin);
        let mut conns: Vec<RawConn> = USERS.iter().map(|u| authenticated(addr, u)).collect();
        change_users(&mut admin);
        transcripts.push(after_change(addr, &mut conns));
    }
    assert_eq!(transcripts[1], transcripts[0], "node, then redis-server");
    // What redis-server answered, spelled out.
    let expected_first = "turned-off: +OK\r\n";
    assert_eq!(transcripts[0][0], expected_first);
    assert!(transcripts[0]
        .iter()
        .any(|t| t.starts_with("off-and-narrowed: -NOPERM")));
}

#[test]
fn connections_on_other_nodes_follow_the_synced_change() {
    let cluster = TestCluster::start(3, &[]);
    let mut admin = cluster.node(0).raw();
    create_users(&mut admin);
    let far = cluster.node(2);
    let mut conns: Vec<RawConn> = USERS
        .iter()
        .map(|user| {
            let mut conn = None;
            let synced = eventually(DEADLINE, || {
                let mut raw = far.raw();
                let ok = raw.call(&["AUTH", user, "p"]).error_text().is_none();
                conn = ok.then_some(raw);
                ok
            });
            assert!(synced, "node 2 has {user}");
            conn.expect("an authenticated connection")
        })
        .collect();
    change_users(&mut admin);
    // Once node 2 has the change, its connections behave as node 0's do.
    let reached = eventually(DEADLINE, || {
        let mut raw = far.raw();
        raw.call(&["AUTH", "new-password", "q"])
            .error_text()
            .is_none()
    });
    assert!(reached, "the change reached node 2");
    let transcript = after_change(far.addr, &mut conns);
    let reference = reference_transcript();
    assert_eq!(transcript, reference);
    let mut check = cluster.node(1).conn();
    let users: Vec<String> = q(&mut check, &["ACL", "USERS"]);
    assert!(!users.contains(&"deleted".to_string()), "{users:?}");
}

/// The transcript of the same change on a single node.
fn reference_transcript() -> Vec<String> {
    let node = TestServer::start();
    let mut admin = node.raw();
    create_users(&mut admin);
    let mut conns: Vec<RawConn> = USERS.iter().map(|u| authenticated(node.addr, u)).collect();
    change_users(&mut admin);
    after_change(node.addr, &mut conns)
}
