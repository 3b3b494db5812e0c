//! Single-key commands: strings, counters and key lifetimes.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{bulk_or_nil, int, unexpected, Client, Condition, SetOptions, SetOutcome, Ttl};
use crate::codec::Codec;
use crate::command::Command;
use crate::error::Result;
use crate::resp::Value;

impl<C: Codec> Client<C> {
    /// `GET` and decode.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`](crate::ErrorKind::Codec) when the stored bytes do not decode as `V`;
    /// `WRONGTYPE` ([`ErrorKind::Server`](crate::ErrorKind::Server)) for a non-string key; connection
    /// errors and timeouts.
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// let name: Option<String> = client.get("user:1:name").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get<V: DeserializeOwned>(&self, key: impl AsRef<[u8]>) -> Result<Option<V>> {
        if let Some(near) = &self.near {
            let value = near.get(key.as_ref()).await?;
            return value.map(|bytes| self.codec.decode(&bytes)).transpose();
        }
        let value = self.get_bytes(key).await?;
        value.map(|bytes| self.codec.decode(&bytes)).transpose()
    }

    /// `GET`, the stored bytes as they are.
    ///
    /// # Errors
    /// As [`Client::get`], without codec errors.
    pub async fn get_bytes(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        if let Some(near) = &self.near {
            let value = near.get(key.as_ref()).await?;
            return Ok(value.map(|bytes| bytes.to_vec()));
        }
        let reply = self
            .run(Command::keyed(b"GET", key.as_ref(), &[]).read())
            .await?;
        bulk_or_nil(reply)
    }

    /// `SET` the encoded `value`, with an expiry, a condition, and the
    /// previous value as `options` say.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`](crate::ErrorKind::Codec) when `value` does not encode; server errors (such as `WRONGTYPE` with `GET` on a
    /// hash); connection errors and timeouts.
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// use std::time::Duration;
    /// use ringcache_client::SetOptions;
    ///
    /// let outcome = client
    ///     .set("lock:job", &"worker-1", SetOptions::new().if_absent().ttl(Duration::from_secs(30)))
    ///     .await?;
    /// if outcome.written { /* we hold the lock */ }
    /// # Ok(()) }
    /// ```
    pub async fn set<V: Serialize + ?Sized>(
        &self,
        key: impl AsRef<[u8]>,
        value: &V,
        options: SetOptions,
    ) -> Result<SetOutcome> {
        let bytes = self.codec.encode(value)?;
        self.set_bytes(key, &bytes, options).await
    }

    /// `SET` raw bytes; see [`Client::set`].
    ///
    /// # Errors
    /// As [`Client::set`], without codec errors.
    pub async fn set_bytes(
        &self,
        key: impl AsRef<[u8]>,
        value: &[u8],
        options: SetOptions,
    ) -> Result<SetOutcome> {
        let words = options.words();
        let mut rest: Vec<&[u8]> = Vec::with_capacity(1 + words.len());
        rest.push(value);
        rest.extend(words.iter().map(Vec::as_slice));
        let reply = self
            .run(Command::keyed(b"SET", key.as_ref(), &rest))
            .await?;
        if options.get {
            let previous = bulk_or_nil(reply)?;
            let written = match options.condition {
                None => true,
                Some(Condition::IfAbsent) => previous.is_none(),
                Some(Condition::IfPresent) => previous.is_some(),
            };
            return Ok(SetOutcome { written, previous });
        }
        let written = match reply {
            Value::Simple(_) => true,
            Value::Nil => false,
            other => return Err(unexpected("SET", &other)),
        };
        Ok(SetOutcome {
            written,
            previous: None,
        })
    }

    /// `SET key value IFEQ current PX ttl`: compare-and-set (Redis 8.4,
    /// ringcache). Writes `value` only if `key` holds exactly the string
    /// `current`; returns whether it wrote. The cache helpers use it so a
    /// refresh never overwrites a value written after the refresh began.
    ///
    /// Not resent after a broken connection: a resent compare-and-set that
    /// was applied the first time would report `false`.
    ///
    /// # Errors
    /// `ERR` ([`ErrorKind::Server`](crate::ErrorKind::Server)) from a server without `IFEQ`
    /// (redis-server before 8.4 answers `ERR syntax error`); `WRONGTYPE`
    /// when `key` holds a hash; connection errors and timeouts.
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// use std::time::Duration;
    ///
    /// let swapped = client
    ///     .set_bytes_if_equal("config", b"v2", b"v1", Duration::from_secs(60))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_bytes_if_equal(
        &self,
        key: impl AsRef<[u8]>,
        value: &[u8],
        current: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        let millis = u64::try_from(ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
            .to_string();
        let cmd = Command::keyed(
            b"SET",
            key.as_ref(),
            &[value, b"IFEQ", current, b"PX", millis.as_bytes()],
        )
        .not_idempotent();
        match self.run(cmd).await? {
            Value::Simple(_) => Ok(true),
            Value::Nil => Ok(false),
            other => Err(unexpected("SET IFEQ", &other)),
        }
    }

    /// `EXISTS` for one key.
    ///
    /// # Errors
    /// Connection errors and timeouts.
    pub async fn exists(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let reply = self
            .run(Command::keyed(b"EXISTS", key.as_ref(), &[]).read())
            .await?;
        Ok(int(reply, "EXISTS")? > 0)
    }

    /// `PEXPIRE`: the key expires after `ttl` (millisecond precision).
    /// Returns false when the key does not exist.
    ///
    /// # Errors
    /// Connection errors and timeouts.
    pub async fn expire(&self, key: impl AsRef<[u8]>, ttl: Duration) -> Result<bool> {
        let millis = u64::try_from(ttl.as_millis())
            .unwrap_or(u64::MAX)
            .to_string();
        let reply = self
            .run(Command::keyed(
                b"PEXPIRE",
                key.as_ref(),
                &[millis.as_bytes()],
            ))
            .await?;
        Ok(int(reply, "PEXPIRE")? == 1)
    }

    /// `PTTL`: whether the key exists, and when it expires.
    ///
    /// # Errors
    /// Connection errors and timeouts.
    pub async fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Ttl> {
        let reply = self
            .run(Command::keyed(b"PTTL", key.as_ref(), &[]).read())
            .await?;
        Ok(match int(reply, "PTTL")? {
            -2 => Ttl::Missing,
            -1 => Ttl::Persistent,
            ms => Ttl::ExpiresIn(Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
        })
    }

    /// `INCRBY`: adds `by` to the integer at `key` (0 when missing); returns
    /// the new value. Not resent after a broken connection (it is not
    /// idempotent), so a [`ErrorKind::ConnectionDropped`](crate::ErrorKind::ConnectionDropped) error means "maybe
    /// applied".
    ///
    /// # Errors
    /// `ERR` ([`ErrorKind::Server`](crate::ErrorKind::Server)) when the value is not an integer or
    /// would overflow; connection errors and timeouts.
    pub async fn incr(&self, key: impl AsRef<[u8]>, by: i64) -> Result<i64> {
        let by = by.to_string();
        let cmd = Command::keyed(b"INCRBY", key.as_ref(), &[by.as_bytes()]).not_idempotent();
        int(self.run(cmd).await?, "INCRBY")
    }
}
