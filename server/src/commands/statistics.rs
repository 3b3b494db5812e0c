//! INFO commandstats' numbering: one slot per command of the table, each
//! followed by one per subcommand (`client|list`), so a container's
//! subcommands are counted apart as Redis counts them.

use std::sync::LazyLock;

use super::{commands, CommandSpec};
use crate::command_stats::CommandStats;
use crate::protocol::Args;
use crate::state::NodeState;

struct Slots {
    /// The slot of each command, by table index.
    base: Vec<usize>,
    /// The name of each slot.
    names: Vec<String>,
}

static SLOTS: LazyLock<Slots> = LazyLock::new(|| {
    let mut base = Vec::with_capacity(commands().len());
    let mut names = Vec::new();
    for spec in commands() {
        base.push(names.len());
        names.push(spec.name.to_owned());
        for sub in spec.subcommands {
            names.push(format!("{}|{}", spec.name, sub.name()));
        }
    }
    Slots { base, names }
});

/// The slot of a request for command `index` (`spec`): its subcommand's,
/// for a container naming a known one.
#[inline]
pub fn slot(index: usize, spec: &CommandSpec, args: Args<'_>) -> usize {
    let base = SLOTS.base.get(index).copied().unwrap_or(usize::MAX);
    if spec.subcommands.is_empty() || args.len() < 2 {
        return base;
    }
    let name = args.get(1);
    spec.subcommands
        .iter()
        .position(|sub| name.eq_ignore_ascii_case(sub.name().as_bytes()))
        .map_or(base, |position| base + 1 + position)
}

/// The node's command statistics, numbered as [`slot`].
#[inline]
pub fn stats(node: &NodeState) -> &CommandStats {
    node.command_stats(|| SLOTS.names.clone())
}

/// A request for command `index` refused before it ran.
pub fn reject(node: &NodeState, index: usize, spec: &CommandSpec, args: Args<'_>) {
    stats(node).reject(slot(index, spec, args));
}
