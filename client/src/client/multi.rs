//! Multi-key commands, split by slot in a cluster: each slot's part sent
//! to its node, the nodes asked in parallel, the replies put back in order.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{bulk_or_nil, count, Client};
use crate::codec::Codec;
use crate::command::Command;
use crate::error::{Error, Result};
use crate::resp::Value;

impl<C: Codec> Client<C> {
    /// `DEL`: removes the keys; returns how many existed. In a cluster the
    /// keys are split by slot, each part sent to its node.
    ///
    /// # Errors
    /// Connection errors and timeouts (some keys may be deleted already).
    pub async fn del<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        self.sum_by_slot(b"DEL", keys).await
    }

    /// `MGET` and decode: one value (or `None`) per key, in order. In a
    /// cluster the keys are grouped by slot, one `MGET` per slot, the
    /// commands for each node written together and the nodes asked in
    /// parallel; for a single node it is one `MGET`.
    ///
    /// # Errors
    /// The first failing part's error; [`ErrorKind::Codec`](crate::ErrorKind::Codec) when a value
    /// does not decode as `V`.
    ///
    /// ```no_run
    /// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
    /// let scores: Vec<Option<u32>> = client.mget(&["score:ann", "score:bob"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn mget<V: DeserializeOwned, K: AsRef<[u8]>>(
        &self,
        keys: &[K],
    ) -> Result<Vec<Option<V>>> {
        self.mget_bytes(keys)
            .await?
            .into_iter()
            .map(|value| value.map(|bytes| self.codec.decode(&bytes)).transpose())
            .collect()
    }

    /// `MGET`, the stored bytes as they are; see [`Client::mget`].
    ///
    /// # Errors
    /// As [`Client::mget`], without codec errors.
    pub async fn mget_bytes<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let groups = self.router.group_by_slot(keys.iter().map(AsRef::as_ref));
        let cmds: Vec<Command> = groups
            .iter()
            .map(|(route, members)| {
                let mut args: Vec<&[u8]> = vec![b"MGET"];
                args.extend(members.iter().map(|&i| keys[i].as_ref()));
                Command::raw(&args, *route).read().idempotent()
            })
            .collect();
        let replies = self.run_all(&cmds).await;
        let mut out: Vec<Option<Vec<u8>>> = vec![None; keys.len()];
        for ((_, members), reply) in groups.iter().zip(replies) {
            let Value::Array(values) = reply? else {
                return Err(Error::protocol("MGET reply is not an array"));
            };
            if values.len() != members.len() {
                return Err(Error::protocol("MGET reply has the wrong length"));
            }
            for (&i, value) in members.iter().zip(values) {
                out[i] = bulk_or_nil(value)?;
            }
        }
        Ok(out)
    }

    /// `MSET` of encoded values. In a cluster, split by slot as
    /// [`Client::mget`] is, so it is atomic per slot only.
    ///
    /// # Errors
    /// [`ErrorKind::Codec`](crate::ErrorKind::Codec) when a value does not encode (nothing is sent
    /// then); the first failing part's error (other parts may be written).
    pub async fn mset<K: AsRef<[u8]>, V: Serialize>(&self, pairs: &[(K, V)]) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let encoded: Vec<Vec<u8>> = pairs
            .iter()
            .map(|(_, v)| self.codec.encode(v))
            .collect::<Result<_>>()?;
        let groups = self
            .router
            .group_by_slot(pairs.iter().map(|(k, _)| k.as_ref()));
        let cmds: Vec<Command> = groups
            .iter()
            .map(|(route, members)| {
                let mut args: Vec<&[u8]> = vec![b"MSET"];
                for &i in members {
                    args.push(pairs[i].0.as_ref());
                    args.push(&encoded[i]);
                }
                Command::raw(&args, *route).idempotent()
            })
            .collect();
        for reply in self.run_all(&cmds).await {
            reply?;
        }
        Ok(())
    }

    /// One command through [`Router::run`], several through
    /// [`Router::run_batch`].
    async fn run_all(&self, cmds: &[Command]) -> Vec<Result<Value>> {
        let deadline = self.deadline();
        match cmds {
            [one] => vec![self.router.run(one, deadline).await],
            many => self.router.run_batch(many, deadline).await,
        }
    }

    /// A multi-key command whose reply is a count (DEL), split by slot and
    /// summed.
    async fn sum_by_slot<K: AsRef<[u8]>>(&self, name: &[u8], keys: &[K]) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let groups = self.router.group_by_slot(keys.iter().map(AsRef::as_ref));
        let cmds: Vec<Command> = groups
            .iter()
            .map(|(route, members)| {
                let mut args: Vec<&[u8]> = vec![name];
                args.extend(members.iter().map(|&i| keys[i].as_ref()));
                Command::raw(&args, *route).idempotent()
            })
            .collect();
        let mut total = 0;
        for reply in self.run_all(&cmds).await {
            total += count(reply?, "DEL")?;
        }
        Ok(total)
    }
}
