//! The frame family: each case's bytes go to the node on a connection of
//! their own (written in random pieces, then a half-close), and everything
//! the node sends back until it closes must be well-formed replies, with a
//! protocol error only as the last one. Unmutated pipelines must get one
//! reply per request and no protocol error. After every case the node is
//! alive, no panic was recorded, and PING on a separate connection gets
//! PONG.

use std::io::Write;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::random::{mix, Gen};
use crate::common::server::{panics, TestServer};
use crate::common::wire::{escape_short, protocol_after, Frame, RawConn, ReadError};

use super::frames::{self, FrameCase};
use super::session::{Session, REPLY_TIMEOUT};
use super::shrink::shrink;

/// What a run did.
#[derive(Debug, Default)]
pub struct FramesReport {
    /// Cases sent.
    pub cases: u64,
    /// Replies decoded.
    pub replies: u64,
    /// Cases that ended with a protocol error.
    pub protocol_errors: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// The replies to one case.
struct Outcome {
    replies: Vec<Frame>,
    protocol_error: bool,
}

/// Client threads sending cases at once (each case has its own
/// connection; one thread would wait on round trips most of the time).
const THREADS: u64 = 3;

/// Runs `cases` cases from `seed`, case `i` with seed `mix(seed, i)`.
///
/// # Errors
/// The first failure, shrunk, with what is needed to replay it.
pub fn run(node: &TestServer, seed: u64, cases: u64) -> Result<FramesReport, String> {
    let started = Instant::now();
    let stop = AtomicBool::new(false);
    let results: Vec<Result<FramesReport, (u64, String)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let stop = &stop;
                scope.spawn(move || {
                    let indexes = (t..cases).step_by(THREADS as usize);
                    let result = run_some(node, seed, indexes, stop);
                    if result.is_err() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    result
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err((0, "fuzz thread panicked".into())))
            })
            .collect()
    });
    let mut report = FramesReport::default();
    for result in results {
        match result {
            Ok(part) => {
                report.cases += part.cases;
                report.replies += part.replies;
                report.protocol_errors += part.protocol_errors;
                report.bytes += part.bytes;
            }
            Err((index, why)) => {
                let case_seed = mix(seed, index);
                let case = frames::case(&mut Gen::new(case_seed));
                return Err(explain(node, seed, index, case_seed, &case, &why));
            }
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Runs the cases `indexes` until one fails or `stop` is set.
fn run_some(
    node: &TestServer,
    seed: u64,
    indexes: impl Iterator<Item = u64>,
    stop: &AtomicBool,
) -> Result<FramesReport, (u64, String)> {
    let mut report = FramesReport::default();
    let mut probe = Session::connect(node.addr).map_err(|e| (0, e.to_string()))?;
    for index in indexes {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let mut g = Gen::new(mix(seed, index));
        let case = frames::case(&mut g);
        let before = panics::count();
        let outcome = check_case(node, &case, &mut g)
            .and_then(|outcome| {
                after_case(node, &mut probe, before)?;
                Ok(outcome)
            })
            .map_err(|why| (index, why))?;
        report.cases += 1;
        report.replies += outcome.replies.len() as u64;
        report.protocol_errors += u64::from(outcome.protocol_error);
        report.bytes += case.bytes.len() as u64;
    }
    Ok(report)
}

/// The node is alive, did not panic, and answers PING.
fn after_case(node: &TestServer, probe: &mut Session, before: usize) -> Result<(), String> {
    if panics::count() != before {
        return Err(format!(
            "panic in the node: {}",
            panics::since(before).join("\n")
        ));
    }
    if !node.alive() {
        return Err("the node stopped".into());
    }
    match probe.ping() {
        Ok(Frame::Simple(s)) if s == b"PONG" => Ok(()),
        other => Err(format!("PING after the case answered {other:?}")),
    }
}

/// Sends one case and checks what comes back.
fn check_case(node: &TestServer, case: &FrameCase, g: &mut Gen) -> Result<Outcome, String> {
    let stream = node
        .connect(REPLY_TIMEOUT)
        .map_err(|e| format!("connect: {e}"))?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let pieces = split(g, case.bytes.len());
    let bytes = case.bytes.clone();
    let send = move || {
        let mut at = 0;
        for end in pieces {
            // The node may close first (a protocol error): not a failure.
            if writer.write_all(&bytes[at..end]).is_err() {
                break;
            }
            at = end;
        }
        let _ = writer.shutdown(Shutdown::Write);
    };
    // Small cases cannot fill both socket buffers; large ones are written
    // from another thread while replies are read.
    let sender = if case.bytes.len() > 32 * 1024 {
        Some(std::thread::spawn(send))
    } else {
        send();
        None
    };
    let outcome = read_all(RawConn::new(stream));
    if let Some(sender) = sender {
        let _ = sender.join();
    }
    let outcome = outcome?;
    if let Some(expected) = case.clean_commands {
        if outcome.protocol_error || outcome.replies.len() != expected {
            return Err(format!(
                "{expected} well-formed requests got {} replies (protocol error: {})",
                outcome.replies.len(),
                outcome.protocol_error
            ));
        }
    }
    Ok(outcome)
}

/// Where to cut `len` bytes into pieces written one by one.
fn split(g: &mut Gen, len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = if len > 1 && g.chance(0.3) {
        (0..1 + g.below(6)).map(|_| 1 + g.below(len - 1)).collect()
    } else {
        Vec::new()
    };
    cuts.push(len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Reads replies until the node closes the connection.
fn read_all(mut reader: RawConn) -> Result<Outcome, String> {
    let mut replies: Vec<Frame> = Vec::new();
    let mut protocol_error = false;
    loop {
        let mut next = reader.next();
        if let Err(ReadError::Malformed(_, bytes)) = &next {
            // The reply to HELLO 3 comes in RESP3 already; nothing else
            // may (the requests are unknown: checked by the reply's shape).
            if !reader.resp3 && bytes.first() == Some(&b'%') {
                let hello = reader.next_as(true);
                if let Ok(frame) = &hello {
                    if protocol_after(&[b"hello".to_vec()], frame, false) {
                        next = hello;
                    }
                }
            }
        }
        match next {
            Ok(frame) => {
                if protocol_error {
                    return Err(format!(
                        "a reply after the protocol error: {}",
                        frame.show()
                    ));
                }
                if let Some(text) = frame.error_text() {
                    if text.to_ascii_lowercase().contains("internal error") {
                        return Err(format!("internal error reply: {text}"));
                    }
                    protocol_error = text.starts_with("ERR Protocol error");
                }
                // The requests are not known here (a mutation may have
                // made anything of them): HELLO and RESET are recognized
                // by their replies.
                let hello = match &frame {
                    Frame::Map(_) => true,
                    Frame::Array(items) => items.first().and_then(Frame::bytes) == Some(b"server"),
                    _ => false,
                };
                let name: &[u8] = if hello { b"hello" } else { b"reset" };
                reader.resp3 = protocol_after(&[name.to_vec()], &frame, reader.resp3);
                replies.push(frame);
            }
            Err(ReadError::Closed(pending)) if pending.is_empty() => {
                return Ok(Outcome {
                    replies,
                    protocol_error,
                })
            }
            Err(ReadError::Closed(pending)) => {
                return Err(format!("closed inside a reply: {}", escape_short(&pending)))
            }
            Err(ReadError::Malformed(e, bytes)) => {
                return Err(format!("malformed reply ({e}): {}", escape_short(&bytes)))
            }
            Err(ReadError::Timeout) => {
                return Err(format!(
                    "no reply and no close within {REPLY_TIMEOUT:?} after {} replies",
                    replies.len()
                ))
            }
            Err(ReadError::Io(e)) => return Err(format!("socket error: {e}")),
        }
    }
}

/// The failure, with the case shrunk to fewer bytes that still fail the
/// same way.
fn explain(
    node: &TestServer,
    seed: u64,
    index: u64,
    case_seed: u64,
    case: &FrameCase,
    why: &str,
) -> String {
    let kind = |text: &str| text.split([':', '(']).next().unwrap_or("").to_string();
    let wanted = kind(why);
    let minimal = if node.alive() && !why.starts_with("no reply") {
        let mut probe = Session::connect(node.addr).ok();
        shrink(case.bytes.clone(), 400, |bytes| {
            let candidate = FrameCase {
                bytes: bytes.to_vec(),
                clean_commands: None,
            };
            let before = panics::count();
            let mut g = Gen::new(case_seed);
            let result = check_case(node, &candidate, &mut g).and_then(|_| match &mut probe {
                Some(p) => after_case(node, p, before),
                None => Ok(()),
            });
            result.is_err_and(|e| kind(&e) == wanted)
        })
    } else {
        case.bytes.clone()
    };
    format!(
        "frame fuzz failed at case {index} (RINGCACHE_FUZZ_SEED={seed}, case seed {case_seed}): {why}\n  \
         case ({} bytes): b\"{}\"\n  minimal input ({} bytes): b\"{}\"\n",
        case.bytes.len(),
        escape_short(&case.bytes),
        minimal.len(),
        escape_short(&minimal)
    )
}
