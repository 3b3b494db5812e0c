//! Argument parsing shared by the command families, with Redis's rules and
//! error strings.

use crate::protocol::Args;

/// `ERR syntax error`
pub const SYNTAX: &str = "ERR syntax error";
/// Not a 64-bit integer.
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// Not a float.
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// The key holds another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// A command that needs a password before it may run.
pub const NOAUTH: &str = "NOAUTH Authentication required.";
/// A write refused under `noeviction` or with nothing left to evict.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// Protected mode's refusal of a client from another machine.
pub const DENIED: &str = "DENIED Running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers, you may adopt one of the following solutions: 1) Disable protected mode by sending the command 'CONFIG SET protected-mode no' from the loopback interface, after making sure the node is not publicly accessible. 2) Start the node with '--protected-mode no'. 3) Set a password with '--requirepass'.";
/// Integer overflow in INCR and friends.
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// Negative or zero TTL in SET EX and friends (Redis names the command).
pub fn invalid_expire(command: &str) -> String {
    format!("ERR invalid expire time in '{command}' command")
}

/// Parses a signed 64-bit integer exactly as Redis's `string2ll`: optional
/// `-`, no `+`, no spaces, no leading zeros.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    crate::store::number::parse_canonical(text)
}

/// Parses a non-negative integer that fits `usize`.
pub fn parse_usize(text: &[u8]) -> Option<usize> {
    parse_i64(text).and_then(|n| usize::try_from(n).ok())
}

/// Parses a float as Redis does for INCRBYFLOAT: decimal or exponent form,
/// `inf`/`-inf` accepted, no spaces, no NaN.
pub fn parse_f64(text: &[u8]) -> Option<f64> {
    if text.is_empty()
        || text.len() > 5120
        || text[0].is_ascii_whitespace()
        || text[text.len() - 1].is_ascii_whitespace()
    {
        return None;
    }
    let s = std::str::from_utf8(text).ok()?;
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if lower.contains("inf") || lower.contains("nan") || lower.starts_with("0x") {
                return None;
            }
            s.parse().ok()?
        }
    };
    (!v.is_nan()).then_some(v)
}

/// ASCII case-insensitive comparison with an option name.
#[inline]
pub fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// Redis's error for a negative count where only 0 and up make sense.
pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

/// The optional count at `args[2]` of LPOP, RPOP and SPOP: `None` without
/// one; a negative or non-integer count is Redis's out-of-range error.
pub fn pop_count(args: Args<'_>) -> Result<Option<usize>, &'static str> {
    match args.try_get(2).map(parse_i64) {
        None => Ok(None),
        Some(Some(n)) if n >= 0 => Ok(Some(n as usize)),
        Some(_) => Err(NOT_POSITIVE),
    }
}

/// Most members or fields a negative random-pick count may pick
/// (SRANDMEMBER, HRANDFIELD, ZRANDMEMBER): repeats are built in memory
/// before the reply, so one request must not exhaust the node's memory.
/// Redis bounds them only with WITHVALUES/WITHSCORES; the node always does.
pub const MAX_REPEATED_PICKS: i64 = 1_000_000;
const PICKS_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
const TOO_MANY_PICKS: &str =
    "ERR value is out of range, a negative count must be at least -1000000";

/// A random-pick count (`args[2]`) followed by an optional `with` option
/// (WITHVALUES, WITHSCORES; `None` for SRANDMEMBER, which has none),
/// checked in Redis's order: an integer within ±i64::MAX, then the
/// syntax, then (with the option, whose reply is twice as long) within
/// ±i64::MAX / 2, then [`MAX_REPEATED_PICKS`]. `Ok(None)` without a count.
pub fn random_pick_count(args: Args<'_>, with: Option<&str>) -> Result<Option<i64>, &'static str> {
    let Some(text) = args.try_get(2) else {
        return Ok(None);
    };
    let count = match parse_i64(text) {
        Some(i64::MIN) => return Err(PICKS_RANGE),
        Some(n) => n,
        None => return Err(NOT_INTEGER),
    };
    let option = match (args.len(), with) {
        (3, _) => false,
        (4, Some(name)) if is(args.get(3), name) => true,
        _ => return Err(SYNTAX),
    };
    if with.is_some() && count.unsigned_abs() > (i64::MAX / 2) as u64 && (option || count < 0) {
        return Err("ERR value is out of range");
    }
    if count < -MAX_REPEATED_PICKS {
        return Err(TOO_MANY_PICKS);
    }
    Ok(Some(count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_redis() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        let bad = [
            "9223372036854775808",
            "+1",
            " 1",
            "01",
            "-0",
            "1.0",
            "",
            "-",
            "1a",
        ];
        for text in bad {
            assert_eq!(parse_i64(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn floats_parse_like_redis() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"5.0e3"), Some(5000.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"abc"), None);
    }
}
