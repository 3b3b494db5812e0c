//! `maxmemory` end to end: a real node under far more data than fits stays
//! near its bound by evicting (allkeys-lru), and answers Redis's exact OOM
//! error when it may not evict (noeviction, volatile-lru without TTL keys)
//! while reads and deletes keep working. Node processes: `maxmemory`
//! bounds the allocator's count of the whole process, so a node sharing
//! the test's process could not be held to it.

mod common;

use std::time::{Duration, Instant};

use common::errors::OOM;
use common::query::{config_set, dbsize};
use common::wire::Frame;
use common::{eventually, info_u64, q, RawConn, TestNode};

/// How long any one test's load may take on a loaded machine.
const LOAD_DEADLINE: Duration = Duration::from_secs(120);
/// Commands sent per pipelined batch.
const BATCH: usize = 200;

fn set_command(key: &str, value: &[u8]) -> Vec<Vec<u8>> {
    vec![b"SET".to_vec(), key.as_bytes().to_vec(), value.to_vec()]
}

/// Writes batches of `SET key:<n> value` until a write is refused; returns
/// the indexes of the keys stored and the first refusal. Fails if `limit`
/// keys fit. Near the bound, memory the node uses outside the store (its
/// buffers) comes and goes, so a later SET of the refused batch may still
/// succeed: every reply is read and counted.
fn fill_until_refused(pipe: &mut RawConn, value: &[u8], limit: usize) -> (Vec<usize>, Vec<u8>) {
    let started = Instant::now();
    let mut stored = Vec::new();
    let mut refusal = None;
    let mut next = 0;
    while refusal.is_none() {
        assert!(
            next < limit,
            "{limit} keys of {} bytes fit under the bound",
            value.len()
        );
        assert!(started.elapsed() < LOAD_DEADLINE, "filling took too long");
        let commands: Vec<_> = (next..next + BATCH)
            .map(|i| set_command(&format!("key:{i}"), value))
            .collect();
        for (i, reply) in (next..).zip(pipe.pipeline(&commands)) {
            match reply {
                Frame::Simple(ok) if ok == b"OK" => stored.push(i),
                Frame::Error(error) => {
                    refusal.get_or_insert(error);
                }
                other => panic!("unexpected reply to SET: {other:?}"),
            }
        }
        next += BATCH;
    }
    (stored, refusal.unwrap_or_default())
}

/// Sets `maxmemory` on the node.
fn set_maxmemory(conn: &mut redis::Connection, bytes: u64) {
    config_set(conn, "maxmemory", &bytes.to_string());
}

/// Starts a node with `flags`, then bounds its memory at what it uses now
/// plus `room`, so the test does not depend on the node's base footprint.
fn node_with_room(flags: &[&str], room: u64) -> (TestNode, redis::Connection, u64) {
    let node = TestNode::start(flags);
    let mut conn = node.conn();
    let baseline = info_u64(&mut conn, "used_memory");
    let max = baseline + room;
    set_maxmemory(&mut conn, max);
    (node, conn, max)
}

/// A node under `policy` with 2 MB of room, filled with [`VALUE_LEN`]-byte
/// values until a write was refused with OOM, nothing evicted.
struct Full {
    /// The node process.
    node: TestNode,
    /// A redis-rs connection to it.
    conn: redis::Connection,
    /// A raw connection for pipelines.
    pipe: RawConn,
    /// The indexes of the `key:<n>` keys stored.
    stored: Vec<usize>,
    /// Its `maxmemory`.
    max: u64,
}

/// Size of the values of a [`Full`] node.
const VALUE_LEN: usize = 4000;

fn filled_until_oom(policy: &str) -> Full {
    let (node, mut conn, max) = node_with_room(&["--maxmemory-policy", policy], 2 * 1024 * 1024);
    let mut pipe = node.raw();
    let (stored, error) = fill_until_refused(&mut pipe, &[b'v'; VALUE_LEN], 10_000);
    assert_eq!(
        error,
        OOM.as_bytes(),
        "got {:?}",
        String::from_utf8_lossy(&error)
    );
    assert!(stored.len() > 100, "only {} keys fit in 2 MB", stored.len());
    assert_eq!(
        info_u64(&mut conn, "evicted_keys"),
        0,
        "{policy}: nothing evicted"
    );
    assert_eq!(dbsize(&mut conn), stored.len() as u64);
    Full {
        node,
        conn,
        pipe,
        stored,
        max,
    }
}

#[test]
fn allkeys_lru_stays_under_maxmemory_by_evicting() {
    const MAX: u64 = 8 * 1024 * 1024;
    const KEYS: usize = 40_000;
    let value = vec![b'v'; 1000];
    let node = TestNode::start(&["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut conn = node.conn();
    let baseline = info_u64(&mut conn, "used_memory");
    assert!(
        baseline < MAX / 2,
        "the empty node already uses {baseline} bytes"
    );

    // Five times what fits, in pipelined batches, sampling used memory
    // after each batch.
    let started = Instant::now();
    let mut peak = 0;
    for batch in 0..KEYS / BATCH {
        assert!(started.elapsed() < LOAD_DEADLINE, "writing took too long");
        let mut pipe = redis::pipe();
        for i in batch * BATCH..(batch + 1) * BATCH {
            pipe.cmd("SET").arg(format!("key:{i}")).arg(&value).ignore();
        }
        let () = pipe.query(&mut conn).expect("every SET evicts its way in");
        peak = peak.max(info_u64(&mut conn, "used_memory"));
    }
    let evicted = info_u64(&mut conn, "evicted_keys");
    let keys = dbsize(&mut conn);
    println!("baseline {baseline} B, peak {peak} B of {MAX}, {keys} keys kept of {KEYS}, {evicted} evicted");
    assert!(
        peak <= MAX + MAX / 20,
        "used memory reached {peak} bytes, over 8mb by more than 5%"
    );
    assert!(evicted > 0);
    assert!(
        keys > 0 && keys < KEYS as u64 / 2,
        "{keys} keys kept of {KEYS}"
    );
    assert_eq!(
        keys + evicted,
        KEYS as u64,
        "every key is either kept or evicted"
    );
    // The most recent writes are the ones kept.
    let last: Option<Vec<u8>> = redis::cmd("GET")
        .arg(format!("key:{}", KEYS - 1))
        .query(&mut conn)
        .expect("GET");
    assert_eq!(last, Some(value));
    let pong: String = q(&mut conn, &["PING"]);
    assert_eq!(pong, "PONG");
}

#[test]
fn noeviction_refuses_writes_with_oom_but_serves_reads_and_deletes() {
    let Full {
        node: _node,
        mut conn,
        mut pipe,
        stored,
        max,
    } = filled_until_oom("noeviction");
    let value = vec![b'v'; VALUE_LEN];

    // Hold the node firmly over its bound (the node's own buffers make the
    // edge fuzzy): every write is refused, reads and deletes are served.
    let used = info_u64(&mut conn, "used_memory");
    set_maxmemory(&mut conn, used - 1024 * 1024);
    let (first, second) = (format!("key:{}", stored[0]), format!("key:{}", stored[1]));
    let replies = pipe.pipeline(&[
        set_command("one-more", b"v"),
        vec![b"GET".to_vec(), first.into_bytes()],
        vec![b"DEL".to_vec(), second.into_bytes()],
        vec![b"APPEND".to_vec(), b"one-more".to_vec(), b"v".to_vec()],
    ]);
    assert_eq!(
        replies,
        vec![
            Frame::Error(OOM.into()),
            Frame::Bulk(value.clone()),
            Frame::Int(1),
            Frame::Error(OOM.into()),
        ]
    );

    // Back to the old bound, deleting half the keys makes room again.
    set_maxmemory(&mut conn, max);
    let deletes: Vec<_> = stored[2..stored.len() / 2]
        .iter()
        .map(|i| vec![b"DEL".to_vec(), format!("key:{i}").into_bytes()])
        .collect();
    assert!(pipe.pipeline(&deletes).iter().all(|r| *r == Frame::Int(1)));
    let mut reply = Frame::NullBulk;
    let accepted = eventually(Duration::from_secs(10), || {
        reply = pipe
            .pipeline(&[set_command("after-delete", b"v")])
            .remove(0);
        reply == Frame::Simple(b"OK".to_vec())
    });
    assert!(
        accepted,
        "writes still refused after deleting half the keys: {reply:?}"
    );
}

#[test]
fn volatile_lru_without_ttl_keys_refuses_writes() {
    // Keys without a TTL are never evicted.
    let Full {
        node: _node,
        mut pipe,
        stored,
        ..
    } = filled_until_oom("volatile-lru");
    let value = vec![b'v'; VALUE_LEN];
    let first = format!("key:{}", stored[0]).into_bytes();
    let replies = pipe.pipeline(&[
        vec![b"GET".to_vec(), first.clone()],
        vec![b"DEL".to_vec(), first],
    ]);
    assert_eq!(replies, vec![Frame::Bulk(value), Frame::Int(1)]);
}

#[test]
fn volatile_lru_evicts_ttl_keys_and_keeps_the_others() {
    let (node, mut conn, _) =
        node_with_room(&["--maxmemory-policy", "volatile-lru"], 2 * 1024 * 1024);
    let mut pipe = node.raw();
    let value = vec![b'v'; 4000];
    // A few persistent keys, then far more TTL keys than fit.
    let persistent: Vec<_> = (0..50)
        .map(|i| set_command(&format!("keep:{i}"), &value))
        .collect();
    assert!(pipe
        .pipeline(&persistent)
        .iter()
        .all(|r| *r == Frame::Simple(b"OK".to_vec())));
    let started = Instant::now();
    for batch in 0..10 {
        assert!(started.elapsed() < LOAD_DEADLINE, "writing took too long");
        let commands: Vec<_> = (batch * BATCH..(batch + 1) * BATCH)
            .map(|i| {
                let mut set = set_command(&format!("ttl:{i}"), &value);
                set.extend([b"EX".to_vec(), b"3600".to_vec()]);
                set
            })
            .collect();
        for reply in pipe.pipeline(&commands) {
            assert_eq!(
                reply,
                Frame::Simple(b"OK".to_vec()),
                "TTL keys are evictable"
            );
        }
    }
    assert!(info_u64(&mut conn, "evicted_keys") > 0);
    let kept: u64 = redis::cmd("EXISTS")
        .arg((0..50).map(|i| format!("keep:{i}")).collect::<Vec<_>>())
        .query(&mut conn)
        .expect("EXISTS");
    assert_eq!(kept, 50, "keys without a TTL are never evicted");
}
