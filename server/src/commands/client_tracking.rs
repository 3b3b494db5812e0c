//! CLIENT's client-side caching subcommands: TRACKING, CACHING, GETREDIR
//! and TRACKINGINFO, with Redis 7's options and errors (the tracking
//! itself is `crate::tracking`).

use super::args::{is, parse_i64, NOT_INTEGER, SYNTAX};
use super::{Ctx, Outcome};
use crate::clients::TrackingMode as M;
use crate::protocol::Args;

/// CLIENT TRACKING's options, as parsed.
struct Options<'a> {
    redirect: u64,
    mode: M,
    prefixes: Vec<&'a [u8]>,
}

/// Reads the options after `on|off`; `Err` is the reply.
fn parse_options<'a>(ctx: &Ctx<'_>, args: Args<'a>) -> Result<Options<'a>, &'static str> {
    let mut options = Options {
        redirect: 0,
        mode: M::default(),
        prefixes: Vec::new(),
    };
    let mut i = 3;
    while i < args.len() {
        let arg = args.get(i);
        let more = i + 1 < args.len();
        if is(arg, "redirect") && more {
            i += 1;
            if options.redirect != 0 {
                return Err("ERR A client can only redirect to a single other client");
            }
            let id = parse_i64(args.get(i)).ok_or(NOT_INTEGER)?;
            let found = u64::try_from(id)
                .ok()
                .filter(|id| *id > 0 && ctx.node.clients.get(*id).is_some());
            options.redirect =
                found.ok_or("ERR The client ID you want redirect to does not exist")?;
        } else if is(arg, "bcast") {
            options.mode = options.mode.with(M::BCAST);
        } else if is(arg, "optin") {
            options.mode = options.mode.with(M::OPTIN);
        } else if is(arg, "optout") {
            options.mode = options.mode.with(M::OPTOUT);
        } else if is(arg, "noloop") {
            options.mode = options.mode.with(M::NOLOOP);
        } else if is(arg, "prefix") && more {
            i += 1;
            options.prefixes.push(args.get(i));
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    Ok(options)
}

/// Redis's refusal of options that do not go together, or with the
/// client's current mode.
fn incompatible(current: M, options: &Options<'_>) -> Option<&'static str> {
    let new = options.mode;
    if !new.has(M::BCAST) && !options.prefixes.is_empty() {
        return Some("ERR PREFIX option requires BCAST mode to be enabled");
    }
    if current.has(M::ON) && current.has(M::BCAST) != new.has(M::BCAST) {
        return Some("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if new.has(M::BCAST) && (new.has(M::OPTIN) || new.has(M::OPTOUT)) {
        return Some("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if new.has(M::OPTIN) && new.has(M::OPTOUT) {
        return Some("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if (new.has(M::OPTIN) && current.has(M::OPTOUT))
        || (new.has(M::OPTOUT) && current.has(M::OPTIN))
    {
        return Some("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    None
}

/// CLIENT TRACKING on|off [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN]
/// [OPTOUT] [NOLOOP]
pub(super) fn tracking(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let options = match parse_options(ctx, args) {
        Ok(options) => options,
        Err(error) => return ctx.fail(error),
    };
    let handle = ctx.session.handle.clone();
    let node = ctx.node;
    if is(args.get(2), "on") {
        let current = handle.tracking.mode();
        if let Some(error) = incompatible(current, &options) {
            return ctx.fail(error);
        }
        if options.mode.has(M::BCAST) {
            if let Err(error) = node.tracking.check_prefixes(handle.id, &options.prefixes) {
                return ctx.fail(&error);
            }
        }
        let caching = M(current.0 & M::CACHING.0);
        let mode = options.mode.with(caching);
        node.tracking
            .enable(&handle, mode, options.redirect, &options.prefixes);
    } else if is(args.get(2), "off") {
        node.tracking.disable(&handle);
    } else {
        return ctx.fail(SYNTAX);
    }
    ctx.reply.ok();
    Outcome::Unchanged
}

/// CLIENT CACHING yes|no: in OPTIN mode, remember the keys of the next
/// command; in OPTOUT mode, do not.
pub(super) fn caching(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let tracking = &ctx.session.handle.tracking;
    let mode = tracking.mode();
    if !mode.has(M::ON) {
        return ctx.fail("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    }
    let answer = args.get(2);
    if is(answer, "yes") {
        if !mode.has(M::OPTIN) {
            return ctx.fail(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if is(answer, "no") {
        if !mode.has(M::OPTOUT) {
            return ctx.fail(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return ctx.fail(SYNTAX);
    }
    tracking.insert(M::CACHING);
    ctx.reply.ok();
    Outcome::Unchanged
}

/// CLIENT GETREDIR: the redirect target's id, 0 without one, -1 when not
/// tracking.
pub(super) fn getredir(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let tracking = &ctx.session.handle.tracking;
    let id = if tracking.mode().has(M::ON) {
        tracking.redirect() as i64
    } else {
        -1
    };
    ctx.reply.int(id);
    Outcome::Unchanged
}

/// CLIENT TRACKINGINFO: flags (a set), redirect, prefixes, as Redis.
pub(super) fn trackinginfo(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    let handle = &ctx.session.handle;
    let mode = handle.tracking.mode();
    let on = mode.has(M::ON);
    let mut flags = vec![if on { "on" } else { "off" }];
    let named = [
        (M::BCAST, "bcast"),
        (M::OPTIN, "optin"),
        (M::OPTIN.with(M::CACHING), "caching-yes"),
        (M::OPTOUT, "optout"),
        (M::OPTOUT.with(M::CACHING), "caching-no"),
        (M::NOLOOP, "noloop"),
        (M::BROKEN_REDIRECT, "broken_redirect"),
    ];
    flags.extend(named.iter().filter(|(m, _)| mode.has(*m)).map(|(_, n)| *n));
    let prefixes = ctx.node.tracking.prefixes_of(handle.id);
    let redirect = if on {
        handle.tracking.redirect() as i64
    } else {
        -1
    };
    ctx.reply.map(3);
    ctx.reply.bulk(b"flags");
    ctx.reply.set(flags.len());
    for flag in flags {
        ctx.reply.bulk(flag.as_bytes());
    }
    ctx.reply.bulk(b"redirect");
    ctx.reply.int(redirect);
    ctx.reply.bulk(b"prefixes");
    ctx.reply.array(prefixes.len());
    for prefix in &prefixes {
        ctx.reply.bulk(prefix);
    }
    Outcome::Unchanged
}
