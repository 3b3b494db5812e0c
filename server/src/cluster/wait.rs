//! WAIT: how many replicas hold all of a connection's writes.
//!
//! A connection remembers the keys it wrote, grouped by the node that ran
//! each write (this one, or the owner a write was forwarded to), until a
//! WAIT finds them on every replica of their slots. WAIT asks each such
//! node how many replicas hold each key's current state there (RCWAIT;
//! this node answers for itself directly): a replica whose copy is at that
//! state's version or later holds the connection's write, whatever came
//! after it, since versions only grow. The answer is the least count over
//! the keys, as Redis's is the count of replicas whose offset passed the
//! connection's last write. Keys found on every replica are then
//! forgotten and their count kept as a floor, so a second WAIT after one
//! write answers the same count.
//!
//! Bounds: a connection remembers at most [`KEYS_CAP`] keys or
//! [`BYTES_CAP`] bytes of them; past that, further keys of the same round
//! are not checked (a bulk load followed by one WAIT is answered from its
//! first keys).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::future::join_all;
use parking_lot::Mutex;
use ringcache_proto::key_slot;
use ringcache_proto::resp::{self, Value};

use super::Cluster;
use crate::store::{KeyState, Store};

/// Most keys a connection remembers for WAIT.
pub const KEYS_CAP: usize = 1024;
/// Most bytes of keys a connection remembers for WAIT.
pub const BYTES_CAP: usize = 64 * 1024;
/// Longest pause between two looks at the replicas' copies.
const MAX_PAUSE: Duration = Duration::from_millis(100);
/// How long a forwarding node waits past the deadline it gave the owner.
const OWNER_MARGIN: Duration = Duration::from_secs(1);

/// The keys one node ran writes of, each with the number of its last write.
type Round = (Option<SocketAddr>, Vec<(Bytes, u64)>);

/// What one node answered for some keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replicated {
    /// Replicas holding every key's state (the least count over the keys).
    pub count: usize,
    /// Every key is on every replica of its slot: nothing left to wait for.
    pub complete: bool,
}

/// The keys one connection wrote that WAIT has not yet found everywhere.
#[derive(Debug, Default)]
struct Pending {
    /// Per node that ran the writes (`None`: this one), each key with the
    /// number of the write that last touched it.
    by_node: HashMap<Option<SocketAddr>, HashMap<Bytes, u64>>,
    bytes: usize,
    keys: usize,
    /// Numbers the writes, so a WAIT forgets a key only if no later write
    /// touched it meanwhile.
    writes: u64,
}

/// One connection's record of its writes, shared with its WAITs in flight.
#[derive(Debug, Clone)]
pub struct Written {
    pending: Arc<Mutex<Pending>>,
    /// The least count of replicas found holding earlier writes
    /// (`usize::MAX` before any was).
    floor: Arc<AtomicUsize>,
}

impl Default for Written {
    fn default() -> Self {
        Written {
            pending: Arc::default(),
            floor: Arc::new(AtomicUsize::new(usize::MAX)),
        }
    }
}

impl Written {
    /// Notes `keys`, written by `node` (`None`: here).
    pub fn record<'k>(&self, node: Option<SocketAddr>, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut pending = self.pending.lock();
        pending.writes += 1;
        let write = pending.writes;
        for key in keys {
            let full = pending.keys >= KEYS_CAP || pending.bytes + key.len() > BYTES_CAP;
            let known = pending.by_node.entry(node).or_default();
            match known.get_mut(key) {
                Some(at) => *at = write,
                None if full => {}
                None => {
                    known.insert(Bytes::copy_from_slice(key), write);
                    pending.keys += 1;
                    pending.bytes += key.len();
                }
            }
        }
    }

    /// Forgets everything (RESET).
    pub fn clear(&self) {
        *self.pending.lock() = Pending::default();
        self.floor.store(usize::MAX, Ordering::Relaxed);
    }

    /// WAIT's answer: how many replicas hold every write so far, waiting up
    /// to `limit` for `needed` of them. `none` answers when nothing was
    /// ever written (Redis counts every replica then).
    pub async fn wait(
        self,
        cluster: Arc<Cluster>,
        store: Store,
        needed: usize,
        limit: Duration,
        none: usize,
    ) -> usize {
        let deadline = Instant::now() + limit;
        let rounds: Vec<Round> = {
            let pending = self.pending.lock();
            pending
                .by_node
                .iter()
                .map(|(node, keys)| (*node, keys.iter().map(|(k, w)| (k.clone(), *w)).collect()))
                .collect()
        };
        let asks = rounds.iter().map(|(node, keys)| {
            let keys: Vec<Bytes> = keys.iter().map(|(key, _)| key.clone()).collect();
            let cluster = cluster.clone();
            let store = store.clone();
            async move {
                match node {
                    None => replicated(&cluster, &store, &keys, needed, deadline).await,
                    Some(owner) => ask_owner(&cluster, *owner, &keys, needed, deadline).await,
                }
            }
        });
        let answers = join_all(asks).await;
        let mut least = self.floor.load(Ordering::Relaxed);
        let mut pending = self.pending.lock();
        for ((node, keys), answer) in rounds.into_iter().zip(answers) {
            least = least.min(answer.count);
            if answer.complete {
                self.floor.fetch_min(answer.count, Ordering::Relaxed);
                forget(&mut pending, node, keys);
            }
        }
        if least == usize::MAX {
            none
        } else {
            least
        }
    }
}

/// Forgets `keys` of `node` unless a later write touched them.
fn forget(pending: &mut Pending, node: Option<SocketAddr>, keys: Vec<(Bytes, u64)>) {
    let Some(known) = pending.by_node.get_mut(&node) else {
        return;
    };
    let mut freed = (0, 0);
    for (key, write) in keys {
        if known.get(&key) == Some(&write) {
            known.remove(&key);
            freed.0 += 1;
            freed.1 += key.len();
        }
    }
    if known.is_empty() {
        pending.by_node.remove(&node);
    }
    pending.keys -= freed.0;
    pending.bytes -= freed.1;
}

/// One key RCWAIT checks on its primary.
struct Check {
    key: Bytes,
    /// Its state here when the check began.
    here: KeyState,
    /// Replicas of its slot.
    replicas: usize,
    /// Replicas found holding `here` (or later) in the last look.
    holders: usize,
}

/// RCWAIT's answer, on the keys' primary: how many replicas hold each
/// key's state as it is here now, looking again with growing pauses until
/// `needed` do, every replica does, or `deadline` passes. A key whose slot
/// this node is no longer primary of is left out (its data moved with the
/// slot); a key of a slot without replicas counts 0.
pub async fn replicated(
    cluster: &Cluster,
    store: &Store,
    keys: &[Bytes],
    needed: usize,
    deadline: Instant,
) -> Replicated {
    let mut checks = Vec::with_capacity(keys.len());
    // Which replica holds which of the checks.
    let mut replicas: HashMap<SocketAddr, Vec<usize>> = HashMap::new();
    {
        let view = cluster.view();
        for key in keys {
            let slot = key_slot(key);
            if !view.is_primary(slot) {
                continue;
            }
            let owners = view.placement.owners(slot);
            for &replica in owners.iter().skip(1) {
                replicas
                    .entry(view.addr(replica))
                    .or_default()
                    .push(checks.len());
            }
            checks.push(Check {
                key: key.clone(),
                here: store.state_of(key),
                replicas: owners.len().saturating_sub(1),
                holders: 0,
            });
        }
    }
    if checks.is_empty() {
        return Replicated {
            count: usize::MAX,
            complete: true,
        };
    }
    let mut pause = Duration::from_millis(2);
    loop {
        let looks = replicas.iter().map(|(&addr, indexes)| {
            let mut command = BytesMut::new();
            let mut args: Vec<&[u8]> = vec![b"RCSTATES"];
            args.extend(indexes.iter().map(|&i| &checks[i].key[..]));
            resp::write_command(&mut command, &args);
            let reply = cluster.peers.send(addr, false, command.freeze());
            async move {
                let reply = tokio::time::timeout_at(deadline.into(), reply).await;
                match reply {
                    Ok(Ok(Ok(frame))) => decode_states(&frame),
                    _ => Vec::new(),
                }
            }
        });
        let looked = join_all(looks).await;
        for check in &mut checks {
            check.holders = 0;
        }
        for (indexes, copies) in replicas.values().zip(looked) {
            for (&index, copy) in indexes.iter().zip(copies) {
                if copy.holds(checks[index].here) {
                    checks[index].holders += 1;
                }
            }
        }
        let count = checks.iter().map(|c| c.holders).min().unwrap_or(0);
        let complete = checks.iter().all(|c| c.holders >= c.replicas);
        let now = Instant::now();
        if count >= needed || complete || now >= deadline {
            return Replicated { count, complete };
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Asks `owner` (RCWAIT) how many replicas hold `keys`' states there.
/// An owner that cannot answer counts none, and the keys stay pending.
async fn ask_owner(
    cluster: &Cluster,
    owner: SocketAddr,
    keys: &[Bytes],
    needed: usize,
    deadline: Instant,
) -> Replicated {
    let unanswered = Replicated {
        count: 0,
        complete: false,
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let needed = needed.to_string();
    let left_ms = left.as_millis().max(1).to_string();
    let mut args: Vec<&[u8]> = vec![b"RCWAIT", needed.as_bytes(), left_ms.as_bytes()];
    args.extend(keys.iter().map(|k| &k[..]));
    let mut command = BytesMut::new();
    resp::write_command(&mut command, &args);
    let reply = cluster.peers.send(owner, false, command.freeze());
    let Ok(Ok(Ok(frame))) = tokio::time::timeout(left + OWNER_MARGIN, reply).await else {
        return unanswered;
    };
    decode_replicated(&frame).unwrap_or(unanswered)
}

/// RCSTATES' reply: per key, `present version` as two integers.
pub fn encode_states(out: &mut BytesMut, states: &[KeyState]) {
    resp::write_len(out, b'*', (states.len() * 2) as i64);
    for state in states {
        resp::write_int(out, i64::from(state.present));
        resp::write_int(out, state.version as i64);
    }
}

fn decode_states(frame: &[u8]) -> Vec<KeyState> {
    let Ok(Some((Value::Array(items), _))) = resp::decode(frame) else {
        return Vec::new();
    };
    items
        .chunks_exact(2)
        .map_while(|pair| match pair {
            [Value::Int(present), Value::Int(version)] => Some(KeyState {
                present: *present != 0,
                version: *version as u64,
            }),
            _ => None,
        })
        .collect()
}

/// RCWAIT's reply: `count complete` as two integers (`count` -1 when no
/// key was checked).
pub fn encode_replicated(out: &mut BytesMut, replicated: Replicated) {
    resp::write_len(out, b'*', 2);
    let count = i64::try_from(replicated.count).unwrap_or(-1);
    resp::write_int(out, count);
    resp::write_int(out, i64::from(replicated.complete));
}

fn decode_replicated(frame: &[u8]) -> Option<Replicated> {
    let Ok(Some((Value::Array(items), _))) = resp::decode(frame) else {
        return None;
    };
    match items.as_slice() {
        [Value::Int(count), Value::Int(complete)] => Some(Replicated {
            count: usize::try_from(*count).unwrap_or(usize::MAX),
            complete: *complete != 0,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_holds_the_same_or_a_later_state() {
        let at = |present, version| KeyState { present, version };
        assert!(at(true, 5).holds(at(true, 5)));
        assert!(at(true, 6).holds(at(true, 5)));
        assert!(!at(true, 4).holds(at(true, 5)));
        assert!(!at(false, 0).holds(at(true, 5)));
        assert!(at(false, 0).holds(at(false, 7)));
        assert!(!at(true, 3).holds(at(false, 7)));
        assert!(at(true, 9).holds(at(false, 7)));
    }

    #[test]
    fn replies_round_trip() {
        let mut out = BytesMut::new();
        let states = [
            KeyState {
                present: true,
                version: 1 << 50,
            },
            KeyState {
                present: false,
                version: 0,
            },
        ];
        encode_states(&mut out, &states);
        assert_eq!(decode_states(&out), states);
        for replicated in [
            Replicated {
                count: 2,
                complete: true,
            },
            Replicated {
                count: usize::MAX,
                complete: true,
            },
            Replicated {
                count: 0,
                complete: false,
            },
        ] {
            let mut out = BytesMut::new();
            encode_replicated(&mut out, replicated);
            assert_eq!(decode_replicated(&out), Some(replicated));
        }
    }

    #[test]
    fn the_record_is_bounded_and_forgets_only_unchanged_keys() {
        let written = Written::default();
        let many: Vec<Vec<u8>> = (0..KEYS_CAP + 10)
            .map(|i| format!("k{i}").into_bytes())
            .collect();
        written.record(None, many.iter().map(Vec::as_slice));
        assert_eq!(written.pending.lock().keys, KEYS_CAP);
        let snapshot: Vec<(Bytes, u64)> = vec![
            (Bytes::from_static(b"k1"), 1),
            (Bytes::from_static(b"k2"), 1),
        ];
        written.record(None, [&b"k2"[..]]);
        let mut pending = written.pending.lock();
        forget(&mut pending, None, snapshot);
        let here = &pending.by_node[&None];
        assert!(!here.contains_key(&b"k1"[..]));
        assert!(
            here.contains_key(&b"k2"[..]),
            "written again after the WAIT began"
        );
        assert_eq!(pending.keys, KEYS_CAP - 1);
    }
}
