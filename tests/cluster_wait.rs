//! WAIT on a cluster, as Redis's: the number of replicas that hold every
//! write of this connection so far, asked of the node that owns it or of a
//! node that forwarded the writes to their owners; a replica that stops
//! answering is not counted until it has the writes again.

mod common;

use common::cluster::TestCluster;
use common::q;
use redis::Commands;

/// Flags of the clusters here: one replica per slot.
const FLAGS: &[&str] = &["--failure-timeout", "10s", "--replicas", "1"];

#[test]
fn wait_counts_the_replicas_holding_every_write_so_far() {
    let cluster = TestCluster::start(3, FLAGS);
    let owners = cluster.owners("w");
    let mut direct = cluster.node(owners[0]).conn();
    // Nothing written yet: every replica holds it all, as Redis counts.
    let none: i64 = q(&mut direct, &["WAIT", "0", "0"]);
    assert_eq!(none, 1);
    let _: () = direct.set("w", 1).unwrap();
    let first: i64 = q(&mut direct, &["WAIT", "1", "5000"]);
    assert_eq!(first, 1);
    // A second WAIT with no write in between answers the same.
    let second: i64 = q(&mut direct, &["WAIT", "1", "5000"]);
    assert_eq!(second, 1);
    let again: i64 = q(&mut direct, &["WAIT", "0", "0"]);
    assert_eq!(again, 1);

    // Through a node that is neither owner of the keys: the owners answer.
    let forwarder = (0..3)
        .find(|i| !cluster.owners("f").contains(i))
        .expect("a node that does not own f");
    let mut via = cluster.node(forwarder).conn();
    for i in 0..50 {
        let _: () = via.set(format!("f:{i}"), i).unwrap();
    }
    let _: i64 = via.del("f:7").unwrap();
    let _: () = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("{f}a")
        .arg(1)
        .cmd("INCR")
        .arg("{f}b")
        .query(&mut via)
        .unwrap();
    let forwarded: i64 = q(&mut via, &["WAIT", "1", "5000"]);
    assert_eq!(forwarded, 1);
    let forwarded_again: i64 = q(&mut via, &["WAIT", "1", "5000"]);
    assert_eq!(forwarded_again, 1);
}

#[test]
fn a_stopped_replica_is_not_counted_until_it_has_the_write() {
    let cluster = TestCluster::start(2, FLAGS);
    let owners = cluster.owners("s");
    let (primary, replica) = (owners[0], owners[1]);
    let mut direct = cluster.node(primary).conn();
    let _: () = direct.set("s", "before").unwrap();
    let before: i64 = q(&mut direct, &["WAIT", "1", "5000"]);
    assert_eq!(before, 1);

    cluster.node(replica).signal("STOP");
    let _: () = direct.set("s", "after").unwrap();
    let stopped: i64 = q(&mut direct, &["WAIT", "1", "300"]);
    cluster.node(replica).signal("CONT");
    assert_eq!(stopped, 0, "a stopped replica cannot hold the new write");
    // Resumed, the replica applies the shipped write; the write is still
    // pending for WAIT, which now finds it there.
    let resumed: i64 = q(&mut direct, &["WAIT", "1", "10000"]);
    assert_eq!(resumed, 1);
}
