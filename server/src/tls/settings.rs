//! The TLS options as the configuration holds them (Redis's names:
//! `tls-port`, `tls-cert-file`, `tls-auth-clients`, ...), before any file
//! is read; [`super::load`] turns them into rustls configurations.

use std::path::PathBuf;

/// Whether clients must present a certificate (`tls-auth-clients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthClients {
    /// A client without a certificate signed by the CA is refused.
    Yes,
    /// No certificate is asked for.
    No,
    /// A certificate is asked for; one given must be valid, none is fine.
    Optional,
}

impl AuthClients {
    /// Parses Redis's words (`yes`, `no`, `optional`, any case).
    ///
    /// # Errors
    /// Any other word.
    pub fn parse(word: &str) -> Result<AuthClients, String> {
        match word.trim().to_ascii_lowercase().as_str() {
            "yes" => Ok(AuthClients::Yes),
            "no" => Ok(AuthClients::No),
            "optional" => Ok(AuthClients::Optional),
            _ => Err("argument must be 'yes', 'no' or 'optional'".into()),
        }
    }

    /// The word CONFIG GET shows.
    pub fn word(self) -> &'static str {
        match self {
            AuthClients::Yes => "yes",
            AuthClients::No => "no",
            AuthClients::Optional => "optional",
        }
    }
}

/// The TLS part of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// TLS port for clients (and peers, with `cluster`); `None`: no TLS.
    pub port: Option<u16>,
    /// The node's certificate chain (PEM).
    pub cert_file: Option<PathBuf>,
    /// The private key of `cert_file` (PEM: PKCS#8, PKCS#1 or SEC1, or
    /// encrypted PKCS#8).
    pub key_file: Option<PathBuf>,
    /// The passphrase of an encrypted `key_file`.
    pub key_file_pass: Option<String>,
    /// CA certificates (PEM) that client and peer certificates must chain to.
    pub ca_cert_file: Option<PathBuf>,
    /// A directory of CA certificates (every PEM file in it).
    pub ca_cert_dir: Option<PathBuf>,
    /// Whether clients must present a certificate.
    pub auth_clients: AuthClients,
    /// Protocol versions allowed, as written (`TLSv1.2 TLSv1.3`); empty
    /// for both.
    pub protocols: String,
    /// Cipher suites allowed, colon-separated IANA names; empty for
    /// rustls's defaults.
    pub ciphersuites: String,
    /// The server's order of cipher suites wins over the client's.
    pub prefer_server_ciphers: bool,
    /// Peer links between nodes run over TLS, mutually authenticated.
    pub cluster: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            port: None,
            cert_file: None,
            key_file: None,
            key_file_pass: None,
            ca_cert_file: None,
            ca_cert_dir: None,
            auth_clients: AuthClients::Yes,
            protocols: String::new(),
            ciphersuites: String::new(),
            prefer_server_ciphers: false,
            cluster: false,
        }
    }
}

impl TlsSettings {
    /// Whether the node serves or dials TLS at all (then the certificate
    /// and key must load).
    pub fn enabled(&self) -> bool {
        self.port.is_some() || self.cluster
    }
}
