//! HyperLogLog in Redis's own string format, independent of the store: the
//! commands keep it in a plain string value, byte for byte what
//! redis-server would hold after the same additions, so a value read with
//! GET on one and written with SET on the other works on both.
//!
//! The format: a 16-byte header (`HYLL`, the encoding, three unused bytes,
//! the cached cardinality as 8 little-endian bytes whose top bit says the
//! cache is stale), then 16384 registers, dense ([`dense`]: 6 bits each)
//! or sparse ([`sparse`]: run-length opcodes, converted to dense past
//! `hll-sparse-max-bytes` or when a register passes 32). An element's
//! register and run length come from MurmurHash64A ([`murmur`]) with
//! Redis's seed: the low 14 bits pick the register, the position of the
//! first set bit above them is the run length. The estimate is Ertl's
//! ([`estimate`]).

pub mod dense;
mod estimate;
pub mod murmur;
pub mod sparse;

/// Bytes of the header.
pub const HEADER: usize = 16;
/// Bits of the hash that pick the register.
const P: u32 = 14;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Bits of the hash left for the run length.
const Q: usize = 64 - P as usize;
/// Length of a dense HyperLogLog string.
pub const DENSE_LEN: usize = HEADER + dense::BYTES;
/// Default of `hll-sparse-max-bytes`.
pub const DEFAULT_SPARSE_MAX_BYTES: u64 = 3000;
/// Where the top byte of the cached cardinality is (its top bit: stale).
const CACHE_FLAG_AT: usize = 15;

/// How many registers hold each value (values up to 63).
pub type Histogram = [u32; 64];

/// A HyperLogLog whose registers do not decode (Redis's
/// `INVALIDOBJ Corrupted HLL object detected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// How the registers are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 6 bits per register.
    Dense,
    /// Run-length opcodes.
    Sparse,
}

/// The encoding of `value` if it passes Redis's check of a HyperLogLog
/// string (the magic, a known encoding, and the exact length when dense);
/// None when it is another string.
pub fn encoding(value: &[u8]) -> Option<Encoding> {
    if value.len() < HEADER || &value[..4] != b"HYLL" {
        return None;
    }
    match value[4] {
        0 if value.len() == DENSE_LEN => Some(Encoding::Dense),
        1 => Some(Encoding::Sparse),
        _ => None,
    }
}

/// A new, empty HyperLogLog (sparse, as Redis creates them), its cache
/// saying zero.
pub fn new_sparse() -> Vec<u8> {
    let mut hll = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    hll.extend_from_slice(&sparse::empty());
    hll
}

/// The register `element` falls in and its run length (1 to 51).
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur::hash64a(element, murmur::SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    // A bit above the run's longest makes the count end at Q + 1.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// The cached cardinality, if the cache is not stale.
pub fn cached(hll: &[u8]) -> Option<u64> {
    (hll[CACHE_FLAG_AT] & 0x80 == 0).then(|| {
        let mut card = [0u8; 8];
        card.copy_from_slice(&hll[8..16]);
        u64::from_le_bytes(card)
    })
}

/// The header bytes (from offset 8) that cache `card`.
pub fn cache_bytes(card: u64) -> [u8; 8] {
    card.to_le_bytes()
}

/// Offset of the cached cardinality in the header.
pub const CACHE_AT: usize = 8;

/// The header's last byte with the stale flag set, and where it goes.
pub fn stale_flag(hll: &[u8]) -> (usize, u8) {
    (CACHE_FLAG_AT, hll[CACHE_FLAG_AT] | 0x80)
}

/// Marks the cached cardinality stale.
pub fn invalidate(hll: &mut [u8]) {
    hll[CACHE_FLAG_AT] |= 0x80;
}

/// The estimated cardinality of the HyperLogLog `hll` (valid by
/// [`encoding`]).
///
/// # Errors
/// Sparse registers that do not decode.
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    let mut histogram: Histogram = [0; 64];
    match encoding(hll) {
        Some(Encoding::Dense) => dense::histogram(&hll[HEADER..], &mut histogram),
        Some(Encoding::Sparse) => sparse::histogram(hll, &mut histogram)?,
        None => return Err(Corrupt),
    }
    Ok(estimate::cardinality(&histogram))
}

/// The estimated cardinality of registers held one per byte (the union
/// PFCOUNT computes for several keys).
pub fn count_registers(max: &[u8; REGISTERS]) -> u64 {
    let mut histogram: Histogram = [0; 64];
    for &value in max {
        histogram[usize::from(value & 63)] += 1;
    }
    estimate::cardinality(&histogram)
}

/// Raises each `max[i]` to register i of `hll` (valid by [`encoding`]).
///
/// # Errors
/// Sparse registers that do not decode.
pub fn merge_into(hll: &[u8], max: &mut [u8; REGISTERS]) -> Result<(), Corrupt> {
    match encoding(hll) {
        Some(Encoding::Dense) => {
            dense::merge_into(&hll[HEADER..], max);
            Ok(())
        }
        Some(Encoding::Sparse) => sparse::merge_into(hll, max),
        None => Err(Corrupt),
    }
}

/// Converts `hll` to the dense encoding (nothing to do when it is),
/// keeping its header as Redis does (the cache included).
///
/// # Errors
/// Sparse registers that do not decode; `hll` is left as it was.
pub fn promote(hll: &mut Vec<u8>) -> Result<(), Corrupt> {
    if encoding(hll) != Some(Encoding::Sparse) {
        return Ok(());
    }
    let registers = sparse::to_dense(hll)?;
    hll.truncate(HEADER);
    hll[4] = 0;
    hll.extend_from_slice(&registers);
    Ok(())
}

/// Raises register `index` to `count`, converting a sparse `hll` to dense
/// when the value does not fit it or it would pass `sparse_max` bytes;
/// true if the register changed.
///
/// # Errors
/// Sparse registers that do not decode.
pub fn set_register(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    if encoding(hll) == Some(Encoding::Sparse) {
        match sparse::set(hll, index, count, sparse_max)? {
            sparse::Set::Unchanged => return Ok(false),
            sparse::Set::Updated => return Ok(true),
            sparse::Set::Promote => promote(hll)?,
        }
    }
    Ok(dense::set_if_greater(&mut hll[HEADER..], index, count))
}

/// Adds `element` to `hll`; true if a register changed.
///
/// # Errors
/// Sparse registers that do not decode.
pub fn add(hll: &mut Vec<u8>, element: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(element);
    set_register(hll, index, count, sparse_max)
}

#[cfg(test)]
mod tests;
