//! Hash commands, values through the codec.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{bulk_or_nil, count, int, unexpected, Client};
use crate::codec::Codec;
use crate::command::Command;
use crate::error::{Error, Result};
use crate::resp::Value;

impl<C: Codec> Client<C> {
    /// `HSET` fields of the hash at `key` to encoded values; returns how
    /// many fields were new.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`](crate::ErrorKind::Codec) when a value does not encode; `WRONGTYPE` when
    /// `key` holds a string; connection errors and timeouts.
    pub async fn hset<F: AsRef<[u8]>, V: Serialize>(
        &self,
        key: impl AsRef<[u8]>,
        fields: &[(F, V)],
    ) -> Result<u64> {
        let encoded: Vec<Vec<u8>> = fields
            .iter()
            .map(|(_, v)| self.codec.encode(v))
            .collect::<Result<_>>()?;
        let mut rest: Vec<&[u8]> = Vec::with_capacity(fields.len() * 2);
        for ((field, _), value) in fields.iter().zip(&encoded) {
            rest.push(field.as_ref());
            rest.push(value);
        }
        let reply = self
            .run(Command::keyed(b"HSET", key.as_ref(), &rest))
            .await?;
        count(reply, "HSET")
    }

    /// `HGET` and decode.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn hget<V: DeserializeOwned>(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
    ) -> Result<Option<V>> {
        let cmd = Command::keyed(b"HGET", key.as_ref(), &[field.as_ref()]).read();
        self.decode(self.run(cmd).await?)
    }

    /// `HGETALL` and decode every value; field names must be UTF-8.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`](crate::ErrorKind::Codec) for a value that does not decode or a field name
    /// that is not UTF-8; as [`Client::get`] otherwise.
    pub async fn hgetall<V: DeserializeOwned>(
        &self,
        key: impl AsRef<[u8]>,
    ) -> Result<HashMap<String, V>> {
        let reply = self
            .run(Command::keyed(b"HGETALL", key.as_ref(), &[]).read())
            .await?;
        let pairs: Vec<(Value, Value)> = match reply {
            Value::Array(items) if items.len() % 2 == 0 => {
                let mut items = items.into_iter();
                std::iter::from_fn(|| Some((items.next()?, items.next()?))).collect()
            }
            Value::Map(pairs) => pairs,
            other => return Err(unexpected("HGETALL", &other)),
        };
        let mut out = HashMap::with_capacity(pairs.len());
        for (field, value) in pairs {
            let field = bulk_or_nil(field)?.unwrap_or_default();
            let field = String::from_utf8(field)
                .map_err(|_| Error::codec("hash field name is not UTF-8"))?;
            let Some(bytes) = bulk_or_nil(value)? else {
                continue;
            };
            out.insert(field, self.codec.decode(&bytes)?);
        }
        Ok(out)
    }

    /// `HDEL`: removes fields; returns how many existed.
    ///
    /// # Errors
    /// Connection errors and timeouts.
    pub async fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<u64> {
        let rest: Vec<&[u8]> = fields.iter().map(AsRef::as_ref).collect();
        let reply = self
            .run(Command::keyed(b"HDEL", key.as_ref(), &rest))
            .await?;
        count(reply, "HDEL")
    }

    /// `HINCRBY`: adds `by` to an integer field; returns the new value. Not
    /// resent after a broken connection, like [`Client::incr`].
    ///
    /// # Errors
    /// `ERR` when the field is not an integer; connection errors and
    /// timeouts.
    pub async fn hincrby(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        by: i64,
    ) -> Result<i64> {
        let by = by.to_string();
        let cmd = Command::keyed(b"HINCRBY", key.as_ref(), &[field.as_ref(), by.as_bytes()])
            .not_idempotent();
        int(self.run(cmd).await?, "HINCRBY")
    }
}
