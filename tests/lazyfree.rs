//! Lazy freeing end to end: UNLINK, DEL of a large hash or string and
//! `FLUSHALL ASYNC` / `FLUSHDB ASYNC` remove the keys at once and the
//! memory comes back soon after (polled with a deadline), counted in INFO
//! as Redis counts it (`lazyfree_pending_objects`, `lazyfreed_objects`).
//! In-process nodes: each test holds the binary's memory lock, as they
//! measure the process's memory.

mod common;

use std::time::Duration;

use common::query::set_keys;
use common::server::memory_lock;
use common::{eventually, info_field, info_u64, q, TestServer};
use redis::Connection;

/// How long freeing may take on a loaded machine.
const FREE_DEADLINE: Duration = Duration::from_secs(60);

fn used_memory(c: &mut Connection) -> u64 {
    info_u64(c, "used_memory")
}

fn lazyfreed(c: &mut Connection) -> u64 {
    info_u64(c, "lazyfreed_objects")
}

/// Fills `key` with `fields` fields; returns the bytes it took.
fn fill_hash(c: &mut Connection, key: &str, fields: usize) -> u64 {
    let before = used_memory(c);
    for start in (0..fields).step_by(1000) {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for i in start..(start + 1000).min(fields) {
            cmd.arg(format!("field:{i:08}"))
                .arg("some value of a field");
        }
        let _: i64 = cmd.query(c).expect("HSET");
    }
    used_memory(c).saturating_sub(before)
}

/// Waits until used memory is below `bound`.
fn memory_falls_below(c: &mut Connection, bound: u64) -> bool {
    eventually(FREE_DEADLINE, || used_memory(c) < bound)
}

#[test]
fn unlink_and_del_free_a_large_hash_in_the_background() {
    let _memory = memory_lock();
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(info_field(&mut c, "lazyfree_pending_objects"), "0");
    let freed_before = lazyfreed(&mut c);
    for (command, key) in [("UNLINK", "big:unlinked"), ("DEL", "big:deleted")] {
        let base = used_memory(&mut c);
        let size = fill_hash(&mut c, key, 200_000);
        assert!(size > 10 << 20, "a 200k-field hash takes {size} bytes");
        let removed: i64 = q(&mut c, &[command, key, "missing"]);
        assert_eq!(removed, 1);
        let exists: i64 = q(&mut c, &["EXISTS", key]);
        assert_eq!(exists, 0, "{command}: the key is gone at once");
        assert!(
            memory_falls_below(&mut c, base + size / 4),
            "{command}: memory not given back: {} (base {base}, hash {size})",
            used_memory(&mut c)
        );
    }
    // A string over 1 MiB goes to the thread too.
    set_keys(&mut c, ["big:string"], &[b'x'; 2 << 20]);
    let _: i64 = q(&mut c, &["DEL", "big:string"]);
    assert!(eventually(FREE_DEADLINE, || lazyfreed(&mut c) >= freed_before + 3));
    // A small hash or string is freed inline, as Redis does below 65
    // fields.
    let _: i64 = q(&mut c, &["HSET", "small", "f", "v"]);
    let _: () = q(&mut c, &["SET", "short", "v"]);
    let _: i64 = q(&mut c, &["UNLINK", "small", "short"]);
    assert_eq!(lazyfreed(&mut c), freed_before + 3);
    assert_eq!(info_field(&mut c, "lazyfree_pending_objects"), "0");
}

#[test]
fn flush_async_empties_at_once_and_frees_in_the_background() {
    let _memory = memory_lock();
    let node = TestServer::start();
    let mut c = node.conn();
    for flush in ["FLUSHALL", "FLUSHDB"] {
        let base = used_memory(&mut c);
        let freed_before = lazyfreed(&mut c);
        set_keys(
            &mut c,
            (0..50_000).map(|i| format!("key:{i}")),
            &[b'v'; 100],
        );
        fill_hash(&mut c, "hash", 100_000);
        let size = used_memory(&mut c) - base;
        let _: () = q(&mut c, &[flush, "ASYNC"]);
        let keys: i64 = q(&mut c, &["DBSIZE"]);
        assert_eq!(keys, 0, "{flush} ASYNC: no key left at once");
        assert!(
            memory_falls_below(&mut c, base + size / 4),
            "{flush} ASYNC: memory not given back"
        );
        // Every flushed key counts as one object, as in Redis.
        assert!(eventually(FREE_DEADLINE, || {
            lazyfreed(&mut c) == freed_before + 50_001
        }));
    }
}
