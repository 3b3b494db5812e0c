//! Running commands to completion: one command through redirects and
//! retries ([`Router::run`]), or many at once with one write per node
//! ([`Router::run_batch`]), all within one deadline.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use tokio::time::{sleep, Instant};

use super::{Mode, Router};
use crate::command::{concat, Command};
use crate::error::{Error, ErrorKind, Result};
use crate::resp::Value;

/// Shortest pause before retrying after `TRYAGAIN`, `CLUSTERDOWN` or an
/// unreachable node.
const RETRY_PAUSE_MIN: Duration = Duration::from_millis(10);
/// Longest such pause.
const RETRY_PAUSE_MAX: Duration = Duration::from_millis(200);
/// Attempts of one request at most, whatever its deadline.
const MAX_ATTEMPTS: u32 = 64;

/// Where a redirect sends a command next.
#[derive(Debug, Clone)]
struct Redirect {
    addr: Arc<str>,
    /// `ASK` (send `ASKING` first) rather than `MOVED`.
    asking: bool,
}

impl Router {
    /// Sends `cmd` to `addr` (after `ASKING` when `asking`); error replies
    /// become errors.
    async fn send_one(
        &self,
        addr: &Arc<str>,
        cmd: &Command,
        asking: bool,
        deadline: Instant,
    ) -> Result<Value> {
        let conn = self.connection(addr);
        let mut replies = if asking {
            let asking_frame = Bytes::from_static(b"*1\r\n$6\r\nASKING\r\n");
            conn.send(concat(&[&asking_frame, &cmd.frame]), 2, deadline)
                .await?
        } else {
            conn.send(cmd.frame.clone(), 1, deadline).await?
        };
        match replies.pop() {
            Some(Value::Error(line)) => Err(Error::from_reply(&line)),
            Some(value) => Ok(value),
            None => Err(Error::protocol("no reply")),
        }
    }

    /// Runs one command to completion: routes it, follows redirects, and
    /// retries what may succeed later, all before `deadline`.
    pub(crate) async fn run(&self, cmd: &Command, deadline: Instant) -> Result<Value> {
        self.run_from(cmd, deadline, None).await
    }

    /// [`Router::run`], starting with a redirect already received.
    async fn run_from(
        &self,
        cmd: &Command,
        deadline: Instant,
        mut redirect: Option<Redirect>,
    ) -> Result<Value> {
        let cluster = self.mode() == Mode::Cluster;
        let mut redirects = 0u32;
        let mut failures = 0u32;
        let mut prefer_primary = false;
        // The failure being retried: a retry cut short by the deadline
        // reports it (CLUSTERDOWN, TRYAGAIN), not the timeout.
        let mut retrying: Option<Error> = None;
        loop {
            let sent = match redirect.take() {
                Some(to) => self.send_one(&to.addr, cmd, to.asking, deadline).await,
                None => match self.target(cmd, prefer_primary) {
                    Ok(addr) => self.send_one(&addr, cmd, false, deadline).await,
                    Err(e) => Err(e),
                },
            };
            let error = match (sent, retrying.take()) {
                (Ok(value), _) => return Ok(value),
                (Err(error), Some(before)) if *error.kind() == ErrorKind::Timeout => {
                    return Err(before)
                }
                (Err(error), _) => error,
            };
            if cluster && is_redirect(&error) {
                if redirects >= self.config.max_redirects {
                    return Err(error);
                }
                redirects += 1;
                redirect = self.redirect_of(&error);
                if redirect.as_ref().is_some_and(|to| !to.asking) {
                    self.want_refresh();
                }
                continue;
            }
            match error.kind() {
                ErrorKind::TryAgain | ErrorKind::ClusterDown | ErrorKind::Io => {}
                ErrorKind::ConnectionDropped if cmd.idempotent => {}
                _ => return Err(error),
            }
            self.want_refresh();
            prefer_primary = true;
            failures += 1;
            let pause = retry_pause(failures);
            if failures >= MAX_ATTEMPTS || Instant::now() + pause >= deadline {
                return Err(error);
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            sleep(pause).await;
            retrying = Some(error);
        }
    }

    /// Runs many commands: one write per node (commands grouped by target,
    /// the nodes in parallel), then [`Router::run`] for each command whose
    /// reply was a redirect or a retryable failure. Results are in the order
    /// of `cmds`.
    pub(crate) async fn run_batch(
        &self,
        cmds: &[Command],
        deadline: Instant,
    ) -> Vec<Result<Value>> {
        let mut results: Vec<Option<Result<Value>>> = vec![None; cmds.len()];
        let (groups, mut again) = self.group_by_target(cmds);
        let sends = groups.iter().map(|(addr, members)| {
            let frames: Vec<&Bytes> = members.iter().map(|&i| &cmds[i].frame).collect();
            let frames = concat(&frames);
            let conn = self.connection(addr);
            let count = members.len();
            async move { conn.send(frames, count, deadline).await }
        });
        let replies = join_all(sends).await;
        for ((_, members), reply) in groups.iter().zip(replies) {
            self.sort_replies(cmds, members, reply, &mut results, &mut again);
        }
        if !again.is_empty() {
            self.want_refresh();
            let retried = join_all(
                again
                    .iter()
                    .map(|(i, redirect)| self.run_from(&cmds[*i], deadline, redirect.clone())),
            )
            .await;
            for ((i, _), result) in again.iter().zip(retried) {
                results[*i] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::protocol("command left without a result"))))
            .collect()
    }

    /// The commands grouped by the node each goes to now (in order of first
    /// appearance), and those no node serves now, to run again.
    fn group_by_target(&self, cmds: &[Command]) -> (Vec<Group>, Vec<Again>) {
        let mut groups: Vec<Group> = Vec::new();
        let mut again = Vec::new();
        for (i, cmd) in cmds.iter().enumerate() {
            match self.target(cmd, false) {
                Ok(addr) => match groups.iter_mut().find(|(a, _)| *a == addr) {
                    Some((_, members)) => members.push(i),
                    None => groups.push((addr, vec![i])),
                },
                Err(_) => again.push((i, None)),
            }
        }
        (groups, again)
    }

    /// Files one node's replies to the batch's commands `members`: each
    /// becomes its command's result, or the command is to run again (after
    /// a redirect, a retryable error reply, or a connection failure that
    /// allows a resend).
    fn sort_replies(
        &self,
        cmds: &[Command],
        members: &[usize],
        reply: Result<Vec<Value>>,
        results: &mut [Option<Result<Value>>],
        again: &mut Vec<Again>,
    ) {
        let cluster = self.mode() == Mode::Cluster;
        match reply {
            Ok(values) if values.len() == members.len() => {
                for (&i, value) in members.iter().zip(values) {
                    let Value::Error(line) = value else {
                        results[i] = Some(Ok(value));
                        continue;
                    };
                    let error = Error::from_reply(&line);
                    if cluster && is_redirect(&error) {
                        again.push((i, self.redirect_of(&error)));
                        continue;
                    }
                    match error.kind() {
                        ErrorKind::TryAgain | ErrorKind::ClusterDown => again.push((i, None)),
                        _ => results[i] = Some(Err(error)),
                    }
                }
            }
            Ok(_) => {
                for &i in members {
                    results[i] = Some(Err(Error::protocol("reply count does not match")));
                }
            }
            Err(error) => {
                for &i in members {
                    let retry = error.was_not_sent()
                        || (error.kind() == &ErrorKind::ConnectionDropped && cmds[i].idempotent);
                    if retry && error.kind() != &ErrorKind::Overloaded {
                        again.push((i, None));
                    } else {
                        results[i] = Some(Err(error.clone()));
                    }
                }
            }
        }
    }

    /// Where a `MOVED` or `ASK` error sends its command, counted.
    fn redirect_of(&self, error: &Error) -> Option<Redirect> {
        let (addr, asking) = match error.kind() {
            ErrorKind::Moved { addr, .. } => (addr, false),
            ErrorKind::Ask { addr, .. } => (addr, true),
            _ => return None,
        };
        let counter = if asking {
            &self.counters.asked
        } else {
            &self.counters.moved
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Some(Redirect {
            addr: Arc::from(addr.as_str()),
            asking,
        })
    }
}

/// A node and the batch's commands (indexes) it gets.
type Group = (Arc<str>, Vec<usize>);

/// A batch's command to run again, with the redirect to follow first.
type Again = (usize, Option<Redirect>);

/// `MOVED` or `ASK`.
fn is_redirect(error: &Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Moved { .. } | ErrorKind::Ask { .. }
    )
}

/// The pause before retry number `failures`: doubling from
/// [`RETRY_PAUSE_MIN`] to [`RETRY_PAUSE_MAX`], with jitter.
fn retry_pause(failures: u32) -> Duration {
    let full = RETRY_PAUSE_MIN
        .saturating_mul(1 << failures.saturating_sub(1).min(8))
        .min(RETRY_PAUSE_MAX);
    full.mul_f64(0.5 + fastrand::f64() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_pause_grows_and_is_capped() {
        assert!(retry_pause(1) <= RETRY_PAUSE_MIN);
        assert!(retry_pause(30) <= RETRY_PAUSE_MAX);
        assert!(retry_pause(30) >= RETRY_PAUSE_MAX / 2);
    }
}
