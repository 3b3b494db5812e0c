//! The command table: every family's section (declared at the top of the
//! family's file) in one list, and the lookup by name. A command's index
//! in [`commands`] is its id for per-command statistics.

use std::sync::LazyLock;

use hashbrown::HashMap;

use super::lists_blocking;
use super::spec::{CommandSpec, Flags};
use super::{acl, bitmaps, client_admin, clustering, command, configuration, databases, functions};
use super::{hashes, hyperloglog, info, introspection, keys, latency, lcs, leases, lists};
use super::{monitoring, sorted_sets, strings, transactions};
use super::{pubsub, scripting, server_admin, session, sets, sorted_set_blocking};

/// The families' sections, in the order COMMAND lists them (one line per
/// family: a new family adds its line).
const SECTIONS: &[&[CommandSpec]] = &[
    session::COMMANDS,
    databases::COMMANDS,
    transactions::COMMANDS,
    client_admin::COMMANDS,
    command::COMMANDS,
    strings::COMMANDS,
    leases::COMMANDS,
    lcs::COMMANDS,
    keys::COMMANDS,
    hashes::COMMANDS,
    bitmaps::COMMANDS,
    hyperloglog::COMMANDS,
    sorted_sets::COMMANDS,
    sorted_set_blocking::COMMANDS,
    sets::COMMANDS,
    lists::COMMANDS,
    lists_blocking::COMMANDS,
    pubsub::COMMANDS,
    scripting::COMMANDS,
    functions::COMMANDS,
    info::COMMANDS,
    configuration::COMMANDS,
    acl::COMMANDS,
    introspection::COMMANDS,
    server_admin::COMMANDS,
    latency::COMMANDS,
    monitoring::COMMANDS,
    clustering::COMMANDS,
];

static ALL: LazyLock<Vec<&'static CommandSpec>> =
    LazyLock::new(|| SECTIONS.iter().flat_map(|section| section.iter()).collect());

/// Longest command name; longer names cannot be commands.
const MAX_NAME: usize = 32;

/// Commands by name. Looked up once per request: a fixed table of names
/// has no use for a DoS-resistant (and slower) hash.
static BY_NAME: LazyLock<HashMap<&'static [u8], (usize, &'static CommandSpec)>> =
    LazyLock::new(|| {
        commands()
            .iter()
            .enumerate()
            .map(|(i, &c)| (c.name.as_bytes(), (i, c)))
            .collect()
    });

/// Every command, in table order.
pub fn commands() -> &'static [&'static CommandSpec] {
    &ALL
}

/// Finds a command and its index in [`commands`] by name, any case,
/// without allocating.
#[inline]
pub fn lookup_indexed(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut lower = [0u8; MAX_NAME];
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    BY_NAME.get(&lower[..name.len()]).copied()
}

/// Finds a command by name, any case.
#[inline]
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_indexed(name).map(|(_, spec)| spec)
}

/// True for the commands clients see in COMMAND: all but those only
/// cluster nodes send each other.
fn is_listed(spec: &CommandSpec) -> bool {
    !spec.has(Flags::PEER) && !spec.has(Flags::HANDSHAKE)
}

/// The commands COMMAND lists, in table order.
pub fn listed() -> impl Iterator<Item = &'static CommandSpec> + Clone {
    commands().iter().copied().filter(|spec| is_listed(spec))
}

/// Finds a command COMMAND lists, by name, any case.
pub fn lookup_listed(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup(name).filter(|spec| is_listed(spec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::spec::{KeySpec, Routing};

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn commands_only_nodes_send_are_not_listed() {
        let peer_only = [
            "rcpeer",
            "rcapply",
            "rceffect",
            "rchandoff",
            "rcread",
            "rcexport",
            "rcdump",
            "rcwait",
            "rcstates",
            "rctrack",
            "rcinvalidate",
            "rcacl",
            "rckeyless",
            "rcexec",
            "rcpublish",
        ];
        for name in peer_only {
            assert!(lookup(name.as_bytes()).is_some(), "{name}");
            assert!(lookup_listed(name.as_bytes()).is_none(), "{name}");
            assert!(listed().all(|spec| spec.name != name), "{name}");
        }
        // Exactly those: every other command is listed.
        let mut unlisted: Vec<&str> = commands()
            .iter()
            .filter(|spec| !is_listed(spec))
            .map(|spec| spec.name)
            .collect();
        unlisted.sort_unstable();
        let mut expected = peer_only.to_vec();
        expected.sort_unstable();
        assert_eq!(unlisted, expected);
        assert!(lookup_listed(b"GET").is_some());
    }

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut names: Vec<_> = commands().iter().map(|c| c.name).collect();
        // Module-style names (`rc.lease.get`) carry their prefix's dots.
        assert!(names.iter().all(|n| n
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), commands().len());
    }

    #[test]
    fn rows_are_consistent() {
        for spec in commands() {
            let write = spec.has(Flags::WRITE);
            let read = spec.has(Flags::READONLY);
            assert!(!(write && read), "{}: write and readonly", spec.name);
            let keyed = !matches!(spec.keys, KeySpec::None);
            let routed_by_keys = matches!(
                spec.routing,
                Routing::Slot | Routing::Split(_) | Routing::Gather
            );
            // A keyed command may also stay here and check the owner of its
            // keys itself (WATCH); a keyless one cannot be routed by keys.
            assert!(
                routed_by_keys == keyed || (keyed && spec.routing == Routing::ThisNode),
                "{}: keys and routing disagree",
                spec.name
            );
            if let KeySpec::Range { first, step, .. } = spec.keys {
                assert!(first > 0 && step > 0, "{}", spec.name);
                assert!(spec.arity.unsigned_abs() as i32 > first, "{}", spec.name);
            }
            if spec.has(Flags::DENYOOM) {
                assert!(write, "{}: denyoom but not a write", spec.name);
            }
        }
    }
}
