//! The node's side of the node-to-node wire format
//! ([`ringcache_proto::wire`], where the format and its one decoder live):
//! store snapshots to and from the borrowed key states the format carries.
//! `RCAPPLY` carries one key's state at a version (replication, handoff and
//! repair all use it), `RCEXPORT` pages carry many, `RCHANDOFF` tells a
//! previous owner that a handoff of some slots is complete.

use std::borrow::Cow;

use bytes::BytesMut;
use ringcache_proto::wire::{self, CollectionKind, LiveRef, Payload, SnapshotRef};

pub use ringcache_proto::wire::{encode_export, encode_handoff_done};

use crate::protocol::Args;
use crate::store::{Collection, HashValue, ListValue, OwnedValue, SetValue, Snapshot, SortedSet};

/// Appends the `RCAPPLY` command for `snapshot` to `out`.
pub fn encode_apply(out: &mut BytesMut, snapshot: &Snapshot) {
    wire::encode_apply(out, view(snapshot));
}

/// Encodes one export page: `[next shard or -1, entry, ...]`, each entry
/// the fields of an `RCAPPLY`.
pub fn encode_page(out: &mut BytesMut, next: i64, entries: &[Snapshot]) {
    wire::encode_page(out, u64::try_from(next).ok(), entries.iter().map(view));
}

/// Decodes the arguments of `RCAPPLY` (the command name at 0); `None` when
/// they are malformed.
pub fn decode_apply(args: Args<'_>) -> Option<Snapshot> {
    let fields = Fields { args, next: 1 };
    wire::decode_snapshot(fields).ok().and_then(owned)
}

/// Decodes one export page: the next shard to ask for (-1 after the last)
/// and the entries; `None` when it is malformed.
pub fn decode_page(page: &[u8]) -> Option<(i64, Vec<Snapshot>)> {
    let page = wire::decode_page(page).ok()?;
    let next = match page.next {
        Some(shard) => i64::try_from(shard).ok()?,
        None => -1,
    };
    let entries = page.entries.into_iter().map(owned).collect::<Option<_>>()?;
    Some((next, entries))
}

/// The fields of a collection, flat, as the wire format carries them.
type FlatFields<'a> = std::vec::IntoIter<Cow<'a, [u8]>>;

/// `snapshot` as the wire format borrows it.
fn view(snapshot: &Snapshot) -> SnapshotRef<'_, FlatFields<'_>> {
    let value = snapshot.value.as_ref().map(|(value, expire_at)| LiveRef {
        expire_at: *expire_at,
        payload: match value {
            OwnedValue::Str(s) => Payload::Str(s),
            OwnedValue::Collection(c) => {
                let (kind, fields) = flatten(c);
                Payload::Collection(kind, fields.into_iter())
            }
        },
    });
    SnapshotRef {
        version: snapshot.version,
        key: &snapshot.key,
        value,
    }
}

fn flatten(collection: &Collection) -> (CollectionKind, Vec<Cow<'_, [u8]>>) {
    fn borrowed(item: &[u8]) -> Cow<'_, [u8]> {
        Cow::Borrowed(item)
    }
    match collection {
        Collection::Hash(h) => (
            CollectionKind::Hash,
            h.iter()
                .flat_map(|(f, v)| [borrowed(f), borrowed(v)])
                .collect(),
        ),
        Collection::List(l) => (CollectionKind::List, l.iter().map(borrowed).collect()),
        Collection::Set(s) => (
            CollectionKind::Set,
            s.iter().map(|m| m.into_cow()).collect(),
        ),
        Collection::ZSet(z) => (
            CollectionKind::ZSet,
            z.iter()
                // `{:e}` is the shortest text that reads back to the same
                // double, without the hundreds of digits `{}` prints for 1e300.
                .flat_map(|(m, score)| [borrowed(m), Cow::Owned(format!("{score:e}").into_bytes())])
                .collect(),
        ),
    }
}

/// A decoded key state, copied into a store snapshot; `None` when a sorted
/// set's score is not a number, or for an empty collection (a store never
/// holds one, and the commands count on that: HRANDFIELD, ZRANDMEMBER).
fn owned<'a, H: Iterator<Item = &'a [u8]>>(state: SnapshotRef<'a, H>) -> Option<Snapshot> {
    let value = match state.value {
        None => None,
        Some(live) => {
            let value = match live.payload {
                Payload::Str(s) => OwnedValue::Str(s.to_vec()),
                Payload::Collection(kind, fields) => OwnedValue::Collection(
                    rebuild(kind, fields).filter(|collection| !collection.is_empty())?,
                ),
            };
            Some((value, live.expire_at))
        }
    };
    Some(Snapshot {
        key: state.key.to_vec(),
        value,
        version: state.version,
    })
}

fn rebuild<'a>(
    kind: CollectionKind,
    mut fields: impl Iterator<Item = &'a [u8]>,
) -> Option<Collection> {
    Some(match kind {
        CollectionKind::Hash => {
            let pairs = std::iter::from_fn(|| Some((fields.next()?, fields.next()?)));
            Collection::Hash(HashValue::build(pairs))
        }
        CollectionKind::List => Collection::List(fields.collect::<ListValue>()),
        CollectionKind::Set => {
            let mut set = SetValue::default();
            fields.for_each(|member| {
                set.insert(member);
            });
            Collection::Set(set)
        }
        CollectionKind::ZSet => {
            let mut pairs = Vec::with_capacity(fields.size_hint().0 / 2);
            while let (Some(member), Some(score)) = (fields.next(), fields.next()) {
                let score: f64 = std::str::from_utf8(score).ok()?.parse().ok()?;
                if score.is_nan() {
                    return None;
                }
                pairs.push((member, score));
            }
            // Built in one go: inserting one by one into the compact
            // encoding would copy it for every member.
            Collection::ZSet(SortedSet::from_pairs(pairs))
        }
    })
}

/// A request's arguments from `next` on, as the decoder reads fields.
struct Fields<'a> {
    args: Args<'a>,
    next: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let field = self.args.try_get(self.next)?;
        self.next += 1;
        Some(field)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.args.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Fields<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Limits, RequestParser};

    fn samples() -> Vec<Snapshot> {
        let mut hash = HashValue::default();
        hash.insert(b"f1", b"a");
        hash.insert(b"f2", b"");
        let mut list = ListValue::default();
        for item in [&b"x"[..], b"", b"x"] {
            list.push_back(item);
        }
        let mut set = SetValue::default();
        set.insert(b"m");
        set.insert(b"123");
        let mut zset = SortedSet::default();
        for (member, score) in [
            (&b"a"[..], 1.5),
            (b"b", f64::NEG_INFINITY),
            (b"c", 1e300),
            (b"d", 0.1),
        ] {
            zset.insert(member, score);
        }
        let collections = [
            Collection::Hash(hash),
            Collection::List(list),
            Collection::Set(set),
            Collection::ZSet(zset),
        ];
        let mut samples = vec![Snapshot {
            key: b"k".to_vec(),
            value: Some((OwnedValue::Str(b"v".to_vec()), Some(1234))),
            version: 99,
        }];
        for (i, collection) in collections.into_iter().enumerate() {
            samples.push(Snapshot {
                key: format!("c{i}").into_bytes(),
                value: Some((OwnedValue::Collection(collection), None)),
                version: 7 + i as u64,
            });
        }
        samples.push(Snapshot {
            key: b"gone".to_vec(),
            value: None,
            version: 8,
        });
        samples
    }

    #[test]
    fn snapshots_survive_rcapply() {
        for snapshot in samples() {
            let mut out = BytesMut::new();
            encode_apply(&mut out, &snapshot);
            let mut parser = RequestParser::new(Limits::default());
            let used = parser.parse(&out).unwrap().unwrap();
            assert_eq!(used, out.len());
            assert_eq!(decode_apply(parser.args(&out)), Some(snapshot));
        }
    }

    #[test]
    fn pages_round_trip() {
        let entries = samples();
        for next in [3, -1] {
            let mut out = BytesMut::new();
            encode_page(&mut out, next, &entries);
            assert_eq!(decode_page(&out), Some((next, entries.clone())));
        }
        assert_eq!(decode_page(b"*1\r\n:-2\r\n"), None);
    }

    #[test]
    fn malformed_rcapply_is_refused() {
        let mut out = BytesMut::new();
        ringcache_proto::resp::write_command(&mut out, &["RCAPPLY", "1", "k", "0", "s"]);
        let mut parser = RequestParser::new(Limits::default());
        parser.parse(&out).unwrap().unwrap();
        assert_eq!(decode_apply(parser.args(&out)), None);
    }
}
