//! The reply side of a connection: the batch's replies in request order
//! (bytes known now, and replies that come later: forwarded, split, held
//! for replicas, KEYS), written with as few writes as possible, within the
//! client's output buffer limits, and abandoned at once when the client is
//! killed.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tracing::warn;

use super::Ended;
use crate::clients::ClientHandle;
use crate::commands::Deferred;
use crate::config::OutputLimit;
use crate::log_limit::LogLimit;
use crate::stats::ServerStats;
use crate::store::unix_ms;
use crate::stream::ClientStream;

/// Deferred replies this large are written as they are, not copied into
/// one buffer with their neighbours.
const DIRECT_WRITE: usize = 64 * 1024;

static OUTPUT_LIMIT_LOG: LogLimit = LogLimit::new(10_000);

/// Replies of the current batch, in request order.
pub(super) struct Replies {
    /// Replies known now, after the last deferred one.
    pub output: BytesMut,
    /// Replies not known yet, with the ready bytes between them.
    segments: Vec<Segment>,
}

/// A reply in the ordered output of a connection.
enum Segment {
    /// Bytes ready to write.
    Ready(Bytes),
    /// A reply still coming.
    Waiting(Deferred),
    /// A reply still coming that the client does not want (CLIENT REPLY
    /// OFF or SKIP): waited for in order, never written.
    Dropped(Deferred),
}

/// Where and how a batch is written.
pub(super) struct Outlet<'a> {
    pub stream: &'a mut ClientStream,
    pub handle: &'a ClientHandle,
    pub limit: OutputLimit,
    pub stats: &'a ServerStats,
}

impl Replies {
    pub fn with_capacity(capacity: usize) -> Replies {
        Replies {
            output: BytesMut::with_capacity(capacity),
            segments: Vec::new(),
        }
    }

    /// Whether anything is to be written (now or once it comes).
    pub fn has_output(&self) -> bool {
        !self.output.is_empty() || !self.segments.is_empty()
    }

    /// Bytes of the replies ready to be written.
    pub fn len(&self) -> usize {
        let sealed: usize = self
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Ready(bytes) => bytes.len(),
                Segment::Waiting(_) | Segment::Dropped(_) => 0,
            })
            .sum();
        sealed + self.output.len()
    }

    /// Replies waiting on something else (peers, a walk).
    pub fn waiting(&self) -> usize {
        self.segments.len()
    }

    /// Ends the replies so far here, so that those of the next request can
    /// be taken back ([`Replies::drop_since`]); returns the mark.
    pub fn seal(&mut self) -> usize {
        if !self.output.is_empty() {
            self.segments
                .push(Segment::Ready(self.output.split().freeze()));
        }
        self.segments.len()
    }

    /// Takes back the replies since `mark` (from [`Replies::seal`]): the
    /// client turned its replies off.
    pub fn drop_since(&mut self, mark: usize) {
        self.output.clear();
        let later: Vec<Segment> = self
            .segments
            .drain(mark.min(self.segments.len())..)
            .collect();
        for segment in later {
            match segment {
                Segment::Ready(_) => {}
                Segment::Waiting(reply) | Segment::Dropped(reply) => {
                    self.segments.push(Segment::Dropped(reply));
                }
            }
        }
    }

    /// Queues a reply that comes later, after what `output` holds now.
    pub fn defer(&mut self, reply: Option<Deferred>) {
        let Some(reply) = reply else {
            return;
        };
        if !self.output.is_empty() {
            self.segments
                .push(Segment::Ready(self.output.split().freeze()));
        }
        self.segments.push(Segment::Waiting(reply));
    }

    /// Writes the replies in request order (waiting for those not yet
    /// known), small ones joined into one write, within the output buffer
    /// limits.
    pub async fn flush(&mut self, outlet: &mut Outlet<'_>) -> Result<(), Ended> {
        let pieces = self.resolve_segments(outlet.handle).await?;
        let output = &mut self.output;
        let total = pieces.iter().map(Bytes::len).sum::<usize>() + output.len();
        if total == 0 {
            return Ok(());
        }
        let limit = outlet.limit;
        let mut result = if limit.hard > 0 && total as u64 > limit.hard {
            Err(Ended::OutputLimit)
        } else {
            Ok(())
        };
        for piece in pieces.iter().map(|p| &p[..]).chain([&output[..]]) {
            if result.is_ok() && !piece.is_empty() {
                result = send(outlet.stream, piece, total, outlet.handle, limit).await;
            }
        }
        match result {
            Ok(()) => {
                ServerStats::add(&outlet.stats.net_output_bytes, total as u64);
                output.clear();
                Ok(())
            }
            Err(Ended::OutputLimit) => {
                ServerStats::add(&outlet.stats.output_limit_disconnects, 1);
                if let Some(more) = OUTPUT_LIMIT_LOG.allow() {
                    warn!(
                        client = %outlet.handle.peer,
                        waiting = total,
                        suppressed = more,
                        "closing a client over its output buffer limits (client-output-buffer-limit)"
                    );
                }
                Err(Ended::OutputLimit)
            }
            Err(ended) => Err(ended),
        }
    }

    /// Waits for the deferred replies in request order; returns the replies
    /// before `output`, small ones joined (one write for a pipeline of
    /// forwarded requests) and large ones as they are (no copy of a large
    /// KEYS reply).
    async fn resolve_segments(&mut self, handle: &ClientHandle) -> Result<Vec<Bytes>, Ended> {
        let mut pieces = Vec::new();
        if self.segments.is_empty() {
            return Ok(pieces);
        }
        let mut small = BytesMut::new();
        for segment in self.segments.drain(..) {
            let bytes = match segment {
                Segment::Ready(bytes) => bytes,
                Segment::Waiting(reply) => tokio::select! {
                    biased;
                    () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
                    bytes = reply => bytes,
                },
                Segment::Dropped(reply) => {
                    tokio::select! {
                        biased;
                        () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
                        _ = reply => {}
                    }
                    continue;
                }
            };
            if bytes.len() < DIRECT_WRITE {
                small.extend_from_slice(&bytes);
            } else {
                if !small.is_empty() {
                    pieces.push(small.split().freeze());
                }
                pieces.push(bytes);
            }
        }
        if self.output.len() < DIRECT_WRITE {
            small.extend_from_slice(&self.output);
            self.output.clear();
        }
        if !small.is_empty() {
            pieces.push(small.freeze());
        }
        Ok(pieces)
    }
}

/// Sends `bytes`, waiting while the client does not read, until it is
/// killed or stays over the soft output limit longer than allowed. The
/// limit is compared with `held`, all the replies of the write: they stay
/// allocated until the last byte is written, so that is what the client
/// makes the node hold.
async fn send(
    stream: &mut ClientStream,
    mut bytes: &[u8],
    held: usize,
    handle: &ClientHandle,
    limit: OutputLimit,
) -> Result<(), Ended> {
    let held = held as u64;
    let mut over_soft_since: Option<Instant> = None;
    let mut waited = false;
    loop {
        if bytes.is_empty() {
            // TLS may hold the last records until the socket has room.
            if !stream.unflushed() {
                return Ok(());
            }
        } else {
            match stream.try_send(bytes) {
                // Nothing taken while not blocked: the connection is dead.
                Ok(Some(0)) => return Err(Ended::Gone),
                Ok(Some(n)) => {
                    bytes = &bytes[n..];
                    if waited {
                        // A client that reads slowly is not idle.
                        handle.last_active_ms.store(unix_ms(), Ordering::Relaxed);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(_) => return Err(Ended::Gone),
            }
        }
        waited = true;
        let over_soft = limit.soft > 0 && held > limit.soft;
        let deadline = if over_soft {
            let since = *over_soft_since.get_or_insert_with(Instant::now);
            Some(since + Duration::from_secs(limit.soft_seconds))
        } else {
            over_soft_since = None;
            None
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Ended::OutputLimit);
        }
        let soft_timer = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = std::future::poll_fn(|cx| handle.poll_killed(cx)) => return Err(Ended::Killed),
            ready = stream.writable() => {
                if ready.is_err() {
                    return Err(Ended::Gone);
                }
            }
            () = soft_timer => return Err(Ended::OutputLimit),
        }
    }
}
