"""RedisCluster against a 3-node cluster: a transaction and a script in one
slot (`{tag}` keys), cross-slot refusals, plain commands routed by slot.

Known difference: every ringcache node is the primary of some slot ranges
and a replica of others in CLUSTER SLOTS, and redis-py keeps one role per
node (the last it reads), so it counts a single ringcache node as a
primary. Commands it sends to the primaries (SCRIPT LOAD, FLUSHALL,
SCAN, ...) reach one node; the others learn a script from that node's
fan-out, without waiting, so an EVALSHA right after the reload can still
answer NOSCRIPT. The tests that meet it are marked xfail for ringcache.
"""

import pytest
import redis

ROLES = (
    "redis-py sees one ringcache node as primary (each node is primary and "
    "replica of different slot ranges): SCRIPT LOAD reaches one node, and "
    "EVALSHA on another may answer NOSCRIPT before the fan-out arrives"
)


def known_difference(rc, request):
    if rc.is_ringcache:
        request.applymarker(pytest.mark.xfail(reason=ROLES, strict=False))


def test_every_node_is_a_primary_for_redis_py(rc, request):
    if rc.is_ringcache:
        request.applymarker(pytest.mark.xfail(reason=ROLES, strict=True))
    assert len(rc.get_primaries()) == 3


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


def test_script_in_one_slot(rc, request):
    known_difference(rc, request)
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


def test_lock_in_a_cluster(rc, request):
    known_difference(rc, request)
    lock = rc.lock("{locks}:resource", timeout=10)
    assert lock.acquire(blocking=False)
    assert lock.extend(5)
    lock.release()
    assert rc.exists("{locks}:resource") == 0
