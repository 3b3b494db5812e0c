//! Glob-style pattern matching with Redis's rules (its `stringmatchlen`),
//! in O(pattern × text) time, for every pattern user: KEYS, SCAN and HSCAN
//! MATCH, CONFIG GET.
//!
//! The syntax: `*` any run of bytes, `?` one byte, `[abc]` one of a set,
//! `[^abc]` one byte not in it, `[a-z]` a range (reversed ends are
//! swapped), `\x` the byte `x` (inside a set too). Redis's quirks are kept
//! because clients see them:
//! - nothing but the empty pattern matches the empty text, so `*` and `**`
//!   do not (callers such as KEYS special-case a lone `*`, see
//!   [`Pattern::is_match_all`]);
//! - inside a set, `x-y` is a range whenever two more bytes follow the
//!   `x`, even when the `y` is `]`: `[?-]` is the range `?`..`]`, does not
//!   match `-`, and the set goes on to the end of the pattern;
//! - a set left open runs to the end of the pattern; a lone `[` matches
//!   nothing, a lone `[^` any byte;
//! - ranges compare bytes as C's signed `char`, and the case-insensitive
//!   variant lowers the ends after swapping them;
//! - a pattern whose star groups (runs of `*`) other than a trailing one
//!   number more than 1000 matches nothing, as Redis's recursion limit
//!   makes it.
//!
//! Redis backtracks recursively, cut short by its `skipLongerMatches` flag.
//! Here the text is walked once, remembering only the last star: when the
//! rest of the pattern fails, that star swallows one more byte and the rest
//! is tried again. Earlier stars never need to change, since every token
//! but a star matches exactly one byte, so the result is the same and the
//! cost at most pattern length × text length, with no recursion and no
//! allocation.

/// Redis's bound on nested star groups (its `nesting > 1000`).
const MAX_STAR_GROUPS: usize = 1000;

/// A pattern ready to be matched against many texts.
#[derive(Debug, Clone, Copy)]
pub struct Pattern<'a> {
    bytes: &'a [u8],
    nocase: bool,
    /// False when Redis's nesting limit rules out every match.
    viable: bool,
}

impl<'a> Pattern<'a> {
    /// A case-sensitive pattern.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self::build(bytes, false)
    }

    /// A pattern that ignores ASCII case (CONFIG GET).
    pub fn nocase(bytes: &'a [u8]) -> Self {
        Self::build(bytes, true)
    }

    fn build(bytes: &'a [u8], nocase: bool) -> Self {
        Pattern {
            bytes,
            nocase,
            viable: inner_star_groups(bytes) <= MAX_STAR_GROUPS,
        }
    }

    /// True for the pattern `*` alone, which KEYS, SCAN and HSCAN treat as
    /// "everything" without matching (so it also returns the empty key).
    pub fn is_match_all(&self) -> bool {
        self.bytes == b"*"
    }

    /// True if `text` matches, as Redis's `stringmatchlen`.
    pub fn matches(&self, text: &[u8]) -> bool {
        let p = self.bytes;
        if text.is_empty() {
            return p.is_empty();
        }
        if !self.viable {
            return false;
        }
        let (mut pi, mut ti) = (0, 0);
        // (pattern index after the last star group, text index where the
        // rest of the pattern was last tried)
        let mut last_star: Option<(usize, usize)> = None;
        while ti < text.len() {
            if p.get(pi) == Some(&b'*') {
                pi = skip_stars(p, pi);
                if pi == p.len() {
                    return true;
                }
                last_star = Some((pi, ti));
                continue;
            }
            if pi < p.len() {
                let (ok, next) = token(p, pi, text[ti], self.nocase);
                if ok {
                    pi = next;
                    ti += 1;
                    continue;
                }
            }
            let Some((after_star, tried_at)) = last_star else {
                return false;
            };
            last_star = Some((after_star, tried_at + 1));
            pi = after_star;
            ti = tried_at + 1;
        }
        skip_stars(p, pi) == p.len()
    }
}

/// True if `text` matches `pattern` (case-sensitive).
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    Pattern::new(pattern).matches(text)
}

/// True if `text` matches `pattern`, ignoring ASCII case.
pub fn matches_nocase(pattern: &[u8], text: &[u8]) -> bool {
    Pattern::nocase(pattern).matches(text)
}

fn skip_stars(p: &[u8], mut i: usize) -> usize {
    while p.get(i) == Some(&b'*') {
        i += 1;
    }
    i
}

/// Star groups followed by more pattern: each costs Redis one level of
/// recursion, and past its limit nothing matches.
fn inner_star_groups(p: &[u8]) -> usize {
    let (mut i, mut groups) = (0, 0);
    while i < p.len() {
        if p[i] == b'*' {
            i = skip_stars(p, i);
            if i < p.len() {
                groups += 1;
            }
        } else {
            // Where a token ends does not depend on the byte matched.
            i = token(p, i, 0, false).1;
        }
    }
    groups
}

/// Matches the one-byte token at `p[i]` (anything but a star) against `c`:
/// (matched, index after the token).
fn token(p: &[u8], i: usize, c: u8, nocase: bool) -> (bool, usize) {
    match p[i] {
        b'?' => (true, i + 1),
        b'[' => class(p, i + 1, c, nocase),
        b'\\' if i + 1 < p.len() => (same(p[i + 1], c, nocase), i + 2),
        literal => (same(literal, c, nocase), i + 1),
    }
}

fn same(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Matches the set starting at `p[i]` (just after its `[`) against `c`.
fn class(p: &[u8], mut i: usize, c: u8, nocase: bool) -> (bool, usize) {
    let negate = p.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    loop {
        if i + 1 < p.len() && p[i] == b'\\' {
            // An escaped byte compares exactly, even without case.
            matched |= p[i + 1] == c;
            i += 2;
        } else if i < p.len() && p[i] == b']' {
            i += 1;
            break;
        } else if i >= p.len() {
            // Unclosed: the set ran to the end of the pattern.
            break;
        } else if i + 2 < p.len() && p[i + 1] == b'-' {
            matched |= in_range(p[i], p[i + 2], c, nocase);
            i += 3;
        } else {
            matched |= same(p[i], c, nocase);
            i += 1;
        }
    }
    (matched != negate, i)
}

/// Redis's range test: the bytes as C's (signed) `char`, the ends swapped
/// when reversed, and only then lowered for the case-insensitive variant.
fn in_range(start: u8, end: u8, c: u8, nocase: bool) -> bool {
    let signed = |b: u8| i32::from(b as i8);
    let (mut start, mut end, mut c) = (signed(start), signed(end), signed(c));
    if start > end {
        std::mem::swap(&mut start, &mut end);
    }
    if nocase {
        let lower = |v: i32| {
            if (i32::from(b'A')..=i32::from(b'Z')).contains(&v) {
                v + 32
            } else {
                v
            }
        };
        (start, end, c) = (lower(start), lower(end), lower(c));
    }
    start <= c && c <= end
}

#[cfg(test)]
mod tests;
