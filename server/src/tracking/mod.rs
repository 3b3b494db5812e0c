//! Client-side caching (CLIENT TRACKING), as Redis 7 does it: the keys a
//! tracking client reads are remembered ([`Tracking::remember`]), and the
//! next change of one (a write by anyone, expiry, eviction, a flush) sends
//! that client an invalidation, once ([`Tracking::invalidate`],
//! [`Tracking::flush`]). A client in BCAST mode remembers nothing: it is
//! told of every change to keys under its prefixes.
//!
//! Invalidations go to the tracking client's inbox (or its redirect
//! target's, `crate::inbox`); the connection writes what waits there
//! before running its next request, so an invalidation caused by a write
//! reaches the client before the reply of any read that follows it, and
//! one caused by the client's own write comes after that write's reply.
//! A tracking client's keys are remembered both before its read runs and
//! after: a write racing with the read on another connection then always
//! finds the key in the table.
//!
//! As in Redis, the table is keyed by key name only (a write to `k` in any
//! database invalidates `k`), holds at most `tracking-table-max-keys` keys
//! (past it, keys picked at random are invalidated and forgotten), and
//! keeps a departed client's entries until the key is next invalidated.
//! While no client tracks, every hook costs one atomic load.
//!
//! In a cluster, a node that forwards a tracking client's read to the
//! key's owner remembers the keys for its client here, and the owner
//! remembers them for "another node" ([`REMOTE`], `RCTRACK`); the owner's
//! next change of such a key is sent to every other node
//! (`RCINVALIDATE`, [`Tracking::set_remote`]), whose tables then tell
//! their own clients ([`Tracking::invalidate_from_peer`]).
//!
//! When a ring change gives a slot another primary, the writes to come go
//! to a node that does not know who holds its keys, so every node tells
//! the clients that read keys of such slots through it at once
//! ([`Tracking::slots_moved`], called by `cluster::tracking`).

mod prefixes;
mod table;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::clients::{ClientHandle, Clients, TrackingMode};
use crate::inbox::Push;
use crate::store::{Removal, RemovalListener, SlotSet};
pub use prefixes::overlap_error;
use prefixes::Prefixes;
use table::Table;

/// Evictions at most per call when the table is over its bound (Redis
/// bounds its effort the same way; the rest go at the next read).
const EVICTIONS_PER_CALL: usize = 1000;

/// Keys of moved slots one client read past which a ring change sends it
/// a flush instead of the list: dropping what it holds from this node
/// costs it less than a push that size, and keeps the push far below the
/// inbox's bound (past which the client would be disconnected).
const MOVED_KEYS_FLUSH_OVER: usize = 4096;

/// Keys per RCINVALIDATE a ring change sends other nodes.
const REMOTE_BATCH: usize = 1024;

/// Redis's default `tracking-table-max-keys`.
pub const DEFAULT_MAX_KEYS: u64 = 1_000_000;

/// The id under which an owner remembers keys other nodes read for their
/// tracking clients (client ids count up from 1 and never reach it).
pub const REMOTE: u64 = u64::MAX;

/// Sends the keys (`None`: all, a flush) that other nodes' tracking
/// clients may hold to every other node.
pub type RemoteSender = Box<dyn Fn(Option<Vec<Bytes>>) + Send + Sync>;

/// See the module docs.
pub struct Tracking {
    /// Clients with tracking on: INFO's `tracking_clients`.
    count: AtomicUsize,
    /// `count`, plus one once another node tracked keys here: the one
    /// load every hook starts with.
    active: AtomicUsize,
    /// Where changes of keys other nodes track go (set by the cluster).
    remote: OnceLock<RemoteSender>,
    /// The tracking clients, by id.
    trackers: RwLock<HashMap<u64, Arc<ClientHandle>>>,
    table: Mutex<Table>,
    prefixes: RwLock<Prefixes>,
    /// `tracking-table-max-keys` (0: no bound).
    max_keys: AtomicUsize,
}

impl std::fmt::Debug for Tracking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracking")
            .field("clients", &self.count.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            count: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            remote: OnceLock::new(),
            trackers: RwLock::default(),
            table: Mutex::default(),
            prefixes: RwLock::default(),
            max_keys: AtomicUsize::new(DEFAULT_MAX_KEYS as usize),
        }
    }
}

/// The store's removal hook for tracking: a key expired or evicted is
/// invalidated as a write by nobody (NOLOOP does not apply).
pub struct RemovalInvalidator {
    tracking: Arc<Tracking>,
    clients: Arc<Clients>,
}

impl RemovalInvalidator {
    /// The listener for a node's `tracking` and `clients`.
    pub fn new(tracking: Arc<Tracking>, clients: Arc<Clients>) -> Self {
        RemovalInvalidator { tracking, clients }
    }
}

impl RemovalListener for RemovalInvalidator {
    fn removed(&self, _db: usize, key: &[u8], _why: Removal) {
        // Runs under the key's shard lock: tracking never locks the store.
        self.tracking.invalidate(&self.clients, None, &[key]);
    }
}

/// INFO's tracking figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackingStats {
    /// `tracking_clients`.
    pub clients: usize,
    /// `tracking_total_keys`.
    pub keys: usize,
    /// `tracking_total_items`.
    pub items: usize,
    /// `tracking_total_prefixes`.
    pub prefixes: usize,
}

impl Tracking {
    /// True while some client tracks.
    #[inline]
    pub fn any(&self) -> bool {
        self.active.load(Ordering::Acquire) > 0
    }

    /// Sets where changes of keys other nodes track go (once, by the
    /// cluster layer).
    pub fn set_remote(&self, sender: RemoteSender) {
        let _ = self.remote.set(sender);
    }

    /// Remembers that another node's tracking client reads `keys` here
    /// (RCTRACK); then keeps the table within its bound.
    pub fn remember_remote<'k>(&self, clients: &Clients, keys: impl IntoIterator<Item = &'k [u8]>) {
        if self.remote.get().is_none() {
            return;
        }
        let evicted = {
            let mut table = self.table.lock();
            if !table.has_remote {
                table.has_remote = true;
                self.active.fetch_add(1, Ordering::AcqRel);
            }
            for key in keys {
                table.insert(key, REMOTE);
            }
            self.over_bound(&mut table)
        };
        self.tell_evicted(clients, evicted);
    }

    /// INFO's figures.
    pub fn stats(&self) -> TrackingStats {
        let table = self.table.lock();
        TrackingStats {
            clients: self.count.load(Ordering::Acquire),
            keys: table.len(),
            items: table.items(),
            prefixes: self.prefixes.read().len(),
        }
    }

    /// Turns tracking on for `client` (again: the new options replace the
    /// old, BCAST prefixes add to those it has), with its options already
    /// checked (CLIENT TRACKING's errors).
    pub fn enable(
        &self,
        client: &Arc<ClientHandle>,
        mode: TrackingMode,
        redirect: u64,
        prefixes: &[&[u8]],
    ) {
        let was_on = client.tracking.mode().has(TrackingMode::ON);
        client.tracking.set(mode.with(TrackingMode::ON), redirect);
        if mode.has(TrackingMode::BCAST) {
            let mut table = self.prefixes.write();
            if prefixes.is_empty() {
                table.add(b"", client.id);
            }
            for prefix in prefixes {
                table.add(prefix, client.id);
            }
        }
        if !was_on {
            self.trackers.write().insert(client.id, client.clone());
            self.count.fetch_add(1, Ordering::AcqRel);
            self.active.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Turns tracking off for `client` (CLIENT TRACKING off, RESET, the
    /// connection closing). Its keys stay in the table until they change.
    pub fn disable(&self, client: &ClientHandle) {
        let mode = client.tracking.mode();
        if !mode.has(TrackingMode::ON) {
            return;
        }
        if mode.has(TrackingMode::BCAST) {
            self.prefixes.write().remove_client(client.id);
        }
        client.tracking.set(TrackingMode::default(), 0);
        self.trackers.write().remove(&client.id);
        self.count.fetch_sub(1, Ordering::AcqRel);
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// `client`'s BCAST prefixes, in order.
    pub fn prefixes_of(&self, client: u64) -> Vec<Bytes> {
        self.prefixes.read().of(client)
    }

    /// Redis's error when `new` prefixes overlap each other or those
    /// `client` has.
    pub fn check_prefixes(&self, client: u64, new: &[&[u8]]) -> Result<(), String> {
        let existing = self.prefixes_of(client);
        overlap_error(&existing, new).map_or(Ok(()), Err)
    }

    /// Remembers that `client` read `keys`, if its mode says so (not
    /// BCAST; OPTIN only after CLIENT CACHING yes, OPTOUT unless CLIENT
    /// CACHING no); then keeps the table within its bound.
    pub fn remember<'k>(
        &self,
        clients: &Clients,
        client: &ClientHandle,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) {
        if !remembers(client.tracking.mode()) {
            return;
        }
        let evicted = {
            let mut table = self.table.lock();
            for key in keys {
                table.insert(key, client.id);
            }
            self.over_bound(&mut table)
        };
        self.tell_evicted(clients, evicted);
    }

    /// Keys of `table` past its bound, forgotten (at most
    /// [`EVICTIONS_PER_CALL`]), with the clients to tell.
    fn over_bound(&self, table: &mut Table) -> Vec<(Box<[u8]>, Vec<u64>)> {
        let max = self.max_keys.load(Ordering::Relaxed);
        let mut evicted = Vec::new();
        while max > 0 && table.len() > max && evicted.len() < EVICTIONS_PER_CALL {
            match table.remove_random() {
                Some(row) => evicted.push(row),
                None => break,
            }
        }
        evicted
    }

    fn tell_evicted(&self, clients: &Clients, evicted: Vec<(Box<[u8]>, Vec<u64>)>) {
        if evicted.is_empty() {
            return;
        }
        let trackers = self.trackers.read();
        let mut remote = Vec::new();
        for (key, ids) in evicted {
            let key = Bytes::from(key.into_vec());
            for id in ids {
                if id == REMOTE {
                    remote.push(key.clone());
                } else if let Some(target) = trackers.get(&id) {
                    if !target.tracking.mode().has(TrackingMode::BCAST) {
                        send(clients, target, Some(vec![key.clone()]));
                    }
                }
            }
        }
        self.tell_remote(Some(remote));
    }

    /// Sends other nodes the keys (`None`: all) their clients may hold.
    fn tell_remote(&self, keys: Option<Vec<Bytes>>) {
        if keys.as_ref().is_some_and(Vec::is_empty) {
            return;
        }
        if let Some(sender) = self.remote.get() {
            sender(keys);
        }
    }

    /// Sets `tracking-table-max-keys` (0: no bound) and applies it now.
    pub fn set_max_keys(&self, clients: &Clients, max: u64) {
        self.max_keys.store(
            usize::try_from(max).unwrap_or(usize::MAX),
            Ordering::Relaxed,
        );
        loop {
            let evicted = self.over_bound(&mut self.table.lock());
            if evicted.is_empty() {
                return;
            }
            self.tell_evicted(clients, evicted);
        }
    }

    /// `keys` changed (written by client `writer`, or `None`: expired,
    /// evicted, or changed by the node itself): each client that read one
    /// since its last invalidation is told, once per key (not the writer
    /// itself if it asked for NOLOOP), and BCAST clients get, per prefix,
    /// one message with the keys under it.
    ///
    /// Keys the store expires or evicts come through
    /// [`RemovalInvalidator`].
    pub fn invalidate(&self, clients: &Clients, writer: Option<u64>, keys: &[&[u8]]) {
        self.invalidate_as(clients, writer, keys, true);
    }

    /// [`Tracking::invalidate`] for keys another node changed
    /// (RCINVALIDATE): this node's clients are told, no other node.
    pub fn invalidate_from_peer(&self, clients: &Clients, keys: &[&[u8]]) {
        self.invalidate_as(clients, None, keys, false);
    }

    fn invalidate_as(&self, clients: &Clients, writer: Option<u64>, keys: &[&[u8]], owner: bool) {
        if !self.any() || keys.is_empty() {
            return;
        }
        let rows: Vec<(&[u8], Vec<u64>)> = {
            let mut table = self.table.lock();
            if table.is_empty() {
                Vec::new()
            } else {
                keys.iter()
                    .filter_map(|key| table.remove(key).map(|ids| (*key, ids)))
                    .collect()
            }
        };
        let trackers = self.trackers.read();
        let mut remote = Vec::new();
        for (key, ids) in rows {
            let key = Bytes::copy_from_slice(key);
            for id in ids {
                if id == REMOTE {
                    remote.push(key.clone());
                    continue;
                }
                let Some(target) = trackers.get(&id) else {
                    continue;
                };
                let mode = target.tracking.mode();
                if mode.has(TrackingMode::BCAST)
                    || (mode.has(TrackingMode::NOLOOP) && writer == Some(id))
                {
                    continue;
                }
                send(clients, target, Some(vec![key.clone()]));
            }
        }
        self.broadcast(clients, &trackers, writer, keys);
        drop(trackers);
        if owner {
            self.tell_remote(Some(remote));
        }
    }

    /// BCAST: per prefix, the keys under it, to each of its clients.
    fn broadcast(
        &self,
        clients: &Clients,
        trackers: &HashMap<u64, Arc<ClientHandle>>,
        writer: Option<u64>,
        keys: &[&[u8]],
    ) {
        let prefixes = self.prefixes.read();
        if prefixes.is_empty() {
            return;
        }
        for (matched, ids) in prefixes.matching(keys) {
            for id in ids {
                let Some(target) = trackers.get(id) else {
                    continue;
                };
                let noloop = target.tracking.mode().has(TrackingMode::NOLOOP);
                if !(noloop && writer == Some(*id)) {
                    send(clients, target, Some(matched.clone()));
                }
            }
        }
    }

    /// A ring change gave the slots of `moved` another primary: each key of
    /// them a client read through this node is invalidated and forgotten
    /// (one push per client with all its keys, or a flush past
    /// [`MOVED_KEYS_FLUSH_OVER`]), and other nodes are told the keys their
    /// clients read here. When this node `lost_primary` of some slot, every
    /// BCAST client gets a flush: its keys are not remembered, and the
    /// changes of the slots it no longer owns will not be seen here.
    ///
    /// A walk of the tracking table (bounded by `tracking-table-max-keys`),
    /// not of the store; nothing while no client tracks.
    pub fn slots_moved(&self, clients: &Clients, moved: &SlotSet, lost_primary: bool) {
        if !self.any() {
            return;
        }
        let rows = self.table.lock().remove_where(|key| moved.has_key(key));
        let mut by_client: HashMap<u64, Vec<Bytes>> = HashMap::new();
        let mut remote = Vec::new();
        for (key, ids) in rows {
            let key = Bytes::from(key.into_vec());
            for id in ids {
                if id == REMOTE {
                    remote.push(key.clone());
                } else {
                    by_client.entry(id).or_default().push(key.clone());
                }
            }
        }
        let trackers = self.trackers.read();
        for (id, keys) in by_client {
            let Some(target) = trackers.get(&id) else {
                continue;
            };
            if !target.tracking.mode().has(TrackingMode::BCAST) {
                send(
                    clients,
                    target,
                    (keys.len() <= MOVED_KEYS_FLUSH_OVER).then_some(keys),
                );
            }
        }
        if lost_primary {
            for target in trackers.values() {
                if target.tracking.mode().has(TrackingMode::BCAST) {
                    send(clients, target, None);
                }
            }
        }
        drop(trackers);
        for batch in remote.chunks(REMOTE_BATCH) {
            self.tell_remote(Some(batch.to_vec()));
        }
    }

    /// FLUSHALL or FLUSHDB: every tracking client is told that every key
    /// changed (a null in place of the keys), and the table is emptied.
    pub fn flush(&self, clients: &Clients) {
        self.flush_as(clients, true);
    }

    /// [`Tracking::flush`] for another node's flush (RCINVALIDATE without
    /// keys): this node's clients are told, no other node.
    pub fn flush_from_peer(&self, clients: &Clients) {
        self.flush_as(clients, false);
    }

    fn flush_as(&self, clients: &Clients, owner: bool) {
        if !self.any() {
            return;
        }
        let had_remote = self.table.lock().clear();
        for target in self.trackers.read().values() {
            send(clients, target, None);
        }
        if owner && had_remote {
            self.tell_remote(None);
        }
    }
}

/// Whether a client in `mode` has the keys it reads remembered now (on,
/// not BCAST; OPTIN only after CLIENT CACHING yes, OPTOUT unless CLIENT
/// CACHING no).
pub fn remembers(mode: TrackingMode) -> bool {
    let caching = mode.has(TrackingMode::CACHING);
    let by_keys = mode.has(TrackingMode::ON) && !mode.has(TrackingMode::BCAST);
    let opted_in = !mode.has(TrackingMode::OPTIN) || caching;
    let opted_out = mode.has(TrackingMode::OPTOUT) && caching;
    by_keys && opted_in && !opted_out
}

/// Sends an invalidation of `keys` (`None`: all) for tracking client
/// `target`: to it, or to its redirect target. A redirect target that is
/// gone marks the redirect broken and tells a RESP3 client so.
fn send(clients: &Clients, target: &ClientHandle, keys: Option<Vec<Bytes>>) {
    let resp3 = target.resp.load(Ordering::Relaxed) == 3;
    let redirect = target.tracking.redirect();
    if redirect == 0 {
        // RESP2 has no pushes: a RESP2 client without a redirect gets
        // nothing, as in Redis.
        if resp3 {
            target.deliver(Push::Invalidate {
                keys,
                resp3_null: true,
                redirected: false,
            });
        }
        return;
    }
    match clients.get(redirect) {
        Some(destination) => destination.deliver(Push::Invalidate {
            keys,
            resp3_null: resp3,
            redirected: true,
        }),
        None => {
            target.tracking.insert(TrackingMode::BROKEN_REDIRECT);
            if resp3 {
                target.deliver(Push::RedirectBroken { target: redirect });
            }
        }
    }
}
