//! Counting, searching and combining against bit-by-bit definitions.

use super::*;

fn bit(bytes: &[u8], i: u64) -> bool {
    bytes
        .get((i >> 3) as usize)
        .is_some_and(|b| b & (0x80 >> (i & 7)) != 0)
}

#[test]
fn ranges_resolve_like_redis() {
    // "foobar": 6 bytes, 48 bits.
    assert_eq!(resolve(0, -1, 6, Unit::Byte), Some((0, 47)));
    assert_eq!(resolve(1, 1, 6, Unit::Byte), Some((8, 15)));
    assert_eq!(resolve(5, 30, 6, Unit::Bit), Some((5, 30)));
    assert_eq!(resolve(-3, -1, 6, Unit::Bit), Some((45, 47)));
    assert_eq!(resolve(-100, 100, 6, Unit::Byte), Some((0, 47)));
    assert_eq!(resolve(3, 2, 6, Unit::Byte), None);
    assert_eq!(resolve(0, -1, 0, Unit::Byte), None);
    assert_eq!(resolve(i64::MIN, i64::MAX, 6, Unit::Bit), Some((0, 47)));
    assert_eq!(resolve(i64::MAX, i64::MAX, 6, Unit::Byte), None);
}

#[test]
fn counts_and_positions_agree_with_single_bits() {
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..300 {
        let len = rng.usize(1..40);
        let fill = rng.u8(..3);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match fill {
                0 => rng.u8(..),
                1 => *rng.choice(&[0u8, 0xff, 0x10]).unwrap(),
                _ => 0,
            })
            .collect();
        let total = (len as u64) * 8;
        let from = rng.u64(..total);
        let to = rng.u64(from..total);
        let expected = (from..=to).filter(|&i| bit(&bytes, i)).count() as u64;
        assert_eq!(count_range(&bytes, from, to), expected);
        for wanted in [false, true] {
            let expected = (from..=to).find(|&i| bit(&bytes, i) == wanted);
            assert_eq!(
                position(&bytes, from, to, wanted),
                expected,
                "{bytes:?} {from} {to}"
            );
        }
    }
    assert_eq!(popcount(b"foobar"), 26);
}

fn combine(op: Op, sources: &[&[u8]]) -> Vec<u8> {
    let mut result = Combine::new(op);
    for source in sources {
        result.push(source);
    }
    result.finish()
}

#[test]
fn operations_pad_short_sources_with_zeros() {
    let a: &[u8] = b"\xff\x0f\xf0";
    let b: &[u8] = b"\x0f";
    assert_eq!(combine(Op::And, &[a, b]), [0x0f, 0, 0]);
    assert_eq!(combine(Op::Or, &[b, a]), [0xff, 0x0f, 0xf0]);
    assert_eq!(combine(Op::Xor, &[a, b, b]), a);
    assert_eq!(combine(Op::Not, &[b]), [0xf0]);
    assert_eq!(combine(Op::And, &[b, b"", a]), [0, 0, 0]);
    assert!(combine(Op::Or, &[b"", b""]).is_empty());
}
