//! The system of record: products in SQLite. Calls run on the blocking
//! pool, one connection behind a mutex (SQLite serializes writers anyway).

use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// A product row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Primary key.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Price in cents.
    pub price_cents: i64,
}

/// A handle to the database.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

/// A database error, as text (it crosses task boundaries and is shown to
/// clients as a 500).
pub type DbError = String;

impl Db {
    /// Opens (and creates, seeded with a few products) the database at `path`.
    pub fn open(path: &str) -> Result<Db, rusqlite::Error> {
        let conn = Connection::open(path)?;
        // Several app instances share the file: wait for each other's locks.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS products (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 price_cents INTEGER NOT NULL
             );
             INSERT OR IGNORE INTO products (id, name, price_cents) VALUES
                 (1, 'teapot', 2500), (2, 'kettle', 4000), (3, 'mug', 900);",
        )?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, DbError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn
                .lock()
                .map_err(|_| "database lock poisoned".to_string())?;
            f(&conn).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// The product with `id`, if any.
    pub async fn product(&self, id: i64) -> Result<Option<Product>, DbError> {
        self.with(move |conn| {
            conn.query_row(
                "SELECT id, name, price_cents FROM products WHERE id = ?1",
                params![id],
                |row| {
                    Ok(Product {
                        id: row.get(0)?,
                        name: row.get(1)?,
                        price_cents: row.get(2)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// Inserts or replaces a product.
    pub async fn save(&self, product: Product) -> Result<(), DbError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO products (id, name, price_cents) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents",
                params![product.id, product.name, product.price_cents],
            )
            .map(|_| ())
        })
        .await
    }
}
