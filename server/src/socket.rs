//! Reading from and writing to a client socket with plain `recv` and `send`
//! system calls (rustix's raw syscalls) on tokio's readiness.
//!
//! At pipeline depth 1 every request costs one read and one write; libc's
//! cancellation-point wrappers and tokio's `AsyncRead`/`AsyncWrite` layers
//! around them were a measurable share of the node's CPU per request
//! (BENCHMARKS.md).

use std::io;

use rustix::buffer::spare_capacity;
use rustix::net::{RecvFlags, SendFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Appends what the peer sent to the spare capacity of `buf` (the caller
/// leaves room), waiting for data if none is there; `Ok(0)` at the end of
/// the stream.
pub async fn recv(stream: &TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let room = buf.capacity() - buf.len();
    loop {
        let mut short = None;
        let received = stream.try_io(Interest::READABLE, || {
            let (n, _) = rustix::net::recv(stream, spare_capacity(&mut *buf), RecvFlags::empty())?;
            if n > 0 && n < room {
                // Less than asked for: the socket is drained, and epoll
                // reports the next data as a new edge. Answering WouldBlock
                // makes try_io drop the readiness it saw before this call
                // (not one that arrived since), as tokio's own reads do, so
                // the next read waits for epoll instead of failing with
                // EAGAIN first.
                short = Some(n);
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        });
        match received {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match short {
                Some(n) => return Ok(n),
                None => stream.readable().await?,
            },
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Sends what the socket takes of `bytes` now: `Ok(Some(n))` for `n`
/// bytes sent, `Ok(None)` when its buffer is full (wait for
/// [`TcpStream::writable`], then try again).
pub fn try_send(stream: &TcpStream, bytes: &[u8]) -> io::Result<Option<usize>> {
    loop {
        let sent = stream.try_io(Interest::WRITABLE, || {
            rustix::net::send(stream, bytes, SendFlags::NOSIGNAL).map_err(io::Error::from)
        });
        match sent {
            Ok(n) => return Ok(Some(n)),
            // try_io has dropped the readiness; the caller waits for epoll
            // to report room again.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
