//! The handshake of a new socket, before it is shared: `AUTH` (or
//! `HELLO 3` with it, for a connection with a listener), `READONLY`, and
//! the listener's setup commands, all within the connect deadline.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use super::ConnectionOptions;
use crate::error::{Error, Result};
use crate::resp::{self, Value};

/// [`handshake`] within the connect deadline.
pub(super) async fn greet<S>(
    stream: &mut S,
    addr: &str,
    options: &ConnectionOptions,
    deadline: Instant,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match timeout_at(deadline, handshake(stream, options)).await {
        Ok(result) => result,
        Err(_) => Err(Error::io(format!("handshake with {addr} timed out"))),
    }
}

/// AUTH (or HELLO 3 with it), READONLY and the listener's setup, as
/// configured, before the socket is shared.
async fn handshake<S>(stream: &mut S, options: &ConnectionOptions) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = BytesMut::new();
    let mut count = 0;
    if let Some(listener) = &options.listener {
        let mut hello: Vec<&[u8]> = vec![b"HELLO", b"3"];
        if let Some(password) = &options.password {
            let user = options.username.as_deref().unwrap_or("default");
            hello.extend([&b"AUTH"[..], user.as_bytes(), password.as_bytes()]);
        }
        resp::write_command(&mut out, &hello);
        let setup = listener.setup();
        for command in &setup {
            resp::write_command(&mut out, command);
        }
        count += 1 + setup.len();
    } else if let Some(password) = &options.password {
        match &options.username {
            Some(user) => {
                resp::write_command(&mut out, &[b"AUTH", user.as_bytes(), password.as_bytes()])
            }
            None => resp::write_command(&mut out, &[&b"AUTH"[..], password.as_bytes()]),
        }
        count += 1;
    }
    if options.readonly {
        resp::write_command(&mut out, &[b"READONLY"]);
        count += 1;
    }
    if count == 0 {
        return Ok(());
    }
    let io = |e: std::io::Error| Error::io(format!("handshake: {e}"));
    stream.write_all(&out).await.map_err(io)?;
    let mut buf = BytesMut::with_capacity(256);
    let mut replies = 0;
    while replies < count {
        if let Some((value, used)) = resp::decode(&buf)? {
            buf.advance(used);
            replies += 1;
            if let Value::Error(line) = value {
                return Err(Error::from_reply(&line));
            }
            continue;
        }
        if stream.read_buf(&mut buf).await.map_err(io)? == 0 {
            return Err(Error::io("connection closed during the handshake"));
        }
    }
    Ok(())
}
