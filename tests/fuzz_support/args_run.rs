//! The argument family: random argument vectors for every command of the
//! table, sent in pipelined batches through the real dispatcher of an
//! in-process node. After every batch: the node is alive, no panic was
//! recorded, and PING is answered. Configuration changed by a batch is put
//! back from a second connection, so every batch starts from the same
//! settings (and from whatever keys earlier batches left, which is the
//! point: types collide).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ringcache_server::config::{Scope, PARAMS};

use crate::common::random::{mix, Gen};
use crate::common::wire::{escape_short, Frame};

use super::commands;
use super::session::{BatchResult, Fault, Session};
use super::shrink::shrink;
use super::target::Target;

/// Whether a parameter CONFIG GET shows is restored after a batch that
/// changed the configuration: every one CONFIG SET may change.
fn restored(name: &[u8]) -> bool {
    let name = String::from_utf8_lossy(name);
    PARAMS
        .iter()
        .any(|p| p.scope == Scope::Runtime && p.is_named(&name))
}

/// What a run did.
#[derive(Debug, Default)]
pub struct ArgsReport {
    /// Requests answered.
    pub cases: u64,
    /// Batches sent.
    pub batches: u64,
    /// Batches that ended with the node closing the connection on request
    /// (QUIT, CLIENT KILL).
    pub closes: u64,
    /// Per command: (requests, replies that were not errors).
    pub per_command: BTreeMap<String, (u64, u64)>,
    /// Wall time.
    pub elapsed: Duration,
}

/// A configuration parameter and its value.
type Setting = (Vec<u8>, Vec<u8>);

/// The fuzzer's state between batches.
struct Runner<'a> {
    node: &'a dyn Target,
    worker: Option<Session>,
    control: Option<Session>,
    baseline: Vec<Setting>,
}

/// Runs `cases` requests in batches of `batch` from `seed`.
///
/// # Errors
/// The first failure, shrunk, with what is needed to replay it.
pub fn run(node: &dyn Target, seed: u64, cases: u64, batch: usize) -> Result<ArgsReport, String> {
    let started = Instant::now();
    let mut runner = Runner {
        node,
        worker: None,
        control: None,
        baseline: Vec::new(),
    };
    runner.baseline = runner.read_baseline()?;
    let mut report = ArgsReport::default();
    let mut index = 0u64;
    while report.cases < cases {
        let batch_seed = mix(seed, index);
        let mut g = Gen::new(batch_seed);
        let size = batch.min((cases - report.cases) as usize).max(1);
        let mut argvs: Vec<Vec<Vec<u8>>> = Vec::with_capacity(size);
        while argvs.len() < size {
            let argv = commands::argv(&mut g);
            let last = commands::may_close(&argv);
            argvs.push(argv);
            if last {
                break;
            }
        }
        let panics_before = node.panics();
        let result = runner.batch(&argvs);
        count(&mut report, &argvs, &result);
        let failure = runner
            .check(&argvs, &result, panics_before)
            .map(|(at, fault)| runner.explain(seed, index, batch_seed, &argvs, at, fault));
        if let Some(text) = failure {
            return Err(text);
        }
        report.batches += 1;
        index += 1;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

fn count(report: &mut ArgsReport, argvs: &[Vec<Vec<u8>>], result: &BatchResult) {
    report.cases += result.replies.len() as u64;
    let closing = argvs.last().is_some_and(|argv| commands::may_close(argv));
    report.closes += u64::from(result.closed || (closing && result.replies.len() == argvs.len()));
    for (argv, reply) in argvs.iter().zip(&result.replies) {
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        let known = ringcache_server::commands::lookup(name.as_bytes()).is_some();
        let entry = report
            .per_command
            .entry(if known { name } else { "(unknown)".into() })
            .or_default();
        entry.0 += 1;
        entry.1 += u64::from(!reply.is_error());
    }
}

/// True for a CLIENT KILL request.
fn is_client_kill(argv: &[Vec<u8>]) -> bool {
    argv.first()
        .is_some_and(|a| a.eq_ignore_ascii_case(b"client"))
        && argv.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"kill"))
}

impl Runner<'_> {
    fn session(&self) -> Result<Session, String> {
        Session::connect(self.node.addr()).map_err(|e| format!("cannot connect to the node: {e}"))
    }

    /// The values of the restored parameters at the start.
    fn read_baseline(&mut self) -> Result<Vec<Setting>, String> {
        let mut control = self.session()?;
        let result = control.run(&[vec![b"CONFIG".to_vec(), b"GET".to_vec(), b"*".to_vec()]]);
        let pairs = match result.replies.first() {
            Some(Frame::Array(items)) => items
                .chunks(2)
                .filter_map(|p| Some((p[0].bytes()?.to_vec(), p.get(1)?.bytes()?.to_vec())))
                .collect::<Vec<_>>(),
            other => return Err(format!("CONFIG GET * answered {other:?}")),
        };
        self.control = Some(control);
        Ok(pairs
            .into_iter()
            .filter(|(name, _)| restored(name))
            .collect())
    }

    fn batch(&mut self, argvs: &[Vec<Vec<u8>>]) -> BatchResult {
        let mut worker = match self.worker.take() {
            Some(w) => w,
            None => match self.session() {
                Ok(w) => w,
                Err(e) => {
                    return BatchResult {
                        replies: Vec::new(),
                        closed: false,
                        fault: Some((0, Fault::Io(e))),
                    }
                }
            },
        };
        let result = worker.run(argvs);
        // A node may close a connection after ten failed AUTH attempts; a
        // fresh one well before that keeps every close explained.
        let closing = argvs.last().is_some_and(|argv| commands::may_close(argv));
        // RCPEER makes a connection a peer link, whose requests are never
        // routed: a fresh connection keeps the next batch going through
        // the router.
        let peer = argvs
            .iter()
            .any(|argv| argv[0].eq_ignore_ascii_case(b"rcpeer"));
        // CLIENT KILL may end the harness's other connections too (SKIPME
        // NO, LADDR): every connection is then made anew.
        let kills = argvs.iter().any(|argv| is_client_kill(argv));
        if kills {
            self.control = None;
        }
        if !result.closed
            && result.fault.is_none()
            && worker.auth_failures < 5
            && !closing
            && !peer
            && !kills
        {
            self.worker = Some(worker);
        }
        result
    }

    /// Checks a batch and puts the node back in shape for the next one;
    /// the failing request and its fault, if any.
    fn check(
        &mut self,
        argvs: &[Vec<Vec<u8>>],
        result: &BatchResult,
        panics_before: usize,
    ) -> Option<(usize, Fault)> {
        if let Some(fault) = &result.fault {
            return Some(fault.clone());
        }
        let last = result.replies.len().saturating_sub(1);
        if self.node.panics() != panics_before {
            let text = self.node.panic_messages(panics_before).join("\n");
            return Some((last, Fault::Internal(format!("panic in the node: {text}"))));
        }
        if !self.node.alive() {
            return Some((last, Fault::Closed));
        }
        if let Err(e) = self.restore(argvs, result) {
            return Some((last, Fault::Io(e)));
        }
        match self.ping() {
            Ok(()) => None,
            Err(e) => Some((last, Fault::Io(format!("PING after the batch: {e}")))),
        }
    }

    /// PING on the worker connection (a fresh one if it was closed) must
    /// answer PONG.
    fn ping(&mut self) -> Result<(), String> {
        let mut worker = match self.worker.take() {
            Some(w) => w,
            None => self.session()?,
        };
        match worker.ping() {
            Ok(Frame::Simple(s)) if s == b"PONG" => {
                self.worker = Some(worker);
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }
    }

    /// Restores the configuration when the batch changed it, from the
    /// control connection (a new one if the batch killed it).
    fn restore(&mut self, argvs: &[Vec<Vec<u8>>], result: &BatchResult) -> Result<(), String> {
        let touched = argvs.iter().zip(&result.replies).any(|(argv, reply)| {
            let is = |i: usize, w: &str| {
                argv.get(i)
                    .is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()))
            };
            (is(0, "config") && is(1, "set") && *reply == Frame::Simple(b"OK".to_vec()))
                || (is(0, "client") && is(1, "kill") && !reply.is_error())
        });
        if !touched {
            return Ok(());
        }
        let commands: Vec<Vec<Vec<u8>>> = self
            .baseline
            .iter()
            .map(|(name, value)| {
                vec![
                    b"CONFIG".to_vec(),
                    b"SET".to_vec(),
                    name.clone(),
                    value.clone(),
                ]
            })
            .collect();
        for _ in 0..2 {
            let mut control = match self.control.take() {
                Some(c) => c,
                None => self.session()?,
            };
            let result = control.run(&commands);
            if result.fault.is_some() || result.closed {
                // Killed by the batch: once more on a new connection.
                continue;
            }
            if let Some(bad) = result
                .replies
                .iter()
                .find(|r| **r != Frame::Simple(b"OK".to_vec()))
            {
                return Err(format!("restoring the configuration: {bad:?}"));
            }
            self.control = Some(control);
            return Ok(());
        }
        Err("cannot restore the configuration".into())
    }

    /// Shrinks a failing batch and describes it for a replay.
    fn explain(
        &mut self,
        seed: u64,
        index: u64,
        batch_seed: u64,
        argvs: &[Vec<Vec<u8>>],
        at: usize,
        fault: Fault,
    ) -> String {
        let kind = fault.kind();
        let prefix: Vec<Vec<Vec<u8>>> = argvs[..(at + 1).min(argvs.len())].to_vec();
        let stuck = matches!(fault, Fault::Stuck(_));
        let minimal = if stuck || !self.node.alive() {
            // A stuck node cannot run more attempts.
            vec![argvs[at.min(argvs.len() - 1)].clone()]
        } else {
            shrink(prefix, 300, |candidate| {
                self.fails_alone(candidate) == Some(kind)
            })
        };
        let mut text = format!(
            "argument fuzz failed: {kind} at request {at} of batch {index} \
             (RINGCACHE_FUZZ_SEED={seed}, batch seed {batch_seed})\n  fault: {fault:?}\n  \
             failing request: {}\n  minimal sequence on a fresh connection ({} requests):\n",
            show_argv(&argvs[at.min(argvs.len() - 1)]),
            minimal.len()
        );
        for argv in &minimal {
            text.push_str(&format!("    {}\n", show_argv(argv)));
        }
        let words = self.node.last_words();
        if !words.is_empty() {
            let state = if self.node.alive() {
                "running"
            } else {
                "stopped"
            };
            text.push_str(&format!("  the node ({state}) last logged:\n"));
            for line in words {
                text.push_str(&format!("    {line}\n"));
            }
        }
        let panics = self.node.panic_messages(0);
        if let Some(first) = panics.first() {
            text.push_str(&format!("  {} panics, the first: {first}\n", panics.len()));
        }
        text.push_str("  the requests after it in the batch:\n");
        for argv in argvs.iter().skip(at + 1).take(8) {
            text.push_str(&format!("    {}\n", show_argv(argv)));
        }
        text
    }

    /// Runs `batch` on a fresh connection after FLUSHALL; the kind of
    /// fault it hits, if any.
    fn fails_alone(&mut self, batch: &[Vec<Vec<u8>>]) -> Option<&'static str> {
        let mut control = self.session().ok()?;
        control.run(&[vec![b"FLUSHALL".to_vec()]]);
        let before = self.node.panics();
        let mut session = self.session().ok()?;
        let result = session.run(batch);
        let kind = result.fault.map(|(_, f)| f.kind());
        if self.node.panics() != before {
            return Some("internal error reply");
        }
        let _ = self.restore(
            batch,
            &BatchResult {
                replies: result.replies,
                closed: false,
                fault: None,
            },
        );
        kind
    }
}

/// An argument vector as it can be pasted into a Rust test.
pub fn show_argv(argv: &[Vec<u8>]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|a| format!("\"{}\"", escape_short(a)))
        .collect();
    format!("[{}]", words.join(", "))
}
