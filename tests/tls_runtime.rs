//! TLS settings changed while the node runs: CONFIG SET tls-port moving,
//! starting and stopping the TLS listener (and redis-server's refusal of
//! a port in use, compared word for word), and an encrypted private key
//! decrypted with `tls-key-file-pass` at start and by CONFIG SET.
//! Certificates are made at test time (tests/common/certs.rs).

mod common;

use std::net::{SocketAddr, TcpStream};
use std::process::Command;

use common::certs::{
    client_config, der, ping, redis_tls, tls_addr, tls_node, tls_only_node, Identity, TestCa,
};
use common::errors::{config_set_failed, line};
use common::process::{run_to_exit, TempFile};
use common::redis_server::{free_port, skip_without_redis, RedisServer};
use common::{err, eventually, q, RawConn, TestNode, TestServer, DEADLINE};

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
    let (_server, _node, mut conn) = tls_only_node(&ca);
    let e = err(&mut conn, &["CONFIG", "SET", "tls-port", "0"]);
    assert!(e.contains("tls-port 0 would leave it no port"), "{e}");
    let pong: String = q(&mut conn, &["PING"]);
    assert_eq!(pong, "PONG");
}

/// The flags of a TLS-only node on a free port with `key` for `server`'s
/// certificate, and `pass` as tls-key-file-pass if given.
fn encrypted_key_flags<'a>(
    port: &'a str,
    server: &'a Identity,
    key: &'a str,
    pass: Option<&'a str>,
) -> Vec<&'a str> {
    let mut flags = vec![
        "--port",
        "0",
        "--tls-port",
        port,
        "--tls-cert-file",
        server.cert.path(),
        "--tls-key-file",
        key,
        "--tls-auth-clients",
        "no",
    ];
    if let Some(pass) = pass {
        flags.extend(["--tls-key-file-pass", pass]);
    }
    flags
}

#[test]
fn an_encrypted_key_is_decrypted_with_tls_key_file_pass() {
    let ca = TestCa::new("ringcache test CA");
    let server = ca.issue("node");
    let encrypted = server.encrypted_key("correct horse");
    let port = free_port().to_string();
    let flags = encrypted_key_flags(&port, &server, encrypted.path(), Some("correct horse"));
    let node = TestNode::start(&flags[2..]);
    let addr = node.tls_addr.expect("a TLS-only node");
    let config = client_config(&ca, None);
    assert_eq!(ping(addr, config.clone()), Ok(der(&server.cert_pem)));
    // A wrong passphrase, or none, stops the start with the reason.
    let other = free_port().to_string();
    for (pass, why) in [
        (Some("wrong"), "tls-key-file-pass does not decrypt it"),
        (None, "is encrypted: set tls-key-file-pass"),
    ] {
        let (code, stderr) = run_to_exit(&encrypted_key_flags(
            &other,
            &server,
            encrypted.path(),
            pass,
        ));
        assert_ne!(code, Some(0), "{pass:?}");
        assert!(stderr.contains(why), "{pass:?}: {stderr}");
    }
    // CONFIG SET: a wrong passphrase is refused and the key in force
    // stays; the right one is taken for new connections.
    let second = ca.issue("node-two");
    let second_key = second.encrypted_key("battery staple");
    let mut admin = redis_tls(addr, &ca, None)
        .get_connection()
        .expect("TLS connection");
    let change = |pass: &str| -> Vec<String> {
        let cert = second.cert.path().to_string();
        let key = second_key.path().to_string();
        [
            "CONFIG",
            "SET",
            "tls-cert-file",
            &cert,
            "tls-key-file",
            &key,
            "tls-key-file-pass",
            pass,
        ]
        .map(String::from)
        .to_vec()
    };
    let e = err(
        &mut admin,
        &change("wrong")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        e.starts_with(&config_set_failed(
            "tls-cert-file",
            "Unable to update TLS configuration: the private key in"
        )),
        "{e}"
    );
    assert!(e.contains("does not decrypt it"), "{e}");
    assert_eq!(ping(addr, config.clone()), Ok(der(&server.cert_pem)));
    let _: () = q(
        &mut admin,
        &change("battery staple")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(ping(addr, config.clone()), Ok(der(&second.cert_pem)));
    // The key as openssl encrypts it, where openssl is installed.
    if !common::redis_server::installed("openssl") {
        return;
    }
    let by_openssl = TempFile::new("openssl-encrypted-key.pem", "");
    let status = Command::new("openssl")
        .args([
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:tr0ub4dor",
        ])
        .args(["-in", server.key.path(), "-out", by_openssl.path()])
        .status()
        .expect("running openssl");
    assert!(status.success());
    let _: () = q(
        &mut admin,
        &[
            "CONFIG",
            "SET",
            "tls-cert-file",
            server.cert.path(),
            "tls-key-file",
            by_openssl.path(),
            "tls-key-file-pass",
            "tr0ub4dor",
        ],
    );
    assert_eq!(ping(addr, config), Ok(der(&server.cert_pem)));
}
