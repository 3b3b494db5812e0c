"""redis-py's client-side cache: redis.Redis(protocol=3,
cache_config=CacheConfig()) turns CLIENT TRACKING on, serves repeated
reads from its cache and drops an entry when the server sends an
invalidation (another client's write, a delete, an expiry, FLUSHALL)."""

import pytest
import redis
from redis.cache import CacheConfig

from conftest import eventually


@pytest.fixture
def cached(r, connect, target):
    """A caching client; skipped for a redis-server older than 7.4, which
    redis-py refuses to cache for (the server itself has tracking)."""
    name, _, _ = target
    version = r.info("server")["redis_version"]
    major_minor = tuple(int(part) for part in version.split(".")[:2])
    if name == "redis" and major_minor < (7, 4):
        with pytest.raises(redis.ConnectionError, match="7.4 or later"):
            connect(protocol=3, cache_config=CacheConfig()).ping()
        pytest.skip(f"redis-py caches only with Redis 7.4 or later; redis-server is {version}")
    return connect(protocol=3, cache_config=CacheConfig())


def test_cache_sees_another_clients_write(cached, r):
    r.set("k", "v1")
    assert cached.get("k") == "v1"
    assert cached.get("k") == "v1"
    cache = cached.get_cache()
    assert cache.size >= 1
    r.set("k", "v2")
    eventually(lambda: cached.get("k") == "v2", what="the write seen through the cache")


def test_cache_drops_deleted_and_flushed_keys(cached, r):
    r.mset({"a": "1", "b": "2"})
    assert cached.get("a") == "1" and cached.get("b") == "2"
    r.delete("a")
    eventually(lambda: cached.get("a") is None, what="the delete seen through the cache")
    r.flushall()
    eventually(lambda: cached.get("b") is None, what="FLUSHALL seen through the cache")


def test_cache_drops_expired_keys(cached, r):
    r.set("t", "v", px=100)
    assert cached.get("t") == "v"
    eventually(lambda: cached.get("t") is None, what="the expiry seen through the cache")


def test_tracking_is_on_for_the_caching_connection(cached, r):
    assert cached.get("missing") is None
    tracked = [c for c in r.client_list() if "t" in c.get("flags", "")]
    assert tracked, r.client_list()
    assert r.client_info()["flags"] == "N"
