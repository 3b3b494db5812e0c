//! The node's side of the node-to-node wire format
//! ([`ringcache_proto::wire`], where the format and its one decoder live):
//! store snapshots to and from the borrowed key states the format carries.
//! `RCAPPLY` carries one key's state at a version (replication, handoff and
//! repair all use it), `RCEXPORT` pages carry many, `RCHANDOFF` tells a
//! previous owner that a handoff of some slots is complete.

use bytes::BytesMut;
use ringcache_proto::wire::{self, LiveRef, Payload, SnapshotRef};

pub use ringcache_proto::wire::{encode_export, encode_handoff_done};

use crate::protocol::Args;
use crate::store::{HashValue, OwnedValue, Snapshot};

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
    wire::decode_snapshot(fields).ok().map(owned)
}

/// Decodes one export page: the next shard to ask for (-1 after the last)
/// and the entries; `None` when it is malformed.
pub fn decode_page(page: &[u8]) -> Option<(i64, Vec<Snapshot>)> {
    let page = wire::decode_page(page).ok()?;
    let next = match page.next {
        Some(shard) => i64::try_from(shard).ok()?,
        None => -1,
    };
    Some((next, page.entries.into_iter().map(owned).collect()))
}

/// `snapshot` as the wire format borrows it.
fn view(
    snapshot: &Snapshot,
) -> SnapshotRef<'_, impl ExactSizeIterator<Item = (&[u8], &[u8])> + '_> {
    let value = snapshot.value.as_ref().map(|(value, expire_at)| LiveRef {
        expire_at: *expire_at,
        payload: match value {
            OwnedValue::Str(s) => Payload::Str(s),
            OwnedValue::Hash(h) => Payload::Hash(h.iter()),
        },
    });
    SnapshotRef {
        version: snapshot.version,
        key: &snapshot.key,
        value,
    }
}

/// A decoded key state, copied into a store snapshot.
fn owned<'a, H: Iterator<Item = (&'a [u8], &'a [u8])>>(state: SnapshotRef<'a, H>) -> Snapshot {
    let value = state.value.map(|live| {
        let value = match live.payload {
            Payload::Str(s) => OwnedValue::Str(s.to_vec()),
            Payload::Hash(pairs) => {
                let mut hash = HashValue::default();
                for (field, value) in pairs {
                    hash.insert(field, value);
                }
                OwnedValue::Hash(hash)
            }
        };
        (value, live.expire_at)
    });
    Snapshot {
        key: state.key.to_vec(),
        value,
        version: state.version,
    }
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
        vec![
            Snapshot {
                key: b"k".to_vec(),
                value: Some((OwnedValue::Str(b"v".to_vec()), Some(1234))),
                version: 99,
            },
            Snapshot {
                key: b"h".to_vec(),
                value: Some((OwnedValue::Hash(hash), None)),
                version: 7,
            },
            Snapshot {
                key: b"gone".to_vec(),
                value: None,
                version: 8,
            },
        ]
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
