//! Differential test against redis-server: seeded random command sequences
//! over strings, hashes, bitmaps, HyperLogLogs (their bytes included), LCS,
//! sorted sets, sets, lists, keys and TTLs, with MULTI/EXEC/DISCARD blocks
//! (WATCH/UNWATCH, queueing errors, errors inside EXEC) and Lua scripts
//! (EVAL, EVALSHA, SCRIPT) mixed in, run on both (a few seeds in RESP2,
//! one in RESP3), every reply compared: type and value exactly, errors by
//! their full text, except the differences by design listed in
//! [`DIFFERENCES`], the one place that says what differs and why (the
//! README's "Differences from Redis" agrees with it).
//!
//! `RINGCACHE_DIFF_SEED` replays a run (printed at the start),
//! `RINGCACHE_DIFF_COMMANDS` sets the commands per seed. Without
//! redis-server the test is skipped with a message, unless `CI=true`.

#[path = "../common/mod.rs"]
mod common;
mod compare;
mod gen;
mod gen_lists;
mod gen_scripts;
mod gen_sets;
mod gen_tx;
mod tx;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::random::{count_from_env, mix, seed_from_env};
use common::redis_server::{skip_without_redis, RedisServer};
use common::wire::{show_argv, Frame, RawConn};
use common::{unix_secs, TestServer};
use compare::{compare, rule_for, sorted, Verdict};
use gen::CommandGen;
use tx::{Step, Tx};

/// How a command whose replies differ by design is compared.
#[derive(Debug)]
pub enum Rule {
    /// As a multiset of elements.
    Unordered,
    /// As a set of field-value pairs.
    Pairs,
    /// By shape: type, length, element types.
    RandomPick,
    /// Integers within `tolerance` (negative codes exactly).
    Clock {
        /// Largest accepted difference.
        tolerance: i64,
    },
    /// Numbers equal to 14 significant digits; the key is then re-synced
    /// to redis-server's value.
    FloatDigits,
    /// Iterated to cursor 0 on each server; the sets of keys (or fields
    /// and values) compared.
    CollectedScan,
    /// Integers where the node's may be lower by up to the size of the key
    /// space (keys redis-server has yet to reclaim).
    LazyExpiry,
    /// Equal, or "listpack" where redis-server says "hashtable" (OBJECT
    /// ENCODING of a set).
    SetListpack,
    /// Not generated: the reason says why.
    NotGenerated,
}

/// A difference by design.
#[derive(Debug)]
pub struct Difference {
    /// Commands (upper case) it concerns.
    pub commands: &'static [&'static str],
    /// How they are compared.
    pub rule: Rule,
    /// Why the node differs.
    pub reason: &'static str,
}

/// Every difference by design between the node and redis-server, for the
/// commands this test runs. The README's "Differences from Redis" lists
/// the same.
pub const DIFFERENCES: &[Difference] = &[
    Difference {
        commands: &["INCRBYFLOAT", "HINCRBYFLOAT"],
        rule: Rule::FloatDigits,
        reason: "the node computes in 64-bit doubles, Redis in 80-bit long doubles: \
                 sums that are not exact in binary differ in the last digits, and \
                 values beyond 1.8e308 (long doubles reach 1.2e4932) make the node \
                 answer that the result would be infinite",
    },
    Difference {
        commands: &["DBSIZE"],
        rule: Rule::LazyExpiry,
        reason: "SET with EXAT/PXAT in the past: Redis stores the key and counts it in \
                 DBSIZE until it is reclaimed (the key is already invisible to reads); \
                 the node removes it at once",
    },
    Difference {
        commands: &["INCRBYFLOAT 0x..", "HINCRBYFLOAT 0x..", "BLPOP 0x.."],
        rule: Rule::NotGenerated,
        reason: "hexadecimal floats (0x10, 0x1p3), which Redis's strtold accepts, are \
                 refused as not a valid float (a blocking command's timeout too)",
    },
    Difference {
        commands: &["BLPOP woken"],
        rule: Rule::NotGenerated,
        reason: "a client blocked on a list and woken by another client's push pops on its \
                 own connection just after the push (Redis serves it before the pusher's \
                 next command); one blocked on several ready keys pops from the first in \
                 argument order (Redis: the first that became ready); one connection cannot \
                 show either",
    },
    Difference {
        commands: &["HGETALL"],
        rule: Rule::Pairs,
        reason: "field order is each implementation's table order (Redis leaves it unspecified)",
    },
    Difference {
        commands: &["HKEYS", "HVALS", "KEYS"],
        rule: Rule::Unordered,
        reason: "order is each implementation's table order (Redis leaves it unspecified)",
    },
    Difference {
        commands: &["ZRANDMEMBER"],
        rule: Rule::RandomPick,
        reason: "random picks; a count past the size of a large set lists every member \
                 in each implementation's own order",
    },
    Difference {
        commands: &["ZRANK WITHSCORE", "ZREVRANK WITHSCORE"],
        rule: Rule::NotGenerated,
        reason: "Redis 7.2's option, which the 7.0 this runs against refuses by arity",
    },
    Difference {
        commands: &["ZRANGEBYLEX mixed scores", "ZRANDMEMBER -count"],
        rule: Rule::NotGenerated,
        reason: "lex ranges over members of different scores are undefined in Redis (its \
                 answer depends on the encoding and skip-list levels); a negative \
                 ZRANDMEMBER count below -1000000 is refused",
    },
    Difference {
        commands: &["ZUNION 3+ keys"],
        rule: Rule::NotGenerated,
        reason: "Redis adds the scores of inputs of equal size in qsort's (unstable) \
                 order; with inexact scores the last digit of a sum of three or more \
                 can differ",
    },
    Difference {
        commands: &["HRANDFIELD", "RANDOMKEY"],
        rule: Rule::RandomPick,
        reason: "random picks",
    },
    Difference {
        commands: &["TTL", "EXPIRETIME"],
        rule: Rule::Clock { tolerance: 1 },
        reason: "the two servers run a command a moment apart: a relative TTL set \
                 on both can round to the neighbouring second",
    },
    Difference {
        commands: &["PTTL", "PEXPIRETIME"],
        rule: Rule::Clock { tolerance: 2000 },
        reason: "the two servers run a command a moment apart (milliseconds on a loaded machine)",
    },
    Difference {
        commands: &["SCAN", "HSCAN", "ZSCAN"],
        rule: Rule::CollectedScan,
        reason: "a cursor encodes each implementation's table layout; both keep SCAN's \
                 guarantee (every element present throughout is returned)",
    },
    Difference {
        commands: &[
            "INFO", "TIME", "MEMORY", "DEBUG", "CONFIG", "CLIENT", "HELLO",
        ],
        rule: Rule::NotGenerated,
        reason: "they report each implementation's own internals (INFO text, OBJECT ENCODING \
                 names, MEMORY USAGE bytes, version fields)",
    },
    Difference {
        commands: &["SET IFEQ/IFNE", "HSCAN NOVALUES"],
        rule: Rule::NotGenerated,
        reason: "options of Redis 8.4 (IFEQ, IFNE) and 7.4 (NOVALUES) the node has and the \
                 redis-server this runs against (7.0) may not",
    },
    Difference {
        commands: &["SMEMBERS", "SINTER", "SUNION", "SDIFF"],
        rule: Rule::Unordered,
        reason: "member order is each implementation's own (Redis leaves it unspecified)",
    },
    Difference {
        commands: &["SPOP", "SRANDMEMBER"],
        rule: Rule::RandomPick,
        reason: "random picks; after an SPOP the key is rebuilt on both servers from \
                 redis-server's members",
    },
    Difference {
        commands: &["SSCAN"],
        rule: Rule::CollectedScan,
        reason: "a cursor into a large set encodes each implementation's table layout; \
                 both return every member present throughout",
    },
    Difference {
        commands: &["OBJECT"],
        rule: Rule::SetListpack,
        reason: "probed for the sets and hashes of the key space only (string encodings \
                 are not compared); redis-server 7.0 has no set listpack (Redis 7.2 added \
                 it, and the node follows 7.2's rules): a small set it reports as \
                 hashtable is a listpack on the node; every other encoding must be the same",
    },
    Difference {
        commands: &["SRANDMEMBER -count"],
        rule: Rule::NotGenerated,
        reason: "a negative count below -1000000 is refused (Redis builds a reply of any size)",
    },
    Difference {
        commands: &["HRANDFIELD -count"],
        rule: Rule::NotGenerated,
        reason: "a negative count below -1000000 is refused (Redis builds a reply of any size)",
    },
];

/// Commands per seed in CI.
const CI_COMMANDS: u64 = 5000;
/// Commands between two comparisons of the whole key space.
const STATE_EVERY: u64 = 50;
/// Seeds per run: the last one speaks RESP3.
const SEEDS: u64 = 4;

/// Counts per command for the coverage printout.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    sent: u64,
    exact: u64,
    tolerated: u64,
    errors: u64,
    mismatched: u64,
}

/// A difference found.
struct Mismatch {
    seed: u64,
    index: u64,
    argv: Vec<Vec<u8>>,
    redis: String,
    ours: String,
}

struct Run {
    redis: RawConn,
    ours: RawConn,
    coverage: BTreeMap<String, Counts>,
    mismatches: Vec<Mismatch>,
    /// The transaction state of the connection pair.
    tx: Tx,
    /// Commands whose keys are re-synced once the open transaction ends.
    deferred: Vec<Vec<Vec<u8>>>,
}

impl Run {
    /// Runs `count` commands of sequence `seed`.
    fn sequence(&mut self, seed: u64, count: u64, resp3: bool) {
        for server in [&mut self.redis, &mut self.ours] {
            let protocol = if resp3 { "3" } else { "2" };
            let hello = server.call(&[b"HELLO".to_vec(), protocol.as_bytes().to_vec()]);
            assert!(!hello.is_error(), "HELLO {protocol}: {hello:?}");
            assert_eq!(
                server.call(&[b"FLUSHALL".to_vec()]),
                Frame::Simple(b"OK".to_vec())
            );
        }
        let mut gen = CommandGen::new(seed, unix_secs());
        let mut window: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut state_due = false;
        for index in 0..count {
            let argv = gen.next();
            self.step(seed, index, &argv);
            window.push(argv);
            state_due |= index % STATE_EVERY == STATE_EVERY - 1;
            // Inside MULTI the probes would be queued: after EXEC.
            if state_due && !self.tx.open() {
                self.check_state(seed, index, &window);
                window.clear();
                state_due = false;
            }
        }
        // A sequence may end inside a block.
        for server in [&mut self.redis, &mut self.ours] {
            if self.tx.open() {
                server.call(&[b"DISCARD".to_vec()]);
            }
            server.call(&[b"UNWATCH".to_vec()]);
        }
        self.tx = Tx::default();
        self.resync_deferred();
        self.check_state(seed, count.saturating_sub(1), &window);
    }

    /// Compares EXEC's replies element by element, each by the rule of
    /// the command queued; the keys of a command that differs are
    /// re-synced. Both arrays must have one reply per queued command.
    fn compare_exec(&mut self, queued: &[Vec<Vec<u8>>], redis: &Frame, ours: &Frame) -> Verdict {
        let (Frame::Array(theirs), Frame::Array(mine)) = (redis, ours) else {
            return compare(&[b"EXEC".to_vec()], redis, ours);
        };
        if theirs.len() != queued.len() || mine.len() != queued.len() {
            return Verdict::Different;
        }
        let mut verdict = Verdict::Same;
        for ((argv, a), b) in queued.iter().zip(theirs).zip(mine) {
            match compare(argv, a, b) {
                Verdict::Same => {}
                Verdict::Different => {
                    self.resync(argv);
                    verdict = Verdict::Different;
                }
                tolerated if verdict == Verdict::Same => verdict = tolerated,
                Verdict::Tolerated(_) => {}
            }
        }
        verdict
    }

    fn resync_deferred(&mut self) {
        for argv in std::mem::take(&mut self.deferred) {
            self.resync(&argv);
        }
    }

    /// Compares the whole key space (type, value, TTL of every key), so a
    /// command that answered the same but changed something else is caught
    /// within `STATE_EVERY` commands.
    fn check_state(&mut self, seed: u64, index: u64, window: &[Vec<Vec<u8>>]) {
        let all = [b"KEYS".to_vec(), b"*".to_vec()];
        let (redis, ours) = (self.redis.call(&all), self.ours.call(&all));
        if compare(&all, &redis, &ours) == Verdict::Different {
            self.mismatches.push(Mismatch {
                seed,
                index,
                argv: all.to_vec(),
                redis: redis.show(),
                ours: format!(
                    "{}\n  (state check; the commands since the last check: {})",
                    ours.show(),
                    window
                        .iter()
                        .map(|a| show_argv(a))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ),
            });
        }
        for key in gen::KEYS
            .iter()
            .chain(gen_sets::SET_KEYS)
            .chain(gen_lists::LIST_KEYS)
        {
            let key = key.as_bytes().to_vec();
            let probes = [
                vec![b"TYPE".to_vec(), key.clone()],
                vec![b"GET".to_vec(), key.clone()],
                vec![b"HGETALL".to_vec(), key.clone()],
                vec![b"SMEMBERS".to_vec(), key.clone()],
                vec![
                    b"LRANGE".to_vec(),
                    key.clone(),
                    b"0".to_vec(),
                    b"-1".to_vec(),
                ],
                vec![b"PTTL".to_vec(), key.clone()],
                [&b"ZRANGE"[..], &key, b"0", b"-1", b"WITHSCORES"]
                    .map(<[u8]>::to_vec)
                    .to_vec(),
                vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), key.clone()],
            ];
            let mut kind = Frame::Null;
            for probe in probes {
                let redis = self.redis.call(&probe);
                let ours = self.ours.call(&probe);
                if probe[0] == b"TYPE" {
                    kind = redis.clone();
                }
                if !encoding_matches(&probe, &kind, &redis, &ours) {
                    let recent: Vec<String> = window
                        .iter()
                        .filter(|argv| argv.contains(&key))
                        .map(|argv| show_argv(argv))
                        .collect();
                    self.mismatches.push(Mismatch {
                        seed,
                        index,
                        argv: probe.clone(),
                        redis: redis.show(),
                        ours: format!(
                            "{}\n  (state check; the commands on this key since the last check: {})",
                            ours.show(),
                            recent.join(" | ")
                        ),
                    });
                    self.resync(&probe);
                    break;
                }
            }
        }
    }

    fn step(&mut self, seed: u64, index: u64, argv: &[Vec<u8>]) {
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
        // A scan is collected from cursor 0; another cursor points into
        // each implementation's own layout (compared by shape).
        let cursor_at = if name == "SCAN" { 1 } else { 2 };
        // Inside MULTI a scan is queued: one call.
        let collected = matches!(name.as_str(), "SCAN" | "HSCAN" | "SSCAN" | "ZSCAN")
            && argv.get(cursor_at).map(Vec::as_slice) == Some(b"0")
            && !self.tx.open();
        let (redis, ours, verdict) = if collected {
            let redis = collect_scan(&mut self.redis, argv);
            let ours = collect_scan(&mut self.ours, argv);
            let verdict = match (&redis, &ours) {
                (Ok(a), Ok(b)) if a == b => Verdict::Tolerated(rule_for(&name).map_or(0, |r| r.0)),
                (Err(a), Err(b)) => compare(argv, a, b),
                _ => Verdict::Different,
            };
            let show = |r: &Result<Vec<Vec<Frame>>, Frame>| match r {
                Ok(items) => {
                    let all = Frame::Array(items.iter().flatten().cloned().collect());
                    format!("{} collected: {}", items.len(), all.show())
                }
                Err(frame) => frame.show(),
            };
            (show(&redis), show(&ours), verdict)
        } else {
            let redis = self.redis.call(argv);
            let ours = self.ours.call(argv);
            let verdict = match self.tx.follow(argv, &redis) {
                Step::Exec(queued) => self.compare_exec(&queued, &redis, &ours),
                Step::Ended | Step::Other => compare(argv, &redis, &ours),
            };
            if !self.tx.open() {
                self.resync_deferred();
            }
            if let Verdict::Tolerated(_) = verdict {
                self.resync_float(argv, &redis);
            }
            gen_sets::resync_after_spop(argv, &mut self.redis, &mut self.ours);
            let is_error = redis.is_error();
            self.coverage.entry(name.clone()).or_default().errors += u64::from(is_error);
            (redis.show(), ours.show(), verdict)
        };
        let counts = self.coverage.entry(name).or_default();
        counts.sent += 1;
        match verdict {
            Verdict::Same => counts.exact += 1,
            Verdict::Tolerated(_) => counts.tolerated += 1,
            Verdict::Different => {
                counts.mismatched += 1;
                self.mismatches.push(Mismatch {
                    seed,
                    index,
                    argv: argv.to_vec(),
                    redis,
                    ours,
                });
                if self.tx.open() {
                    self.deferred.push(argv.to_vec());
                } else {
                    self.resync(argv);
                }
            }
        }
    }

    /// After INCRBYFLOAT/HINCRBYFLOAT differed in the last digits, gives
    /// the node redis-server's value so later commands compare equal.
    fn resync_float(&mut self, argv: &[Vec<u8>], redis: &Frame) {
        let Some(value) = redis.bytes() else { return };
        let fix = if argv[0].eq_ignore_ascii_case(b"incrbyfloat") {
            vec![
                b"SET".to_vec(),
                argv[1].clone(),
                value.to_vec(),
                b"KEEPTTL".to_vec(),
            ]
        } else if argv[0].eq_ignore_ascii_case(b"hincrbyfloat") {
            vec![
                b"HSET".to_vec(),
                argv[1].clone(),
                argv[2].clone(),
                value.to_vec(),
            ]
        } else {
            return;
        };
        self.ours.call(&fix);
    }

    /// After a mismatch: deletes the keys the command names on both, so one
    /// difference is reported once, not again by every later command.
    fn resync(&mut self, argv: &[Vec<u8>]) {
        let mut del = vec![b"DEL".to_vec()];
        del.extend(argv[1..].iter().take(8).cloned());
        if del.len() > 1 {
            self.redis.call(&del);
            self.ours.call(&del);
        }
    }
}

/// How a state probe compares: OBJECT ENCODING only for sets (by
/// [`Rule::SetListpack`]) and hashes (exactly), every other probe by
/// [`compare`]. `kind` is redis-server's TYPE of the key.
fn encoding_matches(probe: &[Vec<u8>], kind: &Frame, redis: &Frame, ours: &Frame) -> bool {
    if !probe[0].eq_ignore_ascii_case(b"object") {
        return compare(probe, redis, ours) != Verdict::Different;
    }
    match kind {
        Frame::Simple(t) if t == b"set" => compare(probe, redis, ours) != Verdict::Different,
        Frame::Simple(t) if t == b"hash" => redis == ours,
        _ => true,
    }
}

/// SCAN, HSCAN or SSCAN iterated to cursor 0: the sorted, de-duplicated keys (or
/// field-value pairs), or the first reply when it is not a scan page.
fn collect_scan(server: &mut RawConn, argv: &[Vec<u8>]) -> Result<Vec<Vec<Frame>>, Frame> {
    let cursor_at = if argv[0].eq_ignore_ascii_case(b"scan") {
        1
    } else {
        2
    };
    let hash = argv[0].eq_ignore_ascii_case(b"hscan");
    let mut argv = argv.to_vec();
    let mut found: Vec<Vec<Frame>> = Vec::new();
    for _ in 0..100_000 {
        let reply = server.call(&argv);
        let page = match &reply {
            Frame::Array(page) if page.len() == 2 => page,
            _ => return Err(reply),
        };
        let (Some(cursor), Some(items)) = (page[0].bytes(), page[1].items()) else {
            return Err(reply);
        };
        if hash {
            found.extend(items.chunks(2).map(<[Frame]>::to_vec));
        } else {
            found.extend(items.iter().map(|i| vec![i.clone()]));
        }
        if cursor == b"0" {
            found.sort_by_key(|i| format!("{i:?}"));
            found.dedup();
            return Ok(found);
        }
        argv[cursor_at] = cursor.to_vec();
    }
    panic!("{:?}: SCAN did not end", server.stream.peer_addr());
}

fn print_coverage(coverage: &BTreeMap<String, Counts>, elapsed: Duration) {
    let total: Counts = coverage.values().fold(Counts::default(), |mut t, c| {
        t.sent += c.sent;
        t.exact += c.exact;
        t.tolerated += c.tolerated;
        t.errors += c.errors;
        t.mismatched += c.mismatched;
        t
    });
    eprintln!(
        "differential coverage: {} commands ({} distinct) in {elapsed:.1?}: {} replies identical, \
         {} equal under a documented rule, {} error replies among them, {} mismatches",
        total.sent,
        coverage.len(),
        total.exact,
        total.tolerated,
        total.errors,
        total.mismatched
    );
    eprintln!("  command: sent / identical / by rule / errors / mismatched");
    for (name, c) in coverage {
        eprintln!(
            "  {name}: {} / {} / {} / {} / {}",
            c.sent, c.exact, c.tolerated, c.errors, c.mismatched
        );
    }
}

#[test]
fn replies_match_redis_server() {
    if skip_without_redis("replies_match_redis_server") {
        return;
    }
    let redis = RedisServer::start();
    let major: u32 = redis
        .version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 7 {
        let why = format!("redis-server {} is older than 7", redis.version);
        common::skip_loudly("replies_match_redis_server", &why);
        return;
    }
    let node = TestServer::start();
    let seed = seed_from_env("RINGCACHE_DIFF_SEED");
    let count = count_from_env("RINGCACHE_DIFF_COMMANDS", CI_COMMANDS);
    eprintln!("comparing with redis-server {}", redis.version);
    let started = Instant::now();
    let mut run = Run {
        redis: RawConn::connect(redis.addr),
        ours: RawConn::connect(node.addr),
        coverage: BTreeMap::new(),
        mismatches: Vec::new(),
        tx: Tx::default(),
        deferred: Vec::new(),
    };
    for i in 0..SEEDS {
        run.sequence(mix(seed, i), count, i == SEEDS - 1);
    }
    print_coverage(&run.coverage, started.elapsed());
    let mut report = String::new();
    for m in run.mismatches.iter().take(40) {
        report.push_str(&format!(
            "\n[seed {} #{}] {}\n  redis-server: {}\n  ringcache:    {}",
            m.seed,
            m.index,
            show_argv(&m.argv),
            m.redis,
            m.ours
        ));
    }
    assert!(
        run.mismatches.is_empty(),
        "{} replies differ from redis-server (RINGCACHE_DIFF_SEED={seed}):{report}",
        run.mismatches.len()
    );
}

#[test]
fn documented_differences_name_each_command_once() {
    let mut seen = std::collections::HashSet::new();
    for d in DIFFERENCES {
        assert!(!d.reason.is_empty());
        for c in d.commands {
            assert!(seen.insert(*c), "{c} is listed twice");
        }
    }
    assert!(sorted(&Frame::Int(1)).is_none());
}
