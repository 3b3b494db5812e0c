//! The tracking table: for each key a tracking client read, the ids of
//! those clients (Redis's `TrackingTable`), with a random key to evict when
//! the table is over `tracking-table-max-keys`.

use std::hash::BuildHasher;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};

/// A key and the clients to tell when it changes (sorted, no repeats).
type Row = (Box<[u8]>, Vec<u64>);

/// See the module docs.
#[derive(Debug, Default)]
pub struct Table {
    rows: HashTable<Row>,
    hasher: DefaultHashBuilder,
    /// (key, client) pairs: INFO's `tracking_total_items`.
    items: usize,
    /// Some key was remembered for another node (`super::REMOTE`).
    pub has_remote: bool,
}

impl Table {
    /// Remembers that client `id` read `key`.
    pub fn insert(&mut self, key: &[u8], id: u64) {
        let hash = self.hasher.hash_one(key);
        let hasher = &self.hasher;
        let entry = self.rows.entry(
            hash,
            |(k, _)| &k[..] == key,
            |(k, _)| hasher.hash_one(&k[..]),
        );
        let ids = match entry {
            Entry::Occupied(occupied) => &mut occupied.into_mut().1,
            Entry::Vacant(vacant) => &mut vacant.insert((Box::from(key), Vec::new())).into_mut().1,
        };
        if let Err(at) = ids.binary_search(&id) {
            ids.insert(at, id);
            self.items += 1;
        }
    }

    /// Forgets `key`; the clients that read it.
    pub fn remove(&mut self, key: &[u8]) -> Option<Vec<u64>> {
        let hash = self.hasher.hash_one(key);
        let (row, _) = self
            .rows
            .find_entry(hash, |(k, _)| &k[..] == key)
            .ok()?
            .remove();
        self.items -= row.1.len();
        Some(row.1)
    }

    /// Forgets a key picked at random; it and the clients that read it.
    pub fn remove_random(&mut self) -> Option<(Box<[u8]>, Vec<u64>)> {
        let buckets = self.rows.num_buckets();
        if self.rows.is_empty() || buckets == 0 {
            return None;
        }
        let start = fastrand::usize(..buckets);
        let key = (0..buckets)
            .map(|step| (start + step) % buckets)
            .find_map(|index| self.rows.get_bucket(index))
            .map(|(key, _)| key.clone())?;
        let ids = self.remove(&key)?;
        Some((key, ids))
    }

    /// Forgets the keys for which `moved` is true (a walk of the table,
    /// which its bound keeps short); them and the clients that read them.
    pub fn remove_where(&mut self, mut moved: impl FnMut(&[u8]) -> bool) -> Vec<Row> {
        let rows: Vec<Row> = self.rows.extract_if(|(key, _)| moved(key)).collect();
        self.items -= rows.iter().map(|(_, ids)| ids.len()).sum::<usize>();
        rows
    }

    /// Forgets everything (FLUSHALL, FLUSHDB); whether some key was
    /// remembered for another node.
    pub fn clear(&mut self) -> bool {
        let remote = self
            .rows
            .iter()
            .any(|(_, ids)| ids.last() == Some(&u64::MAX));
        self.rows.clear();
        self.items = 0;
        remote
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// (key, client) pairs remembered.
    pub fn items(&self) -> usize {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_their_clients_once() {
        let mut table = Table::default();
        table.insert(b"a", 3);
        table.insert(b"a", 1);
        table.insert(b"a", 3);
        table.insert(b"b", 1);
        assert_eq!((table.len(), table.items()), (2, 3));
        assert_eq!(table.remove(b"a"), Some(vec![1, 3]));
        assert_eq!(table.remove(b"a"), None);
        assert_eq!((table.len(), table.items()), (1, 1));
        let (key, ids) = table.remove_random().unwrap();
        assert_eq!((&key[..], ids), (&b"b"[..], vec![1]));
        assert!(table.is_empty());
        assert!(table.remove_random().is_none());
    }

    #[test]
    fn keys_picked_by_a_predicate_leave_with_their_clients() {
        let mut table = Table::default();
        table.insert(b"moved:1", 1);
        table.insert(b"moved:1", 2);
        table.insert(b"stays", 1);
        table.insert(b"moved:2", 3);
        let mut gone = table.remove_where(|key| key.starts_with(b"moved:"));
        gone.sort();
        assert_eq!(
            gone,
            vec![
                (Box::from(&b"moved:1"[..]), vec![1, 2]),
                (Box::from(&b"moved:2"[..]), vec![3]),
            ]
        );
        assert_eq!((table.len(), table.items()), (1, 1));
        assert!(table.remove_where(|_| false).is_empty());
    }
}
