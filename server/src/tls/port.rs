//! The TLS port's listener, replaced at run time by `CONFIG SET tls-port`
//! as Redis does: the new port is bound where the command runs, so a port
//! that cannot be bound is refused while the old listener still serves;
//! the bound listener is then handed to the TLS accept loop
//! (`server.rs`), which drops the old one (connections already open stay).

use std::io;
use std::net::SocketAddr;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Notify;

/// Connections waiting to be accepted on a bound port, as tokio's own
/// `TcpListener::bind` asks for.
const BACKLOG: u32 = 1024;

/// See the module docs.
#[derive(Debug, Default)]
pub struct PortSlot {
    /// The listener the accept loop takes next (`Some(None)`: stop serving
    /// TLS). A short critical section, never across an await.
    pending: Mutex<Option<Option<TcpListener>>>,
    changed: Notify,
}

impl PortSlot {
    /// Binds `addr` for the TLS port (the caller runs on the node's
    /// runtime: a command does).
    ///
    /// # Errors
    /// The address cannot be bound, or there is no runtime to serve it on.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other("no runtime to serve the port on"));
        }
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(BACKLOG)
    }

    /// Hands `next` to the accept loop (None: stop serving TLS); it takes
    /// the place of the listener served now.
    pub fn replace(&self, next: Option<TcpListener>) {
        *self.pending.lock() = Some(next);
        // A permit is kept if the loop is not waiting right now, so the
        // change is never lost.
        self.changed.notify_one();
    }

    /// Waits for the next [`PortSlot::replace`] and returns its listener.
    pub async fn replaced(&self) -> Option<TcpListener> {
        loop {
            self.changed.notified().await;
            if let Some(next) = self.pending.lock().take() {
                return next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replacement_waits_for_the_loop() {
        let slot = PortSlot::default();
        let first = PortSlot::bind(([127, 0, 0, 1], 0).into()).unwrap();
        let port = first.local_addr().unwrap().port();
        // Taken while bound: a second bind of the same port fails.
        assert!(PortSlot::bind(([127, 0, 0, 1], port).into()).is_err());
        slot.replace(Some(first));
        let taken = slot.replaced().await.expect("a listener");
        assert_eq!(taken.local_addr().unwrap().port(), port);
        slot.replace(None);
        assert!(slot.replaced().await.is_none());
    }
}
