//! One cache entry, packed into a single allocation.
//!
//! Memory per key is a headline figure, so an entry is one thin pointer in
//! the hash table (8 bytes) to one heap block laid out as:
//!
//! ```text
//! [flags u8][access u32][key length varint][expiry u64, if flagged]
//! [version u64, if flagged][key][payload]
//! ```
//!
//! `flags` holds the value kind, whether an expiry and a version are
//! present (only cluster nodes version their entries, so a standalone node
//! pays nothing for it) and whether the value is boxed (kept outside the
//! block); `access` is the LRU clock or the LFU counter, depending on the
//! eviction policy. The payload is the value itself when it is not boxed:
//! a string's bytes, or a small collection (hash, list, set, sorted set) in
//! its compact encoding, written as `inline` lays it out. A boxed value's
//! payload is its index in one of the shard's slabs: of collections (a
//! large one, or one in a full encoding), or of strings grown by APPEND or
//! SETRANGE (buffers with spare room, see `grown`). The block is a `HeapSlice`,
//! whose only header is its 8-byte length (thin-vec's length and capacity took 16): a 15-byte key
//! with a 32-byte value fits one 64-byte allocator class, 80 with a TTL.

use heap_slice::HeapSlice;

/// Entries up to this size are assembled on the stack before being copied
/// into their block; larger ones go through a temporary vector.
const STACK_BUILD: usize = 256;

const KIND_MASK: u8 = 0b111;
const KIND_STRING: u8 = 0;
const HAS_EXPIRE: u8 = 0b1000;
const HAS_VERSION: u8 = 0b1_0000;
/// The value lives in one of the shard's slabs (grown strings for a
/// string, collections for the others); the payload is its index there.
const BOXED: u8 = 0b10_0000;
/// The flags that say where the value is and what it is: kept when an
/// entry is rebuilt with another expiry or version.
const LAYOUT_MASK: u8 = KIND_MASK | BOXED;
const ACCESS_AT: usize = 1;
const KEY_LEN_AT: usize = 5;

/// The type of value an entry holds (its number is the entry's kind bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A byte string.
    String = 0,
    /// A map of fields to values.
    Hash = 1,
    /// A sequence of elements.
    List = 2,
    /// A set of members.
    Set = 3,
    /// A set of members ordered by score.
    ZSet = 4,
}

impl Kind {
    /// Every kind, in the order of their numbers.
    pub const ALL: [Kind; 5] = [Kind::String, Kind::Hash, Kind::List, Kind::Set, Kind::ZSet];

    /// The name TYPE reports (and SCAN's TYPE option takes).
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }

    fn from_bits(bits: u8) -> Kind {
        Kind::ALL
            .get(usize::from(bits & KIND_MASK))
            .copied()
            .unwrap_or(Kind::String)
    }
}

/// A packed entry; see the module docs for the layout.
pub struct Entry(HeapSlice<u8>);

impl Entry {
    /// A string entry.
    pub fn string(key: &[u8], value: &[u8], expire_at: Option<u64>, access: u32) -> Entry {
        Entry::build(KIND_STRING, key, [value, &[]], expire_at, None, access)
    }

    /// An entry of collection kind `kind` (not a string) whose value is
    /// `slab_index` in the shard's slab of collections.
    pub fn collection(
        kind: Kind,
        key: &[u8],
        slab_index: u32,
        expire_at: Option<u64>,
        access: u32,
    ) -> Entry {
        debug_assert!(kind != Kind::String, "strings are never in that slab");
        let slot = slab_index.to_le_bytes();
        Entry::build(
            kind as u8 | BOXED,
            key,
            [&slot, &[]],
            expire_at,
            None,
            access,
        )
    }

    /// An entry of collection kind `kind` holding its value inline:
    /// `head` then `block`, the value's form as `inline` writes it.
    pub fn packed(
        kind: Kind,
        key: &[u8],
        form: [&[u8]; 2],
        expire_at: Option<u64>,
        access: u32,
    ) -> Entry {
        debug_assert!(kind != Kind::String, "strings have their own builder");
        Entry::build(kind as u8, key, form, expire_at, None, access)
    }

    /// This entry (same kind, key, expiry, version and access) for a value
    /// boxed into slot `slot` of the shard's slab of its kind (a grown
    /// string, or a collection).
    pub fn boxed(&self, slot: u32) -> Entry {
        self.relaid(self.flags() & KIND_MASK | BOXED, [&slot.to_le_bytes(), &[]])
    }

    /// This entry (same kind, key, expiry, version and access) for a
    /// collection held inline in the form `form` (see [`Entry::packed`]).
    pub fn repacked(&self, form: [&[u8]; 2]) -> Entry {
        self.relaid(self.flags() & KIND_MASK, form)
    }

    fn relaid(&self, layout: u8, payload: [&[u8]; 2]) -> Entry {
        Entry::build(
            layout,
            self.key(),
            payload,
            self.expire_at(),
            self.version(),
            self.access(),
        )
    }

    fn build(
        layout: u8,
        key: &[u8],
        payload: [&[u8]; 2],
        expire_at: Option<u64>,
        version: Option<u64>,
        access: u32,
    ) -> Entry {
        let key_len = u32::try_from(key.len()).expect("keys are bounded by proto-max-bulk-len");
        let mut len_bytes = [0u8; 5];
        let len_size = write_varint(key_len, &mut len_bytes);
        let flags = [layout
            | if expire_at.is_some() { HAS_EXPIRE } else { 0 }
            | if version.is_some() { HAS_VERSION } else { 0 }];
        let expire_bytes = expire_at.map(u64::to_le_bytes);
        let version_bytes = version.map(u64::to_le_bytes);
        let parts: [&[u8]; 8] = [
            &flags,
            &access.to_le_bytes(),
            &len_bytes[..len_size],
            expire_bytes.as_ref().map_or(&[], |b| &b[..]),
            version_bytes.as_ref().map_or(&[], |b| &b[..]),
            key,
            payload[0],
            payload[1],
        ];
        let size: usize = parts.iter().map(|p| p.len()).sum();
        if size <= STACK_BUILD {
            let mut buf = [0u8; STACK_BUILD];
            concat_into(&mut buf[..size], &parts);
            Entry(HeapSlice::from(&buf[..size]))
        } else {
            // heap-slice copies from a slice only, so a large entry is
            // written twice; `concat` at least skips zeroing the first copy.
            Entry(HeapSlice::from(&parts.concat()[..]))
        }
    }

    #[inline]
    fn flags(&self) -> u8 {
        self.0[0]
    }

    /// (start of the key, length of the key)
    #[inline]
    fn key_span(&self) -> (usize, usize) {
        let (len, size) = read_varint(&self.0[KEY_LEN_AT..]);
        let mut start = KEY_LEN_AT + size;
        if self.flags() & HAS_EXPIRE != 0 {
            start += 8;
        }
        if self.flags() & HAS_VERSION != 0 {
            start += 8;
        }
        (start, len as usize)
    }

    /// The value kind.
    #[inline]
    pub fn kind(&self) -> Kind {
        Kind::from_bits(self.flags())
    }

    /// The key.
    #[inline]
    pub fn key(&self) -> &[u8] {
        let (start, len) = self.key_span();
        &self.0[start..start + len]
    }

    /// Where the entry's block lives, for a prefetch hint (the slice's
    /// length, read on the way, is dropped unused in optimised builds).
    #[inline]
    pub fn address(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// The payload: the value itself when it is not boxed (a string's
    /// bytes, a collection's inline form); a slab index otherwise (the
    /// shard's `value` reads any entry).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let (start, len) = self.key_span();
        &self.0[start + len..]
    }

    /// The index of a boxed collection in the shard's slab of them.
    pub fn slab_index(&self) -> Option<usize> {
        if self.kind() == Kind::String || self.flags() & BOXED == 0 {
            return None;
        }
        let bytes: [u8; 4] = self.payload().try_into().ok()?;
        Some(u32::from_le_bytes(bytes) as usize)
    }

    /// The payload, writable in place (its length cannot change).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, len) = self.key_span();
        &mut self.0[start + len..]
    }

    /// The slot of a grown string's buffer in the shard's slab of them.
    #[inline]
    pub fn grown_index(&self) -> Option<usize> {
        if self.kind() != Kind::String || self.flags() & BOXED == 0 {
            return None;
        }
        let bytes: [u8; 4] = self.payload().try_into().ok()?;
        Some(u32::from_le_bytes(bytes) as usize)
    }

    /// The inline form of a collection that is not boxed.
    #[inline]
    pub fn packed_form(&self) -> Option<&[u8]> {
        let inline = self.kind() != Kind::String && self.flags() & BOXED == 0;
        inline.then(|| self.payload())
    }

    /// True if the value lives outside the block, in a slab: a large
    /// collection or a grown string.
    #[inline]
    pub fn is_boxed(&self) -> bool {
        self.flags() & BOXED != 0
    }

    /// Absolute expiry in Unix milliseconds, if the entry has a TTL.
    #[inline]
    pub fn expire_at(&self) -> Option<u64> {
        if self.flags() & HAS_EXPIRE == 0 {
            return None;
        }
        let (_, size) = read_varint(&self.0[KEY_LEN_AT..]);
        let at = KEY_LEN_AT + size;
        let bytes: [u8; 8] = self.0[at..at + 8].try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    }

    /// Offset of the version field, if the entry has one.
    fn version_at(&self) -> Option<usize> {
        if self.flags() & HAS_VERSION == 0 {
            return None;
        }
        let (_, size) = read_varint(&self.0[KEY_LEN_AT..]);
        let expire = if self.flags() & HAS_EXPIRE != 0 { 8 } else { 0 };
        Some(KEY_LEN_AT + size + expire)
    }

    /// The version of the write that produced this entry (cluster nodes
    /// only; replication and handoff keep the newer of two copies).
    #[inline]
    pub fn version(&self) -> Option<u64> {
        let at = self.version_at()?;
        let bytes: [u8; 8] = self.0[at..at + 8].try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    }

    /// Sets the version: in place when the entry has the field, otherwise
    /// by rebuilding it with the field.
    pub fn set_version(&mut self, version: u64) {
        match self.version_at() {
            Some(at) => self.0[at..at + 8].copy_from_slice(&version.to_le_bytes()),
            None => {
                *self = Entry::build(
                    self.flags() & LAYOUT_MASK,
                    self.key(),
                    [self.payload(), &[]],
                    self.expire_at(),
                    Some(version),
                    self.access(),
                )
            }
        }
    }

    /// True if the entry has expired at `now` (Unix ms).
    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_at().is_some_and(|at| at <= now)
    }

    /// The LRU clock or LFU counter.
    #[inline]
    pub fn access(&self) -> u32 {
        u32::from_le_bytes([self.0[1], self.0[2], self.0[3], self.0[4]])
    }

    /// Updates the LRU clock or LFU counter in place.
    #[inline]
    pub fn set_access(&mut self, access: u32) {
        self.0[ACCESS_AT..ACCESS_AT + 4].copy_from_slice(&access.to_le_bytes());
    }

    /// The same entry with another expiry. Overwrites in place when both
    /// the old and the new expiry are present; otherwise rebuilds.
    pub fn set_expire(&mut self, expire_at: Option<u64>) {
        match (self.expire_at(), expire_at) {
            (Some(_), Some(at)) => {
                let (_, size) = read_varint(&self.0[KEY_LEN_AT..]);
                let start = KEY_LEN_AT + size;
                self.0[start..start + 8].copy_from_slice(&at.to_le_bytes());
            }
            (None, None) => {}
            _ => {
                *self = Entry::build(
                    self.flags() & LAYOUT_MASK,
                    self.key(),
                    [self.payload(), &[]],
                    expire_at,
                    self.version(),
                    self.access(),
                )
            }
        }
    }

    /// A copy of this entry (same kind, key and access) with another payload
    /// and expiry, held inline: for a string, a new value that replaces a
    /// grown one too.
    pub fn rebuilt(&self, payload: &[u8], expire_at: Option<u64>) -> Entry {
        Entry::build(
            self.flags() & KIND_MASK,
            self.key(),
            [payload, &[]],
            expire_at,
            self.version(),
            self.access(),
        )
    }

    /// Bytes this entry occupies on the heap (without the table slot).
    #[inline]
    pub fn heap_size(&self) -> usize {
        // The block's length header sits in front of the data.
        self.0.len() + 8
    }
}

/// Copies `parts` one after another into `out`, which is exactly their
/// total length.
fn concat_into(out: &mut [u8], parts: &[&[u8]]) {
    let mut at = 0;
    for part in parts {
        out[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
}

fn write_varint(mut n: u32, out: &mut [u8; 5]) -> usize {
    let mut i = 0;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out[i] = byte;
            return i + 1;
        }
        out[i] = byte | 0x80;
        i += 1;
    }
}

#[inline]
fn read_varint(bytes: &[u8]) -> (u32, usize) {
    let mut n = 0u32;
    for (i, &b) in bytes.iter().take(5).enumerate() {
        n |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (n, i + 1);
        }
    }
    (n, 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut e = Entry::string(b"key", b"value", None, 7);
        assert_eq!(
            (e.key(), e.payload(), e.expire_at(), e.access()),
            (&b"key"[..], &b"value"[..], None, 7)
        );
        e.set_expire(Some(1234));
        assert_eq!(
            (e.key(), e.payload(), e.expire_at(), e.access()),
            (&b"key"[..], &b"value"[..], Some(1234), 7)
        );
        e.set_expire(Some(99));
        e.set_access(8);
        assert_eq!((e.expire_at(), e.access()), (Some(99), 8));
        assert!(e.is_expired(99) && !e.is_expired(98));
        e.set_expire(None);
        assert_eq!(
            (e.key(), e.payload(), e.expire_at()),
            (&b"key"[..], &b"value"[..], None)
        );
    }

    #[test]
    fn versions_survive_expiry_changes() {
        let mut e = Entry::string(b"key", b"value", Some(10), 3);
        assert_eq!(e.version(), None);
        e.set_version(41);
        e.set_version(42);
        assert_eq!(
            (e.key(), e.payload(), e.expire_at(), e.version(), e.access()),
            (&b"key"[..], &b"value"[..], Some(10), Some(42), 3)
        );
        e.set_expire(None);
        assert_eq!(
            (e.expire_at(), e.version(), e.payload()),
            (None, Some(42), &b"value"[..])
        );
        e.set_expire(Some(7));
        assert_eq!(
            (e.expire_at(), e.version(), e.key()),
            (Some(7), Some(42), &b"key"[..])
        );
    }

    #[test]
    fn long_keys_and_hashes() {
        let key = vec![b'k'; 100_000];
        let e = Entry::collection(Kind::Hash, &key, 42, Some(5), 0);
        assert_eq!(e.key(), &key[..]);
        assert_eq!(e.kind(), Kind::Hash);
        assert_eq!(e.slab_index(), Some(42));
        assert_eq!(e.expire_at(), Some(5));
        assert!(e.is_boxed() && e.packed_form().is_none() && e.grown_index().is_none());
    }

    #[test]
    fn packed_collections_keep_their_form_through_rebuilds() {
        let mut e = Entry::packed(Kind::Set, b"key", [b"\x00", b"form"], None, 3);
        assert_eq!(
            (e.kind(), e.packed_form(), e.slab_index(), e.is_boxed()),
            (Kind::Set, Some(&b"\x00form"[..]), None, false)
        );
        e.set_expire(Some(10));
        e.set_version(4);
        assert_eq!(e.packed_form(), Some(&b"\x00form"[..]));
        let e = e.repacked([b"\x01", b"longer form"]);
        assert_eq!(
            (e.packed_form(), e.expire_at(), e.version(), e.access()),
            (Some(&b"\x01longer form"[..]), Some(10), Some(4), 3)
        );
        let boxed = e.boxed(9);
        assert_eq!(
            (
                boxed.kind(),
                boxed.slab_index(),
                boxed.packed_form(),
                boxed.expire_at()
            ),
            (Kind::Set, Some(9), None, Some(10))
        );
        assert!(Entry::string(b"k", b"v", None, 0).packed_form().is_none());
    }

    #[test]
    fn grown_strings_keep_their_slot_through_rebuilds() {
        let mut e = Entry::string(b"key", b"value", None, 7).boxed(42);
        assert_eq!(
            (e.kind(), e.grown_index(), e.slab_index()),
            (Kind::String, Some(42), None)
        );
        assert!(e.is_boxed());
        e.set_expire(Some(10));
        e.set_version(3);
        e.set_expire(None);
        assert_eq!(
            (
                e.key(),
                e.grown_index(),
                e.version(),
                e.expire_at(),
                e.access()
            ),
            (&b"key"[..], Some(42), Some(3), None, 7)
        );
        // A new value is inline again.
        let inline = e.rebuilt(b"new", None);
        assert_eq!(
            (inline.grown_index(), inline.payload()),
            (None, &b"new"[..])
        );
        assert!(!inline.is_boxed());
    }

    #[test]
    fn small_entries_are_compact() {
        let e = Entry::string(b"memtier-1000000", &[b'x'; 32], None, 0);
        assert!(e.heap_size() <= 64, "{}", e.heap_size());
        let e = Entry::string(b"memtier-1000000", &[b'x'; 32], Some(u64::MAX), 0);
        assert!(e.heap_size() <= 80, "{}", e.heap_size());
    }
}
