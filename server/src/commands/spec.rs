//! What the node knows about a command, as data: name, arity, flags, where
//! its keys are, its ACL categories and how a cluster routes it. One
//! [`CommandSpec`] per command, kept in its family's section of the table;
//! COMMAND, the dispatcher, the router and the fuzzers read nothing else.

use super::subcommands::SubSpec;
use super::{Ctx, Outcome};
use crate::notify::Classes;
use crate::protocol::Args;

/// A command handler: writes the reply through `ctx` and says what it
/// changed.
pub type Handler = fn(&mut Ctx<'_>, Args<'_>) -> Outcome;

/// Command flags, with Redis's names (COMMAND INFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(pub u32);

impl Flags {
    /// No flag.
    pub const NONE: Flags = Flags(0);
    /// May change data.
    pub const WRITE: Flags = Flags(1);
    /// Only reads data.
    pub const READONLY: Flags = Flags(1 << 1);
    /// May grow memory: refused, or evicts first, under maxmemory.
    pub const DENYOOM: Flags = Flags(1 << 2);
    /// Administrative.
    pub const ADMIN: Flags = Flags(1 << 3);
    /// O(1) or O(log n).
    pub const FAST: Flags = Flags(1 << 4);
    /// Allowed before AUTH.
    pub const NO_AUTH: Flags = Flags(1 << 5);
    /// Publish/subscribe.
    pub const PUBSUB: Flags = Flags(1 << 6);
    /// Not allowed in scripts.
    pub const NOSCRIPT: Flags = Flags(1 << 7);
    /// May block the client.
    pub const BLOCKING: Flags = Flags(1 << 8);
    /// Allowed while loading.
    pub const LOADING: Flags = Flags(1 << 9);
    /// Allowed on a stale replica.
    pub const STALE: Flags = Flags(1 << 10);
    /// Not shown by MONITOR.
    pub const SKIP_MONITOR: Flags = Flags(1 << 11);
    /// Not recorded in the slow log.
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 12);
    /// Not allowed inside MULTI.
    pub const NO_MULTI: Flags = Flags(1 << 13);
    /// Allowed while a script runs too long.
    pub const ALLOW_BUSY: Flags = Flags(1 << 14);
    /// Only nodes of the cluster send it (over authenticated peer links);
    /// absent for every other connection.
    pub const PEER: Flags = Flags(1 << 15);
    /// Part of the peer handshake: the one thing a protected-mode
    /// connection from outside may run.
    pub const HANDSHAKE: Flags = Flags(1 << 16);
    /// Runs at once inside MULTI rather than being queued (MULTI, EXEC,
    /// DISCARD, WATCH, QUIT, RESET).
    pub const NOT_QUEUED: Flags = Flags(1 << 17);
    /// Runs other commands as one atomic batch (EXEC): holds the node's
    /// gate alone instead of passing it shared.
    pub const EXCLUSIVE: Flags = Flags(1 << 18);
    /// Allowed in RESP2's subscribed mode besides the (un)subscribe
    /// commands (PING, QUIT, RESET).
    pub const WHILE_SUBSCRIBED: Flags = Flags(1 << 19);
    /// Not a write, yet may make the node replicate or publish something
    /// (EVAL, FCALL, PUBLISH, PFCOUNT): CLIENT PAUSE WRITE holds it.
    /// Redis keeps it internal: COMMAND INFO does not list it.
    pub const MAY_REPLICATE: Flags = Flags(1 << 20);
    /// Runs with no key at all (EVAL, FCALL with `numkeys` 0): COMMAND
    /// GETKEYS answers an empty list rather than an error.
    pub const NO_MANDATORY_KEYS: Flags = Flags(1 << 21);
    /// Takes, fills or ends a key's lease (`RC.LEASE.*`) and checks the
    /// lease table itself: a write that does not end its key's leases
    /// before it runs. Internal: COMMAND INFO does not list it.
    pub const LEASES: Flags = Flags(1 << 22);
    /// A write of one collection key whose result depends only on the
    /// key's state and the arguments (LPUSH, SADD, ZADD, HSET...): a
    /// replica can run it on an equal copy and get the same state, so a
    /// write to a large collection ships as the command
    /// (`cluster::effects`). Internal: COMMAND INFO does not list it.
    pub const REPLAYABLE: Flags = Flags(1 << 23);
    /// A peer command whose arguments are a read it carries (RCTRACK): a
    /// slot's import reads through by that read's key. Internal.
    pub const CARRIES_READ: Flags = Flags(1 << 24);

    /// Both sets.
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// True if every flag of `other` is set.
    #[inline]
    pub const fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Redis's names of the flags set, as COMMAND INFO lists them.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        const NAMES: [(Flags, &str); 16] = [
            (Flags::WRITE, "write"),
            (Flags::READONLY, "readonly"),
            (Flags::DENYOOM, "denyoom"),
            (Flags::ADMIN, "admin"),
            (Flags::PUBSUB, "pubsub"),
            (Flags::NOSCRIPT, "noscript"),
            (Flags::BLOCKING, "blocking"),
            (Flags::LOADING, "loading"),
            (Flags::STALE, "stale"),
            (Flags::SKIP_MONITOR, "skip_monitor"),
            (Flags::SKIP_SLOWLOG, "skip_slowlog"),
            (Flags::FAST, "fast"),
            (Flags::NO_AUTH, "no_auth"),
            (Flags::NO_MANDATORY_KEYS, "no_mandatory_keys"),
            (Flags::NO_MULTI, "no_multi"),
            (Flags::ALLOW_BUSY, "allow_busy"),
        ];
        NAMES
            .into_iter()
            .filter(move |(flag, _)| self.has(*flag))
            .map(|(_, name)| name)
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, other: Flags) -> Flags {
        self.with(other)
    }
}

/// ACL categories, with Redis's names. A command's set is what its table
/// row names plus what its flags imply ([`CommandSpec::categories`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Categories(pub u32);

/// Every category, in Redis's order (ACL CAT).
pub const CATEGORY_NAMES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

impl Categories {
    /// None.
    pub const NONE: Categories = Categories(0);
    /// `@keyspace`
    pub const KEYSPACE: Categories = Categories(1);
    /// `@read`
    pub const READ: Categories = Categories(1 << 1);
    /// `@write`
    pub const WRITE: Categories = Categories(1 << 2);
    /// `@set`
    pub const SET: Categories = Categories(1 << 3);
    /// `@sortedset`
    pub const SORTEDSET: Categories = Categories(1 << 4);
    /// `@list`
    pub const LIST: Categories = Categories(1 << 5);
    /// `@hash`
    pub const HASH: Categories = Categories(1 << 6);
    /// `@string`
    pub const STRING: Categories = Categories(1 << 7);
    /// `@bitmap`
    pub const BITMAP: Categories = Categories(1 << 8);
    /// `@hyperloglog`
    pub const HYPERLOGLOG: Categories = Categories(1 << 9);
    /// `@geo`
    pub const GEO: Categories = Categories(1 << 10);
    /// `@stream`
    pub const STREAM: Categories = Categories(1 << 11);
    /// `@pubsub`
    pub const PUBSUB: Categories = Categories(1 << 12);
    /// `@admin`
    pub const ADMIN: Categories = Categories(1 << 13);
    /// `@fast`
    pub const FAST: Categories = Categories(1 << 14);
    /// `@slow`
    pub const SLOW: Categories = Categories(1 << 15);
    /// `@blocking`
    pub const BLOCKING: Categories = Categories(1 << 16);
    /// `@dangerous`
    pub const DANGEROUS: Categories = Categories(1 << 17);
    /// `@connection`
    pub const CONNECTION: Categories = Categories(1 << 18);
    /// `@transaction`
    pub const TRANSACTION: Categories = Categories(1 << 19);
    /// `@scripting`
    pub const SCRIPTING: Categories = Categories(1 << 20);

    /// Both sets.
    pub const fn with(self, other: Categories) -> Categories {
        Categories(self.0 | other.0)
    }

    /// True if every category of `other` is in this set.
    pub const fn has(self, other: Categories) -> bool {
        self.0 & other.0 == other.0
    }

    /// The category called `name` (without `@`), any case.
    pub fn by_name(name: &str) -> Option<Categories> {
        CATEGORY_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .map(|i| Categories(1 << i))
    }

    /// The names of the categories in this set, in Redis's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        CATEGORY_NAMES
            .into_iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, name)| name)
    }
}

impl std::ops::BitOr for Categories {
    type Output = Categories;
    fn bitor(self, other: Categories) -> Categories {
        self.with(other)
    }
}

/// Where a command's keys are among its arguments.
#[derive(Debug, Clone, Copy)]
pub enum KeySpec {
    /// No keys.
    None,
    /// Keys from `first` to `last` (negative: counted from the end, -1 the
    /// last argument) every `step` arguments, as Redis's legacy triple.
    Range {
        /// Position of the first key.
        first: i32,
        /// Position of the last key.
        last: i32,
        /// Distance between keys.
        step: i32,
    },
    /// Keys found by reading the arguments (a key count, a keyword), as
    /// Redis's "movablekeys" commands; `first`/`last`/`step` are what
    /// COMMAND reports for clients that only read the triple.
    Find {
        /// Finds the positions.
        find: fn(Args<'_>) -> Vec<usize>,
        /// COMMAND's first key.
        first: i32,
        /// COMMAND's last key.
        last: i32,
        /// COMMAND's step.
        step: i32,
    },
}

impl KeySpec {
    /// One key, at position 1.
    pub const ONE: KeySpec = KeySpec::Range {
        first: 1,
        last: 1,
        step: 1,
    };
    /// Every argument from position 1 on.
    pub const ALL: KeySpec = KeySpec::Range {
        first: 1,
        last: -1,
        step: 1,
    };
    /// Key, value pairs from position 1 on.
    pub const PAIRS: KeySpec = KeySpec::Range {
        first: 1,
        last: -1,
        step: 2,
    };
    /// Keys at positions 1 and 2.
    pub const TWO: KeySpec = KeySpec::Range {
        first: 1,
        last: 2,
        step: 1,
    };

    /// COMMAND's (first, last, step) triple.
    pub fn triple(&self) -> (i32, i32, i32) {
        match *self {
            KeySpec::None => (0, 0, 0),
            KeySpec::Range { first, last, step }
            | KeySpec::Find {
                first, last, step, ..
            } => (first, last, step),
        }
    }

    /// True for a command whose key positions depend on its arguments.
    pub fn is_movable(&self) -> bool {
        matches!(self, KeySpec::Find { .. })
    }

    /// The position of the only key of a one-key command (no allocation on
    /// the hot path); `None` for other shapes.
    #[inline]
    pub fn single(&self) -> Option<usize> {
        match *self {
            KeySpec::Range {
                first,
                last,
                step: _,
            } if first == last && first > 0 => Some(first as usize),
            _ => None,
        }
    }

    /// The position of the first key when keys sit at fixed positions
    /// (whatever the arguments); `None` for no keys or movable keys.
    #[inline]
    pub fn first_fixed(&self) -> Option<usize> {
        match *self {
            KeySpec::Range { first, .. } if first > 0 => Some(first as usize),
            _ => None,
        }
    }

    /// The positions of the keys of a request with these arguments
    /// (positions past the end are left out).
    pub fn positions(&self, args: Args<'_>) -> Vec<usize> {
        let argc = args.len();
        match *self {
            KeySpec::None => Vec::new(),
            KeySpec::Range { first, last, step } => {
                let last = if last < 0 {
                    argc as i64 + i64::from(last)
                } else {
                    i64::from(last).min(argc as i64 - 1)
                };
                if first <= 0 || i64::from(first) > last {
                    return Vec::new();
                }
                (first as usize..=last as usize)
                    .step_by(step.max(1) as usize)
                    .collect()
            }
            KeySpec::Find { find, .. } => {
                let mut found = find(args);
                found.retain(|&p| p > 0 && p < argc);
                found
            }
        }
    }
}

/// How the replies of a command split across nodes combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// One array, elements back in request order (MGET).
    Values,
    /// The sum of the integers (DEL, UNLINK, EXISTS, TOUCH).
    Sum,
    /// OK if every part said OK (MSET).
    AllOk,
}

/// How a cluster routes a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// By its keys, which must all be in one slot (one node) or the
    /// request gets CROSSSLOT.
    Slot,
    /// By its keys, split per owning node, the parts' replies merged.
    Split(Merge),
    /// By its keys; when they live on several nodes (proxy mode), the
    /// receiving node gathers copies of them and computes the reply itself
    /// (reads over several keys: SUNION, SINTER, ZUNION, PFCOUNT...).
    Gather,
    /// Keyless, the same answer on any node: run where it arrives.
    AnyNode,
    /// About or for this node only (CLIENT, CONFIG, INFO): run where it
    /// arrives.
    ThisNode,
    /// About the key space as a whole (DBSIZE, KEYS, SCAN, RANDOMKEY,
    /// FLUSHALL, FLUSHDB): run where it arrives, for the slots this node is
    /// primary for, or with `cluster-keyless-scope cluster` (proxy mode)
    /// for the whole cluster, the handler asking every other ring node for
    /// its part (`RCKEYLESS`).
    Keyless,
    /// The cluster layer's own (CLUSTER, READONLY, WAIT, peer commands).
    Cluster,
}

/// The flag sets most rows use, named short so that a table row stays on
/// one line.
pub mod flag_sets {
    use super::Flags as F;

    /// Reads.
    pub const R: F = F::READONLY;
    /// Reads, in constant or logarithmic time.
    pub const RF: F = R.with(F::FAST);
    /// Writes.
    pub const W: F = F::WRITE;
    /// Writes, in constant or logarithmic time.
    pub const WF: F = W.with(F::FAST);
    /// Writes that may grow memory (refused when over `maxmemory`).
    pub const WM: F = W.with(F::DENYOOM);
    /// Writes that may grow memory, in constant or logarithmic time.
    pub const WMF: F = WM.with(F::FAST);
    /// Runs while loading and when stale.
    pub const LS: F = F::LOADING.with(F::STALE);
    /// Administration: not from scripts, runs while loading and when stale.
    pub const ADMIN: F = F::ADMIN.with(F::NOSCRIPT).with(LS);
}

/// Everything the node knows about one command.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// The code that runs it.
    pub handler: Handler,
    /// Redis arity: n exactly, or -n for at least n (the name included).
    pub arity: i32,
    /// Flags.
    pub flags: Flags,
    /// Where its keys are.
    pub keys: KeySpec,
    /// ACL categories besides those its flags imply.
    pub acl: Categories,
    /// How a cluster routes it.
    pub routing: Routing,
    /// COMMAND DOCS group.
    pub group: &'static str,
    /// COMMAND DOCS summary.
    pub summary: &'static str,
    /// Picks the arguments never shown in clear (SLOWLOG, logs): passwords.
    pub redact: Option<fn(Args<'_>, usize) -> bool>,
    /// A container's subcommands (CLIENT KILL, CONFIG GET, ...); a request
    /// with a second argument runs one of them instead of `handler`.
    pub subcommands: &'static [SubSpec],
    /// The keyspace event raised for each key it wrote, when its handler
    /// raises none itself (`Ctx::notify`): the commands whose event does
    /// not depend on what happened.
    pub event: Option<(Classes, &'static str)>,
}

impl CommandSpec {
    /// A command with no keys, run where it arrives, no extra categories:
    /// the other builder methods change that.
    pub const fn new(
        name: &'static str,
        handler: Handler,
        arity: i32,
        flags: Flags,
        group: &'static str,
        summary: &'static str,
    ) -> CommandSpec {
        CommandSpec {
            name,
            handler,
            arity,
            flags,
            keys: KeySpec::None,
            acl: Categories::NONE,
            routing: Routing::AnyNode,
            group,
            summary,
            redact: None,
            subcommands: &[],
            event: None,
        }
    }

    /// The keyspace event raised for each key it writes.
    pub const fn event(mut self, class: Classes, name: &'static str) -> CommandSpec {
        self.event = Some((class, name));
        self
    }

    /// Its subcommands.
    pub const fn subcommands(mut self, subcommands: &'static [SubSpec]) -> CommandSpec {
        self.subcommands = subcommands;
        self
    }

    /// How to pick the arguments never shown in clear.
    pub const fn redact(mut self, redact: fn(Args<'_>, usize) -> bool) -> CommandSpec {
        self.redact = Some(redact);
        self
    }

    /// True if the argument at `position` of a request must not be shown
    /// in clear.
    pub fn redacts(&self, args: Args<'_>, position: usize) -> bool {
        self.redact.is_some_and(|redact| redact(args, position))
    }

    /// Its keys (routed by slot unless `routing` says otherwise).
    pub const fn keys(mut self, keys: KeySpec) -> CommandSpec {
        self.keys = keys;
        self.routing = Routing::Slot;
        self
    }

    /// Its ACL categories besides those its flags imply.
    pub const fn acl(mut self, acl: Categories) -> CommandSpec {
        self.acl = acl;
        self
    }

    /// How a cluster routes it.
    pub const fn routing(mut self, routing: Routing) -> CommandSpec {
        self.routing = routing;
        self
    }

    /// True if every flag of `flags` is set.
    #[inline]
    pub fn has(&self, flags: Flags) -> bool {
        self.flags.has(flags)
    }

    /// Its ACL categories: the row's, plus those its flags imply, as Redis
    /// sets them (write, read but for scripts, admin and dangerous,
    /// pubsub, fast or slow, blocking).
    pub fn categories(&self) -> Categories {
        let mut acl = self.acl;
        let implied = [
            (Flags::WRITE, Categories::WRITE),
            (Flags::READONLY, Categories::READ),
            (Flags::ADMIN, Categories::ADMIN.with(Categories::DANGEROUS)),
            (Flags::PUBSUB, Categories::PUBSUB),
            (Flags::FAST, Categories::FAST),
            (Flags::BLOCKING, Categories::BLOCKING),
        ];
        for (flag, category) in implied {
            if self.flags.has(flag) {
                acl = acl.with(category);
            }
        }
        // Redis leaves read-only scripts (EVAL_RO, FCALL_RO) out of @read.
        if self.acl.has(Categories::SCRIPTING) && !self.flags.has(Flags::WRITE) {
            acl = Categories(acl.0 & !Categories::READ.0);
        }
        if !self.flags.has(Flags::FAST) {
            acl = acl.with(Categories::SLOW);
        }
        acl
    }

    /// True if `argc` arguments (the name included) fit its arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= self.arity.unsigned_abs() as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(_ctx: &mut Ctx<'_>, _args: Args<'_>) -> Outcome {
        Outcome::Unchanged
    }

    #[test]
    fn flags_imply_redis_categories() {
        let get = CommandSpec::new(
            "get",
            outcome,
            2,
            Flags::READONLY | Flags::FAST,
            "string",
            "",
        )
        .acl(Categories::STRING);
        let names: Vec<_> = get.categories().names().collect();
        assert_eq!(names, ["read", "string", "fast"]);
        let flushall = CommandSpec::new("flushall", outcome, -1, Flags::WRITE, "server", "")
            .acl(Categories::KEYSPACE | Categories::DANGEROUS);
        let names: Vec<_> = flushall.categories().names().collect();
        assert_eq!(names, ["keyspace", "write", "slow", "dangerous"]);
        assert_eq!(
            Categories::by_name("SortedSet"),
            Some(Categories::SORTEDSET)
        );
    }

    #[test]
    fn key_positions_follow_the_spec() {
        let buf = b"msetabcd";
        let ranges = [(0, 4), (4, 5), (5, 6), (6, 7), (7, 8)];
        let args = Args::new(buf, &ranges);
        assert_eq!(KeySpec::PAIRS.positions(args), [1, 3]);
        assert_eq!(KeySpec::ALL.positions(args), [1, 2, 3, 4]);
        assert_eq!(KeySpec::TWO.positions(args), [1, 2]);
        assert_eq!(KeySpec::ONE.single(), Some(1));
        assert_eq!(KeySpec::None.positions(args), Vec::<usize>::new());
        let short = Args::new(buf, &ranges[..1]);
        assert!(KeySpec::ONE.positions(short).is_empty());
    }
}
