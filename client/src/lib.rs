//! ringcache-client: the pieces a ringcache node and its clients share.
//!
//! For now this is the key-to-slot mapping (Redis Cluster compatible, so
//! cluster-aware Redis clients route the same way) and the RESP encoding and
//! decoding helpers that the node, the tests and the load generator use.

pub mod resp;
pub mod slot;

pub use slot::{key_slot, SLOT_COUNT};
