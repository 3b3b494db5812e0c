//! Inputs the fuzzer (tests/fuzz.rs) found crashing or breaking the node,
//! each kept as a test.

mod common;

use std::io::Write;
use std::time::Duration;

use common::cluster::TestCluster;
use common::wire::{encode_command, Frame, FrameReader};
use common::TestNode;

/// MSET with a key and no value, its keys spread over two nodes: the
/// router split it by owner and read the value past the last argument,
/// a panic that dropped the client's connection.
#[test]
fn mset_without_its_last_value_across_nodes_answers_the_arity_error() {
    let cluster = TestCluster::start(2, &[]);
    let stream = cluster.node(0).raw().stream;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut conn = FrameReader::new(stream);
    // Twenty keys land on both nodes of a two-node ring.
    let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..20 {
        args.push(format!("key:{i}").into_bytes());
        args.push(b"v".to_vec());
    }
    args.push(b"dangling".to_vec());
    let mut bytes = Vec::new();
    encode_command(&mut bytes, &args);
    encode_command(&mut bytes, &["PING"]);
    conn.stream.write_all(&bytes).expect("write");
    assert_eq!(
        conn.next().expect("a reply to MSET"),
        Frame::Error(b"ERR wrong number of arguments for 'mset' command".to_vec())
    );
    assert_eq!(
        conn.next().expect("the connection stays"),
        Frame::Simple(b"PONG".to_vec())
    );
}

/// A latency threshold near the top of its range: every command after it
/// multiplied it by 1000 to compare with microseconds, an overflow that
/// panicked (debug builds) and closed the client's connection.
#[test]
fn a_huge_latency_threshold_is_taken_and_commands_still_run() {
    let node = TestNode::start(&[]);
    let stream = node.raw().stream;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut conn = FrameReader::new(stream);
    let mut bytes = Vec::new();
    for threshold in ["9223372036854775807", "18446744073709551615"] {
        encode_command(
            &mut bytes,
            &["CONFIG", "SET", "latency-monitor-threshold", threshold],
        );
        encode_command(&mut bytes, &["PING"]);
    }
    conn.stream.write_all(&bytes).expect("write");
    assert_eq!(
        conn.next().expect("CONFIG SET"),
        Frame::Simple(b"OK".to_vec())
    );
    assert_eq!(conn.next().expect("PING"), Frame::Simple(b"PONG".to_vec()));
    // Past i64, as Redis: not a number it takes.
    assert_eq!(
        conn.next().expect("CONFIG SET"),
        Frame::Error(
            b"ERR CONFIG SET failed (possibly related to argument 'latency-monitor-threshold') - argument couldn't be parsed into an integer"
                .to_vec()
        )
    );
    assert_eq!(conn.next().expect("PING"), Frame::Simple(b"PONG".to_vec()));
}
