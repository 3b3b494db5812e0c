//! ACL users with Redis 7's semantics: the user set of the node
//! ([`Acl`]), each user's passwords and selectors (`user.rs`,
//! `selector.rs`), the numbering of commands and subcommands rules name
//! (`ids.rs`, built from the command table), ACL LOG (`log.rs`) and the
//! ACL file (`file.rs`). The pipeline checks a request against its
//! session's user before it runs or is forwarded; a user allowed
//! everything skips the check.

pub mod check;
mod file;
pub mod ids;
pub mod log;
mod selector;
mod user;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;

pub use file::{parse_file, render_file};
pub use log::{AclLog, Context, Reason};
pub use selector::{Denied, Selector};
pub use user::{digest, to_hex, User};

/// The user every connection starts as.
pub const DEFAULT_USER: &str = "default";

static UNRESTRICTED: LazyLock<Arc<User>> = LazyLock::new(|| Arc::new(User::new_default()));

/// A user allowed everything, for the node's own sessions (peer links,
/// gathered reads) before any user is known.
pub fn unrestricted() -> Arc<User> {
    UNRESTRICTED.clone()
}

/// True for the user of the node's own sessions ([`unrestricted`]): it is
/// not a user of the ACL, so never read again from it.
pub fn is_internal(user: &Arc<User>) -> bool {
    Arc::ptr_eq(user, &UNRESTRICTED)
}

/// The users a node starts with: its ACL file's, or its config file's
/// `user` lines'.
///
/// # Errors
/// The ACL file cannot be read, or a line is bad.
pub fn initial_users(config: &crate::config::Config) -> Result<Vec<User>, String> {
    match &config.aclfile {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the ACL file {}: {e}", path.display()))?;
            parse_file(&path.display().to_string(), &text, config.acl_pubsub_all)
        }
        None => {
            let lines: Vec<String> = config.users.iter().map(|u| format!("user {u}")).collect();
            parse_file("config file", &lines.join("\n"), config.acl_pubsub_all)
        }
    }
}

/// Why a rule was refused, with Redis's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// Not a rule.
    Syntax,
    /// An unknown command or category.
    Unknown,
    /// A key pattern after `allkeys`.
    KeyAfterAll,
    /// A channel pattern after `allchannels`.
    ChannelAfterAll,
    /// `<` or `!` of a password the user does not have.
    NoSuchPassword,
    /// A `#` or `!` digest that is not 64 lower-case hex digits.
    BadHash,
    /// A selector's `(` without its `)`.
    Unmatched,
}

impl RuleError {
    /// Redis's explanation.
    pub fn message(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::Unmatched => "Unmatched parenthesis in acl selector",
        }
    }
}

/// The node's users. Connections hold their user's `Arc` and look again
/// when [`Acl::version`] moved (one atomic load per request).
#[derive(Debug)]
pub struct Acl {
    /// Read by every AUTH and every connection after a change; written by
    /// ACL SETUSER, DELUSER, LOAD and CONFIG SET requirepass (short
    /// critical sections, never across an await).
    users: RwLock<BTreeMap<String, Arc<User>>>,
    version: AtomicU64,
    /// The stamp of the user set across a cluster: the newest change
    /// wins on every node ([`Stamp`]).
    stamp: parking_lot::Mutex<Stamp>,
    /// `acl-pubsub-default`: users and selectors created from now on
    /// start with every channel (`allchannels`) when true.
    all_channels: AtomicBool,
    /// ACL LOG.
    pub log: AclLog,
}

/// When a user set was made and where, so that every node of a cluster
/// keeps the newest: Unix ms (at least one more than the one before),
/// then the `run_id` of the node it was made on to break a tie.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    /// Unix ms, increasing on each node.
    pub at: u64,
    /// The run id of the node the change was made on.
    pub origin: String,
}

impl Default for Acl {
    fn default() -> Self {
        Acl::new()
    }
}

impl Acl {
    /// Only the `default` user, allowed everything without a password.
    pub fn new() -> Acl {
        let mut users = BTreeMap::new();
        users.insert(DEFAULT_USER.to_string(), Arc::new(User::new_default()));
        Acl {
            users: RwLock::new(users),
            version: AtomicU64::new(0),
            stamp: parking_lot::Mutex::new(Stamp::default()),
            all_channels: AtomicBool::new(false),
            log: AclLog::default(),
        }
    }

    /// Bumped by every change of any user.
    #[inline]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// `acl-pubsub-default`: whether users (and selectors) created from
    /// now on start with every channel; users already there keep theirs.
    pub fn set_pubsub_default(&self, all_channels: bool) {
        self.all_channels.store(all_channels, Ordering::Relaxed);
    }

    /// `acl-pubsub-default` in force ([`Acl::set_pubsub_default`]).
    pub fn pubsub_default(&self) -> bool {
        self.all_channels.load(Ordering::Relaxed)
    }

    /// The user called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// The `default` user (it always exists).
    pub fn default_user(&self) -> Arc<User> {
        self.get(DEFAULT_USER)
            .unwrap_or_else(|| Arc::new(User::new_default()))
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// The user `name` if `password` authenticates it and it is on.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        let name = std::str::from_utf8(name).ok()?;
        self.get(name)
            .filter(|user| user.enabled && user.password_ok(password))
    }

    /// ACL SETUSER: applies `rules` to the user `name` (created if new),
    /// all or nothing.
    ///
    /// # Errors
    /// Redis's error for the first rule that fails.
    pub fn set_user(&self, name: &str, rules: &[&[u8]]) -> Result<Arc<User>, String> {
        let all_channels = self.pubsub_default();
        let mut users = self.users.write();
        let mut user = users
            .get(name)
            .map_or_else(|| User::created(name, all_channels), |u| User::clone(u));
        user.set_channels_default(all_channels);
        user.apply_all(rules.iter().copied())
            .map_err(|(rule, why)| match why {
                RuleError::Unmatched => {
                    format!("ERR Unmatched parenthesis in acl selector starting at '{rule}'.")
                }
                _ => format!(
                    "ERR Error in ACL SETUSER modifier '{rule}': {}",
                    why.message()
                ),
            })?;
        let user = Arc::new(user);
        users.insert(name.to_string(), user.clone());
        drop(users);
        self.changed();
        Ok(user)
    }

    /// ACL DELUSER: removes the users named; how many there were.
    ///
    /// # Errors
    /// The `default` user cannot be removed (nothing is then removed).
    pub fn delete(&self, names: &[&str]) -> Result<usize, String> {
        if names.contains(&DEFAULT_USER) {
            return Err("ERR The 'default' user cannot be removed".into());
        }
        let mut users = self.users.write();
        let removed = names.iter().filter(|n| users.remove(**n).is_some()).count();
        drop(users);
        self.changed();
        Ok(removed)
    }

    /// Replaces every user (ACL LOAD, an ACL file at start): the
    /// `default` user stays as it was unless `users` has one.
    pub fn replace(&self, users: Vec<User>) {
        let mut map = self.users.write();
        let default = map.remove(DEFAULT_USER);
        map.clear();
        for user in users {
            map.insert(user.name.clone(), Arc::new(user));
        }
        if let Some(default) = default {
            map.entry(DEFAULT_USER.to_string()).or_insert(default);
        }
        drop(map);
        self.changed();
    }

    /// The stamp of the current user set ([`Stamp::default`] if it never
    /// changed since the node started).
    pub fn stamp(&self) -> Stamp {
        self.stamp.lock().clone()
    }

    /// Stamps a change made here (`origin`: this node's run id).
    pub fn stamp_change(&self, origin: &str) -> Stamp {
        let mut stamp = self.stamp.lock();
        stamp.at = (stamp.at + 1).max(crate::store::unix_ms());
        stamp.origin = origin.to_string();
        stamp.clone()
    }

    /// Takes `users`, the user set another node made at `stamp`, if it is
    /// newer than this node's; the names of the users no longer there.
    pub fn accept(&self, stamp: Stamp, users: Vec<User>) -> Option<Vec<String>> {
        let mut current = self.stamp.lock();
        if stamp <= *current {
            return None;
        }
        *current = stamp;
        let gone = self
            .users()
            .iter()
            .map(|u| u.name.clone())
            .filter(|name| !users.iter().any(|u| u.name == *name))
            .collect();
        self.replace(users);
        Some(gone)
    }

    /// `requirepass`: the `default` user's only password (none: `nopass`).
    pub fn set_requirepass(&self, password: Option<&str>) {
        let mut users = self.users.write();
        let mut user = users
            .get(DEFAULT_USER)
            .map_or_else(User::new_default, |u| User::clone(u));
        // Known rules on a password: cannot fail.
        let _ = match password {
            Some(p) => user
                .apply(b"resetpass")
                .and_then(|()| user.apply(format!(">{p}").as_bytes())),
            None => user.apply(b"nopass"),
        };
        users.insert(DEFAULT_USER.to_string(), Arc::new(user));
        drop(users);
        self.changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirepass_is_the_default_users_password() {
        let acl = Acl::new();
        assert!(acl.authenticate(b"default", b"x").is_some());
        acl.set_requirepass(Some("pw"));
        assert!(acl.authenticate(b"default", b"x").is_none());
        assert!(acl.authenticate(b"default", b"pw").is_some());
        acl.set_requirepass(None);
        assert!(acl.authenticate(b"default", b"x").is_some());
    }

    #[test]
    fn setuser_is_all_or_nothing() {
        let acl = Acl::new();
        let v = acl.version();
        acl.set_user("u", &[b"on", b">p", b"+get"]).unwrap();
        assert!(acl.version() > v);
        let e = acl.set_user("u", &[b"off", b"foo"]).unwrap_err();
        assert_eq!(e, "ERR Error in ACL SETUSER modifier 'foo': Syntax error");
        assert!(acl.get("u").unwrap().enabled);
        assert!(acl.authenticate(b"u", b"p").is_some());
        assert!(acl.authenticate(b"nobody", b"p").is_none());
        assert_eq!(acl.delete(&["u", "v"]), Ok(1));
        assert!(acl.delete(&["default"]).is_err());
        acl.set_pubsub_default(true);
        acl.set_user("w", &[b"on"]).unwrap();
        assert_eq!(acl.get("w").unwrap().describe(), "user w on &* -@all");
        acl.set_pubsub_default(false);
        acl.set_user("w", &[b"reset"]).unwrap();
        assert_eq!(
            acl.get("w").unwrap().describe(),
            "user w off resetchannels -@all"
        );
        let e = acl.set_user("u", &[b"(~x", b"+get"]).unwrap_err();
        assert_eq!(
            e,
            "ERR Unmatched parenthesis in acl selector starting at '(~x +get'."
        );
    }
}
