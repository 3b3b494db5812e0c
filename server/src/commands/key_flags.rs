//! Redis's key-spec flags (COMMAND GETKEYSANDFLAGS): for every command
//! with keys, the flags of its key specs, in Redis's order. The table's
//! rows say where the keys are ([`super::KeySpec`]); this says what each
//! key is to the command: a request's first key takes the first spec's
//! flags and every later key the last spec's (the destination and the
//! sources of LMOVE, ZUNIONSTORE, BITOP, COPY...). Kept apart from the
//! rows, one line per command, so each family's section stays one line
//! per command; a unit test keeps both in step.

use super::args::is;
use crate::protocol::Args;

/// Key-spec flags, Redis's bits and names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFlags(pub u16);

use KeyFlags as K;

impl KeyFlags {
    /// Read-only access.
    pub const RO: K = K(1);
    /// Read and write.
    pub const RW: K = K(1 << 1);
    /// Overwrite: the old value is not read.
    pub const OW: K = K(1 << 2);
    /// Removes the key.
    pub const RM: K = K(1 << 3);
    /// Returns or copies user data.
    pub const ACCESS: K = K(1 << 4);
    /// Updates the value.
    pub const UPDATE: K = K(1 << 5);
    /// Adds data, never changes or removes it.
    pub const INSERT: K = K(1 << 6);
    /// Removes data.
    pub const DELETE: K = K(1 << 7);
    /// Not a key (a shard channel): routed like one.
    pub const NOT_KEY: K = K(1 << 8);
    /// The spec may miss keys.
    pub const INCOMPLETE: K = K(1 << 9);
    /// The flags depend on the arguments.
    pub const VARIABLE: K = K(1 << 10);

    /// Both sets.
    pub const fn with(self, other: K) -> K {
        K(self.0 | other.0)
    }

    /// True if every flag of `other` is set.
    pub const fn has(self, other: K) -> bool {
        self.0 & other.0 == other.0
    }

    /// Redis's names of the flags set, in Redis's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        const NAMES: [(K, &str); 11] = [
            (K::RO, "RO"),
            (K::RW, "RW"),
            (K::OW, "OW"),
            (K::RM, "RM"),
            (K::ACCESS, "access"),
            (K::UPDATE, "update"),
            (K::INSERT, "insert"),
            (K::DELETE, "delete"),
            (K::NOT_KEY, "not_key"),
            (K::INCOMPLETE, "incomplete"),
            (K::VARIABLE, "variable_flags"),
        ];
        NAMES
            .into_iter()
            .filter(move |(flag, _)| self.has(*flag))
            .map(|(_, name)| name)
    }
}

const NOT_KEY: K = K::NOT_KEY;
const OW_INSERT: K = K::OW.with(K::INSERT);
const OW_UPDATE: K = K::OW.with(K::UPDATE);
const RM_DELETE: K = K::RM.with(K::DELETE);
const RO: K = K::RO;
const RO_ACCESS: K = K::RO.with(K::ACCESS);
const RW_ACCESS: K = K::RW.with(K::ACCESS);
const RW_ACCESS_DELETE: K = K::RW.with(K::ACCESS).with(K::DELETE);
const RW_ACCESS_INSERT: K = K::RW.with(K::ACCESS).with(K::INSERT);
const RW_ACCESS_UPDATE: K = K::RW.with(K::ACCESS).with(K::UPDATE);
const RW_ACCESS_UPDATE_VARIABLE: K = K::RW.with(K::ACCESS).with(K::UPDATE).with(K::VARIABLE);
const RW_DELETE: K = K::RW.with(K::DELETE);
const RW_INSERT: K = K::RW.with(K::INSERT);
const RW_UPDATE: K = K::RW.with(K::UPDATE);

/// Every keyed command (a subcommand as `container|name`) and its key
/// specs' flags, sorted by name.
#[rustfmt::skip]
const KEY_FLAGS: &[(&str, &[K])] = &[
    ("append", &[RW_INSERT]),
    ("bitcount", &[RO_ACCESS]),
    ("bitfield", &[RW_ACCESS_UPDATE_VARIABLE]),
    ("bitfield_ro", &[RO_ACCESS]),
    ("bitop", &[OW_UPDATE, RO_ACCESS]),
    ("bitpos", &[RO_ACCESS]),
    ("blmove", &[RW_ACCESS_DELETE, RW_INSERT]),
    ("blmpop", &[RW_ACCESS_DELETE]),
    ("blpop", &[RW_ACCESS_DELETE]),
    ("brpop", &[RW_ACCESS_DELETE]),
    ("brpoplpush", &[RW_ACCESS_DELETE, RW_INSERT]),
    ("bzmpop", &[RW_ACCESS_DELETE]),
    ("bzpopmax", &[RW_ACCESS_DELETE]),
    ("bzpopmin", &[RW_ACCESS_DELETE]),
    ("copy", &[RO_ACCESS, OW_UPDATE]),
    ("decr", &[RW_ACCESS_UPDATE]),
    ("decrby", &[RW_ACCESS_UPDATE]),
    ("del", &[RM_DELETE]),
    ("eval", &[RW_ACCESS_UPDATE]),
    ("eval_ro", &[RO_ACCESS]),
    ("evalsha", &[RW_ACCESS_UPDATE]),
    ("evalsha_ro", &[RO_ACCESS]),
    ("exists", &[RO]),
    ("expire", &[RW_UPDATE]),
    ("expireat", &[RW_UPDATE]),
    ("expiretime", &[RO_ACCESS]),
    ("fcall", &[RW_ACCESS_UPDATE]),
    ("fcall_ro", &[RO_ACCESS]),
    ("get", &[RO_ACCESS]),
    ("getbit", &[RO_ACCESS]),
    ("getdel", &[RW_ACCESS_DELETE]),
    ("getex", &[RW_ACCESS_UPDATE]),
    ("getrange", &[RO_ACCESS]),
    ("getset", &[RW_ACCESS_UPDATE]),
    ("hdel", &[RW_DELETE]),
    ("hexists", &[RO]),
    ("hget", &[RO_ACCESS]),
    ("hgetall", &[RO_ACCESS]),
    ("hincrby", &[RW_ACCESS_UPDATE]),
    ("hincrbyfloat", &[RW_ACCESS_UPDATE]),
    ("hkeys", &[RO_ACCESS]),
    ("hlen", &[RO]),
    ("hmget", &[RO_ACCESS]),
    ("hmset", &[RW_UPDATE]),
    ("hrandfield", &[RO_ACCESS]),
    ("hscan", &[RO_ACCESS]),
    ("hset", &[RW_UPDATE]),
    ("hsetnx", &[RW_INSERT]),
    ("hstrlen", &[RO]),
    ("hvals", &[RO_ACCESS]),
    ("incr", &[RW_ACCESS_UPDATE]),
    ("incrby", &[RW_ACCESS_UPDATE]),
    ("incrbyfloat", &[RW_ACCESS_UPDATE]),
    ("lcs", &[RO_ACCESS]),
    ("lindex", &[RO_ACCESS]),
    ("linsert", &[RW_INSERT]),
    ("llen", &[RO]),
    ("lmove", &[RW_ACCESS_DELETE, RW_INSERT]),
    ("lmpop", &[RW_ACCESS_DELETE]),
    ("lpop", &[RW_ACCESS_DELETE]),
    ("lpos", &[RO_ACCESS]),
    ("lpush", &[RW_INSERT]),
    ("lpushx", &[RW_INSERT]),
    ("lrange", &[RO_ACCESS]),
    ("lrem", &[RW_DELETE]),
    ("lset", &[RW_UPDATE]),
    ("ltrim", &[RW_DELETE]),
    ("memory|usage", &[RO]),
    ("mget", &[RO_ACCESS]),
    ("move", &[RW_ACCESS_UPDATE]),
    ("mset", &[OW_UPDATE]),
    ("msetnx", &[OW_INSERT]),
    ("object|encoding", &[RO]),
    ("object|freq", &[RO]),
    ("object|idletime", &[RO]),
    ("object|refcount", &[RO]),
    ("persist", &[RW_UPDATE]),
    ("pexpire", &[RW_UPDATE]),
    ("pexpireat", &[RW_UPDATE]),
    ("pexpiretime", &[RO_ACCESS]),
    ("pfadd", &[RW_INSERT]),
    ("pfcount", &[RW_ACCESS]),
    ("pfmerge", &[RW_ACCESS_INSERT, RO_ACCESS]),
    ("psetex", &[OW_UPDATE]),
    ("pttl", &[RO_ACCESS]),
    ("rc.lease.fill", &[OW_INSERT]),
    ("rc.lease.get", &[RW_ACCESS]),
    ("rc.lease.release", &[RW_UPDATE]),
    ("rename", &[RW_ACCESS_DELETE, OW_UPDATE]),
    ("renamenx", &[RW_ACCESS_DELETE, OW_INSERT]),
    ("rpop", &[RW_ACCESS_DELETE]),
    ("rpoplpush", &[RW_ACCESS_DELETE, RW_INSERT]),
    ("rpush", &[RW_INSERT]),
    ("rpushx", &[RW_INSERT]),
    ("sadd", &[RW_INSERT]),
    ("scard", &[RO]),
    ("sdiff", &[RO_ACCESS]),
    ("sdiffstore", &[OW_UPDATE, RO_ACCESS]),
    ("set", &[RW_ACCESS_UPDATE_VARIABLE]),
    ("setbit", &[RW_ACCESS_UPDATE]),
    ("setex", &[OW_UPDATE]),
    ("setnx", &[OW_INSERT]),
    ("setrange", &[RW_UPDATE]),
    ("sinter", &[RO_ACCESS]),
    ("sintercard", &[RO_ACCESS]),
    ("sinterstore", &[RW_UPDATE, RO_ACCESS]),
    ("sismember", &[RO]),
    ("smembers", &[RO_ACCESS]),
    ("smismember", &[RO_ACCESS]),
    ("smove", &[RW_ACCESS_DELETE, RW_INSERT]),
    ("spop", &[RW_ACCESS_DELETE]),
    ("spublish", &[NOT_KEY]),
    ("srandmember", &[RO_ACCESS]),
    ("srem", &[RW_DELETE]),
    ("sscan", &[RO_ACCESS]),
    ("ssubscribe", &[NOT_KEY]),
    ("strlen", &[RO]),
    ("substr", &[RO_ACCESS]),
    ("sunion", &[RO_ACCESS]),
    ("sunionstore", &[OW_UPDATE, RO_ACCESS]),
    ("sunsubscribe", &[NOT_KEY]),
    ("touch", &[RO]),
    ("ttl", &[RO_ACCESS]),
    ("type", &[RO]),
    ("unlink", &[RM_DELETE]),
    ("watch", &[RO]),
    ("zadd", &[RW_UPDATE]),
    ("zcard", &[RO]),
    ("zcount", &[RO_ACCESS]),
    ("zdiff", &[RO_ACCESS]),
    ("zdiffstore", &[OW_UPDATE, RO_ACCESS]),
    ("zincrby", &[RW_ACCESS_UPDATE]),
    ("zinter", &[RO_ACCESS]),
    ("zintercard", &[RO_ACCESS]),
    ("zinterstore", &[OW_UPDATE, RO_ACCESS]),
    ("zlexcount", &[RO_ACCESS]),
    ("zmpop", &[RW_ACCESS_DELETE]),
    ("zmscore", &[RO_ACCESS]),
    ("zpopmax", &[RW_ACCESS_DELETE]),
    ("zpopmin", &[RW_ACCESS_DELETE]),
    ("zrandmember", &[RO_ACCESS]),
    ("zrange", &[RO_ACCESS]),
    ("zrangebylex", &[RO_ACCESS]),
    ("zrangebyscore", &[RO_ACCESS]),
    ("zrangestore", &[OW_UPDATE, RO_ACCESS]),
    ("zrank", &[RO_ACCESS]),
    ("zrem", &[RW_DELETE]),
    ("zremrangebylex", &[RW_DELETE]),
    ("zremrangebyrank", &[RW_DELETE]),
    ("zremrangebyscore", &[RW_DELETE]),
    ("zrevrange", &[RO_ACCESS]),
    ("zrevrangebylex", &[RO_ACCESS]),
    ("zrevrangebyscore", &[RO_ACCESS]),
    ("zrevrank", &[RO_ACCESS]),
    ("zscan", &[RO_ACCESS]),
    ("zscore", &[RO_ACCESS]),
    ("zunion", &[RO_ACCESS]),
    ("zunionstore", &[OW_UPDATE, RO_ACCESS]),
];

/// The key specs' flags of the command `name` (`container|name` for a
/// subcommand); `None` for a command without key specs.
pub fn specs(name: &str) -> Option<&'static [K]> {
    KEY_FLAGS
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| KEY_FLAGS[i].1)
}

/// The flags of the key at the `nth` key position of a request (`args`,
/// the command name first) for a command with `specs`, resolved as
/// Redis's key-finding procedures do for SET and BITFIELD.
pub fn flags_of_key(name: &str, specs: &[K], nth: usize, args: Args<'_>) -> K {
    let flags = specs[nth.min(specs.len().saturating_sub(1))];
    if !flags.has(K::VARIABLE) {
        return flags;
    }
    match name {
        // SET ... GET reads the old value.
        "set" if args.iter_from(3).any(|a| is(a, "get")) => RW_ACCESS_UPDATE,
        "set" => OW_UPDATE,
        "bitfield" if bitfield_reads_only(args) => RO_ACCESS,
        _ => RW_ACCESS_UPDATE,
    }
}

/// True if every operation of a BITFIELD request is a GET (Redis reads
/// anything it cannot parse as a write).
fn bitfield_reads_only(args: Args<'_>) -> bool {
    let mut i = 2;
    while i < args.len() {
        let left = args.len() - i - 1;
        let op = args.get(i);
        if is(op, "get") && left >= 2 {
            i += 3;
        } else if is(op, "overflow") && left >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{listed, KeySpec};

    #[test]
    fn the_table_is_sorted_and_names_keyed_commands() {
        assert!(KEY_FLAGS.windows(2).all(|w| w[0].0 < w[1].0));
        let mut keyed = Vec::new();
        for spec in listed() {
            if !matches!(spec.keys, KeySpec::None) {
                keyed.push(spec.name.to_owned());
            }
            for sub in spec.subcommands {
                if !matches!(sub.command.keys, KeySpec::None) {
                    keyed.push(format!("{}|{}", spec.name, sub.name()));
                }
            }
        }
        for name in &keyed {
            assert!(
                specs(name).is_some(),
                "{name} has keys but no key-spec flags"
            );
        }
        // Shard channels are routed as keys where the table says so.
        for (name, flags) in KEY_FLAGS.iter().filter(|(_, f)| !f[0].has(K::NOT_KEY)) {
            assert!(
                keyed.iter().any(|k| k == name),
                "{name} has key-spec flags but no keys {flags:?}"
            );
        }
    }
}
