//! One pipelined, multiplexed RESP connection: many callers share one
//! socket, and each gets the replies to its own commands.
//!
//! A [`Link`] is a cheap `Clone` handle. Each request (one or more encoded
//! commands, back to back, and a [`Waiter`] for their replies) goes over a
//! bounded queue to [`run`], the task that owns the socket; a full queue
//! sheds the request at once ([`SendError::Full`]). The task's write half
//! takes everything queued and writes it with one syscall (up to
//! [`MAX_BATCH_BYTES`]); its read half, running concurrently (a peer blocked
//! on writing replies must not block our writes to it, or both wait
//! forever), cuts reply frames out of the byte stream with
//! [`resp::frame_len`] and hands each, as raw bytes, to the oldest request
//! still waiting: RESP replies come back in request order. Commands in
//! flight are bounded ([`LinkConfig::max_in_flight`]).
//!
//! The link stops when the socket fails, when the peer sends something that
//! is not a reply to a request, when [`Link::abort`] is called, when the
//! oldest request is [`LinkConfig::stale_after`] past its deadline, or when
//! every handle is gone. Then every waiter is failed: those whose commands
//! were written with a [`LinkError`] that says so (they may have run), the
//! others as not sent (safe to retry). [`run`] reports what it failed in a
//! [`LinkEnd`].
//!
//! A RESP3 peer may send push frames (`>`, such as client tracking's
//! invalidations) between replies. With [`LinkConfig::pushes`] the read
//! half hands each to that sink as it cuts it, before any reply after it
//! is delivered; without one a push is taken for a reply, as a RESP2 peer
//! never sends one.
//!
//! [`Batch`] is a ready waiter for callers that want all of a request's
//! replies at once.
//!
//! Dialing, handshakes (AUTH, HELLO, the cluster's peer proof) and redial
//! policy belong to the owner: it runs them on the stream before handing the
//! halves to [`run`]. The client's connections and the node's peer links
//! are both built this way.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

use crate::clock::unix_millis;
use crate::resp;

mod batch;

pub use batch::{Batch, BatchReply, Frames};

/// A write batch stops growing at this many bytes.
pub const MAX_BATCH_BYTES: usize = 64 * 1024;
/// How often a link with [`LinkConfig::stale_after`] looks at its oldest
/// request.
const STALE_CHECK: Duration = Duration::from_millis(250);
/// The read buffer grows by this much when it runs low.
const READ_CHUNK: usize = 16 * 1024;
/// A write buffer that grew past this is given back after use.
const KEEP_WRITE_BUFFER: usize = 1 << 20;

/// The one waiting for the replies to one request. The link calls
/// [`Waiter::reply`] once per reply, in order, then [`Waiter::finish`]; or
/// [`Waiter::fail`] if the link stops first.
pub trait Waiter: Send + 'static {
    /// How many replies the request's frames ask for (one per command).
    fn count(&self) -> usize;

    /// True when nobody waits any more: a request not yet written is then
    /// dropped instead of sent.
    fn is_abandoned(&self) -> bool {
        false
    }

    /// When the caller stops waiting, for [`LinkConfig::stale_after`].
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// The next reply, as its raw RESP frame.
    fn reply(&mut self, frame: Bytes);

    /// Every reply was given.
    fn finish(self);

    /// The link stopped before every reply came.
    fn fail(self, error: LinkError);
}

/// Where a link's RESP3 push frames go: called on the read half, in
/// stream order, with each whole frame; it must not block.
#[derive(Clone)]
pub struct PushSink(pub Arc<dyn Fn(Bytes) + Send + Sync>);

impl fmt::Debug for PushSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PushSink")
    }
}

/// How a link runs.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Requests that may wait for the writer; more are shed with
    /// [`SendError::Full`].
    pub queue_capacity: usize,
    /// Commands written and not yet answered, at most.
    pub max_in_flight: usize,
    /// Stop the link when its oldest request is still unanswered this long
    /// after that request's [`Waiter::deadline`]: a peer that stopped
    /// answering (but did not close the socket) is let go. `None`: never.
    pub stale_after: Option<Duration>,
    /// Also counts this link's commands in flight (written, not answered),
    /// for an owner that sums several links.
    pub in_flight_gauge: Option<Arc<AtomicUsize>>,
    /// Receives the peer's push frames; `None`: the peer sends none.
    pub pushes: Option<PushSink>,
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig {
            queue_capacity: 1024,
            max_in_flight: 4096,
            stale_after: None,
            in_flight_gauge: None,
            pushes: None,
        }
    }
}

/// Encoded commands and the waiter for their replies.
pub struct Request<W> {
    /// The commands, encoded back to back.
    pub frames: Bytes,
    /// Who gets the replies.
    pub waiter: W,
}

/// Why [`Link::send`] did not queue a request; the request comes back.
pub enum SendError<W> {
    /// The queue is full: shed, nothing was sent.
    Full(Request<W>),
    /// The link has stopped: nothing was sent.
    Closed(Request<W>),
}

impl<W> fmt::Debug for SendError<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Full(_) => "SendError::Full",
            SendError::Closed(_) => "SendError::Closed",
        })
    }
}

/// A waiter's failure: why the link stopped, and whether the request's
/// commands had been written (then they may have run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError {
    written: bool,
    reason: Arc<str>,
}

impl LinkError {
    /// True when the commands were written before the link stopped: they
    /// may or may not have run. False: they were never sent.
    pub fn was_written(&self) -> bool {
        self.written
    }

    /// Why the link stopped.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.written {
            write!(f, "link lost with the request in flight: {}", self.reason)
        } else {
            write!(f, "link lost before the request was sent: {}", self.reason)
        }
    }
}

impl std::error::Error for LinkError {}

/// Why a link stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// Every [`Link`] handle was dropped.
    Released,
    /// [`Link::abort`] was called.
    Aborted,
    /// The peer closed the connection.
    PeerClosed,
    /// Reading or writing failed.
    Io(String),
    /// The peer sent something that is not RESP, or a reply with no
    /// request waiting for it.
    Protocol(String),
    /// The oldest request went unanswered this long past its deadline.
    Stale(Duration),
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Released => f.write_str("every handle was dropped"),
            EndReason::Aborted => f.write_str("aborted: a request on it was given up"),
            EndReason::PeerClosed => f.write_str("closed by the peer"),
            EndReason::Io(e) | EndReason::Protocol(e) => f.write_str(e),
            EndReason::Stale(after) => {
                write!(f, "no reply for {after:?} past a request's deadline")
            }
        }
    }
}

/// What [`run`] reports when the link stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEnd {
    /// Why it stopped.
    pub reason: EndReason,
    /// Commands written and not answered (their waiters were failed).
    pub unanswered: usize,
    /// Commands queued and never written (their waiters were failed).
    pub unsent: usize,
    /// Wall-clock Unix milliseconds when the link last had nothing in
    /// flight (or started): everything written before was answered.
    pub settled_at_ms: u64,
}

/// State shared by the handles and the task.
struct Shared {
    /// Taken by the first [`Link::abort`]. A oneshot rather than a
    /// `Notify`: the task polls its receiver on every wake-up, and that
    /// poll takes no lock.
    abort: Mutex<Option<oneshot::Sender<()>>>,
}

/// A handle on one link; clones share it.
pub struct Link<W> {
    tx: mpsc::Sender<Request<W>>,
    shared: Arc<Shared>,
}

impl<W> Clone for Link<W> {
    fn clone(&self) -> Link<W> {
        Link {
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<W> fmt::Debug for Link<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

/// The task's end of a link's queue: give it to [`run`] with the stream,
/// or to [`Queue::fail`] when the stream could not be opened.
pub struct Queue<W> {
    rx: mpsc::Receiver<Request<W>>,
    aborted: oneshot::Receiver<()>,
    /// Keeps the abort sender alive while the task runs.
    shared: Arc<Shared>,
    config: LinkConfig,
}

/// A new link's handle and its queue. Requests sent before [`run`] starts
/// wait in the queue (up to [`LinkConfig::queue_capacity`]).
pub fn channel<W: Waiter>(config: LinkConfig) -> (Link<W>, Queue<W>) {
    let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
    let (abort, aborted) = oneshot::channel();
    let shared = Arc::new(Shared {
        abort: Mutex::new(Some(abort)),
    });
    let link = Link {
        tx,
        shared: Arc::clone(&shared),
    };
    let queue = Queue {
        rx,
        aborted,
        shared,
        config,
    };
    (link, queue)
}

impl<W: Waiter> Link<W> {
    /// Queues `frames` (`waiter.count()` encoded commands); `waiter` gets
    /// their replies.
    ///
    /// # Errors
    /// [`SendError::Full`] when the queue is full, [`SendError::Closed`]
    /// when the link has stopped; either way nothing was sent and the
    /// request comes back.
    pub fn send(&self, frames: Bytes, waiter: W) -> Result<(), SendError<W>> {
        self.tx
            .try_send(Request { frames, waiter })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(r) => SendError::Full(r),
                mpsc::error::TrySendError::Closed(r) => SendError::Closed(r),
            })
    }

    /// True once the link has stopped (new requests fail at once).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Stops the link at once (even before [`run`] starts): what it has not
    /// delivered never will be, and every waiter fails.
    pub fn abort(&self) {
        if let Some(abort) = lock(&self.shared.abort).take() {
            let _ = abort.send(());
        }
    }
}

impl<W: Waiter> Queue<W> {
    /// Fails every queued request as not sent (the stream could not be
    /// opened) and closes the queue; returns how many commands that was.
    pub fn fail(mut self, reason: &str) -> usize {
        self.rx.close();
        let error = LinkError {
            written: false,
            reason: Arc::from(reason),
        };
        fail_unsent(None, &mut self.rx, &error)
    }
}

/// A written request waiting for its replies.
struct Pending<W> {
    waiter: W,
    remaining: usize,
    permits: usize,
    deadline: Option<Instant>,
}

/// What the write and read halves share while the link runs.
struct Book<W> {
    /// Written requests, oldest first. A std mutex: held for a push or a
    /// batch of pops, never across an `.await`.
    pending: Mutex<VecDeque<Pending<W>>>,
    permits: Semaphore,
    max_in_flight: usize,
    gauge: Option<Arc<AtomicUsize>>,
    settled_at_ms: AtomicU64,
    pushes: Option<PushSink>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the queue half-updated
    // (single push/pop), so poisoning is ignored.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<W: Waiter> Book<W> {
    /// Permits a request of `count` commands takes: one per command, at
    /// most the whole budget (so a huge batch still passes, alone).
    fn permits_for(&self, count: usize) -> usize {
        count.min(self.max_in_flight)
    }

    fn gauge_add(&self, n: usize) {
        if let Some(gauge) = &self.gauge {
            gauge.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn gauge_sub(&self, n: usize) {
        if let Some(gauge) = &self.gauge {
            gauge.fetch_sub(n, Ordering::Relaxed);
        }
    }
}

/// Runs the link on a connected stream's halves until it stops (see the
/// module docs), then fails every waiter left and reports. The owner spawns
/// it; dropping the future drops the waiters unanswered.
pub async fn run<R, Wr, W>(reader: R, writer: Wr, queue: Queue<W>) -> LinkEnd
where
    R: AsyncRead + Unpin,
    Wr: AsyncWrite + Unpin,
    W: Waiter,
{
    let Queue {
        mut rx,
        mut aborted,
        shared: _keep_abort,
        config,
    } = queue;
    // Permits are taken in `u32`s.
    let most = Semaphore::MAX_PERMITS.min(u32::MAX as usize);
    let max_in_flight = config.max_in_flight.clamp(1, most);
    let book = Book {
        pending: Mutex::new(VecDeque::new()),
        permits: Semaphore::new(max_in_flight),
        max_in_flight,
        gauge: config.in_flight_gauge.clone(),
        settled_at_ms: AtomicU64::new(unix_millis()),
        pushes: config.pushes.clone(),
    };
    // The request the writer holds while it waits for in-flight room.
    let mut held: Option<Request<W>> = None;
    let reason = tokio::select! {
        r = read_loop(reader, &book) => r,
        r = write_loop(writer, &mut rx, &mut held, &book) => r,
        r = watch_stale(&book, config.stale_after) => r,
        Ok(()) = &mut aborted => EndReason::Aborted,
    };
    rx.close();
    let reason_text: Arc<str> = Arc::from(reason.to_string());
    let written = LinkError {
        written: true,
        reason: Arc::clone(&reason_text),
    };
    let in_flight: Vec<Pending<W>> = lock(&book.pending).drain(..).collect();
    let unanswered: usize = in_flight.iter().map(|p| p.remaining).sum();
    book.gauge_sub(unanswered);
    for pending in in_flight {
        pending.waiter.fail(written.clone());
    }
    let unsent_error = LinkError {
        written: false,
        reason: reason_text,
    };
    let unsent = fail_unsent(held, &mut rx, &unsent_error);
    LinkEnd {
        reason,
        unanswered,
        unsent,
        settled_at_ms: book.settled_at_ms.load(Ordering::Relaxed),
    }
}

/// Fails `held` and everything left in the (closed) queue as not sent;
/// returns how many commands that was.
fn fail_unsent<W: Waiter>(
    held: Option<Request<W>>,
    rx: &mut mpsc::Receiver<Request<W>>,
    error: &LinkError,
) -> usize {
    let mut commands = 0;
    let queued = std::iter::from_fn(|| rx.try_recv().ok());
    for request in held.into_iter().chain(queued) {
        commands += request.waiter.count();
        request.waiter.fail(error.clone());
    }
    commands
}

/// Takes requests off the queue and writes them, batched; returns when
/// every handle is gone or a write fails.
async fn write_loop<Wr, W>(
    mut writer: Wr,
    rx: &mut mpsc::Receiver<Request<W>>,
    held: &mut Option<Request<W>>,
    book: &Book<W>,
) -> EndReason
where
    Wr: AsyncWrite + Unpin,
    W: Waiter,
{
    let mut batch: Vec<Bytes> = Vec::new();
    let mut fresh: Vec<Pending<W>> = Vec::new();
    let mut buf = BytesMut::new();
    loop {
        let request = match held.take() {
            Some(request) => request,
            None => match rx.recv().await {
                Some(request) => request,
                None => return EndReason::Released,
            },
        };
        if request.waiter.is_abandoned() {
            continue;
        }
        let need = book.permits_for(request.waiter.count());
        *held = Some(request);
        // Everything registered so far is on the wire, so waiting here
        // cannot hold up the replies that return permits.
        match book.permits.acquire_many(permits_u32(need)).await {
            Ok(permit) => permit.forget(),
            Err(_) => return EndReason::Protocol("in-flight semaphore closed".into()),
        }
        let Some(request) = held.take() else {
            continue;
        };
        let mut bytes = request.frames.len();
        register(request, need, &mut batch, &mut fresh);
        while bytes < MAX_BATCH_BYTES {
            let Ok(request) = rx.try_recv() else { break };
            if request.waiter.is_abandoned() {
                continue;
            }
            let need = book.permits_for(request.waiter.count());
            match book.permits.try_acquire_many(permits_u32(need)) {
                Ok(permit) => permit.forget(),
                Err(_) => {
                    *held = Some(request);
                    break;
                }
            }
            bytes += request.frames.len();
            register(request, need, &mut batch, &mut fresh);
        }
        // Registered before the bytes leave, so every reply finds its
        // waiter.
        let commands: usize = fresh.iter().map(|p| p.remaining).sum();
        book.gauge_add(commands);
        lock(&book.pending).extend(fresh.drain(..));
        let result = match batch.as_slice() {
            [] => Ok(()),
            [one] => writer.write_all(one).await,
            many => {
                buf.clear();
                for frames in many {
                    buf.extend_from_slice(frames);
                }
                writer.write_all(&buf).await
            }
        };
        batch.clear();
        if buf.capacity() > KEEP_WRITE_BUFFER {
            buf = BytesMut::new();
        }
        if let Err(e) = result {
            return EndReason::Io(format!("write: {e}"));
        }
    }
}

fn permits_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Adds `request` to the batch being written and its waiter to `fresh`.
/// A request of no commands expects no reply: its waiter is finished now.
fn register<W: Waiter>(
    request: Request<W>,
    permits: usize,
    batch: &mut Vec<Bytes>,
    fresh: &mut Vec<Pending<W>>,
) {
    let count = request.waiter.count();
    if !request.frames.is_empty() {
        batch.push(request.frames);
    }
    if count == 0 {
        request.waiter.finish();
        return;
    }
    fresh.push(Pending {
        deadline: request.waiter.deadline(),
        waiter: request.waiter,
        remaining: count,
        permits,
    });
}

/// Reads replies and hands each to the oldest waiting request; returns
/// when the stream fails or the peer misbehaves.
async fn read_loop<R, W>(mut reader: R, book: &Book<W>) -> EndReason
where
    R: AsyncRead + Unpin,
    W: Waiter,
{
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut done: Vec<W> = Vec::new();
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        match reader.read_buf(&mut buf).await {
            Ok(0) => return EndReason::PeerClosed,
            Ok(_) => {}
            Err(e) => return EndReason::Io(format!("read: {e}")),
        }
        let delivered = deliver(&mut buf, book, &mut done);
        for waiter in done.drain(..) {
            waiter.finish();
        }
        if let Err(reason) = delivered {
            return reason;
        }
    }
}

/// Cuts every complete frame off the front of `buf` and gives it to its
/// waiter; the waiters that got all their replies go to `done`.
fn deliver<W: Waiter>(
    buf: &mut BytesMut,
    book: &Book<W>,
    done: &mut Vec<W>,
) -> Result<(), EndReason> {
    let mut released = 0;
    let mut answered = 0;
    let mut pending = lock(&book.pending);
    let result = loop {
        let len = match resp::frame_len(buf) {
            Ok(Some(len)) => len,
            Ok(None) => break Ok(()),
            Err(e) => break Err(EndReason::Protocol(e.to_string())),
        };
        if let (Some(sink), Some(b'>')) = (&book.pushes, buf.first()) {
            (sink.0)(buf.split_to(len).freeze());
            continue;
        }
        let Some(front) = pending.front_mut() else {
            break Err(EndReason::Protocol(
                "a reply with no request waiting for it".into(),
            ));
        };
        front.waiter.reply(buf.split_to(len).freeze());
        front.remaining -= 1;
        answered += 1;
        if front.remaining == 0 {
            if let Some(finished) = pending.pop_front() {
                released += finished.permits;
                done.push(finished.waiter);
            }
            if pending.is_empty() {
                book.settled_at_ms.store(unix_millis(), Ordering::Relaxed);
            }
        }
    };
    drop(pending);
    book.gauge_sub(answered);
    book.permits.add_permits(released);
    result
}

/// Stops the link when its oldest request is `stale_after` past its
/// deadline; never, without `stale_after`.
async fn watch_stale<W>(book: &Book<W>, stale_after: Option<Duration>) -> EndReason {
    let Some(stale_after) = stale_after else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(STALE_CHECK).await;
        let oldest = lock(&book.pending).front().and_then(|p| p.deadline);
        if oldest.is_some_and(|deadline| Instant::now() > deadline + stale_after) {
            return EndReason::Stale(stale_after);
        }
    }
}

#[cfg(test)]
mod tests;
