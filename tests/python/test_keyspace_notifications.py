"""Keyspace notifications as listeners (Spring Session, expiry
listeners) use them: CONFIG SET notify-keyspace-events, then psubscribe
to __keyspace@0__:* or __keyevent@0__:<event>; set, del, expire and
expired events, and the data types' own events."""

import pytest

from conftest import next_message


@pytest.fixture
def notifying(r):
    """Keyspace notifications on (every class) for the test, off after."""
    r.config_set("notify-keyspace-events", "KEA")
    yield r
    r.config_set("notify-keyspace-events", "")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def listener(request, connect):
    pubsub = connect(protocol=request.param).pubsub()
    yield pubsub
    pubsub.close()


def keyspace(pubsub):
    """The next keyspace message as (key, event)."""
    message = next_message(pubsub)
    assert message["type"] == "pmessage", message
    assert message["pattern"] == "__keyspace@0__:*"
    return message["channel"].removeprefix("__keyspace@0__:"), message["data"]


def test_config_round_trip(r):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        flags = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
        # Redis spells "all of them" as AKE.
        assert sorted(flags) == sorted("AKE")
    finally:
        r.config_set("notify-keyspace-events", "")
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": ""}


def test_set_expire_del_and_expired(notifying, listener):
    r = notifying
    listener.psubscribe("__keyspace@0__:*")
    assert next_message(listener)["type"] == "psubscribe"
    r.set("session:1", "data")
    assert keyspace(listener) == ("session:1", "set")
    r.expire("session:1", 100)
    assert keyspace(listener) == ("session:1", "expire")
    r.delete("session:1")
    assert keyspace(listener) == ("session:1", "del")
    # A key that expires: "set", "expire", then "expired" when the server
    # removes it (its active expiry, without anyone reading it).
    r.set("short", "v", px=50)
    assert keyspace(listener) == ("short", "set")
    assert keyspace(listener) == ("short", "expire")
    assert keyspace(listener) == ("short", "expired")


def test_keyevent_channels(notifying, listener):
    r = notifying
    listener.psubscribe("__keyevent@0__:*")
    assert next_message(listener)["type"] == "psubscribe"
    r.hset("h", "f", "v")
    r.lpush("l", "x")
    r.sadd("s", "m")
    r.zadd("z", {"m": 1})
    r.incr("n")
    seen = []
    for _ in range(5):
        message = next_message(listener)
        seen.append((message["channel"], message["data"]))
    assert seen == [
        ("__keyevent@0__:hset", "h"),
        ("__keyevent@0__:lpush", "l"),
        ("__keyevent@0__:sadd", "s"),
        ("__keyevent@0__:zadd", "z"),
        ("__keyevent@0__:incrby", "n"),
    ]


def test_only_the_configured_classes(r, listener):
    # Expired events on the keyevent channel only (Ex), as expiry
    # listeners configure it.
    r.config_set("notify-keyspace-events", "Ex")
    try:
        listener.subscribe("__keyevent@0__:expired")
        assert next_message(listener)["type"] == "subscribe"
        r.set("other", "v")
        r.set("gone", "v", px=20)
        message = next_message(listener)
        assert (message["type"], message["channel"], message["data"]) == (
            "message", "__keyevent@0__:expired", "gone",
        )
        assert listener.get_message(timeout=0.2) is None
    finally:
        r.config_set("notify-keyspace-events", "")


def test_events_of_another_database(r, connect, listener):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        listener.psubscribe("__keyspace@1__:*")
        assert next_message(listener)["type"] == "psubscribe"
        connect(db=1).set("k", "v")
        message = next_message(listener)
        assert (message["channel"], message["data"]) == ("__keyspace@1__:k", "set")
    finally:
        r.config_set("notify-keyspace-events", "")
