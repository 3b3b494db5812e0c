//! The value of a hash key: a field map that knows its own heap size, so the
//! shard can account memory without walking it.

use hashbrown::HashMap;

use super::encoding::EncodingLimits;

/// Per-field bookkeeping beyond the field and value bytes (two boxed slices
/// and the table slot).
const FIELD_OVERHEAD: usize = 48;

/// A hash value.
#[derive(Debug, Default, Clone)]
pub struct HashValue {
    map: HashMap<Box<[u8]>, Box<[u8]>>,
    bytes: usize,
    /// Past `hash-max-listpack-*` once: Redis never converts back.
    large: bool,
}

impl PartialEq for HashValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}
impl Eq for HashValue {}

fn field_bytes(field: &[u8], value: &[u8]) -> usize {
    field.len() + value.len() + FIELD_OVERHEAD
}

impl HashValue {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True without fields.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.bytes + 64
    }

    /// The encoding Redis would report.
    pub fn encoding(&self) -> &'static str {
        if self.large {
            "hashtable"
        } else {
            "listpack"
        }
    }

    /// Notes that the hash passed `hash-max-listpack-entries` or
    /// `hash-max-listpack-value`.
    pub fn settle(&mut self, limits: &EncodingLimits) {
        if self.large {
            return;
        }
        let longest = limits.hash_max_listpack_value.max(0) as usize;
        self.large = self.map.len() as i64 > limits.hash_max_listpack_entries
            || self
                .map
                .iter()
                .any(|(f, v)| f.len() > longest || v.len() > longest);
    }

    /// A field's value.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.map.get(field).map(|v| &v[..])
    }

    /// Sets a field; true if it is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.bytes += field_bytes(field, value);
        match self.map.get_mut(field) {
            Some(old) => {
                self.bytes -= field_bytes(field, old);
                *old = value.into();
                false
            }
            None => {
                self.map.insert(field.into(), value.into());
                true
            }
        }
    }

    /// Removes a field; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.map.remove(field) {
            Some(old) => {
                self.bytes -= field_bytes(field, &old);
                true
            }
            None => false,
        }
    }

    /// All fields and values, in no particular order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> {
        self.map.iter().map(|(k, v)| (&k[..], &v[..]))
    }

    /// The field and value at position `i` of the iteration order (for
    /// HRANDFIELD), or `None` past the end.
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(i)
    }
}
