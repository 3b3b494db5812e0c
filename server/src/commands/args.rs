//! Argument parsing shared by the command families, with Redis's rules and
//! error strings.

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
/// Integer overflow in INCR and friends.
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// Negative or zero TTL in SET EX and friends (Redis names the command).
pub fn invalid_expire(command: &str) -> String {
    format!("ERR invalid expire time in '{command}' command")
}

/// Parses a signed 64-bit integer exactly as Redis's `string2ll`: optional
/// `-`, no `+`, no spaces, no leading zeros.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    match text {
        [] => None,
        [b'0'] => Some(0),
        _ if text.len() > 20 => None,
        [b'-', rest @ ..] => {
            if rest.first().is_none_or(|&b| !(b'1'..=b'9').contains(&b)) {
                return None;
            }
            let mut n: i64 = 0;
            for &b in rest {
                if !b.is_ascii_digit() {
                    return None;
                }
                n = n.checked_mul(10)?.checked_sub(i64::from(b - b'0'))?;
            }
            Some(n)
        }
        [first, ..] if (b'1'..=b'9').contains(first) => {
            let mut n: i64 = 0;
            for &b in text {
                if !b.is_ascii_digit() {
                    return None;
                }
                n = n.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
            }
            Some(n)
        }
        _ => None,
    }
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

/// Glob-style matching as Redis's `stringmatchlen`: `*`, `?`, `[...]` with
/// ranges and `^` negation, and `\` escapes.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    glob_at(pattern, text, 0)
}

fn glob_at(mut p: &[u8], mut t: &[u8], depth: usize) -> bool {
    // Deep recursion only comes from many stars; Redis bounds it too.
    if depth > 1000 {
        return false;
    }
    while let Some(&c) = p.first() {
        match c {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..=t.len() {
                    if glob_at(&p[1..], &t[i..], depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if t.is_empty() {
                    return false;
                }
                t = &t[1..];
            }
            b'[' => {
                let Some(&ch) = t.first() else { return false };
                let mut i = 1;
                let negate = p.get(1) == Some(&b'^');
                if negate {
                    i += 1;
                }
                let mut matched = false;
                while i < p.len() && p[i] != b']' {
                    if p[i] == b'\\' && i + 1 < p.len() {
                        i += 1;
                        matched |= p[i] == ch;
                    } else if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
                        let (lo, hi) = if p[i] <= p[i + 2] {
                            (p[i], p[i + 2])
                        } else {
                            (p[i + 2], p[i])
                        };
                        matched |= (lo..=hi).contains(&ch);
                        i += 2;
                    } else {
                        matched |= p[i] == ch;
                    }
                    i += 1;
                }
                if matched == negate {
                    return false;
                }
                p = &p[i.min(p.len() - 1)..];
                t = &t[1..];
            }
            b'\\' if p.len() >= 2 => {
                if t.first() != Some(&p[1]) {
                    return false;
                }
                p = &p[1..];
                t = &t[1..];
            }
            _ => {
                if t.first() != Some(&c) {
                    return false;
                }
                t = &t[1..];
            }
        }
        p = &p[1..];
    }
    t.is_empty()
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
        for bad in [
            &b"9223372036854775808"[..],
            b"+1",
            b" 1",
            b"01",
            b"-0",
            b"1.0",
            b"",
            b"-",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
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

    #[test]
    fn glob_patterns() {
        assert!(glob_match(b"*", b"anything"));
        assert!(glob_match(b"h?llo", b"hello"));
        assert!(glob_match(b"h*llo", b"heeeello"));
        assert!(glob_match(b"h[ae]llo", b"hallo"));
        assert!(!glob_match(b"h[^e]llo", b"hello"));
        assert!(glob_match(b"h[a-b]llo", b"hbllo"));
        assert!(glob_match(b"user:\\*", b"user:*"));
        assert!(!glob_match(b"user:\\*", b"user:1"));
        assert!(!glob_match(b"a*b", b"acd"));
    }
}
