//! One client connection: read, parse every complete request in the
//! buffer, execute, append the replies to one output buffer, write once per
//! batch (pipelining costs one read and one write per batch, not per
//! command).
//!
//! A reply error keeps the connection; a protocol error gets
//! `-ERR Protocol error: ...` and closes this connection only.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tracing::debug;

use crate::clients::ClientHandle;
use crate::cluster::dispatch::{self, PendingReply};
use crate::commands::{self, After, Ctx, Session};
use crate::protocol::{Reply, RequestParser};
use crate::socket;
use crate::state::NodeState;
use crate::stats::ServerStats;
use crate::store::unix_ms;

/// Initial size of the read and write buffers.
const BUFFER_SIZE: usize = 16 * 1024;
/// Replies beyond this are written out before more requests run, so one
/// pipeline cannot grow the output buffer without bound.
const FLUSH_AT: usize = 256 * 1024;
/// Replies waiting on peers before the connection stops reading more
/// requests and writes what it has (bounds memory per connection).
const MAX_WAITING: usize = 2048;
/// Buffers grown past this are given back once empty.
const SHRINK_ABOVE: usize = 1024 * 1024;

/// Serves `stream` until the client leaves, is killed, times out, sends a
/// protocol error, or the node shuts down.
pub async fn serve(node: Arc<NodeState>, mut stream: TcpStream, handle: Arc<ClientHandle>) {
    let _ = stream.set_nodelay(true);
    let mut config_seen = node.config_version.load(Ordering::Acquire);
    let (mut query_limit, authenticated, protected) = {
        let config = node.config.read();
        // Only a cluster node serves such a client at all (see server.rs).
        let protected = crate::server::protected_mode_refuses(&config, handle.peer.ip());
        (
            config.client_query_buffer_limit,
            config.requirepass.is_none() && !protected,
            protected,
        )
    };
    let mut session = Session {
        handle: handle.clone(),
        authenticated,
        resp3: false,
        commands: 0,
        peer: false,
        protected,
        peer_challenge: None,
        readonly: false,
        last_write: None,
    };
    let cluster = node.cluster.get().cloned();
    // Replies not known yet (forwarded, split, held for replicas), kept in
    // request order with the ready bytes between them.
    let mut segments: Vec<Segment> = Vec::new();
    let mut parser = RequestParser::new(node.limits());
    // Requests not yet run start at `start` below; the consumed prefix is
    // cut once per read, not once per request.
    let mut input: Vec<u8> = Vec::with_capacity(BUFFER_SIZE);
    let mut output = BytesMut::with_capacity(BUFFER_SIZE);
    // CLIENT KILL, the idle timeout and shutdown all end a connection by
    // killing its handle; polled at every wake-up, so it is one atomic load.
    let mut stop = std::future::poll_fn(|cx| handle.poll_killed(cx));
    loop {
        if input.capacity() - input.len() < 4096 {
            input.reserve(BUFFER_SIZE.max(parser.bulk_hint().min(SHRINK_ABOVE)));
        }
        let read = tokio::select! {
            biased;
            () = &mut stop => Err(()),
            r = socket::recv(&stream, &mut input) => r.map_err(|_| ()),
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        ServerStats::add(&node.stats.net_input_bytes, n as u64);
        // CONFIG SET applies to connected clients too, as in Redis, from
        // the requests read after it (the idle timeout is enforced by the
        // maintenance thread).
        let config_now = node.config_version.load(Ordering::Acquire);
        if config_now != config_seen {
            config_seen = config_now;
            query_limit = node.config.read().client_query_buffer_limit;
            parser.set_limits(node.limits());
        }
        let mut close = false;
        let mut start = 0;
        loop {
            match parser.parse(&input[start..]) {
                Ok(Some(consumed)) => {
                    let args = parser.args(&input[start..]);
                    if !args.is_empty() {
                        match &cluster {
                            None => {
                                let mut ctx = Ctx {
                                    node: &node,
                                    reply: Reply::new(&mut output, session.resp3),
                                    session: &mut session,
                                    after: After::Continue,
                                };
                                commands::execute(&mut ctx, args);
                                close = ctx.after == After::Close;
                            }
                            Some(cluster) => {
                                let mut after = After::Continue;
                                let pending = dispatch::run(
                                    &node,
                                    cluster,
                                    &mut session,
                                    &mut output,
                                    args,
                                    &mut after,
                                );
                                if let Some(pending) = pending {
                                    segments.push(Segment::Ready(output.split().freeze()));
                                    segments.push(Segment::Waiting(pending));
                                }
                                close = after == After::Close;
                            }
                        }
                    }
                    start += consumed;
                    if close {
                        break;
                    }
                    if (output.len() >= FLUSH_AT || segments.len() >= MAX_WAITING)
                        && write_out(&node, &mut stream, &mut segments, &mut output)
                            .await
                            .is_err()
                    {
                        return finish(&node, &handle, &mut session);
                    }
                }
                Ok(None) => {
                    if (input.len() - start) as u64 > query_limit {
                        debug!(client = %handle.peer, "query buffer limit reached");
                        close = true;
                    }
                    break;
                }
                Err(e) => {
                    debug!(client = %handle.peer, error = %e, "protocol error");
                    ServerStats::add(&node.stats.protocol_errors, 1);
                    Reply::new(&mut output, session.resp3).error(&format!("ERR {e}"));
                    close = true;
                    break;
                }
            }
        }
        input.drain(..start);
        handle
            .query_buffer
            .store(input.len() as u64, Ordering::Relaxed);
        handle.last_active_ms.store(unix_ms(), Ordering::Relaxed);
        ServerStats::add(
            &node.stats.commands_processed,
            std::mem::take(&mut session.commands),
        );
        if write_out(&node, &mut stream, &mut segments, &mut output)
            .await
            .is_err()
            || close
        {
            break;
        }
        if input.is_empty() && input.capacity() > SHRINK_ABOVE {
            input = Vec::with_capacity(BUFFER_SIZE);
        }
        if output.capacity() > SHRINK_ABOVE {
            output = BytesMut::with_capacity(BUFFER_SIZE);
        }
    }
    let _ = stream.shutdown().await;
    finish(&node, &handle, &mut session);
}

fn finish(node: &NodeState, handle: &ClientHandle, session: &mut Session) {
    ServerStats::add(
        &node.stats.commands_processed,
        std::mem::take(&mut session.commands),
    );
    node.clients.unregister(handle.id);
}

/// A reply in the ordered output of a cluster connection.
enum Segment {
    /// Bytes ready to write.
    Ready(Bytes),
    /// A reply still coming.
    Waiting(PendingReply),
}

/// Writes the pending replies in request order (waiting for those not yet
/// known), then `output`, in one write.
async fn write_out(
    node: &NodeState,
    stream: &mut TcpStream,
    segments: &mut Vec<Segment>,
    output: &mut BytesMut,
) -> std::io::Result<()> {
    if !segments.is_empty() {
        let mut joined = BytesMut::new();
        for segment in segments.drain(..) {
            match segment {
                Segment::Ready(bytes) => joined.extend_from_slice(&bytes),
                Segment::Waiting(reply) => joined.extend_from_slice(&reply.await),
            }
        }
        joined.extend_from_slice(output);
        output.clear();
        *output = joined;
    }
    if output.is_empty() {
        return Ok(());
    }
    socket::send_all(stream, output).await?;
    ServerStats::add(&node.stats.net_output_bytes, output.len() as u64);
    output.clear();
    Ok(())
}
