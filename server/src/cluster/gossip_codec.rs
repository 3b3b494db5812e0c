//! Chitchat's wire format, reached through chitchat's own UDP socket on
//! loopback.
//!
//! Chitchat 0.13 makes its `Transport` trait public but keeps the
//! (de)serialization of `ChitchatEnvelope` crate-private
//! (quickwit-oss/chitchat#207, open), so a transport that must see the
//! bytes, to seal them, cannot produce or read them itself. Its public
//! `UdpSocket` can: to encode, one of its sockets sends the envelope to a
//! local socket of ours; to decode, ours sends the bytes to one of its
//! sockets. The format stays chitchat's own, whatever its version, at the
//! cost of one loopback datagram per gossip datagram (a few per second per
//! peer). Replace both with direct calls once chitchat exports them.
//!
//! Only bytes that passed the seal are decoded, and only datagrams from our
//! own sockets are taken: another local process writing to these ports is
//! ignored.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use chitchat::transport::{Socket, UdpSocket as ChitchatSocket};
use chitchat::ChitchatEnvelope;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// Largest UDP payload over IPv4: chitchat's datagram budget.
pub const MAX_DATAGRAM: usize = 65_507;
/// How long a loopback round trip may take before the datagram is given
/// up (it takes microseconds; chitchat silently drops bytes it cannot
/// decode, so this is also how such bytes are noticed).
const LOOPBACK_TIMEOUT: Duration = Duration::from_millis(250);

const LOOPBACK: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// See the module docs.
pub struct EnvelopeCodec {
    /// Chitchat's socket that writes envelopes...
    encoder: ChitchatSocket,
    /// ...to this one, connected to it so it hears nobody else.
    tap: UdpSocket,
    /// Chitchat's socket that reads envelopes...
    decoder: ChitchatSocket,
    /// ...from this one, connected to it.
    feeder: UdpSocket,
    /// A decode whose bytes were sent but whose envelope was not read yet
    /// (the caller's future was dropped meanwhile): its deadline. The next
    /// decode finishes it first, so envelopes never pair with the wrong
    /// datagram.
    in_flight: Option<Instant>,
}

impl EnvelopeCodec {
    /// Opens the four loopback sockets.
    ///
    /// # Errors
    /// A socket cannot be bound (no loopback interface).
    pub async fn open() -> anyhow::Result<EnvelopeCodec> {
        let encoder = ChitchatSocket::open(LOOPBACK).await?;
        let tap = connected_to(encoder.local_addr()?).await?;
        let decoder = ChitchatSocket::open(LOOPBACK).await?;
        let feeder = connected_to(decoder.local_addr()?).await?;
        Ok(EnvelopeCodec {
            encoder,
            tap,
            decoder,
            feeder,
            in_flight: None,
        })
    }

    /// Chitchat's bytes for `envelope`, into `out`; `false` if they did not
    /// come back in time (the datagram is then not sent, as if lost).
    ///
    /// # Errors
    /// A loopback socket failed.
    pub async fn encode(
        &mut self,
        envelope: ChitchatEnvelope,
        out: &mut Vec<u8>,
    ) -> anyhow::Result<bool> {
        let tap_addr = self.tap.local_addr()?;
        self.encoder.send(tap_addr, envelope).await?;
        out.clear();
        out.resize(MAX_DATAGRAM, 0);
        match tokio::time::timeout(LOOPBACK_TIMEOUT, self.tap.recv(out)).await {
            Ok(received) => {
                let n = received.context("reading chitchat's bytes")?;
                out.truncate(n);
                Ok(true)
            }
            Err(_) => {
                // A late datagram must not be read as the next envelope's.
                self.tap = connected_to(self.encoder.local_addr()?).await?;
                out.clear();
                Ok(false)
            }
        }
    }

    /// The envelope chitchat reads from `bytes`, or `None` if it could not
    /// (malformed, or not back in time).
    ///
    /// Cancel-safe: if the returned future is dropped after the bytes went
    /// out, the next call reads (and drops) that envelope first.
    ///
    /// # Errors
    /// A loopback socket failed.
    pub async fn decode(&mut self, bytes: &[u8]) -> anyhow::Result<Option<ChitchatEnvelope>> {
        if let Some(deadline) = self.in_flight {
            // An envelope of an earlier, abandoned call: not this one's.
            let _ = self.read_fed(deadline).await?;
        }
        self.feeder.send(bytes).await.context("feeding chitchat")?;
        let deadline = Instant::now() + LOOPBACK_TIMEOUT;
        self.in_flight = Some(deadline);
        self.read_fed(deadline).await
    }

    /// Reads the envelope of the bytes last fed, until `deadline`.
    async fn read_fed(&mut self, deadline: Instant) -> anyhow::Result<Option<ChitchatEnvelope>> {
        let feeder_addr = self.feeder.local_addr()?;
        loop {
            match tokio::time::timeout_at(deadline, self.decoder.recv()).await {
                Ok(outcome) => {
                    let outcome = outcome?;
                    // Anything else on this port came from another local
                    // process, unsealed: ignored.
                    if outcome.from_addr == feeder_addr {
                        self.in_flight = None;
                        return Ok(Some(outcome.envelope));
                    }
                }
                Err(_) => {
                    // Chitchat dropped the bytes (it logs why). A fresh pair,
                    // so nothing late is read for the next datagram.
                    self.decoder = ChitchatSocket::open(LOOPBACK).await?;
                    self.feeder = connected_to(self.decoder.local_addr()?).await?;
                    self.in_flight = None;
                    return Ok(None);
                }
            }
        }
    }
}

/// A loopback socket that only exchanges datagrams with `peer`.
async fn connected_to(peer: SocketAddr) -> anyhow::Result<UdpSocket> {
    let socket = UdpSocket::bind(LOOPBACK)
        .await
        .context("binding a loopback socket for gossip")?;
    socket.connect(peer).await?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use chitchat::ChitchatMessage;

    use super::*;

    fn syn(cluster: &str) -> ChitchatEnvelope {
        ChitchatEnvelope {
            version: chitchat::ProtocolVersion::V0,
            message: ChitchatMessage::Syn {
                cluster_id: cluster.to_string(),
                digest: Default::default(),
            },
        }
    }

    #[tokio::test]
    async fn envelopes_round_trip_and_junk_is_refused() {
        let mut codec = EnvelopeCodec::open().await.unwrap();
        let mut bytes = Vec::new();
        assert!(codec.encode(syn("blue"), &mut bytes).await.unwrap());
        assert!(bytes.len() > 4 && bytes.len() < 64, "{}", bytes.len());
        let decoded = codec.decode(&bytes).await.unwrap();
        assert_eq!(decoded, Some(syn("blue")));
        assert_eq!(codec.decode(b"junk").await.unwrap(), None);
        // The codec still works after a refusal.
        assert!(codec.encode(syn("green"), &mut bytes).await.unwrap());
        assert_eq!(codec.decode(&bytes).await.unwrap(), Some(syn("green")));
    }

    #[tokio::test]
    async fn an_abandoned_decode_does_not_answer_the_next_one() {
        let mut codec = EnvelopeCodec::open().await.unwrap();
        let (mut first, mut second) = (Vec::new(), Vec::new());
        codec.encode(syn("first"), &mut first).await.unwrap();
        codec.encode(syn("second"), &mut second).await.unwrap();
        // Dropped after the bytes went out but before the envelope came back.
        codec.feeder.send(&first).await.unwrap();
        codec.in_flight = Some(Instant::now() + LOOPBACK_TIMEOUT);
        assert_eq!(codec.decode(&second).await.unwrap(), Some(syn("second")));
    }

    #[tokio::test]
    async fn datagrams_from_strangers_are_ignored() {
        let mut codec = EnvelopeCodec::open().await.unwrap();
        let mut forged = Vec::new();
        codec.encode(syn("forged"), &mut forged).await.unwrap();
        let stranger = UdpSocket::bind(LOOPBACK).await.unwrap();
        stranger
            .send_to(&forged, codec.decoder.local_addr().unwrap())
            .await
            .unwrap();
        let mut genuine = Vec::new();
        codec.encode(syn("genuine"), &mut genuine).await.unwrap();
        assert_eq!(codec.decode(&genuine).await.unwrap(), Some(syn("genuine")));
    }
}
