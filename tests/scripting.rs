//! Lua scripting end to end: the `redis` crate's `Script` (EVALSHA with
//! its EVAL fallback), exact wire shapes of script replies in RESP2 and
//! RESP3, the same replies as a real redis-server for conversions, the
//! sandbox, the libraries and errors, BUSY and SCRIPT KILL with a looping
//! script, atomicity against a concurrent client, memory, and a cluster
//! (scripts run on their slot's owner, their writes replicated, SCRIPT
//! LOAD reaching every node).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use common::redis_server::{assert_same_replies, RedisServer};
use common::{q, TestServer, DEADLINE};

#[test]
fn the_redis_crate_script_falls_back_to_eval() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let script = redis::Script::new(
        "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[2], ARGV[2])",
    );
    // Not cached yet: EVALSHA answers NOSCRIPT and the crate sends EVAL.
    let n: i64 = script
        .key("name")
        .key("count")
        .arg("ada")
        .arg(5)
        .invoke(&mut conn)
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(q::<String>(&mut conn, &["GET", "name"]), "ada");
    let cached: Vec<i64> = q(&mut conn, &["SCRIPT", "EXISTS", script.get_hash()]);
    assert_eq!(cached, [1]);
    // Cached: EVALSHA runs it; after a flush the fallback again.
    let n: i64 = script
        .key("x")
        .key("count")
        .arg("y")
        .arg(1)
        .invoke(&mut conn)
        .unwrap();
    assert_eq!(n, 6);
    let _: () = q(&mut conn, &["SCRIPT", "FLUSH"]);
    let n: i64 = script
        .key("x")
        .key("count")
        .arg("y")
        .arg(1)
        .invoke(&mut conn)
        .unwrap();
    assert_eq!(n, 7);
    // SCRIPT LOAD answers the SHA1 the crate computes.
    let sha: String = q(&mut conn, &["SCRIPT", "LOAD", "return 1"]);
    assert_eq!(sha, redis::Script::new("return 1").get_hash());
    assert_eq!(
        q::<i64>(&mut conn, &["EVALSHA", &sha.to_uppercase(), "0"]),
        1
    );
}

/// As Redis 7.4: EVAL's cache keeps its 500 most recently used scripts;
/// SCRIPT LOAD's stay.
#[test]
fn eval_keeps_its_most_recently_used_scripts_and_script_load_keeps_all() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let loaded: String = q(&mut conn, &["SCRIPT", "LOAD", "return 'loaded'"]);
    let first = "return 'first'";
    let _: String = q(&mut conn, &["EVAL", first, "0"]);
    let first_sha = sha1_of(first);
    let kept = "return 'kept'";
    let _: String = q(&mut conn, &["EVAL", kept, "0"]);
    let mut pipe = redis::pipe();
    for n in 0..499 {
        pipe.cmd("EVAL").arg(format!("return {n}")).arg(0);
        if n == 250 {
            // Used again: now more recent than `first`.
            pipe.cmd("EVAL").arg(kept).arg(0);
        }
    }
    let _: Vec<redis::Value> = pipe.query(&mut conn).unwrap();
    let exists: Vec<i64> = q(
        &mut conn,
        &[
            "SCRIPT",
            "EXISTS",
            &first_sha,
            &sha1_of(kept),
            &loaded,
            &sha1_of("return 498"),
        ],
    );
    assert_eq!(exists, [0, 1, 1, 1]);
    let missing = redis::cmd("EVALSHA")
        .arg(&first_sha)
        .arg(0)
        .query::<String>(&mut conn)
        .unwrap_err();
    assert_eq!(missing.code(), Some("NOSCRIPT"));
    let again: String = q(&mut conn, &["EVALSHA", &loaded, "0"]);
    assert_eq!(again, "loaded");
}

/// cjson with its depth limits raised past what Lua's stack holds answers
/// its nesting errors (as Redis's does near 8,000 levels), not a stack
/// overflow, and the node goes on.
#[test]
fn cjson_nesting_stops_with_its_own_error_whatever_the_depth_setting() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let decode = "cjson.decode_max_depth(1000000) return cjson.decode(ARGV[1])";
    let error = redis::cmd("EVAL")
        .arg(decode)
        .arg(0)
        .arg(&deep)
        .query::<redis::Value>(&mut conn)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("Found too many nested data structures (7901) at character 7901"),
        "{error}"
    );
    let encode = "cjson.encode_max_depth(1000000) local t = {} t[1] = t return cjson.encode(t)";
    let error = redis::cmd("EVAL")
        .arg(encode)
        .arg(0)
        .query::<redis::Value>(&mut conn)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("Cannot serialise, excessive nesting (7900)"),
        "{error}"
    );
    let nested = format!("{}{}", "[".repeat(7_900), "]".repeat(7_900));
    let depth: i64 = redis::cmd("EVAL")
        .arg("cjson.decode_max_depth(1000000) local v = cjson.decode(ARGV[1]) local n = 0 while type(v) == 'table' do n = n + 1 v = v[1] end return n")
        .arg(0)
        .arg(&nested)
        .query(&mut conn)
        .unwrap();
    assert_eq!(depth, 7_900);
    assert_eq!(q::<String>(&mut conn, &["PING"]), "PONG");
}

/// A script's SHA as SCRIPT LOAD names it.
fn sha1_of(body: &str) -> String {
    redis::Script::new(body).get_hash().to_string()
}

#[test]
fn replies_have_redis_wire_shapes() {
    let node = TestServer::start();
    let mut raw = node.raw();
    raw.assert_replies(&[
        (&["HSET", "h", "f", "v"], ":1\r\n"),
        (
            &["EVAL", "return {1, 'two', {3}, true, false}", "0"],
            "*5\r\n:1\r\n$3\r\ntwo\r\n*1\r\n:3\r\n:1\r\n$-1\r\n",
        ),
        (&["EVAL", "return {ok='fine'}", "0"], "+fine\r\n"),
        (&["EVAL", "return {err='CODE text'}", "0"], "-CODE text\r\n"),
        (&["EVAL", "return 3.99", "0"], ":3\r\n"),
        (
            &["EVAL", "return {double=0.1}", "0"],
            "$19\r\n0.10000000000000001\r\n",
        ),
        (&["EVAL", "return nil", "0"], "$-1\r\n"),
        (
            &["EVAL", "return redis.call('HGETALL', 'h')", "0"],
            "*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
        ),
    ]);
    assert!(!raw.hello(3).is_error());
    raw.assert_replies(&[
        (&["EVAL", "return nil", "0"], "_\r\n"),
        (&["EVAL", "return false", "0"], "_\r\n"),
        (&["EVAL", "redis.setresp(3); return false", "0"], "#f\r\n"),
        (&["EVAL", "return {double=1.5}", "0"], ",1.5\r\n"),
        (
            &["EVAL", "return {map={a=1}}", "0"],
            "%1\r\n$1\r\na\r\n:1\r\n",
        ),
        (&["EVAL", "return {set={a=true}}", "0"], "~1\r\n$1\r\na\r\n"),
        (&["EVAL", "return {big_number='123'}", "0"], "(123\r\n"),
        (
            &[
                "EVAL",
                "redis.setresp(3); return redis.call('HGETALL', 'h')",
                "0",
            ],
            "%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
        ),
        (
            &[
                "EVAL",
                "redis.setresp(3); return redis.call('HGETALL', 'h').map.f",
                "0",
            ],
            "$1\r\nv\r\n",
        ),
    ]);
}

#[test]
fn pipelined_requests_wait_for_the_script() {
    let node = TestServer::start();
    let mut raw = node.raw();
    let replies = raw.pipeline(&[
        vec![
            "EVAL",
            "redis.call('SET', KEYS[1], 'from-script'); return 1",
            "1",
            "k",
        ],
        vec!["GET", "k"],
        vec!["EVAL", "return redis.call('GET', KEYS[1])", "1", "k"],
    ]);
    assert_eq!(replies[1].bytes(), Some(&b"from-script"[..]));
    assert_eq!(replies[2].bytes(), Some(&b"from-script"[..]));
    // A script inside MULTI runs with the transaction.
    raw.assert_replies(&[
        (&["MULTI"], "+OK\r\n"),
        (
            &["EVAL", "return redis.call('INCR', KEYS[1])", "1", "n"],
            "+QUEUED\r\n",
        ),
        (&["INCR", "n"], "+QUEUED\r\n"),
        (&["EXEC"], "*2\r\n:1\r\n:2\r\n"),
    ]);
}

#[test]
fn script_writes_touch_watches_and_wake_blocked_clients() {
    let node = TestServer::start();
    let mut tx = node.raw();
    let mut other = node.raw();
    assert_eq!(tx.roundtrip(&["WATCH", "w"]), b"+OK\r\n");
    assert_eq!(
        other.roundtrip(&["EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "w"]),
        b"+OK\r\n"
    );
    assert_eq!(tx.roundtrip(&["MULTI"]), b"+OK\r\n");
    assert_eq!(tx.roundtrip(&["SET", "w", "mine"]), b"+QUEUED\r\n");
    assert_eq!(
        tx.roundtrip(&["EXEC"]),
        b"*-1\r\n",
        "the script's write aborts EXEC"
    );
    // A push from a script serves a client blocked on the list.
    let mut blocked = node.raw();
    blocked.send_command(&["BLPOP", "list", "0"]);
    let mut conn = node.conn();
    assert!(common::eventually(DEADLINE, || {
        common::info_u64(&mut conn, "blocked_clients") == 1
    }));
    let pushed = other.roundtrip(&[
        "EVAL",
        "return redis.call('RPUSH', KEYS[1], 'a')",
        "1",
        "list",
    ]);
    assert_eq!(pushed, b":1\r\n");
    let served = blocked.reply();
    assert_eq!(served.items().map(|i| i.len()), Some(2));
}

#[test]
fn scripts_are_atomic_for_other_clients() {
    let node = TestServer::start();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut conn = node.conn();
        let stop = stop.clone();
        thread::spawn(move || {
            let mut writes = 0u64;
            while !stop.load(Ordering::Relaxed) && writes < 1_000_000 {
                let _: () = q(&mut conn, &["SET", "shared", "theirs"]);
                writes += 1;
            }
        })
    };
    let mut conn = node.conn();
    let script = redis::Script::new(
        "redis.call('SET', KEYS[1], ARGV[1])
         for i = 1, 20000 do end
         local first = redis.call('GET', KEYS[1])
         redis.call('APPEND', KEYS[1], '!')
         return {first, redis.call('GET', KEYS[1])}",
    );
    for round in 0..200 {
        let mine = format!("mine-{round}");
        let (first, second): (String, String) =
            script.key("shared").arg(&mine).invoke(&mut conn).unwrap();
        assert_eq!(first, mine, "another client ran inside the script");
        assert_eq!(second, format!("{mine}!"));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}

/// A script that loops until SCRIPT KILL (or at most a minute).
const LOOP: &str = "local t = redis.call('TIME') local stop = tonumber(t[1]) + 60 \
                    while tonumber(redis.call('TIME')[1]) < stop do end return 'ended'";

/// Waits until `raw` is answered BUSY (the script has run past the
/// threshold); returns that reply.
fn wait_busy(raw: &mut common::RawConn) -> Vec<u8> {
    let mut busy = Vec::new();
    assert!(
        common::eventually(DEADLINE, || {
            busy = raw.roundtrip(&["GET", "x"]);
            busy.starts_with(b"-BUSY")
        }),
        "never BUSY: {}",
        String::from_utf8_lossy(&busy)
    );
    busy
}

#[test]
fn busy_past_the_threshold_and_script_kill() {
    let node = TestServer::builder()
        .set("busy-reply-threshold", "100")
        .start();
    let mut other = node.raw();
    assert_eq!(
        other.roundtrip(&["SCRIPT", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    // A script that only reads can be killed.
    let mut looping = node.raw();
    looping.send_command(&["EVAL", LOOP, "0"]);
    let busy = wait_busy(&mut other);
    assert_eq!(
        busy,
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(
        other.roundtrip(&["FUNCTION", "KILL"]),
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(other.roundtrip(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let killed = looping.reply().error_text().unwrap_or_default();
    assert!(
        killed.starts_with("ERR Script killed by user with SCRIPT KILL... script: "),
        "{killed}"
    );
    assert_eq!(other.roundtrip(&["GET", "x"]), b"$-1\r\n");

    // A script that wrote cannot be killed; it ends on its own.
    let bounded = "redis.call('SET', 'x', 'w') local stop = tonumber(redis.call('TIME')[1]) + 2 \
                   while tonumber(redis.call('TIME')[1]) < stop do end return 'done'";
    looping.send_command(&["EVAL", bounded, "0"]);
    wait_busy(&mut other);
    let refused = other.roundtrip(&["SCRIPT", "KILL"]);
    assert!(refused.starts_with(b"-UNKILLABLE Sorry the script already executed write commands"));
    assert_eq!(looping.reply().bytes(), Some(&b"done"[..]));
    assert_eq!(other.roundtrip(&["GET", "x"]), b"$1\r\nw\r\n");
}

#[test]
fn writes_refused_over_maxmemory_as_redis() {
    let node = TestServer::builder()
        .set("maxmemory", "1")
        .set("maxmemory-policy", "noeviction")
        .start();
    let mut raw = node.raw();
    let oom = "OOM command not allowed when used memory > 'maxmemory'.";
    let reply = raw.roundtrip(&["EVAL", "return redis.call('SET', 'a', 'b')", "0"]);
    assert!(
        reply.starts_with(format!("-{oom} script: ").as_bytes()),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    raw.assert_replies(&[
        (&["EVAL", "return redis.call('GET', 'a')", "0"], "$-1\r\n"),
        (
            &["EVAL", "#!lua\nreturn redis.call('GET', 'a')", "0"],
            &format!("-{oom}\r\n"),
        ),
        (
            &[
                "EVAL",
                "#!lua flags=no-writes\nreturn redis.call('GET', 'a')",
                "0",
            ],
            "$-1\r\n",
        ),
        (
            &[
                "EVAL",
                "#!lua flags=allow-oom\nreturn redis.call('SET', 'a', 'b')",
                "0",
            ],
            "+OK\r\n",
        ),
        (
            &["EVAL", "return redis.pcall('SET', 'a', 'c')", "0"],
            &format!("-{oom}\r\n"),
        ),
    ]);
}

/// Sessions both servers must answer byte for byte alike.
const SESSIONS: &[&[&[&str]]] = &[
    // Errors and their wording.
    &[
        &["EVAL", "return x", "0"],
        &["EVAL", "return redis.call('nosuch')", "0"],
        &["EVAL", "error('boom')", "0"],
        &["EVAL", "error({err='CUSTOM x'})", "0"],
        &["EVAL", "error()", "0"],
        &["EVAL", "return redis.error_reply('MY err')", "0"],
        &["EVAL", "return redis.error_reply('err')", "0"],
        &["EVAL", "return redis.pcall('nosuch')", "0"],
        &["EVALSHA", "0123456789012345678901234567890123456789", "0"],
        &["EVALSHA", "abc", "0"],
        &["EVAL", "return 1", "-1"],
        &["EVAL", "return 1", "3", "a"],
        &["EVAL", "return 1", "x"],
        &["EVAL_RO", "return redis.call('SET', 'a', 'b')", "1", "a"],
        &["EVAL", " syntax error", "0"],
        &["EVAL", "return redis.call('GET')", "0"],
        &["EVAL", "return redis.call('GET', {})", "0"],
        &["EVAL", "return redis.call()", "0"],
        &["EVAL", "return redis.call('EVAL', 'return 1', '0')", "0"],
        &["EVAL", "return redis.call('MULTI')", "0"],
        &["EVAL", "return redis.call('BLPOP', 'l', '0')", "0"],
        &[
            "EVAL",
            "local ok, e = pcall(redis.call, 'nosuch'); return e",
            "0",
        ],
        &[
            "EVAL",
            "local ok, e = pcall(function() local x = nil + 1 end); return e",
            "0",
        ],
        &[
            "EVAL",
            "\nlocal function f()\n  return redis.call('nosuch')\nend\nreturn f()",
            "0",
        ],
        &["EVAL", "redis.log(99, 'x')", "0"],
        &["EVAL", "redis.log(1)", "0"],
        &["EVAL", "return redis.setresp(4)", "0"],
        &["EVAL", "return redis.set_repl(99)", "0"],
        &["EVAL", "return redis.sha1hex()", "0"],
        &["EVAL", "return redis.status_reply()", "0"],
        &["EVAL", "#!lua flags=bad\nreturn 1", "0"],
        &["EVAL", "#!luax\nreturn 1", "0"],
        &["EVAL", "#!lua\nreturn x", "0"],
        &["EVAL_RO", "#!lua\nreturn 1", "0"],
        &["SCRIPT", "FLUSH", "bad"],
        &["SCRIPT", "LOAD", "syntax error"],
        &["SCRIPT", "KILL", "x"],
    ],
    // The sandbox.
    &[
        &["EVAL", "x = 1", "0"],
        &["EVAL", "_G.x = 5", "0"],
        &["EVAL", "rawset(_G, 'x', 5) return x", "0"],
        &["EVAL", "setmetatable(_G, nil)", "0"],
        &["EVAL", "getmetatable(_G).__newindex = nil", "0"],
        &["EVAL", "redis.call = nil", "0"],
        &["EVAL", "string.foo = 1", "0"],
        &["EVAL", "return os", "0"],
        &["EVAL", "return print", "0"],
        &["EVAL", "return getfenv", "0"],
        &["EVAL", "return load('return 1')", "0"],
        &["EVAL", "return loadstring('return 1')()", "0"],
        &[
            "EVAL",
            "return loadstring(string.dump(function() return 1 end))()",
            "0",
        ],
        &["EVAL", "local f = loadstring('y = 1'); return f()", "0"],
        &["EVAL", "KEYS[1] = 'x'; return KEYS[1]", "1", "k"],
        &["EVAL", "return type(coroutine.create(function() end))", "0"],
    ],
    // Conversions.
    &[
        &["HSET", "h", "f", "v"],
        &["SADD", "s", "a"],
        &["ZADD", "z", "1.5", "m"],
        &[
            "EVAL",
            "return {1, 2, {3, 'x'}, redis.status_reply('OK'), {err='bad'}}",
            "0",
        ],
        &["EVAL", "return {1, nil, 3}", "0"],
        &["EVAL", "return 1e20", "0"],
        &["EVAL", "return -3.99", "0"],
        &["EVAL", "return {double=3.5}", "0"],
        &["EVAL", "return {double='abc'}", "0"],
        &["EVAL", "return {map={a=1}}", "0"],
        &["EVAL", "return {set={a=true}}", "0"],
        &[
            "EVAL",
            "return {verbatim_string={format='txt', string='hi'}}",
            "0",
        ],
        &[
            "EVAL",
            "return {KEYS[1], ARGV[1], ARGV[2]}",
            "1",
            "k",
            "a1",
            "a2",
        ],
        &["EVAL", "return redis.call('ECHO', 0.1)", "0"],
        &["EVAL", "return redis.call('ECHO', 1/0)", "0"],
        &["EVAL", "return type(redis.call('GET', 'nokey'))", "0"],
        &[
            "EVAL",
            "redis.setresp(3); return type(redis.call('GET', 'nokey'))",
            "0",
        ],
        &[
            "EVAL",
            "redis.setresp(3); return redis.call('SMEMBERS', 's')",
            "0",
        ],
        &[
            "EVAL",
            "redis.setresp(3); local d = redis.call('ZSCORE', 'z', 'm'); return tostring(d.double)",
            "0",
        ],
        &["EVAL", "return redis.call('ZSCORE', 'z', 'm')", "0"],
        &["EVAL", "return redis.pcall('INCR', 'h')", "0"],
        &["EVAL", "return redis.call('LPOP', 'nolist')", "0"],
        &["EVAL", "return redis.sha1hex('')", "0"],
    ],
    // The libraries.
    &[
        &["EVAL", "return cjson.encode({1, 2, 3, {a=1}})", "0"],
        &["EVAL", "return cjson.encode({a={}, b='x/y\\n\\1'})", "0"],
        &["EVAL", "return cjson.encode({[1]=1, [2]=2, [20]=3})", "0"],
        &["EVAL", "return cjson.encode(0.1)", "0"],
        &["EVAL", "return cjson.encode(1/0)", "0"],
        &["EVAL", "local t = {} t[1] = t return cjson.encode(t)", "0"],
        &["EVAL", "return cjson.decode('[1,2] x')", "0"],
        &["EVAL", "return cjson.decode('{')", "0"],
        &[
            "EVAL",
            "return cjson.decode('{\"a\":[1,2],\"b\":{\"c\":\"d\"}}').b.c",
            "0",
        ],
        &["EVAL", "return {pcall(cjson.decode, '{')}", "0"],
        &[
            "EVAL",
            "return cmsgpack.pack(1, -1, 1.5, 'abc', {1, 2}, {a=1}, true, false)",
            "0",
        ],
        &[
            "EVAL",
            "return cmsgpack.pack(128, 65536, -33, -32769, 2^31, 1e300)",
            "0",
        ],
        &[
            "EVAL",
            "return {cmsgpack.unpack(cmsgpack.pack(1, 'x', {1, 2}))}",
            "0",
        ],
        &[
            "EVAL",
            "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}",
            "0",
        ],
        &["EVAL", "return cmsgpack.unpack('\\146\\1')", "0"],
        &[
            "EVAL",
            "return struct.pack('<i4bBhHd', -1, -2, 250, -3, 65535, 2.5)",
            "0",
        ],
        &[
            "EVAL",
            "return {struct.unpack('>I2i4', '\\1\\2\\255\\255\\255\\255')}",
            "0",
        ],
        &["EVAL", "return struct.pack('q', 1)", "0"],
        &["EVAL", "return struct.size('s')", "0"],
        &[
            "EVAL",
            "return {bit.tobit(0xffffffff), bit.band(0xff, 0x0f), bit.bxor(3, 1), bit.rol(1, 33)}",
            "0",
        ],
        &[
            "EVAL",
            "return {bit.tohex(255), bit.tohex(255, -4), bit.arshift(-256, 4)}",
            "0",
        ],
        &["EVAL", "return bit.band()", "0"],
        // Status and error texts are C strings to Redis: cut at a NUL,
        // an error's trailing CR/LF dropped.
        &[
            "EVAL",
            "return redis.error_reply('MYERR ' .. ARGV[1])",
            "0",
            "\r\0x",
        ],
        &["EVAL", "return {err = 'E ' .. ARGV[1]}", "0", "a\n\r"],
        &[
            "EVAL",
            "return redis.error_reply('E ' .. ARGV[1])",
            "0",
            "\r,y\0\n",
        ],
        &[
            "EVAL",
            "return redis.error_reply('E ' .. ARGV[1])",
            "0",
            "\n\nm\r\n",
        ],
        &["EVAL", "return redis.error_reply(ARGV[1])", "0", "-\rX\n"],
        &["EVAL", "return {ok = ARGV[1]}", "0", "o\rk\0tail"],
        &["EVAL", "error('raised\\0hidden')", "0"],
    ],
];

#[test]
fn scripts_answer_as_redis_does() {
    let Some(redis) = RedisServer::start_or_skip("scripts_answer_as_redis_does") else {
        return;
    };
    let node = TestServer::start();
    for session in SESSIONS {
        let (mut ours, mut theirs) = (node.raw(), redis.raw());
        let _ = ours.roundtrip(&["FLUSHALL"]);
        let _ = theirs.roundtrip(&["FLUSHALL"]);
        assert_same_replies(&mut ours, &mut theirs, session);
    }
    // The conversions again for a RESP3 caller.
    let (mut ours, mut theirs) = (node.raw(), redis.raw());
    ours.hello(3);
    theirs.hello(3);
    assert_same_replies(&mut ours, &mut theirs, SESSIONS[2]);
}

#[test]
fn a_script_sees_the_clock_stopped_at_its_start_as_redis() {
    let test = "a_script_sees_the_clock_stopped_at_its_start_as_redis";
    let Some(redis) = RedisServer::start_or_skip(test) else {
        return;
    };
    let node = TestServer::start();
    // The key's 1 ms passes while the script waits 5 ms of TIME: it still
    // exists inside the script (Redis 7 stops the clock for a script), and
    // is gone after it.
    let script = "redis.call('SET', KEYS[1], 'v', 'PX', 1) \
        local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] \
        repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] > start + 5000 \
        return redis.call('EXISTS', KEYS[1])";
    let session: &[&[&str]] = &[&["EVAL", script, "1", "k"], &["EXISTS", "k"]];
    let (mut ours, mut theirs) = (node.raw(), redis.raw());
    assert_same_replies(&mut ours, &mut theirs, session);
    assert_eq!(ours.roundtrip(&["EVAL", script, "1", "k2"]), b":1\r\n");
}

/// A key of hash tag `tag` whose slot node `owner` is primary of.
fn key_owned_by(cluster: &common::cluster::TestCluster, owner: usize, tag: &str) -> String {
    (0..10_000)
        .map(|i| format!("{{{tag}{i}}}k"))
        .find(|k| cluster.owners(k)[0] == owner)
        .expect("a key for every node")
}

#[test]
fn scripts_in_a_cluster_run_on_their_slot_owner() {
    let cluster = common::cluster::TestCluster::start(3, &["--replicas", "1"]);
    let mut conn = cluster.conn(0);
    // Loaded through node 0, known to every node.
    let script = "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('INCR', KEYS[2])";
    let sha: String = q(&mut conn, &["SCRIPT", "LOAD", script]);
    for node in 0..3 {
        let mut at = cluster.conn(node);
        assert!(
            common::eventually(DEADLINE, || q::<Vec<i64>>(
                &mut at,
                &["SCRIPT", "EXISTS", &sha]
            ) == [1]),
            "node {node} never learned the script"
        );
    }
    // Keys node 2 owns, sent through node 0: run there, replicated.
    let remote = key_owned_by(&cluster, 2, "s");
    let tag = &remote[..remote.find('}').map_or(0, |i| i + 1)];
    let counter = format!("{tag}n");
    assert_eq!(
        q::<i64>(&mut conn, &["EVALSHA", &sha, "2", &remote, &counter, "v"]),
        1
    );
    let mut owner = cluster.conn(2);
    assert_eq!(q::<String>(&mut owner, &["GET", &remote]), "v");
    let replica = cluster.owners(&remote)[1];
    let mut at_replica = cluster.conn(replica);
    let _: () = q(&mut at_replica, &["READONLY"]);
    assert!(common::eventually(DEADLINE, || {
        q::<Option<String>>(&mut at_replica, &["GET", &counter]).as_deref() == Some("1")
    }));
    // EVALSHA through yet another node.
    let mut via_one = cluster.conn(1);
    assert_eq!(
        q::<i64>(
            &mut via_one,
            &["EVALSHA", &sha, "2", &remote, &counter, "w"]
        ),
        2
    );

    // Declared keys of two slots, and keys a script did not declare.
    let mut raw = cluster.node(0).raw();
    assert_eq!(
        raw.roundtrip(&["EVAL", "return 1", "2", "{a}1", "{b}1"]),
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    let local = key_owned_by(&cluster, 0, "l");
    let elsewhere = key_owned_by(&cluster, 1, "e");
    let reply = raw.roundtrip(&[
        "EVAL",
        "return redis.call('GET', ARGV[1])",
        "1",
        &local,
        &elsewhere,
    ]);
    assert!(
        reply.starts_with(
            b"-ERR Script attempted to access a non local key in a cluster node script: "
        ),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let local_slot = ringcache_proto::key_slot(local.as_bytes());
    let same_node_other_slot = (0..10_000)
        .map(|i| format!("{{o{i}}}k"))
        .find(|k| {
            cluster.owners(k)[0] == 0 && ringcache_proto::key_slot(k.as_bytes()) != local_slot
        })
        .expect("another slot of node 0");
    let reply = raw.roundtrip(&[
        "EVAL",
        "return redis.call('GET', ARGV[1])",
        "1",
        &local,
        &same_node_other_slot,
    ]);
    assert!(
        reply.starts_with(
            b"-ERR Script attempted to access keys that do not hash to the same slot script: "
        ),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    flush_then_load_on_every_node(&cluster);
}

/// As cluster clients (redis-py's RedisCluster) do it: SCRIPT FLUSH sent
/// to every node, then SCRIPT LOAD to every node, then EVALSHA at once.
/// A flush acts on its own node only, as in Redis Cluster: fanned out to
/// the others it could land after the next load and erase it.
fn flush_then_load_on_every_node(cluster: &common::cluster::TestCluster) {
    let mut conns: Vec<_> = (0..3).map(|i| cluster.conn(i)).collect();
    for round in 0..20 {
        let body = format!("return {round}");
        for conn in &mut conns {
            let _: () = q(conn, &["SCRIPT", "FLUSH"]);
        }
        let mut sha = String::new();
        for conn in &mut conns {
            sha = q(conn, &["SCRIPT", "LOAD", &body]);
        }
        for (node, conn) in conns.iter_mut().enumerate() {
            let ran: Result<i64, _> = redis::cmd("EVALSHA").arg(&sha).arg(0).query(conn);
            assert_eq!(
                ran.ok(),
                Some(round),
                "round {round}: EVALSHA on node {node}"
            );
        }
    }
    // Loaded through one node, a script is on every node once SCRIPT LOAD
    // answered, and so is a function once FUNCTION LOAD did.
    for round in 0..50 {
        let body = format!("return {round} + 1000");
        let sha: String = q(&mut conns[round % 3], &["SCRIPT", "LOAD", &body]);
        for (node, conn) in conns.iter_mut().enumerate() {
            let ran: Result<i64, _> = redis::cmd("EVALSHA").arg(&sha).arg(0).query(conn);
            assert_eq!(
                ran.ok(),
                Some(round as i64 + 1000),
                "EVALSHA on node {node}"
            );
        }
        let library = format!(
            "#!lua name=lib{round}\nredis.register_function('f{round}', function() return {round} end)"
        );
        let _: String = q(&mut conns[(round + 1) % 3], &["FUNCTION", "LOAD", &library]);
        for (node, conn) in conns.iter_mut().enumerate() {
            let called: Result<i64, _> = redis::cmd("FCALL")
                .arg(format!("f{round}"))
                .arg(0)
                .query(conn);
            assert_eq!(called.ok(), Some(round as i64), "FCALL on node {node}");
        }
    }
    let _: () = q(&mut conns[0], &["FUNCTION", "FLUSH"]);
    let _: () = q(&mut conns[0], &["SCRIPT", "FLUSH"]);
    let sha: String = q(&mut conns[1], &["SCRIPT", "LOAD", "return 'kept'"]);
    let _: () = q(&mut conns[0], &["SCRIPT", "FLUSH"]);
    assert_eq!(
        q::<Vec<i64>>(&mut conns[1], &["SCRIPT", "EXISTS", &sha]),
        [1]
    );
}
