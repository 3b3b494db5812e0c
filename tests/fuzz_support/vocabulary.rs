//! The fuzzer's words: the key pool, glob patterns, configuration
//! parameters and values, and each command's subcommands and options.

use std::sync::LazyLock;

use ringcache_server::commands::INFO_SECTIONS;

use crate::common::random::Gen;

/// INFO's words: its sections, the groups of them, and sections it does
/// not have.
static INFO_WORDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let others = "all everything default commandstats cpu errorstats";
    INFO_SECTIONS.into_iter().chain(others.split(' ')).collect()
});

/// Keys: a small pool so commands collide (types, overwrites, misses), a
/// hash-tagged pair, the empty key, and now and then a fresh binary one.
pub const KEYS: &[&str] = &[
    "k0", "k1", "k2", "k3", "k4", "k5", "h0", "h1", "h2", "{t}a", "{t}b", "",
];

/// Glob patterns, including ones that stress a matcher.
pub const PATTERNS: &[&str] = &[
    "*",
    "k*",
    "k?",
    "h[0-9]",
    "[^k]*",
    "\\*",
    "*a*",
    "[a-",
    "[]",
    "[^]",
    "[\\]]",
    "k[0-3]",
    "*?*?*?",
    "a*a*a*a*b",
    "",
    "?",
    "[a-z]*[0-9]",
    "{t}*",
    "**",
    "[?-]",
];

/// CONFIG SET and CONFIG GET names, settable or not, known or not.
pub const CONFIG_NAMES: &[&str] = &[
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "requirepass",
    "maxclients",
    "timeout",
    "io-threads",
    "threads",
    "protected-mode",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "hll-sparse-max-bytes",
    "busy-reply-threshold",
    "lua-time-limit",
    "bind",
    "port",
    "save",
    "appendonly",
    "databases",
    "metrics-port",
    "cluster-enabled",
    "weight",
    "hz",
    "nosuch",
    "MAXMEMORY",
    "maxmemory_policy",
];

/// Eviction policies, and one that is not.
const POLICIES: &[&str] = &[
    "noeviction",
    "allkeys-lru",
    "volatile-lru",
    "allkeys-lfu",
    "volatile-lfu",
    "allkeys-random",
    "volatile-random",
    "volatile-ttl",
    "lru",
];

/// Subcommands of the container commands (CLIENT REPLY and CLIENT PAUSE
/// are left out: they would change how many replies the harness expects).
pub fn subcommands(name: &str) -> &'static [&'static str] {
    match name {
        "client" => &[
            "id",
            "getname",
            "setname",
            "info",
            "list",
            "setinfo",
            "kill",
            "help",
            "no-evict",
            "no-touch",
            "unpause",
            "caching",
            "tracking",
            "trackinginfo",
            "getredir",
            "unblock",
        ],
        "config" => &["get", "set", "resetstat", "help", "rewrite"],
        "object" => &["encoding", "freq", "idletime", "refcount", "help"],
        "memory" => &["usage", "help", "stats", "doctor", "malloc-stats", "purge"],
        "slowlog" => &["get", "len", "reset", "help"],
        "latency" => &[
            "latest",
            "history",
            "reset",
            "help",
            "doctor",
            "graph",
            "histogram",
        ],
        "command" => &[
            "count",
            "list",
            "info",
            "docs",
            "getkeys",
            "getkeysandflags",
            "help",
        ],
        "cluster" => &[
            "slots",
            "shards",
            "nodes",
            "info",
            "myid",
            "keyslot",
            "countkeysinslot",
            "getkeysinslot",
            "help",
            "reset",
            "links",
            "myshardid",
            "replicas",
            "addslots",
        ],
        "debug" => &[
            "help",
            "object",
            "digest",
            "digest-value",
            "stringmatch-len",
        ],
        _ => &[],
    }
}

/// Option words of the other commands, drawn for non-key positions.
pub fn options(name: &str) -> &'static [&'static str] {
    match name {
        "set" => &[
            "nx", "xx", "get", "keepttl", "ex", "px", "exat", "pxat", "ifeq", "ifne",
        ],
        "getex" => &["ex", "px", "exat", "pxat", "persist"],
        "expire" | "pexpire" | "expireat" | "pexpireat" => &["nx", "xx", "gt", "lt"],
        "scan" => &["match", "count", "type", "string", "hash", "0"],
        "hscan" => &["match", "count", "novalues", "0"],
        "hrandfield" => &["withvalues"],
        "bitcount" => &["byte", "bit", "0", "-1"],
        "bitpos" => &["0", "1", "byte", "bit", "-1"],
        "bitop" => &["and", "or", "xor", "not"],
        "bitfield" | "bitfield_ro" => &[
            "get", "set", "incrby", "overflow", "wrap", "sat", "fail", "i8", "u8", "i64", "u63",
            "u1", "#1",
        ],
        "lcs" => &["len", "idx", "minmatchlen", "withmatchlen"],
        "sscan" => &["match", "count", "0"],
        "sintercard" => &["limit", "1", "2"],
        "spop" | "srandmember" => &["-5", "3"],
        "zadd" => &[
            "nx", "xx", "gt", "lt", "ch", "incr", "1", "inf", "-inf", "(1",
        ],
        "zrange" | "zrangestore" => &[
            "byscore",
            "bylex",
            "rev",
            "limit",
            "withscores",
            "(1",
            "[a",
            "-",
            "+",
            "-inf",
        ],
        "zrangebyscore" | "zrevrangebyscore" => &["withscores", "limit", "(1", "-inf", "+inf"],
        "zrangebylex" | "zrevrangebylex" | "zlexcount" | "zremrangebylex" => {
            &["limit", "[a", "(b", "-", "+"]
        }
        "zunion" | "zinter" | "zdiff" | "zunionstore" | "zinterstore" | "zdiffstore" => &[
            "weights",
            "aggregate",
            "sum",
            "min",
            "max",
            "withscores",
            "1",
            "2",
        ],
        "zintercard" => &["limit", "1", "2"],
        "zmpop" => &["min", "max", "count", "1"],
        "zrank" | "zrevrank" => &["withscore"],
        "zrandmember" => &["withscores", "-3"],
        "zscan" => &["match", "count", "0"],
        "copy" => &["db", "replace", "0"],
        "flushall" | "flushdb" => &["async", "sync"],
        "hello" => &["2", "3", "auth", "setname", "default"],
        "auth" => &["default"],
        "info" => &INFO_WORDS,
        "shutdown" => &["nosave", "save", "now", "force", "abort"],
        "lpos" => &["rank", "count", "maxlen", "-1", "0"],
        "linsert" => &["before", "after"],
        "lmove" | "blmove" => &["left", "right"],
        "lmpop" | "blmpop" => &["left", "right", "count", "1"],
        _ => &[],
    }
}

/// A value for CONFIG SET `name`: valid and invalid ones, within the
/// bounds `commands` gives (its module docs say why).
pub fn config_value(g: &mut Gen, name: &str) -> Vec<u8> {
    match name.to_ascii_lowercase().replace('_', "-").as_str() {
        "maxmemory" => g.pick_bytes(&["0", "1", "100mb", "1kb", "10gb", "-1", "abc", "1k"]),
        "maxmemory-policy" => g.pick_bytes(POLICIES),
        // A password would leave a connection that RESETs unauthenticated,
        // under limits that close it with a protocol error; the harness
        // keeps every close explained (auth has its own tests).
        "requirepass" => g.pick_bytes(&["", ""]),
        // A harness connection must always get in again.
        "maxclients" => g.pick_bytes(&["10000", "100", "0", "-1", "abc", "1048577"]),
        // Idle harness connections must not be closed under it.
        "timeout" => g.pick_bytes(&["0", "100000", "-1", "abc"]),
        // Never above the default: a larger limit would let SETRANGE with
        // the offsets this fuzzer sends allocate gigabytes. Never below the
        // longest value sent either: that is a protocol error, which the
        // frame family covers.
        "proto-max-bulk-len" => g.pick_bytes(&["1mb", "512mb", "1023", "0", "abc", "-1"]),
        // At least Redis's minimum: smaller ones cut off the harness's
        // own large requests (finding 10 of issue 9 has its own test).
        "client-query-buffer-limit" => g.pick_bytes(&["1mb", "1gb", "abc", "-1", "2mb"]),
        "hll-sparse-max-bytes" => g.pick_bytes(&["3000", "0", "100", "20000", "-1", "abc"]),
        "protected-mode" | "appendonly" | "cluster-enabled" => {
            g.pick_bytes(&["yes", "no", "maybe"])
        }
        _ => {
            if g.chance(0.5) {
                g.int_text()
            } else {
                g.value(32)
            }
        }
    }
}
