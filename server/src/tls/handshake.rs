//! The server side of a TLS handshake on an accepted connection: bounded
//! in time (it runs in the connection's own task, so a client that stalls
//! it holds only itself), and its failures logged in words an operator
//! acts on (no certificate, wrong CA, expired), rate-limited since any
//! stranger can cause them.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rustls::{AlertDescription, CertificateError};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::warn;

use crate::log_limit::LogLimit;

/// Longest a client may take over its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

static HANDSHAKE_LOG: LogLimit = LogLimit::new(crate::log_limit::WARN_PERIOD_MS);

/// Runs the handshake on `stream`; `None` when it fails or times out
/// (logged).
pub async fn accept(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    let error = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => return Some(stream),
        Ok(Err(e)) => describe(&e),
        Err(_) => format!("no handshake within {}s", HANDSHAKE_TIMEOUT.as_secs()),
    };
    if let Some(suppressed) = HANDSHAKE_LOG.allow() {
        warn!(client = %peer, error = %error, suppressed, "TLS handshake failed");
    }
    None
}

/// What went wrong, in the operator's terms.
pub fn describe(e: &io::Error) -> String {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return format!("connection error: {e}");
    };
    match tls {
        rustls::Error::NoCertificatesPresented => {
            "the client presented no certificate (tls-auth-clients yes)".into()
        }
        rustls::Error::InvalidCertificate(why) => format!("client certificate refused: {}", certificate(why)),
        rustls::Error::AlertReceived(alert) => match alert {
            AlertDescription::UnknownCA | AlertDescription::BadCertificate => format!(
                "the client refused the node's certificate ({alert:?}: it does not trust the CA that signed tls-cert-file)"
            ),
            AlertDescription::CertificateExpired => {
                "the client refused the node's certificate: it has expired".into()
            }
            AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure => format!(
                "the client refused the handshake ({alert:?}: no protocol version or cipher suite in common)"
            ),
            other => format!("the client sent alert {other:?}"),
        },
        rustls::Error::PeerIncompatible(why) => {
            format!("no protocol version or cipher suite in common ({why:?})")
        }
        other => other.to_string(),
    }
}

fn certificate(why: &CertificateError) -> String {
    match why {
        CertificateError::UnknownIssuer => {
            "not signed by a CA of tls-ca-cert-file / tls-ca-cert-dir".into()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "it has expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "it is not valid yet".into()
        }
        CertificateError::BadSignature => "its signature is wrong".into(),
        other => format!("{other:?}"),
    }
}
