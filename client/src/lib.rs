//! ringcache-client: the pieces a ringcache node and its clients share.
//!
//! For now this is the key-to-slot mapping (Redis Cluster compatible, so
//! cluster-aware Redis clients route the same way), the consistent hash ring
//! that places slots on nodes (so a node and a client compute the same owners),
//! and the RESP encoding and decoding helpers that the node, the tests and the
//! load generator use.

pub mod resp;
pub mod ring;
pub mod slot;

pub use ring::{NodeIndex, Placement, Ring, RingMember, DEFAULT_VNODES};
pub use slot::{key_slot, SLOT_COUNT};
