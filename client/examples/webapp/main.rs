//! A stateless web application on ringcache: user sessions live in the
//! cache cluster (so any instance serves any user, and losing an instance
//! loses no session), products live in SQLite and are read cache-aside and
//! written write-through.
//!
//! ```text
//! cargo run --release -p ringcache-server -- --local-cluster 3
//! cargo run -p ringcache-client --example webapp -- --listen 127.0.0.1:8080 --db /tmp/shop.db
//! cargo run -p ringcache-client --example webapp -- --listen 127.0.0.1:8081 --db /tmp/shop.db
//! ```
//!
//! With `--near-cache on`, product reads are answered from process memory
//! when they can (a `NearCache`, kept coherent by the cluster's client
//! tracking), so a product write by any instance is seen by all.
//!
//! Routes: `POST /login?user=NAME` (returns a session id, also as a
//! cookie), `GET /me`, `POST /cart/{product}`, `GET /products/{id}`,
//! `PUT /products/{id}?name=N&price_cents=P`, `GET /healthz`. The session
//! travels in the `session` cookie or the `x-session` header.

mod db;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ringcache_client::{
    CacheAside, CacheAsideConfig, Client, ClientConfig, NearCacheConfig, WriteThrough,
    WriteThroughConfig,
};

/// Everything a request handler reaches; the process keeps no other state.
pub struct App {
    /// The cache cluster.
    pub cache: Client,
    /// Product reads: cache first, SQLite on a miss, one load per key.
    pub products: CacheAside,
    /// Product writes: SQLite first, then the cache.
    pub writes: WriteThrough,
    /// The system of record.
    pub db: db::Db,
    /// This instance's name, in replies (shows which instance served).
    pub instance: String,
}

/// How long a session lives without activity.
pub const SESSION_TTL: Duration = Duration::from_secs(1800);
/// How long a product stays cached.
pub const PRODUCT_TTL: Duration = Duration::from_secs(60);

struct Options {
    listen: SocketAddr,
    cache: Vec<String>,
    db: String,
    near_cache: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        cache: vec!["127.0.0.1:7000".into()],
        db: "shop.db".into(),
        near_cache: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => options.listen = value.parse().map_err(|e| format!("--listen: {e}"))?,
            "--cache" => options.cache = value.split(',').map(String::from).collect(),
            "--db" => options.db = value,
            "--near-cache" => options.near_cache = value == "on",
            _ => {
                return Err(format!(
                    "unknown flag {flag} (--listen, --cache, --db, --near-cache on|off)"
                ))
            }
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("webapp: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(options).await {
        eprintln!("webapp: {e}");
        std::process::exit(1);
    }
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let db = db::Db::open(&options.db)?;
    let mut cache = Client::connect(ClientConfig::new(options.cache.clone())).await?;
    if options.near_cache {
        cache = cache.with_near_cache(NearCacheConfig::default())?;
    }
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App {
        products: CacheAside::new(cache.clone(), CacheAsideConfig::default())?,
        writes: WriteThrough::new(cache.clone(), WriteThroughConfig::default())?,
        cache,
        db,
        instance: addr.to_string(),
    });
    eprintln!("webapp listening addr={addr}");
    axum::serve(listener, routes::router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
