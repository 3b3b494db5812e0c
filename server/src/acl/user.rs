//! An ACL user: enabled or not, its passwords (SHA-256 digests, compared
//! in constant time), its root selector and further selectors; the rules
//! of ACL SETUSER and `user` lines applied to it.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::selector::{Denied, Selector};
use super::{ids, RuleError};
use crate::protocol::Args;

/// A password's SHA-256 digest.
pub type Hash = [u8; 32];

/// See the module docs.
#[derive(Debug, Clone)]
pub struct User {
    /// Its name.
    pub name: String,
    /// `on`: it may authenticate and its connections run.
    pub enabled: bool,
    /// `nopass`: any password authenticates it.
    pub nopass: bool,
    passwords: Vec<Hash>,
    root: Selector,
    selectors: Vec<Selector>,
    /// Every command, key and channel is allowed: the check is skipped.
    unrestricted: bool,
    /// `acl-pubsub-default` where its rules are applied: `reset` starts
    /// it with every channel (`allchannels`) when true.
    all_channels_default: bool,
}

/// SHA-256 of a password.
pub fn digest(password: &[u8]) -> Hash {
    Sha256::digest(password).into()
}

/// A digest as 64 lower-case hex digits.
pub fn to_hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &[u8]) -> Result<Hash, RuleError> {
    let valid = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
    if text.len() != 64 || !text.iter().all(valid) {
        return Err(RuleError::BadHash);
    }
    let mut hash = [0u8; 32];
    for (i, pair) in text.chunks(2).enumerate() {
        let digit = |c: u8| {
            if c.is_ascii_digit() {
                c - b'0'
            } else {
                c - b'a' + 10
            }
        };
        hash[i] = digit(pair[0]) << 4 | digit(pair[1]);
    }
    Ok(hash)
}

impl User {
    /// A new user as ACL SETUSER creates it: off, no password, no
    /// permissions.
    pub fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            root: Selector::new(),
            selectors: Vec::new(),
            unrestricted: false,
            all_channels_default: false,
        }
    }

    /// A new user as ACL SETUSER, ACL LOAD and `user` lines create it
    /// under `acl-pubsub-default` (`all_channels`: `allchannels`, else
    /// `resetchannels`): off, no password, no commands or keys.
    pub fn created(name: &str, all_channels: bool) -> User {
        let mut user = User::new(name);
        user.set_channels_default(all_channels);
        if all_channels {
            // A known rule: applying it cannot fail.
            let _ = user.apply(b"allchannels");
        }
        user
    }

    /// Sets the `acl-pubsub-default` that a later `reset` rule follows.
    pub fn set_channels_default(&mut self, all_channels: bool) {
        self.all_channels_default = all_channels;
    }

    /// The `default` user of a node without users configured: on, no
    /// password, everything allowed.
    pub fn new_default() -> User {
        let mut user = User::new("default");
        for rule in ["on", "nopass", "allkeys", "allchannels", "allcommands"] {
            // These rules are all known: applying them cannot fail.
            let _ = user.apply(rule.as_bytes());
        }
        user
    }

    /// Applies rules in order (ACL SETUSER, a `user` line), a selector in
    /// parentheses possibly spread over several of them.
    ///
    /// # Errors
    /// The first rule that fails and why; the user may be half changed
    /// (apply to a copy).
    pub fn apply_all<'r>(
        &mut self,
        rules: impl IntoIterator<Item = &'r [u8]>,
    ) -> Result<(), (String, RuleError)> {
        let mut open: Option<Vec<u8>> = None;
        for rule in rules {
            let fail = |e| (String::from_utf8_lossy(rule).into_owned(), e);
            if let Some(mut pending) = open.take() {
                pending.push(b' ');
                pending.extend_from_slice(rule);
                if rule.ends_with(b")") {
                    self.apply(&pending)
                        .map_err(|e| (String::from_utf8_lossy(&pending).into_owned(), e))?;
                } else {
                    open = Some(pending);
                }
            } else if rule.starts_with(b"(") && !rule.ends_with(b")") {
                open = Some(rule.to_vec());
            } else {
                self.apply(rule).map_err(fail)?;
            }
        }
        if let Some(pending) = open {
            let text = String::from_utf8_lossy(&pending).into_owned();
            return Err((text, RuleError::Unmatched));
        }
        Ok(())
    }

    /// Applies one rule.
    ///
    /// # Errors
    /// An unknown rule, or one that names nothing known.
    pub fn apply(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        let result = self.apply_rule(rule);
        self.unrestricted = self.selectors.is_empty() && self.root.is_unrestricted();
        result
    }

    fn apply_rule(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        if let Some(inner) = rule.strip_prefix(b"(") {
            let inner = inner.strip_suffix(b")").ok_or(RuleError::Unmatched)?;
            // A selector starts under acl-pubsub-default too (Redis 7.0).
            let mut selector = Selector::new();
            if self.all_channels_default {
                selector.apply(b"allchannels")?;
            }
            for part in inner.split(|&b| b == b' ').filter(|p| !p.is_empty()) {
                selector.apply(part)?;
            }
            self.selectors.push(selector);
            return Ok(());
        }
        let lower = rule.to_ascii_lowercase();
        match lower.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"clearselectors" => self.selectors.clear(),
            b"reset" => {
                let name = std::mem::take(&mut self.name);
                *self = User::created(&name, self.all_channels_default);
            }
            _ => return self.apply_password_or_selector(rule),
        }
        Ok(())
    }

    fn apply_password_or_selector(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        match rule.first() {
            Some(b'>') => self.add_hash(digest(&rule[1..])),
            Some(b'#') => self.add_hash(from_hex(&rule[1..])?),
            Some(b'<') => self.remove_hash(&digest(&rule[1..]))?,
            Some(b'!') => self.remove_hash(&from_hex(&rule[1..])?)?,
            _ => return self.root.apply(rule),
        }
        Ok(())
    }

    fn add_hash(&mut self, hash: Hash) {
        self.nopass = false;
        if !self.passwords.contains(&hash) {
            self.passwords.push(hash);
        }
    }

    fn remove_hash(&mut self, hash: &Hash) -> Result<(), RuleError> {
        let before = self.passwords.len();
        self.passwords.retain(|h| h != hash);
        if self.passwords.len() == before {
            return Err(RuleError::NoSuchPassword);
        }
        Ok(())
    }

    /// True if `password` authenticates it (it must be on too): every
    /// stored digest is compared, each in constant time.
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let given = digest(password);
        self.passwords
            .iter()
            .fold(false, |found, hash| found | bool::from(hash.ct_eq(&given)))
    }

    /// Its password digests.
    pub fn passwords(&self) -> &[Hash] {
        &self.passwords
    }

    /// Its root selector.
    pub fn root(&self) -> &Selector {
        &self.root
    }

    /// Its selectors besides the root one.
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// True if it may run anything: its requests skip the check.
    #[inline]
    pub fn is_unrestricted(&self) -> bool {
        self.unrestricted
    }

    /// Checks a request (the command at `index` of the table) against
    /// its selectors: allowed if one allows it.
    ///
    /// # Errors
    /// The most relevant refusal, as Redis picks it.
    #[inline]
    pub fn check(
        &self,
        index: usize,
        spec: &crate::commands::CommandSpec,
        args: Args<'_>,
    ) -> Result<(), Denied> {
        if self.unrestricted {
            return Ok(());
        }
        let id = ids::of_request(index, spec, args);
        let entry = ids::get(id);
        let mut worst = Denied::Command;
        for selector in std::iter::once(&self.root).chain(&self.selectors) {
            match selector.check(id, entry, args) {
                Ok(()) => return Ok(()),
                Err(denied) => worst = worst.max(denied),
            }
        }
        Err(worst)
    }

    /// True if one of its selectors allows `channel` (a pattern
    /// subscription's pattern must be one of its patterns as is).
    pub fn allows_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        std::iter::once(&self.root)
            .chain(&self.selectors)
            .any(|selector| selector.allows_channel(channel, is_pattern))
    }

    /// Its rules as ACL LIST and the ACL file write them.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "user {} {}",
            self.name,
            if self.enabled { "on" } else { "off" }
        );
        if self.nopass {
            out.push_str(" nopass");
        }
        for hash in &self.passwords {
            out.push_str(" #");
            out.push_str(&to_hex(hash));
        }
        out.push(' ');
        out.push_str(&self.root.describe());
        for selector in &self.selectors {
            out.push_str(" (");
            out.push_str(&selector.describe());
            out.push(')');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_kept_as_digests() {
        let mut u = User::new("alice");
        u.apply_all([&b"on"[..], b">secret", b"allcommands", b"allkeys"])
            .unwrap();
        assert!(u.password_ok(b"secret"));
        assert!(!u.password_ok(b"other"));
        let hex = to_hex(&digest(b"other"));
        u.apply(format!("#{hex}").as_bytes()).unwrap();
        assert!(u.password_ok(b"other"));
        u.apply(b"<secret").unwrap();
        assert!(!u.password_ok(b"secret"));
        assert_eq!(u.apply(b"<secret"), Err(RuleError::NoSuchPassword));
        assert_eq!(u.apply(b"#abc"), Err(RuleError::BadHash));
        u.apply(b"nopass").unwrap();
        assert!(u.password_ok(b"anything"));
        u.apply(b"resetpass").unwrap();
        assert!(!u.password_ok(b"anything"));
    }

    #[test]
    fn selectors_and_description() {
        let mut u = User::new("bob");
        u.apply_all([&b"on"[..], b">p", b"~a*", b"+get", b"(~x*", b"+set)"])
            .unwrap();
        let d = u.describe();
        assert!(d.starts_with("user bob on #"), "{d}");
        assert!(
            d.ends_with(" ~a* resetchannels -@all +get (~x* resetchannels -@all +set)"),
            "{d}"
        );
        assert!(!u.is_unrestricted());
        assert_eq!(
            u.apply_all([&b"(~y*"[..]]),
            Err(("(~y*".to_string(), RuleError::Unmatched))
        );
        u.apply(b"clearselectors").unwrap();
        assert!(u.selectors().is_empty());
        u.apply(b"reset").unwrap();
        assert_eq!(u.describe(), "user bob off resetchannels -@all");
        u.set_channels_default(true);
        u.apply_all([&b"reset"[..], b"(~y", b"+set)"]).unwrap();
        assert_eq!(u.describe(), "user bob off &* -@all (~y &* -@all +set)");
        assert_eq!(
            User::created("c", false).describe(),
            "user c off resetchannels -@all"
        );
        assert!(User::new_default().is_unrestricted());
        assert_eq!(
            User::new_default().describe(),
            "user default on nopass ~* &* +@all"
        );
    }
}
