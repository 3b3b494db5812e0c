//! EVAL, EVALSHA, FCALL, SCRIPT and FUNCTION for the fuzzer: scripts and
//! libraries from a fixed vocabulary, every one of which ends quickly (a
//! script that loops would hold every other connection at BUSY), with
//! keys from the pool and random arguments, so the sandbox, the
//! conversions, the libraries and the error paths all run.

use crate::common::random::Gen;

use super::commands::key;

/// Script bodies that end within a few milliseconds, whatever their
/// arguments: calls, errors, conversions, the libraries, shebang flags.
const SCRIPTS: &[&str] = &[
    "return 1",
    "return redis.call('GET', KEYS[1])",
    "return redis.call('SET', KEYS[1], ARGV[1])",
    "return redis.pcall('INCR', KEYS[1])",
    "return redis.call('LPUSH', KEYS[1], ARGV[1], ARGV[2])",
    "return redis.call('HSET', KEYS[1], 'f', ARGV[1])",
    "redis.setresp(3) return redis.call('HGETALL', KEYS[1])",
    "redis.setresp(3) return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')",
    "for i = 1, 50 do redis.call('INCR', KEYS[1]) end return redis.call('GET', KEYS[1])",
    "return {KEYS[1], ARGV[1], 1.5, true, false, {err = 'x'}, {ok = 'y'}, {double = 2.5}}",
    "return {map = {a = ARGV[1]}, set = {b = true}}",
    "return {big_number = ARGV[1]}",
    "return cjson.encode({KEYS, ARGV})",
    "return cjson.decode(ARGV[1])",
    "return cmsgpack.pack(KEYS, ARGV, 1.5, -7)",
    "return {cmsgpack.unpack(ARGV[1])}",
    "return {struct.unpack('>I2', ARGV[1])}",
    "return struct.pack('<i4d', tonumber(ARGV[1]) or 0, 1.5)",
    "return bit.band(tonumber(ARGV[1]) or 0, 7)",
    "return string.rep(ARGV[1], 3)",
    "return redis.sha1hex(ARGV[1])",
    "return redis.error_reply(ARGV[1])",
    "return redis.status_reply(ARGV[1])",
    "return redis.call(ARGV[1])",
    "return redis.call('EVAL', 'return 1', '0')",
    "error(ARGV[1])",
    "return x",
    "x = 1",
    "return redis.call('DEL', KEYS[1], KEYS[2])",
    "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])",
    "#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], 'v')",
    "#!lua flags=allow-oom,allow-cross-slot-keys\nreturn redis.call('SET', KEYS[1], 'v')",
    "#!lua bad\nreturn 1",
    "return (",
];

/// Libraries FUNCTION LOAD gets, and the functions they register.
const LIBRARIES: &[&str] = &[
    "#!lua name=fz\nredis.register_function('fz_get', function(keys) return redis.call('GET', keys[1]) end)\nredis.register_function{function_name='fz_ro', callback=function(keys, args) return {keys[1], args[1]} end, flags={'no-writes'}}",
    "#!lua name=fz2\nredis.register_function('fz_set', function(keys, args) return redis.call('SET', keys[1], args[1] or 'v') end)",
    "#!lua name=fz3\nredis.register_function('fz_err', function() error('boom') end)",
    "#!lua name=fz\nreturn 1",
    "#!lua\nredis.register_function('x', function() end)",
];

const FUNCTIONS: &[&str] = &["fz_get", "fz_ro", "fz_set", "fz_err", "nosuch"];

/// True for the commands only this module builds (a random script body
/// could, in principle, loop for ever).
pub fn is_scripting(name: &str) -> bool {
    matches!(
        name,
        "eval"
            | "eval_ro"
            | "evalsha"
            | "evalsha_ro"
            | "fcall"
            | "fcall_ro"
            | "script"
            | "function"
    )
}

/// A request of command `name` (one of [`is_scripting`]'s).
pub fn argv(g: &mut Gen, name: &str) -> Vec<Vec<u8>> {
    let mut argv = vec![name.as_bytes().to_vec()];
    match name {
        "eval" | "eval_ro" => {
            argv.push(g.pick_bytes(SCRIPTS));
            keys_and_args(g, &mut argv);
        }
        "evalsha" | "evalsha_ro" => {
            let body = *g.pick(SCRIPTS);
            let sha = redis::Script::new(body).get_hash().to_string();
            argv.push(if g.chance(0.8) {
                sha.into_bytes()
            } else {
                g.word(40)
            });
            keys_and_args(g, &mut argv);
        }
        "fcall" | "fcall_ro" => {
            argv.push(g.pick_bytes(FUNCTIONS));
            keys_and_args(g, &mut argv);
        }
        "script" => {
            let sub = *g.pick(&["load", "exists", "flush", "kill", "help", "debug"]);
            argv.push(g.random_case(sub));
            match sub {
                "load" => argv.push(g.pick_bytes(SCRIPTS)),
                "exists" => {
                    let body = *g.pick(SCRIPTS);
                    argv.push(redis::Script::new(body).get_hash().as_bytes().to_vec());
                }
                "flush" if g.chance(0.5) => argv.push(g.pick_bytes(&["sync", "async", "x"])),
                _ => {}
            }
        }
        _ => {
            let sub = *g.pick(&[
                "load", "list", "delete", "flush", "dump", "restore", "kill", "stats", "help",
            ]);
            argv.push(g.random_case(sub));
            match sub {
                "load" => {
                    if g.chance(0.3) {
                        argv.push(b"REPLACE".to_vec());
                    }
                    argv.push(g.pick_bytes(LIBRARIES));
                }
                "list" => {
                    if g.chance(0.5) {
                        argv.push(b"WITHCODE".to_vec());
                    }
                    if g.chance(0.5) {
                        argv.extend([b"LIBRARYNAME".to_vec(), g.pick_bytes(&["fz*", "*", "x"])]);
                    }
                }
                "delete" => argv.push(g.pick_bytes(&["fz", "fz2", "fz3", "nosuch"])),
                "restore" => argv.push(g.value(64)),
                _ => {}
            }
        }
    }
    argv
}

/// `numkeys` (now and then a wrong one), keys from the pool, arguments.
fn keys_and_args(g: &mut Gen, argv: &mut Vec<Vec<u8>>) {
    let keys = g.below(3);
    argv.push(if g.chance(0.9) {
        keys.to_string().into_bytes()
    } else {
        g.small_int(-2, 9)
    });
    for _ in 0..keys {
        argv.push(key(g));
    }
    for _ in 0..g.below(3) {
        argv.push(g.value(64));
    }
}
