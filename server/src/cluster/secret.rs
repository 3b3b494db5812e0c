//! The cluster secret: the keys derived from it (one for gossip seals, one
//! for peer handshakes), the MACs made with them (HMAC-SHA256), and random
//! nonces from the operating system's CSPRNG.
//!
//! Each key is HMAC-SHA256(secret, label || cluster name): HMAC used as a
//! PRF, as HKDF's expand step does, so the two uses never share a key and
//! clusters with different names never accept each other's MACs even under
//! one secret. Without a secret (allowed on loopback only) the keys come
//! from the cluster name alone: any local process can then join.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256.
pub type HmacSha256 = Hmac<Sha256>;

/// Bytes of a MAC.
pub const MAC_LEN: usize = 32;

/// The keys of one cluster; cheap to clone. Its `Debug` shows no key.
#[derive(Clone)]
pub struct ClusterKeys {
    gossip: [u8; MAC_LEN],
    peer: [u8; MAC_LEN],
    name: String,
    has_secret: bool,
}

impl std::fmt::Debug for ClusterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterKeys")
            .field("cluster", &self.name)
            .field("has_secret", &self.has_secret)
            .finish_non_exhaustive()
    }
}

impl ClusterKeys {
    /// The keys of cluster `name` under `secret` (`None`: from the name
    /// alone).
    pub fn derive(secret: Option<&str>, name: &str) -> ClusterKeys {
        let secret = secret.unwrap_or("").as_bytes();
        let derive = |label: &[u8]| -> [u8; MAC_LEN] {
            let mut mac = keyed(secret);
            mac.update(b"ringcache-cluster-key-v1\0");
            mac.update(label);
            mac.update(b"\0");
            mac.update(name.as_bytes());
            mac.finalize().into_bytes().into()
        };
        ClusterKeys {
            gossip: derive(b"gossip"),
            peer: derive(b"peer-link"),
            name: name.to_string(),
            has_secret: !secret.is_empty(),
        }
    }

    /// The cluster's name.
    pub fn cluster_name(&self) -> &str {
        &self.name
    }

    /// True if the keys come from a secret, not from the name alone.
    pub fn has_secret(&self) -> bool {
        self.has_secret
    }

    /// A MAC keyed for gossip datagrams, with the cluster name fed first.
    pub fn gossip_mac(&self) -> HmacSha256 {
        self.with_name(&self.gossip)
    }

    /// A MAC keyed for peer handshakes, with the cluster name fed first.
    pub fn peer_mac(&self) -> HmacSha256 {
        self.with_name(&self.peer)
    }

    fn with_name(&self, key: &[u8]) -> HmacSha256 {
        let mut mac = keyed(key);
        // Length-prefixed, so the name and what follows cannot be shifted
        // into each other.
        mac.update(&(self.name.len() as u16).to_be_bytes());
        mac.update(self.name.as_bytes());
        mac
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length (longer keys are hashed first):
    // `new_from_slice` has no error case for it.
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// `N` random bytes from the operating system's CSPRNG.
///
/// # Errors
/// The operating system has no randomness to give (never on Linux once
/// booted).
pub fn random<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// A fresh random secret as 64 hex digits (for `--local-cluster`).
///
/// # Errors
/// As [`random`].
pub fn random_secret() -> Result<String, getrandom::Error> {
    Ok(to_hex(&random::<32>()?))
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        text.push(DIGITS[usize::from(b >> 4)] as char);
        text.push(DIGITS[usize::from(b & 15)] as char);
    }
    text
}

/// The bytes of exactly `N` bytes' worth of hex digits (either case).
pub fn from_hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    let mut out = [0u8; N];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_secret_name_and_use() {
        let a = ClusterKeys::derive(Some("s"), "ring");
        let b = ClusterKeys::derive(Some("s"), "ring");
        let other_secret = ClusterKeys::derive(Some("t"), "ring");
        let other_name = ClusterKeys::derive(Some("s"), "ring2");
        let none = ClusterKeys::derive(None, "ring");
        assert_eq!(a.gossip, b.gossip);
        assert_ne!(a.gossip, a.peer);
        assert_ne!(a.gossip, other_secret.gossip);
        assert_ne!(a.gossip, other_name.gossip);
        assert_ne!(a.gossip, none.gossip);
        assert!(a.has_secret() && !none.has_secret());
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("gossip") && !shown.contains("peer:"),
            "{shown}"
        );
    }

    #[test]
    fn hex_round_trips() {
        let bytes: [u8; 4] = [0, 0xab, 0x10, 0xff];
        assert_eq!(to_hex(&bytes), "00ab10ff");
        assert_eq!(from_hex::<4>(b"00AB10ff"), Some(bytes));
        assert_eq!(from_hex::<4>(b"00ab10f"), None);
        assert_eq!(from_hex::<4>(b"00ab10fg"), None);
        assert_eq!(random_secret().map(|s| s.len()), Ok(64));
        assert_ne!(random::<16>(), random::<16>());
    }
}
