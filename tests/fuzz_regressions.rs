//! Inputs the fuzzer (tests/fuzz.rs) found crashing or breaking the node,
//! each kept as a test.

mod common;

use common::cluster::TestCluster;
use common::errors::{config_set_failed, wrong_arity};
use common::wire::Frame;
use common::TestServer;

fn pong() -> Frame {
    Frame::Simple(b"PONG".to_vec())
}

/// MSET with a key and no value, its keys spread over two nodes: the
/// router split it by owner and read the value past the last argument,
/// a panic that dropped the client's connection.
#[test]
fn mset_without_its_last_value_across_nodes_answers_the_arity_error() {
    let cluster = TestCluster::start(2, &[]);
    let mut conn = cluster.node(0).raw();
    // Twenty keys land on both nodes of a two-node ring.
    let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..20 {
        args.push(format!("key:{i}").into_bytes());
        args.push(b"v".to_vec());
    }
    args.push(b"dangling".to_vec());
    let replies = conn.pipeline(&[args, vec![b"PING".to_vec()]]);
    assert_eq!(
        replies,
        [Frame::Error(wrong_arity("mset").into_bytes()), pong()],
        "the arity error, and the connection stays"
    );
}

/// A latency threshold near the top of its range: every command after it
/// multiplied it by 1000 to compare with microseconds, an overflow that
/// panicked (debug builds) and closed the client's connection.
#[test]
fn a_huge_latency_threshold_is_taken_and_commands_still_run() {
    let node = TestServer::start();
    let mut conn = node.raw();
    let mut requests = Vec::new();
    for threshold in ["9223372036854775807", "18446744073709551615"] {
        requests.push(vec![
            "CONFIG",
            "SET",
            "latency-monitor-threshold",
            threshold,
        ]);
        requests.push(vec!["PING"]);
    }
    let replies = conn.pipeline(&requests);
    // Past i64, as Redis: not a number it takes.
    let refused = config_set_failed(
        "latency-monitor-threshold",
        "argument couldn't be parsed into an integer",
    );
    assert_eq!(
        replies,
        [
            Frame::Simple(b"OK".to_vec()),
            pong(),
            Frame::Error(refused.into_bytes()),
            pong(),
        ]
    );
}
