//! Authenticated gossip: a chitchat transport over UDP that seals every
//! datagram with the cluster key and drops, counts and (rate-limited) logs
//! every datagram that does not open.
//!
//! ```text
//! "RC" 0x01 | sent at (ms since the epoch, u64 BE) | nonce (16 random bytes)
//!   | chitchat's bytes | HMAC-SHA256(gossip key, cluster name, all before it)
//! ```
//!
//! A datagram is taken only if its MAC verifies (constant-time), it was sent
//! within the clock-skew window of now, and its (time, nonce) was not seen
//! before: a captured datagram replayed later is dropped. The replay memory
//! holds the pairs of the window (bounded; when full it forgets the oldest
//! and refuses anything not newer than what it forgot). It lives in memory,
//! so right after a restart a datagram captured in the last window could be
//! taken once; chitchat's versioned state makes such an old datagram change
//! nothing but liveness, briefly.
//!
//! The seal authenticates; it does not hide: gossip (names, addresses,
//! states) travels in clear, as it did before.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chitchat::transport::{RecvOutcome, SendOutcome, Socket, Transport};
use chitchat::ChitchatEnvelope;
use hmac::Mac;
use tracing::warn;

use super::gossip_codec::{EnvelopeCodec, MAX_DATAGRAM};
use super::secret::{self, ClusterKeys, MAC_LEN};
use crate::log_limit::LogLimit;
use crate::store::unix_ms;

const MAGIC: [u8; 3] = *b"RC\x01";
const NONCE_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 8 + NONCE_LEN;
/// Bytes the seal adds to chitchat's.
pub const OVERHEAD: usize = HEADER_LEN + MAC_LEN;
/// (time, nonce) pairs remembered against replays. Honest gossip in a
/// window is a few thousand datagrams even in large clusters; only
/// datagrams whose MAC verified are remembered, so strangers cannot fill it.
const REPLAY_MEMORY: usize = 65_536;

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Its MAC did not verify: not sealed with this cluster's key.
    BadMac,
    /// Sent outside the clock-skew window of now.
    Stale,
    /// Seen before.
    Replayed,
    /// Too short, not sealed at all, or chitchat could not read it.
    Malformed,
    /// Too large to send once sealed.
    Oversize,
}

const REASONS: [Dropped; 5] = [
    Dropped::BadMac,
    Dropped::Stale,
    Dropped::Replayed,
    Dropped::Malformed,
    Dropped::Oversize,
];

impl Dropped {
    /// The name used in INFO, metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Dropped::BadMac => "bad_mac",
            Dropped::Stale => "stale",
            Dropped::Replayed => "replayed",
            Dropped::Malformed => "malformed",
            Dropped::Oversize => "oversize",
        }
    }

    /// The name of its counter in INFO cluster (`cluster_` prefixed) and
    /// the metrics (`ringcache_cluster_` prefixed).
    pub fn figure(self) -> &'static str {
        match self {
            Dropped::BadMac => "gossip_dropped_bad_mac",
            Dropped::Stale => "gossip_dropped_stale",
            Dropped::Replayed => "gossip_dropped_replayed",
            Dropped::Malformed => "gossip_dropped_malformed",
            Dropped::Oversize => "gossip_dropped_oversize",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Datagrams dropped, by reason; shared with INFO and the metrics.
#[derive(Debug, Default)]
pub struct SealStats {
    dropped: [AtomicU64; REASONS.len()],
    limits: [LogLimit; REASONS.len()],
}

impl SealStats {
    /// Datagrams dropped for `reason` so far.
    pub fn dropped(&self, reason: Dropped) -> u64 {
        self.dropped[reason.index()].load(Ordering::Relaxed)
    }

    /// Every reason with its count.
    pub fn all(&self) -> impl Iterator<Item = (Dropped, u64)> + '_ {
        REASONS.iter().map(|&r| (r, self.dropped(r)))
    }

    fn count(&self, reason: Dropped, peer: SocketAddr) {
        self.dropped[reason.index()].fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = self.limits[reason.index()].allow() {
            warn!(
                peer = %peer,
                reason = reason.name(),
                suppressed,
                "gossip datagram dropped"
            );
        }
    }
}

/// The cluster's seal: its key, the freshness window, the drop counters.
#[derive(Debug, Clone)]
pub struct Seal {
    keys: ClusterKeys,
    window_ms: u64,
    stats: Arc<SealStats>,
}

impl Seal {
    /// A seal with `keys`, taking datagrams sent within `window` of now.
    pub fn new(keys: ClusterKeys, window: Duration) -> Seal {
        Seal {
            keys,
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            stats: Arc::default(),
        }
    }

    /// The drop counters.
    pub fn stats(&self) -> &Arc<SealStats> {
        &self.stats
    }

    /// Seals chitchat's `payload` into `out` (cleared first).
    ///
    /// # Errors
    /// No randomness for the nonce.
    pub fn seal(&self, payload: &[u8], now_ms: u64, out: &mut Vec<u8>) -> anyhow::Result<()> {
        let nonce = secret::random::<NONCE_LEN>().context("no randomness for a nonce")?;
        out.clear();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&now_ms.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(payload);
        let mut mac = self.keys.gossip_mac();
        mac.update(out);
        out.extend_from_slice(&mac.finalize().into_bytes());
        Ok(())
    }

    /// Opens a sealed datagram: its chitchat bytes, or why it is dropped.
    /// Remembers it in `replays` so it is taken only once.
    pub fn open<'d>(
        &self,
        datagram: &'d [u8],
        now_ms: u64,
        replays: &mut ReplayMemory,
    ) -> Result<&'d [u8], Dropped> {
        if datagram.len() < OVERHEAD || datagram[..MAGIC.len()] != MAGIC {
            return Err(Dropped::Malformed);
        }
        let (sealed, tag) = datagram.split_at(datagram.len() - MAC_LEN);
        let mut mac = self.keys.gossip_mac();
        mac.update(sealed);
        mac.verify_slice(tag).map_err(|_| Dropped::BadMac)?;
        let mut sent = [0u8; 8];
        sent.copy_from_slice(&sealed[MAGIC.len()..MAGIC.len() + 8]);
        let sent = u64::from_be_bytes(sent);
        if sent.abs_diff(now_ms) > self.window_ms {
            return Err(Dropped::Stale);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[MAGIC.len() + 8..HEADER_LEN]);
        replays.admit(sent, nonce, now_ms.saturating_sub(self.window_ms))?;
        Ok(&sealed[HEADER_LEN..])
    }
}

/// The (send time, nonce) pairs of recently taken datagrams.
#[derive(Debug, Default)]
pub struct ReplayMemory {
    seen: BTreeSet<(u64, [u8; NONCE_LEN])>,
    /// Datagrams sent at or before this are refused: pairs this old were
    /// forgotten (out of the window, or to stay within the bound).
    floor: u64,
}

impl ReplayMemory {
    /// Takes note of a datagram sent at `sent`; forgets pairs sent before
    /// `oldest` (the window's start).
    ///
    /// # Errors
    /// `Replayed` if it was seen, `Stale` if it is no newer than a pair
    /// already forgotten.
    pub fn admit(&mut self, sent: u64, nonce: [u8; NONCE_LEN], oldest: u64) -> Result<(), Dropped> {
        while let Some(&(first, _)) = self.seen.first() {
            if first >= oldest {
                break;
            }
            self.seen.pop_first();
            // Also covers a wall clock that steps back: what was forgotten
            // stays refused.
            self.floor = self.floor.max(first);
        }
        if sent <= self.floor {
            return Err(Dropped::Stale);
        }
        if !self.seen.insert((sent, nonce)) {
            return Err(Dropped::Replayed);
        }
        if self.seen.len() > REPLAY_MEMORY {
            if let Some((first, _)) = self.seen.pop_first() {
                self.floor = self.floor.max(first);
            }
        }
        Ok(())
    }
}

/// Chitchat's transport: UDP sockets that seal what they send and open what
/// they receive.
#[derive(Debug)]
pub struct SealedTransport {
    seal: Seal,
}

impl SealedTransport {
    /// A transport sealing with `seal`.
    pub fn new(seal: Seal) -> SealedTransport {
        SealedTransport { seal }
    }
}

#[async_trait]
impl Transport for SealedTransport {
    async fn open(&self, listen_addr: SocketAddr) -> anyhow::Result<Box<dyn Socket>> {
        let socket = tokio::net::UdpSocket::bind(listen_addr)
            .await
            .with_context(|| format!("failed to bind to {listen_addr}/UDP for gossip"))?;
        Ok(Box::new(SealedSocket {
            socket,
            codec: EnvelopeCodec::open().await?,
            seal: self.seal.clone(),
            payload: Vec::with_capacity(MAX_DATAGRAM),
            sealed: Vec::with_capacity(MAX_DATAGRAM),
            received: vec![0; MAX_DATAGRAM].into_boxed_slice(),
            replays: ReplayMemory::default(),
        }))
    }
}

struct SealedSocket {
    socket: tokio::net::UdpSocket,
    codec: EnvelopeCodec,
    seal: Seal,
    payload: Vec<u8>,
    sealed: Vec<u8>,
    received: Box<[u8]>,
    replays: ReplayMemory,
}

#[async_trait]
impl Socket for SealedSocket {
    fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.socket
            .local_addr()
            .context("failed to get UDP socket address")
    }

    async fn send(
        &mut self,
        to: SocketAddr,
        envelope: ChitchatEnvelope,
    ) -> anyhow::Result<SendOutcome> {
        let nothing = SendOutcome { num_bytes_sent: 0 };
        if !self.codec.encode(envelope, &mut self.payload).await? {
            return Ok(nothing);
        }
        // Chitchat fills a datagram up to 65,507 bytes only when the whole
        // cluster state does not fit in one (about 200 bytes per node and
        // generation: some 300 of them). Below that every message is far
        // smaller than the budget less the seal; above it, a full message
        // is dropped here rather than sent truncated or unsealed.
        if self.payload.len() + OVERHEAD > MAX_DATAGRAM {
            self.seal.stats.count(Dropped::Oversize, to);
            return Ok(nothing);
        }
        self.seal.seal(&self.payload, unix_ms(), &mut self.sealed)?;
        let sent = self
            .socket
            .send_to(&self.sealed, to)
            .await
            .context("failed to send chitchat message to peer")?;
        Ok(SendOutcome {
            num_bytes_sent: sent,
        })
    }

    async fn recv(&mut self) -> anyhow::Result<RecvOutcome> {
        loop {
            let (n, from) = match self.socket.recv_from(&mut self.received).await {
                Ok(received) => received,
                Err(e) if transient(&e) => continue,
                Err(e) => return Err(e).context("fatal UDP recv error"),
            };
            let payload = match self
                .seal
                .open(&self.received[..n], unix_ms(), &mut self.replays)
            {
                Ok(payload) => payload,
                Err(reason) => {
                    self.seal.stats.count(reason, from);
                    continue;
                }
            };
            match self.codec.decode(payload).await? {
                Some(envelope) => {
                    return Ok(RecvOutcome {
                        from_addr: from,
                        envelope,
                        num_bytes_received: n,
                    })
                }
                None => self.seal.stats.count(Dropped::Malformed, from),
            }
        }
    }
}

/// Errors after which the socket still works (as chitchat's UDP transport
/// treats them).
fn transient(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::OutOfMemory
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionRefused
    )
}

#[cfg(test)]
mod tests {
    use chitchat::ChitchatMessage;

    use super::*;

    const WINDOW: Duration = Duration::from_secs(30);

    fn seal(secret: &str) -> Seal {
        Seal::new(ClusterKeys::derive(Some(secret), "test"), WINDOW)
    }

    #[test]
    fn a_datagram_opens_once_and_only_with_the_key() {
        let (good, other) = (seal("s"), seal("t"));
        let mut memory = ReplayMemory::default();
        let now = unix_ms();
        let mut sealed = Vec::new();
        good.seal(b"hello", now, &mut sealed).unwrap();
        assert_eq!(sealed.len(), 5 + OVERHEAD);
        assert_eq!(
            other.open(&sealed, now, &mut ReplayMemory::default()),
            Err(Dropped::BadMac)
        );
        assert_eq!(good.open(&sealed, now, &mut memory), Ok(&b"hello"[..]));
        assert_eq!(
            good.open(&sealed, now + 1, &mut memory),
            Err(Dropped::Replayed)
        );
        // One bit changed anywhere breaks the MAC.
        for at in [0, 5, HEADER_LEN, sealed.len() - 1] {
            let mut forged = sealed.clone();
            forged[at] ^= 1;
            let opened = good.open(&forged, now, &mut ReplayMemory::default());
            assert!(
                matches!(opened, Err(Dropped::BadMac | Dropped::Malformed)),
                "{at}"
            );
        }
        assert_eq!(
            good.open(&sealed[..10], now, &mut memory),
            Err(Dropped::Malformed)
        );
    }

    #[test]
    fn old_and_future_datagrams_are_stale() {
        let seal = seal("s");
        let now = unix_ms();
        let window = WINDOW.as_millis() as u64;
        let mut sealed = Vec::new();
        for sent in [now - window - 1, now + window + 1] {
            seal.seal(b"x", sent, &mut sealed).unwrap();
            let opened = seal.open(&sealed, now, &mut ReplayMemory::default());
            assert_eq!(opened, Err(Dropped::Stale));
        }
        seal.seal(b"x", now - window + 10, &mut sealed).unwrap();
        assert!(seal
            .open(&sealed, now, &mut ReplayMemory::default())
            .is_ok());
    }

    #[test]
    fn replay_memory_is_bounded_and_refuses_what_it_forgot() {
        let mut memory = ReplayMemory::default();
        for i in 0..(REPLAY_MEMORY as u64 + 10) {
            let mut nonce = [0u8; NONCE_LEN];
            nonce[..8].copy_from_slice(&i.to_be_bytes());
            memory.admit(1_000 + i, nonce, 0).unwrap();
        }
        assert_eq!(memory.seen.len(), REPLAY_MEMORY);
        // The first ten were forgotten: they are refused, not taken again.
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..8].copy_from_slice(&3u64.to_be_bytes());
        assert_eq!(memory.admit(1_003, nonce, 0), Err(Dropped::Stale));
        // Pairs older than the window are forgotten as time passes.
        memory.admit(900_000, [7; NONCE_LEN], 500_000).unwrap();
        assert_eq!(memory.seen.len(), 1);
    }

    fn syn() -> ChitchatEnvelope {
        ChitchatEnvelope {
            version: chitchat::ProtocolVersion::V0,
            message: ChitchatMessage::Syn {
                cluster_id: "test".to_string(),
                digest: Default::default(),
            },
        }
    }

    async fn recv_within(socket: &mut Box<dyn Socket>, within: Duration) -> Option<RecvOutcome> {
        tokio::time::timeout(within, socket.recv())
            .await
            .ok()
            .map(|r| r.unwrap())
    }

    /// Over real UDP sockets: a sealed datagram arrives; the same bytes
    /// captured and sent again, and a datagram sealed with another key,
    /// are dropped and counted.
    #[tokio::test]
    async fn replayed_and_forged_datagrams_are_dropped_and_counted() {
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let receiver_seal = seal("s");
        let stats = receiver_seal.stats().clone();
        let mut receiver = SealedTransport::new(receiver_seal)
            .open(local)
            .await
            .unwrap();
        let to = receiver.local_addr().unwrap();
        // A capturing sender: seals as a node would, keeps the bytes.
        let sender_seal = seal("s");
        let mut codec = EnvelopeCodec::open().await.unwrap();
        let mut payload = Vec::new();
        assert!(codec.encode(syn(), &mut payload).await.unwrap());
        let mut captured = Vec::new();
        sender_seal
            .seal(&payload, unix_ms(), &mut captured)
            .unwrap();
        let wire = tokio::net::UdpSocket::bind(local).await.unwrap();
        wire.send_to(&captured, to).await.unwrap();
        let first = recv_within(&mut receiver, Duration::from_secs(10)).await;
        assert_eq!(first.map(|o| o.envelope), Some(syn()));

        wire.send_to(&captured, to).await.unwrap();
        let mut forged = Vec::new();
        seal("wrong")
            .seal(&payload, unix_ms(), &mut forged)
            .unwrap();
        wire.send_to(&forged, to).await.unwrap();
        wire.send_to(&payload, to).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while stats.dropped(Dropped::Malformed) == 0 && tokio::time::Instant::now() < deadline {
            assert!(recv_within(&mut receiver, Duration::from_millis(50))
                .await
                .is_none());
        }
        assert_eq!(stats.dropped(Dropped::Replayed), 1);
        assert_eq!(stats.dropped(Dropped::BadMac), 1);
        assert_eq!(
            stats.dropped(Dropped::Malformed),
            1,
            "unsealed chitchat bytes"
        );
    }
}
