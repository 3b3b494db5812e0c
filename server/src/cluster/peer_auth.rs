//! The peer handshake: before a link between two nodes carries requests,
//! each side proves it holds the cluster key (a mutual challenge-response;
//! the client password never travels between nodes).
//!
//! ```text
//! dialer -> node    RCPEER <dialer nonce>
//! node   -> dialer  [<node nonce>, MAC(peer key, "node", dialer nonce, node nonce)]
//! dialer -> node    RCPEER <MAC(peer key, "dialer", dialer nonce, node nonce)>
//! node   -> dialer  +OK                  (the connection is now a peer link)
//! ```
//!
//! Nonces are 16 random bytes from the OS, proofs HMAC-SHA256, both sent
//! as hex. The role label and the cluster name (fed by the key) are in
//! every MAC, so a node's proof cannot be reflected back as a dialer's, nor
//! replayed to another cluster; fresh nonces on both sides make each proof
//! good for one handshake only. Proofs are checked in constant time.

use std::io;

use bytes::BytesMut;
use hmac::Mac;
use ringcache_proto::resp::{self, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::secret::{self, ClusterKeys, MAC_LEN};

/// Bytes of a nonce.
pub const NONCE_LEN: usize = 16;
/// A nonce.
pub type Nonce = [u8; NONCE_LEN];
/// Largest handshake reply read before the peer is given up on.
const MAX_REPLY: usize = 4096;
/// What a node answers to a wrong or malformed proof.
pub const REFUSED: &str = "ERR peer authentication failed";

/// Which side a proof speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The node that was dialled.
    Node,
    /// The node that dialled.
    Dialer,
}

fn mac(keys: &ClusterKeys, role: Role, dialer: &Nonce, node: &Nonce) -> secret::HmacSha256 {
    let mut mac = keys.peer_mac();
    mac.update(match role {
        Role::Node => b"ringcache-peer-node\0".as_slice(),
        Role::Dialer => b"ringcache-peer-dialer\0",
    });
    mac.update(dialer);
    mac.update(node);
    mac
}

/// The proof `role` gives for the nonces of one handshake.
pub fn proof(keys: &ClusterKeys, role: Role, dialer: &Nonce, node: &Nonce) -> [u8; MAC_LEN] {
    mac(keys, role, dialer, node).finalize().into_bytes().into()
}

/// True if `proof` (hex) is `role`'s proof for these nonces.
pub fn verify(keys: &ClusterKeys, role: Role, dialer: &Nonce, node: &Nonce, proof: &[u8]) -> bool {
    secret::from_hex::<MAC_LEN>(proof)
        .is_some_and(|bytes| mac(keys, role, dialer, node).verify_slice(&bytes).is_ok())
}

/// The node's state between the two RCPEERs of a handshake.
#[derive(Debug, Clone)]
pub struct Challenge {
    dialer: Nonce,
    node: Nonce,
}

/// What a node does with one RCPEER.
#[derive(Debug)]
pub enum Answer {
    /// First step: reply `[nonce, proof]` (both hex), keep the challenge.
    Challenge(Challenge, [String; 2]),
    /// Second step, proof right: the connection is a peer link.
    Accepted,
    /// Malformed, or proof wrong: refuse and close.
    Refused,
}

/// The node side: answers `argument`, the RCPEER's one argument, given the
/// challenge this connection has pending (taken).
pub fn answer(keys: &ClusterKeys, pending: Option<Challenge>, argument: &[u8]) -> Answer {
    match pending {
        None => {
            let (Some(dialer), Ok(node)) = (
                secret::from_hex::<NONCE_LEN>(argument),
                secret::random::<NONCE_LEN>(),
            ) else {
                return Answer::Refused;
            };
            let proof = proof(keys, Role::Node, &dialer, &node);
            let reply = [secret::to_hex(&node), secret::to_hex(&proof)];
            Answer::Challenge(Challenge { dialer, node }, reply)
        }
        Some(challenge) => {
            let right = verify(
                keys,
                Role::Dialer,
                &challenge.dialer,
                &challenge.node,
                argument,
            );
            if right {
                Answer::Accepted
            } else {
                Answer::Refused
            }
        }
    }
}

/// Why a dialled handshake failed.
#[derive(Debug)]
pub enum HandshakeError {
    /// The connection failed or the peer spoke nonsense.
    Io(io::Error),
    /// The peer did not prove it holds the cluster key.
    BadProof,
    /// The peer refused our proof (another key, or not a ringcache node).
    Refused(String),
    /// The TLS handshake of a `tls-cluster` link failed (a certificate
    /// refused by either side).
    Tls(String),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Io(e) => write!(f, "{e}"),
            HandshakeError::BadProof => write!(f, "peer failed to prove the cluster key"),
            HandshakeError::Refused(why) => write!(f, "peer refused our proof: {why}"),
            HandshakeError::Tls(why) => write!(f, "TLS: {why}"),
        }
    }
}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> Self {
        // A TLS alert or certificate error surfaces as an I/O error of the
        // stream; it is a refusal, not a network fault.
        if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return HandshakeError::Tls(tls.to_string());
        }
        HandshakeError::Io(e)
    }
}

/// The dialer side, on a fresh connection: runs the handshake to its end.
///
/// # Errors
/// See [`HandshakeError`].
pub async fn prove<S>(stream: &mut S, keys: &ClusterKeys) -> Result<(), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let dialer = secret::random::<NONCE_LEN>().map_err(io::Error::other)?;
    let mut out = BytesMut::new();
    resp::write_command(
        &mut out,
        &[b"RCPEER".as_slice(), secret::to_hex(&dialer).as_bytes()],
    );
    stream.write_all(&out).await?;
    let mut input = BytesMut::with_capacity(512);
    let node = match read_reply(stream, &mut input).await? {
        Value::Array(parts) => match parts.as_slice() {
            [Value::Bulk(nonce), Value::Bulk(proof)] => {
                let node = secret::from_hex::<NONCE_LEN>(nonce).ok_or(HandshakeError::BadProof)?;
                if !verify(keys, Role::Node, &dialer, &node, proof) {
                    return Err(HandshakeError::BadProof);
                }
                node
            }
            _ => return Err(HandshakeError::BadProof),
        },
        Value::Error(e) => return Err(HandshakeError::Refused(lossy(&e))),
        _ => return Err(HandshakeError::BadProof),
    };
    out.clear();
    let proof = proof(keys, Role::Dialer, &dialer, &node);
    resp::write_command(
        &mut out,
        &[b"RCPEER".as_slice(), secret::to_hex(&proof).as_bytes()],
    );
    stream.write_all(&out).await?;
    match read_reply(stream, &mut input).await? {
        Value::Simple(ok) if ok == b"OK" => Ok(()),
        Value::Error(e) => Err(HandshakeError::Refused(lossy(&e))),
        other => Err(HandshakeError::Refused(format!("{other:?}"))),
    }
}

/// Reads one reply (at most [`MAX_REPLY`] bytes).
///
/// # Errors
/// The connection closed or failed, or the reply is malformed or too long.
pub async fn read_reply<S>(stream: &mut S, input: &mut BytesMut) -> io::Result<Value>
where
    S: AsyncRead + Unpin,
{
    loop {
        if let Some((value, used)) = resp::decode(input).map_err(io::Error::other)? {
            let _ = input.split_to(used);
            return Ok(value);
        }
        if input.len() > MAX_REPLY {
            return Err(io::Error::other("handshake reply too long"));
        }
        if stream.read_buf(input).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed during the handshake",
            ));
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> ClusterKeys {
        ClusterKeys::derive(Some(secret), "test")
    }

    fn first_step(keys: &ClusterKeys, dialer: &Nonce) -> (Challenge, Nonce, Vec<u8>) {
        match answer(keys, None, secret::to_hex(dialer).as_bytes()) {
            Answer::Challenge(challenge, [nonce, proof]) => (
                challenge,
                secret::from_hex(nonce.as_bytes()).unwrap(),
                proof.into_bytes(),
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn both_sides_prove_the_key() {
        let keys = keys("s");
        let dialer = [1; NONCE_LEN];
        let (challenge, node, node_proof) = first_step(&keys, &dialer);
        assert!(verify(&keys, Role::Node, &dialer, &node, &node_proof));
        let mine = secret::to_hex(&proof(&keys, Role::Dialer, &dialer, &node));
        assert!(matches!(
            answer(&keys, Some(challenge), mine.as_bytes()),
            Answer::Accepted
        ));
    }

    #[test]
    fn wrong_keys_reflections_and_junk_are_refused() {
        let keys = keys("s");
        let dialer = [2; NONCE_LEN];
        let (challenge, node, node_proof) = first_step(&keys, &dialer);
        // A dialer with another key cannot check the node, nor prove itself.
        assert!(!verify(
            &self::keys("t"),
            Role::Node,
            &dialer,
            &node,
            &node_proof
        ));
        let wrong = secret::to_hex(&proof(&self::keys("t"), Role::Dialer, &dialer, &node));
        assert!(matches!(
            answer(&keys, Some(challenge.clone()), wrong.as_bytes()),
            Answer::Refused
        ));
        // The node's own proof sent back (reflection) is not a dialer's.
        assert!(matches!(
            answer(&keys, Some(challenge.clone()), &node_proof),
            Answer::Refused
        ));
        // Another cluster name under the same secret is another key.
        let other_cluster = ClusterKeys::derive(Some("s"), "other");
        let foreign = secret::to_hex(&proof(&other_cluster, Role::Dialer, &dialer, &node));
        assert!(matches!(
            answer(&keys, Some(challenge), foreign.as_bytes()),
            Answer::Refused
        ));
        assert!(matches!(answer(&keys, None, b"not hex"), Answer::Refused));
        assert!(matches!(answer(&keys, None, b""), Answer::Refused));
    }
}
