"""WATCH-based optimistic transactions through redis-py's transaction()."""

import redis


def test_transaction_retries_after_a_concurrent_modification(r, connect):
    other = connect()
    r.set("counter", "10")
    calls = []

    def add_one(pipe):
        value = int(pipe.get("counter"))
        calls.append(value)
        if len(calls) == 1:
            # Another client writes between WATCH and EXEC: EXEC fails
            # and redis-py runs the function again.
            other.set("counter", "100")
        pipe.multi()
        pipe.set("counter", value + 1)
        pipe.lpush("log", value)

    result = r.transaction(add_one, "counter")
    assert calls == [10, 100]
    assert result == [True, 1]
    assert r.get("counter") == "101"
    assert r.lrange("log", 0, -1) == ["100"]


def test_transaction_with_value_from_callable(r):
    r.hset("account", mapping={"balance": "50"})

    def withdraw(pipe):
        balance = int(pipe.hget("account", "balance"))
        pipe.multi()
        pipe.hset("account", "balance", balance - 20)
        return balance - 20

    assert r.transaction(withdraw, "account", value_from_callable=True) == 30
    assert r.hget("account", "balance") == "30"


def test_watch_of_a_key_that_expires_or_is_deleted(r, connect):
    other = connect()
    r.set("k", "v")
    with r.pipeline() as pipe:
        pipe.watch("k")
        other.delete("k")
        pipe.multi()
        pipe.set("k", "again")
        try:
            pipe.execute()
            aborted = False
        except redis.WatchError:
            aborted = True
    assert aborted
    assert r.exists("k") == 0


def test_unwatch_lets_exec_run(r, connect):
    other = connect()
    with r.pipeline() as pipe:
        pipe.watch("k")
        other.set("k", "1")
        pipe.unwatch()
        pipe.multi()
        pipe.set("k", "2")
        assert pipe.execute() == [True]
    assert r.get("k") == "2"
