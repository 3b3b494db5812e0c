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
