"""Numbered databases: Redis(db=1), redis://host:port/1 URLs, MOVE,
SWAPDB, FLUSHDB."""

import redis


def test_db_keyword_and_url_select_the_same_database(r, connect, target):
    _, host, port = target
    one = connect(db=1)
    one.set("k", "in db 1")
    assert r.get("k") is None
    from_url = redis.Redis.from_url(f"redis://{host}:{port}/1", decode_responses=True)
    try:
        assert from_url.get("k") == "in db 1"
        assert from_url.dbsize() == 1
    finally:
        from_url.close()
    assert r.dbsize() == 0


def test_pooled_connections_stay_in_their_database(connect):
    # Several connections of one pool: each selects db 2 on connect.
    two = connect(db=2)
    pipe = two.pipeline(transaction=False)
    for i in range(20):
        pipe.set(f"k{i}", i)
    pipe.execute()
    assert two.dbsize() == 20
    assert connect(db=0).dbsize() == 0


def test_move_swapdb_flushdb(r, connect):
    r.set("k", "v")
    assert r.move("k", 3) is True
    three = connect(db=3)
    assert three.get("k") == "v"
    assert r.swapdb(0, 3) is True
    assert r.get("k") == "v"
    assert three.exists("k") == 0
    three.set("other", "x")
    assert r.flushdb() is True
    assert r.dbsize() == 0
    assert three.dbsize() == 1
