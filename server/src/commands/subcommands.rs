//! Container commands (CLIENT, CONFIG, OBJECT, ...) as data: each
//! subcommand is a row ([`SubSpec`]) with its own arity, flags, keys, ACL
//! categories, handler and HELP lines, and one dispatcher finds it, checks
//! its arity and answers HELP and unknown subcommands in Redis 7's words.

use super::spec::{Categories, CommandSpec, Flags, Handler, KeySpec};
use super::{Ctx, Outcome};
use crate::protocol::Args;

/// One subcommand of a container command.
#[derive(Debug, Clone, Copy)]
pub struct SubSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// The code that runs it (it sees the whole request, container name
    /// included).
    pub handler: Handler,
    /// Redis arity of the whole request: n exactly, or -n for at least n.
    pub arity: i32,
    /// Flags.
    pub flags: Flags,
    /// Where its keys are (in the whole request).
    pub keys: KeySpec,
    /// ACL categories besides those its flags imply.
    pub acl: Categories,
    /// HELP lines: its syntax, then what it does (indented).
    pub help: &'static [&'static str],
}

impl SubSpec {
    /// A subcommand without keys or extra categories.
    pub const fn new(
        name: &'static str,
        handler: Handler,
        arity: i32,
        flags: Flags,
        help: &'static [&'static str],
    ) -> SubSpec {
        SubSpec {
            name,
            handler,
            arity,
            flags,
            keys: KeySpec::None,
            acl: Categories::NONE,
            help,
        }
    }

    /// Its keys.
    pub const fn keys(mut self, keys: KeySpec) -> SubSpec {
        self.keys = keys;
        self
    }

    /// Its ACL categories besides those its flags imply.
    pub const fn acl(mut self, acl: Categories) -> SubSpec {
        self.acl = acl;
        self
    }

    /// This subcommand as a command of its own, named `container|name`
    /// the way COMMAND lists it.
    pub fn as_command(&self, container: &CommandSpec) -> CommandSpec {
        CommandSpec {
            handler: self.handler,
            arity: self.arity,
            flags: self.flags,
            keys: self.keys,
            acl: self.acl,
            subcommands: &[],
            ..*container
        }
    }
}

/// Runs the subcommand `args[1]` of `container`: its handler when the name
/// and arity fit, otherwise HELP or Redis's errors.
pub fn dispatch(ctx: &mut Ctx<'_>, container: &CommandSpec, args: Args<'_>) -> Outcome {
    let name = args.get(1);
    let found = container
        .subcommands
        .iter()
        .find(|sub| name.eq_ignore_ascii_case(sub.name.as_bytes()));
    if let Some(sub) = found {
        if !container_arity_ok(sub.arity, args.len()) {
            return ctx.fail(&format!(
                "ERR wrong number of arguments for '{}|{}' command",
                container.name, sub.name
            ));
        }
        return (sub.handler)(ctx, args);
    }
    if name.eq_ignore_ascii_case(b"help") {
        if args.len() != 2 {
            return ctx.fail(&format!(
                "ERR wrong number of arguments for '{}|help' command",
                container.name
            ));
        }
        return help(ctx, container);
    }
    ctx.fail(&format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(&name[..name.len().min(128)]),
        container.name.to_ascii_uppercase()
    ))
}

fn container_arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

/// `X HELP`: the subcommands' lines, as Redis prints them.
fn help(ctx: &mut Ctx<'_>, container: &CommandSpec) -> Outcome {
    let upper = container.name.to_ascii_uppercase();
    let first = format!("{upper} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    let lines: Vec<&str> = std::iter::once(first.as_str())
        .chain(
            container
                .subcommands
                .iter()
                .flat_map(|sub| sub.help.iter().copied()),
        )
        .chain(["HELP", "    Print this help."])
        .collect();
    ctx.help(&lines)
}
