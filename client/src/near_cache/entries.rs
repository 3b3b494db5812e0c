//! The entries of a near cache: a moka cache bounded by weight (key and
//! value bytes plus [`ENTRY_OVERHEAD`]), TinyLFU admission, and each entry
//! expiring after its own TTL. An entry remembers the node it came from and
//! the generation of that node's tracking (and the slot owners' epoch) it
//! was read under: it is valid only while both are unchanged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::sync::Cache;
use moka::Expiry;

/// Bytes counted per entry besides its key and value: moka's own record,
/// the entry struct, and the key's and value's headers.
pub(crate) const ENTRY_OVERHEAD: usize = 160;

/// One node as the near cache sees it: entries read from it are valid
/// while its generation is unchanged.
#[derive(Debug)]
pub(crate) struct NodeState {
    pub(crate) addr: Arc<str>,
    /// Bumped when every entry from the node must go: a flush, the tracked
    /// connection ending, the near cache being cleared.
    generation: AtomicU64,
}

impl NodeState {
    pub(crate) fn new(addr: Arc<str>) -> NodeState {
        NodeState {
            addr,
            generation: AtomicU64::new(0),
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Makes every entry read from the node invalid.
    pub(crate) fn drop_entries(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// A cached reply: the value (`None`: no such key), where it came from,
/// and how long it may live.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) value: Option<Bytes>,
    pub(crate) node: Arc<NodeState>,
    pub(crate) generation: u64,
    pub(crate) owners_epoch: u64,
    pub(crate) ttl: Duration,
}

impl Entry {
    /// Still coherent: its node's tracking and the slot owners are as they
    /// were when it was read.
    pub(crate) fn is_valid(&self, owners_epoch: u64) -> bool {
        self.node.generation() == self.generation && self.owners_epoch == owners_epoch
    }
}

/// Each entry expires after its own TTL, counted from its (last) insert.
struct TtlExpiry;

impl Expiry<Bytes, Entry> for TtlExpiry {
    fn expire_after_create(&self, _: &Bytes, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &Bytes,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The bounded entry table.
#[derive(Clone)]
pub(crate) struct Entries {
    cache: Cache<Bytes, Entry>,
}

impl Entries {
    pub(crate) fn new(max_bytes: u64) -> Entries {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &Bytes, entry: &Entry| {
                let bytes = key.len() + entry.value.as_ref().map_or(0, Bytes::len) + ENTRY_OVERHEAD;
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .expire_after(TtlExpiry)
            .build();
        Entries { cache }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<Entry> {
        self.cache.get(key)
    }

    pub(crate) fn insert(&self, key: Bytes, entry: Entry) {
        self.cache.insert(key, entry);
    }

    pub(crate) fn remove(&self, key: &[u8]) {
        self.cache.invalidate(key);
    }

    pub(crate) fn clear(&self) {
        self.cache.invalidate_all();
    }

    /// Entries held and their weight (both approximate: moka applies
    /// writes in batches).
    pub(crate) fn size(&self) -> (u64, u64) {
        (self.cache.entry_count(), self.cache.weighted_size())
    }

    /// Applies pending bookkeeping now (tests and stats want exact sizes).
    pub(crate) fn settle(&self) {
        self.cache.run_pending_tasks();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(node: &Arc<NodeState>, value: &'static [u8], ttl: Duration) -> Entry {
        Entry {
            value: Some(Bytes::from_static(value)),
            node: Arc::clone(node),
            generation: node.generation(),
            owners_epoch: 0,
            ttl,
        }
    }

    #[test]
    fn entries_die_with_their_node_generation_and_their_ttl() {
        let node = Arc::new(NodeState::new(Arc::from("n:1")));
        let entries = Entries::new(1 << 20);
        entries.insert(
            Bytes::from_static(b"a"),
            entry(&node, b"1", Duration::from_secs(60)),
        );
        let found = entries.get(b"a").expect("cached");
        assert!(found.is_valid(0));
        assert!(!found.is_valid(1), "the slot owners changed");
        node.drop_entries();
        assert!(!found.is_valid(0), "the node's entries were dropped");
        entries.insert(Bytes::from_static(b"b"), entry(&node, b"2", Duration::ZERO));
        assert!(entries.get(b"b").is_none(), "expired at once");
    }

    #[test]
    fn the_weight_is_bounded() {
        let node = Arc::new(NodeState::new(Arc::from("n:1")));
        let entries = Entries::new(100 * (ENTRY_OVERHEAD as u64 + 20));
        for i in 0..1000u32 {
            let key = Bytes::from(format!("key:{i:06}"));
            entries.insert(key, entry(&node, b"0123456789", Duration::from_secs(60)));
            entries.settle();
        }
        let (count, weight) = entries.size();
        assert!(count <= 100, "{count} entries");
        assert!(
            weight <= 100 * (ENTRY_OVERHEAD as u64 + 20),
            "{weight} bytes"
        );
    }
}
