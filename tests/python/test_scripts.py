"""register_script (EVALSHA, falling back to SCRIPT LOAD on NOSCRIPT) and
Lua values as redis-py decodes them."""

import pytest
import redis


def test_register_script_reloads_after_script_flush(r):
    incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert incr_by(keys=["n"], args=[5]) == 5
    assert r.script_exists(incr_by.sha) == [True]
    r.script_flush()
    assert r.script_exists(incr_by.sha) == [False]
    # redis-py catches NOSCRIPT, loads the script and runs it again.
    assert incr_by(keys=["n"], args=[2]) == 7
    assert r.script_exists(incr_by.sha) == [True]


def test_script_in_a_transaction_pipeline(r):
    script = r.register_script(
        "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])"
    )
    r.script_flush()
    pipe = r.pipeline()
    pipe.set("before", "1")
    script(keys=["k"], args=["v"], client=pipe)
    pipe.get("k")
    assert pipe.execute() == [True, "v", "v"]


def test_lua_values_as_redis_py_sees_them(r):
    r.set("s", "text")
    script = r.register_script(
        """
        return {1, 'two', 3.99, {4, 'five'}, redis.call('GET', KEYS[1]),
                redis.pcall('INCR', KEYS[1])['err'] ~= nil, false}
        """
    )
    # A Lua float becomes an integer (truncated); false becomes nil, and
    # a table ends at its first nil.
    assert script(keys=["s"]) == [1, "two", 3, [4, "five"], "text", 1, None]
    assert r.eval("return {ok='FINE'}", 0) == "FINE"
    assert r.eval("return nil", 0) is None
    with pytest.raises(redis.ResponseError, match="my failure"):
        r.eval("return redis.error_reply('my failure')", 0)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.eval("return redis.call('LPUSH', KEYS[1], 'x')", 1, "s")


def test_evalsha_of_an_unknown_script(r):
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha("0" * 40, 0)


def test_script_load_and_evalsha(r):
    sha = r.script_load("return ARGV[1] .. ARGV[2]")
    assert r.evalsha(sha, 0, "a", "b") == "ab"
    assert r.eval_ro("return redis.call('GET', KEYS[1])", 1, "missing") is None
