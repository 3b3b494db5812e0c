//! Collections in a cluster, end to end with real node processes: hashes,
//! lists, sets and sorted sets keep their contents through replication, a
//! failover after SIGKILL and a join (their whole state ships as an
//! effect and streams with their slots); reads over keys of several nodes
//! are gathered by the receiving node in proxy mode and refused with
//! CROSSSLOT in redirect mode, as Redis Cluster does.

mod common;

use std::collections::BTreeMap;

use common::cluster::TestCluster;
use common::info::field_u64;
use common::{err, eventually, q, DEADLINE};
use redis::{Connection, Value};

/// Flags for a quick failure detector in tests.
const FAST: &[&str] = &["--failure-timeout", "3s"];

/// The four collection types, by key: `c:<i>` holds type `i % 4`.
fn key(i: usize) -> String {
    format!("c:{i}")
}

/// Writes round `round` of collection `i` (adds elements, so later rounds
/// change every collection).
fn write(conn: &mut Connection, i: usize, round: usize) {
    let k = key(i);
    let a = format!("m{round}a");
    let b = format!("m{round}b");
    let score = (i * 10 + round).to_string();
    let _: Value = match i % 4 {
        0 => q(conn, &["HSET", &k, &a, &score, &b, "x"]),
        1 => q(conn, &["RPUSH", &k, &a, &b, &score]),
        2 => q(conn, &["SADD", &k, &a, &b, &score]),
        _ => q(conn, &["ZADD", &k, &score, &a, "1.5", &b]),
    };
}

/// Collection `i` as text that compares equal when the contents do
/// (sets sorted, sorted sets with their scores).
fn read(conn: &mut Connection, i: usize) -> String {
    let k = key(i);
    match i % 4 {
        0 => {
            let map: BTreeMap<String, String> = q(conn, &["HGETALL", &k]);
            format!("{map:?}")
        }
        1 => format!("{:?}", q::<Vec<String>>(conn, &["LRANGE", &k, "0", "-1"])),
        2 => {
            let mut members: Vec<String> = q(conn, &["SMEMBERS", &k]);
            members.sort();
            format!("{members:?}")
        }
        _ => format!(
            "{:?}",
            q::<Vec<String>>(conn, &["ZRANGE", &k, "0", "-1", "WITHSCORES"])
        ),
    }
}

fn snapshot(conn: &mut Connection, count: usize) -> Vec<String> {
    (0..count).map(|i| read(conn, i)).collect()
}

#[test]
fn collections_survive_a_failover_and_a_join() {
    const COUNT: usize = 400;
    let mut cluster = TestCluster::start(3, FAST);
    let mut conn = cluster.node(0).conn();
    for round in 0..3 {
        for i in 0..COUNT {
            write(&mut conn, i, round);
        }
    }
    let expected = snapshot(&mut conn, COUNT);
    let types: Vec<String> = (0..4).map(|i| q(&mut conn, &["TYPE", &key(i)])).collect();
    assert_eq!(types, ["hash", "list", "set", "zset"]);
    for node in 1..3 {
        let mut other = cluster.node(node).conn();
        assert_eq!(
            snapshot(&mut other, COUNT),
            expected,
            "read through node {node}"
        );
    }

    // The replicas take over: nothing is lost, and the collections take
    // writes on their new primaries.
    cluster.kill(2);
    cluster.wait_converged(2);
    let mut conn = cluster.node(0).conn();
    assert_eq!(snapshot(&mut conn, COUNT), expected, "after the failover");
    for i in 0..COUNT {
        write(&mut conn, i, 3);
    }
    let expected = snapshot(&mut conn, COUNT);

    // A new node joins and pulls its slots: the collections move with them.
    let joined = cluster.add_node();
    cluster.wait_converged(3);
    let mut newcomer = cluster.node(joined).conn();
    assert!(
        eventually(DEADLINE, || snapshot(&mut newcomer, COUNT) == expected),
        "reads through the new node"
    );
    let held: u64 = q(&mut newcomer, &["DBSIZE"]);
    assert!(held > 0, "the new node holds collections of its slots");
    assert_eq!(snapshot(&mut conn, COUNT), expected);
}

/// Two keys (of the given prefix) that live on different nodes.
fn keys_on_two_nodes(cluster: &TestCluster, prefix: &str) -> (String, String) {
    let first = format!("{prefix}0");
    let owner = cluster.owners(&first)[0];
    let second = (1..1000)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| cluster.owners(k)[0] != owner)
        .expect("a key on another node");
    (first, second)
}

#[test]
fn reads_over_keys_of_several_nodes_are_gathered_in_proxy_mode() {
    let cluster = TestCluster::start(3, &["--replicas", "0"]);
    let (a, b) = keys_on_two_nodes(&cluster, "s");
    let mut conn = cluster.node(0).conn();
    let _: i64 = q(&mut conn, &["SADD", &a, "1", "2", "3"]);
    let _: i64 = q(&mut conn, &["SADD", &b, "2", "3", "4"]);
    let mut union: Vec<String> = q(&mut conn, &["SUNION", &a, &b]);
    union.sort();
    assert_eq!(union, ["1", "2", "3", "4"]);
    let mut inter: Vec<String> = q(&mut conn, &["SINTER", &a, &b]);
    inter.sort();
    assert_eq!(inter, ["2", "3"]);
    assert_eq!(q::<Vec<String>>(&mut conn, &["SDIFF", &a, &b]), ["1"]);
    assert_eq!(q::<i64>(&mut conn, &["SINTERCARD", "2", &a, &b]), 2);

    let (za, zb) = keys_on_two_nodes(&cluster, "z");
    let _: i64 = q(&mut conn, &["ZADD", &za, "1", "x", "2", "y"]);
    let _: i64 = q(&mut conn, &["ZADD", &zb, "10", "y", "3", "z"]);
    let union: Vec<String> = q(&mut conn, &["ZUNION", "2", &za, &zb, "WITHSCORES"]);
    assert_eq!(union, ["x", "1", "z", "3", "y", "12"]);
    let inter: Vec<String> = q(&mut conn, &["ZINTER", "2", &za, &zb, "WITHSCORES"]);
    assert_eq!(inter, ["y", "12"]);

    let (ha, hb) = keys_on_two_nodes(&cluster, "hll");
    let _: i64 = q(&mut conn, &["PFADD", &ha, "a", "b", "c"]);
    let _: i64 = q(&mut conn, &["PFADD", &hb, "c", "d"]);
    assert_eq!(q::<i64>(&mut conn, &["PFCOUNT", &ha, &hb]), 4);

    // A missing key on another node counts as empty; a wrong type there
    // answers WRONGTYPE as a local one would.
    let (x, y) = keys_on_two_nodes(&cluster, "w");
    let _: () = q(&mut conn, &["SET", &y, "string"]);
    let mut alone: Vec<String> = q(&mut conn, &["SUNION", &a, &x]);
    alone.sort();
    assert_eq!(alone, ["1", "2", "3"]);
    let error = err(&mut conn, &["SUNION", &a, &y]);
    assert!(error.starts_with("WRONGTYPE"), "{error}");

    // Writes over several nodes stay refused: a STORE has one destination.
    let error = err(&mut conn, &["SUNIONSTORE", &a, &a, &b]);
    assert!(error.starts_with("CROSSSLOT"), "{error}");
}

#[test]
fn reads_over_several_slots_are_refused_in_redirect_mode() {
    let cluster = TestCluster::start(2, &["--replicas", "0", "--cluster-redirect"]);
    let mut conn = cluster.node(0).conn();
    let error = err(&mut conn, &["SUNION", "{a}1", "{b}1"]);
    assert!(error.starts_with("CROSSSLOT"), "{error}");
    let owner = cluster.owners("{a}1")[0];
    let mut at_owner = cluster.node(owner).conn();
    let _: i64 = q(&mut at_owner, &["SADD", "{a}1", "x"]);
    let union: Vec<String> = q(&mut at_owner, &["SUNION", "{a}1", "{a}2"]);
    assert_eq!(union, ["x"]);
}

/// What a key's copy holds on node `index`, read there (READONLY).
fn copy_on(cluster: &TestCluster, index: usize, i: usize) -> String {
    let mut conn = cluster.node(index).conn();
    let _: () = q(&mut conn, &["READONLY"]);
    read(&mut conn, i)
}

/// Writes to large collections ship to the replica as the commands (not
/// the whole values), and the copies stay equal to the primary's through
/// every kind of change: pushes, pops, removals, trims, score updates.
#[test]
fn large_collections_replicate_by_their_effects() {
    let cluster = TestCluster::start(3, &["--write-quorum", "2"]);
    // `c:0` a hash, `c:1` a list, `c:2` a set, `c:3` a sorted set (see
    // `key`).
    let owners: Vec<Vec<usize>> = (0..4).map(|i| cluster.owners(&key(i))).collect();
    let mut conn = cluster.node(0).conn();
    let bulk: Vec<String> = (0..1000).map(|n| format!("element-{n:05}")).collect();
    let mut push = vec!["RPUSH".to_string(), key(1)];
    push.extend(bulk.iter().cloned());
    let _: i64 = q(
        &mut conn,
        &push.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut add = vec!["SADD".to_string(), key(2)];
    add.extend(bulk.iter().cloned());
    let _: i64 = q(
        &mut conn,
        &add.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut zadd = vec!["ZADD".to_string(), key(3)];
    for (n, member) in bulk.iter().enumerate() {
        zadd.push(n.to_string());
        zadd.push(member.clone());
    }
    let _: i64 = q(
        &mut conn,
        &zadd.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut hset = vec!["HSET".to_string(), key(0)];
    for (n, field) in bulk.iter().enumerate() {
        hset.push(field.clone());
        hset.push(n.to_string());
    }
    let _: i64 = q(
        &mut conn,
        &hset.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let effects_before: u64 = (0..3)
        .map(|n| cluster.figure(n, "cluster_replicated_effects"))
        .sum();

    let (hash, list, set, zset) = (key(0), key(1), key(2), key(3));
    let far = (common::unix_secs() + 5000).to_string();
    let changes: Vec<Vec<&str>> = vec![
        vec!["LPUSH", &list, "head-a", "head-b"],
        vec!["RPUSH", &list, "tail"],
        vec!["LPUSHX", &list, "head-c"],
        vec!["RPOP", &list, "2"],
        vec!["LPOP", &list],
        vec!["LSET", &list, "10", "changed"],
        vec!["LINSERT", &list, "BEFORE", "changed", "inserted"],
        vec!["LREM", &list, "1", "element-00020"],
        vec!["LTRIM", &list, "1", "-2"],
        vec!["SADD", &set, "new-member", "element-00001"],
        vec!["SREM", &set, "element-00002", "absent"],
        vec![
            "ZADD",
            &zset,
            "GT",
            "CH",
            "5000",
            "element-00003",
            "1",
            "element-00004",
        ],
        vec!["ZINCRBY", &zset, "2.5", "element-00005"],
        vec!["ZREM", &zset, "element-00006"],
        vec!["ZPOPMIN", &zset, "2"],
        vec!["ZPOPMAX", &zset],
        vec!["ZREMRANGEBYSCORE", &zset, "(100", "110"],
        vec!["ZREMRANGEBYRANK", &zset, "0", "3"],
        vec!["ZREMRANGEBYLEX", &zset, "[element-00500", "[element-00510"],
        vec!["HSET", &hash, "new-field", "v", "element-00001", "changed"],
        vec!["HMSET", &hash, "other-field", "w"],
        vec!["HSETNX", &hash, "element-00002", "kept"],
        vec!["HDEL", &hash, "element-00003", "absent"],
        vec!["HINCRBY", &hash, "element-00004", "10"],
        vec!["HINCRBYFLOAT", &hash, "element-00005", "0.1"],
        // Expiries go as the absolute time the primary decided.
        vec!["EXPIRE", &list, "1000"],
        vec!["PERSIST", &list],
        vec!["PEXPIRE", &set, "500000"],
        vec!["EXPIRE", &set, "100", "GT"],
        vec!["EXPIREAT", &zset, &far],
        vec!["EXPIRE", &hash, "1000", "NX"],
    ];
    for change in &changes {
        let _: Value = q(&mut conn, change);
    }
    // A transaction of such writes (a sliding-window rate limiter's) ships
    // as its commands, from its owner and through a forwarding node.
    for node in [owners[3][0], owners[3][1]] {
        let mut through = cluster.node(node).conn();
        let (count,): (i64,) = redis::pipe()
            .atomic()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&zset)
            .arg("-inf")
            .arg("120")
            .ignore()
            .cmd("ZADD")
            .arg(&zset)
            .arg("99999")
            .arg(format!("via-{node}"))
            .ignore()
            .cmd("ZCARD")
            .arg(&zset)
            .cmd("EXPIRE")
            .arg(&zset)
            .arg("5000")
            .ignore()
            .query(&mut through)
            .expect("the transaction");
        assert!(count > 800, "{count}");
    }
    // A refused write leaves the key's version where the replica has it.
    let refused = err(&mut conn, &["LSET", &list, "100000", "out of range"]);
    assert!(refused.contains("index out of range"), "{refused}");
    let _: i64 = q(&mut conn, &["RPUSH", &list, "after the refusal"]);
    // With a write quorum of 2 every write above was confirmed by the
    // replica before its reply: the copies are equal now.
    for (at, i) in (0..4).enumerate() {
        let primary = copy_on(&cluster, owners[at][0], i);
        assert_eq!(copy_on(&cluster, owners[at][1], i), primary, "{}", key(i));
        let expiry = |node: usize| -> i64 {
            let mut conn = cluster.node(node).conn();
            let _: () = q(&mut conn, &["READONLY"]);
            q(&mut conn, &["PEXPIRETIME", &key(i)])
        };
        assert_eq!(
            expiry(owners[at][1]),
            expiry(owners[at][0]),
            "{}'s expiry",
            key(i)
        );
    }
    let effects: u64 = (0..3)
        .map(|n| cluster.figure(n, "cluster_replicated_effects"))
        .sum();
    assert!(
        effects >= effects_before + 32,
        "writes to large collections ship as effects ({effects_before} -> {effects})"
    );
    let stale: u64 = (0..3)
        .map(|n| cluster.figure(n, "cluster_replicated_effects_stale"))
        .sum();
    assert_eq!(stale, 0, "no replica missed an effect");
}

/// Pops that a replica cannot replay as sent (from the first non-empty of
/// several keys, or at random) ship as the pop they made, moves between two
/// keys as the move, and a client parked on empty lists pops, once woken,
/// by effect too.
#[test]
fn pops_from_large_collections_replicate_as_what_they_took() {
    let cluster = TestCluster::start(3, &["--write-quorum", "2"]);
    let (list, zset, set, none) = ("{big}list", "{big}zset", "{big}set", "{big}none");
    let owners = cluster.owners(list);
    let mut conn = cluster.node(owners[0]).conn();
    let bulk: Vec<String> = (0..1000).map(|n| format!("element-{n:05}")).collect();
    let fill = |conn: &mut Connection, command: &str, key: &str, scored: bool| {
        let mut args = vec![command.to_string(), key.to_string()];
        for (n, member) in bulk.iter().enumerate() {
            if scored {
                args.push(n.to_string());
            }
            args.push(member.clone());
        }
        let _: i64 = q(conn, &args.iter().map(String::as_str).collect::<Vec<_>>());
    };
    fill(&mut conn, "RPUSH", list, false);
    fill(&mut conn, "ZADD", zset, true);
    fill(&mut conn, "SADD", set, false);
    let effects_before = cluster.figure(owners[0], "cluster_replicated_effects");
    let (dest, set2) = ("{big}dest", "{big}set2");
    let pops: [&[&str]; 16] = [
        // Moves: into a new key, then into the one it made, and in place.
        &["LMOVE", list, dest, "LEFT", "RIGHT"],
        &["RPOPLPUSH", list, dest],
        &["BLMOVE", list, dest, "RIGHT", "LEFT", "1"],
        &["BRPOPLPUSH", list, dest, "1"],
        &["LMOVE", list, list, "LEFT", "RIGHT"],
        &["SMOVE", set, set2, "element-00010"],
        &["SMOVE", set, set2, "element-00011"],
        &["BLPOP", none, list, "1"],
        &["BRPOP", none, list, "1"],
        &["LMPOP", "2", none, list, "LEFT", "COUNT", "3"],
        &["BLMPOP", "1", "2", none, list, "RIGHT", "COUNT", "2"],
        &["ZMPOP", "2", none, zset, "MIN", "COUNT", "2"],
        &["BZPOPMIN", none, zset, "1"],
        &["BZPOPMAX", none, zset, "1"],
        &["BZMPOP", "1", "2", none, zset, "MAX", "COUNT", "3"],
        &["SPOP", set, "5"],
    ];
    for pop in pops {
        let _: Value = q(&mut conn, pop);
    }
    let _: Value = q(&mut conn, &["SPOP", set]);

    // A client parked on two empty lists, woken by a push of many
    // elements: its pop ships as an LPOP of the list it took from.
    let (other, queue) = ("{big}other", "{big}queue");
    let mut parked = cluster.node(owners[0]).conn();
    let waiter = std::thread::spawn(move || {
        let popped: Vec<String> = q(&mut parked, &["BLPOP", other, queue, "30"]);
        popped
    });
    let blocked = || {
        let info: String = q(&mut cluster.node(owners[0]).conn(), &["INFO", "clients"]);
        field_u64(&info, "blocked_clients") == Some(1)
    };
    assert!(eventually(DEADLINE, blocked), "the waiter parks");
    let mut push = vec!["RPUSH".to_string(), queue.to_string()];
    push.extend(bulk.iter().cloned());
    let _: i64 = q(
        &mut conn,
        &push.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let popped = waiter.join().expect("the waiter");
    assert_eq!(popped, [queue, "element-00000"]);

    let read_copy = |index: usize| -> Vec<String> {
        let mut node = cluster.node(index).conn();
        let _: () = q(&mut node, &["READONLY"]);
        let mut members: Vec<String> = q(&mut node, &["SMEMBERS", set]);
        members.sort();
        let mut copy = vec![format!("{members:?}")];
        let mut members: Vec<String> = q(&mut node, &["SMEMBERS", set2]);
        members.sort();
        copy.push(format!("{members:?}"));
        for key in [list, queue, dest] {
            copy.push(format!(
                "{:?}",
                q::<Vec<String>>(&mut node, &["LRANGE", key, "0", "-1"])
            ));
        }
        copy.push(format!(
            "{:?}",
            q::<Vec<String>>(&mut node, &["ZRANGE", zset, "0", "-1", "WITHSCORES"])
        ));
        copy
    };
    assert_eq!(read_copy(owners[1]), read_copy(owners[0]));
    let effects = cluster.figure(owners[0], "cluster_replicated_effects");
    assert!(
        effects >= effects_before + 16,
        "pops ship as effects ({effects_before} -> {effects})"
    );
    assert_eq!(
        cluster.figure(owners[0], "cluster_replicated_effects_stale"),
        0
    );
}

/// A script's writes to large collections ship to the replica as the
/// commands it called (as a job queue's Lua moves a job between lists),
/// a pop that draws at random as what it took; a script that also makes a
/// write that cannot be replayed ships its keys whole. The copies stay
/// equal to the primary's either way.
#[test]
fn scripts_on_large_collections_replicate_as_the_commands_they_called() {
    let cluster = TestCluster::start(3, &["--write-quorum", "2"]);
    let (waiting, active, seen, flag) =
        ("{jobs}waiting", "{jobs}active", "{jobs}seen", "{jobs}flag");
    let owners = cluster.owners(waiting);
    let mut conn = cluster.node(owners[0]).conn();
    let bulk: Vec<String> = (0..1000).map(|n| format!("job-{n:05}")).collect();
    for (command, key) in [("RPUSH", waiting), ("RPUSH", active), ("SADD", seen)] {
        let mut args = vec![command.to_string(), key.to_string()];
        args.extend(bulk.iter().cloned());
        let _: i64 = q(
            &mut conn,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    let effects_before = cluster.figure(owners[0], "cluster_replicated_effects");

    let take_job = "local job = redis.call('RPOPLPUSH', KEYS[1], KEYS[2]) \
                    redis.call('LPUSH', KEYS[1], ARGV[1]) return job";
    for n in 0..20 {
        let job: String = q(
            &mut conn,
            &["EVAL", take_job, "2", waiting, active, &format!("new-{n}")],
        );
        assert!(job.starts_with("job-"), "{job}");
    }
    // SPOP draws at random: the replica removes what the primary drew.
    let draw = "return redis.call('SPOP', KEYS[1], 3)";
    let drawn: Vec<String> = q(&mut conn, &["EVAL", draw, "1", seen]);
    assert_eq!(drawn.len(), 3);
    let effects_after_replayable = cluster.figure(owners[0], "cluster_replicated_effects");
    assert!(
        effects_after_replayable >= effects_before + 21,
        "scripts of replayable writes ship as effects ({effects_before} -> {effects_after_replayable})"
    );
    // SET is not replayed: this script's keys go whole.
    let mixed = "redis.call('SET', KEYS[2], ARGV[1]) return redis.call('LPOP', KEYS[1])";
    let _: String = q(&mut conn, &["EVAL", mixed, "2", active, flag, "on"]);
    assert_eq!(
        cluster.figure(owners[0], "cluster_replicated_effects"),
        effects_after_replayable,
        "a script with a write that cannot be replayed ships whole"
    );

    let read_copy = |index: usize| -> Vec<String> {
        let mut node = cluster.node(index).conn();
        let _: () = q(&mut node, &["READONLY"]);
        let mut members: Vec<String> = q(&mut node, &["SMEMBERS", seen]);
        members.sort();
        let mut copy = vec![format!("{members:?}")];
        for key in [waiting, active] {
            copy.push(format!(
                "{:?}",
                q::<Vec<String>>(&mut node, &["LRANGE", key, "0", "-1"])
            ));
        }
        copy.push(format!(
            "{:?}",
            q::<Option<String>>(&mut node, &["GET", flag])
        ));
        copy
    };
    assert!(
        eventually(DEADLINE, || read_copy(owners[1]) == read_copy(owners[0])),
        "the replica's copies equal the primary's"
    );
    assert_eq!(
        cluster.figure(owners[0], "cluster_replicated_effects_stale"),
        0
    );
}
