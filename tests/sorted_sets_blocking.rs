//! The blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP) end to end:
//! served at once when a key has members (replies compared with a real
//! redis-server), parked until a ZADD from another client, in arrival
//! order, ended by the timeout or CLIENT UNBLOCK, and never blocking inside
//! MULTI.

mod common;

use common::info::wait_blocked;
use common::redis_server::{assert_same_replies, RedisServer};
use common::wire::{Frame, RawConn};
use common::{q, TestServer};

fn bulk(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec())
}

/// Commands that answer at once; both servers must answer alike.
const AT_ONCE: &[&[&str]] = &[
    &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    &["BZPOPMIN", "missing", "z", "0"],
    &["BZPOPMAX", "z", "0"],
    &["BZMPOP", "0", "2", "missing", "z", "MIN"],
    &["ZADD", "y", "1.5", "m", "2.5", "n", "3.5", "o"],
    &["BZMPOP", "0", "1", "y", "MAX", "COUNT", "2"],
    &["BZMPOP", "0", "1", "y", "MAX", "COUNT", "10"],
    &["SET", "s", "x"],
    &["BZPOPMIN", "s", "0"],
    &["BZMPOP", "0", "1", "s", "MIN"],
    &["BZPOPMIN", "z", "-1"],
    &["BZPOPMIN", "z", "x"],
    &["BZPOPMIN", "z"],
    &["BZMPOP", "0", "0", "z", "MIN"],
    &["BZMPOP", "0", "1", "z", "MIDDLE"],
    &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"],
    &["BZMPOP", "x", "1", "z", "MIN"],
    &["BZPOPMIN", "nothing", "0.01"],
    &["BZMPOP", "0.01", "1", "nothing", "MIN"],
    &["MULTI"],
    &["BZPOPMIN", "nothing", "0"],
    &["BZMPOP", "0", "1", "nothing", "MAX"],
    &["EXEC"],
];

#[test]
fn answers_at_once_as_redis_does() {
    let Some(redis) = RedisServer::start_or_skip("answers_at_once_as_redis_does") else {
        return;
    };
    let node = TestServer::start();
    assert_same_replies(&mut node.raw(), &mut redis.raw(), AT_ONCE);
    let (mut ours, mut theirs) = (node.raw(), redis.raw());
    let _ = ours.call(&["HELLO", "3"]);
    let _ = theirs.call(&["HELLO", "3"]);
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["ZADD", "r3", "1", "a", "2", "b"],
            &["BZPOPMIN", "r3", "0"],
            &["BZMPOP", "0", "1", "r3", "MIN"],
            &["BZPOPMIN", "r3", "0.01"],
        ],
    );
}

#[test]
fn blocked_clients_are_served_in_arrival_order_by_zadd() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut first = node.raw();
    first.send_command(&["BZPOPMIN", "q", "0"]);
    wait_blocked(&mut c, 1);
    let mut second = node.raw();
    second.send_command(&["BZMPOP", "0", "2", "other", "q", "MAX", "COUNT", "5"]);
    wait_blocked(&mut c, 2);
    let _: i64 = q(&mut c, &["ZADD", "q", "5", "five"]);
    assert_eq!(
        first.reply(),
        Frame::Array(vec![bulk("q"), bulk("five"), bulk("5")])
    );
    wait_blocked(&mut c, 1);
    let _: i64 = q(&mut c, &["ZADD", "q", "1", "one", "2", "two"]);
    assert_eq!(
        second.reply(),
        Frame::Array(vec![
            bulk("q"),
            Frame::Array(vec![
                Frame::Array(vec![bulk("two"), bulk("2")]),
                Frame::Array(vec![bulk("one"), bulk("1")]),
            ]),
        ])
    );
    wait_blocked(&mut c, 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "q"]), 0);
}

#[test]
fn timeouts_and_client_unblock_end_the_wait() {
    let node = TestServer::start();
    let mut c = node.conn();
    let mut raw = node.raw();
    assert_eq!(raw.roundtrip(&["BZPOPMAX", "none", "0.05"]), b"*-1\r\n");
    let mut blocked = RawConn::connect(node.addr);
    let id = blocked.client_id();
    blocked.send_command(&["BZPOPMIN", "none", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(q::<i64>(&mut c, &["CLIENT", "UNBLOCK", &id.to_string()]), 1);
    assert_eq!(blocked.reply(), Frame::NullArray);
    wait_blocked(&mut c, 0);
}
