//! CLIENT subcommands that change how the node treats clients: PAUSE and
//! UNPAUSE (`crate::pause`). Their rows are in `client_admin.rs`'s CLIENT
//! container; the handlers live apart so each CLIENT feature stays in its
//! own place.

use std::time::Duration;

use super::args::{is, parse_i64};
use super::{Ctx, Outcome};
use crate::pause::Mode;
use crate::protocol::Args;

/// CLIENT PAUSE timeout [WRITE|ALL]
pub fn pause(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if args.len() > 4 {
        return ctx.unknown_subcommand(args.get(1), "CLIENT");
    }
    let mode = match args.try_get(3) {
        None => Mode::All,
        Some(m) if is(m, "write") => Mode::Write,
        Some(m) if is(m, "all") => Mode::All,
        Some(_) => return ctx.fail("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    let Some(ms) = parse_i64(args.get(2)) else {
        return ctx.fail("ERR timeout is not an integer or out of range");
    };
    let Ok(ms) = u64::try_from(ms) else {
        return ctx.fail("ERR timeout is negative");
    };
    ctx.node.pause.pause(mode, Duration::from_millis(ms));
    ctx.reply.ok();
    Outcome::Unchanged
}

/// CLIENT UNPAUSE
pub fn unpause(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.node.pause.unpause();
    ctx.reply.ok();
    Outcome::Unchanged
}
