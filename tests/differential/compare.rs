//! Comparing one reply of redis-server with the node's: exactly (type and
//! value, errors by full text), except where `DIFFERENCES` (main.rs) says
//! how a command is compared instead.

use crate::common::wire::Frame;
use crate::{Rule, DIFFERENCES};

/// The outcome of comparing two replies.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Identical.
    Same,
    /// Equal under a documented rule (the index in `DIFFERENCES`).
    Tolerated(usize),
    /// Different.
    Different,
}

/// The documented rule for `command` (upper case), with its index.
pub fn rule_for(command: &str) -> Option<(usize, &'static Rule)> {
    DIFFERENCES
        .iter()
        .enumerate()
        .find(|(_, d)| d.commands.contains(&command))
        .map(|(i, d)| (i, &d.rule))
}

/// Compares the replies to `argv` (whose name is upper case).
pub fn compare(argv: &[Vec<u8>], redis: &Frame, ours: &Frame) -> Verdict {
    if redis == ours {
        return Verdict::Same;
    }
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
    let Some((index, rule)) = rule_for(&name) else {
        return Verdict::Different;
    };
    if let Rule::FloatDigits = rule {
        if beyond_f64(redis, ours) {
            return Verdict::Tolerated(index);
        }
    }
    // Errors are compared exactly under every other rule.
    if redis.is_error() || ours.is_error() {
        return Verdict::Different;
    }
    let equal = match rule {
        Rule::Unordered => sorted(redis) == sorted(ours),
        Rule::Pairs => sorted_pairs(redis) == sorted_pairs(ours),
        Rule::RandomPick => same_shape(redis, ours),
        Rule::Clock { tolerance } => match (redis, ours) {
            (Frame::Int(a), Frame::Int(b)) if *a >= 0 && *b >= 0 => (a - b).abs() <= *tolerance,
            _ => false,
        },
        Rule::FloatDigits => match (number(redis), number(ours)) {
            (Some(a), Some(b)) => a == b || ((a - b) / a.abs().max(b.abs())).abs() < 1e-14,
            _ => false,
        },
        Rule::CollectedScan => scan_page(redis) && scan_page(ours),
        Rule::LazyExpiry => match (redis, ours) {
            (Frame::Int(r), Frame::Int(o)) => {
                (0..=crate::gen::KEYS.len() as i64).contains(&(r - o))
            }
            _ => false,
        },
        Rule::SetListpack => {
            redis.bytes() == Some(b"hashtable") && ours.bytes() == Some(b"listpack")
        }
        Rule::NotGenerated => false,
    };
    if equal {
        Verdict::Tolerated(index)
    } else {
        Verdict::Different
    }
}

/// A reply's elements in a canonical order: single items for arrays, and
/// field-value pairs kept together for maps and flat HGETALL arrays.
pub fn sorted(frame: &Frame) -> Option<Vec<Vec<Frame>>> {
    let mut items: Vec<Vec<Frame>> = match frame {
        Frame::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect(),
        Frame::Array(items) | Frame::Set(items) => items.iter().map(|i| vec![i.clone()]).collect(),
        _ => return None,
    };
    items.sort_by_key(|i| format!("{i:?}"));
    Some(items)
}

/// Sorted pairs of a flat field-value array (RESP2 HGETALL).
pub fn sorted_pairs(frame: &Frame) -> Option<Vec<Vec<Frame>>> {
    match frame {
        Frame::Array(items) if items.len() % 2 == 0 => {
            let mut pairs: Vec<Vec<Frame>> = items.chunks(2).map(<[Frame]>::to_vec).collect();
            pairs.sort_by_key(|i| format!("{i:?}"));
            Some(pairs)
        }
        other => sorted(other),
    }
}

/// Same type and, for aggregates, the same length and element types.
fn same_shape(a: &Frame, b: &Frame) -> bool {
    match (a, b) {
        (Frame::Array(x), Frame::Array(y)) | (Frame::Set(x), Frame::Set(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_shape(p, q))
        }
        (Frame::Bulk(_), Frame::Bulk(_)) => true,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

/// A float result past f64's range: redis-server's long double holds it
/// (or refuses a value past its own range as not a float) where the node
/// answers that the result would be infinite.
fn beyond_f64(redis: &Frame, ours: &Frame) -> bool {
    let infinite = ours
        .error_text()
        .is_some_and(|e| e.ends_with("NaN or Infinity"));
    let huge = number(redis).is_some_and(f64::is_infinite)
        || redis.error_text().as_deref() == Some("ERR value is not a valid float");
    infinite && huge
}

/// A SCAN page: a cursor and an array of elements.
fn scan_page(frame: &Frame) -> bool {
    matches!(frame, Frame::Array(page)
        if page.len() == 2 && matches!(page[0], Frame::Bulk(_)) && page[1].items().is_some())
}

fn number(frame: &Frame) -> Option<f64> {
    match frame {
        Frame::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Frame::Double(d) => d.parse().ok(),
        _ => None,
    }
}
