//! The numbered databases end to end: SELECT, SWAPDB, MOVE, COPY ... DB,
//! DBSIZE, FLUSHDB and FLUSHALL per database, INFO keyspace and CLIENT
//! LIST per database, `redis://host/1` URLs, the same replies as a real
//! redis-server for one scripted session, and a cluster node that serves
//! database 0 only.

mod common;

use common::cluster::TestCluster;
use common::errors::DB_OUT_OF_RANGE;
use common::redis_server::{assert_same_replies, RedisServer};
use common::{err, info_field, q, TestServer};

#[test]
fn each_database_has_its_own_keys() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let _: () = q(&mut conn, &["SET", "k", "zero"]);
    let _: () = q(&mut conn, &["SELECT", "1"]);
    assert_eq!(q::<Option<String>>(&mut conn, &["GET", "k"]), None);
    let _: () = q(&mut conn, &["SET", "k", "one"]);
    let _: () = q(&mut conn, &["SET", "other", "x", "EX", "1000"]);
    assert_eq!(q::<i64>(&mut conn, &["DBSIZE"]), 2);
    let db1 = info_field(&mut conn, "db1");
    assert!(db1.starts_with("keys=2,expires=1,avg_ttl="), "{db1}");
    // The active expiry cycle estimates the time left, as Redis's does.
    let avg_ttl = |conn: &mut redis::Connection| -> u64 {
        let db1 = info_field(conn, "db1");
        db1.rsplit('=')
            .next()
            .and_then(|t| t.parse().ok())
            .expect("avg_ttl")
    };
    assert!(common::eventually(common::DEADLINE, || (900_000
        ..=1_000_000)
        .contains(&avg_ttl(&mut conn))));
    assert_eq!(err(&mut conn, &["SELECT", "16"]), DB_OUT_OF_RANGE);
    let list: String = q(&mut conn, &["CLIENT", "LIST"]);
    assert!(list.contains(" db=1 "), "{list}");

    // redis-rs selects the URL's database.
    let mut db1 = redis::Client::open(format!("redis://{}/1", node.addr))
        .and_then(|c| c.get_connection())
        .expect("a connection to database 1");
    assert_eq!(q::<String>(&mut db1, &["GET", "k"]), "one");
    let mut db0 = node.conn();
    assert_eq!(q::<String>(&mut db0, &["GET", "k"]), "zero");

    // FLUSHDB empties the selected database only; FLUSHALL every one.
    let _: () = q(&mut conn, &["FLUSHDB"]);
    assert_eq!(q::<i64>(&mut conn, &["DBSIZE"]), 0);
    assert_eq!(q::<i64>(&mut db0, &["DBSIZE"]), 1);
    let _: () = q(&mut conn, &["SET", "k", "one"]);
    let _: () = q(&mut db0, &["FLUSHALL"]);
    assert_eq!(q::<i64>(&mut conn, &["DBSIZE"]), 0);
    assert_eq!(q::<i64>(&mut db0, &["DBSIZE"]), 0);

    // RESET goes back to database 0.
    let _: () = q(&mut conn, &["SET", "in-one", "x"]);
    let _: String = q(&mut conn, &["RESET"]);
    assert_eq!(q::<i64>(&mut conn, &["EXISTS", "in-one"]), 0);
}

#[test]
fn swapdb_move_and_copy_across_databases() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let _: () = q(&mut conn, &["SET", "a", "in-zero", "PX", "1000000"]);
    let _: i64 = q(&mut conn, &["HSET", "h", "f", "v"]);
    let _: () = q(&mut conn, &["SWAPDB", "0", "3"]);
    assert_eq!(q::<i64>(&mut conn, &["DBSIZE"]), 0);
    let _: () = q(&mut conn, &["SELECT", "3"]);
    assert_eq!(q::<String>(&mut conn, &["GET", "a"]), "in-zero");
    assert!(q::<i64>(&mut conn, &["PTTL", "a"]) > 0);

    // MOVE keeps the TTL; a key already there stops it.
    assert_eq!(q::<i64>(&mut conn, &["MOVE", "a", "5"]), 1);
    assert_eq!(q::<i64>(&mut conn, &["MOVE", "a", "5"]), 0);
    let _: () = q(&mut conn, &["SET", "a", "again"]);
    assert_eq!(q::<i64>(&mut conn, &["MOVE", "a", "5"]), 0);
    let _: () = q(&mut conn, &["SELECT", "5"]);
    assert_eq!(q::<String>(&mut conn, &["GET", "a"]), "in-zero");
    assert!(q::<i64>(&mut conn, &["PTTL", "a"]) > 0);

    // COPY ... DB copies any type, REPLACE overwrites.
    let _: () = q(&mut conn, &["SELECT", "3"]);
    assert_eq!(q::<i64>(&mut conn, &["COPY", "h", "h2", "DB", "7"]), 1);
    assert_eq!(q::<i64>(&mut conn, &["COPY", "h", "h2", "DB", "7"]), 0);
    assert_eq!(
        q::<i64>(&mut conn, &["COPY", "a", "h2", "DB", "7", "REPLACE"]),
        1
    );
    assert_eq!(q::<i64>(&mut conn, &["COPY", "h", "h", "DB", "7"]), 1);
    let _: () = q(&mut conn, &["SELECT", "7"]);
    assert_eq!(q::<String>(&mut conn, &["GET", "h2"]), "again");
    assert_eq!(q::<String>(&mut conn, &["HGET", "h", "f"]), "v");
    assert_eq!(q::<String>(&mut conn, &["TYPE", "h"]), "hash");
}

/// One session of database commands, good and bad, that both servers
/// must answer byte for byte alike.
const SESSION: &[&[&str]] = &[
    &["SELECT", "15"],
    &["SELECT", "16"],
    &["SELECT", "-1"],
    &["SELECT", "x"],
    &["SELECT", "1.5"],
    &["SET", "k", "v"],
    &["DBSIZE"],
    &["MOVE", "k", "15"],
    &["MOVE", "k", "0"],
    &["MOVE", "missing", "0"],
    &["MOVE", "k", "16"],
    &["MOVE", "k", "x"],
    &["SET", "k", "w"],
    &["MOVE", "k", "0"],
    &["GET", "k"],
    &["SELECT", "0"],
    &["GET", "k"],
    &["SWAPDB", "0", "15"],
    &["GET", "k"],
    &["SWAPDB", "x", "1"],
    &["SWAPDB", "1", "x"],
    &["SWAPDB", "1", "16"],
    &["SWAPDB", "-1", "1"],
    &["SWAPDB", "2", "2"],
    &["COPY", "k", "k", "DB", "15"],
    &["COPY", "k", "k", "DB", "0"],
    &["COPY", "k", "k", "DB", "16"],
    &["COPY", "k", "k", "DB", "x"],
    &["COPY", "k", "k2", "DB", "14"],
    &["SELECT", "14"],
    &["GET", "k2"],
    &["FLUSHDB", "ASYNC"],
    &["DBSIZE"],
    &["FLUSHDB", "NOW"],
    &["FLUSHALL", "SYNC"],
    &["SELECT", "0"],
    &["DBSIZE"],
    &["SELECT"],
    &["SWAPDB", "1"],
    &["MOVE", "k"],
];

#[test]
fn database_commands_answer_as_redis_does() {
    let Some(redis) = RedisServer::start_or_skip("database_commands_answer_as_redis_does") else {
        return;
    };
    let node = TestServer::start();
    assert_same_replies(&mut node.raw(), &mut redis.raw(), SESSION);
}

#[test]
fn a_cluster_node_serves_database_zero_only() {
    let cluster = TestCluster::start(1, &[]);
    let mut conn = cluster.conn(0);
    let _: () = q(&mut conn, &["SELECT", "0"]);
    assert_eq!(
        err(&mut conn, &["SELECT", "1"]),
        "ERR SELECT is not allowed in cluster mode"
    );
    assert_eq!(
        err(&mut conn, &["SELECT", "99"]),
        "ERR SELECT is not allowed in cluster mode"
    );
    assert_eq!(
        err(&mut conn, &["SELECT", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut conn, &["SWAPDB", "0", "1"]),
        "ERR SWAPDB is not allowed in cluster mode"
    );
    assert_eq!(
        err(&mut conn, &["MOVE", "k", "1"]),
        "ERR MOVE is not allowed in cluster mode"
    );
    let _: () = q(&mut conn, &["SET", "k", "v"]);
    assert_eq!(
        err(&mut conn, &["COPY", "k", "k2", "DB", "1"]),
        "ERR Copying to another database is not allowed in cluster mode"
    );
}

#[test]
fn every_type_lives_in_the_selected_database() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let _: () = q(&mut conn, &["SELECT", "3"]);
    let writes: &[&[&str]] = &[
        &["HSET", "h", "f", "v"],
        &["RPUSH", "l", "a", "b"],
        &["SADD", "s", "1", "x"],
        &["ZADD", "z", "1", "m"],
        &["SETBIT", "b", "7", "1"],
        &["PFADD", "p", "a"],
        &["SINTERSTORE", "s2", "s"],
        &["ZUNIONSTORE", "z2", "1", "z"],
        &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
        &["BITOP", "OR", "b2", "b"],
    ];
    for write in writes {
        let _: redis::Value = q(&mut conn, write);
    }
    assert_eq!(q::<i64>(&mut conn, &["DBSIZE"]), 10);
    assert_eq!(q::<Vec<String>>(&mut conn, &["SINTER", "s", "s2"]).len(), 2);
    let _: () = q(&mut conn, &["SELECT", "0"]);
    assert_eq!(q::<i64>(&mut conn, &["DBSIZE"]), 0);
    assert!(q::<Vec<String>>(&mut conn, &["LRANGE", "l", "0", "-1"]).is_empty());
}

/// Blocked clients wait on a key of their own database: a push to the same
/// name in another database neither serves them nor skips the client that
/// waits there; MOVE and SWAPDB into their database serve them, as Redis.
#[test]
fn blocked_clients_wait_in_their_own_database() {
    let node = TestServer::start();
    let blocked = |db: &'static str, key: &'static str| {
        let mut conn = node.conn();
        let _: () = q(&mut conn, &["SELECT", db]);
        std::thread::spawn(move || q::<Option<(String, String)>>(&mut conn, &["BLPOP", key, "30"]))
    };
    let mut conn = node.conn();
    let waiting = |conn: &mut redis::Connection, count: &str| {
        assert!(common::eventually(common::DEADLINE, || info_field(
            conn,
            "blocked_clients"
        ) == count));
    };
    // First in line on "q": a client of database 1; then one of database 0.
    let in_one = blocked("1", "q");
    waiting(&mut conn, "1");
    let in_zero = blocked("0", "q");
    waiting(&mut conn, "2");
    let _: i64 = q(&mut conn, &["LPUSH", "q", "for-zero"]);
    let served = in_zero.join().expect("database 0 client");
    assert_eq!(served, Some(("q".into(), "for-zero".into())));
    waiting(&mut conn, "1");

    // MOVE brings a list into database 1.
    let _: i64 = q(&mut conn, &["RPUSH", "q", "moved"]);
    assert_eq!(q::<i64>(&mut conn, &["MOVE", "q", "1"]), 1);
    assert_eq!(
        in_one.join().expect("database 1 client"),
        Some(("q".into(), "moved".into()))
    );

    // SWAPDB gives database 1 the list database 2 held.
    let swapped = blocked("1", "s");
    waiting(&mut conn, "1");
    let _: () = q(&mut conn, &["SELECT", "2"]);
    let _: i64 = q(&mut conn, &["RPUSH", "s", "swapped"]);
    let _: () = q(&mut conn, &["SWAPDB", "1", "2"]);
    assert_eq!(
        swapped.join().expect("swapped client"),
        Some(("s".into(), "swapped".into()))
    );
}
