//! Random and mutated request bytes for the parser: valid frames from a
//! seed corpus of real commands (and from the argument generator), then
//! byte flips, truncations, splices, insertions, deletions, length headers
//! made huge, negative or overflowing, inline commands with quoting,
//! RESP3 and nested types where a request must be an array of bulks, and
//! plain garbage.

use ringcache_server::commands::{lookup, Flags};

use crate::common::random::Gen;
use crate::common::wire::encode_command;

use super::commands;

/// Real commands the corpus starts from.
const SEEDS: &[&[&str]] = &[
    &["PING"],
    &["PING", "hello"],
    &["ECHO", "hi"],
    &["SET", "k1", "v"],
    &["SET", "k1", "value", "EX", "100", "NX"],
    &["SET", "k2", "v", "PX", "5000", "GET"],
    &["SET", "k3", "v", "KEEPTTL", "XX"],
    &["GET", "k1"],
    &["GETEX", "k1", "PERSIST"],
    &["GETDEL", "k2"],
    &["MSET", "k1", "a", "k2", "b", "{t}a", "c"],
    &["MGET", "k1", "k2", "k3"],
    &["INCR", "n"],
    &["INCRBY", "n", "-9223372036854775808"],
    &["INCRBYFLOAT", "f", "1.5e3"],
    &["APPEND", "k1", "tail"],
    &["SETRANGE", "k1", "3", "xyz"],
    &["GETRANGE", "k1", "0", "-1"],
    &["HSET", "h1", "f1", "v1", "f2", "v2"],
    &["HGETALL", "h1"],
    &["HINCRBYFLOAT", "h1", "f3", "0.25"],
    &["HRANDFIELD", "h1", "-3", "WITHVALUES"],
    &["HSCAN", "h1", "0", "MATCH", "f*", "COUNT", "10"],
    &["DEL", "k1", "k2"],
    &["EXISTS", "k1", "h1"],
    &["EXPIRE", "k3", "100", "GT"],
    &["PEXPIREAT", "k3", "99999999999999", "NX"],
    &["TTL", "k3"],
    &["RENAME", "k3", "k4"],
    &["COPY", "h1", "h2", "REPLACE"],
    &["TYPE", "h2"],
    &["SCAN", "0", "MATCH", "k*", "COUNT", "100", "TYPE", "string"],
    &["KEYS", "h?"],
    &["DBSIZE"],
    &["HELLO", "3"],
    &["HELLO", "2", "SETNAME", "fuzzer"],
    &["CLIENT", "SETNAME", "fuzz"],
    &["CLIENT", "INFO"],
    &["CLIENT", "LIST"],
    &["COMMAND", "COUNT"],
    &["COMMAND", "INFO", "get", "set"],
    &["CONFIG", "GET", "max*"],
    &["INFO", "keyspace"],
    &["OBJECT", "ENCODING", "k1"],
    &["MEMORY", "USAGE", "h1"],
    &["SLOWLOG", "GET", "2"],
    &["LATENCY", "LATEST"],
    &["CLUSTER", "KEYSLOT", "user:1"],
    &["TIME"],
    &["RESET"],
    &["SELECT", "0"],
];

/// Inline commands, as typed in telnet.
const INLINE: &[&str] = &[
    "PING\r\n",
    "PING\n",
    "SET a \"b c\"\r\n",
    "SET a 'it\\'s'\r\n",
    "SET a \"\\x41\\n\\t\"\r\n",
    "GET \"unbalanced\r\n",
    "GET 'x'y\r\n",
    "\r\n",
    "\n",
    "   \r\n",
    "ECHO \"\\xzz\"\r\n",
    "HSET h f \"\" \r\n",
];

/// Requests in types a request may not use.
const WRONG_TYPES: &[&str] = &[
    "%1\r\n$1\r\na\r\n$1\r\nb\r\n",
    "~1\r\n$4\r\nPING\r\n",
    "_\r\n",
    ",1.5\r\n",
    "#t\r\n",
    ">1\r\n$4\r\nPING\r\n",
    "|1\r\n$1\r\na\r\n$1\r\nb\r\n",
    "(12345678901234567890\r\n",
    "=8\r\ntxt:PING\r\n",
    "!3\r\nerr\r\n",
    "*2\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n",
    "*1\r\n:1\r\n",
    "*1\r\n+PING\r\n",
    "$4\r\nPING\r\n",
    ":1\r\n",
    "-ERR x\r\n",
];

/// Length texts that break a header.
const LENGTHS: &[&str] = &[
    "0",
    "-1",
    "-2",
    "-9223372036854775808",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "2147483648",
    "4294967296",
    "536870912",
    "536870913",
    "1048577",
    "99999999999999999999",
    "007",
    "+3",
    " 3",
    "3 ",
    "",
    "x",
    "3x",
    "1e3",
];

const ALPHABET: &[u8] = b"*$:+-_\r\n0123456789 \"'\\";

/// One case: the bytes, and whether they are well-formed requests only
/// (then every request must be answered and the connection kept).
pub struct FrameCase {
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// Commands in `bytes` when they are unmutated frames, else None.
    pub clean_commands: Option<usize>,
}

/// A valid frame: from the seeds or from the argument generator (without
/// the commands that change the node for the cases after it: CONFIG,
/// CLIENT KILL, QUIT, AUTH, HELLO with AUTH, SHUTDOWN; nor the blocking
/// ones: the case's half-close ends a blocked client, as in Redis, before
/// its replies).
fn valid_frame(g: &mut Gen) -> Vec<u8> {
    let mut out = Vec::new();
    if g.chance(0.5) {
        let seed: &[&str] = g.pick::<&[&str]>(SEEDS);
        encode_command(&mut out, seed);
        return out;
    }
    loop {
        let argv = commands::argv_sized(g, 8192);
        let blocks = lookup(&argv[0]).is_some_and(|spec| spec.has(Flags::BLOCKING));
        if !changes_the_node(&argv) && !blocks {
            encode_command(&mut out, &argv);
            return out;
        }
    }
}

/// True for commands whose effect outlives the case (see `valid_frame`).
/// Any CONFIG and a "shutdown" anywhere count: a mutation can turn GET
/// into SET, or cut a frame (COMMAND INFO shutdown) down to SHUTDOWN.
pub fn changes_the_node(argv: &[Vec<u8>]) -> bool {
    let is = |i: usize, w: &str| {
        argv.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()))
    };
    is(0, "config")
        || (is(0, "client") && is(1, "kill"))
        || is(0, "quit")
        || is(0, "auth")
        || argv.iter().any(|a| a.eq_ignore_ascii_case(b"shutdown"))
        || (is(0, "hello") && argv.iter().any(|a| a.eq_ignore_ascii_case(b"auth")))
}

/// One case.
pub fn case(g: &mut Gen) -> FrameCase {
    match g.below(100) {
        0..=9 => {
            let n = 1 + g.below(5);
            let mut bytes = Vec::new();
            for _ in 0..n {
                bytes.extend(valid_frame(g));
            }
            FrameCase {
                bytes,
                clean_commands: Some(n),
            }
        }
        10..=69 => {
            let mut bytes = valid_frame(g);
            for _ in 0..1 + g.below(3) {
                mutate(g, &mut bytes);
            }
            if g.chance(0.2) {
                bytes.extend(valid_frame(g));
            }
            FrameCase {
                bytes,
                clean_commands: None,
            }
        }
        70..=79 => dirty(inline(g)),
        80..=86 => {
            let mut bytes = g.pick_bytes(WRONG_TYPES);
            if g.chance(0.3) {
                mutate(g, &mut bytes);
            }
            dirty(bytes)
        }
        87..=92 => dirty(huge_header(g)),
        _ => dirty(garbage(g)),
    }
}

fn dirty(bytes: Vec<u8>) -> FrameCase {
    FrameCase {
        bytes,
        clean_commands: None,
    }
}

/// Applies one random mutation.
pub fn mutate(g: &mut Gen, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    match g.below(10) {
        0 if len > 0 => {
            for _ in 0..1 + g.below(4) {
                let i = g.below(len);
                bytes[i] ^= 1 << g.below(8);
            }
        }
        1 if len > 0 => {
            let i = g.below(len);
            bytes[i] = if g.chance(0.5) {
                *g.pick(ALPHABET)
            } else {
                g.rng().u8(..)
            };
        }
        2 if len > 0 => bytes.truncate(g.below(len)),
        3 => {
            let other = valid_frame(g);
            let cut = g.below(len + 1);
            let from = g.below(other.len() + 1);
            bytes.truncate(cut);
            bytes.extend_from_slice(&other[from..]);
        }
        4 => {
            let at = g.below(len + 1);
            let n = 1 + g.below(16);
            let insert: Vec<u8> = (0..n).map(|_| *g.pick(ALPHABET)).collect();
            bytes.splice(at..at, insert);
        }
        5 if len > 1 => {
            let from = g.below(len);
            let to = (from + 1 + g.below(16)).min(len);
            bytes.drain(from..to);
        }
        6 if len > 1 => {
            let from = g.below(len);
            let to = (from + 1 + g.below(64)).min(len);
            let copy = bytes[from..to].to_vec();
            let at = g.below(len + 1);
            bytes.splice(at..at, copy);
        }
        7 => replace_length(g, bytes),
        8 => {
            // Line ends: a lone LF, a lone CR, or an extra CRLF.
            let ends: Vec<usize> = bytes
                .windows(2)
                .enumerate()
                .filter(|(_, w)| *w == b"\r\n")
                .map(|(i, _)| i)
                .collect();
            if let Some(&i) = (!ends.is_empty()).then(|| g.pick(&ends)) {
                match g.below(3) {
                    0 => {
                        bytes.remove(i);
                    }
                    1 => {
                        bytes.remove(i + 1);
                    }
                    _ => {
                        bytes.insert(i, b'\n');
                        bytes.insert(i, b'\r');
                    }
                }
            }
        }
        _ => {
            let wrap = g.pick_bytes(&["*1\r\n", "*2\r\n", "*2\r\n*1\r\n", "%1\r\n", "~1\r\n"]);
            bytes.splice(0..0, wrap);
        }
    }
}

/// Replaces the number of one `*` or `$` header.
fn replace_length(g: &mut Gen, bytes: &mut Vec<u8>) {
    let headers: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| (b == b'*' || b == b'$') && (i == 0 || bytes[i - 1] == b'\n'))
        .map(|(i, _)| i + 1)
        .collect();
    let Some(&start) = (!headers.is_empty()).then(|| g.pick(&headers)) else {
        return;
    };
    let end = start
        + bytes[start..]
            .iter()
            .position(|&b| b == b'\r')
            .unwrap_or(bytes.len() - start);
    let text = if g.chance(0.7) {
        g.pick_bytes(LENGTHS)
    } else {
        let old: i64 = std::str::from_utf8(&bytes[start..end])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        old.saturating_add(g.rng().i64(-2..=2))
            .to_string()
            .into_bytes()
    };
    bytes.splice(start..end, text);
}

/// An inline command with quoting, escapes and now and then a line past
/// the 64 KB inline limit.
fn inline(g: &mut Gen) -> Vec<u8> {
    if g.chance(0.3) {
        let mut line = g.pick_bytes(INLINE);
        if g.chance(0.5) {
            mutate(g, &mut line);
        }
        return line;
    }
    let mut line = Vec::new();
    let argv = commands::argv_sized(g, 8192);
    if changes_the_node(&argv) {
        return b"PING\r\n".to_vec();
    }
    for (i, arg) in argv.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        match g.below(4) {
            0 => {
                line.push(b'"');
                for &b in arg {
                    match b {
                        b'"' | b'\\' => line.extend_from_slice(&[b'\\', b]),
                        b'\n' => line.extend_from_slice(b"\\n"),
                        b'\r' => line.extend_from_slice(b"\\r"),
                        0x20..=0x7e => line.push(b),
                        _ => line.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
                    }
                }
                line.push(b'"');
            }
            1 => {
                line.push(b'\'');
                line.extend(arg.iter().filter(|&&b| b != b'\n' && b != b'\r'));
                line.push(b'\'');
            }
            _ => line.extend(arg.iter().filter(|&&b| !b.is_ascii_whitespace())),
        }
    }
    if g.chance(0.005) {
        line.extend(std::iter::repeat_n(b'a', 64 * 1024 + g.below(4096)));
    }
    line.extend_from_slice(if g.chance(0.8) { b"\r\n" } else { b"\n" });
    line
}

/// A header with a huge, negative or overflowing count, sometimes followed
/// by part of the data it announces.
fn huge_header(g: &mut Gen) -> Vec<u8> {
    let mut out = Vec::new();
    if g.chance(0.5) {
        out.extend_from_slice(b"*");
        out.extend(g.pick_bytes(LENGTHS));
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$");
        out.extend(g.pick_bytes(LENGTHS));
        out.extend_from_slice(b"\r\n");
    }
    if g.chance(0.5) {
        let n = g.below(2048);
        out.extend(g.long_value(n));
    }
    out
}

fn garbage(g: &mut Gen) -> Vec<u8> {
    let n = 1 + g.below(512);
    if g.chance(0.5) {
        (0..n).map(|_| *g.pick(ALPHABET)).collect()
    } else {
        g.binary(n)
    }
}
