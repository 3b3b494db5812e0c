//! The worker's polling before it sleeps (`idle-poll-us`), in node
//! processes (`main.rs` sets it up on the runtime): clients served alike
//! with it on and off while several of them keep requests close together,
//! CONFIG GET and SET with Redis's range error, INFO's counts of the
//! polls, and a node that polled
//! under traffic spending next to no CPU once the traffic stops (the poll
//! is bounded and only follows short sleeps).

mod common;

use std::time::{Duration, Instant};

use common::errors::config_set_failed;
use common::{err, info_u64, q, TestNode, DEADLINE};

/// Clients, and round trips each, in a burst of close requests.
const CLIENTS: usize = 6;
const ROUNDS: usize = 1000;

/// The node's CPU time so far (user and system), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the node's stat");
    // Fields after the command name (which may hold spaces), from its ')'.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are the 14th and 15th fields, 12th and 13th here.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// Several clients each setting and reading back their own keys, one
/// request at a time: every reply must be the one asked for.
fn burst(node: &TestNode, tag: &str) {
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mut conn = node.conn();
            let tag = tag.to_string();
            std::thread::spawn(move || {
                for i in 0..ROUNDS {
                    let key = format!("{tag}:{c}:{}", i % 50);
                    let value = format!("{i}");
                    let _: () = q(&mut conn, &["SET", &key, &value]);
                    let back: String = q(&mut conn, &["GET", &key]);
                    assert_eq!(back, value, "client {c} round {i}");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a client failed");
    }
}

#[test]
fn clients_are_served_alike_with_polling_on_and_off() {
    // Polling needs a single worker (the default is half the cores).
    let node = TestNode::start(&["--io-threads", "1", "--idle-poll-us", "200"]);
    let mut conn = node.conn();
    let budget: Vec<String> = q(&mut conn, &["CONFIG", "GET", "idle-poll-us"]);
    assert_eq!(budget, ["idle-poll-us", "200"]);
    burst(&node, "on");
    let _: () = q(&mut conn, &["CONFIG", "SET", "idle-poll-us", "0"]);
    burst(&node, "off");
    let _: () = q(&mut conn, &["CONFIG", "SET", "idle-poll-us", "50"]);
    burst(&node, "again");
    let budget: Vec<String> = q(&mut conn, &["CONFIG", "GET", "idle-poll-us"]);
    assert_eq!(budget, ["idle-poll-us", "50"]);
    assert_eq!(
        err(&mut conn, &["CONFIG", "SET", "idle-poll-us", "10001"]),
        config_set_failed(
            "idle-poll-us",
            "argument must be between 0 and 10000 inclusive"
        )
    );
    let keys: i64 = q(&mut conn, &["DBSIZE"]);
    assert_eq!(keys, (3 * CLIENTS * 50) as i64);
    // Whether it polled or found the CPU contended depends on how busy
    // the machine was; with the pressure file it decided one or the other
    // after the bursts' short sleeps.
    let found = info_u64(&mut conn, "idle_polls_found_work");
    let polls = info_u64(&mut conn, "idle_polls");
    let contended = info_u64(&mut conn, "idle_polls_skipped_contended");
    assert!(found <= polls, "{found} polls found work of {polls}");
    if std::fs::read_to_string("/proc/pressure/cpu").is_ok() {
        assert!(polls + contended > 0, "the worker never wanted to poll");
    }
}

#[test]
fn an_idle_node_does_not_poll() {
    let node = TestNode::start(&["--io-threads", "1", "--idle-poll-us", "1000"]);
    burst(&node, "warm");
    // A polling worker that never stopped would use most of each window;
    // an idle one uses next to nothing. A window is 500 ms; on a loaded
    // machine a quiet one comes soon enough.
    let window = Duration::from_millis(500);
    let hz = 100; // USER_HZ, as /proc reports ticks on Linux
    let limit = 5; // 50 ms of CPU in 500 ms
    let until = Instant::now() + DEADLINE;
    let mut used = Vec::new();
    loop {
        let before = cpu_ticks(node.pid());
        let start = Instant::now();
        while start.elapsed() < window {
            std::thread::sleep(Duration::from_millis(10));
        }
        let ticks = cpu_ticks(node.pid()) - before;
        used.push(ticks);
        if ticks <= limit || Instant::now() >= until {
            break;
        }
    }
    assert!(
        used.last().is_some_and(|&t| t <= limit),
        "an idle node used {used:?} ticks (of {hz} per second) per {window:?}"
    );
}
