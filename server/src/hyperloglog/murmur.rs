//! MurmurHash64A, the 64-bit MurmurHash2 that Redis hashes HyperLogLog
//! elements with: an element must land on the same register with the same
//! run length as in Redis for the registers (and so the bytes) to agree.

/// Redis's seed for HyperLogLog elements.
pub const SEED: u32 = 0xadc8_3b19;

const M: u64 = 0xc6a4_a793_5bd1_e995;
const R: u32 = 47;

/// MurmurHash64A of `data` with `seed`, reading 8-byte blocks little
/// endian (Redis's endian-neutral variant, the same on every machine).
pub fn hash64a(data: &[u8], seed: u32) -> u64 {
    // Redis passes the length as a C int; an element is far below 2 GiB
    // (proto-max-bulk-len), so the conversion keeps its value.
    let mut h = u64::from(seed) ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut word = [0u8; 8];
        word.copy_from_slice(block);
        let mut k = u64::from_le_bytes(word).wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u64::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_bytes_and_blocks_both_count() {
        // Different lengths and contents give different hashes, and the
        // hash is a pure function of the bytes.
        let a = hash64a(b"", SEED);
        let b = hash64a(b"a", SEED);
        let c = hash64a(b"abcdefgh", SEED);
        let d = hash64a(b"abcdefghi", SEED);
        assert_ne!(a, b);
        assert_ne!(c, d);
        assert_eq!(d, hash64a(b"abcdefghi", SEED));
        assert_ne!(hash64a(b"a", SEED), hash64a(b"a", 0));
    }
}
