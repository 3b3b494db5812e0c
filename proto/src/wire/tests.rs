//! Round trips and refusals of the node wire format.

use bytes::BytesMut;

use super::*;

/// An owned snapshot, to build borrowed ones from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Deleted,
    Str(Vec<u8>, Option<u64>),
    Collection(CollectionKind, Vec<Vec<u8>>, Option<u64>),
}

type FieldIter<'a> = std::slice::Iter<'a, Vec<u8>>;

fn view<'a>(version: u64, key: &'a [u8], owned: &'a Owned) -> SnapshotRef<'a, FieldIter<'a>> {
    let value = match owned {
        Owned::Deleted => None,
        Owned::Str(v, expire_at) => Some(LiveRef {
            expire_at: *expire_at,
            payload: Payload::Str(v),
        }),
        Owned::Collection(kind, fields, expire_at) => Some(LiveRef {
            expire_at: *expire_at,
            payload: Payload::Collection(*kind, fields.iter()),
        }),
    };
    SnapshotRef {
        version,
        key,
        value,
    }
}

fn own<'a, H: Iterator<Item = &'a [u8]>>(s: SnapshotRef<'a, H>) -> (u64, Vec<u8>, Owned) {
    let owned = match s.value {
        None => Owned::Deleted,
        Some(LiveRef {
            expire_at,
            payload: Payload::Str(v),
        }) => Owned::Str(v.to_vec(), expire_at),
        Some(LiveRef {
            expire_at,
            payload: Payload::Collection(kind, fields),
        }) => Owned::Collection(kind, fields.map(<[u8]>::to_vec).collect(), expire_at),
    };
    (s.version, s.key.to_vec(), owned)
}

fn fields(items: &[&[u8]]) -> Vec<Vec<u8>> {
    items.iter().map(|i| i.to_vec()).collect()
}

fn samples() -> Vec<(u64, Vec<u8>, Owned)> {
    vec![
        (99, b"k".to_vec(), Owned::Str(b"v".to_vec(), Some(1234))),
        (1, b"".to_vec(), Owned::Str(Vec::new(), None)),
        (
            7,
            b"h".to_vec(),
            Owned::Collection(
                CollectionKind::Hash,
                fields(&[b"f1", b"a", b"f2", b""]),
                None,
            ),
        ),
        (
            u64::MAX,
            b"e".to_vec(),
            Owned::Collection(CollectionKind::Hash, Vec::new(), Some(5)),
        ),
        (
            4,
            b"l".to_vec(),
            Owned::Collection(CollectionKind::List, fields(&[b"a", b"", b"a"]), None),
        ),
        (
            5,
            b"t".to_vec(),
            Owned::Collection(CollectionKind::Set, fields(&[b"1", b"x"]), Some(9)),
        ),
        (
            6,
            b"z".to_vec(),
            Owned::Collection(
                CollectionKind::ZSet,
                fields(&[b"m", b"1.5", b"n", b"-inf"]),
                None,
            ),
        ),
        (8, b"gone".to_vec(), Owned::Deleted),
        (
            3,
            b"bin\r\n\0".to_vec(),
            Owned::Str(b"\r\n$3\r\n".to_vec(), Some(u64::MAX)),
        ),
    ]
}

/// The command's arguments after its name, as the node's parser gives them.
fn arguments(command: &[u8]) -> Vec<Vec<u8>> {
    let (value, used) = resp::decode(command).expect("valid").expect("whole");
    assert_eq!(used, command.len());
    let resp::Value::Array(items) = value else {
        panic!("not an array")
    };
    items
        .into_iter()
        .map(|i| match i {
            resp::Value::Bulk(b) => b,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn snapshots_survive_rcapply() {
    for (version, key, owned) in samples() {
        let mut out = BytesMut::new();
        encode_apply(&mut out, view(version, &key, &owned));
        let args = arguments(&out);
        assert_eq!(args[0], APPLY);
        let decoded = decode_snapshot(args[1..].iter().map(Vec::as_slice)).expect("valid");
        assert_eq!(own(decoded), (version, key, owned));
    }
}

#[test]
fn pages_round_trip() {
    let samples = samples();
    for next in [Some(3), None, Some(0)] {
        let mut out = BytesMut::new();
        let entries = samples.iter().map(|(v, k, o)| view(*v, k, o));
        encode_page(&mut out, next, entries);
        let page = decode_page(&out).expect("valid page");
        assert_eq!(page.next, next);
        let decoded: Vec<_> = page.entries.into_iter().map(own).collect();
        assert_eq!(decoded, samples);
    }
    let mut empty = BytesMut::new();
    encode_page(
        &mut empty,
        None,
        std::iter::empty::<SnapshotRef<'_, FieldIter<'_>>>(),
    );
    assert!(decode_page(&empty).expect("valid").entries.is_empty());
}

#[test]
fn other_commands_are_encoded() {
    let mut out = BytesMut::new();
    encode_export(&mut out, 4, &[1, 16383]);
    assert_eq!(arguments(&out), [&b"RCEXPORT"[..], b"4", b"1", b"16383"]);
    let mut out = BytesMut::new();
    encode_handoff_done(&mut out, &[7]);
    assert_eq!(arguments(&out), [&b"RCHANDOFF"[..], b"7"]);
}

#[test]
fn malformed_states_are_refused() {
    let bad: &[&[&[u8]]] = &[
        &[],
        &[b"1", b"k", b"0"],
        &[b"1", b"k", b"0", b"s"],
        &[b"1", b"k", b"0", b"s", b"v", b"extra"],
        &[b"1", b"k", b"0", b"d", b"extra"],
        &[b"1", b"k", b"5", b"d"],
        &[b"1", b"k", b"0", b"h", b"field"],
        &[b"1", b"k", b"0", b"z", b"member"],
        &[b"1", b"k", b"0", b"x", b"v"],
        &[b"+1", b"k", b"0", b"s", b"v"],
        &[b"-1", b"k", b"0", b"s", b"v"],
        &[b"", b"k", b"0", b"s", b"v"],
        &[b"1 ", b"k", b"0", b"s", b"v"],
        &[b"18446744073709551616", b"k", b"0", b"s", b"v"],
        &[b"1", b"k", b"0x10", b"s", b"v"],
    ];
    for fields in bad {
        assert!(
            decode_snapshot(fields.iter().copied()).is_err(),
            "{fields:?}"
        );
    }
}

#[test]
fn malformed_pages_are_refused_without_panics() {
    let samples = samples();
    let mut out = BytesMut::new();
    encode_page(
        &mut out,
        Some(1),
        samples.iter().map(|(v, k, o)| view(*v, k, o)),
    );
    let page = out.to_vec();
    for cut in 0..page.len() {
        assert!(decode_page(&page[..cut]).is_err(), "prefix of {cut} bytes");
    }
    let mut trailing = page.clone();
    trailing.extend_from_slice(b"+x\r\n");
    assert!(decode_page(&trailing).is_err());
    // Every single-byte change is refused or read as some valid page; none
    // panics.
    for at in 0..page.len() {
        for byte in [b'0', b'9', b'*', b'$', b':', b'-', b'\r', b'x', 0xff] {
            let mut mutated = page.clone();
            mutated[at] = byte;
            let _ = decode_page(&mutated);
        }
    }
    // Empty, counts beyond the bytes, bad next shards, entries of the wrong
    // shape or type, nil, nothing.
    let hostile = [
        "*0\r\n",
        "*4294967295\r\n:1\r\n",
        "*2\r\n:1\r\n*4294967295\r\n",
        "*2\r\n:1\r\n*4\r\n$99999999999\r\n",
        "*1\r\n:-2\r\n|*1\r\n:1x\r\n|*1\r\n+1\r\n",
        "*2\r\n:1\r\n*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n",
        "*2\r\n:1\r\n*4\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nq\r\n",
        "*-1\r\n|",
    ];
    for input in hostile.iter().flat_map(|group| group.split('|')) {
        assert!(decode_page(input.as_bytes()).is_err(), "{input:?}");
    }
}

#[test]
fn effects_round_trip_and_malformed_ones_are_refused() {
    let keys = [
        EffectKey {
            key: b"src",
            before: 7,
            after: 9,
        },
        EffectKey {
            key: b"dst",
            before: 0,
            after: 9,
        },
    ];
    let commands: [&[&[u8]]; 2] = [
        &[b"LMOVE", b"src", b"dst", b"LEFT", b"RIGHT"],
        &[b"PERSIST", b"dst"],
    ];
    let mut out = BytesMut::new();
    encode_effect(
        &mut out,
        &keys,
        commands.iter().map(|c| (c.len(), c.iter().copied())),
    );
    let args = arguments(&out);
    let fields: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    assert_eq!(fields[0], EFFECT);
    let decoded = decode_effect(&fields).expect("an effect");
    assert_eq!(decoded.keys, keys);
    let back: Vec<&[&[u8]]> = decoded
        .commands
        .iter()
        .map(|r| &fields[r.clone()])
        .collect();
    assert_eq!(back, commands);
    let malformed: [&[&[u8]]; 6] = [
        &[EFFECT, b"0", b"GET", b"k"],
        // A count that wraps `at + count` round to a small number.
        &[
            EFFECT,
            b"1",
            b"k",
            b"0",
            b"1",
            b"18446744073709551615",
            b"x",
        ],
        &[
            EFFECT, b"3", b"a", b"1", b"2", b"b", b"1", b"2", b"c", b"1", b"2", b"1", b"PING",
        ],
        &[EFFECT, b"1", b"k", b"x", b"2", b"1", b"PING"],
        &[EFFECT, b"1", b"k", b"1", b"2"],
        &[EFFECT, b"1", b"k", b"1", b"2", b"3", b"RPUSH", b"k"],
    ];
    for fields in malformed {
        assert!(decode_effect(fields).is_err(), "{fields:?}");
    }
}
