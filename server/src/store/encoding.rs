//! When a collection leaves its compact encoding: the thresholds Redis
//! names `hash-max-listpack-entries`, `list-max-listpack-size`,
//! `set-max-intset-entries` and so on, shared by the store's shards and
//! changed at run time by CONFIG SET.

use std::sync::atomic::{AtomicI64, Ordering};

/// The thresholds in force (Redis's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingLimits {
    /// Most fields a hash keeps in its compact encoding.
    pub hash_max_listpack_entries: i64,
    /// Longest field or value a compact hash holds, in bytes.
    pub hash_max_listpack_value: i64,
    /// Size of one compact list node: positive, elements; -1 to -5, 4 KiB
    /// to 64 KiB.
    pub list_max_listpack_size: i64,
    /// Most members a set of integers keeps as an intset.
    pub set_max_intset_entries: i64,
    /// Most members a set keeps in its compact encoding.
    pub set_max_listpack_entries: i64,
    /// Longest member a compact set holds, in bytes.
    pub set_max_listpack_value: i64,
    /// Most members a sorted set keeps in its compact encoding.
    pub zset_max_listpack_entries: i64,
    /// Longest member a compact sorted set holds, in bytes.
    pub zset_max_listpack_value: i64,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            list_max_listpack_size: -2,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        }
    }
}

/// The limits as the shards read them: one atomic per threshold, so a
/// write reads them without a lock and CONFIG SET changes them in place.
#[derive(Debug)]
pub struct SharedLimits([AtomicI64; 8]);

impl SharedLimits {
    /// Shared limits starting at `limits`.
    pub fn new(limits: EncodingLimits) -> Self {
        let shared = SharedLimits(Default::default());
        shared.set(limits);
        shared
    }

    /// The thresholds now.
    pub fn get(&self) -> EncodingLimits {
        let [a, b, c, d, e, f, g, h] = self.0.each_ref().map(|x| x.load(Ordering::Relaxed));
        EncodingLimits {
            hash_max_listpack_entries: a,
            hash_max_listpack_value: b,
            list_max_listpack_size: c,
            set_max_intset_entries: d,
            set_max_listpack_entries: e,
            set_max_listpack_value: f,
            zset_max_listpack_entries: g,
            zset_max_listpack_value: h,
        }
    }

    /// Replaces the thresholds; values already stored keep their encoding
    /// until their next write, as in Redis.
    pub fn set(&self, limits: EncodingLimits) {
        let values = [
            limits.hash_max_listpack_entries,
            limits.hash_max_listpack_value,
            limits.list_max_listpack_size,
            limits.set_max_intset_entries,
            limits.set_max_listpack_entries,
            limits.set_max_listpack_value,
            limits.zset_max_listpack_entries,
            limits.zset_max_listpack_value,
        ];
        for (cell, value) in self.0.iter().zip(values) {
            cell.store(value, Ordering::Relaxed);
        }
    }
}
