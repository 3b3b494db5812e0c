//! Glob patterns end to end (issue 9, finding 4): KEYS, SCAN MATCH, HSCAN
//! MATCH and CONFIG GET with patterns that made the old matcher
//! exponential finish with the right result while other clients are
//! served, and KEYS/SCAN/HSCAN match exactly what redis-server matches,
//! quirks included, on fixed and random patterns.

mod common;

use std::collections::BTreeSet;

use common::query::set_keys;
use common::random::Gen;
use common::redis_server::RedisServer;
use common::{q, RawConn, TestServer};
use redis::Connection;

/// `a*a*...*a*b` with `stars` stars: exponential for plain backtracking.
fn star_pattern(stars: usize, last: &str) -> String {
    format!("{}{last}", "a*".repeat(stars))
}

/// The CONFIG GET pattern of the finding: six copies of `"*?"x16 + "!"`.
fn config_pattern() -> String {
    format!("{}!", "*?".repeat(16)).repeat(6)
}

/// Iterates `command` (`SCAN`, or `HSCAN` and its key) with MATCH
/// `pattern` from cursor 0 back to 0; returns every element it returned.
fn scan_matches(conn: &mut Connection, command: &[&[u8]], pattern: &[u8]) -> Vec<Vec<u8>> {
    let mut cursor = b"0".to_vec();
    let mut found = Vec::new();
    // Bounded: the key counts here are tiny against COUNT 1000.
    for _ in 0..10_000 {
        let mut scan = common::cmd(command);
        scan.arg(&cursor[..])
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000);
        let (next, batch): (Vec<u8>, Vec<Vec<u8>>) = scan.query(conn).expect("scan");
        found.extend(batch);
        if next == b"0" {
            return found;
        }
        cursor = next;
    }
    panic!("{} did not finish", String::from_utf8_lossy(command[0]));
}

fn scan_all(conn: &mut Connection, pattern: &[u8]) -> BTreeSet<Vec<u8>> {
    scan_matches(conn, &[b"SCAN"], pattern)
        .into_iter()
        .collect()
}

/// HSCAN returns fields and values; keep the fields.
fn hscan_fields(conn: &mut Connection, key: &[u8], pattern: &[u8]) -> BTreeSet<Vec<u8>> {
    scan_matches(conn, &[b"HSCAN", key], pattern)
        .into_iter()
        .step_by(2)
        .collect()
}

#[test]
fn pathological_patterns_finish_with_the_right_result() {
    let node = TestServer::start();
    let mut c = node.conn();
    let long = "a".repeat(40);
    let _: () = q(&mut c, &["SET", &long, "v"]);
    let _: () = q(&mut c, &["SET", "other", "v"]);
    let _: i64 = q(&mut c, &["HSET", "h", &long, "v", "x", "y"]);
    let miss = star_pattern(20, "b");
    let hit = star_pattern(20, "a");
    let keys: Vec<String> = q(&mut c, &["KEYS", &miss]);
    assert!(keys.is_empty());
    let keys: Vec<String> = q(&mut c, &["KEYS", &hit]);
    assert_eq!(keys, vec![long.clone()]);
    assert!(scan_all(&mut c, miss.as_bytes()).is_empty());
    assert_eq!(
        scan_all(&mut c, hit.as_bytes()),
        BTreeSet::from([long.clone().into_bytes()])
    );
    assert!(hscan_fields(&mut c, b"h", miss.as_bytes()).is_empty());
    assert_eq!(
        hscan_fields(&mut c, b"h", hit.as_bytes()),
        BTreeSet::from([long.into_bytes()])
    );
    let config: Vec<String> = q(&mut c, &["CONFIG", "GET", &config_pattern()]);
    assert!(config.is_empty());
    let config: Vec<String> = q(&mut c, &["CONFIG", "GET", "MAXMEMORY-POL*"]);
    assert_eq!(config[0], "maxmemory-policy");
}

/// While one client runs the pathological KEYS over and over, another
/// client's PING and a GET of a key in the walked shards are answered.
#[test]
fn other_clients_are_served_during_a_pathological_keys() {
    let node = TestServer::start();
    let mut c = node.conn();
    set_keys(
        &mut c,
        (0..2000).map(|i| format!("{}{i}", "a".repeat(40))),
        b"v",
    );
    let addr = node.addr;
    let walker = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://{addr}/"))
            .and_then(|client| client.get_connection())
            .expect("connection");
        for _ in 0..20 {
            let keys: Vec<String> = q(&mut c, &["KEYS", &star_pattern(20, "b")]);
            assert!(keys.is_empty());
        }
    });
    let mut raw = RawConn::connect(addr);
    let key = format!("{}7", "a".repeat(40));
    for _ in 0..50 {
        raw.send(b"PING\r\n");
        raw.send_command(&["GET", &key]);
        assert_eq!(raw.reply_bytes().1, b"+PONG\r\n");
        assert_eq!(raw.reply_bytes().1, b"$1\r\nv\r\n");
    }
    walker.join().expect("KEYS client");
}

/// Keys that exercise every special byte, and the empty key.
fn key_set(rng: &mut Gen) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = [
        "", "-", "]", "[", "^", "\\", "*", "?", "a", "b", "A", "ab", "ba", "aB", "a-b", "a]",
        "[a]", "a\\b", "]]", "^a", "?a", "*a", "aaaa", "abab",
    ]
    .iter()
    .map(|k| k.as_bytes().to_vec())
    .collect();
    for _ in 0..300 {
        let len = 1 + rng.below(6);
        keys.push(rng.string(b"ab-]^\\*?[A", len));
    }
    keys.push(b"a".repeat(40));
    keys.sort();
    keys.dedup();
    keys
}

/// Patterns: the quirks called out in the issue, then random ones over
/// the special bytes.
fn pattern_set(rng: &mut Gen) -> Vec<Vec<u8>> {
    let mut patterns: Vec<Vec<u8>> = [
        "*", "**", "?", "*?", "?*", "[?-]", "[a-]", "[-a]", "[]", "[]]", "[^]", "[^a]", "[!a]",
        "[a-b]", "[b-a]", "[\\]]", "[\\-]", "\\*", "\\", "a\\", "[", "[^", "[a", "a[", "*[*", "]",
        "^", "-", "[*]", "[?]", "a*", "*a", "*a*", "a*b", "*-*", "[a-\\]", "[A-a]", "[^-]",
    ]
    .iter()
    .map(|p| p.as_bytes().to_vec())
    .collect();
    patterns.push(star_pattern(20, "b").into_bytes());
    patterns.push(star_pattern(20, "a").into_bytes());
    for _ in 0..1500 {
        let len = rng.below(9);
        patterns.push(rng.string(b"*?[]^-\\abA", len));
    }
    patterns
}

fn load(conn: &mut Connection, keys: &[Vec<u8>]) {
    let mut pipe = redis::pipe();
    for k in keys {
        pipe.cmd("SET").arg(&k[..]).arg("v").ignore();
        pipe.cmd("HSET").arg("fields").arg(&k[..]).arg("v").ignore();
    }
    let _: () = pipe.query(conn).expect("load");
}

fn keys_of(conn: &mut Connection, patterns: &[Vec<u8>]) -> Vec<BTreeSet<Vec<u8>>> {
    let mut pipe = redis::pipe();
    for p in patterns {
        pipe.cmd("KEYS").arg(&p[..]);
    }
    let replies: Vec<Vec<Vec<u8>>> = pipe.query(conn).expect("KEYS");
    replies
        .into_iter()
        .map(|r| r.into_iter().collect())
        .collect()
}

#[test]
fn keys_scan_and_hscan_match_what_redis_matches() {
    let Some(redis) = RedisServer::start_or_skip("keys_scan_and_hscan_match_what_redis_matches")
    else {
        return;
    };
    let node = TestServer::start();
    let (mut ours, mut theirs) = (node.conn(), redis.conn());
    let mut rng = Gen::seeded("keys_scan_and_hscan_match_what_redis_matches");
    let keys = key_set(&mut rng);
    let patterns = pattern_set(&mut rng);
    load(&mut ours, &keys);
    load(&mut theirs, &keys);
    let (a, b) = (
        keys_of(&mut ours, &patterns),
        keys_of(&mut theirs, &patterns),
    );
    let mut differ = Vec::new();
    for ((p, a), b) in patterns.iter().zip(&a).zip(&b) {
        if a != b {
            differ.push(format!(
                "KEYS {:?}: ours {:?} redis {:?}",
                String::from_utf8_lossy(p),
                a.iter()
                    .map(|k| String::from_utf8_lossy(k))
                    .collect::<Vec<_>>(),
                b.iter()
                    .map(|k| String::from_utf8_lossy(k))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} patterns differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
    assert!(
        a.iter().any(|m| m.len() > 1),
        "some pattern matches several keys"
    );
    // SCAN and HSCAN share the matcher; a sample of the patterns suffices.
    for p in patterns.iter().step_by(15) {
        let shown = String::from_utf8_lossy(p);
        assert_eq!(
            scan_all(&mut ours, p),
            scan_all(&mut theirs, p),
            "SCAN MATCH {shown:?}"
        );
        assert_eq!(
            hscan_fields(&mut ours, b"fields", p),
            hscan_fields(&mut theirs, b"fields", p),
            "HSCAN MATCH {shown:?}"
        );
    }
}
