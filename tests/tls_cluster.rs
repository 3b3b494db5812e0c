//! `tls-cluster yes`: nodes that serve TLS only link to each other over
//! TLS, each presenting its certificate and checking the peer's against
//! the CA, with the cluster secret's handshake on top; a key written
//! through one node is read through the others (forwarded over those
//! links). A node whose certificate another CA signed cannot link in,
//! even with the secret. `--local-cluster` with TLS does the same in one
//! process.

mod common;

use std::time::Duration;

use common::certs::{redis_tls, tls_only_flags, Identity, TestCa};
use common::cluster::{
    free_port_run, gossip_seed, ring_agreed, start_cluster_node, CONVERGE_DEADLINE,
};
use common::process::TempFile;
use common::redis_server::free_port;
use common::{eventually, info_u64, q, TestNode};

/// A TLS-only cluster node (`--port 0`) with `identity`, trusting `ca`.
fn start_node(
    index: usize,
    seed: Option<&str>,
    ca: &TestCa,
    id: &Identity,
    secret: &TempFile,
) -> TestNode {
    let port = free_port().to_string();
    let mut flags = tls_only_flags(&port, id);
    flags.extend([
        "--tls-ca-cert-file",
        ca.cert.path(),
        "--tls-cluster",
        "yes",
        "--cluster-secret-file",
        secret.path(),
    ]);
    start_cluster_node(&format!("tls-node-{index}"), seed, &flags)
}

#[test]
fn a_tls_cluster_forwards_keys_between_nodes() {
    let ca = TestCa::new("cluster CA");
    let app = ca.issue("app");
    let secret = TempFile::new("tls-cluster-secret", "tls-cluster-test-secret\n");
    let ids: Vec<Identity> = (0..3).map(|i| ca.issue(&format!("node-{i}"))).collect();
    let mut first = start_node(0, None, &ca, &ids[0], &secret);
    let seed = gossip_seed(&mut first);
    let mut nodes = vec![first];
    for (i, id) in ids.iter().enumerate().skip(1) {
        nodes.push(start_node(i, Some(&seed), &ca, id, &secret));
    }
    let clients: Vec<redis::Client> = nodes
        .iter()
        .map(|n| redis_tls(n.addr, &ca, Some(&app)))
        .collect();
    let converged = eventually(CONVERGE_DEADLINE, || {
        ring_agreed(clients.iter().map(|c| c.get_connection().ok()), 3)
    });
    assert!(converged, "the TLS cluster did not converge on 3 nodes");

    let mut conns: Vec<redis::Connection> = clients
        .iter()
        .map(|c| c.get_connection().expect("TLS connection"))
        .collect();
    for i in 0..60 {
        let _: () = q(
            &mut conns[0],
            &["SET", &format!("key:{i}"), &format!("value {i}")],
        );
    }
    for conn in conns.iter_mut().skip(1) {
        for i in 0..60 {
            let got: String = q(conn, &["GET", &format!("key:{i}")]);
            assert_eq!(got, format!("value {i}"));
        }
    }
    // Keys of 60 spread over three nodes: each node forwarded some.
    for conn in &mut conns {
        assert!(info_u64(conn, "cluster_forwarded") > 0);
        assert_eq!(info_u64(conn, "cluster_peer_auth_failed"), 0);
    }
    // Its peers reach a node at its TLS port: the port cannot move while it
    // runs, and the refusal changes nothing.
    let served: Vec<String> = q(&mut conns[0], &["CONFIG", "GET", "tls-port"]);
    let other_port = free_port().to_string();
    let refused = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tls-port")
        .arg(&other_port)
        .query::<()>(&mut conns[0])
        .expect_err("a TLS cluster node's tls-port cannot change");
    assert!(
        refused
            .to_string()
            .contains("cannot change while the node runs"),
        "{refused}"
    );
    let after: Vec<String> = q(&mut conns[0], &["CONFIG", "GET", "tls-port"]);
    assert_eq!(after, served);
    let still: String = q(&mut conns[0], &["GET", "key:1"]);
    assert_eq!(still, "value 1");

    // A node with the secret but a certificate of another CA: the others
    // refuse its links and it refuses theirs, so it never takes part in
    // forwarding (gossip, sealed by the secret, still lists it).
    let stranger_ca = TestCa::new("stranger CA");
    let stranger_id = stranger_ca.issue("node-3");
    let stranger = start_node(3, Some(&seed), &stranger_ca, &stranger_id, &secret);
    let mut via_stranger = redis_tls(stranger.addr, &stranger_ca, Some(&stranger_ca.issue("app")))
        .get_connection()
        .expect("TLS connection to the stranger");
    let refused = eventually(Duration::from_secs(30), || {
        for i in 0..60 {
            let _ = redis::cmd("GET")
                .arg(format!("key:{i}"))
                .query::<redis::Value>(&mut via_stranger);
        }
        info_u64(&mut via_stranger, "cluster_peer_auth_failed") > 0
    });
    assert!(refused, "the stranger's links were not refused");
}

/// A process killed (SIGKILL) and reaped when dropped, even when the test
/// fails.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_local_cluster_serves_tls_and_links_over_it() {
    let ca = TestCa::new("local cluster CA");
    let node_id = ca.issue("local-node");
    let app = ca.issue("app");
    // Plain ports, and TLS ports (peers reach the nodes there, so gossip
    // listens 10000 above them) that miss the plain ones.
    let plain = free_port_run(3, false);
    let tls = loop {
        let tls = free_port_run(3, true);
        if tls.abs_diff(plain) >= 3 {
            break tls;
        }
    };
    let child = std::process::Command::new(common::process::server_binary())
        .args(["--local-cluster", "3", "--port", &plain.to_string()])
        .args(["--tls-port", &tls.to_string(), "--tls-cluster", "yes"])
        .args([
            "--tls-cert-file",
            node_id.cert.path(),
            "--tls-key-file",
            node_id.key.path(),
        ])
        .args(["--tls-ca-cert-file", ca.cert.path()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawning the local cluster");
    let _reaped = Reaped(child);
    let addr = |i: u16| std::net::SocketAddr::from(([127, 0, 0, 1], tls + i));
    let clients: Vec<redis::Client> = (0..3)
        .map(|i| redis_tls(addr(i), &ca, Some(&app)))
        .collect();
    let converged = eventually(CONVERGE_DEADLINE, || {
        ring_agreed(clients.iter().map(|c| c.get_connection().ok()), 3)
    });
    assert!(
        converged,
        "the local TLS cluster did not converge on 3 nodes"
    );
    let mut first = clients[0].get_connection().expect("TLS connection");
    let mut last = clients[2].get_connection().expect("TLS connection");
    for i in 0..30 {
        let _: () = q(&mut first, &["SET", &format!("lc:{i}"), &i.to_string()]);
    }
    for i in 0..30 {
        let got: String = q(&mut last, &["GET", &format!("lc:{i}")]);
        assert_eq!(got, i.to_string());
    }
    // Keys through node 2 were forwarded over the TLS peer links.
    assert!(info_u64(&mut last, "cluster_forwarded") > 0);
    assert_eq!(info_u64(&mut last, "cluster_peer_auth_failed"), 0);
    // The plain ports serve too.
    let mut plain_conn = redis::Client::open(format!("redis://127.0.0.1:{}/", plain + 1))
        .expect("client")
        .get_connection()
        .expect("plain connection");
    let got: String = q(&mut plain_conn, &["GET", "lc:7"]);
    assert_eq!(got, "7");
}
