//! ACL LOG: the latest refusals (a command, a key, a channel) and failed
//! authentications, newest first, bounded; a refusal like a recent one
//! (same reason, context, object and user, within a minute) counts on
//! that entry instead of adding one, as Redis groups them.
//! `acllog-max-len` bounds it: as in Redis 7.0, lowering the bound trims
//! the log at its next entry, not at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Entries kept unless `acllog-max-len` says otherwise (Redis's default).
pub const MAX_ENTRIES: usize = 128;
/// How long a refusal groups with a like one, in ms (Redis's).
const GROUP_MS: u64 = 60_000;

/// Why an entry was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The command is not allowed.
    Command,
    /// A key is not allowed.
    Key,
    /// A channel is not allowed.
    Channel,
    /// AUTH or HELLO AUTH failed.
    Auth,
}

impl Reason {
    /// Redis's name.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the refused request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A client's request.
    Toplevel,
    /// A command of a transaction.
    Multi,
    /// A script's `redis.call`.
    Lua,
}

impl Context {
    /// Redis's name.
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// One entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Like refusals grouped here.
    pub count: u64,
    /// Why.
    pub reason: Reason,
    /// From where.
    pub context: Context,
    /// The command, key or channel refused (`AUTH` for a failed AUTH).
    pub object: String,
    /// The user.
    pub username: String,
    /// When it was last counted (Unix ms).
    pub at_ms: u64,
    /// The client, as CLIENT LIST describes it.
    pub client_info: String,
}

/// See the module docs.
#[derive(Debug)]
pub struct AclLog {
    /// Newest first; a short critical section, never across an await.
    entries: Mutex<VecDeque<Entry>>,
    /// `acllog-max-len`.
    max_len: AtomicUsize,
}

impl Default for AclLog {
    fn default() -> Self {
        AclLog {
            entries: Mutex::new(VecDeque::new()),
            max_len: AtomicUsize::new(MAX_ENTRIES),
        }
    }
}

impl AclLog {
    /// `acllog-max-len`: the most entries kept from the next one on.
    pub fn set_max_len(&self, max_len: usize) {
        self.max_len.store(max_len, Ordering::Relaxed);
    }

    /// Adds an entry, or counts it on a like recent one.
    pub fn add(&self, entry: Entry) {
        let mut entries = self.entries.lock();
        let like = entries.iter().position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.object == entry.object
                && e.username == entry.username
                && entry.at_ms.saturating_sub(e.at_ms) < GROUP_MS
        });
        let entry = match like.and_then(|i| entries.remove(i)) {
            Some(old) => Entry {
                count: old.count + 1,
                ..entry
            },
            None => entry,
        };
        entries.push_front(entry);
        entries.truncate(self.max_len.load(Ordering::Relaxed));
    }

    /// The newest `count` entries.
    pub fn latest(&self, count: usize) -> Vec<Entry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    /// Forgets every entry.
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, at_ms: u64) -> Entry {
        Entry {
            count: 1,
            reason: Reason::Key,
            context: Context::Toplevel,
            object: object.into(),
            username: "u".into(),
            at_ms,
            client_info: String::new(),
        }
    }

    #[test]
    fn like_entries_group_within_a_minute() {
        let log = AclLog::default();
        log.add(entry("a", 1000));
        log.add(entry("b", 2000));
        log.add(entry("a", 3000));
        let latest = log.latest(10);
        assert_eq!(latest.len(), 2);
        assert_eq!((latest[0].object.as_str(), latest[0].count), ("a", 2));
        log.add(entry("a", 3000 + GROUP_MS));
        assert_eq!(log.latest(10).len(), 3);
        for i in 0..200 {
            log.add(entry(&i.to_string(), 0));
        }
        assert_eq!(log.latest(1000).len(), MAX_ENTRIES);
        log.reset();
        assert!(log.latest(10).is_empty());
    }

    #[test]
    fn a_lower_bound_trims_at_the_next_entry() {
        let log = AclLog::default();
        for i in 0..5 {
            log.add(entry(&i.to_string(), 0));
        }
        log.set_max_len(2);
        assert_eq!(log.latest(10).len(), 5);
        log.add(entry("x", 0));
        let objects: Vec<String> = log.latest(10).into_iter().map(|e| e.object).collect();
        assert_eq!(objects, ["x", "4"]);
        log.set_max_len(0);
        log.add(entry("y", 0));
        assert!(log.latest(10).is_empty());
    }
}
