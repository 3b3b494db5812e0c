//! `redis://[[user]:password@]host[:port][,host:port...][/0]` URLs as
//! [`ClientConfig`]s: the seed nodes, the user and password the client
//! sends with `AUTH` on every connection, and `rediss://` for TLS.

use super::ClientConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::tls::TlsOptions;

/// The port a URL without one means (Redis's).
const DEFAULT_PORT: u16 = 6379;

impl ClientConfig {
    /// A configuration with the defaults and what `url` gives: seed
    /// nodes, user name and password (percent-encoded in the URL, as
    /// redis-rs and redis-cli take them). `rediss://` speaks TLS trusting
    /// the system's root certificates; for a private CA or a client
    /// certificate use [`ClientConfig::from_url_with_tls`].
    ///
    /// ```
    /// use ringcache_client::ClientConfig;
    ///
    /// let config = ClientConfig::from_url("redis://app:s%40cret@10.0.0.1:7000").unwrap();
    /// assert_eq!(config.nodes, ["10.0.0.1:7000"]);
    /// assert_eq!(config.username.as_deref(), Some("app"));
    /// assert_eq!(config.password.as_deref(), Some("s@cret"));
    /// assert!(config.tls.is_none());
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for another scheme, a bad port, a bad
    /// percent escape, a database other than 0, or (for `rediss://`) no
    /// system root certificate.
    pub fn from_url(url: &str) -> Result<ClientConfig> {
        let (mut config, tls) = parse(url)?;
        if tls {
            config.tls = Some(TlsOptions::system_roots(None)?);
        }
        Ok(config)
    }

    /// As [`ClientConfig::from_url`] for a `rediss://` URL, speaking TLS
    /// as `tls` says (its CA, its client certificate).
    ///
    /// # Errors
    /// As [`ClientConfig::from_url`], and a `redis://` URL (TLS options
    /// for a plain connection are a mistake).
    pub fn from_url_with_tls(url: &str, tls: TlsOptions) -> Result<ClientConfig> {
        let (mut config, is_tls) = parse(url)?;
        if !is_tls {
            return Err(bad(url, "TLS options need a rediss:// URL"));
        }
        config.tls = Some(tls);
        Ok(config)
    }
}

/// A configuration error naming `url` with its password hidden.
fn bad(url: &str, why: &str) -> Error {
    Error::new(ErrorKind::Config, format!("{why}: {}", redacted(url)))
}

/// The URL's configuration, and whether it asks for TLS (`rediss://`).
fn parse(url: &str) -> Result<(ClientConfig, bool)> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad(url, "not a redis:// or rediss:// URL"))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "redis" => false,
        "rediss" => true,
        _ => return Err(bad(url, "not a redis:// or rediss:// URL")),
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !matches!(path, "" | "0") {
        return Err(bad(url, "a cluster serves database 0 only"));
    }
    let (credentials, hosts) = match authority.rsplit_once('@') {
        Some((credentials, hosts)) => (Some(credentials), hosts),
        None => (None, authority),
    };
    let mut config = ClientConfig::default();
    if let Some(credentials) = credentials {
        let (user, password) = match credentials.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (credentials, None),
        };
        let decode = |text: &str| decode(text).ok_or_else(|| bad(url, "bad percent escape"));
        config.username = Some(decode(user)?).filter(|u| !u.is_empty());
        config.password = password.map(decode).transpose()?;
    }
    for host in hosts.split(',').filter(|h| !h.is_empty()) {
        config
            .nodes
            .push(with_port(host).ok_or_else(|| bad(url, "bad port"))?);
    }
    if config.nodes.is_empty() {
        return Err(bad(url, "no host"));
    }
    Ok((config, tls))
}

/// `host:port`, the default port added when none is given.
fn with_port(host: &str) -> Option<String> {
    // An IPv6 address is bracketed: its colons are not a port's.
    let port_at = host.rfind(':').filter(|&i| !host[i..].contains(']'));
    match port_at {
        Some(i) => host[i + 1..].parse::<u16>().ok().map(|_| host.to_string()),
        None => Some(format!("{host}:{DEFAULT_PORT}")),
    }
}

/// Percent-decodes `text` as UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The URL with its password hidden, for error messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:<redacted>{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_nodes_and_credentials() {
        let c =
            ClientConfig::from_url("redis://alice:p%3Aw@127.0.0.1:7000,127.0.0.1:7001/0").unwrap();
        assert_eq!(c.nodes, ["127.0.0.1:7000", "127.0.0.1:7001"]);
        assert_eq!(c.username.as_deref(), Some("alice"));
        assert_eq!(c.password.as_deref(), Some("p:w"));
        let c = ClientConfig::from_url("redis://:pw@localhost").unwrap();
        assert_eq!(c.nodes, ["localhost:6379"]);
        assert_eq!((c.username, c.password.as_deref()), (None, Some("pw")));
        let c = ClientConfig::from_url("redis://[::1]:7000").unwrap();
        assert_eq!(c.nodes, ["[::1]:7000"]);
        assert_eq!(c.password, None);
        for bad in [
            "http://a:1",
            "redis://a:x",
            "redis://a:1/3",
            "redis://u:%zz@a",
            "redis://",
        ] {
            let e = ClientConfig::from_url(bad).unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::Config, "{bad}");
        }
        let e = ClientConfig::from_url("redis://u:secret@a:x").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn rediss_asks_for_tls() {
        let (c, tls) = parse("rediss://cache").unwrap();
        assert_eq!(c.nodes, ["cache:6379"]);
        assert!(tls);
        let (_, tls) = parse("REDIS://cache:7000").unwrap();
        assert!(!tls);
    }
}
