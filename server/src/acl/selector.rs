//! A selector: one set of permissions of a user (the root one, or one
//! given in parentheses): the commands it allows (a bit per
//! [`ids`](super::ids) id), the key patterns with their read/write access,
//! the channel patterns. A request is allowed if any selector of its user
//! allows it.

use std::fmt::Write as _;

use super::ids::{self, Channels};
use super::RuleError;
use crate::commands::key_flags::{self, KeyFlags};
use crate::commands::Categories;
use crate::glob;
use crate::protocol::Args;

/// Why a selector refused a request, in Redis's order of relevance (a
/// later variant, then a later position, is the one reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    /// The command itself.
    Command,
    /// The key at this argument position.
    Key(usize),
    /// The channel at this argument position.
    Channel(usize),
}

/// A key pattern and the access it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyPattern {
    pattern: Vec<u8>,
    /// The length of its literal start (before any `*`, `?`, `[` or a backslash): a key
    /// without that start is refused before the glob match, so a user's
    /// other prefixes cost a few byte compares each.
    literal: usize,
    /// The pattern is its literal start and one final `*` (`app:*`, the
    /// common form): the start decides, no glob match is needed.
    prefix_only: bool,
    read: bool,
    write: bool,
}

/// A key's first 8 bytes as one word (zero-padded), read once per key for
/// all of a user's patterns.
#[inline]
fn head_word(key: &[u8]) -> u64 {
    if let Some(head) = key.first_chunk::<8>() {
        // One load: most keys are 8 bytes or longer.
        return u64::from_le_bytes(*head);
    }
    let mut word = 0u64;
    for (i, &b) in key.iter().enumerate() {
        word |= u64::from(b) << (8 * i);
    }
    word
}

impl KeyPattern {
    fn new(pattern: &[u8], read: bool, write: bool) -> KeyPattern {
        let literal = pattern
            .iter()
            .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
            .unwrap_or(pattern.len());
        KeyPattern {
            pattern: pattern.to_vec(),
            literal,
            prefix_only: literal + 1 == pattern.len() && pattern[literal] == b'*',
            read,
            write,
        }
    }

    /// The literal start's first bytes (up to 8) as [`head_word`] reads a
    /// key, and the mask of those bytes: most keys another pattern's are
    /// told apart in registers, without reading the pattern.
    fn head_pair(&self) -> [u64; 2] {
        let head_len = self.literal.min(8);
        let mask = match head_len {
            8 => u64::MAX,
            n => (1u64 << (8 * n)) - 1,
        };
        [head_word(&self.pattern[..head_len]), mask]
    }

    #[cfg(test)]
    fn matches(&self, key: &[u8]) -> bool {
        let [head, mask] = self.head_pair();
        head_word(key) & mask == head && self.matches_rest(key)
    }

    /// True if `key`, whose [`head_word`] fits this pattern's head,
    /// matches.
    #[inline]
    fn matches_rest(&self, key: &[u8]) -> bool {
        // A zero byte in the key's head cannot pass for padding: the
        // length check decides those.
        key.len() >= self.literal
            // The head compared the literal start's first 8 bytes.
            && (self.literal <= 8 || key[8..self.literal] == self.pattern[8..self.literal])
            && (self.prefix_only || glob::matches(&self.pattern, key))
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Selector {
    allowed: Vec<u64>,
    /// Every id is allowed (kept with `allowed`).
    all_commands: bool,
    /// The description starts with `+@all` (else `-@all`).
    base_all: bool,
    /// The command rules applied after the base, for describing.
    rules: Vec<String>,
    keys: Vec<KeyPattern>,
    /// Each pattern's `[head, head_mask]`, in `keys`' order: a check walks
    /// these 16 bytes per pattern and reads a pattern only when its head
    /// fits.
    heads: Vec<[u64; 2]>,
    all_keys: bool,
    channels: Vec<Vec<u8>>,
    all_channels: bool,
}

impl Default for Selector {
    fn default() -> Self {
        Selector::new()
    }
}

impl Selector {
    /// No commands, no keys, no channels.
    pub fn new() -> Selector {
        Selector {
            allowed: vec![0; ids::count().div_ceil(64)],
            all_commands: false,
            base_all: false,
            rules: Vec::new(),
            keys: Vec::new(),
            heads: Vec::new(),
            all_keys: false,
            channels: Vec::new(),
            all_channels: false,
        }
    }

    /// True if it allows every command on every key and channel.
    pub fn is_unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Applies one rule.
    ///
    /// # Errors
    /// The rule is not one a selector takes, or names nothing known.
    pub fn apply(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        let text = std::str::from_utf8(rule).map_err(|_| RuleError::Syntax)?;
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.clear_keys();
            }
            "resetkeys" => {
                self.all_keys = false;
                self.clear_keys();
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            "allcommands" | "+@all" => self.set_all(true),
            "nocommands" | "-@all" => self.set_all(false),
            _ => return self.apply_pattern_or_command(text),
        }
        Ok(())
    }

    fn apply_pattern_or_command(&mut self, text: &str) -> Result<(), RuleError> {
        let bytes = text.as_bytes();
        match bytes.first() {
            Some(b'~') => self.add_key(&bytes[1..], true, true),
            Some(b'%') => {
                let (flags, pattern) = text[1..].split_once('~').ok_or(RuleError::Syntax)?;
                let mut read = false;
                let mut write = false;
                for c in flags.chars() {
                    match c.to_ascii_uppercase() {
                        'R' => read = true,
                        'W' => write = true,
                        _ => return Err(RuleError::Syntax),
                    }
                }
                if !read && !write {
                    return Err(RuleError::Syntax);
                }
                self.add_key(pattern.as_bytes(), read, write)
            }
            Some(b'&') => {
                if self.all_channels {
                    return Err(RuleError::ChannelAfterAll);
                }
                self.channels.push(bytes[1..].to_vec());
                Ok(())
            }
            Some(&sign @ (b'+' | b'-')) => self.apply_command(&text[1..], sign == b'+'),
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key(&mut self, pattern: &[u8], read: bool, write: bool) -> Result<(), RuleError> {
        if read && write && pattern == b"*" {
            self.all_keys = true;
            self.clear_keys();
            return Ok(());
        }
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        let key = KeyPattern::new(pattern, read, write);
        if !self.keys.contains(&key) {
            self.heads.push(key.head_pair());
            self.keys.push(key);
        }
        Ok(())
    }

    fn clear_keys(&mut self) {
        self.keys.clear();
        self.heads.clear();
    }

    fn set_all(&mut self, on: bool) {
        self.allowed.fill(if on { u64::MAX } else { 0 });
        self.all_commands = on;
        self.base_all = on;
        self.rules.clear();
    }

    fn apply_command(&mut self, name: &str, allow: bool) -> Result<(), RuleError> {
        let lower = name.to_ascii_lowercase();
        let ids: Vec<usize> = if let Some(category) = lower.strip_prefix('@') {
            let category = Categories::by_name(category).ok_or(RuleError::Unknown)?;
            ids::entries()
                .iter()
                .enumerate()
                .filter(|(_, e)| e.categories.has(category))
                .map(|(id, _)| id)
                .collect()
        } else {
            ids::by_name(&lower).ok_or(RuleError::Unknown)?
        };
        for id in ids {
            let (word, bit) = (id / 64, 1u64 << (id % 64));
            if allow {
                self.allowed[word] |= bit;
            } else {
                self.allowed[word] &= !bit;
            }
        }
        self.all_commands = (0..ids::count()).all(|id| self.allows(id));
        // A later rule about the same name replaces an earlier one.
        self.rules.retain(|rule| rule[1..] != lower);
        self.rules
            .push(format!("{}{lower}", if allow { '+' } else { '-' }));
        Ok(())
    }

    #[inline]
    fn allows(&self, id: usize) -> bool {
        self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    /// True if it allows the command `id` (AUTH and HELLO always).
    pub fn allows_command(&self, id: usize) -> bool {
        self.allows_entry(id, ids::get(id))
    }

    /// [`Selector::allows_command`] with the id's entry at hand.
    #[inline]
    fn allows_entry(&self, id: usize, entry: &ids::Entry) -> bool {
        self.all_commands || entry.no_auth || self.allows(id)
    }

    /// Checks a request for the command `id` against the selector: the
    /// command, then its keys, then its channels, as Redis.
    ///
    /// # Errors
    /// What it refuses.
    pub fn check(&self, id: usize, entry: &ids::Entry, args: Args<'_>) -> Result<(), Denied> {
        if !self.allows_entry(id, entry) {
            return Err(Denied::Command);
        }
        if let (false, Some(flags)) = (self.all_keys, entry.key_flags) {
            self.check_keys(entry, flags, args)?;
        }
        if !self.all_channels && entry.channels != Channels::None {
            self.check_channels(entry, args)?;
        }
        Ok(())
    }

    fn check_keys(
        &self,
        entry: &ids::Entry,
        flags: &[KeyFlags],
        args: Args<'_>,
    ) -> Result<(), Denied> {
        if let Some(position) = entry.single_key {
            return if position < args.len() {
                self.check_key(entry, flags, 0, position, args)
            } else {
                Ok(())
            };
        }
        for (nth, position) in entry.spec.keys.positions(args).into_iter().enumerate() {
            self.check_key(entry, flags, nth, position, args)?;
        }
        Ok(())
    }

    /// Checks the `nth` key of the request, at `position`: a pattern
    /// matching it must grant the access the command makes.
    #[inline]
    fn check_key(
        &self,
        entry: &ids::Entry,
        flags: &[KeyFlags],
        nth: usize,
        position: usize,
        args: Args<'_>,
    ) -> Result<(), Denied> {
        let key_flags = key_flags::flags_of_key(&entry.name, flags, nth, args);
        let read = key_flags.has(KeyFlags::ACCESS);
        let write = key_flags.has(KeyFlags::INSERT)
            || key_flags.has(KeyFlags::DELETE)
            || key_flags.has(KeyFlags::UPDATE);
        let key = args.get(position);
        let head = head_word(key);
        let ok = self.heads.iter().zip(&self.keys).any(|(&[h, mask], k)| {
            head & mask == h && (k.read || !read) && (k.write || !write) && k.matches_rest(key)
        });
        if ok {
            Ok(())
        } else {
            Err(Denied::Key(position))
        }
    }

    /// True if it allows `channel`: by glob, or for a pattern
    /// subscription, as the same text.
    pub fn allows_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|pattern| {
                if is_pattern {
                    pattern == channel
                } else {
                    glob::matches(pattern, channel)
                }
            })
    }

    fn check_channels(&self, entry: &ids::Entry, args: Args<'_>) -> Result<(), Denied> {
        let positions: Vec<usize> = match entry.channels {
            Channels::None => Vec::new(),
            Channels::First => vec![1],
            Channels::All | Channels::Patterns => (1..args.len()).collect(),
            Channels::Keys => entry.spec.keys.positions(args),
        };
        let literal = entry.channels == Channels::Patterns;
        for position in positions.into_iter().filter(|&p| p < args.len()) {
            if !self.allows_channel(args.get(position), literal) {
                return Err(Denied::Channel(position));
            }
        }
        Ok(())
    }

    /// Its rules as ACL LIST writes them: keys, channels, commands.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            out.push_str(&keys);
            out.push(' ');
        }
        out.push_str(&self.describe_channels());
        out.push(' ');
        out.push_str(&self.describe_commands());
        out
    }

    /// Its key patterns (`~*` for all keys).
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let mut out = String::new();
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let prefix = match (key.read, key.write) {
                (true, true) => "~",
                (true, false) => "%R~",
                _ => "%W~",
            };
            let _ = write!(out, "{prefix}{}", String::from_utf8_lossy(&key.pattern));
        }
        out
    }

    /// Its channel patterns (`&*` for all channels).
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let mut out = String::from("resetchannels");
        for channel in &self.channels {
            let _ = write!(out, " &{}", String::from_utf8_lossy(channel));
        }
        out
    }

    /// Its command rules.
    pub fn describe_commands(&self) -> String {
        let mut out = String::from(if self.base_all { "+@all" } else { "-@all" });
        for rule in &self.rules {
            out.push(' ');
            out.push_str(rule);
        }
        out
    }

    /// Its channel patterns only, for ACL GETUSER (without
    /// `resetchannels`).
    pub fn channel_list(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args<'a>(buf: &'a [u8], ranges: &'a [(usize, usize)]) -> Args<'a> {
        Args::new(buf, ranges)
    }

    fn id(name: &str) -> usize {
        ids::by_name(name).expect(name)[0]
    }

    impl Selector {
        fn check_named(&self, name: &str, args: Args<'_>) -> Result<(), Denied> {
            self.check(id(name), ids::get(id(name)), args)
        }
    }

    #[test]
    fn commands_categories_and_subcommands() {
        let mut s = Selector::new();
        s.apply(b"allkeys").unwrap();
        assert_eq!(
            s.check_named("get", args(b"getk", &[(0, 3), (3, 4)])),
            Err(Denied::Command)
        );
        s.apply(b"+@read").unwrap();
        assert!(s.allows_command(id("get")));
        assert!(!s.allows_command(id("set")));
        s.apply(b"-get").unwrap();
        assert!(!s.allows_command(id("get")));
        s.apply(b"+config|get").unwrap();
        assert!(s.allows_command(id("config|get")));
        assert!(!s.allows_command(id("config|set")));
        assert!(s.allows_command(id("auth")));
        assert_eq!(s.describe_commands(), "-@all +@read -get +config|get");
        assert_eq!(s.apply(b"+nosuch"), Err(RuleError::Unknown));
        assert_eq!(s.apply(b"+@nosuch"), Err(RuleError::Unknown));
        assert_eq!(s.apply(b"foo"), Err(RuleError::Syntax));
        s.apply(b"allcommands").unwrap();
        assert!(s.all_commands);
        assert_eq!(s.describe_commands(), "+@all");
    }

    #[test]
    fn key_patterns_match_as_globs() {
        let pattern = |p: &[u8]| KeyPattern::new(p, true, true);
        let prefix = pattern(b"app:*");
        assert!(prefix.prefix_only);
        assert!(prefix.matches(b"app:") && prefix.matches(b"app:1:x"));
        assert!(!prefix.matches(b"ap") && !prefix.matches(b"other:1"));
        let inner = pattern(b"app:*:x");
        assert!(!inner.prefix_only);
        assert!(inner.matches(b"app:1:x") && !inner.matches(b"app:1:y"));
        let escaped = pattern(b"a\\*");
        assert!(!escaped.prefix_only);
        assert!(escaped.matches(b"a*") && !escaped.matches(b"ab"));
        let exact = pattern(b"app");
        assert!(!exact.prefix_only);
        assert!(exact.matches(b"app") && !exact.matches(b"apps"));
    }

    #[test]
    fn the_heads_walk_decides_as_the_glob_match() {
        let mut s = Selector::new();
        s.apply(b"+@all").unwrap();
        // A literal start past 8 bytes, one shorter than 8, one with a
        // zero byte, a glob after a short start, a read-only pattern
        // before one that fits the same keys for writing.
        for rule in [
            &b"~tenant:0042:*"[..],
            b"~ab*",
            b"~z\x00*",
            b"~k?y:*",
            b"%R~shared:*",
            b"%W~shared:w*",
        ] {
            s.apply(rule).unwrap();
        }
        let glob_allows = |key: &[u8], write: bool| {
            s.keys
                .iter()
                .any(|k| (if write { k.write } else { k.read }) && glob::matches(&k.pattern, key))
        };
        let keys: [&[u8]; 16] = [
            b"tenant:0042:x",
            b"tenant:0042:",
            b"tenant:0042",
            b"tenant:0043:x",
            b"tenant:00",
            b"ab",
            b"a",
            b"abc\x00",
            b"z\x00",
            b"z\x00\x00",
            b"z",
            b"key:1",
            b"kay:",
            b"shared:1",
            b"shared:w1",
            b"",
        ];
        for key in keys {
            let mut get = b"get".to_vec();
            get.extend_from_slice(key);
            let ranges = [(0, 3), (3, 3 + key.len())];
            let read = s.check_named("get", args(&get, &ranges)).is_ok();
            assert_eq!(read, glob_allows(key, false), "GET {key:?}");
            let mut del = b"del".to_vec();
            del.extend_from_slice(key);
            let write = s.check_named("del", args(&del, &ranges)).is_ok();
            assert_eq!(write, glob_allows(key, true), "DEL {key:?}");
        }
        assert_eq!(s.heads.len(), s.keys.len());
        s.apply(b"resetkeys").unwrap();
        assert!(s.heads.is_empty() && s.keys.is_empty());
    }

    #[test]
    fn keys_need_the_access_the_command_makes() {
        let mut s = Selector::new();
        s.apply(b"+@all").unwrap();
        s.apply(b"%R~r*").unwrap();
        s.apply(b"%W~w*").unwrap();
        s.apply(b"~a*").unwrap();
        let get = |k: &'static [u8]| {
            let mut buf = b"get".to_vec();
            buf.extend_from_slice(k);
            buf
        };
        let ranges = [(0, 3), (3, 5)];
        for (key, ok) in [(b"r1", true), (b"w1", false), (b"a1", true), (b"b1", false)] {
            let buf = get(key);
            assert_eq!(
                s.check_named("get", args(&buf, &ranges)).is_ok(),
                ok,
                "{key:?}"
            );
        }
        let buf = b"setw1vv";
        let ranges = [(0, 3), (3, 5), (5, 7)];
        assert!(s.check_named("set", args(buf, &ranges)).is_ok());
        let buf = b"setr1vv";
        assert_eq!(
            s.check_named("set", args(buf, &ranges)),
            Err(Denied::Key(1))
        );
        assert_eq!(s.describe_keys(), "%R~r* %W~w* ~a*");
        assert_eq!(s.apply(b"%X~x"), Err(RuleError::Syntax));
        s.apply(b"allkeys").unwrap();
        assert_eq!(s.apply(b"~x"), Err(RuleError::KeyAfterAll));
    }

    #[test]
    fn channels_match_as_globs_and_patterns_literally() {
        let mut s = Selector::new();
        s.apply(b"+@all").unwrap();
        s.apply(b"&news.*").unwrap();
        let ranges = [(0, 7), (7, 15), (15, 16)];
        assert!(s
            .check_named("publish", args(b"publishnews.abcm", &ranges))
            .is_ok());
        assert_eq!(
            s.check_named(
                "publish",
                args(b"publishsport.ab", &[(0, 7), (7, 14), (14, 15)])
            ),
            Err(Denied::Channel(1))
        );
        let ranges = [(0, 10), (10, 16)];
        assert!(s
            .check_named("psubscribe", args(b"psubscribenews.*", &ranges))
            .is_ok());
        assert_eq!(
            s.check_named("psubscribe", args(b"psubscribenews.a", &ranges)),
            Err(Denied::Channel(1))
        );
        assert_eq!(s.describe_channels(), "resetchannels &news.*");
    }
}
