//! Writing to a client socket with a plain `send` system call (rustix's
//! raw syscall) on tokio's readiness.
//!
//! At pipeline depth 1 every request costs one write; libc's
//! cancellation-point wrapper and tokio's `AsyncWrite` layers around it
//! were a measurable share of the node's CPU per request (BENCHMARKS.md).
//! Reads stay with tokio: its reads drop the socket's readiness after a
//! short read, which saves a failing `recv` per request, and that needs its
//! internals.

use std::io;

use rustix::net::SendFlags;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Sends all of `bytes`, waiting while the socket's buffer is full.
pub async fn send_all(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let sent = stream.try_io(Interest::WRITABLE, || {
            rustix::net::send(stream, bytes, SendFlags::NOSIGNAL).map_err(io::Error::from)
        });
        match sent {
            Ok(n) => bytes = &bytes[n..],
            // try_io has dropped the readiness; wait for epoll to report
            // room again.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => stream.writable().await?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
