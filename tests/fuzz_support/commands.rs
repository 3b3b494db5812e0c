//! Random argument vectors for every command of the node's table
//! (`ringcache_server::commands::commands()`): the table gives the name,
//! arity and key positions; a per-command vocabulary of subcommands and
//! options reaches the code behind them (SET's options, CLIENT, CONFIG,
//! OBJECT, MEMORY, SLOWLOG, CLUSTER subcommands, SCAN's options, ...).
//! Values are binary, long (bounded), negative, empty, integer and float
//! edge cases.
//!
//! A few inputs are steered away from on purpose, each for a reason given
//! where it is done: the node stopping (SHUTDOWN), a client the harness
//! cannot reconnect (a tiny maxclients), allocations the harness asks
//! for itself (proto-max-bulk-len above its default, which would let
//! SETRANGE allocate gigabytes; bit offsets past 1 MiB, which would let
//! SETBIT and BITFIELD build bitmaps of up to 512 MB for GET and BITCOUNT
//! to carry around), and long blocking timeouts.

use ringcache_server::commands::{commands, lookup, CommandSpec, Flags};

use crate::common::random::Gen;

use super::scripts;
use super::vocabulary::{config_value, options, subcommands, CONFIG_NAMES, KEYS, PATTERNS};

/// Longest value a case sends (a few are this long, most are short).
pub const MAX_LONG_VALUE: usize = 256 * 1024;

/// One argument vector: a table command most of the time, sometimes an
/// unknown name.
pub fn argv(g: &mut Gen) -> Vec<Vec<u8>> {
    argv_sized(g, MAX_LONG_VALUE)
}

/// [`argv`] with values of at most `max_long` bytes.
pub fn argv_sized(g: &mut Gen, max_long: usize) -> Vec<Vec<u8>> {
    if g.chance(0.02) {
        let mut argv = vec![if g.chance(0.5) {
            g.word(12)
        } else {
            g.binary(12)
        }];
        for _ in 0..g.below(4) {
            argv.push(g.value(64));
        }
        if argv[0].is_empty() {
            argv[0] = b"nosuchcommand".to_vec();
        }
        return argv;
    }
    let mut spec = *g.pick(commands());
    // QUIT ends the batch it is in: rarer than the rest.
    if spec.name == "quit" && g.chance(0.8) {
        spec = *g.pick(commands());
    }
    let mut argv = if scripts::is_scripting(spec.name) {
        scripts::argv(g, spec.name)
    } else if g.chance(0.6) {
        shaped(g, spec).unwrap_or_else(|| generic(g, spec, max_long))
    } else {
        generic(g, spec, max_long)
    };
    argv[0] = g.random_case(spec.name);
    // (P|S)(UN)SUBSCRIBE answer once per channel (UNSUBSCRIBE without one,
    // once per subscription): with exactly one channel each request gets
    // one reply, as the harness counts them.
    if spec.has(Flags::PUBSUB) && spec.has(Flags::NOSCRIPT) {
        argv.truncate(2);
        if argv.len() < 2 {
            argv.push(b"channel".to_vec());
        }
    }
    make_safe(g, &mut argv);
    if stops_the_node(&argv) {
        argv.push(b"abort".to_vec());
    }
    argv
}

/// A key from the pool, or a fresh binary or long one.
pub fn key(g: &mut Gen) -> Vec<u8> {
    match g.below(40) {
        0 => g.binary(16),
        1 => {
            let n = g.rng().usize(100..2000);
            g.long_value(n)
        }
        _ => g.pick_bytes(KEYS),
    }
}

fn pattern(g: &mut Gen) -> Vec<u8> {
    if g.chance(0.7) {
        return g.pick_bytes(PATTERNS);
    }
    let mut p = g.word(6);
    for _ in 0..g.below(4) {
        let at = g.below(p.len() + 1);
        let c = *g.pick(b"*?[]\\^-");
        p.insert(at, c);
    }
    p
}

fn is_key_position(spec: &CommandSpec, i: usize, n: usize) -> bool {
    let (first, last, step) = spec.keys.triple();
    if first <= 0 || step <= 0 {
        return false;
    }
    let i = i as i32;
    let last = if last < 0 { n as i32 + last } else { last };
    i >= first && i <= last && (i - first) % step == 0
}

/// Any argument count (mostly one the arity admits) with words from the
/// command's vocabulary, keys at key positions and random values elsewhere.
fn generic(g: &mut Gen, spec: &CommandSpec, max_long: usize) -> Vec<Vec<u8>> {
    let min = spec.arity.unsigned_abs() as usize;
    let n = if g.chance(0.85) {
        if spec.arity > 0 {
            min
        } else {
            min + g.below(7)
        }
    } else {
        1 + g.below(min + 3)
    };
    let subs = subcommands(spec.name);
    let opts = options(spec.name);
    let mut argv = vec![spec.name.as_bytes().to_vec()];
    for i in 1..n {
        let arg = if i == 1 && !subs.is_empty() && g.chance(0.85) {
            let sub = *g.pick(subs);
            g.random_case(sub)
        } else if is_key_position(spec, i, n) && g.chance(0.9) {
            key(g)
        } else if !opts.is_empty() && g.chance(0.4) {
            let word = *g.pick(opts);
            g.random_case(word)
        } else if i >= 2 && !subs.is_empty() && g.chance(0.3) {
            key(g)
        } else {
            g.value(max_long)
        };
        argv.push(arg);
    }
    argv
}

/// An expiry amount: mostly positive and long enough to matter, sometimes
/// an edge case.
fn amount(g: &mut Gen) -> Vec<u8> {
    if g.chance(0.5) {
        g.small_int(1, 100_000)
    } else {
        g.int_text()
    }
}

/// Adds one option and its operands to an argument vector.
type AddOption = fn(&mut Gen, &mut Vec<Vec<u8>>);

/// Pushes 0 to `max` options drawn from `choices` (each a function adding
/// an option and its operands).
fn push_options(g: &mut Gen, argv: &mut Vec<Vec<u8>>, max: usize, choices: &[AddOption]) {
    for _ in 0..g.below(max + 1) {
        let choice = *g.pick(choices);
        choice(g, argv);
    }
}

/// A well-formed (or nearly) form of the commands whose interesting code
/// lies behind options or subcommands.
fn shaped(g: &mut Gen, spec: &CommandSpec) -> Option<Vec<Vec<u8>>> {
    let name = spec.name;
    let mut argv = vec![name.as_bytes().to_vec()];
    match name {
        "set" => {
            argv.push(key(g));
            argv.push(g.value(4096));
            push_options(
                g,
                &mut argv,
                4,
                &[
                    |g, a| a.push(g.random_case("nx")),
                    |g, a| a.push(g.random_case("xx")),
                    |g, a| a.push(g.random_case("get")),
                    |g, a| a.push(g.random_case("keepttl")),
                    |g, a| {
                        let o = *g.pick(&["ex", "px", "exat", "pxat"]);
                        a.push(g.random_case(o));
                        a.push(amount(g));
                    },
                    |g, a| {
                        let o = *g.pick(&["ifeq", "ifne"]);
                        a.push(g.random_case(o));
                        a.push(g.value(64));
                    },
                ],
            );
        }
        "getex" => {
            argv.push(key(g));
            push_options(
                g,
                &mut argv,
                2,
                &[
                    |g, a| {
                        let o = *g.pick(&["ex", "px", "exat", "pxat"]);
                        a.push(g.random_case(o));
                        a.push(amount(g));
                    },
                    |g, a| a.push(g.random_case("persist")),
                ],
            );
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            argv.push(key(g));
            argv.push(amount(g));
            for _ in 0..g.below(3) {
                let o = *g.pick(&["nx", "xx", "gt", "lt"]);
                argv.push(g.random_case(o));
            }
        }
        "setex" | "psetex" => {
            argv.push(key(g));
            argv.push(amount(g));
            argv.push(g.value(4096));
        }
        "scan" | "hscan" => {
            if name == "hscan" {
                argv.push(key(g));
            }
            argv.push(if g.chance(0.7) {
                b"0".to_vec()
            } else {
                g.int_text()
            });
            for _ in 0..g.below(4) {
                match g.below(4) {
                    0 => argv.extend([g.random_case("match"), pattern(g)]),
                    1 => argv.extend([g.random_case("count"), g.int_text()]),
                    2 if name == "scan" => {
                        let t = *g.pick(&["string", "hash", "list", "none", "STRING", "x"]);
                        argv.extend([g.random_case("type"), t.as_bytes().to_vec()]);
                    }
                    _ => argv.push(g.random_case("novalues")),
                }
            }
        }
        "keys" => argv.push(pattern(g)),
        "hrandfield" => {
            argv.push(key(g));
            if g.chance(0.8) {
                argv.push(g.int_text());
                if g.chance(0.5) {
                    argv.push(g.random_case("withvalues"));
                }
            }
        }
        "copy" => {
            argv.extend([key(g), key(g)]);
            if g.chance(0.4) {
                argv.extend([g.random_case("db"), g.int_text()]);
            }
            if g.chance(0.5) {
                argv.push(g.random_case("replace"));
            }
        }
        "hset" | "hmset" | "mset" | "msetnx" => {
            if name.starts_with('h') {
                argv.push(key(g));
            }
            for _ in 0..1 + g.below(4) {
                let first = if name.starts_with('h') {
                    g.word(3)
                } else {
                    key(g)
                };
                argv.extend([first, g.value(4096)]);
            }
        }
        "hincrby" | "hincrbyfloat" => {
            argv.extend([key(g), g.word(2)]);
            argv.push(if name == "hincrby" {
                g.int_text()
            } else {
                g.float_text()
            });
        }
        "incrby" | "decrby" => argv.extend([key(g), g.int_text()]),
        "incrbyfloat" => argv.extend([key(g), g.float_text()]),
        "getrange" | "substr" => argv.extend([key(g), g.int_text(), g.int_text()]),
        "setrange" => argv.extend([key(g), g.int_text(), g.value(4096)]),
        "setbit" | "getbit" | "bitcount" | "bitpos" | "bitop" | "bitfield" | "bitfield_ro" => {
            bits(g, &mut argv)
        }
        "pfadd" | "lcs" => pfadd_or_lcs(g, &mut argv),
        "hello" => hello(g, &mut argv),
        "client" => client(g, &mut argv),
        "config" => config(g, &mut argv),
        "cluster" => cluster(g, &mut argv),
        "command" => {
            let sub = *g.pick(subcommands("command"));
            argv.push(g.random_case(sub));
            for _ in 0..g.below(4) {
                let other = g.pick(commands()).name;
                argv.push(g.random_case(other));
            }
        }
        "object" | "memory" => {
            let sub = *g.pick(subcommands(name));
            argv.extend([g.random_case(sub), key(g)]);
            if name == "memory" && g.chance(0.3) {
                argv.extend([g.random_case("samples"), g.int_text()]);
            }
        }
        "slowlog" | "latency" => {
            let sub = *g.pick(subcommands(name));
            argv.push(g.random_case(sub));
            if g.chance(0.5) {
                argv.push(if g.chance(0.5) {
                    g.int_text()
                } else {
                    b"command".to_vec()
                });
            }
        }
        "wait" => argv.extend([g.small_int(-1, 3), g.small_int(-1, 20)]),
        "rcread" => {
            let inner = argv_of_readonly(g);
            argv.extend(inner);
        }
        _ => return None,
    }
    Some(argv)
}

/// A read-only command to wrap in RCREAD.
fn argv_of_readonly(g: &mut Gen) -> Vec<Vec<u8>> {
    let reads: Vec<&CommandSpec> = commands()
        .iter()
        .copied()
        .filter(|c| c.has(Flags::READONLY))
        .collect();
    let spec = *g.pick(&reads);
    generic(g, spec, 4096)
}

/// A bit offset: mostly within a few kilobytes, sometimes an edge case.
fn bit_offset(g: &mut Gen) -> Vec<u8> {
    match g.below(10) {
        0..=6 => g.small_int(0, 40_000),
        7 => format!("#{}", g.below(100)).into_bytes(),
        _ => g.int_text(),
    }
}

/// PFADD's elements, or LCS's keys and options.
fn pfadd_or_lcs(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    argv.push(key(g));
    if argv[0] == b"pfadd" {
        for _ in 0..g.below(20) {
            argv.push(g.value(64));
        }
        return;
    }
    argv.push(key(g));
    for _ in 0..g.below(4) {
        let o = *g.pick(options("lcs"));
        argv.push(g.random_case(o));
        if o == "minmatchlen" && g.chance(0.8) {
            argv.push(g.int_text());
        }
    }
}

/// The bitmap commands, their arguments in place.
fn bits(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    let name = String::from_utf8_lossy(&argv[0]).into_owned();
    if name == "bitop" {
        let op = *g.pick(options("bitop"));
        argv.push(g.random_case(op));
        for _ in 0..2 + g.below(3) {
            argv.push(key(g));
        }
        return;
    }
    argv.push(key(g));
    match name.as_str() {
        "setbit" => argv.extend([bit_offset(g), g.pick_bytes(&["0", "1", "1", "2", "x"])]),
        "getbit" => argv.push(bit_offset(g)),
        "bitcount" | "bitpos" => {
            if name == "bitpos" {
                argv.push(g.pick_bytes(&["0", "1", "1", "0", "2"]));
            }
            for _ in 0..g.below(4) {
                argv.push(g.int_text());
            }
            if g.chance(0.5) {
                let unit = *g.pick(&["bit", "byte"]);
                argv.push(g.random_case(unit));
            }
        }
        _ => {
            for _ in 0..g.below(6) {
                let op = *g.pick(&["get", "get", "set", "incrby", "overflow"]);
                argv.push(g.random_case(op));
                if op == "overflow" {
                    let rule = *g.pick(&["wrap", "sat", "fail", "x"]);
                    argv.push(g.random_case(rule));
                    continue;
                }
                let signed = g.chance(0.5);
                let bits = g.below(66);
                argv.push(format!("{}{bits}", if signed { 'i' } else { 'u' }).into_bytes());
                argv.push(bit_offset(g));
                if op != "get" {
                    argv.push(g.int_text());
                }
            }
        }
    }
}

fn hello(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    if g.chance(0.15) {
        return;
    }
    argv.push(g.pick_bytes(&["2", "3", "3", "1", "4", "-1", "abc", "03"]));
    if g.chance(0.3) {
        argv.push(g.random_case("auth"));
        argv.push(g.pick_bytes(&["default", "nobody", ""]));
        argv.push(g.value(16));
    }
    if g.chance(0.3) {
        argv.push(g.random_case("setname"));
        argv.push(if g.chance(0.5) {
            g.word(8)
        } else {
            g.binary(8)
        });
    }
}

fn client(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    let sub = *g.pick(subcommands("client"));
    argv.push(g.random_case(sub));
    match sub {
        "setname" => argv.push(if g.chance(0.5) {
            g.word(8)
        } else {
            g.binary(8)
        }),
        "setinfo" => {
            let attr = *g.pick(&["lib-name", "lib-ver", "nosuch"]);
            argv.push(g.random_case(attr));
            argv.push(if g.chance(0.5) {
                g.word(8)
            } else {
                g.binary(8)
            });
        }
        "list" => {
            if g.chance(0.4) {
                argv.push(g.random_case("type"));
                argv.push(g.pick_bytes(&["normal", "master", "replica", "pubsub", "x"]));
            }
            if g.chance(0.4) {
                argv.push(g.random_case("id"));
                for _ in 0..1 + g.below(3) {
                    argv.push(g.int_text());
                }
            }
        }
        "kill" => {
            if g.chance(0.3) {
                argv.push(g.pick_bytes(&["127.0.0.1:1", "1.2.3.4:5", "x", ""]));
                return;
            }
            for _ in 0..1 + g.below(3) {
                let filter = *g.pick(&["id", "addr", "laddr", "skipme", "type", "user", "maxage"]);
                argv.push(g.random_case(filter));
                argv.push(match filter {
                    "id" | "maxage" => g.int_text(),
                    "skipme" => g.pick_bytes(&["yes", "no", "maybe"]),
                    "type" => g.pick_bytes(&["normal", "pubsub", "x"]),
                    _ => g.value(32),
                });
            }
        }
        _ => {
            for _ in 0..g.below(2) {
                argv.push(g.value(32));
            }
        }
    }
}

fn config(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    let sub = *g.pick(&["get", "set", "set", "resetstat", "help"]);
    argv.push(g.random_case(sub));
    match sub {
        "get" => {
            for _ in 0..1 + g.below(3) {
                argv.push(if g.chance(0.5) {
                    g.pick_bytes(CONFIG_NAMES)
                } else {
                    pattern(g)
                });
            }
        }
        "set" => {
            for _ in 0..1 + g.below(3) {
                let name = *g.pick(CONFIG_NAMES);
                argv.push(name.as_bytes().to_vec());
                argv.push(config_value(g, name));
            }
        }
        _ => {}
    }
}

fn cluster(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    let sub = *g.pick(subcommands("cluster"));
    argv.push(g.random_case(sub));
    match sub {
        "keyslot" => argv.push(key(g)),
        "countkeysinslot" => argv.push(g.int_text()),
        "getkeysinslot" => argv.extend([g.int_text(), g.int_text()]),
        _ => {}
    }
}

/// Keeps a case within what the harness can recover from (see the module
/// docs): CONFIG SET values of the bounded parameters come from their safe
/// lists (a SHUTDOWN that would stop the node gets `ABORT` in `argv`).
fn make_safe(g: &mut Gen, argv: &mut [Vec<u8>]) {
    let name = argv[0].to_ascii_lowercase();
    keep_replies_countable(argv);
    // WAIT blocks up to its timeout in a cluster (0: up to a minute).
    if name == b"wait" && argv.len() == 3 {
        let blocks = std::str::from_utf8(&argv[2])
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .is_some_and(|t| t == 0 || t > 100);
        if blocks {
            argv[2] = b"5".to_vec();
        }
    }
    for at in bit_offset_positions(&name, argv) {
        if is_far_bit_offset(&argv[at]) {
            argv[at] = g.small_int(0, 1 << 20);
        }
    }
    // A blocking command waits up to its timeout (0, and anything within a
    // millisecond of it: for ever), first or last among its arguments:
    // keep any such number short.
    if lookup(&name).is_some_and(|spec| spec.has(Flags::BLOCKING)) {
        let last = argv.len() - 1;
        for at in [1, last].into_iter().filter(|&at| at > 0 && at <= last) {
            let long = std::str::from_utf8(&argv[at])
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|t| t.abs() < 0.001 || t > 0.05);
            if long {
                argv[at] = b"0.01".to_vec();
            }
        }
    }
    if name == b"config" && argv.len() >= 4 && argv[1].eq_ignore_ascii_case(b"set") {
        for i in (2..argv.len() - 1).step_by(2) {
            let param = String::from_utf8_lossy(&argv[i])
                .to_ascii_lowercase()
                .replace('_', "-");
            if [
                "requirepass",
                "maxclients",
                "timeout",
                "proto-max-bulk-len",
                "client-query-buffer-limit",
            ]
            .contains(&param.as_str())
            {
                argv[i + 1] = config_value(g, &param);
            }
        }
    }
}

/// Where the bit offsets of a SETBIT or BITFIELD request are.
fn bit_offset_positions(name: &[u8], argv: &[Vec<u8>]) -> Vec<usize> {
    match name {
        b"setbit" if argv.len() > 2 => vec![2],
        b"bitfield" | b"bitfield_ro" => (2..argv.len())
            .filter(|&i| {
                let word = &argv[i];
                [&b"get"[..], b"set", b"incrby"]
                    .iter()
                    .any(|op| word.eq_ignore_ascii_case(op))
            })
            .map(|i| i + 2)
            .filter(|&i| i < argv.len())
            .collect(),
        _ => Vec::new(),
    }
}

/// True for an offset past the first MiB of a bitmap (`#n` counted in
/// fields of up to 64 bits).
fn is_far_bit_offset(arg: &[u8]) -> bool {
    let (digits, scale) = match arg.split_first() {
        Some((b'#', rest)) => (rest, 64),
        _ => (arg, 1),
    };
    std::str::from_utf8(digits)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .is_some_and(|n| n.saturating_mul(scale) > 8 << 20)
}

/// Keeps the commands that change a connection's replies to forms the
/// harness can count: MONITOR (a stream of lines) becomes PING, CLIENT
/// REPLY OFF or SKIP (dropped replies) becomes ON, and CLIENT PAUSE
/// (every client held) lasts a millisecond at most. Their malformed forms
/// stay, for their errors.
fn keep_replies_countable(argv: &mut [Vec<u8>]) {
    let is = |argv: &[Vec<u8>], i: usize, w: &str| {
        argv.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()))
    };
    if argv.len() == 1 && is(argv, 0, "monitor") {
        argv[0] = b"PING".to_vec();
    }
    if argv.len() == 3
        && is(argv, 0, "client")
        && is(argv, 1, "reply")
        && (is(argv, 2, "off") || is(argv, 2, "skip"))
    {
        argv[2] = b"ON".to_vec();
    }
    if argv.len() >= 3 && is(argv, 0, "client") && is(argv, 1, "pause") {
        let long = std::str::from_utf8(&argv[2])
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .is_some_and(|ms| ms > 1);
        if long {
            argv[2] = b"1".to_vec();
        }
    }
}

/// True for requests after which the node may close the connection on
/// purpose (QUIT, CLIENT KILL, a refused RCPEER proof): the harness ends a batch with them, since
/// requests sent after them would be unread when the node closes, and a
/// close with unread input resets the connection and loses replies still
/// in flight.
pub fn may_close(argv: &[Vec<u8>]) -> bool {
    argv[0].eq_ignore_ascii_case(b"quit")
        || argv[0].eq_ignore_ascii_case(b"rcpeer")
        || (argv[0].eq_ignore_ascii_case(b"client")
            && argv.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"kill")))
}

/// True when `argv` is a SHUTDOWN the node would carry out.
pub fn stops_the_node(argv: &[Vec<u8>]) -> bool {
    argv[0].eq_ignore_ascii_case(b"shutdown")
        && argv[1..].iter().all(|a| {
            ["nosave", "save", "now", "force"]
                .iter()
                .any(|o| a.eq_ignore_ascii_case(o.as_bytes()))
        })
}
