//! A client connection's byte stream: plain TCP (raw `recv`/`send`, see
//! [`crate::socket`]) or TLS over TCP, behind the few operations the
//! request pipeline uses, so both go through the same pipeline.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::socket;

/// A client's stream.
pub enum ClientStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS, after its handshake.
    Tls(Box<TlsStream<TcpStream>>),
}

impl ClientStream {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(tcp) => tcp,
            ClientStream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Whether the client presented a certificate the CA vouches for.
    pub fn has_client_certificate(&self) -> bool {
        match self {
            ClientStream::Plain(_) => false,
            ClientStream::Tls(tls) => tls.get_ref().1.peer_certificates().is_some(),
        }
    }

    /// Appends what the client sent to the spare capacity of `buf`,
    /// waiting for data if none is there; `Ok(0)` at the end of the
    /// stream. Cancel-safe: nothing is lost when the future is dropped.
    ///
    /// # Errors
    /// The connection failed (for TLS: also a bad record).
    pub async fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            ClientStream::Plain(tcp) => socket::recv(tcp, buf).await,
            ClientStream::Tls(tls) => tls.read_buf(buf).await,
        }
    }

    /// Sends what the stream takes of `bytes` now: `Ok(Some(n))` for `n`
    /// bytes taken, `Ok(None)` when it takes nothing (wait for
    /// [`ClientStream::writable`], then try again). TLS may keep bytes
    /// taken in its buffer: see [`ClientStream::unflushed`].
    ///
    /// # Errors
    /// The connection failed.
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<Option<usize>> {
        match self {
            ClientStream::Plain(tcp) => socket::try_send(tcp, bytes),
            ClientStream::Tls(tls) => {
                // A waker that does nothing: Pending here only sends the
                // caller to `writable`, which polls with its own.
                let mut cx = Context::from_waker(std::task::Waker::noop());
                match Pin::new(&mut **tls).poll_write(&mut cx, bytes) {
                    Poll::Ready(Ok(n)) => {
                        if let Poll::Ready(Err(e)) = Pin::new(&mut **tls).poll_flush(&mut cx) {
                            return Err(e);
                        }
                        Ok(Some(n))
                    }
                    Poll::Ready(Err(e)) => Err(e),
                    Poll::Pending => Ok(None),
                }
            }
        }
    }

    /// Whether bytes taken by [`ClientStream::try_send`] still wait to go
    /// out (TLS records the socket had no room for).
    pub fn unflushed(&self) -> bool {
        match self {
            ClientStream::Plain(_) => false,
            ClientStream::Tls(tls) => tls.get_ref().1.wants_write(),
        }
    }

    /// Waits until the stream may take more bytes (for TLS: until what it
    /// holds has gone out).
    ///
    /// # Errors
    /// The connection failed.
    pub async fn writable(&mut self) -> io::Result<()> {
        match self {
            ClientStream::Plain(tcp) => tcp.writable().await,
            ClientStream::Tls(tls) => tls.flush().await,
        }
    }

    /// Ends our side of the connection (for TLS, with its close_notify).
    pub async fn shutdown(&mut self) {
        let _ = match self {
            ClientStream::Plain(tcp) => tcp.shutdown().await,
            ClientStream::Tls(tls) => tls.shutdown().await,
        };
    }
}
