"""Pub/sub as redis-py uses it, in RESP2 (subscribed mode) and RESP3
(push messages): channels, patterns, run_in_thread."""

import threading

import pytest

from conftest import eventually, next_message


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    return request.param


def test_subscribe_publish_and_patterns(r, connect, protocol):
    subscriber = connect(protocol=protocol)
    pubsub = subscriber.pubsub()
    pubsub.subscribe("news")
    assert next_message(pubsub) == {
        "type": "subscribe", "pattern": None, "channel": "news", "data": 1,
    }
    pubsub.psubscribe("ne*")
    assert next_message(pubsub)["type"] == "psubscribe"
    assert r.pubsub_numsub("news") == [("news", 1)]
    assert r.pubsub_numpat() == 1
    assert "news" in r.pubsub_channels()
    # One connection subscribed to the channel and to a matching pattern
    # receives the message twice.
    assert r.publish("news", "hello") == 2
    received = [next_message(pubsub), next_message(pubsub)]
    assert {"type": "message", "pattern": None, "channel": "news", "data": "hello"} in received
    assert {"type": "pmessage", "pattern": "ne*", "channel": "news", "data": "hello"} in received
    pubsub.unsubscribe("news")
    assert next_message(pubsub)["type"] == "unsubscribe"
    assert r.publish("news", "again") == 1
    assert next_message(pubsub)["type"] == "pmessage"
    pubsub.punsubscribe()
    assert next_message(pubsub)["type"] == "punsubscribe"
    assert r.publish("news", "nobody") == 0
    assert pubsub.get_message(timeout=0.1) is None
    pubsub.close()


def test_ping_while_subscribed_in_resp2(connect):
    # RESP2 subscribed mode answers PING with a ["pong", message] array.
    pubsub = connect(protocol=2).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("c")
    pubsub.ping("beat")
    message = eventually(lambda: pubsub.get_message(timeout=0.2), what="PING reply")
    assert message["type"] == "pong"
    pubsub.close()


def test_run_in_thread_calls_handlers(r, connect, protocol):
    got = []
    arrived = threading.Event()

    def handler(message):
        got.append(message["data"])
        arrived.set()

    pubsub = connect(protocol=protocol).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(**{"jobs": handler})
    worker = pubsub.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        eventually(lambda: r.pubsub_numsub("jobs") == [("jobs", 1)], what="subscription")
        assert r.publish("jobs", "job-1") == 1
        assert arrived.wait(30)
        assert got == ["job-1"]
    finally:
        worker.stop()
        worker.join(timeout=30)
    assert not worker.is_alive()


def test_resp3_client_keeps_working_beside_its_pubsub(r, connect):
    client = connect(protocol=3)
    pubsub = client.pubsub()
    pubsub.subscribe("c")
    assert next_message(pubsub)["type"] == "subscribe"
    # The client's own connections are not in subscribed mode.
    client.set("k", "v")
    assert client.get("k") == "v"
    assert client.hgetall("missing") == {}
    assert r.publish("c", "x") == 1
    assert next_message(pubsub)["data"] == "x"
    pubsub.close()
