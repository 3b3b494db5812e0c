//! TLS on the client port (server/src/tls): redis-cli and redis-rs over
//! TLS, mutual TLS (`tls-auth-clients yes`, `optional`), certificates of
//! the wrong CA or expired refused, certificates reloaded by CONFIG SET,
//! a node serving TLS only, a stalled handshake that holds nobody else,
//! the Rust client over TLS from a `rediss://` URL, the log line of a
//! refused handshake, and CONFIG SET tls-port moving, starting and
//! stopping the TLS listener. Certificates are made at test time
//! (tests/common/certs.rs).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;

use common::certs::{redis_tls, tls_only_flags, Identity, TestCa};
use common::errors::{config_set_failed, line};
use common::redis_server::{free_port, skip_without_redis, RedisServer};
use common::{err, eventually, q, RawConn, TestNode, TestServer, DEADLINE};
use ringcache_client::{Client, SetOptions, TlsOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A node serving TLS (and plain TCP when `plain`) with `server`'s
/// certificate, checking client certificates against `ca` as `auth` says.
fn tls_node(ca: &TestCa, server: &Identity, auth: &str, plain: bool) -> TestServer {
    TestServer::builder()
        .set("tls-cert-file", server.cert.path())
        .set("tls-key-file", server.key.path())
        .set("tls-ca-cert-file", ca.cert.path())
        .set("tls-auth-clients", auth)
        .tls(plain)
        .start()
}

fn tls_addr(node: &TestServer) -> SocketAddr {
    node.tls_addr.expect("the node serves TLS")
}

/// A rustls client trusting `trusted`, presenting `client` if given.
fn client_config(trusted: &TestCa, client: Option<&Identity>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(trusted.cert_pem.as_bytes()).expect("CA PEM");
    roots.add(ca).expect("CA certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    Arc::new(match client {
        Some(id) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(id.cert_pem.as_bytes()).expect("cert PEM")],
                PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).expect("key PEM"),
            )
            .expect("client certificate"),
        None => builder.with_no_client_auth(),
    })
}

/// Connects over TLS and PINGs: the node's certificate (DER) once PONG
/// came back, or why not. With TLS 1.3 a server refuses a client
/// certificate after the client's side of the handshake, so a refusal may
/// show only at the first read: the PING is part of the check.
fn ping(addr: SocketAddr, config: Arc<ClientConfig>) -> Result<Vec<u8>, String> {
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(DEADLINE))
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").expect("server name");
    let conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
    let mut answer = [0u8; 7];
    tls.read_exact(&mut answer).map_err(|e| e.to_string())?;
    if &answer != b"+PONG\r\n" {
        return Err(format!("unexpected answer {answer:?}"));
    }
    let certs = tls
        .conn
        .peer_certificates()
        .ok_or("no server certificate")?;
    Ok(certs[0].to_vec())
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("PEM")
        .to_vec()
}

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

/// True once a TCP connection to `addr` is refused (the port no longer
/// listens).
fn closed(addr: SocketAddr) -> bool {
    eventually(DEADLINE, || TcpStream::connect(addr).is_err())
}

#[test]
fn config_set_tls_port_moves_the_tls_listener() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let node = tls_node(&ca, &server, "no", true);
    let old = tls_addr(&node);
    let config = client_config(&ca, None);
    let mut admin = node.conn();
    let mut before = redis_tls(old, &ca, None)
        .get_connection()
        .expect("TLS connection");
    // A port that cannot be bound (the plain port's) is refused, and the
    // TLS port in force still serves.
    let in_use = node.addr.port().to_string();
    let e = err(&mut admin, &["CONFIG", "SET", "tls-port", &in_use]);
    let unable = "Unable to listen on this port. Check server logs.";
    assert_eq!(e, config_set_failed("tls-port", unable));
    assert_eq!(ping(old, config.clone()), Ok(der(&server.cert_pem)));
    // A free port: served at once, the old one closed, open connections
    // kept.
    let moved = free_port();
    let _: () = q(
        &mut admin,
        &["CONFIG", "SET", "tls-port", &moved.to_string()],
    );
    let new = SocketAddr::from(([127, 0, 0, 1], moved));
    assert_eq!(ping(new, config.clone()), Ok(der(&server.cert_pem)));
    assert!(closed(old), "the old TLS port still accepts");
    let pong: String = q(&mut before, &["PING"]);
    assert_eq!(pong, "PONG");
    let shown: Vec<String> = q(&mut admin, &["CONFIG", "GET", "tls-port"]);
    assert_eq!(shown[1], moved.to_string());
    // 0 stops serving TLS; the plain port serves on.
    let _: () = q(&mut admin, &["CONFIG", "SET", "tls-port", "0"]);
    assert!(closed(new), "TLS still served after tls-port 0");
    let pong: String = q(&mut admin, &["PING"]);
    assert_eq!(pong, "PONG");
    // And back on, from a node that serves no TLS at that moment.
    let again = free_port();
    let _: () = q(
        &mut admin,
        &["CONFIG", "SET", "tls-port", &again.to_string()],
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], again));
    assert_eq!(ping(addr, config), Ok(der(&server.cert_pem)));
}

#[test]
fn config_set_tls_port_starts_tls_on_a_plain_node() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let node = TestServer::builder()
        .set("tls-cert-file", server.cert.path())
        .set("tls-key-file", server.key.path())
        .set("tls-auth-clients", "no")
        .start();
    let mut admin = node.conn();
    let port = free_port();
    let _: () = q(
        &mut admin,
        &["CONFIG", "SET", "tls-port", &port.to_string()],
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let config = client_config(&ca, None);
    assert_eq!(ping(addr, config), Ok(der(&server.cert_pem)));
    // Without a certificate to serve, the port is refused and not bound.
    let bare = TestServer::start();
    let mut admin = bare.conn();
    let port = free_port();
    let e = err(
        &mut admin,
        &["CONFIG", "SET", "tls-port", &port.to_string()],
    );
    assert!(
        e.starts_with(&config_set_failed(
            "tls-port",
            "Unable to update TLS configuration"
        )),
        "{e}"
    );
    assert!(closed(SocketAddr::from(([127, 0, 0, 1], port))));
}

/// redis-server's refusal of a TLS port in use, word for word.
#[test]
fn a_tls_port_in_use_is_refused_as_redis_does() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let tls_port = free_port().to_string();
    let flags = [
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        server.cert.path(),
        "--tls-key-file",
        server.key.path(),
        "--tls-auth-clients",
        "no",
    ];
    if skip_without_redis("a_tls_port_in_use_is_refused_as_redis_does") {
        return;
    }
    let redis = RedisServer::start_with(&flags);
    let node = tls_node(&ca, &server, "no", true);
    for (addr, in_use) in [(redis.addr, redis.port()), (node.addr, node.addr.port())] {
        let mut raw = RawConn::connect(addr);
        let reply = raw.roundtrip(&["CONFIG", "SET", "tls-port", &in_use.to_string()]);
        let unable = "Unable to listen on this port. Check server logs.";
        assert_eq!(
            reply,
            line(&config_set_failed("tls-port", unable)),
            "{addr}"
        );
    }
}

#[test]
fn a_tls_only_node_keeps_its_tls_port() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let port = free_port().to_string();
    let mut flags = tls_only_flags(&port, &server);
    flags.extend(["--tls-auth-clients", "no"]);
    let node = TestNode::start(&flags);
    let addr = node.tls_addr.expect("a TLS-only node");
    let mut conn = redis_tls(addr, &ca, None)
        .get_connection()
        .expect("TLS connection");
    let e = err(&mut conn, &["CONFIG", "SET", "tls-port", "0"]);
    assert!(e.contains("tls-port 0 would leave it no port"), "{e}");
    let pong: String = q(&mut conn, &["PING"]);
    assert_eq!(pong, "PONG");
}

#[test]
fn a_node_with_only_a_tls_port_serves_tls_only() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let port = free_port().to_string();
    let mut flags = tls_only_flags(&port, &server);
    flags.extend(["--tls-auth-clients", "no"]);
    let node = TestNode::start(&flags);
    let addr = node.tls_addr.expect("a TLS-only node");
    let mut conn = redis_tls(addr, &ca, None)
        .get_connection()
        .expect("TLS connection");
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
