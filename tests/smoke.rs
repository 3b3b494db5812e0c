//! A first end-to-end check: a real node answers a real client.

mod common;

use common::{q, TestServer};

#[test]
fn ping_set_get() {
    let node = TestServer::start();
    let mut conn = node.conn();
    assert_eq!(q::<String>(&mut conn, &["PING"]), "PONG");
    let () = q(&mut conn, &["SET", "k", "v"]);
    assert_eq!(q::<String>(&mut conn, &["GET", "k"]), "v");
}

/// One worker runs the current-thread scheduler, more run the
/// multi-threaded one; the latter serves concurrent clients too.
#[test]
fn a_node_with_several_workers_serves_concurrent_clients() {
    let node = TestServer::builder().set("io-threads", "3").start();
    std::thread::scope(|scope| {
        for client in 0..4 {
            let node = &node;
            scope.spawn(move || {
                let mut conn = node.conn();
                for i in 0..200 {
                    let key = format!("c{client}:k{i}");
                    let () = q(&mut conn, &["SET", &key, &i.to_string()]);
                    assert_eq!(q::<u32>(&mut conn, &["GET", &key]), i);
                }
            });
        }
    });
    assert_eq!(q::<u64>(&mut node.conn(), &["DBSIZE"]), 800);
}
