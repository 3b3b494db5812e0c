//! A request's arguments copied out of the read buffer, for work that
//! outlives the request (a deferred reply, a script's call).

use crate::protocol::Args;

/// A request's arguments copied out of the read buffer, for a deferred
/// reply that outlives it.
#[derive(Debug)]
pub struct OwnedArgs {
    bytes: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl OwnedArgs {
    /// Copies a request's arguments.
    pub fn copy(args: Args<'_>) -> OwnedArgs {
        let mut bytes = Vec::new();
        let mut ranges = Vec::with_capacity(args.len());
        for arg in args.iter_from(0) {
            ranges.push((bytes.len(), bytes.len() + arg.len()));
            bytes.extend_from_slice(arg);
        }
        OwnedArgs { bytes, ranges }
    }

    /// The memory it holds, near enough to bound a queue of them.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<OwnedArgs>()
            + self.bytes.capacity()
            + self.ranges.capacity() * std::mem::size_of::<(usize, usize)>()
    }

    /// Copies arguments given as slices (a script's call).
    pub fn copy_slices(args: &[&[u8]]) -> OwnedArgs {
        let mut bytes = Vec::new();
        let mut ranges = Vec::with_capacity(args.len());
        for arg in args {
            ranges.push((bytes.len(), bytes.len() + arg.len()));
            bytes.extend_from_slice(arg);
        }
        OwnedArgs { bytes, ranges }
    }

    /// The copied arguments.
    pub fn args(&self) -> Args<'_> {
        Args::new(&self.bytes, &self.ranges)
    }
}
