//! Freeing large values off the request path, as Redis's lazyfree does:
//! UNLINK, DEL and `FLUSHALL ASYNC` take the value out of the table at once
//! (the key is gone for every client) and hand it to one background thread
//! that drops it, so a worker never spends a hundred milliseconds freeing
//! a million-field hash.
//!
//! Strings are freed there too when they are large (over 1 MiB): giving
//! back a 64 MiB block took 6-9 ms on the request path, measured with a
//! release build. Redis frees every string inline.
//!
//! The queue is bounded; when it is full the value is freed inline and
//! counted. The thread starts on first use and stops when the store is
//! stopped or dropped, after freeing what was queued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use hashbrown::HashTable;
use parking_lot::Mutex;
use slab::Slab;
use tracing::warn;

use super::collection::Collection;
use super::entry::Entry;
use super::grown::GrownString;

/// Values that take more than this many frees go to the background
/// thread (Redis's `LAZYFREE_THRESHOLD`).
pub const LAZYFREE_THRESHOLD: usize = 64;
/// Most values waiting for the thread.
const QUEUE_CAPACITY: usize = 1024;
/// A string counts as one free per this many bytes: returning a large
/// block to the system costs about its page count, so strings over
/// `LAZYFREE_THRESHOLD` x this (1 MiB) go to the thread.
const STRING_BYTES_PER_FREE: usize = 16 * 1024;

/// What a shard held: its table and the slabs of its boxed values.
pub type ShardContents = (HashTable<Entry>, Slab<Collection>, Slab<GrownString>);

/// Something to free.
pub enum Garbage {
    /// A removed entry and the value it owned outside its block.
    Value(Entry, Option<Boxed>),
    /// The contents of flushed shards.
    Shards(Vec<ShardContents>),
}

/// A value held outside its entry's block.
pub enum Boxed {
    /// A hash, list, set or sorted set.
    Collection(Collection),
    /// A grown string.
    Str(GrownString),
}

impl Garbage {
    /// How many frees it takes: elements of a collection, keys of a flushed
    /// table (Redis's free effort), a string's size in 16 KiB units.
    fn effort(&self) -> usize {
        match self {
            Garbage::Value(_, Some(Boxed::Collection(c))) => c.len(),
            Garbage::Value(_, Some(Boxed::Str(s))) => s.heap_size() / STRING_BYTES_PER_FREE,
            Garbage::Value(entry, None) => entry.heap_size() / STRING_BYTES_PER_FREE,
            Garbage::Shards(_) => self.objects() as usize,
        }
    }

    /// How many objects it counts for in INFO: one per value, one per key
    /// of a flushed table, as Redis counts them.
    fn objects(&self) -> u64 {
        match self {
            Garbage::Value(..) => 1,
            Garbage::Shards(shards) => shards.iter().map(|s| s.0.len() as u64).sum(),
        }
    }
}

/// Counters of the lazyfree thread, shared with it.
#[derive(Debug, Default)]
struct Counters {
    /// Objects queued and not yet freed (INFO `lazyfree_pending_objects`).
    pending: AtomicU64,
    /// Objects the thread has freed (INFO `lazyfreed_objects`).
    freed: AtomicU64,
    /// Values freed inline because the queue was full or stopped.
    inline: AtomicU64,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct LazyFree {
    state: Mutex<State>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
enum State {
    /// Not started yet.
    #[default]
    Idle,
    /// Running: the queue into the thread.
    Running(SyncSender<(Garbage, u64)>, JoinHandle<()>),
    /// Stopped: everything is freed inline from now on.
    Stopped,
}

impl std::fmt::Debug for Garbage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Garbage({} objects)", self.effort())
    }
}

impl LazyFree {
    /// Frees `garbage`: on the background thread when it is large (or
    /// when `always`, for FLUSHALL ASYNC), otherwise here.
    pub fn free(&self, garbage: Garbage, always: bool) {
        if !always && garbage.effort() <= LAZYFREE_THRESHOLD {
            return drop(garbage);
        }
        let objects = garbage.objects();
        let counters = &self.counters;
        counters.pending.fetch_add(objects, Ordering::Relaxed);
        let refused = match self.sender() {
            Some(sender) => match sender.try_send((garbage, objects)) {
                Ok(()) => None,
                Err(TrySendError::Full(back) | TrySendError::Disconnected(back)) => Some(back.0),
            },
            None => Some(garbage),
        };
        if let Some(garbage) = refused {
            counters.pending.fetch_sub(objects, Ordering::Relaxed);
            counters.inline.fetch_add(1, Ordering::Relaxed);
            drop(garbage);
        }
    }

    /// The queue into the thread, starting it on first use; None once
    /// stopped or when no thread could be started.
    fn sender(&self) -> Option<SyncSender<(Garbage, u64)>> {
        let mut state = self.state.lock();
        if let State::Idle = *state {
            let (sender, receiver) = mpsc::sync_channel(QUEUE_CAPACITY);
            let counters = self.counters.clone();
            match std::thread::Builder::new()
                .name("ringcache-lazyfree".into())
                .spawn(move || run(receiver, &counters))
            {
                Ok(handle) => *state = State::Running(sender, handle),
                Err(e) => {
                    warn!(error = %e, "no lazyfree thread: freeing inline");
                    *state = State::Stopped;
                }
            }
        }
        match &*state {
            State::Running(sender, _) => Some(sender.clone()),
            State::Idle | State::Stopped => None,
        }
    }

    /// Stops the thread once it has freed what is queued, and waits for it.
    pub fn stop(&self) {
        let state = std::mem::replace(&mut *self.state.lock(), State::Stopped);
        if let State::Running(sender, handle) = state {
            // Closing the queue ends the thread's loop after the last item.
            drop(sender);
            let _ = handle.join();
        }
    }

    /// Objects waiting to be freed.
    pub fn pending(&self) -> u64 {
        self.counters.pending.load(Ordering::Relaxed)
    }

    /// Objects freed by the thread so far.
    pub fn freed(&self) -> u64 {
        self.counters.freed.load(Ordering::Relaxed)
    }

    /// Values freed inline because the queue was full or stopped.
    pub fn freed_inline(&self) -> u64 {
        self.counters.inline.load(Ordering::Relaxed)
    }
}

impl Drop for LazyFree {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(receiver: Receiver<(Garbage, u64)>, counters: &Counters) {
    for (garbage, objects) in receiver {
        drop(garbage);
        counters.pending.fetch_sub(objects, Ordering::Relaxed);
        counters.freed.fetch_add(objects, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::HashValue;

    fn hash(fields: usize) -> Garbage {
        let mut h = HashValue::default();
        for i in 0..fields {
            h.insert(format!("f{i}").as_bytes(), b"v");
        }
        Garbage::Value(
            Entry::string(b"k", b"", None, 0),
            Some(Boxed::Collection(Collection::Hash(h))),
        )
    }

    #[test]
    fn large_values_go_to_the_thread() {
        let lazy = LazyFree::default();
        lazy.free(hash(LAZYFREE_THRESHOLD), false);
        let small = Entry::string(b"k", &[0; 1000], None, 0);
        lazy.free(Garbage::Value(small, None), false);
        assert_eq!(lazy.freed(), 0);
        lazy.free(hash(LAZYFREE_THRESHOLD + 1), false);
        let large = Entry::string(b"k", &vec![0; 2 << 20], None, 0);
        lazy.free(Garbage::Value(large, None), false);
        let grown = GrownString::exact(vec![0; 2 << 20]);
        lazy.free(
            Garbage::Value(Entry::string(b"k", b"", None, 0), Some(Boxed::Str(grown))),
            false,
        );
        lazy.free(Garbage::Shards(Vec::new()), true);
        lazy.stop();
        assert_eq!(lazy.freed(), 3);
        assert_eq!((lazy.pending(), lazy.freed_inline()), (0, 0));
        // Stopped: freed inline, and counted.
        lazy.free(hash(100), false);
        assert_eq!((lazy.freed(), lazy.freed_inline()), (3, 1));
    }
}
