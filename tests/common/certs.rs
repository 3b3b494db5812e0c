//! Test certificates made at test time (rcgen): a CA, node and client
//! certificates it signs, written to temporary PEM files for the node's
//! `tls-*` parameters, redis-cli and the clients; and the TLS tests'
//! nodes and clients (a node served in the process over TLS, a rustls
//! client's PING that returns the node's certificate).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::process::TempFile;
use super::{TestServer, DEADLINE};

/// A certificate and its key, as PEM text and as files.
pub struct Identity {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Its private key (PEM).
    pub key_pem: String,
    /// The certificate's file.
    pub cert: TempFile,
    /// The key's file.
    pub key: TempFile,
}

/// A CA that signs node and client certificates.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate (PEM).
    pub cert_pem: String,
    /// The CA certificate's file.
    pub cert: TempFile,
}

fn unique(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("tls{}-{name}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl TestCa {
    /// A new CA called `name`.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let cert_pem = issuer.pem();
        let cert = TempFile::new(&unique("ca.pem"), &cert_pem);
        TestCa {
            issuer,
            cert_pem,
            cert,
        }
    }

    /// A certificate for `common_name`, valid for localhost and 127.0.0.1
    /// (servers and clients alike), from a year ago for two years.
    pub fn issue(&self, common_name: &str) -> Identity {
        self.issue_until(common_name, 365)
    }

    /// As [`TestCa::issue`], expiring `days_left` days from now (negative:
    /// expired).
    pub fn issue_until(&self, common_name: &str, days_left: i64) -> Identity {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let mut params = CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let at = |days: i64| {
            rcgen::date_time_ymd(1970, 1, 1)
                + std::time::Duration::from_secs((now + days * 86_400) as u64)
        };
        params.not_before = at(-365);
        params.not_after = at(days_left);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        Identity {
            cert: TempFile::new(&unique(&format!("{common_name}.pem")), &cert_pem),
            key: TempFile::new(&unique(&format!("{common_name}-key.pem")), &key_pem),
            cert_pem,
            key_pem,
        }
    }
}

impl Identity {
    /// Its key encrypted with `passphrase` as `openssl pkcs8 -topk8 -v2
    /// aes-256-cbc` writes it (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC), in
    /// a PEM file of its own.
    pub fn encrypted_key(&self, passphrase: &str) -> TempFile {
        use pkcs8::der::pem::LineEnding;
        use pkcs8::der::Decode;
        let (_, der) = pkcs8::der::Document::from_pem(&self.key_pem).expect("the key's PEM");
        let info = pkcs8::PrivateKeyInfo::from_der(der.as_bytes()).expect("a PKCS#8 key");
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        getrandom::fill(&mut salt).expect("random salt");
        getrandom::fill(&mut iv).expect("random IV");
        let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &salt, &iv)
            .expect("PBES2 parameters");
        let encrypted = info
            .encrypt_with_params(params, passphrase)
            .expect("encrypting the key");
        let pem = encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .expect("PEM");
        TempFile::new(&unique("encrypted-key.pem"), &pem)
    }
}

/// A redis-rs client over TLS trusting `ca`, presenting `client`.
pub fn redis_tls(
    addr: std::net::SocketAddr,
    ca: &TestCa,
    client: Option<&Identity>,
) -> redis::Client {
    let certs = redis::TlsCertificates {
        client_tls: client.map(|id| redis::ClientTlsConfig {
            client_cert: id.cert_pem.clone().into_bytes(),
            client_key: id.key_pem.clone().into_bytes(),
        }),
        root_cert: Some(ca.cert_pem.clone().into_bytes()),
    };
    redis::Client::build_with_tls(format!("rediss://{addr}/"), certs).expect("TLS client")
}

/// The flags of a node serving TLS only on `port` (`--port 0` is the test
/// node's default) with `id`'s certificate and key.
pub fn tls_only_flags<'a>(port: &'a str, id: &'a Identity) -> Vec<&'a str> {
    vec![
        "--tls-port",
        port,
        "--tls-cert-file",
        id.cert.path(),
        "--tls-key-file",
        id.key.path(),
    ]
}

/// A node serving TLS only (on a free port, no client certificate asked)
/// with a certificate `ca` signs, and a client's connection to it; the
/// node's identity comes too, so its files outlive the node.
pub fn tls_only_node(ca: &TestCa) -> (Identity, super::TestNode, redis::Connection) {
    let server = ca.issue("node");
    let port = super::redis_server::free_port().to_string();
    let mut flags = tls_only_flags(&port, &server);
    flags.extend(["--tls-auth-clients", "no"]);
    let node = super::TestNode::start(&flags);
    let addr = node.tls_addr.expect("a TLS-only node");
    let conn = redis_tls(addr, ca, None)
        .get_connection()
        .expect("TLS connection");
    (server, node, conn)
}

/// A node serving TLS (and plain TCP when `plain`) with `server`'s
/// certificate, checking client certificates against `ca` as `auth` says.
pub fn tls_node(ca: &TestCa, server: &Identity, auth: &str, plain: bool) -> TestServer {
    TestServer::builder()
        .set("tls-cert-file", server.cert.path())
        .set("tls-key-file", server.key.path())
        .set("tls-ca-cert-file", ca.cert.path())
        .set("tls-auth-clients", auth)
        .tls(plain)
        .start()
}

/// The TLS address of a node started by [`tls_node`].
pub fn tls_addr(node: &TestServer) -> SocketAddr {
    node.tls_addr.expect("the node serves TLS")
}

/// A rustls client trusting `trusted`, presenting `client` if given.
pub fn client_config(trusted: &TestCa, client: Option<&Identity>) -> Arc<ClientConfig> {
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
pub fn ping(addr: SocketAddr, config: Arc<ClientConfig>) -> Result<Vec<u8>, String> {
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

/// A PEM certificate's DER bytes.
pub fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("PEM")
        .to_vec()
}
