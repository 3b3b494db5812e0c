//! Replies the differential test (tests/differential) found different from
//! Redis 7, each pinned here to what redis-server 7 answers.

mod common;

use common::errors::{INVALID_CURSOR, NOT_FLOAT, WRONGTYPE};
use common::wire::Frame;
use common::TestServer;

fn error(text: impl AsRef<[u8]>) -> Frame {
    Frame::Error(text.as_ref().to_vec())
}

fn is_scan_page(frame: &Frame) -> bool {
    matches!(frame, Frame::Array(page)
        if page.len() == 2 && matches!(page[0], Frame::Bulk(_)) && page[1].items().is_some())
}

#[test]
fn scan_cursors_parse_like_strtoul() {
    let node = TestServer::start();
    let mut conn = node.raw();
    conn.call(&["SET", "s", "v"]);
    conn.call(&["HSET", "h", "f", "v"]);
    // A negative cursor wraps around, the empty one is 0, a sign and
    // leading zeros are fine: all scans, not errors.
    for cursor in [&b"-1"[..], b"", b"+0", b"007", b"18446744073709551615"] {
        let page = conn.call(&[&b"SCAN"[..], cursor]);
        assert!(is_scan_page(&page), "SCAN {cursor:?}: {page:?}");
        let page = conn.call(&[&b"HSCAN"[..], b"h", cursor]);
        assert!(is_scan_page(&page), "HSCAN {cursor:?}: {page:?}");
    }
    for cursor in [&b" 1"[..], b"1 ", b"x", b"-", b"18446744073709551616"] {
        assert_eq!(conn.call(&[&b"SCAN"[..], cursor]), error(INVALID_CURSOR));
    }
    // The cursor is checked before the key's type.
    assert_eq!(conn.call(&["HSCAN", "s", "-1"]), error(WRONGTYPE));
}

#[test]
fn incrbyfloat_checks_the_key_before_the_increment() {
    let node = TestServer::start();
    let mut conn = node.raw();
    conn.call(&["HSET", "h", "f", "v"]);
    conn.call(&["SET", "s", "abc"]);
    assert_eq!(
        conn.call(&["INCRBYFLOAT", "h", "notafloat"]),
        error(WRONGTYPE)
    );
    assert_eq!(conn.call(&["INCRBYFLOAT", "s", "1.5"]), error(NOT_FLOAT));
    // HINCRBYFLOAT checks its increment first, as Redis does.
    assert_eq!(
        conn.call(&["HINCRBYFLOAT", "s", "f", "x"]),
        error(NOT_FLOAT)
    );
}

#[test]
fn errors_quote_arguments_as_redis_does() {
    let node = TestServer::start();
    let mut conn = node.raw();
    // Bytes as they came, cut at a NUL, CR and LF as spaces.
    assert_eq!(
        conn.call(&[&b"NOSUCH"[..], b"\xff\r\n<", b"a\0b", b"x"]),
        error(b"ERR unknown command 'NOSUCH', with args beginning with: '\xff  <' 'a' 'x' ")
    );
    // Arguments are quoted while the list is under 128 bytes, the last one
    // cut to what is left.
    let long = vec![b'q'; 300];
    let mut expected = b"ERR unknown command 'GETT', with args beginning with: '3.5' '".to_vec();
    expected.extend(vec![b'q'; 128 - 6]);
    expected.extend_from_slice(b"' ");
    assert_eq!(
        conn.call(&[&b"GETT"[..], b"3.5", &long, b"never"]),
        Frame::Error(expected)
    );
    // An unsupported option: line ends trimmed off the end.
    assert_eq!(
        conn.call(&[&b"EXPIRE"[..], b"k", b"10", b"\xffB+ \r\x00z"]),
        error(b"ERR Unsupported option \xffB+ ")
    );
    assert_eq!(
        conn.call(&[&b"EXPIRE"[..], b"k", b"10", b"\r\n"]),
        error(b"ERR Unsupported option ")
    );
}
