//! The commands nodes send each other, encoded and decoded in one place,
//! with one strict decoder of a key's state used for both of its carriers:
//! the `RCAPPLY` command (replication, repair) and the entries of an export
//! page (handoff).
//!
//! ```text
//! RCAPPLY <version> <key> <expire-at-ms, 0 for none> s <value>
//! RCAPPLY <version> <key> <expire-at-ms, 0 for none> h <field> <value> ...
//! RCAPPLY <version> <key> <expire-at-ms, 0 for none> l <element> ...
//! RCAPPLY <version> <key> <expire-at-ms, 0 for none> t <member> ...
//! RCAPPLY <version> <key> <expire-at-ms, 0 for none> z <member> <score> ...
//! RCAPPLY <version> <key> 0 d                       (deleted)
//! RCEFFECT <n> (<key> <before> <after>)×n (<argc> <arg>...)+
//! RCEXPORT <shard> <slot> [<slot> ...]  -> [next shard or -1, [fields]...]
//! RCHANDOFF <slot> [<slot> ...]
//! ```
//!
//! An export page is one RESP array: the next shard to ask for (an integer,
//! -1 after the last), then one array of bulk strings per entry, the fields
//! of `RCAPPLY` after the command name.
//!
//! The decoders borrow from their input and allocate nothing for a single
//! state; a page's entries take one small vector each, bounded by the
//! page's bytes. Every malformed input is a [`WireError`], never a panic.

use bytes::BytesMut;

use crate::resp;

/// The command that applies one key's state.
pub const APPLY: &[u8] = b"RCAPPLY";
/// The command that runs a write's commands on a replica's copies at the
/// versions they changed (replication by effect).
pub const EFFECT: &[u8] = b"RCEFFECT";
/// The command that asks for one page of some slots' entries.
pub const EXPORT: &[u8] = b"RCEXPORT";
/// The command that says a handoff of some slots is complete.
pub const HANDOFF: &[u8] = b"RCHANDOFF";

/// One key's state at a version, borrowed: what `RCAPPLY` carries. `H`
/// yields a collection's fields, flat (see [`Payload::Collection`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRef<'a, H> {
    /// The version of the write; the newer version wins.
    pub version: u64,
    /// The key.
    pub key: &'a [u8],
    /// The value and its expiry, or `None` for a delete.
    pub value: Option<LiveRef<'a, H>>,
}

/// A live key's value and absolute expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRef<'a, H> {
    /// Expiry, Unix milliseconds; `None` for none.
    pub expire_at: Option<u64>,
    /// The value.
    pub payload: Payload<'a, H>,
}

/// A value by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a, H> {
    /// A string.
    Str(&'a [u8]),
    /// A collection and its fields, flat: a hash's field, value, field,
    /// value...; a list's elements head to tail; a set's members; a sorted
    /// set's member, score, member, score... (scores as shortest decimal
    /// text that reads back to the same double, `inf`, `-inf`).
    Collection(CollectionKind, H),
}

/// The type of a collection on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionKind {
    /// Field and value pairs.
    Hash,
    /// Elements in order.
    List,
    /// Members.
    Set,
    /// Member and score pairs.
    ZSet,
}

impl CollectionKind {
    /// Its type field.
    fn tag(self) -> &'static [u8] {
        match self {
            CollectionKind::Hash => b"h",
            CollectionKind::List => b"l",
            CollectionKind::Set => b"t",
            CollectionKind::ZSet => b"z",
        }
    }

    fn from_tag(tag: &[u8]) -> Option<Self> {
        Some(match tag {
            b"h" => CollectionKind::Hash,
            b"l" => CollectionKind::List,
            b"t" => CollectionKind::Set,
            b"z" => CollectionKind::ZSet,
            _ => return None,
        })
    }

    /// True when its fields come in pairs.
    fn paired(self) -> bool {
        matches!(self, CollectionKind::Hash | CollectionKind::ZSet)
    }
}

/// Why a node-to-node message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed node message: {0}")]
pub struct WireError(&'static str);

/// Appends the `RCAPPLY` command for `snapshot` to `out`.
pub fn encode_apply<'a, H, F>(out: &mut BytesMut, snapshot: SnapshotRef<'a, H>)
where
    H: ExactSizeIterator<Item = F>,
    F: AsRef<[u8]>,
{
    encode_state(out, snapshot, Some(APPLY));
}

/// Appends `snapshot` as an array of its fields (an `RCAPPLY` without the
/// command name: an entry of an export page).
pub fn encode_entry<'a, H, F>(out: &mut BytesMut, snapshot: SnapshotRef<'a, H>)
where
    H: ExactSizeIterator<Item = F>,
    F: AsRef<[u8]>,
{
    encode_state(out, snapshot, None);
}

fn encode_state<'a, H, F>(out: &mut BytesMut, snapshot: SnapshotRef<'a, H>, name: Option<&[u8]>)
where
    H: ExactSizeIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut number = itoa::Buffer::new();
    let fields = match &snapshot.value {
        None => 4,
        Some(LiveRef {
            payload: Payload::Str(_),
            ..
        }) => 5,
        Some(LiveRef {
            payload: Payload::Collection(_, fields),
            ..
        }) => 4 + fields.len(),
    };
    resp::write_len(out, b'*', (usize::from(name.is_some()) + fields) as i64);
    if let Some(name) = name {
        resp::write_bulk(out, name);
    }
    resp::write_bulk(out, number.format(snapshot.version).as_bytes());
    resp::write_bulk(out, snapshot.key);
    let Some(live) = snapshot.value else {
        resp::write_bulk(out, b"0");
        resp::write_bulk(out, b"d");
        return;
    };
    resp::write_bulk(out, number.format(live.expire_at.unwrap_or(0)).as_bytes());
    match live.payload {
        Payload::Str(value) => {
            resp::write_bulk(out, b"s");
            resp::write_bulk(out, value);
        }
        Payload::Collection(kind, fields) => {
            resp::write_bulk(out, kind.tag());
            for field in fields {
                resp::write_bulk(out, field.as_ref());
            }
        }
    }
}

/// Appends `RCEXPORT <shard> <slot>...`: one page (a shard of the source)
/// of the entries of `slots`.
pub fn encode_export(out: &mut BytesMut, shard: u64, slots: &[u16]) {
    resp::write_len(out, b'*', 2 + slots.len() as i64);
    resp::write_bulk(out, EXPORT);
    let mut number = itoa::Buffer::new();
    resp::write_bulk(out, number.format(shard).as_bytes());
    for slot in slots {
        resp::write_bulk(out, number.format(*slot).as_bytes());
    }
}

/// Appends `RCHANDOFF <slot>...` to `out`.
pub fn encode_handoff_done(out: &mut BytesMut, slots: &[u16]) {
    resp::write_len(out, b'*', 1 + slots.len() as i64);
    resp::write_bulk(out, HANDOFF);
    let mut number = itoa::Buffer::new();
    for slot in slots {
        resp::write_bulk(out, number.format(*slot).as_bytes());
    }
}

/// Appends one export page: `next` (the shard to ask for next; `None`
/// after the last) and `entries`.
pub fn encode_page<'a, E, H, F>(out: &mut BytesMut, next: Option<u64>, entries: E)
where
    E: ExactSizeIterator<Item = SnapshotRef<'a, H>>,
    H: ExactSizeIterator<Item = F>,
    F: AsRef<[u8]>,
{
    resp::write_len(out, b'*', 1 + entries.len() as i64);
    resp::write_int(
        out,
        next.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
    );
    for entry in entries {
        encode_entry(out, entry);
    }
}

/// Decodes a key's state from its fields, as `RCAPPLY` carries them after
/// the command name: version, key, expiry (0 for none), type, payload.
///
/// # Errors
/// A field count that does not fit the type, a number that is not plain
/// decimal digits within `u64`, a delete with an expiry, an unknown type.
pub fn decode_snapshot<'a, I>(mut fields: I) -> Result<SnapshotRef<'a, I>, WireError>
where
    I: ExactSizeIterator<Item = &'a [u8]>,
{
    let count = fields.len();
    let mut next = || fields.next().ok_or(WireError("too few fields"));
    let version = parse_u64(next()?).ok_or(WireError("bad version"))?;
    let key = next()?;
    let expire = parse_u64(next()?).ok_or(WireError("bad expiry"))?;
    let expire_at = (expire != 0).then_some(expire);
    let kind = next()?;
    let payload = match kind {
        b"d" if count == 4 && expire_at.is_none() => {
            return Ok(SnapshotRef {
                version,
                key,
                value: None,
            })
        }
        b"s" if count == 5 => Payload::Str(next()?),
        b"d" | b"s" => return Err(WireError("wrong field count")),
        tag => {
            let kind = CollectionKind::from_tag(tag).ok_or(WireError("unknown type"))?;
            if kind.paired() && !count.is_multiple_of(2) {
                return Err(WireError("wrong field count"));
            }
            Payload::Collection(kind, fields)
        }
    };
    Ok(SnapshotRef {
        version,
        key,
        value: Some(LiveRef { expire_at, payload }),
    })
}

/// A decoded entry of an export page.
pub type PageEntry<'a> = SnapshotRef<'a, std::vec::IntoIter<&'a [u8]>>;

/// A decoded export page.
#[derive(Debug)]
pub struct Page<'a> {
    /// The shard to ask for next; `None` after the last.
    pub next: Option<u64>,
    /// The entries, each checked by [`decode_snapshot`].
    pub entries: Vec<PageEntry<'a>>,
}

/// Decodes one export page: exactly one RESP array (nothing after it) of
/// the next shard and valid entries.
///
/// # Errors
/// Anything else: another shape, an entry [`decode_snapshot`] refuses, an
/// incomplete page, trailing bytes.
pub fn decode_page(page: &[u8]) -> Result<Page<'_>, WireError> {
    let mut cursor = Cursor { buf: page, pos: 0 };
    let items = cursor.array()?;
    if items == 0 {
        return Err(WireError("empty page"));
    }
    let next = match cursor.int()? {
        -1 => None,
        n => Some(u64::try_from(n).map_err(|_| WireError("bad next shard"))?),
    };
    // Every entry takes at least its 4-byte array header: a count beyond
    // what the bytes could hold is refused before anything is reserved.
    let entries_count = items - 1;
    if entries_count > page.len() / 4 {
        return Err(WireError("more entries than bytes"));
    }
    let mut entries = Vec::with_capacity(entries_count);
    for _ in 0..entries_count {
        let n = cursor.array()?;
        if n > cursor.remaining() / 4 {
            return Err(WireError("more fields than bytes"));
        }
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            fields.push(cursor.bulk()?);
        }
        entries.push(decode_snapshot(fields.into_iter())?);
    }
    if cursor.remaining() != 0 {
        return Err(WireError("bytes after the page"));
    }
    Ok(Page { next, entries })
}

/// Most keys one `RCEFFECT` names.
pub const EFFECT_MAX_KEYS: usize = 2;

/// A key an `RCEFFECT` changes, with the versions it moves between
/// (`before` 0: the key is absent before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectKey<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Its version before the commands.
    pub before: u64,
    /// Its version after them.
    pub after: u64,
}

/// A decoded `RCEFFECT`: its keys, and where each of its commands lies
/// among the fields given to [`decode_effect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectRef<'a> {
    /// The keys the commands change.
    pub keys: Vec<EffectKey<'a>>,
    /// Each command's fields, as a range of indexes.
    pub commands: Vec<std::ops::Range<usize>>,
}

/// Appends `RCEFFECT <n> (<key> <before> <after>)×n (<argc> <arg>...)+`:
/// `commands` gives each command's argument count and arguments.
pub fn encode_effect<'a, I, A>(out: &mut BytesMut, keys: &[EffectKey<'_>], commands: I)
where
    I: IntoIterator<Item = (usize, A)> + Clone,
    A: Iterator<Item = &'a [u8]>,
{
    let fields: usize = commands.clone().into_iter().map(|(argc, _)| argc + 1).sum();
    resp::write_len(out, b'*', (2 + 3 * keys.len() + fields) as i64);
    resp::write_bulk(out, EFFECT);
    let mut digits = itoa::Buffer::new();
    resp::write_bulk(out, digits.format(keys.len()).as_bytes());
    for key in keys {
        resp::write_bulk(out, key.key);
        resp::write_bulk(out, digits.format(key.before).as_bytes());
        resp::write_bulk(out, digits.format(key.after).as_bytes());
    }
    for (argc, args) in commands {
        resp::write_bulk(out, digits.format(argc).as_bytes());
        for arg in args {
            resp::write_bulk(out, arg);
        }
    }
}

/// Decodes an `RCEFFECT`'s fields (`fields[0]` its name): 1 to
/// [`EFFECT_MAX_KEYS`] keys and at least one command, each of at least one
/// argument, filling the fields exactly.
///
/// # Errors
/// Anything else.
pub fn decode_effect<'a>(fields: &[&'a [u8]]) -> Result<EffectRef<'a>, WireError> {
    let number = |at: usize| fields.get(at).and_then(|f| parse_u64(f));
    let count = number(1)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| (1..=EFFECT_MAX_KEYS).contains(n))
        .ok_or(WireError("bad effect key count"))?;
    let mut keys = Vec::with_capacity(count);
    for at in (2..2 + 3 * count).step_by(3) {
        let (Some(key), Some(before), Some(after)) =
            (fields.get(at), number(at + 1), number(at + 2))
        else {
            return Err(WireError("bad effect key"));
        };
        keys.push(EffectKey { key, before, after });
    }
    let mut commands = Vec::new();
    let mut at = 2 + 3 * count;
    while at < fields.len() {
        let argc = number(at)
            .and_then(|n| usize::try_from(n).ok())
            // `n` comes from the peer: `fields.len() - at` cannot wrap,
            // `at + n` could.
            .filter(|&n| n > 0 && n < fields.len() - at)
            .ok_or(WireError("bad effect command"))?;
        commands.push(at + 1..at + 1 + argc);
        at += 1 + argc;
    }
    if commands.is_empty() {
        return Err(WireError("an effect without a command"));
    }
    Ok(EffectRef { keys, commands })
}

/// Plain decimal digits within `u64` (no sign, no spaces, not empty).
fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// A strict reader of the few RESP shapes a page uses.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The text of a `<kind>...\r\n` line.
    fn line(&mut self, kind: u8) -> Result<&'a [u8], WireError> {
        let rest = &self.buf[self.pos..];
        if rest.first() != Some(&kind) {
            return Err(WireError("unexpected frame type"));
        }
        let end = resp::find_crlf(rest).ok_or(WireError("incomplete"))?;
        self.pos += end + 2;
        Ok(&rest[1..end])
    }

    fn length(&mut self, kind: u8, max: usize) -> Result<usize, WireError> {
        let text = self.line(kind)?;
        parse_u64(text)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= max)
            .ok_or(WireError("bad length"))
    }

    fn array(&mut self) -> Result<usize, WireError> {
        self.length(b'*', resp::MAX_ELEMENTS)
    }

    fn int(&mut self) -> Result<i64, WireError> {
        let text = self.line(b':')?;
        let (negative, digits) = match text.split_first() {
            Some((b'-', digits)) => (true, digits),
            _ => (false, text),
        };
        let n = parse_u64(digits)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or(WireError("bad integer"))?;
        Ok(if negative { -n } else { n })
    }

    fn bulk(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.length(b'$', resp::MAX_BULK)?;
        if self.remaining() < n + 2 {
            return Err(WireError("incomplete"));
        }
        let data = &self.buf[self.pos..self.pos + n];
        if &self.buf[self.pos + n..self.pos + n + 2] != b"\r\n" {
            return Err(WireError("bulk string not terminated by CRLF"));
        }
        self.pos += n + 2;
        Ok(data)
    }
}

#[cfg(test)]
mod tests;
