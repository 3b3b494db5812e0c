"""Lists, sets, sorted sets and hashes, a few calls each, as frameworks
use them: Celery/RQ-like queues (BRPOP, LMOVE), sessions in hashes,
leaderboards in sorted sets, tags in sets."""

import threading

from conftest import eventually


def test_celery_like_brpop_queue(r, connect):
    # Nothing queued: BRPOP over several queues times out with nil.
    assert r.brpop(["celery", "celery\x06\x163"], timeout=1) is None
    worker = connect()
    got = []
    thread = threading.Thread(
        target=lambda: got.append(worker.brpop(["celery", "other"], timeout=30))
    )
    thread.start()
    try:
        eventually(lambda: int(r.info("clients")["blocked_clients"]) >= 1,
                   what="a blocked worker")
        assert r.lpush("celery", '{"task": "add"}') == 1
    finally:
        thread.join(timeout=40)
    assert got == [("celery", '{"task": "add"}')]
    assert r.llen("celery") == 0


def test_rq_like_reliable_queue(r):
    r.rpush("rq:queue:default", "job1", "job2")
    assert r.lmove("rq:queue:default", "rq:wip", "LEFT", "RIGHT") == "job1"
    assert r.blmove("rq:queue:default", "rq:wip", 1, "LEFT", "RIGHT") == "job2"
    assert r.blmove("rq:queue:default", "rq:wip", 0.1, "LEFT", "RIGHT") is None
    assert r.lrange("rq:wip", 0, -1) == ["job1", "job2"]
    assert r.lrem("rq:wip", 1, "job1") == 1
    assert r.lpos("rq:wip", "job2") == 0
    assert r.rpoplpush("rq:wip", "rq:done") == "job2"
    assert r.lrange("rq:done", 0, -1) == ["job2"]


def test_session_hash(r):
    assert r.hset("session:abc", mapping={"user": "42", "visits": "1"}) == 2
    assert r.hincrby("session:abc", "visits", 2) == 3
    assert r.hgetall("session:abc") == {"user": "42", "visits": "3"}
    assert r.hmget("session:abc", ["user", "missing"]) == ["42", None]
    assert r.hdel("session:abc", "user") == 1
    assert r.hexists("session:abc", "user") is False
    assert r.expire("session:abc", 100)
    assert r.hlen("session:abc") == 1


def test_tag_sets(r):
    assert r.sadd("tags:post:1", "rust", "redis", "cache") == 3
    assert r.sadd("tags:post:2", "redis", "python") == 2
    assert r.sismember("tags:post:1", "rust")
    assert r.smismember("tags:post:1", ["rust", "go"]) == [1, 0]
    assert r.sinter("tags:post:1", "tags:post:2") == {"redis"}
    assert r.sunion("tags:post:1", "tags:post:2") == {"rust", "redis", "cache", "python"}
    assert r.srem("tags:post:1", "cache") == 1
    assert r.smembers("tags:post:1") == {"rust", "redis"}
    assert r.scard("tags:post:2") == 2


def test_leaderboard(r):
    assert r.zadd("board", {"alice": 10, "bob": 20, "carol": 15}) == 3
    assert r.zincrby("board", 15, "alice") == 25.0
    assert r.zrevrange("board", 0, 1, withscores=True) == [("alice", 25.0), ("bob", 20.0)]
    assert r.zrank("board", "carol") == 0
    assert r.zscore("board", "bob") == 20.0
    assert r.zrangebyscore("board", 15, 20) == ["carol", "bob"]
    assert r.zpopmin("board") == [("carol", 15.0)]
    assert r.zadd("board", {"bob": 30}, gt=True) == 0
    assert r.zscore("board", "bob") == 30.0
