//! Transparent huge pages (`disable-thp`), in node processes (`main.rs`
//! refuses them through prctl before the runtime starts): the kernel's
//! view of the process (`THP_enabled` in `/proc/<pid>/status`) with the
//! default and with `--disable-thp yes`, the setting as CONFIG GET shows
//! it, and CONFIG SET refusing it with Redis's error, the node still
//! serving.

mod common;

use common::errors::config_set_failed;
use common::{err, q, TestNode};

/// The kernel's `THP_enabled` for the process: whether huge pages may
/// back its memory at all.
fn thp_enabled(node: &TestNode) -> bool {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", node.pid())).expect("the node's status");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .expect("THP_enabled in /proc/<pid>/status (Linux 5.0 and later)");
    match line.trim() {
        "1" => true,
        "0" => false,
        other => panic!("THP_enabled: {other}"),
    }
}

#[test]
fn huge_pages_are_allowed_by_default_and_refused_on_request() {
    let default = TestNode::start(&[]);
    let mut conn = default.conn();
    let shown: Vec<String> = q(&mut conn, &["CONFIG", "GET", "disable-thp"]);
    assert_eq!(shown, ["disable-thp", "no"]);
    assert!(thp_enabled(&default), "the default leaves huge pages on");

    let refusing = TestNode::start(&["--disable-thp", "yes"]);
    let mut conn = refusing.conn();
    let shown: Vec<String> = q(&mut conn, &["CONFIG", "GET", "disable-thp"]);
    assert_eq!(shown, ["disable-thp", "yes"]);
    assert!(!thp_enabled(&refusing), "--disable-thp yes refuses them");

    // Set before the runtime starts, so not at run time (as Redis's).
    assert_eq!(
        err(&mut conn, &["CONFIG", "SET", "disable-thp", "no"]),
        config_set_failed("disable-thp", "can't set immutable config")
    );
    let _: () = q(&mut conn, &["SET", "k", "v"]);
    let back: String = q(&mut conn, &["GET", "k"]);
    assert_eq!(back, "v");
    assert!(!thp_enabled(&refusing));
}
