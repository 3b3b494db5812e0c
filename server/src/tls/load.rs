//! Builds rustls configurations from [`TlsSettings`]: reads the
//! certificate, key and CA files, and checks everything a handshake would
//! trip over later (a key that does not match its certificate, an unknown
//! protocol or cipher suite), so a bad file is refused when it is given.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme, SupportedProtocolVersion,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::settings::{AuthClients, TlsSettings};

/// The crypto provider of every TLS configuration of the node (ring),
/// limited to the cipher suites `tls-ciphersuites` names.
///
/// # Errors
/// A name that is no cipher suite rustls has.
fn provider(settings: &TlsSettings) -> Result<Arc<CryptoProvider>, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    let wanted: Vec<&str> = settings
        .ciphersuites
        .split([':', ' ', ','])
        .filter(|s| !s.is_empty())
        .collect();
    if !wanted.is_empty() {
        let all = std::mem::take(&mut provider.cipher_suites);
        for name in wanted {
            let suite = all
                .iter()
                .find(|s| suite_name(s).eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("unknown TLS cipher suite '{name}'"))?;
            provider.cipher_suites.push(*suite);
        }
    }
    Ok(Arc::new(provider))
}

/// A suite's IANA name (`TLS_AES_128_GCM_SHA256`), as OpenSSL and Redis
/// write TLS 1.3 suites; rustls spells those `TLS13_...`.
fn suite_name(suite: &rustls::SupportedCipherSuite) -> String {
    format!("{:?}", suite.suite()).replacen("TLS13_", "TLS_", 1)
}

/// The protocol versions `tls-protocols` allows (both when empty).
///
/// # Errors
/// A version rustls does not speak (it has no TLS 1.0 or 1.1).
fn versions(settings: &TlsSettings) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let mut versions = Vec::new();
    for word in settings.protocols.split_whitespace() {
        let version = match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" => &rustls::version::TLS12,
            "tlsv1.3" => &rustls::version::TLS13,
            _ => {
                return Err(format!(
                    "unsupported TLS protocol '{word}' (TLSv1.2 and TLSv1.3 are)"
                ))
            }
        };
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    if versions.is_empty() {
        versions = rustls::ALL_VERSIONS.to_vec();
    }
    Ok(versions)
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no PEM certificate in {}", path.display()));
    }
    Ok(certs)
}

/// The node's certificate chain and key (`tls-cert-file`, `tls-key-file`).
fn identity(
    settings: &TlsSettings,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let cert = settings
        .cert_file
        .as_deref()
        .ok_or("tls-cert-file is not set")?;
    let key_file = settings
        .key_file
        .as_deref()
        .ok_or("tls-key-file is not set")?;
    let pass = settings.key_file_pass.as_deref();
    Ok((certificates(cert)?, super::key::read(key_file, pass)?))
}

/// The CAs of `tls-ca-cert-file` and every PEM file of `tls-ca-cert-dir`.
///
/// # Errors
/// A file that cannot be read, or no CA at all.
fn roots(settings: &TlsSettings) -> Result<Arc<RootCertStore>, String> {
    let mut store = RootCertStore::empty();
    let mut add = |path: &Path| -> Result<(), String> {
        for cert in certificates(path)? {
            store
                .add(cert)
                .map_err(|e| format!("bad CA certificate in {}: {e}", path.display()))?;
        }
        Ok(())
    };
    if let Some(file) = &settings.ca_cert_file {
        add(file)?;
    }
    if let Some(dir) = &settings.ca_cert_dir {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read tls-ca-cert-dir {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            // Hashed links and other files that hold no certificate are
            // skipped; a file that holds a bad one is an error.
            if path.is_file() && certificates(&path).is_ok() {
                add(&path)?;
            }
        }
    }
    if store.is_empty() {
        return Err("no CA certificate: set tls-ca-cert-file or tls-ca-cert-dir".into());
    }
    Ok(Arc::new(store))
}

/// The configuration of the TLS port.
///
/// # Errors
/// A file missing or unreadable, a key that does not match its
/// certificate, no CA while client certificates are asked for, or an
/// unknown protocol or cipher suite; the text says which.
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, String> {
    let provider = provider(settings)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(settings)?)
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let builder = match settings.auth_clients {
        AuthClients::No => builder.with_no_client_auth(),
        auth => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots(settings)?, provider);
            let verifier = if auth == AuthClients::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("TLS client verifier: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let (certs, key) = identity(settings)?;
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls-cert-file and tls-key-file do not go together: {e}"))?;
    config.ignore_client_order = settings.prefer_server_ciphers;
    Ok(config)
}

/// The configuration a node dials its peers with (`tls-cluster`): its own
/// certificate as the client certificate, the peer's checked against the
/// CA.
///
/// # Errors
/// As [`server_config`].
pub fn peer_config(settings: &TlsSettings) -> Result<ClientConfig, String> {
    let provider = provider(settings)?;
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(settings)?, provider.clone())
        .build()
        .map_err(|e| format!("TLS peer verifier: {e}"))?;
    let (certs, key) = identity(settings)?;
    ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(settings)?)
        .map_err(|e| format!("TLS configuration: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
        .with_client_auth_cert(certs, key)
        .map_err(|e| format!("tls-cert-file and tls-key-file do not go together: {e}"))
}

/// Checks a peer's certificate chain against the CA but not its names:
/// peers are dialled at the addresses gossip announces, which node
/// certificates need not list (Redis checks peer certificates the same
/// way). What makes a peer a peer is still the cluster secret's handshake
/// that follows on the link.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_and_suites_are_checked() {
        let mut s = TlsSettings {
            protocols: "TLSv1.3".into(),
            ..TlsSettings::default()
        };
        assert_eq!(versions(&s).unwrap(), vec![&rustls::version::TLS13]);
        s.protocols = "TLSv1.1".into();
        assert!(versions(&s).unwrap_err().contains("TLSv1.1"));
        s.protocols = String::new();
        assert_eq!(versions(&s).unwrap().len(), 2);
        s.ciphersuites = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256".into();
        assert_eq!(provider(&s).unwrap().cipher_suites.len(), 2);
        s.ciphersuites = "TLS_NOPE".into();
        assert!(provider(&s).unwrap_err().contains("TLS_NOPE"));
    }

    #[test]
    fn missing_files_are_named() {
        let s = TlsSettings {
            cert_file: Some("/nonexistent/cert.pem".into()),
            key_file: Some("/nonexistent/key.pem".into()),
            auth_clients: AuthClients::No,
            ..TlsSettings::default()
        };
        assert!(server_config(&s)
            .unwrap_err()
            .contains("/nonexistent/cert.pem"));
    }
}
