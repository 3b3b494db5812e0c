//! The matcher against Redis's rules, its quirks, a recursive model of
//! Redis's own algorithm (exhaustively on short patterns, randomly on
//! longer ones), and the patterns that made the old matcher exponential.

use super::*;

/// Redis's `stringmatchlen_impl`, written as a recursive model that reads
/// a byte past the end as C's terminating NUL, with its skip flag and its
/// nesting limit: the oracle the linear matcher must agree with.
fn model(p: &[u8], t: &[u8], nocase: bool) -> bool {
    fn at(s: &[u8], i: usize) -> u8 {
        s.get(i).copied().unwrap_or(0)
    }
    fn lower(c: i32) -> i32 {
        if (65..=90).contains(&c) {
            c + 32
        } else {
            c
        }
    }
    fn go(
        p: &[u8],
        mut pi: usize,
        t: &[u8],
        mut ti: usize,
        nc: bool,
        skip: &mut bool,
        depth: u32,
    ) -> bool {
        if depth > 1000 {
            return false;
        }
        let eq = |a: u8, b: u8| {
            if nc {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        };
        while pi < p.len() && ti < t.len() {
            match p[pi] {
                b'*' => {
                    while pi < p.len() && at(p, pi + 1) == b'*' {
                        pi += 1;
                    }
                    if pi + 1 == p.len() {
                        return true;
                    }
                    while ti < t.len() {
                        if go(p, pi + 1, t, ti, nc, skip, depth + 1) {
                            return true;
                        }
                        if *skip {
                            return false;
                        }
                        ti += 1;
                    }
                    *skip = true;
                    return false;
                }
                b'?' => ti += 1,
                b'[' => {
                    pi += 1;
                    let not = at(p, pi) == b'^';
                    if not {
                        pi += 1;
                    }
                    let mut matched = false;
                    loop {
                        let left = p.len() - pi;
                        if at(p, pi) == b'\\' && left >= 2 {
                            pi += 1;
                            matched |= p[pi] == t[ti];
                        } else if at(p, pi) == b']' && left > 0 {
                            break;
                        } else if left == 0 {
                            pi -= 1;
                            break;
                        } else if left >= 3 && p[pi + 1] == b'-' {
                            let (mut s, mut e) =
                                (i32::from(p[pi] as i8), i32::from(p[pi + 2] as i8));
                            let mut c = i32::from(t[ti] as i8);
                            if s > e {
                                std::mem::swap(&mut s, &mut e);
                            }
                            if nc {
                                (s, e, c) = (lower(s), lower(e), lower(c));
                            }
                            pi += 2;
                            matched |= s <= c && c <= e;
                        } else {
                            matched |= eq(p[pi], t[ti]);
                        }
                        pi += 1;
                    }
                    if matched == not {
                        return false;
                    }
                    ti += 1;
                }
                c => {
                    let c = if c == b'\\' && p.len() - pi >= 2 {
                        pi += 1;
                        p[pi]
                    } else {
                        c
                    };
                    if !eq(c, t[ti]) {
                        return false;
                    }
                    ti += 1;
                }
            }
            pi += 1;
            if ti == t.len() {
                while at(p, pi) == b'*' && pi < p.len() {
                    pi += 1;
                }
                break;
            }
        }
        pi == p.len() && ti == t.len()
    }
    go(p, 0, t, 0, nocase, &mut false, 0)
}

fn check(pattern: &[u8], text: &[u8]) {
    for nocase in [false, true] {
        let ours = Pattern::build(pattern, nocase).matches(text);
        assert_eq!(
            ours,
            model(pattern, text, nocase),
            "pattern {:?} text {:?} nocase {nocase}",
            String::from_utf8_lossy(pattern),
            String::from_utf8_lossy(text),
        );
    }
}

#[test]
fn redis_rules() {
    let cases: &[(&str, &str, bool)] = &[
        ("*", "anything", true),
        ("h?llo", "hello", true),
        ("h?llo", "hllo", false),
        ("h*llo", "hllo", true),
        ("h*llo", "heeeello", true),
        ("h[ae]llo", "hallo", true),
        ("h[ae]llo", "hillo", false),
        ("h[^e]llo", "hallo", true),
        ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true),
        ("h[a-b]llo", "hcllo", false),
        // Reversed range ends are swapped.
        ("h[b-a]llo", "hallo", true),
        ("user:\\*", "user:*", true),
        ("user:\\*", "user:1", false),
        ("\\?", "?", true),
        ("\\?", "x", false),
        // Escapes inside a set.
        ("[\\]]", "]", true),
        ("[\\-a]", "-", true),
        ("[\\^]", "^", true),
        // A trailing backslash is a literal backslash.
        ("a\\", "a\\", true),
        ("a*b", "acd", false),
        ("a*", "a", true),
        ("a**", "a", true),
        ("*a*", "a", true),
        ("a*?", "a", false),
        ("", "", true),
        ("", "a", false),
        // Quirks: only the empty pattern matches the empty text.
        ("*", "", false),
        ("**", "", false),
        ("?", "", false),
        // `[?-]` is the range '?'..']' and the set runs to the end.
        ("[?-]", "-", false),
        ("[?-]", "?", true),
        ("[?-]", "]", true),
        ("[?-]", "A", true),
        ("[a-]x", "-", false),
        // Unclosed sets run to the end of the pattern.
        ("[abc", "b", true),
        ("[abc", "d", false),
        ("[a-", "-", true),
        ("[", "[", false),
        ("[", "a", false),
        ("[^", "x", true),
        ("[]", "]", false),
        ("[]]", "]", false),
        ("[^]", "x", true),
        ("a[", "a", false),
    ];
    for &(pattern, text, expected) in cases {
        assert_eq!(
            matches(pattern.as_bytes(), text.as_bytes()),
            expected,
            "{pattern:?} vs {text:?}"
        );
        check(pattern.as_bytes(), text.as_bytes());
    }
}

#[test]
fn signed_ranges_and_case() {
    // Bytes are C's signed chars: 0xff (-1) sorts below 'a'.
    assert!(matches(b"[\xff-a]", b"a"));
    assert!(matches(b"[\xff-a]", b"\x00"));
    assert!(matches(b"[\xff-a]", b"\xff"));
    assert!(!matches(b"[\xff-a]", b"\x80"));
    assert!(!matches(b"[\xff-a]", b"b"));
    assert!(matches_nocase(b"MAXMEMORY*", b"maxmemory-policy"));
    assert!(matches_nocase(b"[A-Z]", b"q"));
    assert!(matches_nocase(b"[a-z]", b"Q"));
    // The ends are lowered after the swap: 'Z'..'a' becomes 'z'..'a',
    // an empty range.
    assert!(!matches_nocase(b"[Z-a]", b"z"));
    assert!(!matches_nocase(b"[Z-a]", b"_"));
    assert!(matches(b"[Z-a]", b"_"));
    // An escaped byte in a set compares exactly even without case.
    assert!(!matches_nocase(b"[\\A]", b"a"));
    assert!(matches_nocase(b"\\A", b"a"));
    for (p, t) in [
        (&b"[\xff-a]"[..], &b"\x7f"[..]),
        (b"[Z-a]", b"Z"),
        (b"[\\A]", b"A"),
    ] {
        check(p, t);
    }
}

#[test]
fn match_all_is_only_a_lone_star() {
    assert!(Pattern::new(b"*").is_match_all());
    assert!(!Pattern::new(b"**").is_match_all());
    assert!(!Pattern::new(b"\\*").is_match_all());
}

#[test]
fn same_as_redis_on_every_short_pattern() {
    let pattern_bytes = b"ab*?[]^-\\";
    let text_bytes = b"ab-]^";
    let texts = all_strings(text_bytes, 4);
    for pattern in all_strings(pattern_bytes, 4) {
        for text in &texts {
            check(&pattern, text);
        }
    }
}

#[test]
fn same_as_redis_on_random_patterns() {
    let mut rng = fastrand::Rng::with_seed(9);
    let pattern_bytes = b"ab*?[]^-\\AB";
    let text_bytes = b"abAB-]^\\*?";
    for _ in 0..200_000 {
        let pattern: Vec<u8> = (0..rng.usize(0..14))
            .map(|_| pattern_bytes[rng.usize(..pattern_bytes.len())])
            .collect();
        let text: Vec<u8> = (0..rng.usize(0..12))
            .map(|_| text_bytes[rng.usize(..text_bytes.len())])
            .collect();
        check(&pattern, &text);
    }
}

fn all_strings(alphabet: &[u8], max_len: usize) -> Vec<Vec<u8>> {
    let mut all = vec![Vec::new()];
    let mut last = vec![Vec::new()];
    for _ in 0..max_len {
        let next: Vec<Vec<u8>> = last
            .iter()
            .flat_map(|s: &Vec<u8>| {
                alphabet.iter().map(move |&b| {
                    let mut s = s.clone();
                    s.push(b);
                    s
                })
            })
            .collect();
        all.extend(next.iter().cloned());
        last = next;
    }
    all
}

#[test]
fn pathological_patterns_finish() {
    // Exponential for a plain backtracking matcher; these must return
    // (the assertion is on the result only, never on time).
    let text = vec![b'a'; 40];
    let mut pattern = b"a*".repeat(24);
    pattern.push(b'b');
    assert!(!matches(&pattern, &text));
    pattern.pop();
    pattern.push(b'a');
    assert!(matches(&pattern, &text));
    // The CONFIG GET pattern of the finding, against long names.
    let mut config = Vec::new();
    for _ in 0..6 {
        config.extend_from_slice(&b"*?".repeat(16));
        config.push(b'!');
    }
    for name in [&b"maxmemory-policy"[..], &[b'x'; 200][..]] {
        assert!(!matches_nocase(&config, name));
    }
    let long: Vec<u8> = b"x".repeat(100).into_iter().chain(*b"!").collect();
    let text: Vec<u8> = long.repeat(6);
    assert!(matches_nocase(&config, &text));
}

#[test]
fn nesting_limit_as_redis() {
    // Checked against redis-server 7.0.15: 1000 inner star groups match,
    // 1001 do not, and a trailing group does not count.
    let text = vec![b'a'; 1200];
    assert!(matches(&b"*a".repeat(1000), &text));
    assert!(!matches(&b"*a".repeat(1001), &text));
    let mut trailing = b"*a".repeat(1000);
    trailing.push(b'*');
    assert!(matches(&trailing, &text));
    let mut over = b"*a".repeat(1001);
    over.push(b'*');
    assert!(!matches(&over, &text));
    // Runs of stars are one group.
    let mut runs = b"**a".repeat(1000);
    runs.extend_from_slice(&b"*".repeat(5000));
    assert!(matches(&runs, &text));
    check(&b"*a".repeat(1001), &text);
    check(&b"*a".repeat(1000), &text);
}
