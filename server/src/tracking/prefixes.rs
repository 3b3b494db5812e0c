//! BCAST mode's prefixes (Redis's `PrefixTable`): which clients want to
//! hear of changes to keys under which prefix, and Redis's rule that one
//! client's prefixes never overlap.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

/// See the module docs.
#[derive(Debug, Default)]
pub struct Prefixes {
    /// Prefix to its clients' ids.
    by_prefix: BTreeMap<Bytes, BTreeSet<u64>>,
}

impl Prefixes {
    /// Adds `prefix` for client `id`.
    pub fn add(&mut self, prefix: &[u8], id: u64) {
        self.by_prefix
            .entry(Bytes::copy_from_slice(prefix))
            .or_default()
            .insert(id);
    }

    /// Removes every prefix of client `id`.
    pub fn remove_client(&mut self, id: u64) {
        self.by_prefix.retain(|_, ids| {
            ids.remove(&id);
            !ids.is_empty()
        });
    }

    /// Client `id`'s prefixes, in order.
    pub fn of(&self, id: u64) -> Vec<Bytes> {
        self.by_prefix
            .iter()
            .filter(|(_, ids)| ids.contains(&id))
            .map(|(prefix, _)| prefix.clone())
            .collect()
    }

    /// Distinct prefixes: INFO's `tracking_total_prefixes`.
    pub fn len(&self) -> usize {
        self.by_prefix.len()
    }

    /// True with no prefix.
    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }

    /// For each prefix some of `keys` start with: those keys (sorted, no
    /// repeats, as Redis's message lists them) and the prefix's clients.
    pub fn matching<'p>(&'p self, keys: &[&[u8]]) -> Vec<(Vec<Bytes>, &'p BTreeSet<u64>)> {
        self.by_prefix
            .iter()
            .filter_map(|(prefix, ids)| {
                let under: BTreeSet<&[u8]> = keys
                    .iter()
                    .copied()
                    .filter(|key| key.starts_with(prefix))
                    .collect();
                (!under.is_empty()).then(|| {
                    let keys = under.into_iter().map(Bytes::copy_from_slice).collect();
                    (keys, ids)
                })
            })
            .collect()
    }
}

/// One of two byte strings starts with the other (Redis's
/// `stringCheckPrefix`).
fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Redis's error when one of `new` overlaps a prefix in `existing` or a
/// later one of `new`; `None` when they are all apart.
pub fn overlap_error(existing: &[Bytes], new: &[&[u8]]) -> Option<String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, prefix) in new.iter().enumerate() {
        if let Some(old) = existing.iter().find(|old| overlaps(old, prefix)) {
            return Some(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                text(prefix),
                text(old)
            ));
        }
        if let Some(other) = new[i + 1..].iter().find(|other| overlaps(prefix, other)) {
            return Some(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                text(prefix),
                text(other)
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_prefixes_are_refused_with_redis_words() {
        let existing = vec![Bytes::from_static(b"user:")];
        assert!(overlap_error(&existing, &[b"obj:", b"tmp"]).is_none());
        let error = overlap_error(&existing, &[b"user:1"]).unwrap();
        assert_eq!(error, "ERR Prefix 'user:1' overlaps with an existing prefix 'user:'. Prefixes for a single client must not overlap.");
        let error = overlap_error(&[], &[b"a", b"ab"]).unwrap();
        assert!(error.contains("another provided prefix 'ab'"), "{error}");
    }

    #[test]
    fn keys_are_grouped_by_prefix_sorted_once() {
        let mut prefixes = Prefixes::default();
        prefixes.add(b"a", 1);
        prefixes.add(b"b", 2);
        prefixes.add(b"", 3);
        let keys: [&[u8]; 4] = [b"b2", b"a1", b"b1", b"b2"];
        let matched = prefixes.matching(&keys);
        assert_eq!(matched.len(), 3);
        assert_eq!(matched[0].0, vec!["a1", "b1", "b2"]);
        assert_eq!(matched[2].0, vec!["b1", "b2"]);
        prefixes.remove_client(3);
        assert_eq!(prefixes.len(), 2);
        assert_eq!(prefixes.of(1), vec!["a"]);
    }
}
