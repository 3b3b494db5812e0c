//! ACL changes across a cluster: a change made by a client here (ACL
//! SETUSER, DELUSER, LOAD) is stamped and sent to every other node as
//! `RCACL <stamp> <origin> <users>` (the whole user set, in the ACL
//! file's format) over the authenticated peer links; a node keeps the
//! newest set it heard of. A node joining later gets the set from the
//! nodes already there (`cluster::acl_sync`). The `default` user is in
//! the set like any other: CONFIG SET requirepass is a change of it
//! (`commands::configuration`), sent as its digest, never the password.

use bytes::BytesMut;

use super::{Ctx, Outcome, OwnedArgs};
use crate::acl::{self, Stamp};
use crate::protocol::Args;
use crate::state::NodeState;

/// The reply of the change.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// `+OK`.
    Ok,
    /// An integer.
    Int(i64),
}

/// The arguments of RCACL carrying this node's user set at `stamp`.
fn parts(node: &NodeState, stamp: &Stamp) -> [Vec<u8>; 4] {
    let users = node.acl.users();
    let text = acl::render_file(users.iter().map(|u| &**u));
    [
        b"RCACL".to_vec(),
        stamp.at.to_string().into_bytes(),
        stamp.origin.clone().into_bytes(),
        text.into_bytes(),
    ]
}

/// The RCACL request carrying this node's user set, if it changed since
/// the node started (a node joining gets it).
pub fn request(node: &NodeState) -> Option<bytes::Bytes> {
    let stamp = node.acl.stamp();
    if stamp == Stamp::default() {
        return None;
    }
    let mut out = BytesMut::new();
    ringcache_proto::resp::write_command(&mut out, &parts(node, &stamp));
    Some(out.freeze())
}

/// Answers a change of the user set made here, after stamping it and
/// sending it to every other node of a cluster (waiting, within the
/// cluster layer's bound, until they have it: the client's next request
/// may go to any node).
pub fn changed(ctx: &mut Ctx<'_>, answer: Answer) -> Outcome {
    let mut out = BytesMut::new();
    match answer {
        Answer::Ok => ringcache_proto::resp::write_simple(&mut out, b"OK"),
        Answer::Int(n) => ringcache_proto::resp::write_int(&mut out, n),
    }
    let stamp = ctx.node.acl.stamp_change(&ctx.node.run_id);
    let others = if ctx.cluster.is_some() && !ctx.session.peer {
        let parts = parts(ctx.node, &stamp);
        let owned = OwnedArgs::copy_slices(&parts.each_ref().map(Vec::as_slice));
        ctx.with_cluster(|port, _| port.broadcast(owned.args()))
            .flatten()
    } else {
        None
    };
    ctx.reply_after(out, others);
    Outcome::Unchanged
}

/// RCACL at origin users: another node's user set, taken if newer than
/// this node's; connections of users it no longer has are closed.
pub fn rcacl(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let Some(at) = super::args::parse_i64(args.get(1)).and_then(|n| u64::try_from(n).ok()) else {
        return ctx.fail("ERR malformed RCACL");
    };
    let origin = String::from_utf8_lossy(args.get(2)).into_owned();
    let text = String::from_utf8_lossy(args.get(3));
    // The set is written out in full (every user's channels spelled
    // out), so this node's acl-pubsub-default does not change it.
    let users = match acl::parse_file("RCACL", &text, false) {
        Ok(users) => users,
        Err(e) => return ctx.fail(&format!("ERR {e}")),
    };
    if let Some(gone) = ctx.node.acl.accept(Stamp { at, origin }, users) {
        super::acl::kill_clients_of(ctx, &gone);
        super::acl::kill_revoked_subscribers(ctx);
        warn_if_requirepass_replaced(ctx.node);
    }
    ctx.reply.ok();
    Outcome::Unchanged
}

/// The cluster's `default` user is in force here even where this node's
/// own `requirepass` says otherwise (as after ACL SETUSER default on a
/// single Redis node, CONFIG GET requirepass still shows the old value):
/// say so once per change, so the operator sees why it no longer works.
fn warn_if_requirepass_replaced(node: &NodeState) {
    let requirepass = node.config.read().requirepass.clone();
    if let Some(password) = requirepass {
        if !node.acl.default_user().password_ok(password.as_bytes()) {
            tracing::warn!("this node's requirepass no longer authenticates the default user: the cluster's newer user set replaced it");
        }
    }
}
