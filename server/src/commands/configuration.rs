//! CONFIG GET, SET and RESETSTAT, over the parameter table
//! (`crate::config::params`).

use super::spec::flag_sets::{ADMIN, LS};
use super::spec::{CommandSpec as Cmd, Routing};
use super::subcommands::SubSpec as Sub;
use super::{Ctx, Outcome};
use tokio::net::TcpListener;

use crate::config::{Config, Effect, Param, SetError};
use crate::protocol::Args;
use crate::state::NodeState;
use crate::tls::port::PortSlot;

/// This family's section of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[Cmd] = &[
    Cmd::new("config", super::container, -2, LS, "server", "A container for server configuration commands.").routing(Routing::ThisNode).redact(config_redacts).subcommands(&[
        Sub::new("get", get, -3, ADMIN, &["GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values."]),
        Sub::new("set", set, -4, ADMIN, &["SET <directive> <value>", "    Set the configuration <directive> to <value>."]),
        Sub::new("resetstat", resetstat, 2, ADMIN, &["RESETSTAT", "    Reset statistics reported by the INFO command."]),
    ]),
];

/// CONFIG SET's value of a sensitive parameter (a password, the cluster
/// secret) is secret.
fn config_redacts(args: Args<'_>, position: usize) -> bool {
    let is_set = args
        .try_get(1)
        .is_some_and(|sub| sub.eq_ignore_ascii_case(b"set"));
    is_set
        && position >= 3
        && position % 2 == 1
        && crate::config::is_sensitive(args.get(position - 1))
}

/// CONFIG GET: every parameter whose name matches one of `patterns`
/// (any case, glob); a pattern without glob characters also finds aliases.
fn config_get(node: &NodeState, patterns: &[Vec<u8>]) -> Vec<(String, String)> {
    let config = node.config.read();
    let mut found: Vec<(String, String)> = Vec::new();
    for pattern in patterns {
        let exact = !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        for (param, value) in config.values() {
            let name = if exact {
                let asked = String::from_utf8_lossy(pattern);
                if !param.is_named(&asked) {
                    continue;
                }
                asked.to_ascii_lowercase()
            } else if crate::glob::matches_nocase(pattern, param.name.as_bytes()) {
                param.name.to_string()
            } else {
                continue;
            };
            if !found.iter().any(|(n, _)| *n == name) {
                found.push((name, value));
            }
        }
    }
    found
}

/// Applies CONFIG SET for every `(name, value)` pair, all or nothing as in
/// Redis 7: the pairs are checked against a copy of the configuration and
/// the node changes only when every one of them is valid, so a bad pair
/// late in the list cannot leave the earlier ones half applied. Returns
/// what the change reached.
fn config_set_all(node: &NodeState, pairs: &[(String, String)]) -> Result<Vec<Effect>, String> {
    let mut config = node.config.write();
    let mut next = config.clone();
    let mut changed: Vec<&'static Param> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        let param = next.set_at_runtime(name, value).map_err(|e| match e {
            SetError::Unknown => {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            }
            SetError::Immutable => set_failed(name, "can't set immutable config"),
            SetError::Invalid(why) => set_failed(name, &why),
        })?;
        if changed.iter().any(|p| std::ptr::eq(*p, param)) {
            return Err(set_failed(name, "duplicate parameter"));
        }
        changed.push(param);
    }
    if let Err(why) = next.validate() {
        let name = pairs.first().map_or("", |(n, _)| n.as_str());
        return Err(set_failed(name, &why));
    }
    let effects: Vec<Effect> = changed.iter().map(|p| p.effect).collect();
    // Bound before anything changes: a port that cannot be bound leaves
    // the node as it was, its old TLS port still served.
    let tls_port = if effects.contains(&Effect::TlsPort) {
        bind_tls_port(&config, &next).map_err(|why| set_failed("tls-port", &why))?
    } else {
        None
    };
    let first_tls_port =
        tls_port.as_ref().is_some_and(Option::is_some) && node.tls.acceptor().is_none();
    if effects.contains(&Effect::Tls) || first_tls_port {
        // New connections take the new files; a change that does not load
        // is refused whole and the files in force stay.
        node.tls.reload(&next.tls).map_err(|why| {
            let name = changed
                .iter()
                .find(|p| p.effect == Effect::Tls)
                .map_or("tls-port", |p| p.name);
            set_failed(name, &format!("Unable to update TLS configuration: {why}"))
        })?;
    }
    if let Some(listener) = tls_port {
        node.tls.port.replace(listener);
    }
    node.apply_config(&next, &effects);
    *config = next;
    node.config_version
        .fetch_add(1, std::sync::atomic::Ordering::Release);
    Ok(effects)
}

/// The listener of a new `tls-port` (`Some(None)`: stop serving TLS), or
/// None when the port stays the same.
///
/// # Errors
/// The port cannot change here or cannot be bound (Redis's words; the
/// cause is logged).
fn bind_tls_port(now: &Config, next: &Config) -> Result<Option<Option<TcpListener>>, String> {
    if next.tls.port == now.tls.port {
        return Ok(None);
    }
    if next.cluster_enabled && (next.tls.cluster || next.port == 0) {
        return Err(
            "the cluster reaches this node at its TLS port: it cannot change while the node runs"
                .into(),
        );
    }
    let Some(port) = next.tls.port else {
        if next.port == 0 {
            return Err(
                "the node serves TLS only (port 0): tls-port 0 would leave it no port".into(),
            );
        }
        return Ok(Some(None));
    };
    let addr = std::net::SocketAddr::new(next.bind, port);
    match PortSlot::bind(addr) {
        Ok(listener) => Ok(Some(Some(listener))),
        Err(e) => {
            tracing::warn!(%addr, error = %e, "CONFIG SET tls-port: cannot listen");
            Err("Unable to listen on this port. Check server logs.".into())
        }
    }
}

/// Redis's wording for a CONFIG SET parameter that was refused.
fn set_failed(name: &str, why: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
}

/// CONFIG GET pattern [pattern ...]
fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    let patterns: Vec<Vec<u8>> = args.iter_from(2).map(|p| p.to_ascii_lowercase()).collect();
    let matched = config_get(ctx.node, &patterns);
    ctx.reply.map(matched.len());
    for (name, value) in matched {
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.bulk(value.as_bytes());
    }
    Outcome::Unchanged
}

/// CONFIG SET name value [name value ...]
fn set(ctx: &mut Ctx<'_>, args: Args<'_>) -> Outcome {
    if !args.len().is_multiple_of(2) {
        return ctx.fail("ERR wrong number of arguments for 'config|set' command");
    }
    let pairs: Vec<(String, String)> = (2..args.len())
        .step_by(2)
        .map(|i| {
            let name = String::from_utf8_lossy(args.get(i)).to_ascii_lowercase();
            (name, String::from_utf8_lossy(args.get(i + 1)).into_owned())
        })
        .collect();
    match config_set_all(ctx.node, &pairs) {
        // requirepass is the `default` user's password, and the user set
        // is one per cluster: the change reaches every node as ACL
        // SETUSER default would (as its SHA-256 digest only).
        Ok(effects) if effects.contains(&Effect::Password) => {
            super::acl_sync::changed(ctx, super::acl_sync::Answer::Ok)
        }
        Ok(_) => {
            ctx.reply.ok();
            Outcome::Unchanged
        }
        Err(e) => ctx.fail(&e),
    }
}

/// CONFIG RESETSTAT
fn resetstat(ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
    ctx.node.stats.reset();
    ctx.store.reset_stats();
    ctx.node.slowlog.reset();
    super::statistics::stats(ctx.node).reset();
    ctx.node.error_stats.reset();
    ctx.reply.ok();
    Outcome::Unchanged
}
