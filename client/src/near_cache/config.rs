//! How a [`NearCache`](super::NearCache) is bounded and kept coherent
//! ([`NearCacheConfig`], [`Tracking`]), and what it reports
//! ([`NearCacheStats`]).

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

/// Default [`NearCacheConfig::max_bytes`]: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;
/// Default [`NearCacheConfig::max_ttl`].
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(60);

/// Which keys the nodes report changes of.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Tracking {
    /// `CLIENT TRACKING on`: a node remembers the keys read through the
    /// near cache's connection and reports each once, at its next change.
    #[default]
    Default,
    /// `CLIENT TRACKING on BCAST PREFIX ...`: a node reports every change of
    /// a key with one of these prefixes (all keys when empty), read or not;
    /// only such keys are cached. No table on the node, more pushes.
    Broadcast {
        /// Key prefixes; empty: every key.
        prefixes: Vec<Vec<u8>>,
    },
}

/// How a [`NearCache`](super::NearCache) caches.
///
/// ```
/// use std::time::Duration;
/// use ringcache_client::near_cache::NearCacheConfig;
///
/// let config = NearCacheConfig {
///     max_bytes: 16 << 20,
///     max_ttl: Duration::from_secs(30),
///     ..NearCacheConfig::default()
/// };
/// config.validate().expect("valid");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearCacheConfig {
    /// Bound on the entries' weight: key and value bytes plus a fixed
    /// overhead per entry. New keys are admitted by TinyLFU.
    pub max_bytes: u64,
    /// No entry lives longer, whatever its TTL on the server (an entry
    /// never outlives the server's TTL either).
    pub max_ttl: Duration,
    /// Cache "no such key" too (invalidated as a value is).
    pub cache_misses: bool,
    /// How the nodes report changes.
    pub tracking: Tracking,
}

impl Default for NearCacheConfig {
    fn default() -> NearCacheConfig {
        NearCacheConfig {
            max_bytes: DEFAULT_MAX_BYTES,
            max_ttl: DEFAULT_MAX_TTL,
            cache_misses: true,
            tracking: Tracking::Default,
        }
    }
}

impl NearCacheConfig {
    /// Checks the bounds.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a zero `max_bytes` or `max_ttl`.
    pub fn validate(&self) -> Result<()> {
        if self.max_bytes == 0 {
            return Err(Error::new(ErrorKind::Config, "max_bytes must be above 0"));
        }
        if self.max_ttl.is_zero() {
            return Err(Error::new(ErrorKind::Config, "max_ttl must be above 0"));
        }
        Ok(())
    }

    /// Whether `key` may be cached: every key, or in BCAST mode one with a
    /// tracked prefix.
    pub(crate) fn covers(&self, key: &[u8]) -> bool {
        match &self.tracking {
            Tracking::Default => true,
            Tracking::Broadcast { prefixes } => {
                prefixes.is_empty() || prefixes.iter().any(|p| key.starts_with(p))
            }
        }
    }

    /// The `CLIENT TRACKING` command run on each node connection.
    pub(crate) fn tracking_command(&self) -> Vec<Vec<u8>> {
        let mut command: Vec<Vec<u8>> =
            vec![b"CLIENT".to_vec(), b"TRACKING".to_vec(), b"on".to_vec()];
        if let Tracking::Broadcast { prefixes } = &self.tracking {
            command.push(b"BCAST".to_vec());
            for prefix in prefixes {
                command.push(b"PREFIX".to_vec());
                command.push(prefix.clone());
            }
        }
        command
    }
}

/// A snapshot of a near cache's counters, from
/// [`NearCache::stats`](super::NearCache::stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NearCacheStats {
    /// Reads answered from process memory.
    pub hits: u64,
    /// Reads that went to the node.
    pub misses: u64,
    /// Replies installed as entries.
    pub installed: u64,
    /// Replies not installed because their key was invalidated (or their
    /// node's entries dropped) while they were in flight.
    pub refused: u64,
    /// Keys invalidated: by a node's push or by this client's own write.
    pub invalidations: u64,
    /// Times every entry from one node was dropped: a flush on it, its
    /// connection ending, or a slot moving.
    pub node_drops: u64,
    /// Reads that took the client's ordinary path after the near cache's
    /// connection failed or the node answered with an error.
    pub fallbacks: u64,
    /// Tracked connections held, one per node read from; a node that
    /// left the slot map loses its link when a node new to the map gets
    /// one.
    pub links: u64,
    /// Entries held now (approximately).
    pub entries: u64,
    /// Their weight in bytes (approximately).
    pub weight: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_commands_and_covered_keys() {
        let config = NearCacheConfig::default();
        assert!(config.validate().is_ok());
        assert!(config.covers(b"anything"));
        assert_eq!(config.tracking_command().len(), 3);
        let bcast = NearCacheConfig {
            tracking: Tracking::Broadcast {
                prefixes: vec![b"user:".to_vec()],
            },
            ..NearCacheConfig::default()
        };
        assert!(bcast.covers(b"user:1") && !bcast.covers(b"order:1"));
        let words = bcast.tracking_command();
        assert_eq!(
            words[3..],
            [b"BCAST".to_vec(), b"PREFIX".to_vec(), b"user:".to_vec()]
        );
        let zero = NearCacheConfig {
            max_bytes: 0,
            ..NearCacheConfig::default()
        };
        assert_eq!(
            zero.validate().expect_err("zero").kind(),
            &ErrorKind::Config
        );
    }
}
