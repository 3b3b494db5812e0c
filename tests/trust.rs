//! The cluster's trust, end to end: processes without the cluster secret
//! (or with another one) cannot join, take slots or take a member's name;
//! clients, even authenticated ones, cannot run the commands nodes send
//! each other; versions from peers are bounded; the client password never
//! travels between nodes; a node reachable beyond loopback refuses to start
//! without a secret. (Forged and replayed datagrams are unit-tested in
//! server/src/cluster/sealed_transport.rs; protected mode on a public bind
//! in tests/partition.rs, which needs network namespaces.)

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::cluster::TestCluster;
use common::info::field_u64;
use common::process::run_to_exit;
use common::wire::Frame;
use common::{err, eventually, q, TestNode, DEADLINE};
use redis::{Connection, Value};
use ringcache_proto::resp;
use ringcache_server::cluster::peer_auth::{self, HandshakeError};
use ringcache_server::cluster::secret::ClusterKeys;

/// The reproduction of a pinned key: a version at the top of the range.
const PLANTED: &[&str] = &[
    "RCAPPLY",
    "18446744073709551615",
    "victim",
    "0",
    "s",
    "PLANTED",
];

fn info_cluster(conn: &mut Connection) -> String {
    redis::cmd("INFO")
        .arg("cluster")
        .query(conn)
        .expect("INFO cluster")
}

fn figure(conn: &mut Connection, name: &str) -> u64 {
    let info = info_cluster(conn);
    field_u64(&info, name).unwrap_or_else(|| panic!("no {name} in {info}"))
}

fn cluster_slots(conn: &mut Connection) -> Value {
    redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(conn)
        .expect("CLUSTER SLOTS")
}

#[test]
fn strangers_cannot_join_take_slots_or_a_members_name() {
    let cluster = TestCluster::start(
        3,
        &["--cluster-name", "trust-test", "--failure-timeout", "3s"],
    );
    let mut real: Vec<Connection> = (0..3).map(|i| cluster.conn(i)).collect();
    let slots_before = cluster_slots(&mut real[0]);
    // Ring versions count each node's own ring changes.
    let rings_before: Vec<u64> = real
        .iter_mut()
        .map(|c| figure(c, "cluster_ring_version"))
        .collect();
    let seed = cluster.seed().to_string();
    let rogue = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            "0",
            "--cluster-seeds",
            &seed,
            "--weight",
            "1000",
            "--node-name",
            name,
        ];
        args.extend_from_slice(extra);
        TestNode::start(&args)
    };
    let wrong = ["--cluster-name", "trust-test", "--cluster-secret", "not-it"];
    let rogues = [
        ("no secret, default name", rogue("rogue", &[])),
        ("wrong secret", rogue("rogue-wrong-secret", &wrong)),
        (
            "right name, no secret",
            rogue("rogue-no-secret", &["--cluster-name", "trust-test"]),
        ),
        ("a member's name", rogue("node-1", &wrong)),
    ];
    // Hearing nobody, each rogue ends its join wait and takes every slot
    // of its own ring: from then on it gossips as an active member would.
    for (what, node) in &rogues {
        let mut conn = node.conn();
        let alone = eventually(Duration::from_secs(60), || {
            field_u64(&info_cluster(&mut conn), "cluster_slots_primary") == Some(16384)
        });
        assert!(alone, "rogue ({what}) never went active");
    }
    let dropped = |real: &mut [Connection]| -> u64 {
        real.iter_mut()
            .map(|c| figure(c, "cluster_gossip_dropped_bad_mac"))
            .sum()
    };
    let before = dropped(&mut real);
    // Several more rounds of every rogue's gossip reach the seed.
    assert!(eventually(DEADLINE, || dropped(&mut real) >= before + 40));
    for (i, conn) in real.iter_mut().enumerate() {
        let info = info_cluster(conn);
        assert_eq!(
            field_u64(&info, "cluster_members"),
            Some(3),
            "node {i}: {info}"
        );
        assert_eq!(
            field_u64(&info, "cluster_nodes"),
            Some(3),
            "node {i}: {info}"
        );
        assert_eq!(
            field_u64(&info, "cluster_ring_version"),
            Some(rings_before[i]),
            "node {i}: the ring changed"
        );
        assert_eq!(cluster_slots(conn), slots_before, "node {i}: slots moved");
        let nodes: String = q(conn, &["CLUSTER", "NODES"]);
        assert!(!nodes.contains(&node_id_of("rogue")), "node {i}: {nodes}");
        assert_eq!(nodes.lines().count(), 3, "node {i}: {nodes}");
        println!(
            "node-{i}: gossip dropped bad_mac={} stale={} replayed={} malformed={}",
            field_u64(&info, "cluster_gossip_dropped_bad_mac").unwrap_or(0),
            field_u64(&info, "cluster_gossip_dropped_stale").unwrap_or(0),
            field_u64(&info, "cluster_gossip_dropped_replayed").unwrap_or(0),
            field_u64(&info, "cluster_gossip_dropped_malformed").unwrap_or(0),
        );
    }
    // The impostor did not replace node-1: its address is the real one.
    let slots_text = format!("{slots_before:?}");
    assert!(slots_text.contains(&cluster.node(1).addr.port().to_string()));
    for (what, node) in &rogues {
        let mut conn = node.conn();
        let members = figure(&mut conn, "cluster_members");
        println!("rogue ({what}): members in its own view = {members}");
        assert_eq!(members, 1, "rogue ({what}) heard the cluster");
    }
}

/// CLUSTER NODES names a node by a hash of its name.
fn node_id_of(name: &str) -> String {
    ringcache_server::cluster::topology::node_id(name)
}

#[test]
fn clients_cannot_run_peer_commands_and_the_password_stays_home() {
    const PASSWORD: &str = "client-password-7f3a";
    let mut cluster = TestCluster::start_with_password(
        3,
        &[
            "--failure-timeout",
            "3s",
            "--write-quorum",
            "2",
            "--cluster-max-clock-skew",
            "60s",
        ],
        PASSWORD,
    );
    peer_commands_look_absent_to_clients(&cluster);
    a_planted_version_pins_nothing(&cluster);
    a_peer_with_the_key_still_cannot_plant_a_version(&cluster);
    forwarded_writes_run_only_on_the_primary(&cluster);
    effects_apply_only_to_the_copy_they_changed(&cluster);
    carried_commands_are_checked_as_a_clients_are(&cluster);
    config_never_shows_the_secret(&cluster);
    peer_handshakes_carry_no_password(&mut cluster, PASSWORD);
}

fn peer_commands_look_absent_to_clients(cluster: &TestCluster) {
    let mut conn = cluster.conn(0);
    let peer_only: [&[&str]; 10] = [
        PLANTED,
        &["RCEFFECT", "1", "2", "RPUSH", "victim", "x"],
        &["RCREAD", "GET", "victim"],
        &["RCEXPORT", "0", "1"],
        &["RCHANDOFF", "1"],
        &["RCDUMP", "victim"],
        &["RCEXEC", "1", "PING"],
        &["RCPUBLISH", "channel", "message"],
        &["RCWAIT", "1", "100", "victim"],
        &["RCSTATES", "victim"],
    ];
    for args in peer_only {
        let error = err(&mut conn, args);
        let expected = format!("ERR unknown command '{}'", args[0]);
        assert!(error.starts_with(&expected), "{args:?} -> {error}");
    }
    // Not authenticated at all: the same answer.
    let mut raw = cluster.node(0).raw();
    let reply = raw.call(&["RCHANDOFF", "1"]);
    assert!(
        matches!(&reply, Frame::Error(e) if e.starts_with(b"ERR unknown command 'RCHANDOFF'")),
        "{reply:?}"
    );
    let names: Vec<String> = q(&mut conn, &["COMMAND", "LIST"]);
    let count: usize = q(&mut conn, &["COMMAND", "COUNT"]);
    assert_eq!(names.len(), count);
    // Peer commands are `rc` + a word; the client's module-style commands
    // (`rc.lease.get`) are listed.
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with("rc") || n.starts_with("rc.")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "get"));
    let all: Vec<Value> = q(&mut conn, &["COMMAND"]);
    assert_eq!(all.len(), count);
    let info: Vec<Value> = q(&mut conn, &["COMMAND", "INFO", "RCAPPLY", "RCPEER"]);
    assert_eq!(info, vec![Value::Nil, Value::Nil]);
    let docs: Value = q(&mut conn, &["COMMAND", "DOCS", "RCAPPLY"]);
    assert!(
        matches!(&docs, Value::Array(v) if v.is_empty())
            || matches!(&docs, Value::Map(v) if v.is_empty()),
        "{docs:?}"
    );
    // A wrong proof is refused, counted, and closes the connection.
    let refused_before = figure(&mut conn, "cluster_peer_auth_refused");
    let mut raw = cluster.node(0).raw();
    let closed = raw.send_and_read_to_close(b"RCPEER 0123\r\nPING\r\n");
    assert_eq!(closed, b"-ERR peer authentication failed\r\n");
    assert_eq!(
        figure(&mut conn, "cluster_peer_auth_refused"),
        refused_before + 1
    );
}

/// Finding: `RCAPPLY u64::MAX victim 0 s PLANTED` on a replica pinned a
/// value that later writes and deletes could not replace.
fn a_planted_version_pins_nothing(cluster: &TestCluster) {
    let owners = cluster.owners("victim");
    let mut replica = cluster.conn(owners[1]);
    assert!(err(&mut replica, PLANTED).starts_with("ERR unknown command"));
    let mut primary = cluster.conn(owners[0]);
    let _: () = q(&mut primary, &["SET", "victim", "v1"]);
    let deleted: i64 = q(&mut primary, &["DEL", "victim"]);
    assert_eq!(deleted, 1);
    for i in 0..3 {
        let mut conn = cluster.conn(i);
        let _: () = q(&mut conn, &["READONLY"]);
        let value: Option<String> = q(&mut conn, &["GET", "victim"]);
        assert_eq!(value, None, "node {i}");
    }
}

/// Even a process holding the key (a real peer) cannot push a version far
/// ahead of the receiver's clock: refused, counted, not observed.
fn a_peer_with_the_key_still_cannot_plant_a_version(cluster: &TestCluster) {
    let owners = cluster.owners("victim");
    let addr = cluster.node(owners[1]).addr;
    let keys = ClusterKeys::derive(Some(cluster.secret()), "ringcache");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (planted, fresh) = runtime.block_on(async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        peer_auth::prove(&mut stream, &keys)
            .await
            .expect("the handshake succeeds with the key");
        let now_version = (common::unix_secs() as u64 * 1000) << 16;
        let planted = peer_request(&mut stream, PLANTED).await;
        let version = now_version.to_string();
        let fresh = peer_request(
            &mut stream,
            &["RCAPPLY", &version, "fresh-key", "0", "s", "v"],
        )
        .await;
        // Another key: refused before anything runs.
        let mut stranger = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let other = ClusterKeys::derive(Some("not-it"), "ringcache");
        let outcome = peer_auth::prove(&mut stranger, &other).await;
        assert!(
            matches!(outcome, Err(HandshakeError::BadProof)),
            "{outcome:?}"
        );
        (planted, fresh)
    });
    assert!(
        matches!(&planted, resp::Value::Error(e) if String::from_utf8_lossy(e).contains("ahead of this node's clock")),
        "{planted:?}"
    );
    assert_eq!(fresh, resp::Value::Simple(b"OK".to_vec()));
    let mut conn = cluster.conn(owners[1]);
    assert!(figure(&mut conn, "cluster_versions_refused") >= 1);
    // The clock did not take the planted version in: a new write's
    // version is near now, so a later SET still wins over it.
    let _: () = q(&mut conn, &["SET", "victim", "after"]);
    let value: Option<String> = q(&mut conn, &["GET", "victim"]);
    assert_eq!(value.as_deref(), Some("after"));
}

/// A peer whose ring still names this node the primary of a slot (the
/// rings differ for a moment during a change) forwards a write or a
/// transaction here: a replica refuses both with TRYAGAIN, so neither is
/// acknowledged with a copy the primary never gets; the primary runs them.
fn forwarded_writes_run_only_on_the_primary(cluster: &TestCluster) {
    let owners = cluster.owners("forwarded");
    let ask = |node: usize, requests: &[&[&str]]| as_peer(cluster, node, requests);
    let requests: [&[&str]; 2] = [
        &["SET", "forwarded", "single"],
        &[
            "RCEXEC",
            "3",
            "SET",
            "forwarded",
            "in-exec",
            "2",
            "GET",
            "forwarded",
        ],
    ];
    for reply in ask(owners[1], &requests) {
        assert!(
            matches!(&reply, resp::Value::Error(e) if e.starts_with(b"TRYAGAIN ")),
            "{reply:?}"
        );
    }
    let mut replica = cluster.conn(owners[1]);
    let _: () = q(&mut replica, &["READONLY"]);
    let copy: Option<String> = q(&mut replica, &["GET", "forwarded"]);
    assert_eq!(copy, None, "a refused write left a copy");
    let replies = ask(owners[0], &requests[1..]);
    assert_eq!(
        replies[0],
        resp::Value::Array(vec![
            resp::Value::Simple(b"OK".to_vec()),
            resp::Value::Bulk(b"in-exec".to_vec()),
        ])
    );
}

/// A replica runs a write's effect (RCEFFECT) only on the copies at the
/// versions the primary changed, only for replayable commands, and only for
/// keys those commands change.
fn effects_apply_only_to_the_copy_they_changed(cluster: &TestCluster) {
    let owners = cluster.owners("effect-list");
    let mut primary = cluster.conn(owners[0]);
    let _: i64 = q(&mut primary, &["RPUSH", "effect-list", "a", "b"]);
    // RCEFFECT <count> (<key> <before> <after>)... (<argc> <arg>...)...
    let requests: [&[&str]; 4] = [
        &[
            "RCEFFECT",
            "1",
            "effect-list",
            "1",
            "2",
            "3",
            "RPUSH",
            "effect-list",
            "planted",
        ],
        &[
            "RCEFFECT",
            "1",
            "effect-list",
            "1",
            "2",
            "2",
            "DEL",
            "effect-list",
        ],
        &[
            "RCEFFECT",
            "1",
            "other",
            "1",
            "2",
            "3",
            "RPUSH",
            "effect-list",
            "planted",
        ],
        &[
            "RCEFFECT",
            "x",
            "effect-list",
            "1",
            "2",
            "3",
            "RPUSH",
            "effect-list",
            "planted",
        ],
    ];
    let replies = as_peer(cluster, owners[1], &requests);
    let error = |at: usize| match &replies[at] {
        resp::Value::Error(e) => String::from_utf8_lossy(e).into_owned(),
        other => panic!("{other:?}"),
    };
    assert!(error(0).starts_with("RCSTALE "), "{}", error(0));
    assert!(
        error(1).contains("replayable commands only"),
        "{}",
        error(1)
    );
    assert!(error(2).contains("do not change"), "{}", error(2));
    assert_eq!(error(3), "ERR malformed RCEFFECT");
    let mut replica = cluster.conn(owners[1]);
    let _: () = q(&mut replica, &["READONLY"]);
    let copy: Vec<String> = q(&mut replica, &["LRANGE", "effect-list", "0", "-1"]);
    assert_eq!(copy, ["a", "b"]);
}

/// The commands inside a peer's RCEXEC or RCEFFECT pass the checks a
/// client's request passes (arity, what may not nest), a count that would
/// wrap round is malformed, and so is an empty collection's state: none
/// stalls or stops the node.
fn carried_commands_are_checked_as_a_clients_are(cluster: &TestCluster) {
    let requests: [&[&str]; 7] = [
        &["RCEXEC", "3", "RCEXEC", "1", "PING", "1", "PING"],
        &["RCEXEC", "1", "GET"],
        &["RCEFFECT", "1", "carried", "0", "1", "1", "LPOP"],
        &[
            "RCEFFECT",
            "1",
            "carried",
            "0",
            "1",
            "18446744073709551615",
            "x",
        ],
        // A store never holds an empty collection; commands count on it.
        &["RCAPPLY", "1", "empty", "0", "h"],
        &["RCAPPLY", "1", "empty", "0", "z"],
        &["PING"],
    ];
    let replies = as_peer(cluster, 0, &requests);
    let error = |reply: &resp::Value| match reply {
        resp::Value::Error(e) => String::from_utf8_lossy(e).into_owned(),
        other => panic!("{other:?}"),
    };
    let resp::Value::Array(nested) = &replies[0] else {
        panic!("{:?}", replies[0]);
    };
    assert_eq!(
        error(&nested[0]),
        "ERR 'rcexec' can't run inside a transaction"
    );
    assert_eq!(nested[1], resp::Value::Simple(b"PONG".to_vec()));
    let resp::Value::Array(short) = &replies[1] else {
        panic!("{:?}", replies[1]);
    };
    assert_eq!(
        error(&short[0]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        error(&replies[2]),
        "ERR wrong number of arguments for 'lpop' command"
    );
    assert_eq!(error(&replies[3]), "ERR malformed RCEFFECT");
    assert_eq!(error(&replies[4]), "ERR malformed RCAPPLY");
    assert_eq!(error(&replies[5]), "ERR malformed RCAPPLY");
    assert_eq!(replies[6], resp::Value::Simple(b"PONG".to_vec()));
}

/// Sends `requests` to node `node` over a new peer link (the handshake
/// made with the cluster's key) and returns their replies.
fn as_peer(cluster: &TestCluster, node: usize, requests: &[&[&str]]) -> Vec<resp::Value> {
    let keys = ClusterKeys::derive(Some(cluster.secret()), "ringcache");
    let addr = cluster.node(node).addr;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        peer_auth::prove(&mut stream, &keys)
            .await
            .expect("the handshake succeeds with the key");
        let mut replies = Vec::new();
        for request in requests {
            replies.push(peer_request(&mut stream, request).await);
        }
        replies
    })
}

async fn peer_request(stream: &mut tokio::net::TcpStream, args: &[&str]) -> resp::Value {
    use tokio::io::AsyncWriteExt;
    let mut out = BytesMut::new();
    resp::write_command(&mut out, args);
    stream.write_all(&out).await.expect("write");
    let mut input = BytesMut::new();
    peer_auth::read_reply(stream, &mut input)
        .await
        .expect("a reply")
}

fn config_never_shows_the_secret(cluster: &TestCluster) {
    let mut conn = cluster.conn(0);
    let all: Vec<String> = q(&mut conn, &["CONFIG", "GET", "*"]);
    assert!(all.iter().all(|v| !v.contains(cluster.secret())));
    assert!(!all.iter().any(|v| v.starts_with("cluster-secret")));
    assert!(all.iter().any(|v| v == "cluster-name"));
    for name in ["cluster-secret", "Cluster_Secret", "cluster-secret-file"] {
        let refused = err(&mut conn, &["CONFIG", "SET", name, "x"]);
        assert!(refused.contains("immutable"), "{name}: {refused}");
    }
}

/// Before, every peer link began with `AUTH <requirepass>`: the password
/// showed in the peer's SLOWLOG. Links made now (node 2 restarts, so every
/// link to and from it is new) carry no password.
fn peer_handshakes_carry_no_password(cluster: &mut TestCluster, password: &str) {
    // Connections made before the reset: their own AUTH is not logged.
    let mut watchers: Vec<Connection> = (0..2).map(|i| cluster.conn(i)).collect();
    for conn in &mut watchers {
        let _: () = q(conn, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        let _: () = q(conn, &["CONFIG", "SET", "slowlog-max-len", "100000"]);
        let _: () = q(conn, &["SLOWLOG", "RESET"]);
    }
    cluster.kill(2);
    cluster.restart(2);
    let all_three = eventually(Duration::from_secs(60), || {
        watchers
            .iter_mut()
            .all(|c| field_u64(&info_cluster(c), "cluster_nodes") == Some(3))
    });
    assert!(all_three, "node 2 never came back");
    // Traffic through every link; a write refused while slots settle
    // does not matter here.
    for i in 0..30 {
        let key = format!("after-restart:{i}");
        let _ = common::cmd(&["SET", &key, "v"]).query::<Value>(&mut watchers[0]);
    }
    let handshakes_logged = eventually(DEADLINE, || {
        watchers
            .iter_mut()
            .all(|c| slowlog_text(c).contains("RCPEER"))
    });
    assert!(handshakes_logged, "no new peer handshake was logged");
    for (i, conn) in watchers.iter_mut().enumerate() {
        let log = slowlog_text(conn);
        assert!(!log.contains(password), "node {i} SLOWLOG: {log}");
        assert!(!log.contains("AUTH"), "node {i} SLOWLOG: {log}");
        let clients: String = q(conn, &["CLIENT", "LIST"]);
        assert!(!clients.contains(password), "node {i}: {clients}");
    }
    // Every node proved itself to the others.
    let mut node2 = cluster.conn(2);
    assert_eq!(figure(&mut node2, "cluster_peer_auth_failed"), 0);
}

fn slowlog_text(conn: &mut Connection) -> String {
    let entries: Value = q(conn, &["SLOWLOG", "GET", "-1"]);
    format!("{entries:?}")
}

#[test]
fn a_node_reachable_beyond_loopback_refuses_to_start_without_a_secret() {
    // 192.0.2.1 (TEST-NET-1) is on no interface here: the check runs
    // before anything is bound, so the node must exit with the reason,
    // not with a bind error.
    let cases: [&[&str]; 2] = [
        &[
            "--bind",
            "192.0.2.1",
            "--port",
            "0",
            "--cluster-enabled",
            "yes",
        ],
        &[
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--cluster-enabled",
            "yes",
            "--cluster-announce-ip",
            "10.1.2.3",
        ],
    ];
    for args in cases {
        let (code, stderr) = run_to_exit(args);
        assert!(matches!(code, Some(c) if c != 0), "{args:?}: exit {code:?}");
        assert!(
            stderr.contains("refusing to start") && stderr.contains("--cluster-secret-file"),
            "{args:?}: {stderr}"
        );
        println!("{args:?} -> exit {code:?}: {}", stderr.trim());
    }
    // A secret file that cannot be read is an error too, not an open node.
    let (code, stderr) = run_to_exit(&[
        "--port",
        "0",
        "--cluster-enabled",
        "yes",
        "--cluster-secret-file",
        "/nonexistent/ringcache-secret",
    ]);
    assert!(matches!(code, Some(c) if c != 0), "exit {code:?}");
    assert!(stderr.contains("cluster-secret-file"), "{stderr}");
}
