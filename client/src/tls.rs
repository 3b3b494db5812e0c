//! TLS to the nodes (rustls, ring provider): the node's certificate is
//! checked against a CA (given as PEM, or the system's roots) and the
//! name the client dialled; a client certificate is presented when the
//! node asks for one (`tls-auth-clients yes`).

use std::fmt;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, ErrorKind, Result};

/// How the client speaks TLS; cheap to clone (the rustls configuration is
/// built once and shared).
#[derive(Clone)]
pub struct TlsOptions {
    config: Arc<rustls::ClientConfig>,
    /// The name the node's certificate must carry; `None` for the host
    /// of the address dialled (a DNS name or an IP address).
    pub server_name: Option<String>,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field(
                "client_certificate",
                &self.config.client_auth_cert_resolver.has_certs(),
            )
            .field("server_name", &self.server_name)
            .finish()
    }
}

fn config_error(what: &str, e: impl fmt::Display) -> Error {
    Error::new(ErrorKind::Config, format!("TLS: {what}: {e}"))
}

impl TlsOptions {
    /// Trusts the CA certificates of `ca_pem`; presents `client` (a
    /// certificate chain and its private key, both PEM) when given.
    ///
    /// # Errors
    /// [`ErrorKind::Config`]: no certificate in `ca_pem`, a PEM that does
    /// not parse, or a key that is not the certificate's.
    pub fn new(ca_pem: &[u8], client: Option<(&[u8], &[u8])>) -> Result<TlsOptions> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            let cert = cert.map_err(|e| config_error("CA certificate", e))?;
            roots
                .add(cert)
                .map_err(|e| config_error("CA certificate", e))?;
        }
        if roots.is_empty() {
            return Err(config_error("CA certificate", "no PEM certificate given"));
        }
        TlsOptions::with_roots(roots, client)
    }

    /// Trusts the system's root certificates (for nodes whose certificate
    /// a public CA signed); presents `client` when given.
    ///
    /// # Errors
    /// As [`TlsOptions::new`], or no system root could be read.
    pub fn system_roots(client: Option<(&[u8], &[u8])>) -> Result<TlsOptions> {
        let mut roots = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(config_error("system roots", "none could be read"));
        }
        TlsOptions::with_roots(roots, client)
    }

    fn with_roots(roots: RootCertStore, client: Option<(&[u8], &[u8])>) -> Result<TlsOptions> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error("protocol versions", e))?
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert_pem, key_pem)) => {
                let chain = CertificateDer::pem_slice_iter(cert_pem)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| config_error("client certificate", e))?;
                let key = PrivateKeyDer::from_pem_slice(key_pem)
                    .map_err(|e| config_error("client key", e))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| config_error("client certificate", e))?
            }
        };
        Ok(TlsOptions {
            config: Arc::new(config),
            server_name: None,
        })
    }

    /// Runs the TLS handshake on `stream`, dialled at `addr` (`host:port`).
    ///
    /// # Errors
    /// [`ErrorKind::Io`]: the handshake failed (the node's certificate
    /// refused, or ours), with rustls's reason.
    pub(crate) async fn connect(
        &self,
        addr: &str,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>> {
        let host = match &self.server_name {
            Some(name) => name.as_str(),
            None => host_of(addr),
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| config_error(&format!("server name {host}"), e))?;
        TlsConnector::from(self.config.clone())
            .connect(name, stream)
            .await
            .map_err(|e| Error::io(format!("TLS handshake with {addr}: {e}")))
    }
}

/// The host of `host:port`, `[v6]:port` or a bare host.
fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_taken_from_addresses() {
        assert_eq!(host_of("127.0.0.1:6380"), "127.0.0.1");
        assert_eq!(host_of("cache.internal:6380"), "cache.internal");
        assert_eq!(host_of("[::1]:6380"), "::1");
        assert_eq!(host_of("cache"), "cache");
    }

    #[test]
    fn a_ca_without_certificates_is_refused() {
        let e = TlsOptions::new(b"not a certificate", None).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Config);
    }
}
