//! Pub/Sub commands: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNs,
//! PUBLISH, SPUBLISH and PUBSUB. Messages reach subscribers through their
//! connection's inbox (`crate::pubsub`); in a cluster PUBLISH also goes to
//! every other node (RCPUBLISH) and SPUBLISH to its channel's slot owner.

use bytes::Bytes;

use super::spec::{Categories as C, CommandSpec as Cmd, Flags as F, KeySpec, Routing};
use super::subcommands::SubSpec as Sub;
use super::{Ctx, Outcome};
use crate::inbox::Inbox;
use crate::protocol::Args;
use crate::pubsub::{Kind, Push, Subscriptions};

const PS: C = C::PUBSUB;
/// Flags of the (un)subscribe commands.
const SUBSCRIBING: F = F::PUBSUB.with(F::NOSCRIPT).with(F::LOADING).with(F::STALE);
const PUBLISHING: F = F::PUBSUB.with(F::LOADING).with(F::STALE).with(F::FAST);
const INTROSPECTION: F = F::PUBSUB.with(F::LOADING).with(F::STALE);

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("subscribe", subscribe, -2, SUBSCRIBING, "pubsub", "Listens for messages published to channels.").acl(PS),
    Cmd::new("psubscribe", psubscribe, -2, SUBSCRIBING, "pubsub", "Listens for messages published to channels that match one or more patterns.").acl(PS),
    Cmd::new("ssubscribe", ssubscribe, -2, SUBSCRIBING, "pubsub", "Listens for messages published to shard channels.").keys(KeySpec::ALL).acl(PS).routing(Routing::ThisNode),
    Cmd::new("unsubscribe", unsubscribe, -1, SUBSCRIBING, "pubsub", "Stops listening to messages posted to channels.").acl(PS),
    Cmd::new("punsubscribe", punsubscribe, -1, SUBSCRIBING, "pubsub", "Stops listening to messages published to channels that match one or more patterns.").acl(PS),
    Cmd::new("sunsubscribe", sunsubscribe, -1, SUBSCRIBING, "pubsub", "Stops listening to messages posted to shard channels.").acl(PS),
    Cmd::new("publish", publish, 3, PUBLISHING.with(F::MAY_REPLICATE), "pubsub", "Posts a message to a channel.").acl(PS),
    Cmd::new("spublish", spublish, 3, PUBLISHING.with(F::MAY_REPLICATE), "pubsub", "Post a message to a shard channel").keys(KeySpec::ONE).acl(PS),
    Cmd::new("rcpublish", rcpublish, 3, F::PEER.with(PUBLISHING), "pubsub", "Delivers a message another node published to this node's subscribers.").acl(PS).routing(Routing::Cluster),
    Cmd::new("pubsub", super::container, -2, F::NONE, "pubsub", "A container for Pub/Sub commands.").routing(Routing::ThisNode).subcommands(&[
        Sub::new("channels", channels, -2, INTROSPECTION, &["CHANNELS [<pattern>]", "    Return the currently active channels matching a <pattern> (default: '*')."]),
        Sub::new("numpat", numpat, 2, INTROSPECTION, &["NUMPAT", "    Return number of subscriptions to patterns."]),
        Sub::new("numsub", numsub, -2, INTROSPECTION, &["NUMSUB [<channel> ...]", "    Return the number of subscribers for the specified channels, excluding", "    pattern subscriptions(default: no channels)."]),
        Sub::new("shardchannels", shardchannels, -2, INTROSPECTION, &["SHARDCHANNELS [<pattern>]", "    Return the currently active shard level channels matching a <pattern> (default: '*')."]),
        Sub::new("shardnumsub", shardnumsub, -2, INTROSPECTION, &["SHARDNUMSUB [<shardchannel> ...]", "    Return the number of subscribers for the specified shard level channel(s)"]),
    ]),
];

/// The (un)subscribe confirmation kinds, by subscription kind.
fn confirmation(kind: Kind, subscribing: bool) -> &'static [u8] {
    match (kind, subscribing) {
        (Kind::Channel, true) => b"subscribe",
        (Kind::Pattern, true) => b"psubscribe",
        (Kind::Shard, true) => b"ssubscribe",
        (Kind::Channel, false) => b"unsubscribe",
        (Kind::Pattern, false) => b"punsubscribe",
        (Kind::Shard, false) => b"sunsubscribe",
    }
}

/// The session's subscriptions, created with its inbox on first use.
fn subscriptions<'s>(ctx: &'s mut Ctx<'_>) -> &'s mut Subscriptions {
    let registry = ctx.node.pubsub.clone();
    let handle = ctx.session.handle.clone();
    ctx.session
        .subscriptions
        .get_or_insert_with(|| Subscriptions::new(registry, handle))
}

fn add(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> Outcome {
    for name in args.iter_from(1) {
        let count = subscriptions(ctx).add(kind, name);
        confirm(ctx, kind, true, Some(name), count);
    }
    Outcome::Unchanged
}

fn remove(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> Outcome {
    let names: Vec<Bytes> = if args.len() > 1 {
        args.iter_from(1).map(Bytes::copy_from_slice).collect()
    } else {
        ctx.session
            .subscriptions
            .as_ref()
            .map(|s| s.names(kind))
            .unwrap_or_default()
    };
    if names.is_empty() {
        let count = ctx
            .session
            .subscriptions
            .as_ref()
            .map_or(0, |s| s.count(kind));
        confirm(ctx, kind, false, None, count);
    }
    for name in &names {
        let count = match ctx.session.subscriptions.as_mut() {
            Some(subscriptions) => subscriptions.remove(kind, name),
            None => 0,
        };
        confirm(ctx, kind, false, Some(name), count);
    }
    if ctx.session.subscriptions.as_ref().is_some_and(|s| !s.any()) {
        ctx.session.subscriptions = None;
    }
    Outcome::Unchanged
}

/// `[subscribe|unsubscribe|..., name or nil, count]`, a push in RESP3.
fn confirm(ctx: &mut Ctx<'_>, kind: Kind, subscribing: bool, name: Option<&[u8]>, count: usize) {
    ctx.reply.push(3);
    ctx.reply.bulk(confirmation(kind, subscribing));
    ctx.reply.opt_bulk(name);
    ctx.reply.int(count as i64);
}

/// SUBSCRIBE channel [channel ...]
fn subscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    add(ctx, args, Kind::Channel)
}

/// PSUBSCRIBE pattern [pattern ...]
fn psubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    add(ctx, args, Kind::Pattern)
}

/// SSUBSCRIBE shardchannel [shardchannel ...]: on a cluster node, the
/// channels' slot must be this node's (SPUBLISH goes to the owner).
fn ssubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if let Some(cluster) = ctx.cluster.as_deref() {
        let slot = ringcache_proto::key_slot(args.get(1));
        if args
            .iter_from(2)
            .any(|c| ringcache_proto::key_slot(c) != slot)
        {
            return ctx.fail("CROSSSLOT Keys in request don't hash to the same slot");
        }
        if let Err(error) = cluster.owned_here(args.get(1), "SSUBSCRIBE") {
            return ctx.fail(&error);
        }
    }
    add(ctx, args, Kind::Shard)
}

/// UNSUBSCRIBE [channel ...]
fn unsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    remove(ctx, args, Kind::Channel)
}

/// PUNSUBSCRIBE [pattern ...]
fn punsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    remove(ctx, args, Kind::Pattern)
}

/// SUNSUBSCRIBE [shardchannel ...]
fn sunsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    remove(ctx, args, Kind::Shard)
}

/// PUBLISH channel message: the receivers on this node (as Redis Cluster
/// counts them); a cluster node also sends it to every other node.
fn publish(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let channel = Bytes::copy_from_slice(args.get(1));
    let message = Bytes::copy_from_slice(args.get(2));
    let received = ctx.node.pubsub.publish(Kind::Channel, &channel, &message);
    if !ctx.session.peer {
        ctx.with_cluster(|port, _| port.publish_elsewhere(&channel, &message));
    }
    ctx.reply.int(received as i64);
    Outcome::Unchanged
}

/// SPUBLISH shardchannel message (routed to the channel's slot owner).
fn spublish(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let channel = Bytes::copy_from_slice(args.get(1));
    let message = Bytes::copy_from_slice(args.get(2));
    let received = ctx.node.pubsub.publish(Kind::Shard, &channel, &message);
    ctx.reply.int(received as i64);
    Outcome::Unchanged
}

fn list_channels(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> Outcome {
    if args.len() > 3 {
        return ctx.unknown_subcommand(args.get(1), "PUBSUB");
    }
    let names = ctx.node.pubsub.channels(kind, args.try_get(2));
    ctx.reply.array(names.len());
    for name in &names {
        ctx.reply.bulk(name);
    }
    Outcome::Unchanged
}

/// NUMSUB and SHARDNUMSUB: a flat array of name, count pairs in RESP3 as
/// in RESP2 (Redis does not answer them with a map).
fn count_listeners(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> Outcome {
    let names: Vec<&[u8]> = args.iter_from(2).collect();
    ctx.reply.array(names.len() * 2);
    for name in names {
        let listeners = ctx.node.pubsub.listeners(kind, name);
        ctx.reply.bulk(name);
        ctx.reply.int(listeners as i64);
    }
    Outcome::Unchanged
}

/// PUBSUB CHANNELS [pattern]
fn channels(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    list_channels(ctx, args, Kind::Channel)
}

/// PUBSUB SHARDCHANNELS [pattern]
fn shardchannels(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    list_channels(ctx, args, Kind::Shard)
}

/// PUBSUB NUMSUB [channel ...]
fn numsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    count_listeners(ctx, args, Kind::Channel)
}

/// PUBSUB SHARDNUMSUB [shardchannel ...]
fn shardnumsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    count_listeners(ctx, args, Kind::Shard)
}

/// PUBSUB NUMPAT
fn numpat(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.reply
        .int(ctx.node.pubsub.pattern_subscriptions() as i64);
    Outcome::Unchanged
}

/// Whether a RESP2 connection in subscribed mode may run `spec`: only the
/// (un)subscribe commands, PING, QUIT and RESET, as Redis.
pub fn allowed_while_subscribed(spec: &Cmd) -> bool {
    spec.has(SUBSCRIBING) || spec.has(F::WHILE_SUBSCRIBED)
}

/// Redis's refusal of another command in subscribed mode.
pub fn refused_while_subscribed(name: &[u8]) -> String {
    format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        String::from_utf8_lossy(name).to_lowercase()
    )
}

/// RCPUBLISH channel message: a PUBLISH another node received, delivered
/// to this node's subscribers only.
fn rcpublish(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let channel = Bytes::copy_from_slice(args.get(1));
    let message = Bytes::copy_from_slice(args.get(2));
    let received = ctx.node.pubsub.publish(Kind::Channel, &channel, &message);
    ctx.reply.int(received as i64);
    Outcome::Unchanged
}

/// Writes the messages waiting in `inbox` to `reply`, as Redis sends them
/// (RESP3 pushes, or arrays in RESP2's subscribed mode; `subscribed` says
/// whether the connection is in it); returns how many it took.
pub fn write_pushes(
    inbox: &Inbox,
    reply: &mut crate::protocol::Reply<'_>,
    subscribed: bool,
) -> usize {
    let pushes = inbox.drain();
    for push in &pushes {
        match push {
            Push::Message {
                kind,
                channel,
                payload,
            } => {
                reply.push(3);
                reply.bulk(if *kind == Kind::Shard {
                    b"smessage"
                } else {
                    b"message"
                });
                reply.bulk(channel);
                reply.bulk(payload);
            }
            Push::PatternMessage {
                pattern,
                channel,
                payload,
            } => {
                reply.push(4);
                reply.bulk(b"pmessage");
                reply.bulk(pattern);
                reply.bulk(channel);
                reply.bulk(payload);
            }
            Push::Invalidate {
                keys,
                resp3_null,
                redirected,
            } => write_invalidation(
                reply,
                keys.as_deref(),
                *resp3_null,
                *redirected && subscribed,
            ),
            Push::RedirectBroken { target } => {
                if reply.resp3() {
                    reply.push(2);
                    reply.bulk(b"tracking-redir-broken");
                    reply.int(*target as i64);
                }
            }
        }
    }
    pushes.len()
}

/// A tracking invalidation: an `invalidate` push in RESP3; in RESP2 a
/// message on `__redis__:invalidate` for a subscribed redirect target
/// (`as_message`), nothing otherwise. The keys are an array; a flush's are
/// the tracking client's null.
fn write_invalidation(
    reply: &mut crate::protocol::Reply<'_>,
    keys: Option<&[Bytes]>,
    resp3_null: bool,
    as_message: bool,
) {
    if reply.resp3() {
        reply.push(2);
        reply.bulk(b"invalidate");
    } else if as_message {
        reply.array(3);
        reply.bulk(b"message");
        reply.bulk(b"__redis__:invalidate");
    } else {
        return;
    }
    match keys {
        Some(keys) => {
            reply.array(keys.len());
            for key in keys {
                reply.bulk(key);
            }
        }
        None => reply.raw(if resp3_null { b"_\r\n" } else { b"$-1\r\n" }),
    }
}
