//! The value of a hash key, in Redis's two encodings: "listpack", a
//! [`Packed`] block of field, value, field, value... in insertion order,
//! while the hash has at most `hash-max-listpack-entries` fields and no
//! field or value longer than `hash-max-listpack-value` bytes; "hashtable"
//! (a field map) past them, for good: Redis never converts back.
//!
//! Conversions follow Redis 7.0: a write converts when its arguments hold
//! a long field or value ([`HashValue::prepare_write`], before HSET writes
//! anything), and each field set converts as Redis's `hashTypeSet` does
//! ([`HashValue::insert_with`]), so a listpack never grows past its
//! threshold within one command; [`HashValue::settle`], after every write,
//! converts what a plain [`HashValue::insert`] took past them.

use std::hash::BuildHasher;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};

use super::buckets;
use super::encoding::EncodingLimits;
use super::inline::{Form, Reader};
use super::memory::allocation_size;
use super::packed::Packed;

/// The hash's slot in the shard's slab of collections, counted in its
/// heap size (as a grown string counts its slab slot).
const SLAB_SLOT: usize = std::mem::size_of::<super::Collection>();

/// A hash value.
#[derive(Debug, Default, Clone)]
pub struct HashValue(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Packed(Packed),
    Table(Box<Table>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed(Packed::default())
    }
}

/// The full encoding: the pairs in a hash table with bucket access (so a
/// random field is a few probes away, for HRANDFIELD), and the heap bytes
/// of its fields and values.
#[derive(Debug, Clone, Default)]
struct Table {
    pairs: HashTable<Pair>,
    hasher: DefaultHashBuilder,
    bytes: usize,
    /// Changes whenever pairs may have moved to other buckets (a rehash on
    /// insert, a shrink), so an HSCAN cursor from before can tell.
    layout: u16,
}

/// A field and its value, as the table holds them.
type Pair = (Box<[u8]>, Box<[u8]>);

fn pair_bytes(field: &[u8], value: &[u8]) -> usize {
    allocation_size(field.len()) + allocation_size(value.len())
}

impl Table {
    fn with_capacity(capacity: usize) -> Table {
        Table {
            pairs: HashTable::with_capacity(capacity),
            ..Table::default()
        }
    }

    fn heap_size(&self) -> usize {
        let tables = if self.pairs.capacity() == 0 {
            0
        } else {
            // A slot per bucket, a control byte per bucket plus a group.
            let buckets = self.pairs.num_buckets();
            let slot = std::mem::size_of::<Pair>();
            allocation_size(buckets * slot + buckets + 16)
        };
        tables + self.bytes + allocation_size(std::mem::size_of::<Table>())
    }

    fn hash(&self, field: &[u8]) -> u64 {
        self.hasher.hash_one(field)
    }

    fn len(&self) -> usize {
        self.pairs.len()
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.pairs
            .find(self.hash(field), |(f, _)| &f[..] == field)
            .map(|(_, v)| &v[..])
    }

    fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        let hash = self.hash(field);
        buckets::before_insert(&self.pairs, &mut self.layout);
        let hasher = &self.hasher;
        let entry = self.pairs.entry(
            hash,
            |(f, _)| &f[..] == field,
            |(f, _)| hasher.hash_one(&f[..]),
        );
        self.bytes += allocation_size(value.len());
        match entry {
            Entry::Occupied(mut occupied) => {
                let old = &mut occupied.get_mut().1;
                self.bytes -= allocation_size(old.len());
                *old = value.into();
                false
            }
            Entry::Vacant(vacant) => {
                self.bytes += allocation_size(field.len());
                vacant.insert((field.into(), value.into()));
                true
            }
        }
    }

    /// Removes `field`; true if it was there. A table left mostly empty
    /// shrinks, so random picks stay a few probes away.
    fn remove(&mut self, field: &[u8]) -> bool {
        let hash = self.hash(field);
        let Ok(entry) = self.pairs.find_entry(hash, |(f, _)| &f[..] == field) else {
            return false;
        };
        let ((f, v), _) = entry.remove();
        self.bytes -= pair_bytes(&f, &v);
        let hasher = &self.hasher;
        buckets::shrink_sparse(&mut self.pairs, &mut self.layout, |(f, _)| {
            hasher.hash_one(&f[..])
        });
        true
    }

    fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> {
        self.pairs.iter().map(|(f, v)| (&f[..], &v[..]))
    }

    /// HSCAN's walk of the pairs from `cursor` on ([`buckets::scan`]).
    fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        buckets::scan(&self.pairs, self.layout, cursor, count, |(f, v)| {
            visit(f, v)
        })
    }

    /// A pair picked uniformly at random ([`buckets::random`]; `remove`
    /// keeps the table at least an eighth full).
    fn random(&self, rng: &mut fastrand::Rng) -> Option<(&[u8], &[u8])> {
        buckets::random(&self.pairs, rng).map(|(f, v)| (&f[..], &v[..]))
    }
}

impl PartialEq for HashValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}
impl Eq for HashValue {}

/// The field-value pairs of a packed block, in order.
fn pairs(packed: &Packed) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> {
    let mut items = packed.iter();
    (0..packed.len() / 2).map(move |_| {
        let field = items.next().unwrap_or_default();
        (field, items.next().unwrap_or_default())
    })
}

/// The index of the pair whose field is `field`.
fn pair_index(packed: &Packed, field: &[u8]) -> Option<usize> {
    pairs(packed).position(|(f, _)| f == field)
}

impl HashValue {
    /// A hash of `pairs` (a later pair sets its field again), in the
    /// encoding Redis's default thresholds give it: how a value decoded
    /// from the node wire is built, in time linear in its size.
    pub fn build<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> HashValue {
        let mut table = Table::default();
        let mut order: Vec<&'a [u8]> = Vec::new();
        for (field, value) in pairs {
            if table.insert(field, value) {
                order.push(field);
            }
        }
        let mut hash = HashValue(Repr::Table(Box::new(table)));
        let limits = EncodingLimits::default();
        if !hash.past(&limits) {
            let packed: Packed = order
                .iter()
                .flat_map(|&f| [f, hash.get(f).unwrap_or_default()])
                .collect();
            hash.0 = Repr::Packed(packed);
        }
        hash
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Packed(p) => p.len() / 2,
            Repr::Table(t) => t.len(),
        }
    }

    /// True without fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes, as the allocator hands them out, with the hash's slab
    /// slot.
    pub fn heap_size(&self) -> usize {
        SLAB_SLOT
            + match &self.0 {
                Repr::Packed(p) => allocation_size(p.heap_size()),
                Repr::Table(t) => t.heap_size(),
            }
    }

    /// The inline form of a listpack (see `inline`): its length and its
    /// block; `None` for a table.
    pub fn inline_form(&self) -> Option<Form<'_>> {
        match &self.0 {
            Repr::Packed(p) => Some(Form::new(p.block()).varint(p.len())),
            Repr::Table(_) => None,
        }
    }

    /// The hash an inline form holds.
    pub fn from_inline(form: &[u8]) -> HashValue {
        let mut reader = Reader::new(form);
        let len = reader.varint();
        HashValue(Repr::Packed(Packed::from_block(reader.block(), len)))
    }

    /// The encoding Redis would report.
    pub fn encoding(&self) -> &'static str {
        match &self.0 {
            Repr::Packed(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// True when the hash has more fields, or a longer field or value,
    /// than `limits` allow a listpack.
    fn past(&self, limits: &EncodingLimits) -> bool {
        let longest = usize::try_from(limits.hash_max_listpack_value).unwrap_or(0);
        self.len() as i64 > limits.hash_max_listpack_entries
            || self
                .iter()
                .any(|(f, v)| f.len() > longest || v.len() > longest)
    }

    /// Converts a listpack that a write took past a threshold.
    pub fn settle(&mut self, limits: &EncodingLimits) {
        if matches!(self.0, Repr::Packed(_)) && self.past(limits) {
            self.convert_to_table();
        }
    }

    /// Before a write of `items` (fields and values, as HSET's arguments):
    /// converts a listpack when one of them is longer than
    /// `hash-max-listpack-value`, as Redis checks the arguments whether or
    /// not they end up stored.
    pub fn prepare_write<'a>(
        &mut self,
        mut items: impl Iterator<Item = &'a [u8]>,
        limits: &EncodingLimits,
    ) {
        let longest = usize::try_from(limits.hash_max_listpack_value).unwrap_or(0);
        if matches!(self.0, Repr::Packed(_)) && items.any(|item| item.len() > longest) {
            self.convert_to_table();
        }
    }

    fn convert_to_table(&mut self) {
        let mut table = Table::with_capacity(self.len());
        for (field, value) in self.iter() {
            table.insert(field, value);
        }
        self.0 = Repr::Table(Box::new(table));
    }

    /// A field's value.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.0 {
            Repr::Packed(p) => pairs(p).find(|(f, _)| *f == field).map(|(_, v)| v),
            Repr::Table(t) => t.get(field),
        }
    }

    /// Sets a field; true if it is new. A listpack keeps a field where it
    /// is and appends a new one.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Packed(p) => match pair_index(p, field) {
                Some(i) => {
                    p.replace(2 * i + 1, value);
                    false
                }
                None => {
                    p.push_back_all(&[field, value]);
                    true
                }
            },
            Repr::Table(t) => t.insert(field, value),
        }
    }

    /// Sets a field with the thresholds `limits`, converting as Redis's
    /// `hashTypeSet` does: before, when the field or the value is too long
    /// for a listpack; after, when the listpack has too many fields. True
    /// if the field is new.
    pub fn insert_with(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        if let Repr::Packed(_) = self.0 {
            let longest = usize::try_from(limits.hash_max_listpack_value).unwrap_or(0);
            if field.len() > longest || value.len() > longest {
                self.convert_to_table();
            }
        }
        let new = self.insert(field, value);
        if matches!(self.0, Repr::Packed(_)) && self.len() as i64 > limits.hash_max_listpack_entries
        {
            self.convert_to_table();
        }
        new
    }

    /// Removes a field; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Packed(p) => match pair_index(p, field) {
                Some(i) => {
                    p.remove_range(2 * i, 2 * i + 2);
                    true
                }
                None => false,
            },
            Repr::Table(t) => t.remove(field),
        }
    }

    /// All fields and values: in insertion order for a listpack (as Redis
    /// lists them), in table order for a table.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> {
        let (packed, table) = match &self.0 {
            Repr::Packed(p) => (Some(pairs(p)), None),
            Repr::Table(t) => (None, Some(t.iter())),
        };
        Pairs { packed, table }
    }

    /// A field and its value picked uniformly at random (None when
    /// empty): a few probes in a table, a walk of the (small) listpack.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<(&[u8], &[u8])> {
        match &self.0 {
            Repr::Packed(p) => pairs(p).nth(rng.usize(..(p.len() / 2).max(1))),
            Repr::Table(t) => t.random(rng),
        }
    }

    /// HSCAN: visits pairs from `cursor` on (about `count` of them) and
    /// returns the next cursor, 0 at the end. A listpack is visited whole
    /// in one call, whatever the cursor, as Redis does.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match &self.0 {
            Repr::Table(t) => t.scan(cursor, count, visit),
            Repr::Packed(p) => {
                pairs(p).for_each(|(f, v)| visit(f, v));
                0
            }
        }
    }

    /// True in the listpack encoding (small: a walk costs little).
    pub fn is_packed(&self) -> bool {
        matches!(self.0, Repr::Packed(_))
    }
}

/// Either encoding's pairs, as one iterator.
struct Pairs<P, T> {
    packed: Option<P>,
    table: Option<T>,
}

impl<'a, P, T> Iterator for Pairs<P, T>
where
    P: ExactSizeIterator<Item = (&'a [u8], &'a [u8])>,
    T: ExactSizeIterator<Item = (&'a [u8], &'a [u8])>,
{
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match (&mut self.packed, &mut self.table) {
            (Some(p), _) => p.next(),
            (None, Some(t)) => t.next(),
            (None, None) => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match (&self.packed, &self.table) {
            (Some(p), _) => p.size_hint(),
            (None, Some(t)) => t.size_hint(),
            (None, None) => (0, Some(0)),
        }
    }
}

impl<'a, P, T> ExactSizeIterator for Pairs<P, T>
where
    P: ExactSizeIterator<Item = (&'a [u8], &'a [u8])>,
    T: ExactSizeIterator<Item = (&'a [u8], &'a [u8])>,
{
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(h: &HashValue) -> Vec<(Vec<u8>, Vec<u8>)> {
        h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    #[test]
    fn a_listpack_lists_fields_in_insertion_order() {
        let mut h = HashValue::default();
        assert_eq!(h.encoding(), "listpack");
        for (f, v) in [("b", "1"), ("a", "2"), ("c", "3")] {
            assert!(h.insert(f.as_bytes(), v.as_bytes()));
        }
        // Setting a field again keeps its place; a removed one leaves.
        assert!(!h.insert(b"b", b"changed"));
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert!(h.insert(b"a", b"back"));
        let expected: Vec<(Vec<u8>, Vec<u8>)> = [("b", "changed"), ("c", "3"), ("a", "back")]
            .iter()
            .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(fields(&h), expected);
        assert_eq!(h.iter().nth(2), Some((&b"a"[..], &b"back"[..])));
        assert_eq!(h.get(b"c"), Some(&b"3"[..]));
        assert_eq!(h.get(b"3"), None, "values are not fields");
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn conversions_follow_the_thresholds_and_never_go_back() {
        let limits = EncodingLimits {
            hash_max_listpack_entries: 3,
            hash_max_listpack_value: 4,
            ..EncodingLimits::default()
        };
        let mut h = HashValue::default();
        for f in ["a", "b", "c"] {
            h.insert(f.as_bytes(), b"1234");
            h.settle(&limits);
        }
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"d", b"1");
        h.settle(&limits);
        assert_eq!(h.encoding(), "hashtable");
        for f in ["a", "b", "c"] {
            h.remove(f.as_bytes());
            h.settle(&limits);
        }
        assert_eq!((h.encoding(), h.len()), ("hashtable", 1));
        // A long value converts, and so does a long field.
        let mut h = HashValue::default();
        h.insert(b"f", b"12345");
        h.settle(&limits);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::default();
        h.insert(b"field", b"1");
        h.settle(&limits);
        assert_eq!(h.encoding(), "hashtable");
        // Each field set converts as it goes, so one command never builds
        // a long listpack.
        let mut h = HashValue::default();
        for (i, f) in ["a", "b", "c", "d"].iter().enumerate() {
            h.insert_with(f.as_bytes(), b"1", &limits);
            let expected = if i < 3 { "listpack" } else { "hashtable" };
            assert_eq!(h.encoding(), expected);
        }
        let mut h = HashValue::default();
        assert!(h.insert_with(b"f", b"12345", &limits));
        assert_eq!(
            (h.encoding(), h.get(b"f")),
            ("hashtable", Some(&b"12345"[..]))
        );
        // Arguments are checked before the write, stored or not.
        let mut h = HashValue::default();
        h.insert(b"f", b"1");
        h.prepare_write([&b"f"[..], b"12345", b"f", b"1"].into_iter(), &limits);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"f"), Some(&b"1"[..]));
    }

    #[test]
    fn follows_a_map_model_in_both_encodings() {
        let mut rng = fastrand::Rng::with_seed(17);
        let limits = EncodingLimits::default();
        let mut h = HashValue::default();
        let mut model: std::collections::HashMap<Vec<u8>, Vec<u8>> = Default::default();
        for step in 0..4000 {
            let field = format!("f{}", rng.usize(..if step < 2000 { 60 } else { 400 }));
            let value = vec![b'v'; rng.usize(..10)];
            if rng.u8(..3) == 0 {
                assert_eq!(
                    h.remove(field.as_bytes()),
                    model.remove(field.as_bytes()).is_some()
                );
            } else {
                let new = model
                    .insert(field.clone().into_bytes(), value.clone())
                    .is_none();
                assert_eq!(h.insert(field.as_bytes(), &value), new);
            }
            h.settle(&limits);
            assert_eq!(h.len(), model.len());
        }
        assert_eq!(h.encoding(), "hashtable");
        let all: std::collections::HashMap<Vec<u8>, Vec<u8>> = fields(&h).into_iter().collect();
        assert_eq!(all, model);
    }

    #[test]
    fn built_hashes_are_compact_when_small() {
        let pairs = [(&b"a"[..], &b"1"[..]), (b"b", b"2"), (b"a", b"3")];
        let h = HashValue::build(pairs);
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(
            fields(&h),
            [
                (b"a".to_vec(), b"3".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        let names: Vec<String> = (0..129).map(|i| format!("f{i}")).collect();
        let h = HashValue::build(names.iter().map(|f| (f.as_bytes(), &b"v"[..])));
        assert_eq!((h.encoding(), h.len()), ("hashtable", 129));
        let h = HashValue::build([(&b"f"[..], &[b'x'; 65][..])]);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn heap_sizes_are_allocator_classes() {
        let mut h = HashValue::default();
        assert_eq!(h.heap_size(), SLAB_SLOT);
        for i in 0..5 {
            h.insert(
                format!("field{i}").as_bytes(),
                format!("value{i}").as_bytes(),
            );
        }
        // Ten 6-byte items with a length byte each: 70 bytes, an 80-byte class.
        assert_eq!(h.heap_size(), SLAB_SLOT + 80);
        let limits = EncodingLimits {
            hash_max_listpack_entries: 1,
            ..EncodingLimits::default()
        };
        h.settle(&limits);
        // Two 16-byte allocations per field, plus the table.
        assert!(h.heap_size() > 5 * 32 + 8 * 32);
    }

    #[test]
    fn random_picks_reach_every_field_of_a_table_and_survive_removals() {
        let mut h = HashValue::default();
        let limits = EncodingLimits::default();
        for n in 0..1000 {
            let field = format!("f{n}");
            h.insert_with(field.as_bytes(), b"v", &limits);
        }
        assert_eq!(h.encoding(), "hashtable");
        // Most fields gone: the table shrinks, picks stay cheap and live.
        for n in 0..990 {
            assert!(h.remove(format!("f{n}").as_bytes()));
        }
        let mut rng = fastrand::Rng::with_seed(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let (field, value) = h.random(&mut rng).expect("a field");
            assert_eq!(value, b"v");
            assert_eq!(h.get(field), Some(&b"v"[..]));
            seen.insert(field.to_vec());
        }
        assert_eq!(seen.len(), 10);
        assert_eq!(HashValue::default().random(&mut rng), None);
    }
}
