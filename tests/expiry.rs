//! Expiry end to end: keys nobody reads are reclaimed by the active expiry
//! cycle (DBSIZE drops to zero, memory goes back, INFO counts them), and
//! keys read after their TTL are gone on access. In-process nodes: the
//! memory test holds the binary's memory lock.

mod common;

use std::time::{Duration, Instant};

use common::query::dbsize;
use common::server::memory_lock;
use common::{eventually, info_field, info_u64, q, TestServer, DEADLINE};

/// Keys loaded by the reclamation test.
const KEYS: usize = 100_000;
/// Their time to live.
const TTL_MS: u64 = 1000;
/// Commands per pipelined batch.
const BATCH: usize = 1000;

#[test]
fn active_expiry_reclaims_keys_nobody_reads() {
    let _memory = memory_lock();
    let node = TestServer::start();
    let mut conn = node.conn();
    let baseline = info_u64(&mut conn, "used_memory");

    let load_started = Instant::now();
    let value = vec![b'x'; 64];
    for batch in 0..KEYS / BATCH {
        let mut pipe = redis::pipe();
        for i in batch * BATCH..(batch + 1) * BATCH {
            pipe.cmd("SET")
                .arg(format!("session:{i}"))
                .arg(&value)
                .arg("PX")
                .arg(TTL_MS)
                .ignore();
        }
        let () = pipe.query(&mut conn).expect("pipelined SET PX");
    }
    // The last key expires at most TTL_MS after its write was answered.
    let all_expired_by = Instant::now() + Duration::from_millis(TTL_MS);
    let loaded = info_u64(&mut conn, "used_memory");
    let keys_after_load = dbsize(&mut conn);
    println!(
        "loaded {KEYS} keys in {:.2} s; used_memory {baseline} -> {loaded} B; DBSIZE {keys_after_load}",
        load_started.elapsed().as_secs_f64()
    );
    assert!(
        keys_after_load > 0,
        "the load was slower than the TTL: nothing to reclaim"
    );

    // Nobody reads the keys: only the active cycle can remove them (a pass
    // visits every bucket about once a second, so it normally takes one or
    // two seconds).
    let reclaimed = eventually(DEADLINE, || dbsize(&mut conn) == 0);
    let at_zero = Instant::now();
    let after_expiry = at_zero.saturating_duration_since(all_expired_by);
    println!(
        "DBSIZE reached 0 {:.2} s after the last key expired",
        after_expiry.as_secs_f64()
    );
    assert!(
        reclaimed,
        "DBSIZE still {} after {DEADLINE:?}",
        dbsize(&mut conn)
    );
    assert_eq!(info_u64(&mut conn, "expired_keys"), KEYS as u64);
    assert_eq!(
        info_u64(&mut conn, "keyspace_hits") + info_u64(&mut conn, "keyspace_misses"),
        0
    );

    // The memory goes back: entries are freed and emptied tables shrink.
    let near_baseline = baseline + (loaded - baseline) / 10;
    let mut used = loaded;
    let returned = eventually(Duration::from_secs(10), || {
        used = info_u64(&mut conn, "used_memory");
        used <= near_baseline
    });
    println!(
        "used_memory {used} B at DBSIZE 0 ({:.2} s later); baseline {baseline} B, loaded {loaded} B",
        at_zero.elapsed().as_secs_f64()
    );
    assert!(
        returned,
        "used_memory {used} B not back near the baseline {baseline} B (loaded {loaded} B)"
    );
}

#[test]
fn expired_keys_are_gone_on_access_and_counted() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let _: () = q(&mut conn, &["SET", "short", "v", "PX", "50"]);
    let _: () = q(&mut conn, &["SET", "long", "v", "EX", "3600"]);
    let _: () = q(&mut conn, &["SET", "forever", "v"]);
    let gone = eventually(Duration::from_secs(10), || {
        let v: Option<String> = q(&mut conn, &["GET", "short"]);
        v.is_none()
    });
    assert!(gone, "a 50 ms key still readable after 10 s");
    let ttl: i64 = q(&mut conn, &["PTTL", "short"]);
    assert_eq!(ttl, -2);
    let ttl: i64 = q(&mut conn, &["TTL", "long"]);
    assert!((3590..=3600).contains(&ttl), "TTL {ttl}");
    let ttl: i64 = q(&mut conn, &["TTL", "forever"]);
    assert_eq!(ttl, -1);
    assert_eq!(dbsize(&mut conn), 2);
    assert_eq!(info_u64(&mut conn, "expired_keys"), 1);
    let keyspace = info_field(&mut conn, "db0");
    assert!(keyspace.starts_with("keys=2,expires=1"), "{keyspace}");
}
