"""redis-py's Lock: SET NX PX to acquire, Lua scripts (EVALSHA) to
release, extend and reacquire."""

import pytest
from redis.exceptions import LockError, LockNotOwnedError


def test_acquire_release_and_contention(r, connect):
    lock = r.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    assert lock.locked() and lock.owned()
    rival = connect().lock("resource", timeout=10)
    assert not rival.acquire(blocking=False)
    assert not rival.owned()
    lock.release()
    assert r.exists("resource") == 0
    assert rival.acquire(blocking=False)
    rival.release()


def test_extend_and_reacquire(r):
    lock = r.lock("resource", timeout=5)
    assert lock.acquire(blocking=False)
    assert lock.extend(20)
    assert 20_000 < r.pttl("resource") <= 25_000
    assert lock.extend(30, replace_ttl=True)
    assert 25_000 < r.pttl("resource") <= 30_000
    assert lock.reacquire()
    assert 4_000 < r.pttl("resource") <= 5_000
    lock.release()


def test_with_lock_releases_on_exit(r):
    with r.lock("resource", timeout=10, blocking_timeout=5) as lock:
        assert r.get("resource") == lock.local.token.decode()
    assert r.exists("resource") == 0


def test_release_of_a_lock_taken_over_fails(r):
    lock = r.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    r.set("resource", "someone else")
    with pytest.raises(LockNotOwnedError):
        lock.extend(5)
    with pytest.raises(LockNotOwnedError):
        lock.release()
    assert r.get("resource") == "someone else"


def test_release_without_acquire_fails(r):
    with pytest.raises(LockError):
        r.lock("resource").release()
