//! Functions end to end: FUNCTION LOAD, FCALL and FCALL_RO with the
//! `redis` crate, FUNCTION LIST's exact shapes in RESP2 and RESP3, DUMP
//! then RESTORE with each policy, FUNCTION KILL and STATS while a function
//! loops, the load time limit, and the same replies as a real redis-server
//! for FUNCTION's errors.

mod common;

use common::redis_server::{assert_same_replies, RedisServer};
use common::{cmd, q, TestServer, DEADLINE};

const LIBRARY: &str = "#!lua name=mylib
redis.register_function('set_get', function(keys, args)
  redis.call('SET', keys[1], args[1])
  return redis.call('GET', keys[1])
end)
redis.register_function{function_name='read', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}, description='reads'}";

#[test]
fn load_call_list_and_delete() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let name: String = cmd(&["FUNCTION", "LOAD", LIBRARY])
        .query(&mut conn)
        .unwrap();
    assert_eq!(name, "mylib");
    let value: String = cmd(&["FCALL", "set_get", "1", "k", "v1"])
        .query(&mut conn)
        .unwrap();
    assert_eq!(value, "v1");
    assert_eq!(
        q::<String>(&mut conn, &["FCALL_RO", "read", "1", "k"]),
        "v1"
    );
    let refused = common::err(&mut conn, &["FCALL_RO", "set_get", "1", "k", "v2"]);
    assert_eq!(
        refused,
        "ERR Can not execute a script with write flag using *_ro command."
    );
    assert_eq!(
        common::err(&mut conn, &["FUNCTION", "LOAD", LIBRARY]),
        "ERR Library 'mylib' already exists"
    );
    let again: String = cmd(&["FUNCTION", "LOAD", "REPLACE", LIBRARY])
        .query(&mut conn)
        .unwrap();
    assert_eq!(again, "mylib");
    assert_eq!(
        common::err(&mut conn, &["FCALL", "nosuch", "0"]),
        "ERR Function not found"
    );
    let _: () = q(&mut conn, &["FUNCTION", "DELETE", "mylib"]);
    assert_eq!(
        common::err(&mut conn, &["FCALL", "read", "1", "k"]),
        "ERR Function not found"
    );
    assert_eq!(
        common::err(&mut conn, &["FUNCTION", "DELETE", "mylib"]),
        "ERR Library not found"
    );
}

#[test]
fn function_list_shapes_in_resp2_and_resp3() {
    let node = TestServer::start();
    let mut raw = node.raw();
    let code = "#!lua name=one\nredis.register_function{function_name='f', callback=function() return 1 end, flags={'no-writes'}}";
    assert_eq!(raw.roundtrip(&["FUNCTION", "LOAD", code]), b"$3\r\none\r\n");
    let functions = "$9\r\nfunctions\r\n*1\r\n";
    raw.assert_replies(&[
        (
            &["FUNCTION", "LIST"],
            &format!("*1\r\n*6\r\n$12\r\nlibrary_name\r\n$3\r\none\r\n$6\r\nengine\r\n$3\r\nLUA\r\n{functions}*6\r\n$4\r\nname\r\n$1\r\nf\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*1\r\n+no-writes\r\n"),
        ),
        (&["FUNCTION", "LIST", "LIBRARYNAME", "nomatch*"], "*0\r\n"),
        (&["FUNCTION", "LIST", "LIBRARYNAME"], "-ERR library name argument was not given\r\n"),
        (&["FUNCTION", "LIST", "foo"], "-ERR Unknown argument foo\r\n"),
    ]);
    raw.hello(3);
    let with_code = raw.roundtrip(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "O*"]);
    let expected = format!("*1\r\n%4\r\n$12\r\nlibrary_name\r\n$3\r\none\r\n$6\r\nengine\r\n$3\r\nLUA\r\n{functions}%3\r\n$4\r\nname\r\n$1\r\nf\r\n$11\r\ndescription\r\n_\r\n$5\r\nflags\r\n~1\r\n+no-writes\r\n$12\r\nlibrary_code\r\n${}\r\n{code}\r\n", code.len());
    assert_eq!(String::from_utf8_lossy(&with_code), expected);
    let stats = raw.roundtrip(&["FUNCTION", "STATS"]);
    assert_eq!(
        String::from_utf8_lossy(&stats),
        "%2\r\n$14\r\nrunning_script\r\n_\r\n$7\r\nengines\r\n%1\r\n$3\r\nLUA\r\n%2\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n"
    );
}

#[test]
fn dump_and_restore_round_trip() {
    let node = TestServer::start();
    let mut conn = node.conn();
    let _: String = cmd(&["FUNCTION", "LOAD", LIBRARY])
        .query(&mut conn)
        .unwrap();
    let payload: Vec<u8> = q(&mut conn, &["FUNCTION", "DUMP"]);
    let _: () = q(&mut conn, &["FUNCTION", "FLUSH"]);
    assert_eq!(
        common::err(&mut conn, &["FCALL", "read", "1", "k"]),
        "ERR Function not found"
    );
    let restore = |policy: Option<&str>| {
        let mut c = redis::cmd("FUNCTION");
        c.arg("RESTORE").arg(&payload);
        if let Some(policy) = policy {
            c.arg(policy);
        }
        c
    };
    let _: () = restore(None).query(&mut conn).unwrap();
    let _: () = q(&mut conn, &["SET", "k", "restored"]);
    assert_eq!(
        q::<String>(&mut conn, &["FCALL", "read", "1", "k"]),
        "restored"
    );
    // APPEND (the default) refuses a library that exists; REPLACE and
    // FLUSH do not.
    let refused = common::error_text(restore(Some("APPEND")).query::<()>(&mut conn));
    assert_eq!(refused, "ERR Library mylib already exists");
    let _: () = restore(Some("REPLACE")).query(&mut conn).unwrap();
    let _: () = restore(Some("FLUSH")).query(&mut conn).unwrap();
    let names: Vec<redis::Value> = q(&mut conn, &["FUNCTION", "LIST"]);
    assert_eq!(names.len(), 1);
    assert_eq!(
        common::err(&mut conn, &["FUNCTION", "RESTORE", "garbage"]),
        "ERR DUMP payload version or checksum are wrong"
    );
    let bad_policy = common::error_text(restore(Some("MERGE")).query::<()>(&mut conn));
    assert_eq!(
        bad_policy,
        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
    );
}

#[test]
fn function_kill_and_stats_while_a_function_loops() {
    let node = TestServer::builder()
        .set("busy-reply-threshold", "100")
        .start();
    let mut conn = node.conn();
    let code = "#!lua name=loops\nredis.register_function('spin', function() \
                local stop = tonumber(redis.call('TIME')[1]) + 60 \
                while tonumber(redis.call('TIME')[1]) < stop do end return 'ended' end)";
    let _: String = cmd(&["FUNCTION", "LOAD", code]).query(&mut conn).unwrap();
    let mut looping = node.raw();
    looping.send_command(&["FCALL", "spin", "0"]);
    let mut other = node.raw();
    let busy = b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
    assert!(common::eventually(DEADLINE, || other.roundtrip(&["PING"]) == busy));
    assert_eq!(other.roundtrip(&["SCRIPT", "KILL"]), busy);
    let stats = other.call(&["FUNCTION", "STATS"]);
    let running = stats.field(b"running_script").expect("running_script");
    assert_eq!(
        running
            .field(b"name")
            .and_then(|f| f.bytes().map(<[u8]>::to_vec)),
        Some(b"spin".to_vec())
    );
    assert_eq!(other.roundtrip(&["FUNCTION", "KILL"]), b"+OK\r\n");
    let killed = looping.reply().error_text().unwrap_or_default();
    assert_eq!(
        killed,
        "ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."
    );
    assert_eq!(
        other.roundtrip(&["FUNCTION", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    // A library whose loading does not end is stopped after 500 ms.
    let endless = "#!lua name=endless\nwhile true do end";
    assert_eq!(
        common::err(&mut conn, &["FUNCTION", "LOAD", endless]),
        "ERR Error registering functions: ERR FUNCTION LOAD timeout"
    );
}

/// Sessions both servers must answer byte for byte alike.
const SESSION: &[&[&str]] = &[
    &["FUNCTION", "FLUSH"],
    &["FUNCTION", "LOAD", LIBRARY],
    &["FCALL", "set_get", "1", "k", "v"],
    &["FCALL_RO", "set_get", "1", "k", "v"],
    &["FCALL_RO", "read", "1", "k"],
    &["FCALL", "read", "-1"],
    &["FCALL", "read", "5"],
    &["FCALL", "read", "x"],
    &["FCALL", "nosuch", "0"],
    &["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('x', function() return 1 end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib2\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua\nreturn 1"],
    &["FUNCTION", "LOAD", "return 1"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.call('set', 'a', 'b')"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function('a b', function() end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}"],
    &["FUNCTION", "LOAD", "#!lua name=lib4 foo=bar\nredis.register_function('f', function() end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nsyntax error"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nlocal x = string"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function()"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function('a')"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function{function_name='a'}"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function{callback=function() end}"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function('y', function() end)\nredis.register_function('y', function() end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function('set_get', function() end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function('e', function() error('boom') end)\nredis.register_function('g', function() return y end)"],
    &["FCALL", "e", "0"],
    &["FCALL", "g", "0"],
    &["FUNCTION", "LOAD", "replace", "replace", "#!lua name=lib4\nredis.register_function('set_get', function() end)"],
    &["FUNCTION", "LOAD", "nope", "#!lua name=lib5\nredis.register_function('z', function() end)"],
    &["FUNCTION", "DELETE", "nosuch"],
    &["FUNCTION", "DELETE", "lib4"],
    &["FUNCTION", "FLUSH", "bad"],
    &["FUNCTION", "RESTORE", "garbage"],
    &["FUNCTION", "RESTORE", "x", "bad"],
    &["FUNCTION", "KILL", "x"],
    &["FUNCTION", "KILL"],
    &["FUNCTION", "STATS"],
];

#[test]
fn functions_answer_as_redis_does() {
    let Some(redis) = RedisServer::start_or_skip("functions_answer_as_redis_does") else {
        return;
    };
    let node = TestServer::start();
    let (mut ours, mut theirs) = (node.raw(), redis.raw());
    assert_same_replies(&mut ours, &mut theirs, SESSION);
}
