use std::collections::VecDeque;

use super::node::{lp_entry_size, size_class, Node, LP_EMPTY};
use super::*;

fn limits(fill: i64) -> EncodingLimits {
    EncodingLimits {
        list_max_listpack_size: fill,
        ..EncodingLimits::default()
    }
}

fn items(list: &ListValue) -> Vec<Vec<u8>> {
    list.iter().map(<[u8]>::to_vec).collect()
}

/// Checks everything a list must keep true: the walks in both directions
/// and from any start, LINDEX, the counts the quicklist keeps, the blocks'
/// listpack sizes, the heap size and the block bounds.
fn check(list: &ListValue, model: &VecDeque<Vec<u8>>, fill: Fill) {
    assert_eq!(list.len(), model.len());
    let forward = items(list);
    assert_eq!(forward, model.iter().cloned().collect::<Vec<_>>());
    let backward: Vec<Vec<u8>> = list.iter().rev().map(<[u8]>::to_vec).collect();
    assert!(backward.iter().eq(model.iter().rev()));
    for start in [
        0,
        1,
        model.len() / 2,
        model.len().saturating_sub(1),
        model.len(),
    ] {
        let from: Vec<&[u8]> = list.iter_from(start).collect();
        assert!(from
            .iter()
            .copied()
            .eq(model.iter().skip(start).map(Vec::as_slice)));
        assert_eq!(
            list.iter_from(start).len(),
            model.len().saturating_sub(start)
        );
    }
    // Both ends at once meet in the middle without losing an element.
    let mut both = list.iter();
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    while let Some(item) = both.next() {
        head.push(item.to_vec());
        match both.next_back() {
            Some(item) => tail.push(item.to_vec()),
            None => break,
        }
    }
    tail.reverse();
    head.extend(tail);
    assert_eq!(head, forward);
    for (i, item) in model.iter().enumerate().step_by(7) {
        assert_eq!(list.get(i), Some(&item[..]));
    }
    assert_eq!(list.get(model.len()), None);
    match &list.repr {
        Repr::Packed(node) => {
            check_node(node);
            assert_eq!(list.heap_size(), SLOT + node.heap_size());
        }
        Repr::Quick(quick) => {
            let nodes = quick.nodes();
            assert!(nodes.iter().all(|n| !n.is_empty()), "no empty node");
            assert_eq!(nodes.iter().map(Node::len).sum::<usize>(), quick.len());
            nodes.iter().for_each(check_node);
            // Redis's growth checks count new elements' raw bytes, so a
            // block may pass its bound by their listpack overhead; never
            // by twice.
            for node in nodes {
                assert!(
                    node.len() == 1 || !fill.exceeds(node.lp_bytes() / 2, node.len() / 2),
                    "a block over the bound: {} elements, {} bytes",
                    node.len(),
                    node.lp_bytes()
                );
            }
            let heap = SLOT
                + size_class(std::mem::size_of::<Quicklist>())
                + size_class(nodes.capacity() * std::mem::size_of::<Node>())
                + nodes.iter().map(Node::heap_size).sum::<usize>();
            assert_eq!(list.heap_size(), heap);
        }
    }
}

fn check_node(node: &Node) {
    let bytes: usize = node.to_vec().iter().map(|i| lp_entry_size(i)).sum();
    assert_eq!(node.lp_bytes(), LP_EMPTY + bytes);
}

fn random_item(rng: &mut fastrand::Rng) -> Vec<u8> {
    match rng.u8(..6) {
        0 => rng.i64(-100_000..100_000).to_string().into_bytes(),
        1 => vec![rng.u8(..); rng.usize(..200)],
        2 => vec![b'x'; rng.usize(..3000)],
        _ => format!("item-{}", rng.u16(..50)).into_bytes(),
    }
}

/// Random pushes, pops, sets, inserts, removals and trims against a deque,
/// under each kind of bound.
#[test]
fn follows_a_deque_model_under_every_bound() {
    for fill in [-2, -1, -5, 1, 3, 16, 0] {
        let limits = limits(fill);
        let bound = Fill::of(&limits);
        let mut rng = fastrand::Rng::with_seed(fill.unsigned_abs() + 11);
        let mut list = ListValue::default();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for step in 0..3000 {
            let item = random_item(&mut rng);
            let end = if rng.bool() { End::Front } else { End::Back };
            match rng.u8(..12) {
                0..=3 => {
                    let many: Vec<Vec<u8>> = (0..rng.usize(1..4))
                        .map(|_| random_item(&mut rng))
                        .collect();
                    let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
                    list.push(end, &refs, &limits);
                    for m in many {
                        match end {
                            End::Front => model.push_front(m),
                            End::Back => model.push_back(m),
                        }
                    }
                }
                4 | 5 => {
                    let popped = list.pop(end);
                    let expected = match end {
                        End::Front => model.pop_front(),
                        End::Back => model.pop_back(),
                    };
                    assert_eq!(popped, expected);
                }
                6 if !model.is_empty() => {
                    let at = rng.usize(..model.len());
                    assert!(list.set(at, &item, &limits));
                    model[at] = item;
                }
                7 if !model.is_empty() => {
                    let pivot = model[rng.usize(..model.len())].clone();
                    let after = rng.bool();
                    assert!(list.insert_at(&pivot, &item, after, &limits));
                    let at = model.iter().position(|e| *e == pivot).unwrap() + usize::from(after);
                    model.insert(at, item);
                }
                8 if !model.is_empty() => {
                    let target = model[rng.usize(..model.len())].clone();
                    let limit = rng.u64(..3);
                    let from_tail = rng.bool();
                    let removed = list.remove_matching(&target, limit, from_tail, &limits);
                    let mut positions: Vec<usize> = model
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| **e == target)
                        .map(|(i, _)| i)
                        .collect();
                    if limit != 0 {
                        let keep = (limit as usize).min(positions.len());
                        if from_tail {
                            positions.drain(..positions.len() - keep);
                        } else {
                            positions.truncate(keep);
                        }
                    }
                    assert_eq!(removed, positions.len() as u64);
                    for p in positions.iter().rev() {
                        model.remove(*p);
                    }
                }
                9 if !model.is_empty() => {
                    let start = rng.usize(..model.len());
                    let count = rng.usize(..model.len() - start + 2);
                    list.remove_range(start, count);
                    model.drain(start..(start + count).min(model.len()));
                }
                _ => {}
            }
            list.settle(&limits);
            if step % 50 == 0 || model.len() < 5 {
                check(&list, &model, bound);
            }
        }
        check(&list, &model, bound);
    }
}

#[test]
fn a_counted_bound_converts_at_its_count_and_back_at_half() {
    let limits = limits(4);
    let mut list = ListValue::default();
    list.push(End::Back, &[b"a", b"b", b"c", b"d"], &limits);
    assert_eq!(list.encoding(), "listpack");
    list.push(End::Back, &[b"e"], &limits);
    assert_eq!(list.encoding(), "quicklist");
    assert_eq!(list.shape().len(), 2, "the listpack is the first node");
    list.pop(End::Back);
    list.settle(&limits);
    assert_eq!(
        list.encoding(),
        "quicklist",
        "one node of 4 is over half the bound"
    );
    list.pop(End::Front);
    list.settle(&limits);
    assert_eq!(list.encoding(), "quicklist");
    list.pop(End::Front);
    list.settle(&limits);
    assert_eq!(list.encoding(), "listpack", "2 elements: half the bound");
    assert_eq!(items(&list), [b"c".to_vec(), b"d".to_vec()]);
    // LSET counts as an addition: a full listpack converts even though
    // its length does not change, and stays converted (4 > 4 / 2).
    let mut full = ListValue::default();
    full.push(End::Back, &[b"a", b"b", b"c", b"d"], &limits);
    assert!(full.set(0, b"x", &limits));
    full.settle(&limits);
    assert_eq!(full.encoding(), "quicklist");
    // LINSERT converts before looking for its pivot.
    let mut full = ListValue::default();
    full.push(End::Back, &[b"a", b"b", b"c", b"d"], &limits);
    assert!(!full.insert_at(b"missing", b"x", false, &limits));
    assert_eq!(full.encoding(), "quicklist");
}

#[test]
fn a_size_bound_counts_listpack_bytes() {
    let limits = limits(-1);
    // 100 elements of 38 bytes: 40 listpack bytes each, 4007 in all.
    let item = [b'v'; 38];
    let mut list = ListValue::default();
    for _ in 0..100 {
        list.push(End::Back, &[&item[..]], &limits);
    }
    assert_eq!(list.shape(), [(100, 4007)]);
    assert_eq!(list.encoding(), "listpack");
    // 4007 + 89 raw bytes = 4096: still one listpack; one more byte is over.
    let mut edge = list.clone();
    edge.push(End::Back, &[&[b'w'; 89][..]], &limits);
    assert_eq!(edge.encoding(), "listpack");
    list.push(End::Back, &[&[b'w'; 90][..]], &limits);
    assert_eq!(list.encoding(), "quicklist");
    // Shrinking to one node of at most 2048 bytes packs it again.
    assert_eq!(list.pop(End::Back).map(|v| v.len()), Some(90));
    list.settle(&limits);
    assert_eq!(
        list.encoding(),
        "quicklist",
        "one node of 4007 bytes is over half the bound"
    );
    while list.len() > 52 {
        list.pop(End::Front);
        list.settle(&limits);
    }
    assert_eq!(list.shape(), [(52, 2087)]);
    assert_eq!(list.encoding(), "quicklist");
    list.pop(End::Front);
    list.settle(&limits);
    assert_eq!(list.encoding(), "listpack", "51 elements: 2047 bytes");
}

#[test]
fn a_huge_element_makes_a_quicklist_of_its_own() {
    let limits = limits(-2);
    let mut list = ListValue::default();
    list.push(End::Back, &[&vec![b'x'; 10_000][..]], &limits);
    assert_eq!(list.encoding(), "quicklist");
    list.push(End::Front, &[b"small"], &limits);
    assert_eq!(list.shape().len(), 2);
    assert_eq!(list.pop(End::Back).map(|v| v.len()), Some(10_000));
    list.settle(&limits);
    assert_eq!(list.encoding(), "listpack");
}

#[test]
fn long_lists_keep_their_end_blocks_facing_out() {
    let limits = limits(-2);
    let mut list = ListValue::default();
    for i in 0..20_000u32 {
        let item = i.to_string();
        list.push(End::Back, &[item.as_bytes()], &limits);
    }
    let Repr::Quick(quick) = &list.repr else {
        panic!("a quicklist");
    };
    assert!(quick.nodes().len() > 5, "{} nodes", quick.nodes().len());
    assert!(quick.nodes().back().is_some_and(Node::is_reversed));
    assert_eq!(list.get(0), Some(&b"0"[..]));
    assert_eq!(list.get(19_999), Some(&b"19999"[..]));
    assert_eq!(list.iter().next_back(), Some(&b"19999"[..]));
    for i in (0..20_000u32).rev().take(5000) {
        assert_eq!(list.pop(End::Back), Some(i.to_string().into_bytes()));
    }
    for i in 0..5000u32 {
        assert_eq!(list.pop(End::Front), Some(i.to_string().into_bytes()));
    }
    assert_eq!(list.len(), 10_000);
}

#[test]
fn built_lists_match_pushed_ones() {
    let limits = EncodingLimits::default();
    let words: Vec<String> = (0..5000).map(|i| format!("w{i}")).collect();
    let built: ListValue = words.iter().map(|w| w.as_bytes()).collect();
    let mut pushed = ListValue::default();
    for w in &words {
        pushed.push(End::Back, &[w.as_bytes()], &limits);
    }
    assert_eq!(built, pushed);
    assert_eq!(built.encoding(), "quicklist");
    let small: ListValue = [&b"a"[..], b"b"].into_iter().collect();
    assert_eq!(small.encoding(), "listpack");
    let empty: ListValue = std::iter::empty().collect();
    assert!(empty.is_empty());
}

#[test]
fn listpack_sizes_are_redis_listpack_sizes() {
    let cases: [(&[u8], usize); 10] = [
        (b"0", 2),
        (b"127", 2),
        (b"128", 3),
        (b"-4096", 3),
        (b"32767", 4),
        (b"9223372036854775807", 10),
        (b"007", 5),
        (b"abc", 5),
        (&[b'x'; 63], 65),
        (&[b'x'; 127], 131),
    ];
    for (item, size) in cases {
        assert_eq!(
            lp_entry_size(item),
            size,
            "{:?}",
            String::from_utf8_lossy(item)
        );
    }
    assert_eq!(lp_entry_size(&[b'x'; 64]), 67);
    assert_eq!(lp_entry_size(&[b'x'; 5000]), 5007);
    assert_eq!(lp_entry_size(b""), 2);
    assert_eq!(lp_entry_size(b"-0"), 4);
    let classes = [
        (1, 8),
        (9, 16),
        (17, 32),
        (100, 112),
        (129, 160),
        (257, 320),
        (4097, 5120),
        (8193, 10240),
        (14337, 16384),
    ];
    for (n, class) in classes {
        assert_eq!(size_class(n), class, "{n}");
    }
}
