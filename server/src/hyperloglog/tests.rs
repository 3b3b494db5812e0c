//! The HyperLogLog format against bytes and counts taken from
//! redis-server 7, and the sparse encoding's edge cases.

use super::*;

const MAX: usize = DEFAULT_SPARSE_MAX_BYTES as usize;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn built(elements: impl IntoIterator<Item = String>, sparse_max: usize) -> Vec<u8> {
    let mut hll = new_sparse();
    for element in elements {
        add(&mut hll, element.as_bytes(), sparse_max).unwrap();
    }
    invalidate(&mut hll);
    hll
}

#[test]
fn three_elements_give_redis_s_bytes() {
    // redis-server: PFADD x a b c; GET x
    let expected = hex("48594c4c01000000000000000000008060f38050b1844bfb80425a");
    let hll = built(["a", "b", "c"].map(String::from), MAX);
    assert_eq!(hll, expected);
    assert_eq!(count(&hll), Ok(3));
    assert_eq!(cached(&hll), None);
    let mut cached_copy = hll.clone();
    cached_copy[CACHE_AT..HEADER].copy_from_slice(&cache_bytes(3));
    assert_eq!(cached(&cached_copy), Some(3));
}

#[test]
fn counts_match_redis_across_the_switch_to_dense() {
    // redis-server: PFADD y e0 .. e999 -> 1008 (1906 bytes, sparse);
    // e0 .. e4999 -> 4968 (dense).
    let first = built((0..1000).map(|i| format!("e{i}")), MAX);
    assert_eq!(encoding(&first), Some(Encoding::Sparse));
    assert_eq!(first.len(), 1906);
    assert_eq!(count(&first), Ok(1008));
    let all = built((0..5000).map(|i| format!("e{i}")), MAX);
    assert_eq!(encoding(&all), Some(Encoding::Dense));
    assert_eq!(all.len(), DENSE_LEN);
    assert_eq!(count(&all), Ok(4968));
    // The union of registers gives the same count as the HyperLogLog.
    let mut max = [0u8; REGISTERS];
    merge_into(&first, &mut max).unwrap();
    merge_into(&all, &mut max).unwrap();
    assert_eq!(count_registers(&max), 4968);
}

#[test]
fn only_redis_s_strings_are_hyperloglogs() {
    let empty = new_sparse();
    assert_eq!(empty.len(), HEADER + 2);
    assert_eq!(&empty[HEADER..], [0x7f, 0xff]);
    assert_eq!(encoding(&empty), Some(Encoding::Sparse));
    assert_eq!(count(&empty), Ok(0));
    assert_eq!(encoding(b"HYLL"), None);
    assert_eq!(encoding(b"HYLLxxxxxxxxxxxxxxxx"), None);
    let mut dense = empty.clone();
    promote(&mut dense).unwrap();
    assert_eq!(encoding(&dense), Some(Encoding::Dense));
    dense.push(0);
    assert_eq!(encoding(&dense), None);
    let mut unknown = empty;
    unknown[4] = 2;
    assert_eq!(encoding(&unknown), None);
}

#[test]
fn sparse_updates_split_and_merge_opcodes_as_redis() {
    let mut hll = new_sparse();
    // XZERO:16384 split around register 1000.
    assert_eq!(set_register(&mut hll, 1000, 2, MAX), Ok(true));
    assert_eq!(&hll[HEADER..], [0x43, 0xe7, 0x84, 0x7c, 0x16]);
    // The neighbour with the same value merges into VAL:2,2.
    assert_eq!(set_register(&mut hll, 1001, 2, MAX), Ok(true));
    assert_eq!(&hll[HEADER..], [0x43, 0xe7, 0x85, 0x7c, 0x15]);
    // Lower or equal: unchanged.
    assert_eq!(set_register(&mut hll, 1001, 1, MAX), Ok(false));
    // Splitting a VAL run.
    assert_eq!(set_register(&mut hll, 1001, 3, MAX), Ok(true));
    assert_eq!(&hll[HEADER..], [0x43, 0xe7, 0x84, 0x88, 0x7c, 0x15]);
    // A count above 32 does not fit: dense.
    assert_eq!(set_register(&mut hll, 5, 33, MAX), Ok(true));
    assert_eq!(encoding(&hll), Some(Encoding::Dense));
    assert_eq!(dense::get(&hll[HEADER..], 1000), 2);
    assert_eq!(dense::get(&hll[HEADER..], 1001), 3);
    assert_eq!(dense::get(&hll[HEADER..], 5), 33);
}

#[test]
fn a_small_sparse_limit_promotes_early() {
    let mut hll = new_sparse();
    assert_eq!(set_register(&mut hll, 1000, 2, 21), Ok(true));
    assert_eq!(hll.len(), 21);
    // A split that would grow past 21 bytes promotes instead.
    assert_eq!(set_register(&mut hll, 3000, 1, 21), Ok(true));
    assert_eq!(encoding(&hll), Some(Encoding::Dense));
}

#[test]
fn corrupt_sparse_registers_are_reported() {
    // The opcodes cover fewer than 16384 registers.
    let mut short = new_sparse();
    short[HEADER] = 0x40;
    assert_eq!(count(&short), Err(Corrupt));
    let mut max = [0u8; REGISTERS];
    assert_eq!(merge_into(&short, &mut max), Err(Corrupt));
    let before = short.clone();
    assert_eq!(promote(&mut short), Err(Corrupt));
    assert_eq!(short, before);
    assert_eq!(set_register(&mut short, 16000, 1, MAX), Err(Corrupt));
    // No opcodes at all.
    let header_only = new_sparse()[..HEADER].to_vec();
    assert_eq!(
        set_register(&mut header_only.clone(), 0, 1, MAX),
        Err(Corrupt)
    );
    assert_eq!(count(&header_only), Err(Corrupt));
}

#[test]
fn an_xzero_cut_by_the_end_is_split_as_redis_does() {
    // 0x7f alone: an XZERO whose second byte is missing (read as zero:
    // 16129 registers). Redis writes XZERO:100 VAL XZERO over it and keeps
    // one byte less than it wrote.
    let mut hll = new_sparse();
    hll.pop();
    assert_eq!(set_register(&mut hll, 100, 1, MAX), Ok(true));
    assert_eq!(&hll[HEADER..], [0x40, 0x63, 0x80, 0x7e]);
    assert_eq!(count(&hll), Err(Corrupt));
}

#[test]
fn patterns_stay_in_range() {
    for i in 0..10_000 {
        let (index, count) = pattern(format!("x{i}").as_bytes());
        assert!(index < REGISTERS);
        assert!((1..=51).contains(&count));
    }
}

#[test]
fn mutated_values_never_panic() {
    let mut rng = fastrand::Rng::with_seed(19);
    let base = built((0..300).map(|i| format!("m{i}")), MAX);
    for round in 0..3000 {
        let mut value = base.clone();
        for _ in 0..rng.usize(1..5) {
            let at = rng.usize(HEADER..=value.len());
            match rng.u8(..4) {
                0 if at < value.len() => {
                    value.remove(at);
                }
                1 => value.insert(at, rng.u8(..)),
                2 if at < value.len() => value[at] = rng.u8(..),
                _ => value.truncate(at),
            }
        }
        if encoding(&value).is_none() {
            continue;
        }
        let _ = count(&value);
        let mut max = [0u8; REGISTERS];
        let _ = merge_into(&value, &mut max);
        let sparse_max = if round % 2 == 0 { MAX } else { 40 };
        for i in 0..20 {
            let _ = add(&mut value, format!("n{round}-{i}").as_bytes(), sparse_max);
        }
        let _ = count(&value);
        let _ = promote(&mut value);
    }
}
