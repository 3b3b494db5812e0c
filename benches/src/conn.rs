//! One load-generating connection: it repeatedly encodes a window of
//! `pipeline` requests, sends them, reads exactly that many replies, and
//! records each request's latency from the moment its window was sent to the
//! moment its own reply was decoded.
//!
//! With `--cluster` a "connection" holds one socket per node and splits each
//! window by slot owner; the nodes' parts are exchanged concurrently, and
//! each socket writes and reads at once so a large window can never stall on
//! full socket buffers.

use std::io;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use ringcache_proto::resp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::ReadHalf;
use tokio::net::TcpStream;

use crate::cluster::Topology;
use crate::config::{Config, Stop};
use crate::keys::{format_key, KeyGen};
use crate::reply::{classify, Op, Outcome};
use crate::stats::Stats;

/// Most reply bytes buffered on one socket: whole windows of GET replies fit
/// (pipeline × value size is bounded by the options), a misbehaving server
/// does not exhaust memory.
const MAX_READ_BUFFER: usize = 1 << 30;
/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// What one connection should do: its keys and, for `--load`, how many.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Index of the connection over all threads (seeds its key generator).
    pub index: usize,
    /// The key generator, already positioned.
    pub keys: KeyGen,
    /// Requests to measure; `None` runs until the clock says stop.
    pub requests: Option<u64>,
}

/// When measuring starts and, for a timed run, when sending stops. Shared
/// by every connection so their windows line up.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Requests sent before this are warmup and not counted.
    pub measure_from: Instant,
    /// No window is sent at or after this (timed runs).
    pub stop_at: Option<Instant>,
}

impl Clock {
    /// The clock for `config` when the run starts at `start`.
    pub fn new(config: &Config, start: Instant) -> Clock {
        let measure_from = start + config.warmup;
        let stop_at = match config.stop {
            Stop::Time(t) => Some(measure_from + t),
            Stop::Requests(_) | Stop::Load => None,
        };
        Clock {
            measure_from,
            stop_at,
        }
    }
}

/// One socket and the window in flight on it.
struct Node {
    stream: TcpStream,
    /// Encoded requests of the current window.
    out: BytesMut,
    /// Reply bytes read but not yet decoded.
    input: BytesMut,
    /// The ops sent in this window, in order.
    pending: Vec<Op>,
    /// The outcome of each pending op and when its reply was decoded.
    done: Vec<(Outcome, Instant)>,
}

impl Node {
    async fn open(addr: &str, timeout: Duration) -> io::Result<Node> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {addr} timed out"),
                )
            })??;
        // Small requests must leave at once, not wait for Nagle.
        stream.set_nodelay(true)?;
        Ok(Node {
            stream,
            out: BytesMut::with_capacity(READ_CHUNK),
            input: BytesMut::with_capacity(READ_CHUNK),
            pending: Vec::new(),
            done: Vec::new(),
        })
    }

    /// Sends the window and reads its replies, both at once.
    async fn exchange(&mut self, timeout: Duration) -> io::Result<()> {
        let Node {
            stream,
            out,
            input,
            pending,
            done,
        } = self;
        let (mut reader, mut writer) = stream.split();
        let work = async {
            tokio::try_join!(
                writer.write_all(out),
                read_replies(&mut reader, input, pending, done)
            )
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply within --timeout"))??;
        out.clear();
        Ok(())
    }
}

/// Reads until every op in `pending` has its reply in `done`.
async fn read_replies(
    reader: &mut ReadHalf<'_>,
    input: &mut BytesMut,
    pending: &[Op],
    done: &mut Vec<(Outcome, Instant)>,
) -> io::Result<()> {
    // Each pass either decodes, reads at least one byte, or returns, and the
    // caller's timeout bounds the whole exchange.
    while done.len() < pending.len() {
        let mut consumed = 0;
        while done.len() < pending.len() {
            match resp::decode(&input[consumed..]) {
                Ok(Some((value, used))) => {
                    consumed += used;
                    let op = pending[done.len()];
                    done.push((classify(op, value), Instant::now()));
                }
                Ok(None) => break,
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
        }
        input.advance(consumed);
        if done.len() == pending.len() {
            break;
        }
        if input.len() > MAX_READ_BUFFER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "reply larger than the read buffer limit",
            ));
        }
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
        if reader.read_buf(input).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

/// The `WAIT replicas timeout` sent after each SET (`--wait-replicas`).
struct Wait {
    replicas: Vec<u8>,
    /// Half the reply timeout: a server short of replicas answers WAIT
    /// (the write then counts as an error) before the connection would be
    /// given up.
    timeout_ms: Vec<u8>,
    wanted: i64,
}

impl Wait {
    fn new(config: &Config) -> Wait {
        let timeout_ms = (config.timeout.as_millis() / 2).max(1);
        Wait {
            replicas: config.wait_replicas.to_string().into_bytes(),
            timeout_ms: timeout_ms.to_string().into_bytes(),
            wanted: i64::from(config.wait_replicas),
        }
    }
}

/// A connected load generator, ready to run.
pub struct Connection {
    nodes: Vec<Node>,
    routes: Topology,
    plan: Plan,
    ratio: crate::config::Ratio,
    pipeline: usize,
    timeout: Duration,
    prefix: Vec<u8>,
    value: Vec<u8>,
    /// `--wait-replicas`: the WAIT sent after each SET, if any.
    wait: Option<Wait>,
}

impl Connection {
    /// Connects to every node of `topology`.
    ///
    /// # Errors
    /// A node that cannot be reached within the timeout.
    pub async fn open(config: &Config, topology: &Topology, plan: Plan) -> io::Result<Connection> {
        let mut nodes = Vec::with_capacity(topology.nodes.len());
        for addr in &topology.nodes {
            nodes.push(Node::open(addr, config.timeout).await?);
        }
        // A fixed printable value, like memtier's: content does not matter
        // to a cache, only its size.
        let value = (0..config.data_size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        Ok(Connection {
            nodes,
            routes: topology.clone(),
            plan,
            ratio: config.ratio,
            pipeline: config.pipeline,
            timeout: config.timeout,
            prefix: config.key_prefix.as_bytes().to_vec(),
            value,
            wait: (config.wait_replicas > 0).then(|| Wait::new(config)),
        })
    }

    /// Runs until `clock` (or the plan's request count) says stop, and
    /// returns what was measured. A lost connection ends the run for this
    /// connection and is counted; error replies are counted and go on.
    pub async fn run(mut self, clock: Clock) -> Stats {
        let mut stats = Stats {
            started: Some(clock.measure_from),
            ..Stats::default()
        };
        let mut key = Vec::with_capacity(self.prefix.len() + 20);
        let mut sequence: u64 = 0;
        let mut measured: u64 = 0;
        // Bounded by the clock for timed runs and by the request count
        // otherwise (each measured window adds at least one).
        loop {
            let now = Instant::now();
            let measuring = now >= clock.measure_from;
            if clock.stop_at.is_some_and(|stop| now >= stop) {
                break;
            }
            let mut window = self.pipeline as u64;
            if let (true, Some(total)) = (measuring, self.plan.requests) {
                window = window.min(total.saturating_sub(measured));
            }
            if window == 0 {
                break;
            }
            for _ in 0..window {
                let op = if self.ratio.is_set(sequence) {
                    Op::Set
                } else {
                    Op::Get
                };
                sequence += 1;
                format_key(&mut key, &self.prefix, self.plan.keys.next_key());
                let target = if self.routes.is_cluster() {
                    self.routes.owner(ringcache_proto::key_slot(&key))
                } else {
                    0
                };
                let node = &mut self.nodes[target];
                if op == Op::Set {
                    resp::write_command(&mut node.out, &[b"SET".as_slice(), &key, &self.value]);
                } else {
                    resp::write_command(&mut node.out, &[b"GET".as_slice(), &key]);
                }
                node.pending.push(op);
                if let (Op::Set, Some(wait)) = (op, &self.wait) {
                    let command = [b"WAIT".as_slice(), &wait.replicas, &wait.timeout_ms];
                    resp::write_command(&mut node.out, &command);
                    node.pending.push(Op::Wait);
                }
            }
            let sent = Instant::now();
            if let Err(e) = self.exchange().await {
                stats.connection_error(e);
                break;
            }
            let counted = sent >= clock.measure_from;
            self.record_window(&mut stats, sent, counted);
            if counted {
                measured += window;
            }
        }
        stats
    }

    /// Records the replies of the window sent at `sent` (when `counted`),
    /// a WAIT's reply as part of the SET before it, and follows MOVED
    /// redirects for later windows.
    fn record_window(&mut self, stats: &mut Stats, sent: Instant, counted: bool) {
        let wanted = self.wait.as_ref().map(|w| w.wanted);
        for node in &mut self.nodes {
            let mut replies = node.done.drain(..).zip(&node.pending).peekable();
            while let Some(((mut outcome, mut at), &op)) = replies.next() {
                if let Outcome::Moved { slot, addr } = &outcome {
                    // Follow the new owner for later requests when we
                    // already hold a socket to it; otherwise the slot
                    // keeps failing and is counted.
                    if let (Some(i), Some(entry)) = (
                        self.routes.node_index(addr),
                        self.routes.slots.get_mut(usize::from(*slot)),
                    ) {
                        // i < nodes.len() <= MAX_NODES (1024): fits u16.
                        *entry = i as u16;
                    }
                }
                if let Some(((waited, waited_at), Op::Wait)) =
                    replies.next_if(|(_, &next)| next == Op::Wait)
                {
                    // The write is done when WAIT answers, and failed
                    // when fewer replicas than asked hold it.
                    at = waited_at;
                    let short = !matches!(waited, Outcome::Replicas(n) if Some(n) >= wanted);
                    if short && outcome == Outcome::Stored {
                        outcome = Outcome::Error;
                    }
                }
                if counted {
                    stats.record(op, &outcome, at.saturating_duration_since(sent), at);
                }
            }
            drop(replies);
            node.pending.clear();
        }
    }

    /// Exchanges the current window with every node that has part of it.
    async fn exchange(&mut self) -> io::Result<()> {
        let timeout = self.timeout;
        if let [node] = self.nodes.as_mut_slice() {
            return node.exchange(timeout).await;
        }
        let busy = self.nodes.iter_mut().filter(|n| !n.pending.is_empty());
        let results = futures_util::future::join_all(busy.map(|n| n.exchange(timeout))).await;
        results.into_iter().collect()
    }
}
