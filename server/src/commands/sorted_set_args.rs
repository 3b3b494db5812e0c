//! Scores as Redis reads and writes them: C's `strtod` rules for parsing
//! (hex, `inf`, exponents; with Redis's checks on top), `%.17g` for
//! printing, score and lex range bounds, and the reply shapes of member
//! and score lists in RESP2 and RESP3.

use crate::protocol::reply::c_string;
use crate::protocol::Reply;

/// A score or increment that is not a float.
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// A score range bound that is not a float.
pub const BAD_SCORE_RANGE: &str = "ERR min or max is not a float";
/// A lex range bound without its `[`, `(`, `+` or `-`.
pub const BAD_LEX_RANGE: &str = "ERR min or max not valid string range item";
/// An increment that made a score NaN.
pub const NAN_RESULT: &str = "ERR resulting score is not a number (NaN)";

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What `strtod` read from the start of a text.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Strtod {
    value: f64,
    /// Bytes consumed; 0 when nothing was converted.
    used: usize,
    /// Out of range: the value overflowed to infinity or underflowed to
    /// zero (C's ERANGE with those results).
    range_error: bool,
}

/// C's `strtod` on `text`: leading spaces, a sign, then `inf`,
/// `infinity`, `nan`, a hex float or a decimal one.
fn strtod(text: &[u8]) -> Strtod {
    let none = Strtod {
        value: 0.0,
        used: 0,
        range_error: false,
    };
    let mut i = text.iter().take_while(|&&b| is_c_space(b)).count();
    let negative = match text.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let rest = &text[i..];
    let starts = |word: &str| {
        rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word.as_bytes())
    };
    let (magnitude, used, range_error) = if starts("infinity") {
        (f64::INFINITY, 8, false)
    } else if starts("inf") {
        (f64::INFINITY, 3, false)
    } else if starts("nan") {
        let mut used = 3;
        if rest.get(3) == Some(&b'(') {
            let inner = rest[4..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if rest.get(4 + inner) == Some(&b')') {
                used = 5 + inner;
            }
        }
        (f64::NAN, used, false)
    } else if let Some(hex) = hex_float(rest) {
        hex
    } else if let Some(decimal) = decimal_float(rest) {
        decimal
    } else {
        return none;
    };
    Strtod {
        value: if negative { -magnitude } else { magnitude },
        used: i + used,
        range_error,
    }
}

/// A decimal float at the start of `text` (no sign): (value, length, out
/// of range).
fn decimal_float(text: &[u8]) -> Option<(f64, usize, bool)> {
    let digits = |from: usize| {
        text[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let whole = digits(0);
    let mut end = whole;
    let mut fraction = 0;
    if text.get(end) == Some(&b'.') {
        fraction = digits(end + 1);
        end += 1 + fraction;
    }
    if whole + fraction == 0 {
        return None;
    }
    if matches!(text.get(end), Some(b'e' | b'E')) {
        let mut at = end + 1;
        if matches!(text.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent = digits(at);
        if exponent > 0 {
            end = at + exponent;
        }
    }
    // The text is ASCII digits, '.', 'e' and a sign: Rust's parser reads
    // it (correctly rounded, as glibc).
    let value: f64 = std::str::from_utf8(&text[..end]).ok()?.parse().ok()?;
    let nonzero = text[..whole + usize::from(fraction > 0) + fraction]
        .iter()
        .any(|b| (b'1'..=b'9').contains(b));
    let range_error = value.is_infinite() || (value == 0.0 && nonzero);
    Some((value, end, range_error))
}

/// A hex float (`0x1.8p3`) at the start of `text` (no sign).
fn hex_float(text: &[u8]) -> Option<(f64, usize, bool)> {
    if text.len() < 3 || text[0] != b'0' || !matches!(text[1], b'x' | b'X') {
        return None;
    }
    let mut at = 2;
    // 64 bits of mantissa and a sticky bit for the digits past them, so
    // the one rounding to 53 bits is right.
    let mut mantissa: u64 = 0;
    let mut exponent: i64 = 0;
    let mut sticky = false;
    let mut seen = false;
    let mut point = false;
    while let Some(&b) = text.get(at) {
        if b == b'.' && !point {
            point = true;
            at += 1;
            continue;
        }
        let Some(digit) = (b as char).to_digit(16) else {
            break;
        };
        seen = true;
        if mantissa >> 60 == 0 {
            mantissa = (mantissa << 4) | u64::from(digit);
            if point {
                exponent -= 4;
            }
        } else {
            sticky |= digit != 0;
            if !point {
                exponent += 4;
            }
        }
        at += 1;
    }
    if !seen {
        return None;
    }
    if matches!(text.get(at), Some(b'p' | b'P')) {
        let mut next = at + 1;
        let negative = match text.get(next) {
            Some(b'-') => {
                next += 1;
                true
            }
            Some(b'+') => {
                next += 1;
                false
            }
            _ => false,
        };
        let count = text[next..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if count > 0 {
            let mut power: i64 = 0;
            for &d in &text[next..next + count] {
                power = (power * 10 + i64::from(d - b'0')).min(1 << 20);
            }
            exponent += if negative { -power } else { power };
            at = next + count;
        }
    }
    let mantissa = if sticky { mantissa | 1 } else { mantissa };
    let value = mantissa as f64 * 2f64.powi(exponent.clamp(-2000, 2000) as i32);
    let range_error = value.is_infinite() || (value == 0.0 && mantissa != 0);
    Some((value, at, range_error))
}

/// A score, increment or weight, as Redis's `string2d`: the whole text
/// (no spaces around it), finite or `inf`, not NaN, not out of range.
pub fn parse_score(text: &[u8]) -> Option<f64> {
    if text.first().is_none_or(|&b| is_c_space(b)) {
        return None;
    }
    let read = strtod(text);
    (read.used == text.len() && !read.range_error && !read.value.is_nan()).then_some(read.value)
}

/// One end of a score range: `(` makes it exclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBound {
    /// The score.
    pub value: f64,
    /// `(`: the score itself is outside.
    pub exclusive: bool,
}

impl ScoreBound {
    /// Parses a bound as Redis's `zslParseRange`: `strtod` over the C
    /// string (up to a NUL), which must be used up; NaN refused.
    pub fn parse(text: &[u8]) -> Option<ScoreBound> {
        let text = c_string(text);
        let (exclusive, number) = match text.split_first() {
            Some((b'(', rest)) => (true, rest),
            _ => (false, text),
        };
        let read = strtod(number);
        (read.used == number.len() && !read.value.is_nan()).then_some(ScoreBound {
            value: read.value,
            exclusive,
        })
    }

    /// True for scores below this lower bound.
    pub fn below_min(&self, score: f64) -> bool {
        if self.exclusive {
            score <= self.value
        } else {
            score < self.value
        }
    }

    /// True for scores within this upper bound.
    pub fn within_max(&self, score: f64) -> bool {
        if self.exclusive {
            score < self.value
        } else {
            score <= self.value
        }
    }
}

/// One end of a lex range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexBound<'a> {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[member`
    Inclusive(&'a [u8]),
    /// `(member`
    Exclusive(&'a [u8]),
}

impl<'a> LexBound<'a> {
    /// Parses `-`, `+`, `[member` or `(member`.
    pub fn parse(text: &'a [u8]) -> Option<LexBound<'a>> {
        match text.split_first()? {
            (b'-', []) => Some(LexBound::Min),
            (b'+', []) => Some(LexBound::Max),
            (b'[', member) => Some(LexBound::Inclusive(member)),
            (b'(', member) => Some(LexBound::Exclusive(member)),
            _ => None,
        }
    }

    /// True for members below this lower bound.
    pub fn below_min(&self, member: &[u8]) -> bool {
        match *self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(m) => member < m,
            LexBound::Exclusive(m) => member <= m,
        }
    }

    /// True for members within this upper bound.
    pub fn within_max(&self, member: &[u8]) -> bool {
        match *self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(m) => member <= m,
            LexBound::Exclusive(m) => member < m,
        }
    }
}

/// A score as C's `%.17g` prints it (what Redis 7.0 replies), `inf` and
/// `-inf` for the infinities.
pub fn format_score(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // The common case: `%.17g` prints an integral score below 1e17 as its
    // digits.
    if value.fract() == 0.0 && value.abs() < 1e17 {
        return itoa::Buffer::new().format(value as i64).to_owned();
    }
    let scientific = format!("{value:.16e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(24);
    if negative {
        out.push('-');
    }
    if !(-4..17).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        let rest = rest.trim_end_matches('0');
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        out.push_str(&format!("e{sign}{:02}", exponent.unsigned_abs()));
    } else if exponent >= 0 {
        let (whole, fraction) = digits.split_at(exponent as usize + 1);
        out.push_str(whole);
        let fraction = fraction.trim_end_matches('0');
        if !fraction.is_empty() {
            out.push('.');
            out.push_str(fraction);
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// A score reply: a bulk string in RESP2, a double in RESP3.
pub fn reply_score(reply: &mut Reply<'_>, value: f64) {
    let text = format_score(value);
    if reply.resp3() {
        let mut line = Vec::with_capacity(text.len() + 3);
        line.push(b',');
        line.extend_from_slice(text.as_bytes());
        line.extend_from_slice(b"\r\n");
        reply.raw(&line);
    } else {
        reply.bulk(text.as_bytes());
    }
}

/// Members (and scores) as Redis 7 lists them: a flat array in RESP2; with
/// scores in RESP3, an array of [member, score] pairs.
pub fn reply_members<'a>(
    reply: &mut Reply<'_>,
    items: impl ExactSizeIterator<Item = (&'a [u8], f64)>,
    with_scores: bool,
) {
    let nested = with_scores && reply.resp3();
    let flat = with_scores && !nested;
    reply.array(items.len() * if flat { 2 } else { 1 });
    for (member, score) in items {
        if nested {
            reply.array(2);
        }
        reply.bulk(member);
        if with_scores {
            reply_score(reply, score);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_string2d() {
        let good: [(&str, f64); 14] = [
            ("1", 1.0),
            ("-1.5", -1.5),
            ("+2", 2.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E-2", 0.01),
            ("inf", f64::INFINITY),
            ("+inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("0x10", 16.0),
            ("0x1.8p1", 3.0),
            ("1e-310", 1e-310),
            ("-0", -0.0),
        ];
        for (text, value) in good {
            assert_eq!(parse_score(text.as_bytes()), Some(value), "{text}");
        }
        let bad = [
            "", " 1", "1 ", "nan", "abc", "1e400", "1e-400", "1e", "--1", "0x", "1,5", "inf1",
            "1\0",
        ];
        for text in bad {
            assert_eq!(parse_score(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn range_bounds_parse_like_zsl_parse_range() {
        let bound = |text: &str| ScoreBound::parse(text.as_bytes()).map(|b| (b.value, b.exclusive));
        assert_eq!(bound("(1.5"), Some((1.5, true)));
        assert_eq!(bound("-inf"), Some((f64::NEG_INFINITY, false)));
        assert_eq!(bound(""), Some((0.0, false)));
        assert_eq!(bound("("), Some((0.0, true)));
        assert_eq!(bound(" 5"), Some((5.0, false)));
        assert_eq!(bound("1e400"), Some((f64::INFINITY, false)));
        assert_eq!(bound("5\0junk"), Some((5.0, false)));
        assert_eq!(bound("5 "), None);
        assert_eq!(bound("(nan"), None);
        assert_eq!(bound("[1"), None);
        assert_eq!(LexBound::parse(b"-"), Some(LexBound::Min));
        assert_eq!(LexBound::parse(b"[a"), Some(LexBound::Inclusive(b"a")));
        assert_eq!(LexBound::parse(b"("), Some(LexBound::Exclusive(b"")));
        assert_eq!(LexBound::parse(b"a"), None);
        assert_eq!(LexBound::parse(b"+x"), None);
        assert_eq!(LexBound::parse(b""), None);
    }

    #[test]
    fn scores_print_like_percent_17g() {
        let cases: [(f64, &str); 13] = [
            (1.0, "1"),
            (1.1, "1.1000000000000001"),
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (123456789.123, "123456789.123"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (-1.5e-300, "-1.5000000000000001e-300"),
            (-0.0, "-0"),
            (f64::NEG_INFINITY, "-inf"),
            (2.5, "2.5"),
        ];
        for (value, text) in cases {
            assert_eq!(format_score(value), text, "{value}");
        }
    }
}
