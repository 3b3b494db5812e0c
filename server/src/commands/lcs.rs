//! LCS: the longest common subsequence of two strings, as its text, its
//! length, or the matching ranges, with Redis's replies in RESP2 and RESP3.
//!
//! Redis fills a table of `(len1 + 1) * (len2 + 1)` 32-bit lengths and
//! refuses when that would pass `proto-max-bulk-len`; the node refuses in
//! the same cases (same errors) but keeps one bit per cell (which way the
//! walk back goes) and two rows of lengths, 32 times less memory, and for
//! LEN alone only the two rows. The strings are copied out and the locks
//! released before the quadratic work.

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX};
use super::spec::flag_sets::R;
use super::spec::{Categories as C, CommandSpec as Cmd, KeySpec, Routing};
use super::{Ctx, Outcome};
use crate::protocol::Args;
use crate::store::ValueRef;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("lcs", lcs, -3, R, "string", "Finds the longest common substring.").keys(KeySpec::TWO).acl(C::STRING).routing(Routing::Gather),
];

/// What the request asks for.
#[derive(Debug, Default)]
struct Options {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: u64,
}

fn options(args: Args<'_>) -> Result<Options, &'static str> {
    let mut o = Options::default();
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        if is(opt, "idx") {
            o.idx = true;
        } else if is(opt, "len") {
            o.len = true;
        } else if is(opt, "withmatchlen") {
            o.with_match_len = true;
        } else if is(opt, "minmatchlen") && j + 1 < args.len() {
            let n = parse_i64(args.get(j + 1)).ok_or(NOT_INTEGER)?;
            o.min_match_len = n.max(0) as u64;
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    if o.idx && o.len {
        return Err("ERR If you want both the length and indexes, please just use IDX.");
    }
    Ok(o)
}

/// The two strings (missing keys are empty), copied, once every check
/// Redis makes before computing has passed.
fn inputs(ctx: &mut Ctx<'_>, args: Args<'_>) -> Result<(Vec<u8>, Vec<u8>, Options), String> {
    let store = ctx.store;
    let limit = ctx.node.config.read().proto_max_bulk_len;
    let mut locks = store.lock_keys([args.get(1), args.get(2)]);
    let mut lens = [0usize; 2];
    for (n, key) in [args.get(1), args.get(2)].into_iter().enumerate() {
        let (found, shard, _) = locks.find(key);
        match found.map(|i| shard.value(i)) {
            None => {}
            Some(ValueRef::Str(v)) => lens[n] = v.len(),
            Some(_) => return Err("ERR The specified keys must contain string values".into()),
        }
    }
    let options = options(args)?;
    if lens.iter().any(|&l| l as u64 >= u64::from(u32::MAX) - 1) {
        return Err("ERR String too long for LCS".into());
    }
    let cells = (lens[0] as u64 + 1).checked_mul(lens[1] as u64 + 1);
    match cells.and_then(|c| c.checked_mul(4)) {
        Some(bytes) if bytes > limit => {
            return Err(
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
                    .into(),
            )
        }
        Some(_) => {}
        None => {
            return Err(
                "ERR Insufficient memory, failed allocating transient memory for LCS".into(),
            )
        }
    }
    let mut copy = |key: &[u8]| {
        let (found, shard, _) = locks.find(key);
        match found.map(|i| shard.value(i)) {
            Some(ValueRef::Str(v)) => v.to_vec(),
            _ => Vec::new(),
        }
    };
    Ok((copy(args.get(1)), copy(args.get(2)), options))
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub fn lcs(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let (a, b, options) = match inputs(ctx, args) {
        Ok(inputs) => inputs,
        Err(e) => return ctx.fail(&e),
    };
    if options.len {
        ctx.reply.int(i64::from(length(&a, &b)));
        return Outcome::Unchanged;
    }
    let walk = Walk::new(&a, &b);
    let (text, matches) = walk.back(&options);
    if !options.idx {
        ctx.reply.bulk(&text);
        return Outcome::Unchanged;
    }
    ctx.reply.map(2);
    ctx.reply.bulk(b"matches");
    ctx.reply.array(matches.len());
    for m in &matches {
        ctx.reply.array(2 + usize::from(options.with_match_len));
        for (start, end) in [(m.a_start, m.a_end), (m.b_start, m.b_end)] {
            ctx.reply.array(2);
            ctx.reply.int(start as i64);
            ctx.reply.int(end as i64);
        }
        if options.with_match_len {
            ctx.reply.int((m.a_end - m.a_start + 1) as i64);
        }
    }
    ctx.reply.bulk(b"len");
    ctx.reply.int(text.len() as i64);
    Outcome::Unchanged
}

/// The LCS length of `a` and `b`, in two rows of memory.
fn length(a: &[u8], b: &[u8]) -> u32 {
    let mut prev = vec![0u32; b.len() + 1];
    let mut cur = vec![0u32; b.len() + 1];
    for &x in a {
        for (j, &y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// One run of matching bytes, inclusive ranges in each string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Match {
    a_start: usize,
    a_end: usize,
    b_start: usize,
    b_end: usize,
}

/// The table of the walk back: for each cell (i, j) of two different
/// bytes, whether the walk goes up (drops a byte of `a`) rather than left,
/// which is Redis's choice: up when LCS(i-1, j) > LCS(i, j-1). One bit per
/// cell, each row padded to whole 64-bit words.
struct Walk<'a> {
    a: &'a [u8],
    b: &'a [u8],
    up: Vec<u64>,
    /// Words per row.
    stride: usize,
    len: u32,
}

impl<'a> Walk<'a> {
    fn new(a: &'a [u8], b: &'a [u8]) -> Walk<'a> {
        let stride = b.len().div_ceil(64);
        let mut up = vec![0u64; a.len() * stride];
        let mut prev = vec![0u32; b.len() + 1];
        let mut cur = vec![0u32; b.len() + 1];
        for (row, &x) in up.chunks_exact_mut(stride.max(1)).zip(a) {
            for (w, word) in row.iter_mut().enumerate() {
                // The bits of 64 cells gather in a register: one store each.
                let mut bits = 0u64;
                let from = w * 64;
                for (k, &y) in b[from..b.len().min(from + 64)].iter().enumerate() {
                    let j = from + k;
                    let (diagonal, above, left) = (prev[j], prev[j + 1], cur[j]);
                    bits |= u64::from(above > left) << k;
                    cur[j + 1] = if x == y {
                        diagonal + 1
                    } else {
                        above.max(left)
                    };
                }
                *word = bits;
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        Walk {
            a,
            b,
            up,
            stride,
            len: prev[b.len()],
        }
    }

    fn goes_up(&self, i: usize, j: usize) -> bool {
        let word = self.up[(i - 1) * self.stride + (j - 1) / 64];
        word & (1 << ((j - 1) % 64)) != 0
    }

    /// Walks back from the end as Redis does: the common subsequence, and
    /// the runs of matching bytes (from the last) at least
    /// `min_match_len` long.
    fn back(&self, options: &Options) -> (Vec<u8>, Vec<Match>) {
        let mut text = vec![0u8; self.len as usize];
        let mut left = text.len();
        let mut matches = Vec::new();
        let mut run: Option<Match> = None;
        let (mut i, mut j) = (self.a.len(), self.b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if self.a[i - 1] == self.b[j - 1] {
                text[left - 1] = self.a[i - 1];
                match run.as_mut() {
                    None => {
                        run = Some(Match {
                            a_start: i - 1,
                            a_end: i - 1,
                            b_start: j - 1,
                            b_end: j - 1,
                        })
                    }
                    // Contiguous with the run: it grows backwards.
                    Some(r) if r.a_start == i && r.b_start == j => {
                        r.a_start -= 1;
                        r.b_start -= 1;
                    }
                    Some(_) => emit = true,
                }
                // A run that reached the start of a string ends here.
                emit |= run.is_some_and(|r| r.a_start == 0 || r.b_start == 0);
                left -= 1;
                i -= 1;
                j -= 1;
            } else {
                if self.goes_up(i, j) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = run.is_some();
            }
            if emit {
                if let Some(r) = run.take() {
                    let len = (r.a_end - r.a_start + 1) as u64;
                    if options.idx && len >= options.min_match_len {
                        matches.push(r);
                    }
                }
            }
        }
        (text, matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(a: &str, b: &str, min: u64) -> (String, Vec<(usize, usize, usize, usize)>) {
        let options = Options {
            idx: true,
            min_match_len: min,
            ..Options::default()
        };
        let walk = Walk::new(a.as_bytes(), b.as_bytes());
        let (text, matches) = walk.back(&options);
        let ranges = matches
            .iter()
            .map(|m| (m.a_start, m.a_end, m.b_start, m.b_end))
            .collect();
        (String::from_utf8(text).unwrap(), ranges)
    }

    #[test]
    fn redis_s_example() {
        // Redis 7: LCS ohmytext mynewtext IDX.
        let (text, ranges) = idx("ohmytext", "mynewtext", 0);
        assert_eq!(text, "mytext");
        assert_eq!(ranges, [(4, 7, 5, 8), (2, 3, 0, 1)]);
        assert_eq!(idx("ohmytext", "mynewtext", 4).1, [(4, 7, 5, 8)]);
        assert_eq!(length(b"ohmytext", b"mynewtext"), 6);
    }

    #[test]
    fn lengths_agree_and_edges_are_empty() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..200 {
            let a: Vec<u8> = (0..rng.usize(0..30)).map(|_| rng.u8(b'a'..b'e')).collect();
            let b: Vec<u8> = (0..rng.usize(0..30)).map(|_| rng.u8(b'a'..b'e')).collect();
            let walk = Walk::new(&a, &b);
            let (text, _) = walk.back(&Options::default());
            assert_eq!(text.len() as u32, length(&a, &b));
            // The text is a subsequence of both.
            for s in [&a, &b] {
                let mut it = s.iter();
                assert!(text.iter().all(|c| it.any(|x| x == c)));
            }
        }
        assert_eq!(length(b"", b"abc"), 0);
        assert!(Walk::new(b"abc", b"")
            .back(&Options::default())
            .0
            .is_empty());
    }
}
