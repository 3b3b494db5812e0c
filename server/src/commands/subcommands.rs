//! Container commands (CLIENT, CONFIG, OBJECT, ...) as data: each
//! subcommand is a row ([`SubSpec`]) with its own arity, flags, keys, ACL
//! categories, handler and HELP lines, and one dispatcher finds it, checks
//! its arity and answers HELP and unknown subcommands in Redis 7's words.

use super::spec::{Categories, CommandSpec, Flags, Handler, KeySpec};
use super::{Ctx, Outcome};
use crate::protocol::Args;

/// One subcommand of a container command: its own row (arity, flags,
/// keys, ACL categories and handler, all of the whole request, container
/// name included) and its HELP lines.
#[derive(Debug, Clone, Copy)]
pub struct SubSpec {
    /// The row; its name is the subcommand's, lower case.
    pub command: CommandSpec,
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
            command: CommandSpec::new(name, handler, arity, flags, "", ""),
            help,
        }
    }

    /// Lower-case name.
    pub const fn name(&self) -> &'static str {
        self.command.name
    }

    /// Its keys.
    pub const fn keys(mut self, keys: KeySpec) -> SubSpec {
        self.command = self.command.keys(keys);
        self
    }

    /// Its ACL categories besides those its flags imply.
    pub const fn acl(mut self, acl: Categories) -> SubSpec {
        self.command = self.command.acl(acl);
        self
    }

    /// This subcommand as a command of its own, routed, documented and
    /// redacted as its container (COMMAND lists it as `container|name`).
    pub fn as_command(&self, container: &CommandSpec) -> CommandSpec {
        CommandSpec {
            name: container.name,
            routing: container.routing,
            group: container.group,
            summary: container.summary,
            redact: container.redact,
            ..self.command
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
        .find(|sub| name.eq_ignore_ascii_case(sub.name().as_bytes()));
    if let Some(sub) = found {
        if !sub.command.arity_ok(args.len()) {
            return ctx.fail(&format!(
                "ERR wrong number of arguments for '{}|{}' command",
                container.name,
                sub.name()
            ));
        }
        return (sub.command.handler)(ctx, args);
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
