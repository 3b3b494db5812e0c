//! Keyspace notifications end to end: `notify-keyspace-events` through
//! CONFIG SET/GET (Redis's letters, its canonical echo and its error), the
//! events of every command family received by a PSUBSCRIBE in RESP2 (the
//! `redis` crate) and RESP3 (push frames), expiry (lazy and active) and
//! eviction, and the same command sequence run against a real
//! redis-server with the received (channel, message) sequences compared
//! exactly.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::query::config_set;
use common::redis_server::RedisServer;
use common::wire::Frame;
use common::{cmd, eventually, q, RawConn, TestNode, TestServer, DEADLINE};

/// The pattern every test subscribes to: both channel families.
const ALL_EVENTS: &str = "__key*__:*";
/// Published last: every event before it has been received.
const END_CHANNEL: &str = "__keyevent@0__:end-of-test";

/// A (channel, message) pair as a subscriber receives it.
type Event = (String, String);

/// Runs `request` on `conn`, whatever it answers (errors included: the
/// events are what is compared).
fn run(conn: &mut redis::Connection, request: &[&str]) {
    let _: redis::RedisResult<redis::Value> = cmd(request).query(conn);
}

/// Reads messages from `pubsub` up to the [`END_CHANNEL`] one.
fn events_until_end(pubsub: &mut redis::PubSub<'_>) -> Vec<Event> {
    let started = Instant::now();
    let mut events = Vec::new();
    loop {
        assert!(started.elapsed() < DEADLINE, "no end message: {events:?}");
        let message = pubsub.get_message().expect("a message before the deadline");
        let channel = message.get_channel_name().to_string();
        if channel == END_CHANNEL {
            return events;
        }
        let payload: Vec<u8> = message.get_payload().expect("a bulk payload");
        events.push((channel, String::from_utf8_lossy(&payload).into_owned()));
    }
}

/// The writes of every family, as Redis 7 announces them. Commands that
/// answer an error or change nothing are here too: they must stay quiet.
fn every_family() -> Vec<Vec<String>> {
    let future = (common::unix_secs() + 1000).to_string();
    let lines: &[&str] = &[
        // Strings.
        "SET s v",
        "SET s v EX 100",
        "SET s v KEEPTTL",
        "SET s w NX",
        "SET s w XX GET",
        "SETEX s2 100 v",
        "PSETEX s3 100000 v",
        "SETNX s v",
        "SETNX n v",
        "GETSET s x",
        "GETDEL s2",
        "GETDEL s2",
        "GETEX n EX 100",
        "GETEX n PERSIST",
        "GETEX n PERSIST",
        "GETEX s3 PXAT 1",
        "MSET a 1 b 2",
        "MSET twice 1 twice 2",
        "MSETNX c 1 d 2",
        "MSETNX c 1 e 2",
        "INCR a",
        "DECR a",
        "INCRBY a 5",
        "DECRBY a 2",
        "INCRBYFLOAT a 1.5",
        "INCR s",
        "APPEND b x",
        "APPEND b2 x",
        "SETRANGE b 3 yz",
        "SETRANGE b 0 ",
        "SETBIT bits 7 1",
        "SETBIT bits 7 1",
        "BITOP AND dest bits b",
        "BITOP AND dest nosuch",
        "BITFIELD bf SET u8 0 255 GET u8 0",
        "BITFIELD bf GET u8 0",
        "PFADD h1 a b",
        "PFADD h1 a",
        "PFMERGE h2 h1",
        // Keys.
        "DEL a b nosuch",
        "UNLINK c",
        "EXPIRE d 100",
        "PEXPIRE d 100000",
        "EXPIREAT d FUTURE",
        "EXPIRE d 100 NX",
        "PERSIST d",
        "PERSIST d",
        "EXPIRE d 0",
        "EXPIRE nosuch 10",
        "RENAME n n2",
        "RENAME n2 n2",
        "RENAMENX n2 n3",
        "SET n4 old",
        "RENAMENX n3 n4",
        "COPY n3 n5",
        "COPY n3 n5",
        "COPY n3 n5 REPLACE",
        "MOVE n5 1",
        "COPY n3 n6 DB 2",
        "COPY n3 n6 DB 2 REPLACE",
        "RENAME s3 n6",
        "SET s3 v",
        "RENAME s3 n6",
        "SELECT 1",
        "SET in1 v",
        "DEL in1 n5",
        "SELECT 0",
        // Hashes.
        "HSET hh f v g w",
        "HSET hh f v",
        "HSETNX hh f x",
        "HSETNX hh z 1",
        "HMSET hh a b",
        "HINCRBY hh cnt 2",
        "HINCRBYFLOAT hh fl 1.5",
        "HDEL hh f nosuch",
        "HDEL hh nosuch",
        "HDEL hh g z a cnt fl",
        // Lists.
        "RPUSH l a b c",
        "LPUSH l z",
        "LPUSHX l y",
        "RPUSHX nol x",
        "LSET l 0 q",
        "LINSERT l BEFORE a m",
        "LINSERT l BEFORE nosuch m",
        "LREM l 1 m",
        "LREM l 1 nosuch",
        "LTRIM l 0 -1",
        "LPOP l",
        "RPOP l 2",
        "LPOP l 0",
        "LMOVE l l2 LEFT RIGHT",
        "RPUSH l3 x",
        "RPOPLPUSH l3 l2",
        "LMOVE l2 l2 LEFT LEFT",
        "LMPOP 2 nosuch l2 LEFT COUNT 10",
        "RPUSH bl x y",
        "BLPOP bl 1",
        "BRPOP bl 1",
        "RPUSH bm x",
        "BLMOVE bm bm2 LEFT LEFT 1",
        "BLMPOP 1 1 bm2 RIGHT",
        "LTRIM l 5 10",
        // Sets.
        "SADD st a b c d",
        "SADD st a",
        "SREM st a",
        "SMOVE st st2 b",
        "SMOVE st st2 nosuch",
        "SPOP st 10",
        "SADD st3 only",
        "SPOP st3",
        "SADD sx 1 2 3",
        "SINTERSTORE si st2 st2",
        "SUNIONSTORE su st2 sx",
        "SDIFFSTORE su st2 st2",
        "SDIFFSTORE sd st2 st2",
        "SINTERSTORE si st2 nosuch",
        // Sorted sets.
        "ZADD z 1 a 2 b 3 c",
        "ZADD z INCR 5 a",
        "ZADD z 5 a",
        "ZINCRBY z 1 b",
        "ZINCRBY z 0 b",
        "ZADD z XX 1 nope",
        "ZADD z NX 9 a",
        "ZREM z c",
        "ZREM z nosuch",
        "ZREMRANGEBYSCORE z 100 200",
        "ZADD z 1 x 2 y",
        "ZREMRANGEBYRANK z 0 0",
        "ZADD zl 0 a 0 b 0 c 0 d",
        "ZREMRANGEBYLEX zl [a [b",
        "ZPOPMIN z",
        "ZPOPMAX z",
        "ZMPOP 1 z MIN COUNT 10",
        "ZUNIONSTORE zu 1 zl",
        "ZINTERSTORE zi 2 zl zu",
        "ZDIFFSTORE zd 2 zl zu",
        "ZDIFFSTORE zi 2 zl zu",
        "ZRANGESTORE zr zl 0 -1",
        "ZRANGESTORE zr zl 5 10",
        "BZPOPMIN zl 1",
        "BZMPOP 1 1 zl MAX COUNT 5",
        "ZADD zp 1 a",
        "ZPOPMIN zp 0",
        // Transactions run their commands' events.
        "MULTI",
        "SET t1 v",
        "LPUSH t2 v",
        "EXEC",
        // Scripts too.
        "EVAL redis.call('set',KEYS[1],'v');redis.call('del',KEYS[1]) 1 sc",
    ];
    lines
        .iter()
        .map(|line| {
            line.split(' ')
                .map(|word| word.replace("FUTURE", &future))
                .collect()
        })
        .collect()
}

/// Reads `pmessage` pushes from a RESP3 subscriber up to the
/// [`END_CHANNEL`] one.
fn pushes_until_end(raw: &mut RawConn) -> Vec<Event> {
    let started = Instant::now();
    let mut events = Vec::new();
    loop {
        assert!(started.elapsed() < DEADLINE, "no end push: {events:?}");
        let Frame::Push(parts) = raw.reply() else {
            panic!("a push frame");
        };
        let text = |frame: &Frame| match frame {
            Frame::Bulk(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            other => panic!("a bulk string, not {other:?}"),
        };
        let [kind, _pattern, channel, payload] = &parts[..] else {
            panic!("a pmessage push: {parts:?}");
        };
        assert_eq!(text(kind), "pmessage");
        if text(channel) == END_CHANNEL {
            return events;
        }
        events.push((text(channel), text(payload)));
    }
}

/// Subscribes to every event on the server at `addr` (in RESP2 and in
/// RESP3), sets `classes`, runs `requests` and a key that expires, and
/// returns the events received in order (the same for both subscribers).
fn events_of(addr: SocketAddr, classes: &str, requests: &[Vec<String>]) -> Vec<Event> {
    let target = redis::Client::open(format!("redis://{addr}")).expect("a client");
    let mut conn = target.get_connection().expect("connect");
    run(&mut conn, &["FLUSHALL"]);
    config_set(&mut conn, "notify-keyspace-events", classes);
    let mut subscriber = target.get_connection().expect("connect");
    let mut pubsub = subscriber.as_pubsub();
    pubsub
        .set_read_timeout(Some(DEADLINE))
        .expect("a read timeout");
    pubsub.psubscribe(ALL_EVENTS).expect("PSUBSCRIBE");
    let mut resp3 = RawConn::connect(addr);
    let _ = resp3.call(&["HELLO", "3"]);
    let _ = resp3.call(&["PSUBSCRIBE", ALL_EVENTS]);
    for request in requests {
        let words: Vec<&str> = request.iter().map(String::as_str).collect();
        run(&mut conn, &words);
    }
    // Expiry last: when it is noticed (lazily by EXISTS or by the active
    // cycle) is up to the server, but nothing else happens meanwhile.
    run(&mut conn, &["SET", "ex", "v", "PX", "20"]);
    assert!(eventually(DEADLINE, || q::<i64>(
        &mut conn,
        &["EXISTS", "ex"]
    ) == 0));
    run(&mut conn, &["PUBLISH", END_CHANNEL, "end"]);
    let events = events_until_end(&mut pubsub);
    assert_eq!(pushes_until_end(&mut resp3), events, "RESP3 and RESP2");
    config_set(&mut conn, "notify-keyspace-events", "");
    events
}

/// The same writes against ringcache and redis-server produce the same
/// (channel, message) sequence, with and without `new` events, and with
/// only some classes or only one of the two channel families.
#[test]
fn every_family_announces_what_redis_server_announces() {
    let Some(redis) =
        RedisServer::start_or_skip("every_family_announces_what_redis_server_announces")
    else {
        return;
    };
    let node = TestServer::start();
    let requests = every_family();
    for classes in ["KEA", "KEAn", "Kgl", "E$shzx", "Kn", "KEm"] {
        let ours = events_of(node.addr, classes, &requests);
        let expected = events_of(redis.addr, classes, &requests);
        if ours != expected {
            let show = |events: &[Event]| {
                events
                    .iter()
                    .map(|(channel, message)| format!("{channel} {message}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            panic!(
                "{classes}: the events differ\n--- ringcache\n{}\n--- redis-server\n{}",
                show(&ours),
                show(&expected)
            );
        }
        assert!(!ours.is_empty(), "{classes}: some events");
    }
}

/// CONFIG SET takes Redis's letters in any order and CONFIG GET prints
/// them back as Redis does; a bad letter gets Redis's error, compared
/// with redis-server's.
#[test]
fn the_setting_reads_and_prints_as_redis_does() {
    let node = TestServer::start();
    let mut ours = node.conn();
    let redis = RedisServer::start_or_skip("the_setting_reads_and_prints_as_redis_does");
    let mut theirs = redis.as_ref().map(RedisServer::conn);
    assert_eq!(
        q::<Vec<String>>(&mut ours, &["CONFIG", "GET", "notify-keyspace-events"]),
        ["notify-keyspace-events", ""]
    );
    for (set, shown) in [
        ("KEA", "AKE"),
        ("Ex", "xE"),
        ("An", "A"),
        ("KEAmn", "AKEm"),
        ("Kz$x", "$zxK"),
        ("KEg$lshzxetd", "AKE"),
        ("", ""),
    ] {
        let get = ["CONFIG", "GET", "notify-keyspace-events"];
        let _: () = q(&mut ours, &["CONFIG", "SET", "notify-keyspace-events", set]);
        let value = q::<Vec<String>>(&mut ours, &get);
        assert_eq!(value[1], shown, "{set}");
        if let Some(theirs) = theirs.as_mut() {
            let _: () = q(theirs, &["CONFIG", "SET", "notify-keyspace-events", set]);
            assert_eq!(q::<Vec<String>>(theirs, &get), value, "{set}");
        }
    }
    let bad = ["CONFIG", "SET", "notify-keyspace-events", "KEQ"];
    let error = common::err(&mut ours, &bad);
    assert_eq!(
        error,
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - \
         Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    );
    if let Some(theirs) = theirs.as_mut() {
        assert_eq!(common::err(theirs, &bad), error);
    }
}

/// Nothing is published while notifications are off (the default).
#[test]
fn nothing_is_published_by_default() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let mut subscriber = node.conn();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.set_read_timeout(Some(DEADLINE)).unwrap();
    pubsub.psubscribe(ALL_EVENTS).unwrap();
    for request in every_family() {
        let words: Vec<&str> = request.iter().map(String::as_str).collect();
        run(&mut conn, &words);
    }
    run(&mut conn, &["PUBLISH", END_CHANNEL, "end"]);
    assert_eq!(events_until_end(&mut pubsub), Vec::<Event>::new());
}

/// A RESP3 subscriber gets the events as `pmessage` pushes.
#[test]
fn resp3_subscribers_get_pushes() {
    let node = TestServer::with(&[("notify-keyspace-events", "KE$")]);
    let mut raw = node.raw();
    let _ = raw.call(&["HELLO", "3"]);
    assert_eq!(
        raw.call(&["PSUBSCRIBE", ALL_EVENTS]),
        Frame::Push(vec![
            Frame::Bulk(b"psubscribe".to_vec()),
            Frame::Bulk(ALL_EVENTS.as_bytes().to_vec()),
            Frame::Int(1),
        ])
    );
    let mut writer = node.conn();
    let _: () = q(&mut writer, &["SET", "key", "v"]);
    let push = |channel: &str, payload: &str| {
        Frame::Push(vec![
            Frame::Bulk(b"pmessage".to_vec()),
            Frame::Bulk(ALL_EVENTS.as_bytes().to_vec()),
            Frame::Bulk(channel.as_bytes().to_vec()),
            Frame::Bulk(payload.as_bytes().to_vec()),
        ])
    };
    assert_eq!(raw.reply(), push("__keyspace@0__:key", "set"));
    assert_eq!(raw.reply(), push("__keyevent@0__:set", "key"));
}

/// A key nobody reads is reclaimed by the active cycle, which announces
/// it; so is one found stale on access.
#[test]
fn expired_keys_are_announced_lazily_and_actively() {
    let node = TestServer::with(&[("notify-keyspace-events", "Ex")]);
    let mut conn = node.conn();
    let mut subscriber = node.conn();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.set_read_timeout(Some(DEADLINE)).unwrap();
    pubsub.psubscribe(ALL_EVENTS).unwrap();
    let _: () = q(&mut conn, &["SET", "untouched", "v", "PX", "10"]);
    let message = pubsub.get_message().expect("the active cycle's event");
    assert_eq!(message.get_channel_name(), "__keyevent@0__:expired");
    assert_eq!(message.get_payload::<String>().unwrap(), "untouched");

    // Lazy: a key read after its TTL (the active cycle may reach it
    // first; either way it is announced once).
    let _: () = q(&mut conn, &["SET", "read", "v", "PX", "10"]);
    let _: () = q(&mut conn, &["SELECT", "3"]);
    let _: () = q(&mut conn, &["SET", "other-db", "v", "PX", "10"]);
    assert!(eventually(DEADLINE, || q::<i64>(
        &mut conn,
        &["EXISTS", "other-db"]
    ) == 0));
    let _: () = q(&mut conn, &["SELECT", "0"]);
    assert!(eventually(DEADLINE, || q::<Option<String>>(
        &mut conn,
        &["GET", "read"]
    )
    .is_none()));
    run(&mut conn, &["PUBLISH", END_CHANNEL, "end"]);
    let mut events = events_until_end(&mut pubsub);
    events.sort();
    assert_eq!(
        events,
        [
            ("__keyevent@0__:expired".into(), "read".into()),
            ("__keyevent@3__:expired".into(), "other-db".into()),
        ]
    );
}

/// Keys evicted under `maxmemory` are announced with `evicted` (a node
/// process: the bound counts the whole process's memory).
#[test]
fn evicted_keys_are_announced() {
    let node = TestNode::start(&[
        "--maxmemory-policy",
        "allkeys-random",
        "--notify-keyspace-events",
        "KEe",
    ]);
    let mut conn = node.conn();
    let mut subscriber = node.conn();
    let mut pubsub = subscriber.as_pubsub();
    pubsub
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    pubsub.psubscribe(ALL_EVENTS).unwrap();
    let baseline = common::info_u64(&mut conn, "used_memory");
    config_set(
        &mut conn,
        "maxmemory",
        &(baseline + 1024 * 1024).to_string(),
    );
    let value = "v".repeat(4000);
    let started = Instant::now();
    let mut written = 0;
    // The keyspace channel's message comes first, then the keyevent one.
    let first = loop {
        assert!(started.elapsed() < DEADLINE, "no eviction announced");
        assert!(written < 20_000, "{written} keys fit under the bound");
        for _ in 0..100 {
            run(&mut conn, &["SET", &format!("key:{written}"), &value]);
            written += 1;
        }
        if let Ok(message) = pubsub.get_message() {
            break message;
        }
    };
    pubsub.set_read_timeout(Some(DEADLINE)).unwrap();
    let second = pubsub.get_message().expect("the keyevent message");
    let key: String = second.get_payload().unwrap();
    assert_eq!(second.get_channel_name(), "__keyevent@0__:evicted");
    assert_eq!(first.get_channel_name(), format!("__keyspace@0__:{key}"));
    assert_eq!(first.get_payload::<String>().unwrap(), "evicted");
    assert!(key.starts_with("key:"), "{key}");
    assert_eq!(q::<i64>(&mut conn, &["EXISTS", &key]), 0);
}

/// In a cluster the primary that runs a write announces it, to its own
/// subscribers, and so does the primary that expires the key; the
/// replica that applies the write's effect, or drops its expired copy,
/// stays quiet (as Redis Cluster's replicas do).
#[test]
fn the_primary_announces_and_its_replica_does_not() {
    let cluster = common::cluster::TestCluster::start(
        2,
        &["--replicas", "1", "--notify-keyspace-events", "KE$gx"],
    );
    let key = "announced";
    let owners = cluster.owners(key);
    assert_eq!(owners.len(), 2, "a primary and a replica: {owners:?}");
    let (primary, replica) = (owners[0], owners[1]);
    let mut subscribers: Vec<redis::Connection> = [primary, replica]
        .iter()
        .map(|&i| cluster.conn(i))
        .collect();
    let mut pubsubs: Vec<redis::PubSub<'_>> = subscribers
        .iter_mut()
        .map(|conn| {
            let mut pubsub = conn.as_pubsub();
            pubsub.set_read_timeout(Some(DEADLINE)).unwrap();
            pubsub.psubscribe(ALL_EVENTS).unwrap();
            pubsub
        })
        .collect();
    // Written through the replica: forwarded to the primary, which runs it.
    let mut conn = cluster.conn(replica);
    let _: () = q(&mut conn, &["SET", key, "v", "PX", "300"]);
    assert!(eventually(DEADLINE, || q::<i64>(
        &mut conn,
        &["EXISTS", key]
    ) == 0));
    // The replica's copy goes too, quietly.
    let mut at_replica = cluster.conn(replica);
    let _: redis::Value = redis::cmd("READONLY").query(&mut at_replica).unwrap();
    assert!(eventually(DEADLINE, || q::<i64>(
        &mut at_replica,
        &["EXISTS", key]
    ) == 0));
    // PUBLISH reaches the subscribers of every node.
    run(&mut conn, &["PUBLISH", END_CHANNEL, "end"]);
    let at = |channel: &str, message: &str| (channel.to_string(), message.to_string());
    assert_eq!(
        events_until_end(&mut pubsubs[0]),
        [
            at("__keyspace@0__:announced", "set"),
            at("__keyevent@0__:set", key),
            at("__keyspace@0__:announced", "expire"),
            at("__keyevent@0__:expire", key),
            at("__keyspace@0__:announced", "expired"),
            at("__keyevent@0__:expired", key),
        ]
    );
    assert_eq!(events_until_end(&mut pubsubs[1]), Vec::<Event>::new());
}

/// A write over a key whose TTL has passed announces its expiry first, as
/// Redis's lookup before the write does (the active cycle, if it gets
/// there first, announces the same): SET's fast path, MSET, and a
/// collection write alike.
#[test]
fn writes_over_stale_keys_announce_the_expiry_first() {
    let clock = ringcache_server::store::Clock::manual(1_700_000_000_000);
    let node = TestServer::builder()
        .clock(clock.clone())
        .set("notify-keyspace-events", "E$lgx")
        .start();
    let mut conn = node.conn();
    let mut subscriber = node.conn();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.set_read_timeout(Some(DEADLINE)).unwrap();
    pubsub.psubscribe(ALL_EVENTS).unwrap();
    for key in ["fast", "multi"] {
        let _: () = q(&mut conn, &["SET", key, "v", "PX", "100"]);
    }
    let _: () = q(&mut conn, &["RPUSH", "list", "a"]);
    let _: () = q(&mut conn, &["PEXPIRE", "list", "100"]);
    clock.advance(1000);
    let _: () = q(&mut conn, &["SET", "fast", "w"]);
    let _: () = q(&mut conn, &["MSET", "multi", "w"]);
    let _: () = q(&mut conn, &["RPUSH", "list", "b"]);
    run(&mut conn, &["PUBLISH", END_CHANNEL, "end"]);
    let event = |name: &str, key: &str| (format!("__keyevent@0__:{name}"), key.to_string());
    let events = events_until_end(&mut pubsub);
    assert_eq!(
        events[..6],
        [
            event("set", "fast"),
            event("expire", "fast"),
            event("set", "multi"),
            event("expire", "multi"),
            event("rpush", "list"),
            event("expire", "list"),
        ]
    );
    // The active cycle may expire some of them before the writes arrive:
    // each key's expiry comes before its write, in the writes' order.
    let later = &events[6..];
    let writes = [
        event("set", "fast"),
        event("set", "multi"),
        event("rpush", "list"),
    ];
    let order: Vec<&Event> = later.iter().filter(|e| writes.contains(e)).collect();
    assert_eq!(order, writes.iter().collect::<Vec<_>>(), "{later:?}");
    assert_eq!(later.len(), 6, "{later:?}");
    for key in ["fast", "multi", "list"] {
        let expired = later.iter().position(|e| *e == event("expired", key));
        let written = later
            .iter()
            .position(|e| e.1 == key && e.0 != event("expired", key).0);
        assert!(expired.is_some() && expired < written, "{key}: {later:?}");
    }
    assert_eq!(common::info_u64(&mut conn, "expired_keys"), 3);
}
