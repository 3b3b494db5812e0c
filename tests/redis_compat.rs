//! Replies the differential test (tests/differential) found different from
//! Redis 7, each pinned here to what redis-server 7 answers.

mod common;

use std::io::Write;
use std::time::Duration;

use common::wire::{encode_command, Frame, FrameReader};
use common::TestNode;

/// A raw connection that sends commands and reads strictly decoded replies.
fn connect(node: &TestNode) -> FrameReader {
    let stream = node.raw().stream;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    FrameReader::new(stream)
}

fn call(conn: &mut FrameReader, args: &[&[u8]]) -> Frame {
    let mut bytes = Vec::new();
    encode_command(&mut bytes, args);
    conn.stream.write_all(&bytes).expect("write");
    conn.next().expect("a valid reply")
}

fn error(text: &[u8]) -> Frame {
    Frame::Error(text.to_vec())
}

fn is_scan_page(frame: &Frame) -> bool {
    matches!(frame, Frame::Array(page)
        if page.len() == 2 && matches!(page[0], Frame::Bulk(_)) && page[1].items().is_some())
}

#[test]
fn scan_cursors_parse_like_strtoul() {
    let node = TestNode::start(&[]);
    let mut conn = connect(&node);
    call(&mut conn, &[b"SET", b"s", b"v"]);
    call(&mut conn, &[b"HSET", b"h", b"f", b"v"]);
    // A negative cursor wraps around, the empty one is 0, a sign and
    // leading zeros are fine: all scans, not errors.
    for cursor in [&b"-1"[..], b"", b"+0", b"007", b"18446744073709551615"] {
        let page = call(&mut conn, &[b"SCAN", cursor]);
        assert!(is_scan_page(&page), "SCAN {cursor:?}: {page:?}");
        let page = call(&mut conn, &[b"HSCAN", b"h", cursor]);
        assert!(is_scan_page(&page), "HSCAN {cursor:?}: {page:?}");
    }
    for cursor in [&b" 1"[..], b"1 ", b"x", b"-", b"18446744073709551616"] {
        assert_eq!(
            call(&mut conn, &[b"SCAN", cursor]),
            error(b"ERR invalid cursor")
        );
    }
    // The cursor is checked before the key's type.
    assert_eq!(
        call(&mut conn, &[b"HSCAN", b"s", b"-1"]),
        error(b"WRONGTYPE Operation against a key holding the wrong kind of value")
    );
}

#[test]
fn incrbyfloat_checks_the_key_before_the_increment() {
    let node = TestNode::start(&[]);
    let mut conn = connect(&node);
    call(&mut conn, &[b"HSET", b"h", b"f", b"v"]);
    call(&mut conn, &[b"SET", b"s", b"abc"]);
    assert_eq!(
        call(&mut conn, &[b"INCRBYFLOAT", b"h", b"notafloat"]),
        error(b"WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(
        call(&mut conn, &[b"INCRBYFLOAT", b"s", b"1.5"]),
        error(b"ERR value is not a valid float")
    );
    // HINCRBYFLOAT checks its increment first, as Redis does.
    assert_eq!(
        call(&mut conn, &[b"HINCRBYFLOAT", b"s", b"f", b"x"]),
        error(b"ERR value is not a valid float")
    );
}

#[test]
fn errors_quote_arguments_as_redis_does() {
    let node = TestNode::start(&[]);
    let mut conn = connect(&node);
    // Bytes as they came, cut at a NUL, CR and LF as spaces.
    assert_eq!(
        call(&mut conn, &[b"NOSUCH", b"\xff\r\n<", b"a\0b", b"x"]),
        error(b"ERR unknown command 'NOSUCH', with args beginning with: '\xff  <' 'a' 'x' ")
    );
    // Arguments are quoted while the list is under 128 bytes, the last one
    // cut to what is left.
    let long = vec![b'q'; 300];
    let mut expected = b"ERR unknown command 'GETT', with args beginning with: '3.5' '".to_vec();
    expected.extend(vec![b'q'; 128 - 6]);
    expected.extend_from_slice(b"' ");
    assert_eq!(
        call(&mut conn, &[b"GETT", b"3.5", &long, b"never"]),
        Frame::Error(expected)
    );
    // An unsupported option: line ends trimmed off the end.
    assert_eq!(
        call(&mut conn, &[b"EXPIRE", b"k", b"10", b"\xffB+ \r\x00z"]),
        error(b"ERR Unsupported option \xffB+ ")
    );
    assert_eq!(
        call(&mut conn, &[b"EXPIRE", b"k", b"10", b"\r\n"]),
        error(b"ERR Unsupported option ")
    );
}
