//! A writer process for the near cache's cluster coherence test
//! (tests/near_cache_cluster.rs): writes increasing values to its own keys
//! through the ringcache client for a bounded time and prints one line per
//! acknowledged write, `key value ack_us` (wall-clock microseconds), so the
//! test can tell which writes completed before each read.
//!
//! ```sh
//! cargo run --example near_writer -- --nodes 127.0.0.1:7000,127.0.0.1:7001 --id 0 --keys 20 --seconds 10
//! ```

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringcache_client::{Client, ClientConfig, SetOptions};

fn wall_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut nodes = Vec::new();
    let (mut id, mut keys, mut seconds) = (0u64, 20u64, 10u64);
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        match flag.as_str() {
            "--nodes" => nodes = value.split(',').map(String::from).collect(),
            "--id" => id = value.parse().expect("--id"),
            "--keys" => keys = value.parse().expect("--keys"),
            "--seconds" => seconds = value.parse().expect("--seconds"),
            other => panic!("unknown flag {other}"),
        }
    }
    let config = ClientConfig {
        request_timeout: Duration::from_secs(2),
        refresh_interval: Duration::from_millis(500),
        ..ClientConfig::new(nodes)
    };
    let client = Client::connect(config).await.expect("connect");
    let stop_at = Instant::now() + Duration::from_secs(seconds);
    let mut out = std::io::stdout().lock();
    let mut value = 0u64;
    while Instant::now() < stop_at {
        value += 1;
        let key = format!("near:{id}:{}", value % keys.max(1));
        let written = client
            .set_bytes(&key, value.to_string().as_bytes(), SetOptions::new())
            .await;
        if written.is_ok() {
            let _ = writeln!(out, "{key} {value} {}", wall_us());
        }
        // A little pause: many writes per key, but not a flood.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let _ = out.flush();
}
