//! The options of the SCAN family (SCAN, HSCAN, SSCAN, ZSCAN), parsed once
//! with Redis's errors: MATCH and COUNT for all of them, TYPE for SCAN and
//! NOVALUES for HSCAN; and the reply of a scan over a missing key.

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX};
use crate::glob::Pattern;
use crate::protocol::{Args, Reply};

/// Which command's options are parsed: the options one command takes are
/// a syntax error for the others, as in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanOf {
    /// SCAN: also TYPE.
    Keys,
    /// HSCAN: also NOVALUES.
    Hash,
    /// SSCAN and ZSCAN: MATCH and COUNT only.
    Members,
}

/// What a SCAN-family call asked for.
#[derive(Debug)]
pub struct ScanOptions<'a> {
    /// MATCH; `None` when absent or a lone `*`, which matches every name,
    /// the empty one too (Redis).
    pub pattern: Option<Pattern<'a>>,
    /// COUNT: about how many names a call visits (10 when absent).
    pub count: usize,
    /// TYPE (SCAN).
    pub type_name: Option<&'a [u8]>,
    /// NOVALUES (HSCAN): fields without their values.
    pub novalues: bool,
}

impl ScanOptions<'_> {
    /// True if `name` passes MATCH.
    pub fn matches(&self, name: &[u8]) -> bool {
        self.pattern.as_ref().is_none_or(|p| p.matches(name))
    }
}

/// Parses the options of `args` from position `from` (after the cursor).
///
/// # Errors
/// Redis's syntax error for an unknown or incomplete option, its integer
/// error for a COUNT that is not a number; a COUNT below 1 is a syntax
/// error, as in Redis.
pub fn parse(args: Args<'_>, from: usize, of: ScanOf) -> Result<ScanOptions<'_>, &'static str> {
    let mut options = ScanOptions {
        pattern: None,
        count: 10,
        type_name: None,
        novalues: false,
    };
    let mut i = from;
    while i < args.len() {
        let (arg, value) = (args.get(i), args.try_get(i + 1));
        if of == ScanOf::Hash && is(arg, "novalues") {
            options.novalues = true;
            i += 1;
            continue;
        }
        match value {
            Some(v) if is(arg, "match") => {
                options.pattern = Some(Pattern::new(v)).filter(|p| !p.is_match_all());
            }
            Some(v) if is(arg, "count") => match parse_i64(v) {
                Some(n) if n >= 1 => options.count = usize::try_from(n).unwrap_or(usize::MAX),
                Some(_) => return Err(SYNTAX),
                None => return Err(NOT_INTEGER),
            },
            Some(v) if of == ScanOf::Keys && is(arg, "type") => options.type_name = Some(v),
            _ => return Err(SYNTAX),
        }
        i += 2;
    }
    Ok(options)
}

/// The reply of a scan that is over: cursor 0 and no names (a missing key
/// scans as empty).
pub fn reply_empty(reply: &mut Reply) {
    reply.array(2);
    reply.bulk(b"0");
    reply.array(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::owned_args::OwnedArgs;

    fn parsed(words: &[&str], of: ScanOf) -> Result<(bool, usize, bool, bool), &'static str> {
        let words: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        let owned = OwnedArgs::copy_slices(&words);
        parse(owned.args(), 2, of).map(|o| {
            (
                o.pattern.is_some(),
                o.count,
                o.type_name.is_some(),
                o.novalues,
            )
        })
    }

    #[test]
    fn each_command_takes_its_own_options() {
        assert_eq!(
            parsed(&["x", "0"], ScanOf::Members),
            Ok((false, 10, false, false))
        );
        assert_eq!(
            parsed(&["x", "0", "MATCH", "a*", "count", "5"], ScanOf::Members),
            Ok((true, 5, false, false))
        );
        // A lone `*` matches everything: no pattern to test.
        assert_eq!(
            parsed(&["x", "0", "match", "*"], ScanOf::Members),
            Ok((false, 10, false, false))
        );
        assert_eq!(
            parsed(&["x", "0", "TYPE", "string"], ScanOf::Keys),
            Ok((false, 10, true, false))
        );
        assert_eq!(
            parsed(&["x", "0", "TYPE", "string"], ScanOf::Members),
            Err(SYNTAX)
        );
        assert_eq!(
            parsed(&["x", "0", "NOVALUES"], ScanOf::Hash),
            Ok((false, 10, false, true))
        );
        assert_eq!(parsed(&["x", "0", "NOVALUES"], ScanOf::Keys), Err(SYNTAX));
    }

    #[test]
    fn counts_as_redis() {
        assert_eq!(
            parsed(&["x", "0", "COUNT", "0"], ScanOf::Members),
            Err(SYNTAX)
        );
        assert_eq!(
            parsed(&["x", "0", "COUNT", "-1"], ScanOf::Keys),
            Err(SYNTAX)
        );
        assert_eq!(
            parsed(&["x", "0", "COUNT", "ten"], ScanOf::Hash),
            Err(NOT_INTEGER)
        );
        assert_eq!(parsed(&["x", "0", "COUNT"], ScanOf::Hash), Err(SYNTAX));
    }
}
