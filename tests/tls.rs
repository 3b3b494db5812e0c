//! TLS on the client port (server/src/tls): redis-cli and redis-rs over
//! TLS, mutual TLS (`tls-auth-clients yes`, `optional`), certificates of
//! the wrong CA or expired refused, certificates reloaded by CONFIG SET,
//! a node serving TLS only, a stalled handshake that holds nobody else,
//! the Rust client over TLS from a `rediss://` URL, the log line of a
//! refused handshake. Certificates are made at test time
//! (tests/common/certs.rs); tls_runtime.rs changes tls-port and the key's
//! passphrase while the node runs.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;

use common::certs::{
    client_config, der, ping, redis_tls, tls_addr, tls_node, tls_only_flags, tls_only_node, TestCa,
};
use common::errors::config_set_failed;
use common::redis_server::free_port;
use common::{err, q, TestNode, TestServer, DEADLINE};
use ringcache_client::{Client, SetOptions, TlsOptions};

#[test]
fn redis_cli_sets_and_gets_over_tls() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let client = ca.issue("client");
    let node = tls_node(&ca, &server, "yes", true);
    let addr = tls_addr(&node);
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &addr.port().to_string(), "--tls"])
            .args(["--cacert", ca.cert.path()])
            .args(["--cert", client.cert.path(), "--key", client.key.path()])
            .args(args)
            .output()
            .expect("running redis-cli");
        assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["PING"]), "PONG");
    assert_eq!(cli(&["SET", "greeting", "hello over tls"]), "OK");
    assert_eq!(cli(&["GET", "greeting"]), "hello over tls");
    // The same key through the plain port: one node, two doors.
    let got: String = q(&mut node.conn(), &["GET", "greeting"]);
    assert_eq!(got, "hello over tls");
}

#[test]
fn redis_rs_over_tls_with_large_values_and_pipelines() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let client = ca.issue("client");
    let node = tls_node(&ca, &server, "yes", true);
    let mut conn = redis_tls(tls_addr(&node), &ca, Some(&client))
        .get_connection()
        .expect("TLS connection");
    // Larger than TLS records and socket buffers: replies go out in many
    // writes, some of them partial.
    let big: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut conn)
        .expect("SET");
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut conn).expect("GET");
    assert!(back == big, "the value came back changed");
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("INCR").arg("counter").ignore();
        pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    pipe.cmd("GET").arg("counter");
    let (counter,): (i64,) = pipe.query(&mut conn).expect("pipeline");
    assert_eq!(counter, 1000);
}

#[test]
fn mutual_tls_refuses_clients_without_a_trusted_certificate() {
    let ca = TestCa::new("ringcache test CA");
    let stranger_ca = TestCa::new("another CA");
    let server = ca.issue("node");
    let node = tls_node(&ca, &server, "yes", false);
    let addr = tls_addr(&node);
    let client = ca.issue("client");
    assert_eq!(
        ping(addr, client_config(&ca, Some(&client))),
        Ok(der(&server.cert_pem))
    );
    assert!(
        ping(addr, client_config(&ca, None)).is_err(),
        "no certificate"
    );
    let forged = stranger_ca.issue("client");
    assert!(
        ping(addr, client_config(&ca, Some(&forged))).is_err(),
        "another CA's certificate"
    );
    let expired = ca.issue_until("client", -1);
    assert!(
        ping(addr, client_config(&ca, Some(&expired))).is_err(),
        "an expired certificate"
    );
    // The node still serves the client it trusts.
    assert!(ping(addr, client_config(&ca, Some(&client))).is_ok());
}

#[test]
fn client_certificates_chain_to_a_ca_directory() {
    let ca = TestCa::new("ringcache test CA");
    let dir = std::env::temp_dir().join(format!("ringcache-{}-tls-ca-dir", std::process::id()));
    std::fs::create_dir_all(&dir).expect("CA directory");
    std::fs::write(dir.join("ca.pem"), &ca.cert_pem).expect("CA file");
    std::fs::write(dir.join("README"), "not a certificate").expect("another file");
    let server = ca.issue("node");
    let node = TestServer::builder()
        .set("tls-cert-file", server.cert.path())
        .set("tls-key-file", server.key.path())
        .set("tls-ca-cert-dir", dir.to_str().expect("a UTF-8 path"))
        .tls(false)
        .start();
    let addr = tls_addr(&node);
    let served = ping(addr, client_config(&ca, Some(&ca.issue("client"))));
    let refused = ping(addr, client_config(&ca, None));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(served.is_ok(), "{served:?}");
    assert!(refused.is_err());
}

#[test]
fn optional_client_certificates_are_checked_when_given() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let node = tls_node(&ca, &server, "optional", false);
    let addr = tls_addr(&node);
    assert!(
        ping(addr, client_config(&ca, None)).is_ok(),
        "no certificate"
    );
    assert!(ping(addr, client_config(&ca, Some(&ca.issue("client")))).is_ok());
    let forged = TestCa::new("another CA").issue("client");
    assert!(ping(addr, client_config(&ca, Some(&forged))).is_err());
}

#[test]
fn a_client_that_does_not_trust_the_nodes_ca_is_refused() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let node = tls_node(&ca, &server, "no", false);
    let addr = tls_addr(&node);
    let error = ping(addr, client_config(&TestCa::new("another CA"), None)).unwrap_err();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(
        ping(addr, client_config(&ca, None)).is_ok(),
        "tls-auth-clients no"
    );
}

#[test]
fn config_set_reloads_certificates_for_new_connections() {
    let ca = TestCa::new("ringcache test CA");
    let first = ca.issue("node-one");
    let second = ca.issue("node-two");
    let node = tls_node(&ca, &first, "no", true);
    let addr = tls_addr(&node);
    let config = client_config(&ca, None);
    assert_eq!(ping(addr, config.clone()), Ok(der(&first.cert_pem)));
    let mut admin = node.conn();
    let mut before = redis_tls(addr, &ca, None)
        .get_connection()
        .expect("TLS connection");
    let _: () = q(
        &mut admin,
        &[
            "CONFIG",
            "SET",
            "tls-cert-file",
            second.cert.path(),
            "tls-key-file",
            second.key.path(),
        ],
    );
    assert_eq!(ping(addr, config.clone()), Ok(der(&second.cert_pem)));
    // A connection opened before keeps working.
    let pong: String = q(&mut before, &["PING"]);
    assert_eq!(pong, "PONG");

    // A file that does not load is refused and the files in force stay.
    let e = err(
        &mut admin,
        &["CONFIG", "SET", "tls-cert-file", "/nonexistent/cert.pem"],
    );
    assert!(
        e.starts_with(&config_set_failed("tls-cert-file", "Unable to update TLS configuration: cannot read certificates from /nonexistent/cert.pem")),
        "{e}"
    );
    // A key that is not the certificate's.
    let e = err(
        &mut admin,
        &["CONFIG", "SET", "tls-key-file", first.key.path()],
    );
    assert!(e.contains("do not go together"), "{e}");
    let e = err(&mut admin, &["CONFIG", "SET", "tls-protocols", "TLSv1.1"]);
    assert!(e.contains("unsupported TLS protocol 'TLSv1.1'"), "{e}");
    let shown: Vec<String> = q(&mut admin, &["CONFIG", "GET", "tls-cert-file"]);
    assert_eq!(
        shown,
        vec!["tls-cert-file".to_string(), second.cert.path().to_string()]
    );
    assert_eq!(ping(addr, config), Ok(der(&second.cert_pem)));
}

#[test]
fn tls_parameters_show_in_config_get() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let node = tls_node(&ca, &server, "optional", true);
    let mut conn = node.conn();
    let get = |conn: &mut redis::Connection, name: &str| -> String {
        let pair: Vec<String> = q(conn, &["CONFIG", "GET", name]);
        pair[1].clone()
    };
    assert_eq!(
        get(&mut conn, "tls-port"),
        tls_addr(&node).port().to_string()
    );
    assert_eq!(get(&mut conn, "tls-auth-clients"), "optional");
    assert_eq!(get(&mut conn, "tls-cluster"), "no");
    let _: () = q(
        &mut conn,
        &[
            "CONFIG",
            "SET",
            "tls-protocols",
            "TLSv1.3",
            "tls-ciphersuites",
            "TLS_AES_256_GCM_SHA384",
            "tls-prefer-server-ciphers",
            "yes",
        ],
    );
    assert_eq!(get(&mut conn, "tls-protocols"), "TLSv1.3");
    assert_eq!(get(&mut conn, "tls-prefer-server-ciphers"), "yes");
    // The new suite list is in force for new connections.
    let mut tls = redis_tls(tls_addr(&node), &ca, None)
        .get_connection()
        .expect("TLS 1.3");
    let pong: String = q(&mut tls, &["PING"]);
    assert_eq!(pong, "PONG");
}

#[test]
fn a_node_with_only_a_tls_port_serves_tls_only() {
    let ca = TestCa::new("ringcache test CA");
    let (_server, _node, mut conn) = tls_only_node(&ca);
    let shown: Vec<String> = q(&mut conn, &["CONFIG", "GET", "port"]);
    assert_eq!(shown[1], "0");
    let _: () = q(&mut conn, &["SET", "k", "v"]);
    let got: String = q(&mut conn, &["GET", "k"]);
    assert_eq!(got, "v");
}

#[test]
fn a_stalled_handshake_holds_nobody_else() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let node = tls_node(&ca, &server, "no", false);
    let addr = tls_addr(&node);
    // Connections that never finish (or never start) their handshake.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let mut tcp = TcpStream::connect(addr).expect("connect");
        tcp.write_all(&[0x16, 0x03, 0x01])
            .expect("a partial record");
        stalled.push(tcp);
        stalled.push(TcpStream::connect(addr).expect("connect"));
    }
    for _ in 0..3 {
        assert!(ping(addr, client_config(&ca, None)).is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_speaks_tls_from_a_rediss_url() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let app = ca.issue("app");
    let node = tls_node(&ca, &server, "yes", false);
    let url = format!("rediss://{}", tls_addr(&node));
    let identity = (app.cert_pem.as_bytes(), app.key_pem.as_bytes());
    let tls = TlsOptions::new(ca.cert_pem.as_bytes(), Some(identity)).expect("TLS options");
    let config = ringcache_client::ClientConfig::from_url_with_tls(&url, tls.clone())
        .expect("a rediss:// URL");
    let client = Client::connect(config).await.expect("connect over TLS");
    client
        .set("greeting", "hello", SetOptions::new())
        .await
        .expect("SET");
    let got: Option<String> = client.get("greeting").await.expect("GET");
    assert_eq!(got.as_deref(), Some("hello"));

    // Without a client certificate the node refuses the connection.
    let bare = TlsOptions::new(ca.cert_pem.as_bytes(), None).expect("TLS options");
    let config = ringcache_client::ClientConfig {
        request_timeout: std::time::Duration::from_secs(3),
        ..ringcache_client::ClientConfig::from_url_with_tls(&url, bare).expect("URL")
    };
    let refused = match Client::connect(config).await {
        Err(_) => true,
        Ok(client) => client.get::<String>("greeting").await.is_err(),
    };
    assert!(refused, "a client without a certificate was served");
    // TLS options with a plain URL are a mistake, said at once.
    let plain = format!("redis://{}", tls_addr(&node));
    assert!(ringcache_client::ClientConfig::from_url_with_tls(&plain, tls).is_err());
}

#[test]
fn refused_handshakes_are_logged_with_their_reason() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let port = free_port().to_string();
    let mut flags = tls_only_flags(&port, &server);
    flags.extend(["--tls-ca-cert-file", ca.cert.path()]);
    let mut node = TestNode::start(&flags);
    let addr = node.tls_addr.expect("a TLS-only node");
    assert!(ping(addr, client_config(&ca, None)).is_err());
    let line = node
        .wait_for_log("TLS handshake failed", DEADLINE)
        .expect("the refusal is logged");
    assert!(line.contains("presented no certificate"), "{line}");
    assert!(line.contains("127.0.0.1"), "the client is named: {line}");
}
