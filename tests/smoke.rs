//! A first end-to-end check: a real node answers a real client.

mod common;

use common::TestNode;

#[test]
fn ping_set_get() {
    let node = TestNode::start(&[]);
    let mut conn = node.conn();
    let pong: String = redis::cmd("PING").query(&mut conn).unwrap();
    assert_eq!(pong, "PONG");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut conn).unwrap();
    assert_eq!(v, "v");
}

/// One worker runs the current-thread scheduler, more run the
/// multi-threaded one; the latter serves concurrent clients too.
#[test]
fn a_node_with_several_workers_serves_concurrent_clients() {
    let node = TestNode::start(&["--threads", "3"]);
    let url = format!("redis://{}/", node.addr);
    std::thread::scope(|scope| {
        for client in 0..4 {
            let url = &url;
            scope.spawn(move || {
                let mut conn = redis::Client::open(url.as_str())
                    .unwrap()
                    .get_connection()
                    .unwrap();
                for i in 0..200 {
                    let key = format!("c{client}:k{i}");
                    let _: () = redis::cmd("SET").arg(&key).arg(i).query(&mut conn).unwrap();
                    let v: u32 = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
                    assert_eq!(v, i);
                }
            });
        }
    });
    let mut conn = node.conn();
    let keys: u64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
    assert_eq!(keys, 800);
}
