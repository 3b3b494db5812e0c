//! The ACL's numbering of what a rule can name: every command of the
//! table and every subcommand of a container (CONFIG GET, CLIENT KILL...)
//! has an id, a bit in a selector's set of allowed commands. Built once
//! from the command table, with what a check needs per id: categories,
//! key-spec flags, where its channels are.

use std::ops::Range;
use std::sync::LazyLock;

use crate::commands::key_flags::{self, KeyFlags};
use crate::commands::{commands, Categories, CommandSpec, Flags};
use crate::protocol::Args;

/// Where a command's Pub/Sub channels are, as Redis's
/// `getChannelsFromCommand` finds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// None.
    None,
    /// The argument at position 1 (PUBLISH).
    First,
    /// Every argument from position 1 on (SUBSCRIBE).
    All,
    /// Every argument from position 1 on, as patterns (PSUBSCRIBE): a
    /// user's channel pattern must be the same text.
    Patterns,
    /// The command's key positions (SPUBLISH, SSUBSCRIBE: shard channels
    /// routed as keys, never checked as keys).
    Keys,
}

/// What the ACL knows about one id.
#[derive(Debug)]
pub struct Entry {
    /// `name` or `container|name`.
    pub name: String,
    /// Its row (the subcommand's own, for a subcommand).
    pub spec: &'static CommandSpec,
    /// Its ACL categories.
    pub categories: Categories,
    /// Its key specs' flags (read and write access), if it has keys.
    pub key_flags: Option<&'static [KeyFlags]>,
    /// The position of its only key, for a one-key command (read here
    /// once, not through the row on every check).
    pub single_key: Option<usize>,
    /// Where its channels are.
    pub channels: Channels,
    /// Allowed before AUTH: no command rule applies to it (AUTH, HELLO).
    pub no_auth: bool,
    /// The ids of its subcommands, for a container.
    pub subs: Range<usize>,
}

struct Ids {
    entries: Vec<Entry>,
    /// Per command index, the id of its first subcommand.
    sub_base: Vec<usize>,
}

static IDS: LazyLock<Ids> = LazyLock::new(build);

fn entry(name: String, spec: &'static CommandSpec, subs: Range<usize>) -> Entry {
    let key_flags = key_flags::specs(&name);
    let shard = key_flags.is_some_and(|f| f.first().is_some_and(|k| k.has(KeyFlags::NOT_KEY)));
    let channels = match name.as_str() {
        _ if shard => Channels::Keys,
        "publish" => Channels::First,
        "subscribe" => Channels::All,
        "psubscribe" => Channels::Patterns,
        _ => Channels::None,
    };
    Entry {
        categories: spec.categories(),
        key_flags: key_flags.filter(|_| !shard),
        single_key: spec.keys.single(),
        channels,
        no_auth: spec.has(Flags::NO_AUTH),
        name,
        spec,
        subs,
    }
}

fn build() -> Ids {
    let table = commands();
    let mut entries = Vec::with_capacity(table.len() * 2);
    let mut sub_base = Vec::with_capacity(table.len());
    let mut next = table.len();
    for spec in table {
        sub_base.push(next);
        let subs = next..next + spec.subcommands.len();
        entries.push(entry(spec.name.to_string(), spec, subs));
        next += spec.subcommands.len();
    }
    for spec in table {
        for sub in spec.subcommands {
            let name = format!("{}|{}", spec.name, sub.name());
            entries.push(entry(name, &sub.command, 0..0));
        }
    }
    Ids { entries, sub_base }
}

/// How many ids there are.
pub fn count() -> usize {
    IDS.entries.len()
}

/// Every id's entry, in id order (the table's order, subcommands last).
pub fn entries() -> &'static [Entry] {
    &IDS.entries
}

/// The entry of `id`.
#[inline]
pub fn get(id: usize) -> &'static Entry {
    &IDS.entries[id]
}

/// The id of a request for the command at `index` of the table: its
/// subcommand's when it names one.
#[inline]
pub fn of_request(index: usize, spec: &CommandSpec, args: Args<'_>) -> usize {
    if spec.subcommands.is_empty() || args.len() < 2 {
        return index;
    }
    let name = args.get(1);
    spec.subcommands
        .iter()
        .position(|sub| name.eq_ignore_ascii_case(sub.name().as_bytes()))
        .map_or(index, |i| IDS.sub_base[index] + i)
}

/// The ids a rule's command name covers: a command and its subcommands,
/// or one `container|subcommand`; `None` for an unknown name.
pub fn by_name(name: &str) -> Option<Vec<usize>> {
    let (command, sub) = match name.split_once('|') {
        Some((command, sub)) => (command, Some(sub)),
        None => (name, None),
    };
    let (index, spec) = crate::commands::lookup_indexed(command.as_bytes())?;
    if spec.has(Flags::PEER) || spec.has(Flags::HANDSHAKE) {
        return None;
    }
    match sub {
        None => Some(
            std::iter::once(index)
                .chain(get(index).subs.clone())
                .collect(),
        ),
        Some(sub) => spec
            .subcommands
            .iter()
            .position(|s| s.name().eq_ignore_ascii_case(sub))
            .map(|i| vec![IDS.sub_base[index] + i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_have_their_own_ids() {
        let config = by_name("config").expect("config");
        assert!(config.len() > 3);
        let get = by_name("CONFIG|get").expect("config|get");
        assert_eq!(get.len(), 1);
        assert!(config.contains(&get[0]));
        assert_eq!(super::get(get[0]).name, "config|get");
        assert!(by_name("nosuch").is_none());
        assert!(by_name("config|nosuch").is_none());
        assert!(by_name("rcpeer").is_none());
        assert_eq!(
            super::get(by_name("publish").expect("publish")[0]).channels,
            Channels::First
        );
        assert_eq!(
            super::get(by_name("spublish").expect("spublish")[0]).channels,
            Channels::Keys
        );
    }
}
