//! ringcache-proto: what a ringcache node and its clients must agree on,
//! in one crate both depend on (the node does not depend on the client).
//!
//! - [`clock`]: Unix time as integers, and stamps that never repeat
//!   (the client's entry versions, a node's start generation);
//! - [`resp`]: RESP2/RESP3 encoding, a bounded decoder for replies, and
//!   [`resp::frame_len`], which finds a frame's end without decoding it;
//! - [`slot`]: key to slot, as Redis Cluster computes it (CRC16, hash tags);
//! - [`ring`]: the consistent hash ring that places slots on nodes;
//! - [`link`]: one pipelined, multiplexed connection with replies matched to
//!   requests in order: the client's connections and the node's peer links
//!   both run on it, each with its own dialing and handshake;
//! - [`topology`]: the reader of `CLUSTER SLOTS` replies (the client's
//!   router and the load generator);
//! - [`wire`]: the commands nodes send each other (`RCAPPLY`, `RCEXPORT`
//!   pages, `RCHANDOFF`), with one strict decoder of a key's state.
#![forbid(unsafe_code)]

pub mod clock;
pub mod link;
pub mod resp;
pub mod ring;
pub mod slot;
pub mod topology;
pub mod wire;

pub use resp::Value;
pub use ring::{NodeIndex, Placement, Ring, RingMember, DEFAULT_VNODES};
pub use slot::{key_slot, SLOT_COUNT};
