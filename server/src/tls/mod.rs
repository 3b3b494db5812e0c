//! TLS on the client port and on peer links (rustls with the ring
//! provider). The node holds its current TLS configurations in a
//! [`TlsState`]: loaded at start, replaced whole by `CONFIG SET tls-...`
//! (a new connection takes the configuration current when it arrives;
//! those already open keep theirs), and left as they were when the new
//! files do not load; and the TLS port's listener, which `CONFIG SET
//! tls-port` replaces (`port.rs`).

pub mod handshake;
pub mod key;
pub mod load;
pub mod port;
pub mod settings;

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tokio_rustls::{TlsAcceptor, TlsConnector};

pub use settings::{AuthClients, TlsSettings};

/// The TLS configurations in force.
#[derive(Default)]
pub struct TlsState {
    acceptor: ArcSwapOption<TlsAcceptor>,
    connector: ArcSwapOption<TlsConnector>,
    /// The TLS port's next listener, for the accept loop.
    pub port: port::PortSlot,
}

impl std::fmt::Debug for TlsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsState")
            .field("serving", &self.acceptor.load().is_some())
            .field("dialling", &self.connector.load().is_some())
            .finish()
    }
}

impl TlsState {
    /// Loads `settings` and puts them in force; with TLS off, clears them.
    ///
    /// # Errors
    /// The files do not load (see [`load::server_config`]); the
    /// configurations in force stay as they were.
    pub fn reload(&self, settings: &TlsSettings) -> Result<(), String> {
        if !settings.enabled() {
            self.acceptor.store(None);
            self.connector.store(None);
            return Ok(());
        }
        let acceptor = TlsAcceptor::from(Arc::new(load::server_config(settings)?));
        let connector = if settings.cluster {
            Some(Arc::new(TlsConnector::from(Arc::new(load::peer_config(
                settings,
            )?))))
        } else {
            None
        };
        self.acceptor.store(Some(Arc::new(acceptor)));
        self.connector.store(connector);
        Ok(())
    }

    /// The acceptor new TLS connections use, if TLS is on.
    pub fn acceptor(&self) -> Option<Arc<TlsAcceptor>> {
        self.acceptor.load_full()
    }

    /// The connector peer links dial with, if `tls-cluster` is on.
    pub fn connector(&self) -> Option<Arc<TlsConnector>> {
        self.connector.load_full()
    }
}
