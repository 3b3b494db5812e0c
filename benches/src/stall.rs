//! How long one client's long command stalls everybody else: a second
//! connection sends PING after PING while the first runs KEYS over a large
//! key space, UNLINK of a large hash, or FLUSHALL ASYNC, and the PINGs that
//! overlapped the command are timed (binary `ringcache-stall`).
//!
//! Blocking sockets and two OS threads: the measurement must not depend on
//! the runtime of the thing measured.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringcache_proto::resp::{self, Value};

/// Keys and hash fields are loaded in pipelined batches of this many.
const BATCH: usize = 10_000;
/// PINGs before and after the command, so the window is covered.
const MARGIN: Duration = Duration::from_millis(200);

/// The long command whose stall is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `KEYS *` over the loaded keys.
    Keys,
    /// `UNLINK` of a hash with the loaded number of fields.
    Unlink,
    /// `FLUSHALL ASYNC` of the loaded keys.
    FlushallAsync,
}

impl Scenario {
    /// Parses `keys`, `unlink` or `flushall-async`.
    pub fn parse(name: &str) -> Option<Scenario> {
        match name {
            "keys" => Some(Scenario::Keys),
            "unlink" => Some(Scenario::Unlink),
            "flushall-async" => Some(Scenario::FlushallAsync),
            _ => None,
        }
    }

    /// The name `parse` takes.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Keys => "keys",
            Scenario::Unlink => "unlink",
            Scenario::FlushallAsync => "flushall-async",
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Stall {
    /// The long command's own time, from the request to the first byte of
    /// its reply (after that the node only writes the reply).
    pub command: Duration,
    /// PINGs that overlapped it.
    pub pings: usize,
    /// Their median latency.
    pub p50: Duration,
    /// Their 99th percentile latency.
    pub p99: Duration,
    /// Their slowest.
    pub max: Duration,
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(600)))?;
    Ok(stream)
}

fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    let mut bytes = bytes::BytesMut::new();
    resp::write_command(&mut bytes, args);
    out.extend_from_slice(&bytes);
}

/// Reads `count` replies; fails on an error reply.
fn read_replies(stream: &mut TcpStream, count: usize) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 256 * 1024];
    let mut left = count;
    while left > 0 {
        let mut at = 0;
        while left > 0 {
            match resp::decode(&buf[at..]).map_err(std::io::Error::other)? {
                Some((Value::Error(e), _)) => {
                    return Err(std::io::Error::other(
                        String::from_utf8_lossy(&e).into_owned(),
                    ))
                }
                Some((_, used)) => {
                    at += used;
                    left -= 1;
                }
                None => break,
            }
        }
        buf.drain(..at);
        if left == 0 {
            break;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// Reads the rest of a reply whose first byte was `first`.
fn read_rest(stream: &mut TcpStream, first: u8) -> std::io::Result<()> {
    let mut buf = vec![first];
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        match resp::decode(&buf).map_err(std::io::Error::other)? {
            Some((Value::Error(e), _)) => {
                return Err(std::io::Error::other(
                    String::from_utf8_lossy(&e).into_owned(),
                ))
            }
            Some(_) => return Ok(()),
            None => {}
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Loads what `scenario` needs: `count` string keys, or one hash of
/// `count` fields.
///
/// # Errors
/// The server cannot be reached or refuses a write.
pub fn load(addr: SocketAddr, scenario: Scenario, count: usize) -> std::io::Result<()> {
    let mut stream = connect(addr)?;
    let value = [b'x'; 32];
    let mut request = Vec::new();
    encode(&[b"FLUSHALL"], &mut request);
    stream.write_all(&request)?;
    read_replies(&mut stream, 1)?;
    let mut done = 0;
    while done < count {
        request.clear();
        let end = (done + BATCH).min(count);
        let commands = match scenario {
            Scenario::Unlink => {
                let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"big".to_vec()];
                for i in done..end {
                    args.push(format!("field:{i}").into_bytes());
                    args.push(value.to_vec());
                }
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                encode(&refs, &mut request);
                1
            }
            Scenario::Keys | Scenario::FlushallAsync => {
                for i in done..end {
                    let key = format!("key:{i}");
                    encode(&[b"SET", key.as_bytes(), &value], &mut request);
                }
                end - done
            }
        };
        stream.write_all(&request)?;
        read_replies(&mut stream, commands)?;
        done = end;
    }
    Ok(())
}

/// Runs `scenario`'s command on one connection while another sends PINGs,
/// and times the PINGs that overlapped it.
///
/// # Errors
/// The server cannot be reached, or the command fails.
pub fn measure(addr: SocketAddr, scenario: Scenario) -> std::io::Result<Stall> {
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let mut stream = connect(addr)?;
        let stop = stop.clone();
        std::thread::spawn(move || -> std::io::Result<Vec<(Instant, Duration)>> {
            let mut timings = Vec::new();
            let mut pong = [0u8; 7];
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
                stream.read_exact(&mut pong)?;
                timings.push((sent, sent.elapsed()));
            }
            Ok(timings)
        })
    };
    let mut stream = connect(addr)?;
    let mut request = Vec::new();
    match scenario {
        Scenario::Keys => encode(&[b"KEYS", b"*"], &mut request),
        Scenario::Unlink => encode(&[b"UNLINK", b"big"], &mut request),
        Scenario::FlushallAsync => encode(&[b"FLUSHALL", b"ASYNC"], &mut request),
    }
    std::thread::sleep(MARGIN);
    let started = Instant::now();
    stream.write_all(&request)?;
    let mut first = [0u8; 1];
    stream.read_exact(&mut first)?;
    let command = started.elapsed();
    let result = read_rest(&mut stream, first[0]);
    std::thread::sleep(MARGIN);
    stop.store(true, Ordering::Relaxed);
    let timings = pinger
        .join()
        .map_err(|_| std::io::Error::other("the PING thread panicked"))??;
    result?;
    let ended = started + command;
    let mut overlapping: Vec<Duration> = timings
        .into_iter()
        .filter(|&(sent, took)| sent < ended && sent + took > started)
        .map(|(_, took)| took)
        .collect();
    overlapping.sort_unstable();
    let at = |q: f64| -> Duration {
        if overlapping.is_empty() {
            return Duration::ZERO;
        }
        let i = ((overlapping.len() as f64 * q).ceil() as usize).clamp(1, overlapping.len());
        overlapping[i - 1]
    };
    Ok(Stall {
        command,
        pings: overlapping.len(),
        p50: at(0.5),
        p99: at(0.99),
        max: overlapping.last().copied().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for s in [Scenario::Keys, Scenario::Unlink, Scenario::FlushallAsync] {
            assert_eq!(Scenario::parse(s.name()), Some(s));
        }
        assert_eq!(Scenario::parse("nope"), None);
    }
}
