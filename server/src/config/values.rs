//! Parsing of configuration values with Redis's rules and error wording:
//! numbers, byte sizes (`100mb`), durations (`3s`), `yes`/`no`, word lists,
//! and the `client-output-buffer-limit` classes.

use std::fmt;

/// What kind of value a parameter takes; the generic parser checks it (and
/// its bounds) before the parameter's setter sees it.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A whole number within bounds.
    Int {
        /// Smallest accepted.
        min: i64,
        /// Largest accepted.
        max: i64,
    },
    /// A byte size (`1048576`, `100mb`, `2gb`) within bounds.
    Memory {
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
    /// A duration in milliseconds (`3s`, `1500ms`, or plain milliseconds).
    Millis {
        /// Smallest accepted.
        min: u64,
    },
    /// `yes` or `no`.
    Bool,
    /// One word of a list.
    OneOf(&'static [&'static str]),
    /// Text the setter checks itself (addresses, names, lists).
    Text,
}

/// A value that passed its [`Kind`]'s checks.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// From [`Kind::Int`].
    Int(i64),
    /// From [`Kind::Memory`] and [`Kind::Millis`].
    Unsigned(u64),
    /// From [`Kind::Bool`].
    Bool(bool),
    /// From [`Kind::OneOf`] (lower case) and [`Kind::Text`].
    Text(&'a str),
}

impl Value<'_> {
    /// The number, for integer and size kinds (0 for others, which their
    /// setters never ask for).
    pub fn int(self) -> i64 {
        match self {
            Value::Int(n) => n,
            Value::Unsigned(n) => i64::try_from(n).unwrap_or(i64::MAX),
            Value::Bool(b) => i64::from(b),
            Value::Text(_) => 0,
        }
    }

    /// The number as unsigned (negative integers clamp to 0; the kinds'
    /// bounds keep setters that use this from seeing one).
    pub fn unsigned(self) -> u64 {
        match self {
            Value::Unsigned(n) => n,
            other => u64::try_from(other.int()).unwrap_or(0),
        }
    }

    /// The flag, for [`Kind::Bool`].
    pub fn flag(self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// The text, for word and text kinds.
    pub fn text(&self) -> &str {
        match self {
            Value::Text(t) => t,
            _ => "",
        }
    }
}

impl Kind {
    /// Checks `raw` against this kind, with Redis's CONFIG SET wording for
    /// what is wrong.
    ///
    /// # Errors
    /// The reason, as Redis words it.
    pub fn parse(self, raw: &str) -> Result<Value<'_>, String> {
        match self {
            Kind::Int { min, max } => {
                let n: i64 = raw
                    .trim()
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                in_bounds(n, min, max).map(Value::Int)
            }
            Kind::Memory { min, max } => {
                let n =
                    parse_memory(raw).map_err(|_| "argument must be a memory value".to_string())?;
                in_bounds(n, min, max).map(Value::Unsigned)
            }
            Kind::Millis { min } => {
                let n = parse_duration_ms(raw)?;
                in_bounds(n, min, u64::MAX).map(Value::Unsigned)
            }
            Kind::Bool => parse_yes_no(raw).map(Value::Bool),
            Kind::OneOf(words) => words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(raw.trim()))
                .map(|w| Value::Text(w))
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        words.join(", ")
                    )
                }),
            Kind::Text => Ok(Value::Text(raw)),
        }
    }

    /// True for `yes`/`no` parameters: on the command line `--name` alone
    /// means `--name yes`.
    pub fn is_bool(self) -> bool {
        matches!(self, Kind::Bool)
    }
}

fn in_bounds<T: PartialOrd + fmt::Display>(n: T, min: T, max: T) -> Result<T, String> {
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

/// Parses a memory size as Redis does: a plain number of bytes, or with a
/// unit `k`/`kb`/`m`/`mb`/`g`/`gb` (`k` = 1000, `kb` = 1024), any case.
///
/// # Errors
/// Anything else.
pub fn parse_memory(value: &str) -> Result<u64, String> {
    let lower = value.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1 << 10,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return Err(format!("invalid memory size '{value}'")),
    };
    scaled(digits, multiplier).ok_or_else(|| format!("invalid memory size '{value}'"))
}

/// `digits` (a plain decimal) times `unit`, unless either overflows.
fn scaled(digits: &str, unit: u64) -> Option<u64> {
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// Parses a duration into milliseconds: `3s`, `1500ms`, or a plain number
/// of milliseconds.
///
/// # Errors
/// Anything else.
pub fn parse_duration_ms(value: &str) -> Result<u64, String> {
    let lower = value.trim().to_ascii_lowercase();
    let (digits, scale) = if let Some(ms) = lower.strip_suffix("ms") {
        (ms, 1)
    } else if let Some(s) = lower.strip_suffix('s') {
        (s, 1000)
    } else {
        (lower.as_str(), 1)
    };
    scaled(digits, scale).ok_or_else(|| format!("invalid duration '{value}'"))
}

/// `yes` or `no`, any case.
///
/// # Errors
/// Anything else, in Redis's words.
pub fn parse_yes_no(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// One client class's output buffer limits: past `hard` bytes waiting to
/// be written the client is closed at once; past `soft` bytes for longer
/// than `soft_seconds` too. Zero disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputLimit {
    /// Bytes.
    pub hard: u64,
    /// Bytes.
    pub soft: u64,
    /// Seconds over `soft` before the client is closed.
    pub soft_seconds: u64,
}

/// Redis's `client-output-buffer-limit`: one limit per client class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Ordinary clients.
    pub normal: OutputLimit,
    /// Replicas (no client of this node is one; kept so Redis
    /// configurations load and read back unchanged).
    pub replica: OutputLimit,
    /// Clients in subscribed mode.
    pub pubsub: OutputLimit,
}

impl Default for OutputLimits {
    /// Redis's defaults: no limit for normal clients.
    fn default() -> Self {
        OutputLimits {
            normal: OutputLimit::default(),
            replica: OutputLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            pubsub: OutputLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_seconds: 60,
            },
        }
    }
}

impl fmt::Display for OutputLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, limit)) in [
            ("normal", self.normal),
            ("slave", self.replica),
            ("pubsub", self.pubsub),
        ]
        .iter()
        .enumerate()
        {
            let space = if i > 0 { " " } else { "" };
            write!(
                f,
                "{space}{name} {} {} {}",
                limit.hard, limit.soft, limit.soft_seconds
            )?;
        }
        Ok(())
    }
}

impl OutputLimits {
    /// Applies `class hard soft seconds` groups to these limits (classes
    /// not named keep theirs), as CONFIG SET and the config file do.
    ///
    /// # Errors
    /// Redis's wording for a wrong group count, class or number.
    pub fn update(&mut self, text: &str) -> Result<(), String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = *self;
        for group in words.chunks(4) {
            let slot = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut next.normal,
                "slave" | "replica" => &mut next.replica,
                "pubsub" => &mut next.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad =
                || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            *slot = OutputLimit {
                hard: parse_memory(group[1]).map_err(|_| bad())?,
                soft: parse_memory(group[2]).map_err(|_| bad())?,
                soft_seconds: group[3].parse().map_err(|_| bad())?,
            };
        }
        *self = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_like_redis() {
        assert_eq!(parse_memory("0"), Ok(0));
        assert_eq!(parse_memory("100mb"), Ok(100 << 20));
        assert_eq!(parse_memory("2GB"), Ok(2 << 30));
        assert_eq!(parse_memory("1k"), Ok(1000));
        assert!(parse_memory("12xb").is_err());
        assert!(parse_memory("-1").is_err());
        assert!(parse_memory("99999999999999999999gb").is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_ms("3s"), Ok(3000));
        assert_eq!(parse_duration_ms("1500ms"), Ok(1500));
        assert_eq!(parse_duration_ms("250"), Ok(250));
        assert!(parse_duration_ms("3m").is_err());
    }

    #[test]
    fn kinds_check_bounds_in_redis_words() {
        let kind = Kind::Memory {
            min: 1 << 20,
            max: i64::MAX as u64,
        };
        assert_eq!(
            kind.parse("0").unwrap_err(),
            "argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        assert_eq!(kind.parse("2mb").unwrap().unsigned(), 2 << 20);
        assert_eq!(
            Kind::Int { min: 0, max: 10 }.parse("x").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            Kind::OneOf(&["a", "b"]).parse("c").unwrap_err(),
            "argument(s) must be one of the following: a, b"
        );
        assert!(Kind::Bool.parse("YES").unwrap().flag());
    }

    #[test]
    fn output_limits_update_by_class() {
        let mut limits = OutputLimits::default();
        assert_eq!(
            limits.to_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        limits.update("normal 1mb 512kb 10").unwrap();
        assert_eq!(
            limits.normal,
            OutputLimit {
                hard: 1 << 20,
                soft: 512 << 10,
                soft_seconds: 10
            }
        );
        assert_eq!(limits.pubsub, OutputLimits::default().pubsub);
        assert!(limits
            .update("normal 1 2")
            .unwrap_err()
            .starts_with("Wrong number"));
        assert!(limits
            .update("bogus 1 2 3")
            .unwrap_err()
            .starts_with("Invalid client class"));
        assert!(limits
            .update("normal x 2 3")
            .unwrap_err()
            .starts_with("Error in hard"));
    }
}
