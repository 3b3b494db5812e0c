//! [`ClientConfig`]: how a [`Client`](crate::Client) reaches the
//! deployment and how patient it is, with its defaults.

use std::fmt;
use std::time::Duration;

use crate::connection::ConnectionOptions;
use crate::tls::TlsOptions;

/// Default [`ClientConfig::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// Default [`ClientConfig::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default [`ClientConfig::max_redirects`].
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;
/// Default [`ClientConfig::refresh_interval`].
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
/// Default [`ClientConfig::queue_capacity`].
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;
/// Default [`ClientConfig::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4096;

/// How to reach the deployment and how patient to be.
///
/// ```
/// use std::time::Duration;
/// use ringcache_client::ClientConfig;
///
/// let config = ClientConfig {
///     request_timeout: Duration::from_millis(250),
///     ..ClientConfig::new(["127.0.0.1:7000", "127.0.0.1:7001"])
/// };
/// assert_eq!(config.pool_size, 1);
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    /// Seed nodes, `host:port`. Any one answering is enough; in a cluster
    /// the others are learned from it.
    pub nodes: Vec<String>,
    /// `AUTH` user name (ACL), with `password`.
    pub username: Option<String>,
    /// `AUTH` password, sent on every new connection.
    pub password: Option<String>,
    /// Total time one call may take, redirects and retries included.
    pub request_timeout: Duration,
    /// Time one TCP connect plus handshake may take.
    pub connect_timeout: Duration,
    /// Connections per node, used round-robin (at least 1).
    pub pool_size: usize,
    /// In a cluster, send reads to a replica of the key's slot (over
    /// `READONLY` connections); they may be slightly stale.
    pub read_from_replicas: bool,
    /// `MOVED`/`ASK` redirects one request follows at most.
    pub max_redirects: u32,
    /// How often the slot map is refreshed when nothing asks for it.
    pub refresh_interval: Duration,
    /// Requests queued per connection before new ones are shed with
    /// [`ErrorKind::Overloaded`](crate::ErrorKind::Overloaded).
    pub queue_capacity: usize,
    /// Commands in flight per connection at most.
    pub max_in_flight: usize,
    /// Speak TLS to every node (`rediss://`): the CA to trust and the
    /// client certificate to present; `None` for plain TCP.
    pub tls: Option<TlsOptions>,
}

impl ClientConfig {
    /// Defaults for everything but the seed nodes.
    pub fn new<I, S>(nodes: I) -> ClientConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ClientConfig {
            nodes: nodes.into_iter().map(Into::into).collect(),
            ..ClientConfig::default()
        }
    }
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            nodes: Vec::new(),
            username: None,
            password: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            pool_size: 1,
            read_from_replicas: false,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            tls: None,
        }
    }
}

impl From<&ClientConfig> for ConnectionOptions {
    /// The settings of the client's connections (not `READONLY`; the
    /// router turns it on for replica reads).
    fn from(config: &ClientConfig) -> ConnectionOptions {
        ConnectionOptions {
            username: config.username.clone(),
            password: config.password.clone(),
            readonly: false,
            connect_timeout: config.connect_timeout,
            tls: config.tls.clone(),
            queue_capacity: config.queue_capacity,
            max_in_flight: config.max_in_flight,
            // Grace past a request's deadline before the link counts as
            // dead: one more request timeout, at least half a second.
            stale_after: config.request_timeout.max(Duration::from_millis(500)),
            listener: None,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("nodes", &self.nodes)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_size", &self.pool_size)
            .field("read_from_replicas", &self.read_from_replicas)
            .field("max_redirects", &self.max_redirects)
            .field("refresh_interval", &self.refresh_interval)
            .field("queue_capacity", &self.queue_capacity)
            .field("max_in_flight", &self.max_in_flight)
            .field("tls", &self.tls)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_not_printed() {
        let config = ClientConfig {
            password: Some("hunter2".into()),
            ..ClientConfig::new(["a:1"])
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
