"""Fixtures of the redis-py compatibility suite.

Every test that takes `r` runs twice: against a ringcache node and against
a real redis-server, so each assertion is checked against Redis itself.
The Rust wrapper (tests/python_suite.rs) starts the ringcache node, a
3-node ringcache cluster and the redis-server, and passes their addresses:

    RINGCACHE_ADDR          host:port of a standalone ringcache node
    RINGCACHE_CLUSTER_ADDRS host:port,... of a 3-node ringcache cluster
    REDIS_ADDR              host:port of a redis-server

The redis-server cluster the cluster tests compare with is started here
(three redis-server processes, killed at the end of the session).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

# Bound for anything that should happen soon on a loaded machine.
DEADLINE = 30.0


def _addr(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the suite through `cargo test --test python_suite`")
    host, port = value.rsplit(":", 1)
    return host, int(port)


def eventually(check, deadline=DEADLINE, what="condition"):
    """Polls `check` until it returns a true value (returned) or fails."""
    until = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > until:
            pytest.fail(f"{what} not reached within {deadline} s")
        time.sleep(0.01)


def next_message(pubsub, deadline=DEADLINE):
    """The next pub/sub message (subscription confirmations included)."""
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        message = pubsub.get_message(timeout=0.2)
        if message is not None:
            return message
    pytest.fail("no pub/sub message in time")


@pytest.fixture(params=["ringcache", "redis"])
def target(request):
    """The server under test: (name, host, port)."""
    env = "RINGCACHE_ADDR" if request.param == "ringcache" else "REDIS_ADDR"
    host, port = _addr(env)
    return request.param, host, port


@pytest.fixture
def connect(target):
    """Opens clients of the target (closed after the test); keyword
    arguments go to redis.Redis. redis-py 8 speaks RESP3 unless given
    protocol=2."""
    _, host, port = target
    clients = []

    def make(**kwargs):
        kwargs.setdefault("decode_responses", True)
        kwargs.setdefault("socket_timeout", DEADLINE)
        client = redis.Redis(host=host, port=port, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def r(connect):
    """A client of the target, on an empty server (every database)."""
    client = connect()
    client.flushall()
    client.script_flush()
    return client


def _free_port():
    # The cluster bus listens on port + 10000: both must be free.
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


def _start_redis_cluster(workdir):
    """Three cluster-mode redis-servers joined by redis-cli; returns
    (processes, ports)."""
    processes, ports = [], []
    try:
        for index in range(3):
            port = _free_port()
            node_dir = os.path.join(workdir, str(index))
            os.makedirs(node_dir)
            processes.append(
                subprocess.Popen(
                    ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                     "--cluster-enabled", "yes", "--save", "", "--appendonly", "no",
                     "--dir", node_dir],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            ports.append(port)
        for port in ports:
            eventually(lambda: _answers(port), what=f"redis-server on {port}")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
             "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            timeout=DEADLINE,
        )
        for port in ports:
            eventually(lambda: _cluster_ok(port), what=f"redis cluster state on {port}")
        return processes, ports
    except BaseException:
        _kill(processes)
        raise


def _answers(port):
    try:
        return redis.Redis(port=port, socket_timeout=1).ping()
    except redis.ConnectionError:
        return False


def _cluster_ok(port):
    info = redis.Redis(port=port, socket_timeout=1).cluster("info")
    return info.get("cluster_state") == "ok"


def _kill(processes):
    for process in processes:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def redis_cluster_ports():
    """Ports of a 3-node redis-server cluster (killed at session end)."""
    if shutil.which("redis-cli") is None:
        pytest.fail("redis-cli is needed to create the redis-server cluster")
    workdir = tempfile.mkdtemp(prefix="ringcache-pysuite-")
    processes, ports = _start_redis_cluster(workdir)
    yield ports
    _kill(processes)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(params=["ringcache", "redis"])
def rc(request):
    """A RedisCluster client of a 3-node cluster: ringcache's or
    redis-server's, emptied first."""
    if request.param == "ringcache":
        nodes = [_addr_of(a) for a in os.environ.get("RINGCACHE_CLUSTER_ADDRS", "").split(",") if a]
        if len(nodes) != 3:
            pytest.fail("RINGCACHE_CLUSTER_ADDRS must name 3 nodes")
    else:
        nodes = [("127.0.0.1", p) for p in request.getfixturevalue("redis_cluster_ports")]
    client = RedisCluster(
        startup_nodes=[ClusterNode(h, p) for h, p in nodes],
        decode_responses=True,
        socket_timeout=DEADLINE,
    )
    # Every node: redis-py counts only one ringcache node as a primary
    # (see test_cluster.py), and FLUSHALL acts on the node it reaches.
    client.flushall(target_nodes=RedisCluster.ALL_NODES)
    client.execute_command("SCRIPT FLUSH", target_nodes=RedisCluster.ALL_NODES)
    client.is_ringcache = request.param == "ringcache"
    yield client
    client.close()


def _addr_of(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)
