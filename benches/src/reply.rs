//! What a reply means for the statistics: a hit, a miss, a stored value, a
//! redirect or an error. Replies are classified once, here, so the workers
//! never look at error text themselves.

use ringcache_proto::resp::Value;

/// The request a reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `SET key value`
    Set,
    /// `GET key`
    Get,
    /// `WAIT n timeout` after a SET (`--wait-replicas`): part of that write.
    Wait,
}

/// The meaning of one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A SET answered `+OK`.
    Stored,
    /// A GET answered with a value.
    Hit,
    /// A GET answered nil.
    Miss,
    /// `-MOVED slot host:port`: the slot lives elsewhere (cluster mode).
    Moved {
        /// The slot that moved.
        slot: u16,
        /// Its new owner.
        addr: String,
    },
    /// `-ASK ...`: the slot is migrating; counted, not followed.
    Ask,
    /// WAIT answered: this many replicas hold the connection's writes.
    Replicas(i64),
    /// Any other error reply, or a reply of the wrong type.
    Error,
}

/// Classifies the reply to `op`.
pub fn classify(op: Op, reply: Value) -> Outcome {
    match (op, reply) {
        (Op::Set, Value::Simple(text)) if text == b"OK" => Outcome::Stored,
        (Op::Get, Value::Bulk(_)) => Outcome::Hit,
        (Op::Get, Value::Nil) => Outcome::Miss,
        (Op::Wait, Value::Int(n)) => Outcome::Replicas(n),
        (_, Value::Error(text)) => redirect(&text).unwrap_or(Outcome::Error),
        _ => Outcome::Error,
    }
}

/// Parses `MOVED <slot> <addr>` and `ASK <slot> <addr>`.
fn redirect(text: &[u8]) -> Option<Outcome> {
    let text = std::str::from_utf8(text).ok()?;
    let mut words = text.split_ascii_whitespace();
    let kind = words.next()?;
    let slot: u16 = words.next()?.parse().ok()?;
    let addr = words.next()?;
    if kind.eq_ignore_ascii_case("ASK") {
        return Some(Outcome::Ask);
    }
    if !kind.eq_ignore_ascii_case("MOVED") || slot >= ringcache_proto::SLOT_COUNT {
        return None;
    }
    Some(Outcome::Moved {
        slot,
        addr: addr.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_map_to_outcomes() {
        assert_eq!(
            classify(Op::Set, Value::Simple(b"OK".to_vec())),
            Outcome::Stored
        );
        assert_eq!(classify(Op::Get, Value::Bulk(b"v".to_vec())), Outcome::Hit);
        assert_eq!(classify(Op::Get, Value::Nil), Outcome::Miss);
        assert_eq!(classify(Op::Set, Value::Nil), Outcome::Error);
        assert_eq!(classify(Op::Wait, Value::Int(1)), Outcome::Replicas(1));
        assert_eq!(
            classify(Op::Wait, Value::Simple(b"OK".to_vec())),
            Outcome::Error
        );
        assert_eq!(classify(Op::Get, Value::Int(1)), Outcome::Error);
        assert_eq!(
            classify(Op::Get, Value::Error(b"ERR wrong kind".to_vec())),
            Outcome::Error
        );
    }

    #[test]
    fn redirects_are_recognised() {
        assert_eq!(
            classify(Op::Get, Value::Error(b"MOVED 3999 127.0.0.1:6381".to_vec())),
            Outcome::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381".into()
            }
        );
        assert_eq!(
            classify(Op::Set, Value::Error(b"ASK 1 127.0.0.1:7000".to_vec())),
            Outcome::Ask
        );
        // A slot out of range or a missing address is just an error.
        assert_eq!(
            classify(Op::Get, Value::Error(b"MOVED 99999 a:1".to_vec())),
            Outcome::Error
        );
        assert_eq!(
            classify(Op::Get, Value::Error(b"MOVED 12".to_vec())),
            Outcome::Error
        );
    }
}
