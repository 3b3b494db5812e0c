//! Pub/Sub end to end: the `redis` crate's PubSub (channels and patterns),
//! RESP3 push messages on a raw connection, RESP2's subscribed mode and the
//! confirmations compared byte for byte with a real redis-server, PUBSUB
//! introspection, a subscriber that never reads cut at the pub/sub output
//! limit, and PUBLISH/SPUBLISH across a cluster.

mod common;

use common::redis_server::{assert_same_replies, RedisServer};
use common::wire::Frame;
use common::TestServer;
use common::{eventually, q, DEADLINE};

#[test]
fn messages_reach_channel_and_pattern_subscribers() {
    let node = TestServer::start();
    let mut subscriber = node.conn();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.subscribe("news").unwrap();
    pubsub.psubscribe("sport.*").unwrap();
    pubsub.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut publisher = node.conn();
    assert_eq!(q::<i64>(&mut publisher, &["PUBLISH", "news", "hello"]), 1);
    assert_eq!(
        q::<i64>(&mut publisher, &["PUBLISH", "sport.tennis", "ace"]),
        1
    );
    assert_eq!(q::<i64>(&mut publisher, &["PUBLISH", "weather", "rain"]), 0);
    let first = pubsub.get_message().unwrap();
    assert_eq!(
        (
            first.get_channel_name(),
            first.get_payload::<String>().unwrap()
        ),
        ("news", "hello".into())
    );
    let second = pubsub.get_message().unwrap();
    assert_eq!(second.get_channel_name(), "sport.tennis");
    assert_eq!(second.get_pattern::<String>().unwrap(), "sport.*");
    assert_eq!(second.get_payload::<String>().unwrap(), "ace");

    let channels: Vec<String> = q(&mut publisher, &["PUBSUB", "CHANNELS"]);
    assert_eq!(channels, ["news"]);
    let numsub: Vec<redis::Value> = q(&mut publisher, &["PUBSUB", "NUMSUB", "news", "none"]);
    assert_eq!(
        numsub,
        [
            redis::Value::BulkString(b"news".to_vec()),
            redis::Value::Int(1),
            redis::Value::BulkString(b"none".to_vec()),
            redis::Value::Int(0)
        ]
    );
    assert_eq!(q::<i64>(&mut publisher, &["PUBSUB", "NUMPAT"]), 1);
    pubsub.unsubscribe("news").unwrap();
    pubsub.punsubscribe("sport.*").unwrap();
    drop(pubsub);
    assert!(eventually(DEADLINE, || q::<i64>(
        &mut publisher,
        &["PUBSUB", "NUMPAT"]
    ) == 0));
    assert_eq!(q::<i64>(&mut publisher, &["PUBLISH", "news", "again"]), 0);
}

#[test]
fn resp3_subscribers_get_pushes_and_keep_running_commands() {
    let node = TestServer::start();
    let mut raw = node.raw();
    let _ = raw.call(&["HELLO", "3"]);
    assert_eq!(
        raw.roundtrip(&["SUBSCRIBE", "c"]),
        b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"
    );
    // RESP3 has no subscribed mode: any command runs.
    assert_eq!(raw.roundtrip(&["SET", "k", "v"]), b"+OK\r\n");
    let mut publisher = node.conn();
    assert_eq!(q::<i64>(&mut publisher, &["PUBLISH", "c", "m"]), 1);
    assert_eq!(
        raw.reply(),
        Frame::Push(vec![
            Frame::Bulk(b"message".to_vec()),
            Frame::Bulk(b"c".to_vec()),
            Frame::Bulk(b"m".to_vec()),
        ])
    );
}

/// What both servers must answer alike, in RESP2 (one reply each).
const SESSION: &[&[&str]] = &[
    &["UNSUBSCRIBE"],
    &["PUNSUBSCRIBE"],
    &["SUBSCRIBE", "a"],
    &["SUBSCRIBE", "b"],
    &["SUBSCRIBE", "a"],
    &["PSUBSCRIBE", "x*"],
    &["PING"],
    &["PING", "hi"],
    &["GET", "k"],
    &["PUBLISH", "a", "m"],
    &["UNSUBSCRIBE", "b"],
    &["UNSUBSCRIBE", "zzz"],
    &["PUNSUBSCRIBE"],
    &["UNSUBSCRIBE"],
    &["PING"],
    &["PUBSUB", "NUMPAT"],
    &["PUBSUB", "CHANNELS", "a", "b"],
    &["PUBSUB", "NUMSUB"],
    &["PUBSUB"],
    &["SUBSCRIBE"],
];

#[test]
fn subscribed_mode_answers_as_redis_does() {
    let Some(redis) = RedisServer::start_or_skip("subscribed_mode_answers_as_redis_does") else {
        return;
    };
    let node = TestServer::start();
    assert_same_replies(&mut node.raw(), &mut redis.raw(), SESSION);
}

/// PUBSUB NUMSUB and SHARDNUMSUB answer a flat array in RESP3 too (a map
/// broke redis-py 8, which speaks RESP3 by default and reads pairs).
#[test]
fn numsub_is_a_flat_array_in_resp3() {
    let node = TestServer::start();
    let mut subscriber = node.raw();
    subscriber.roundtrip(&["SUBSCRIBE", "news"]);
    let mut conn = node.raw();
    conn.roundtrip(&["HELLO", "3"]);
    assert_eq!(
        conn.roundtrip(&["PUBSUB", "NUMSUB", "news", "none"]),
        b"*4\r\n$4\r\nnews\r\n:1\r\n$4\r\nnone\r\n:0\r\n"
    );
    assert_eq!(
        conn.roundtrip(&["PUBSUB", "SHARDNUMSUB", "s"]),
        b"*2\r\n$1\r\ns\r\n:0\r\n"
    );
    let Some(redis) = RedisServer::start_or_skip("numsub_is_a_flat_array_in_resp3") else {
        return;
    };
    let (mut ours, mut theirs) = (node.raw(), redis.raw());
    // HELLO's own reply names each server's version: not compared.
    ours.roundtrip(&["HELLO", "3"]);
    theirs.roundtrip(&["HELLO", "3"]);
    assert_same_replies(
        &mut ours,
        &mut theirs,
        &[
            &["PUBSUB", "NUMSUB", "a", "b"],
            &["PUBSUB", "SHARDNUMSUB", "a"],
            &["PUBSUB", "NUMSUB"],
        ],
    );
}

#[test]
fn a_subscriber_that_never_reads_is_cut_at_the_pubsub_limit() {
    let node = TestServer::start();
    let mut silent = node.raw();
    assert_eq!(
        silent.roundtrip(&["SUBSCRIBE", "flood"]),
        b"*3\r\n$9\r\nsubscribe\r\n$5\r\nflood\r\n:1\r\n"
    );
    let mut publisher = node.conn();
    let payload = "x".repeat(1 << 20);
    // 48 MiB for a client that reads nothing: past the 32 MB hard limit.
    for _ in 0..48 {
        let _: i64 = q(&mut publisher, &["PUBLISH", "flood", &payload]);
    }
    assert!(
        eventually(DEADLINE, || {
            let numsub: Vec<redis::Value> = q(&mut publisher, &["PUBSUB", "NUMSUB", "flood"]);
            numsub.get(1) == Some(&redis::Value::Int(0))
        }),
        "the silent subscriber is still subscribed"
    );
    assert_eq!(q::<String>(&mut publisher, &["PING"]), "PONG");
}

#[test]
fn publish_reaches_subscribers_of_every_cluster_node() {
    let cluster = common::cluster::TestCluster::start(3, &["--replicas", "0"]);
    let mut subscriber = cluster.conn(0);
    let mut pubsub = subscriber.as_pubsub();
    pubsub.subscribe("everywhere").unwrap();
    pubsub.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut publisher = cluster.conn(2);
    // This node's subscribers only, as Redis Cluster counts.
    assert_eq!(
        q::<i64>(&mut publisher, &["PUBLISH", "everywhere", "hi"]),
        0
    );
    let message = pubsub.get_message().unwrap();
    assert_eq!(message.get_payload::<String>().unwrap(), "hi");

    // Shard channels live on their slot's owner; SPUBLISH is routed there.
    let owner = cluster.owners("orders")[0];
    let other = (owner + 1) % 3;
    let mut elsewhere = cluster.node(other).raw();
    let refused = elsewhere.roundtrip(&["SSUBSCRIBE", "orders"]);
    assert!(
        refused.starts_with(b"-ERR SSUBSCRIBE of a key owned by another node"),
        "{}",
        String::from_utf8_lossy(&refused)
    );
    let mut at_owner = cluster.node(owner).raw();
    assert_eq!(
        at_owner.roundtrip(&["SSUBSCRIBE", "orders"]),
        b"*3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n"
    );
    let mut via_other = cluster.conn(other);
    assert_eq!(q::<i64>(&mut via_other, &["SPUBLISH", "orders", "o1"]), 1);
    assert_eq!(
        at_owner.reply(),
        Frame::Array(vec![
            Frame::Bulk(b"smessage".to_vec()),
            Frame::Bulk(b"orders".to_vec()),
            Frame::Bulk(b"o1".to_vec()),
        ])
    );
}
