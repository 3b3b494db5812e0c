//! Memory of sorted sets as the allocator sees it: the bytes the node
//! counts for them (MEMORY USAGE, what maxmemory eviction reads) must be
//! close to what `used_memory` grows by, for 100,000 compact sets and for
//! one large skip-list set. A binary of its own: the allocator is the
//! process's, so nothing else may allocate meanwhile.

mod common;

use common::server::memory_lock;
use common::{info_u64, q, TestServer};

/// Sets loaded.
const KEYS: usize = 100_000;
/// Commands per pipelined batch.
const BATCH: usize = 1000;

fn used(conn: &mut redis::Connection) -> i64 {
    info_u64(conn, "used_memory") as i64
}

/// The node's own count against the allocator's growth: within 20%.
fn assert_close(what: &str, counted: i64, grown: i64) {
    let ratio = counted as f64 / grown as f64;
    println!("{what}: counted {counted} B, used_memory grew {grown} B, ratio {ratio:.3}");
    assert!((0.8..1.2).contains(&ratio), "{what}: ratio {ratio:.3}");
}

#[test]
fn counted_bytes_follow_the_allocator() {
    let _memory = memory_lock();
    let node = TestServer::start();
    let mut c = node.conn();
    let before = used(&mut c);
    for batch in 0..KEYS / BATCH {
        let mut pipe = redis::pipe();
        for i in batch * BATCH..(batch + 1) * BATCH {
            let cmd = pipe.cmd("ZADD").arg(format!("zset:{i}"));
            for j in 1..=10 {
                cmd.arg(j * 10).arg(format!("member:{j}"));
            }
            cmd.ignore();
        }
        let () = pipe.query(&mut c).expect("pipelined ZADD");
    }
    let grown = used(&mut c) - before;
    let encoding: String = q(&mut c, &["OBJECT", "ENCODING", "zset:7"]);
    assert_eq!(encoding, "listpack");
    let sample: i64 = (0..100)
        .map(|i| q::<i64>(&mut c, &["MEMORY", "USAGE", &format!("zset:{}", i * 997)]))
        .sum();
    let counted = sample * (KEYS as i64 / 100);
    println!(
        "per key: counted {} B, allocated {} B",
        counted / KEYS as i64,
        grown / KEYS as i64
    );
    assert_close("100k compact sets", counted, grown);

    let () = q(&mut c, &["FLUSHALL"]);
    let before = used(&mut c);
    for batch in 0..200 {
        let mut pipe = redis::pipe();
        let cmd = pipe.cmd("ZADD").arg("big");
        for i in batch * BATCH..(batch + 1) * BATCH {
            cmd.arg(i % 9973).arg(format!("member:{i}"));
        }
        cmd.ignore();
        let () = pipe.query(&mut c).expect("ZADD big");
    }
    let grown = used(&mut c) - before;
    let counted: i64 = q(&mut c, &["MEMORY", "USAGE", "big"]);
    assert_close("a skip list of 200k members", counted, grown);
}
