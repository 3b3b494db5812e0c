//! The internal commands nodes send each other, encoded and decoded in one
//! place: `RCAPPLY` carries one key's state at a version (replication,
//! handoff and repair all use it), `RCHANDOFF` tells a new owner that a
//! handoff of some slots is complete.
//!
//! ```text
//! RCAPPLY <version> <key> <expire-at-ms, 0 for none> s <value>
//! RCAPPLY <version> <key> <expire-at-ms, 0 for none> h <field> <value> ...
//! RCAPPLY <version> <key> 0 d                       (deleted)
//! RCEXPORT <shard> <slot> [<slot> ...]  -> [next shard or -1, [fields]...]
//! RCHANDOFF <slot> [<slot> ...]
//! ```

use bytes::BytesMut;
use ringcache_client::resp;

use crate::protocol::Args;
use crate::store::{HashValue, OwnedValue, Snapshot};

/// Appends the `RCAPPLY` command for `snapshot` to `out`.
pub fn encode_apply(out: &mut BytesMut, snapshot: &Snapshot) {
    encode_state(out, snapshot, Some(b"RCAPPLY"));
}

/// Appends `snapshot` as an array of its fields (an `RCAPPLY` without the
/// command name: an entry of an export page).
pub fn encode_entry(out: &mut BytesMut, snapshot: &Snapshot) {
    encode_state(out, snapshot, None);
}

fn encode_state(out: &mut BytesMut, snapshot: &Snapshot, name: Option<&[u8]>) {
    let mut version = itoa::Buffer::new();
    let mut expire = itoa::Buffer::new();
    let named = usize::from(name.is_some());
    let fields = match &snapshot.value {
        None => 4,
        Some((OwnedValue::Str(_), _)) => 5,
        Some((OwnedValue::Hash(h), _)) => 4 + 2 * h.len(),
    };
    resp::write_len(out, b'*', (named + fields) as i64);
    if let Some(name) = name {
        resp::write_bulk(out, name);
    }
    resp::write_bulk(out, version.format(snapshot.version).as_bytes());
    resp::write_bulk(out, &snapshot.key);
    match &snapshot.value {
        None => {
            resp::write_bulk(out, b"0");
            resp::write_bulk(out, b"d");
        }
        Some((value, expire_at)) => {
            resp::write_bulk(out, expire.format(expire_at.unwrap_or(0)).as_bytes());
            match value {
                OwnedValue::Str(s) => {
                    resp::write_bulk(out, b"s");
                    resp::write_bulk(out, s);
                }
                OwnedValue::Hash(h) => {
                    resp::write_bulk(out, b"h");
                    for (field, value) in h.iter() {
                        resp::write_bulk(out, field);
                        resp::write_bulk(out, value);
                    }
                }
            }
        }
    }
}

/// Appends `RCEXPORT <shard> <slot>...`: one page (a shard of the source)
/// of the entries of `slots`.
pub fn encode_export(out: &mut BytesMut, shard: u64, slots: &[u16]) {
    resp::write_len(out, b'*', 2 + slots.len() as i64);
    resp::write_bulk(out, b"RCEXPORT");
    let mut number = itoa::Buffer::new();
    resp::write_bulk(out, number.format(shard).as_bytes());
    for slot in slots {
        resp::write_bulk(out, number.format(*slot).as_bytes());
    }
}

/// Decodes the arguments of `RCAPPLY` (the command name at 0).
pub fn decode_apply(args: Args<'_>) -> Option<Snapshot> {
    let version = parse_u64(args.try_get(1)?)?;
    let key = args.try_get(2)?.to_vec();
    let expire = parse_u64(args.try_get(3)?)?;
    let expire = (expire != 0).then_some(expire);
    let value = match args.try_get(4)? {
        b"d" if args.len() == 5 => None,
        b"s" if args.len() == 6 => Some((OwnedValue::Str(args.get(5).to_vec()), expire)),
        b"h" if args.len() % 2 == 1 => {
            let mut hash = HashValue::default();
            let mut fields = args.iter_from(5);
            while let (Some(field), Some(value)) = (fields.next(), fields.next()) {
                hash.insert(field, value);
            }
            Some((OwnedValue::Hash(hash), expire))
        }
        _ => return None,
    };
    Some(Snapshot {
        key,
        value,
        version,
    })
}

/// Appends `RCHANDOFF` for `slots` to `out`.
pub fn encode_handoff_done(out: &mut BytesMut, slots: &[u16]) {
    resp::write_len(out, b'*', 1 + slots.len() as i64);
    resp::write_bulk(out, b"RCHANDOFF");
    let mut number = itoa::Buffer::new();
    for slot in slots {
        resp::write_bulk(out, number.format(*slot).as_bytes());
    }
}

fn parse_u64(text: &[u8]) -> Option<u64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Limits, RequestParser};

    fn round_trip(snapshot: Snapshot) -> Snapshot {
        let mut out = BytesMut::new();
        encode_apply(&mut out, &snapshot);
        let mut parser = RequestParser::new(Limits::default());
        let used = parser.parse(&out).unwrap().unwrap();
        assert_eq!(used, out.len());
        decode_apply(parser.args(&out)).unwrap()
    }

    #[test]
    fn snapshots_survive_the_wire() {
        let string = Snapshot {
            key: b"k".to_vec(),
            value: Some((OwnedValue::Str(b"v".to_vec()), Some(1234))),
            version: 99,
        };
        assert_eq!(round_trip(string.clone()), string);
        let mut hash = HashValue::default();
        hash.insert(b"f1", b"a");
        hash.insert(b"f2", b"");
        let hash = Snapshot {
            key: b"h".to_vec(),
            value: Some((OwnedValue::Hash(hash), None)),
            version: 7,
        };
        assert_eq!(round_trip(hash.clone()), hash);
        let deleted = Snapshot {
            key: b"gone".to_vec(),
            value: None,
            version: 8,
        };
        assert_eq!(round_trip(deleted.clone()), deleted);
    }
}
