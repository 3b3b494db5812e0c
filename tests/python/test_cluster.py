"""RedisCluster against a 3-node cluster: every node a primary, the key
space seen through the primaries (scan_iter, keys, dbsize, flushall), a
transaction and a script in one slot (`{tag}` keys), cross-slot refusals,
plain commands routed by slot, a lock.
"""

import pytest
import redis
from redis.cluster import RedisCluster


def test_every_node_is_a_primary_for_redis_py(rc):
    assert len(rc.get_primaries()) == 3
    assert rc.get_replicas() == []


def test_the_key_space_is_seen_once_through_the_primaries(rc):
    keys = {f"key:{i}" for i in range(1000)}
    pipe = rc.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, key)
    pipe.execute()
    scanned = list(rc.scan_iter(count=200))
    # SCAN may return a key twice, never miss one. Here repeats happen: the
    # replica copies of these writes (shipped after each SET is answered)
    # still arrive while the scan runs, a node's table grows, and a shard
    # rehashed between two calls is walked again from its first bucket.
    assert set(scanned) == keys
    assert sorted(rc.keys(target_nodes=RedisCluster.PRIMARIES)) == sorted(keys)
    assert rc.dbsize(target_nodes=RedisCluster.PRIMARIES) == 1000
    ones = set(rc.scan_iter(match="key:1*", _type="string"))
    assert ones == {k for k in keys if k.startswith("key:1")}
    assert rc.mget_nonatomic(["key:1", "key:2", "missing"]) == ["key:1", "key:2", None]
    rc.flushall()
    assert rc.dbsize(target_nodes=RedisCluster.PRIMARIES) == 0
    assert all(rc.get(k) is None for k in ["key:1", "key:500", "key:999"])
    for node in rc.get_nodes():
        assert redis.Redis(host=node.host, port=node.port).dbsize() == 0


def test_plain_commands_route_by_slot(rc):
    for i in range(30):
        rc.set(f"key:{i}", i)
    assert [rc.get(f"key:{i}") for i in range(30)] == [str(i) for i in range(30)]
    assert rc.mget([f"{{user}}:{i}" for i in range(3)]) == [None, None, None]


def test_transaction_in_one_slot(rc):
    pipe = rc.pipeline(transaction=True)
    pipe.set("{user:1}:name", "ann").incr("{user:1}:visits").get("{user:1}:name")
    replies = pipe.execute()
    # redis-py's cluster transactions leave SET's "OK" unparsed.
    assert replies[0] in (True, "OK")
    assert replies[1:] == [1, "ann"]
    assert rc.get("{user:1}:visits") == "1"


def test_failed_transaction_in_one_slot_applies_nothing(rc):
    pipe = rc.pipeline(transaction=True)
    pipe.set("{user:2}:a", "1")
    pipe.execute_command("LPUSH", "{user:2}:a")  # wrong arity: EXECABORT
    with pytest.raises(redis.RedisError):
        pipe.execute()
    assert rc.get("{user:2}:a") is None


def test_cross_slot_transaction_is_refused(rc):
    pipe = rc.pipeline(transaction=True)
    # redis-py refuses the second slot as it is queued.
    with pytest.raises(redis.exceptions.CrossSlotTransactionError):
        pipe.set("{a}x", 1).set("{b}y", 2)
        pipe.execute()
    assert rc.get("{a}x") is None and rc.get("{b}y") is None


def test_script_in_one_slot(rc):
    move = rc.register_script(
        """
        local value = redis.call('GET', KEYS[1])
        redis.call('SET', KEYS[2], value)
        redis.call('DEL', KEYS[1])
        return value
        """
    )
    rc.set("{job}:pending", "payload")
    assert move(keys=["{job}:pending", "{job}:done"]) == "payload"
    assert rc.get("{job}:done") == "payload"
    assert rc.exists("{job}:pending") == 0


def test_lock_in_a_cluster(rc):
    lock = rc.lock("{locks}:resource", timeout=10)
    assert lock.acquire(blocking=False)
    assert lock.extend(5)
    lock.release()
    assert rc.exists("{locks}:resource") == 0
