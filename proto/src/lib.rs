//! ringcache-proto: what a ringcache node and its clients must agree on,
//! in one crate both depend on.
//!
//! - [`resp`]: RESP2/RESP3 encoding and a bounded decoder for replies;
//! - [`slot`]: key to slot, as Redis Cluster computes it (CRC16, hash tags);
//! - [`ring`]: the consistent hash ring that places slots on nodes;
//! - [`topology`]: the reader of `CLUSTER SLOTS` replies.

pub mod resp;
pub mod ring;
pub mod slot;
pub mod topology;

pub use resp::Value;
pub use ring::{NodeIndex, Placement, Ring, RingMember, DEFAULT_VNODES};
pub use slot::{key_slot, SLOT_COUNT};
