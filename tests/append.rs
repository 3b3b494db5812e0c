//! APPEND and SETRANGE on growing values (issue 9, finding 8): values grow
//! in place with spare room, and every byte stays where Redis would put
//! it: random appends and set-ranges (past the end too, zero-padded)
//! checked against a model with GET, STRLEN and GETRANGE; the finding's
//! reproductions complete; MEMORY USAGE counts the spare room.

mod common;

use common::random::Gen;
use common::{q, TestServer};
use redis::Connection;

fn append(c: &mut Connection, key: &str, tail: &[u8]) -> usize {
    redis::cmd("APPEND")
        .arg(key)
        .arg(tail)
        .query(c)
        .expect("APPEND")
}

fn setrange(c: &mut Connection, key: &str, offset: usize, patch: &[u8]) -> usize {
    redis::cmd("SETRANGE")
        .arg(key)
        .arg(offset)
        .arg(patch)
        .query(c)
        .expect("SETRANGE")
}

fn getrange(c: &mut Connection, key: &str, start: i64, end: i64) -> Vec<u8> {
    redis::cmd("GETRANGE")
        .arg(key)
        .arg(start)
        .arg(end)
        .query(c)
        .expect("GETRANGE")
}

/// Checks the whole value and a few ranges against the model.
fn check(c: &mut Connection, key: &str, model: &[u8], rng: &mut Gen) {
    let strlen: usize = q(c, &["STRLEN", key]);
    assert_eq!(strlen, model.len());
    let got: Vec<u8> = redis::cmd("GET").arg(key).query(c).expect("GET");
    assert!(got == model, "{key}: GET differs from the model");
    for _ in 0..4 {
        let len = model.len().max(1) as i64;
        let (a, b) = (
            rng.below(len as usize) as i64,
            rng.below(len as usize) as i64,
        );
        let (start, end) = (a.min(b), a.max(b));
        let expected = if model.is_empty() {
            Vec::new()
        } else {
            model[start as usize..=end as usize].to_vec()
        };
        // The same range with negative indexes, counted from the end.
        for (from, to) in [(start, end), (start - len, end - len)] {
            let got = getrange(c, key, from, to);
            assert_eq!(got, expected, "{key} {from}..={to} ({start}..={end})");
        }
    }
}

#[test]
fn appends_and_setranges_are_byte_exact() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut rng = Gen::seeded("appends_and_setranges_are_byte_exact");
    let keys = ["small", "medium", "large"];
    let sizes = [16, 300, 70_000];
    let mut models: Vec<Vec<u8>> = vec![Vec::new(); keys.len()];
    for step in 0..600 {
        let k = rng.below(keys.len());
        let (key, model) = (keys[k], &mut models[k]);
        let size = 1 + rng.below(sizes[k]);
        let bytes: Vec<u8> = (0..size).map(|_| rng.next_u64() as u8).collect();
        let len = if rng.below(3) < 2 {
            model.extend_from_slice(&bytes);
            append(&mut c, key, &bytes)
        } else {
            // Up to well past the end: the gap reads back as zeros.
            let offset = rng.below(model.len() + 2 * sizes[k]);
            if model.len() < offset + bytes.len() {
                model.resize(offset + bytes.len(), 0);
            }
            model[offset..offset + bytes.len()].copy_from_slice(&bytes);
            setrange(&mut c, key, offset, &bytes)
        };
        assert_eq!(len, model.len(), "step {step} on {key}");
        if step % 25 == 0 {
            check(&mut c, key, model, &mut rng);
        }
    }
    for (key, model) in keys.iter().zip(&models) {
        check(&mut c, key, model, &mut rng);
    }
    // SET replaces a grown value with an exact one; APPEND grows it again.
    let _: () = q(&mut c, &["SET", "large", "fresh"]);
    assert_eq!(append(&mut c, "large", b"!"), 6);
    let v: Vec<u8> = q(&mut c, &["GET", "large"]);
    assert_eq!(v, b"fresh!");
}

/// The finding's reproduction: a 256 MiB value made by SETRANGE, then
/// one-byte appends, which used to copy the whole value each time.
#[test]
fn appends_to_a_setrange_made_value_complete() {
    let node = TestServer::start();
    let mut c = node.conn();
    assert_eq!(setrange(&mut c, "big", 268_435_455, b"x"), 268_435_456);
    for i in 1..=300 {
        assert_eq!(append(&mut c, "big", b"y"), 268_435_456 + i);
    }
    let tail = getrange(&mut c, "big", 268_435_450, -1);
    let mut expected = vec![0u8; 5];
    expected.push(b'x');
    expected.extend_from_slice(&[b'y'; 300]);
    assert_eq!(tail, expected);
    let head = getrange(&mut c, "big", 0, 9);
    assert_eq!(head, vec![0u8; 10]);
    // One more set-range inside the value is done in place.
    assert_eq!(setrange(&mut c, "big", 3, b"abc"), 268_435_756);
    assert_eq!(getrange(&mut c, "big", 0, 7), b"\0\0\0abc\0\0");
}

/// Many 1 MiB appends (the finding used 256; 64 keep the debug build's
/// test short) build the exact value, and MEMORY USAGE counts the spare
/// room a grown value carries while a SET value stays exact.
#[test]
fn megabyte_appends_build_the_value_and_memory_usage_counts_spare_room() {
    let node = TestServer::start();
    let mut c = node.conn();
    let chunk: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    for i in 1..=64 {
        assert_eq!(append(&mut c, "log", &chunk), i << 20);
    }
    for i in [0usize, 17, 63] {
        let start = (i << 20) as i64 + 1000;
        assert_eq!(
            getrange(&mut c, "log", start, start + 99),
            chunk[1000..1100].to_vec()
        );
    }
    let exact: usize = {
        let _: () = redis::cmd("SET")
            .arg("exact")
            .arg(&chunk[..])
            .query(&mut c)
            .expect("SET");
        q(&mut c, &["MEMORY", "USAGE", "exact"])
    };
    assert!((1 << 20..(1 << 20) + 100).contains(&exact), "{exact}");
    append(&mut c, "exact", b"z");
    let grown: usize = q(&mut c, &["MEMORY", "USAGE", "exact"]);
    // Past 1 MiB a growing value gets 1 MiB of room.
    assert!(grown >= (2 << 20), "{grown}");
}
