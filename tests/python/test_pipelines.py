"""Pipelines with and without transactions, as applications and Django's
cache send them; the half-applied pipeline regression."""

import time

import pytest
import redis


def test_pipeline_without_transaction(r):
    pipe = r.pipeline(transaction=False)
    pipe.set("a", 1).incr("a").get("a").lpush("l", "x", "y").lrange("l", 0, -1)
    assert pipe.execute() == [True, 2, "2", 2, ["y", "x"]]


def test_transaction_pipeline_applies_every_command(r):
    pipe = r.pipeline()  # transaction=True is redis-py's default
    pipe.set("a", "1").incr("a").hset("h", mapping={"f": "v"}).hgetall("h")
    assert pipe.execute() == [True, 2, 1, {"f": "v"}]
    assert r.get("a") == "2"


def test_failed_exec_applies_nothing(r):
    """The half-applied pipeline case: a queueing error makes EXEC fail
    with EXECABORT, and none of the queued writes may land."""
    pipe = r.pipeline()
    pipe.set("a", "written")
    pipe.execute_command("NOSUCHCOMMAND", "x")
    pipe.incr("counter")
    with pytest.raises(redis.ResponseError) as failure:
        pipe.execute()
    assert "EXECABORT" in str(failure.value) or "unknown command" in str(failure.value)
    assert r.get("a") is None
    assert r.get("counter") is None
    assert r.dbsize() == 0


def test_failed_exec_by_arity_applies_nothing(r):
    pipe = r.pipeline()
    pipe.set("a", "written")
    pipe.execute_command("GET")  # wrong number of arguments
    with pytest.raises(redis.ResponseError):
        pipe.execute()
    assert r.exists("a") == 0


def test_runtime_error_inside_exec_is_per_command(r):
    r.set("s", "text")
    pipe = r.pipeline()
    pipe.set("a", "1").lpush("s", "x").incr("a")
    replies = pipe.execute(raise_on_error=False)
    assert replies[0] is True
    assert isinstance(replies[1], redis.ResponseError)
    assert "WRONGTYPE" in str(replies[1])
    assert replies[2] == 2
    # The other commands ran, as Redis runs them.
    assert r.get("a") == "2"
    pipe = r.pipeline()
    pipe.set("b", "1").lpush("s", "x")
    with pytest.raises(redis.ResponseError):
        pipe.execute()
    assert r.get("b") == "1"


def test_watch_error_discards_the_transaction(r, connect):
    other = connect()
    r.set("watched", "0")
    with r.pipeline() as pipe:
        pipe.watch("watched")
        other.set("watched", "changed")
        pipe.multi()
        pipe.set("watched", "mine").set("side", "effect")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert r.get("watched") == "changed"
    assert r.get("side") is None


def test_django_cache_set_many_and_get_many(r):
    """What django.core.cache.backends.redis.RedisCache sends for
    set_many (MSET and EXPIRE in a transaction pipeline), get_many,
    incr, delete_many and touch."""
    data = {f":1:key{i}": f"value{i}" for i in range(5)}
    pipe = r.pipeline()
    pipe.mset(data)
    for key in data:
        pipe.expire(key, 300)
    assert pipe.execute() == [True] + [True] * len(data)
    assert r.mget(list(data)) == list(data.values())
    assert 295 <= r.ttl(":1:key0") <= 300
    r.set(":1:hits", 1, ex=300)
    assert r.incr(":1:hits", 5) == 6
    assert r.delete(*list(data)[:2]) == 2
    assert r.expire(":1:key4", 60) is True
    assert r.mget([":1:key0", ":1:key4"]) == [None, "value4"]


def test_rate_limiter_in_a_pipeline(r):
    """A sliding-window rate limiter: trim, add, count, expire."""
    key, window, limit = "rate:user:1", 60, 3
    allowed = []
    for i in range(5):
        now = time.time()
        pipe = r.pipeline()
        pipe.zremrangebyscore(key, 0, now - window)
        pipe.zadd(key, {f"req{i}": now})
        pipe.zcard(key)
        pipe.expire(key, window)
        _, added, count, _ = pipe.execute()
        assert added == 1
        allowed.append(count <= limit)
    assert allowed == [True, True, True, False, False]
    assert r.zcard(key) == 5
    # Requests older than the window fall out.
    pipe = r.pipeline()
    pipe.zremrangebyscore(key, 0, time.time() + 1).zcard(key)
    assert pipe.execute() == [5, 0]
