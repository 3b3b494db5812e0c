//! Copying entries between nodes: a versioned snapshot of one key (what a
//! primary ships to its replicas after a write), applying a snapshot only
//! when it is newer than the local copy, and exporting or dropping whole
//! groups of keys (what a slot handoff streams and then forgets).

use super::{OwnedValue, Store};

/// The state of one key at one version: its value and expiry, or its
/// absence (a delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The key.
    pub key: Vec<u8>,
    /// The value and absolute expiry (Unix ms), or `None` for a delete.
    pub value: Option<(OwnedValue, Option<u64>)>,
    /// The version of the write; the newer version wins.
    pub version: u64,
}

impl Store {
    /// A copy of `key`'s live state (value, expiry and version, 0 when
    /// unversioned), or its absence at version 0; nothing changes.
    pub fn copy_of(&self, key: &[u8]) -> Snapshot {
        let mut lock = self.lock(key);
        let found = lock.peek(key);
        let version = found.and_then(|i| lock.shard.at(i).version()).unwrap_or(0);
        let value = found.map(|index| {
            let expire = lock.shard.at(index).expire_at();
            (lock.shard.value(index).to_owned_value(), expire)
        });
        Snapshot {
            key: key.to_vec(),
            value,
            version,
        }
    }

    /// `key`'s state as replication compares copies: present or not, and
    /// the version of the value or of its delete (0 when none is known).
    pub fn state_of(&self, key: &[u8]) -> KeyState {
        let mut lock = self.lock(key);
        match lock.peek(key) {
            Some(index) => KeyState {
                present: true,
                version: lock.shard.at(index).version().unwrap_or(0),
            },
            None => KeyState {
                present: false,
                version: lock.shard.deleted_at(key, lock.now).unwrap_or(0),
            },
        }
    }

    /// Gives `key`'s live entry (or, when it is gone, its delete mark) the
    /// version `version`, as [`Store::stamp`] does, without taking a copy of
    /// the value: for a write that has no replica to be shipped to.
    pub fn stamp_in_place(&self, key: &[u8], version: u64) {
        let mut lock = self.lock(key);
        match lock.peek(key) {
            Some(index) => lock.shard.set_version_at(index, version),
            None => {
                let now = lock.now;
                lock.shard.record_delete(key, version, now);
            }
        }
    }

    /// The bytes `key`'s live entry and its value take, if it still
    /// carries `version` (no write stamped it since): what decides whether
    /// a write is worth shipping as its effect rather than as the value.
    pub fn carried(&self, key: &[u8], version: u64) -> Option<usize> {
        let mut lock = self.lock(key);
        let index = lock.peek(key)?;
        (lock.shard.at(index).version() == Some(version)).then(|| lock.shard.usage_at(index))
    }

    /// Moves `key`'s live entry from version `before` to `after`, under
    /// one lock hold; false (and nothing changed) when the entry is gone
    /// or carries another version (a replica that just ran a primary's
    /// effect on the copy it had checked).
    pub fn restamp(&self, key: &[u8], before: u64, after: u64) -> bool {
        let mut lock = self.lock(key);
        match lock.peek(key) {
            Some(index) if lock.shard.at(index).version().unwrap_or(0) == before => {
                lock.shard.set_version_at(index, after);
                true
            }
            _ => false,
        }
    }

    /// Gives `key`'s live entry the version `version` and returns its state
    /// (or its absence), both under one lock hold: a later stamp of the same
    /// key always carries a later state, so replicas that keep the highest
    /// version converge on the primary's latest value whatever order the
    /// snapshots arrive in. The version is taken from `version` under the
    /// lock too: one taken before could be older than a version another
    /// worker's write gave the entry meanwhile (see `versioning`).
    pub fn stamp(&self, key: &[u8], version: impl FnOnce() -> u64) -> Snapshot {
        let mut lock = self.lock(key);
        let version = version();
        let value = lock.peek(key).map(|index| {
            lock.shard.set_version_at(index, version);
            let expire = lock.shard.at(index).expire_at();
            (lock.shard.value(index).to_owned_value(), expire)
        });
        if value.is_none() {
            let now = lock.now;
            lock.shard.record_delete(key, version, now);
        }
        Snapshot {
            key: key.to_vec(),
            value,
            version,
        }
    }

    /// Applies `snapshot` unless the local copy, or a recent delete of the
    /// key, has a newer version. Returns true if it was applied. An expired
    /// snapshot only deletes.
    ///
    /// A local copy of the same (non-zero) version stays: it is the same
    /// write, or a local write that kept its entry's earlier version
    /// because it was not shipped, and so is newer than a copy of that
    /// earlier version.
    pub fn apply(&self, snapshot: Snapshot) -> bool {
        let mut lock = self.lock(&snapshot.key);
        let local = lock
            .peek(&snapshot.key)
            .map(|index| lock.shard.at(index).version().unwrap_or(0));
        if local.is_some_and(|v| v > snapshot.version || (v != 0 && v == snapshot.version))
            || lock
                .shard
                .deleted_after(&snapshot.key, snapshot.version, lock.now)
        {
            return false;
        }
        if snapshot.value.is_none() {
            let now = lock.now;
            lock.shard
                .record_delete(&snapshot.key, snapshot.version, now);
        }
        match snapshot.value {
            Some((_, Some(at))) if at <= lock.now => {
                lock.remove(&snapshot.key);
            }
            Some((value, expire)) => {
                let index = lock.put(&snapshot.key, value, expire);
                lock.shard.set_version_at(index, snapshot.version);
            }
            None => {
                lock.remove(&snapshot.key);
            }
        }
        true
    }

    /// Copies every live entry of shard `shard` that `wanted` accepts by
    /// its key and version (0 if it never had one), under one lock hold.
    pub fn export_shard(&self, shard: usize, wanted: impl Fn(&[u8], u64) -> bool) -> Vec<Snapshot> {
        let now = self.now();
        let guard = self.lock_shard(shard);
        let mut out = Vec::new();
        for index in 0..guard.num_buckets() {
            let Some(entry) = guard.bucket(index) else {
                continue;
            };
            let version = entry.version().unwrap_or(0);
            if entry.is_expired(now) || !wanted(entry.key(), version) {
                continue;
            }
            out.push(Snapshot {
                key: entry.key().to_vec(),
                value: Some((guard.value(index).to_owned_value(), entry.expire_at())),
                version,
            });
        }
        out
    }

    /// Removes every entry whose key `unwanted` accepts; returns how many.
    pub fn remove_where(&self, unwanted: impl Fn(&[u8]) -> bool) -> usize {
        let mut removed = 0;
        for shard in 0..self.shard_count() {
            let mut guard = self.lock_shard(shard);
            let mut index = 0;
            while index < guard.num_buckets() {
                if guard.bucket(index).is_some_and(|e| unwanted(e.key())) {
                    guard.delete_at(index);
                    removed += 1;
                }
                index += 1;
            }
            guard.maybe_shrink();
        }
        removed
    }

    /// Counts live entries whose key `wanted` accepts, and returns up to
    /// `limit` of their keys (CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT).
    pub fn find_keys(&self, limit: usize, wanted: impl Fn(&[u8]) -> bool) -> (usize, Vec<Vec<u8>>) {
        let (mut count, mut keys) = (0, Vec::new());
        // One pass with no cursor to resume: each shard is walked whole
        // under its lock, so no key is counted twice (a resumed walk starts
        // a rehashed shard over).
        self.scan(0, usize::MAX, |entry| {
            if wanted(entry.key()) {
                count += 1;
                if keys.len() < limit {
                    keys.push(entry.key().to_vec());
                }
            }
        });
        (count, keys)
    }
}

/// A key's state as replication compares copies ([`Store::state_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyState {
    /// The key has a live value.
    pub present: bool,
    /// The value's version, or the delete's (0 when none is known).
    pub version: u64,
}

impl KeyState {
    /// True if a copy in this state holds everything `primary` holds: the
    /// same presence at the same or a later version, or a later state.
    pub fn holds(self, primary: KeyState) -> bool {
        match (primary.present, self.present) {
            (true, true) => self.version >= primary.version,
            (false, false) => true,
            // A later write or delete than the primary's own state.
            _ => self.version > primary.version,
        }
    }
}
