//! The cluster's side of cluster-wide keyless commands
//! (`cluster-keyless-scope cluster`, proxy mode; merged in
//! `commands/keyless.rs`): the ring they walk, and each ring node's part,
//! asked as `RCKEYLESS` over the link to that node and bounded in time.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use bytes::BytesMut;
use ringcache_proto::resp;

use super::link::Link;
use crate::commands::{Asked, KeylessRing, RingNode};

/// Longest a node waits for another's part: past it the reply is an error
/// naming that node.
const PART_TIMEOUT: Duration = Duration::from_secs(5);

impl Link {
    /// The ring a client's keyless command answers for, or `None` (for
    /// this node): `cluster-keyless-scope node`, or redirect mode, where
    /// cluster clients ask every primary themselves.
    pub(super) fn ring_for_keyless(&self) -> Option<KeylessRing> {
        if self.cluster.settings.redirect || !self.node.config.read().cluster_keyless_wide {
            return None;
        }
        let view = self.cluster.view();
        let mut hasher = DefaultHasher::new();
        let nodes: Vec<RingNode> = view
            .placement
            .nodes()
            .iter()
            .zip(&view.addrs)
            .enumerate()
            .map(|(index, (member, &addr))| {
                (&member.name, member.weight, addr).hash(&mut hasher);
                RingNode {
                    name: member.name.clone(),
                    addr,
                    here: view.me.is_some_and(|me| usize::from(me) == index),
                }
            })
            .collect();
        if nodes.is_empty() {
            return None;
        }
        Some(KeylessRing {
            nodes,
            fingerprint: hasher.finish(),
        })
    }

    /// Sends `RCKEYLESS args...` to `node` (a RESP2 link); given up on
    /// after [`PART_TIMEOUT`], the link is aborted so the request does not
    /// run later (a FLUSHALL after its error was reported).
    pub(super) fn ask_for_keyless(&self, node: &RingNode, args: &[&[u8]]) -> Asked {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(args.len() + 1);
        parts.push(b"RCKEYLESS");
        parts.extend_from_slice(args);
        let mut command = BytesMut::new();
        resp::write_command(&mut command, &parts);
        let reply = self.cluster.peers.send(node.addr, false, command.freeze());
        let peers = self.cluster.peers.clone();
        let addr = node.addr;
        Box::pin(async move {
            match tokio::time::timeout(PART_TIMEOUT, reply).await {
                Ok(Ok(Ok(frame))) => Ok(frame),
                Ok(Ok(Err(error))) => Err(error.to_string()),
                Ok(Err(_)) => Err("link closed".to_string()),
                Err(_) => {
                    peers.abort(addr);
                    Err(format!("no reply within {} s", PART_TIMEOUT.as_secs()))
                }
            }
        })
    }
}
