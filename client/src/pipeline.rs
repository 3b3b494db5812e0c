//! Pipelines: many commands sent together. In a cluster the commands are
//! grouped by the node that serves them, each node gets one write, the
//! nodes are asked in parallel, and the replies come back in the order the
//! commands were queued. Commands answered with a redirect or a retryable
//! error are then run one by one with the usual redirects and retries.
//! A pipeline is not a transaction: other clients' commands may run between
//! its commands.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::client::{Client, SetOptions};
use crate::codec::Codec;
use crate::command::{route_raw, Command};
use crate::error::{Error, ErrorKind, Result};
use crate::resp::Value;

/// Commands queued to be sent together; from [`Client::pipeline`].
///
/// Replies are raw [`Value`]s; decode string replies with
/// [`Client::decode`].
///
/// ```no_run
/// # async fn demo(client: ringcache_client::Client) -> ringcache_client::Result<()> {
/// let mut pipeline = client.pipeline();
/// for i in 0..100 {
///     pipeline.get(format!("item:{i}"));
/// }
/// for reply in pipeline.execute().await {
///     let item: Option<String> = client.decode(reply?)?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Pipeline<C: Codec> {
    client: Client<C>,
    /// A command, or the codec error that kept it from being built.
    commands: Vec<Result<Command>>,
    timeout: Option<Duration>,
}

impl<C: Codec> Pipeline<C> {
    pub(crate) fn new(client: Client<C>) -> Pipeline<C> {
        Pipeline {
            client,
            commands: Vec::new(),
            timeout: None,
        }
    }

    /// Commands queued.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// The deadline of the whole pipeline (the client's `request_timeout`
    /// by default); big pipelines may need more.
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = Some(timeout);
        self
    }

    /// Queues any command, routed as [`Client::cmd`] routes it (and, like
    /// it, not resent after a broken connection).
    pub fn cmd(&mut self, args: &[&[u8]]) -> &mut Self {
        let command = if args.is_empty() {
            Err(Error::new(ErrorKind::Config, "empty command"))
        } else {
            Ok(Command::raw(args, route_raw(args)))
        };
        self.commands.push(command);
        self
    }

    /// Queues `GET key`; decode the reply with [`Client::decode`].
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.commands
            .push(Ok(Command::keyed(b"GET", key.as_ref(), &[]).read()));
        self
    }

    /// Queues `SET key value` with `options`; a value the codec cannot
    /// encode makes this command's result an error.
    pub fn set<V: Serialize + ?Sized>(
        &mut self,
        key: impl AsRef<[u8]>,
        value: &V,
        options: SetOptions,
    ) -> &mut Self {
        match self.client.codec().encode(value) {
            Ok(bytes) => self.set_bytes(key, &bytes, options),
            Err(e) => {
                self.commands.push(Err(e));
                self
            }
        }
    }

    /// Queues `SET key value` with raw bytes.
    pub fn set_bytes(
        &mut self,
        key: impl AsRef<[u8]>,
        value: &[u8],
        options: SetOptions,
    ) -> &mut Self {
        let words = options.words();
        let mut rest: Vec<&[u8]> = vec![value];
        rest.extend(words.iter().map(Vec::as_slice));
        self.commands
            .push(Ok(Command::keyed(b"SET", key.as_ref(), &rest)));
        self
    }

    /// Queues `DEL key`.
    pub fn del(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.commands
            .push(Ok(Command::keyed(b"DEL", key.as_ref(), &[])));
        self
    }

    /// Queues `PEXPIRE key ttl`.
    pub fn expire(&mut self, key: impl AsRef<[u8]>, ttl: Duration) -> &mut Self {
        let millis = u64::try_from(ttl.as_millis())
            .unwrap_or(u64::MAX)
            .to_string();
        self.commands.push(Ok(Command::keyed(
            b"PEXPIRE",
            key.as_ref(),
            &[millis.as_bytes()],
        )));
        self
    }

    /// Queues `INCRBY key by` (not resent after a broken connection).
    pub fn incr(&mut self, key: impl AsRef<[u8]>, by: i64) -> &mut Self {
        let by = by.to_string();
        self.commands.push(Ok(Command::keyed(
            b"INCRBY",
            key.as_ref(),
            &[by.as_bytes()],
        )
        .not_idempotent()));
        self
    }

    /// Queues `HSET key field value` with an encoded value.
    pub fn hset<V: Serialize + ?Sized>(
        &mut self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        value: &V,
    ) -> &mut Self {
        let command = self
            .client
            .codec()
            .encode(value)
            .map(|bytes| Command::keyed(b"HSET", key.as_ref(), &[field.as_ref(), &bytes]));
        self.commands.push(command);
        self
    }

    /// Queues `HGET key field`.
    pub fn hget(&mut self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> &mut Self {
        self.commands.push(Ok(
            Command::keyed(b"HGET", key.as_ref(), &[field.as_ref()]).read()
        ));
        self
    }

    /// Sends everything; one result per command, in queue order. Error
    /// replies are classified errors ([`ErrorKind`]). The pipeline stays
    /// usable (it can be sent again).
    pub async fn execute(&self) -> Vec<Result<Value>> {
        let router = self.client.router();
        let timeout = self.timeout.unwrap_or(router.config().request_timeout);
        let deadline = Instant::now() + timeout;
        let ready: Vec<Command> = self
            .commands
            .iter()
            .filter_map(|c| c.as_ref().ok().cloned())
            .collect();
        let mut replies = match ready.as_slice() {
            [] => Vec::new(),
            [one] => vec![router.run(one, deadline).await],
            many => router.run_batch(many, deadline).await,
        }
        .into_iter();
        self.commands
            .iter()
            .map(|command| match command {
                Ok(_) => replies
                    .next()
                    .unwrap_or_else(|| Err(Error::protocol("missing pipeline reply"))),
                Err(e) => Err(e.clone()),
            })
            .collect()
    }

    /// Sends everything, as [`Pipeline::execute`], and returns the replies
    /// when all succeeded.
    ///
    /// # Errors
    /// The first failed command's error (the others ran all the same).
    pub async fn query(&self) -> Result<Vec<Value>> {
        self.execute().await.into_iter().collect()
    }
}
