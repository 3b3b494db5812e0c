//! Lua scripts for the differential sequences: EVAL, EVALSHA (by the
//! body's SHA1, upper or lower case, loaded or not), their `_RO` forms,
//! SCRIPT LOAD/EXISTS/FLUSH, over a small set of bodies that call
//! redis.call and redis.pcall on generated keys and return every Lua type
//! (integers, floats, strings, nested tables, nil and false, status and
//! error tables, raised errors), with right and wrong key counts.

use sha1::{Digest, Sha1};

use crate::gen::CommandGen;

/// Script bodies; KEYS[1], KEYS[2] and ARGV[1] come from the generator.
pub const BODIES: &[&str] = &[
    "return redis.call('GET', KEYS[1])",
    "return redis.call('INCRBY', KEYS[1], ARGV[1])",
    "return redis.pcall('INCRBY', KEYS[1], ARGV[1])",
    "return redis.call('LRANGE', KEYS[1], 0, -1)",
    "return {1, 2.5, -3.99, 'x', {ARGV[1], {}}, false, true}",
    "return {1, 2, nil, 4}",
    "return {ok = ARGV[1]}",
    "return {err = 'ERR custom ' .. ARGV[1]}",
    "return redis.error_reply('MYERR ' .. ARGV[1])",
    "return redis.status_reply('DONE')",
    "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('STRLEN', KEYS[1])",
    "return redis.call('EXISTS', KEYS[1], KEYS[2])",
    "return tonumber(ARGV[1])",
    "local n = redis.call('LPUSH', KEYS[1], ARGV[1]) return {n, redis.call('LLEN', KEYS[1])}",
    "return redis.call('TYPE', KEYS[1])",
    "return redis.call('ZSCORE', KEYS[1], ARGV[1])",
    "redis.setresp(3) return redis.call('ZSCORE', KEYS[1], ARGV[1])",
    "return {redis.call('HSET', KEYS[1], 'f', ARGV[1]), redis.call('HGET', KEYS[1], 'f')}",
    "return redis.call('NOSUCH', KEYS[1])",
    "return nil",
    "return 3.99",
    "error('boom')",
    "local r = redis.pcall('HINCRBY', KEYS[1], 'n', ARGV[1]) \
     if type(r) == 'table' then return r['err'] end return r",
    "return redis.call('DEL', KEYS[1], KEYS[2])",
    "return redis.call('MGET', KEYS[1], KEYS[2])",
];

/// How many keys each body reads (the others are passed as ARGV).
fn keys_of(body: &str) -> usize {
    if body.contains("KEYS[2]") {
        2
    } else {
        usize::from(body.contains("KEYS[1]"))
    }
}

/// The lower-case hex SHA1 of `body`, as SCRIPT LOAD answers.
pub fn sha1_hex(body: &str) -> String {
    Sha1::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One scripting command.
pub fn command(gen: &mut CommandGen) -> Vec<Vec<u8>> {
    let body = *gen.g().pick(BODIES);
    match gen.g().below(20) {
        0 => vec![
            b"SCRIPT".to_vec(),
            b"LOAD".to_vec(),
            body.as_bytes().to_vec(),
        ],
        1 => {
            let other = *gen.g().pick(BODIES);
            [b"SCRIPT".to_vec(), b"EXISTS".to_vec()]
                .into_iter()
                .chain([sha1_hex(body), sha1_hex(other)].map(String::into_bytes))
                .collect()
        }
        2 if gen.g().chance(0.3) => vec![b"SCRIPT".to_vec(), b"FLUSH".to_vec()],
        3..=10 => {
            let mut sha = sha1_hex(body);
            if gen.g().chance(0.2) {
                sha = sha.to_ascii_uppercase();
            }
            let name = if gen.g().chance(0.15) {
                "EVALSHA_RO"
            } else {
                "EVALSHA"
            };
            invocation(gen, name, sha.into_bytes(), keys_of(body))
        }
        _ => {
            let name = if gen.g().chance(0.15) {
                "EVAL_RO"
            } else {
                "EVAL"
            };
            invocation(gen, name, body.as_bytes().to_vec(), keys_of(body))
        }
    }
}

/// NAME script numkeys key... arg, the key count now and then wrong.
fn invocation(gen: &mut CommandGen, name: &str, script: Vec<u8>, keys: usize) -> Vec<Vec<u8>> {
    let mut argv = vec![name.as_bytes().to_vec(), script];
    let numkeys = if gen.g().chance(0.05) {
        gen.g().pick_bytes(&["-1", "x", "9", "1.5", ""])
    } else {
        keys.to_string().into_bytes()
    };
    argv.push(numkeys);
    for _ in 0..keys {
        argv.push(gen.any_key());
    }
    let value = if gen.g().chance(0.5) {
        gen.g().small_int(-5, 20)
    } else {
        gen.any_value()
    };
    argv.push(value);
    argv
}
