//! `tls-cluster yes`: nodes that serve TLS only link to each other over
//! TLS, each presenting its certificate and checking the peer's against
//! the CA, with the cluster secret's handshake on top; a key written
//! through one node is read through the others (forwarded over those
//! links). A node whose certificate another CA signed cannot link in,
//! even with the secret.

mod common;

use std::time::Duration;

use common::certs::{redis_tls, tls_only_flags, Identity, TestCa};
use common::cluster::{gossip_seed, ring_agreed, start_cluster_node, CONVERGE_DEADLINE};
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
