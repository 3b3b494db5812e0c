//! Test certificates made at test time (rcgen): a CA, node and client
//! certificates it signs, written to temporary PEM files for the node's
//! `tls-*` parameters, redis-cli and the clients.

use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use super::process::TempFile;

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
