//! CLIENT subcommands that change how the node treats clients: PAUSE and
//! UNPAUSE (`crate::pause`), REPLY (the connection drops the replies,
//! `pipeline`), NO-EVICT and NO-TOUCH (reads through a store handle that
//! leaves the keys' access time, `NodeState::untouched`). Their rows are in `client_admin.rs`'s CLIENT
//! container; the handlers live apart so each CLIENT feature stays in its
//! own place.

use std::time::Duration;

use super::args::{is, parse_i64, SYNTAX};
use super::{Ctx, Outcome};
use crate::clients::Mode as ClientMode;
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

/// CLIENT REPLY's state for one connection, as Redis's client flags.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplyMode {
    /// CLIENT REPLY OFF: no replies until ON.
    off: bool,
    /// This request's reply is skipped.
    skip: bool,
    /// The next request's reply is skipped (CLIENT REPLY SKIP).
    skip_next: bool,
}

impl ReplyMode {
    /// True when the request being run gets no reply (nor do MONITOR
    /// lines and RESP2 messages while replies are off).
    #[inline]
    pub fn suppressing(&self) -> bool {
        self.off || self.skip
    }

    /// True while replies are off.
    #[inline]
    pub fn off(&self) -> bool {
        self.off
    }

    /// A request was processed: a SKIP applies to the next one only (as
    /// Redis's `resetClient`).
    #[inline]
    pub fn next_request(&mut self) {
        self.skip = std::mem::take(&mut self.skip_next);
    }
}

/// CLIENT REPLY ON|OFF|SKIP: only ON answers (OK).
pub fn reply(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let mode = &mut ctx.session.reply_mode;
    let how = args.get(2);
    if is(how, "on") {
        mode.off = false;
        mode.skip = false;
        ctx.reply.ok();
    } else if is(how, "off") {
        mode.off = true;
    } else if is(how, "skip") {
        if !mode.off {
            mode.skip_next = true;
        }
    } else {
        return ctx.fail(SYNTAX);
    }
    Outcome::Unchanged
}

/// `on` or `off`, any case.
fn on_off(word: &[u8]) -> Option<bool> {
    if is(word, "on") {
        Some(true)
    } else if is(word, "off") {
        Some(false)
    } else {
        None
    }
}

/// CLIENT NO-EVICT on|off: recorded and shown (CLIENT LIST's `e`). This
/// node never evicts clients to bound their memory (Redis's
/// `maxmemory-clients`), so it exempts the client from nothing more.
pub fn no_evict(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(on) = on_off(args.get(2)) else {
        return ctx.fail(SYNTAX);
    };
    ctx.session.handle.set_mode(ClientMode::NoEvict, on);
    ctx.reply.ok();
    Outcome::Unchanged
}

/// CLIENT NO-TOUCH on|off: this client's reads leave the keys' LRU/LFU
/// access time (OBJECT IDLETIME, eviction) as it was; TOUCH still
/// touches.
pub fn no_touch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(on) = on_off(args.get(2)) else {
        return ctx.fail(SYNTAX);
    };
    ctx.session.no_touch = on;
    ctx.session.handle.set_mode(ClientMode::NoTouch, on);
    ctx.reply.ok();
    Outcome::Unchanged
}

/// RESET: the modes back to a new connection's (replies on, evictable,
/// touching).
pub fn reset(ctx: &mut Ctx<'_>) {
    ctx.session.reply_mode = ReplyMode::default();
    ctx.session.no_touch = false;
    ctx.session.handle.set_mode(ClientMode::NoEvict, false);
    ctx.session.handle.set_mode(ClientMode::NoTouch, false);
}
