#!/usr/bin/env bash
# Freeing large values (issue 9): how long UNLINK and DEL of a 1M-field
# hash and FLUSHALL ASYNC over 1M keys take, and a second client's PING
# latency meanwhile, on a ringcache node and redis-server (same run, one
# after the other). Needs python3 (the client).
#
#   benches/lazyfree.sh [count]        (default 1,000,000 fields or keys)
#
# BIN=path/to/ringcache-server measures that binary instead of building.
. "$(dirname "$0")/lib.sh"

COUNT=${1:-1000000}
bench_ports 17385
require python3
build_release ringcache-server
start_pair

for name in "${SERVERS[@]}"; do
  port=$(port_of "$name")
  echo "== $name"
  python3 - "$port" "$COUNT" <<'PY'
import socket, sys, threading, time

port, count = int(sys.argv[1]), int(sys.argv[2])

def connect():
    s = socket.create_connection(("127.0.0.1", port))
    return s, s.makefile("rb")

def encode(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)

def read(f):
    line = f.readline()
    if line[:1] == b"$" and int(line[1:]) >= 0:
        f.read(int(line[1:]) + 2)
    elif line[:1] == b"*":
        for _ in range(int(line[1:])):
            read(f)
    return line.strip()

sock, reader = connect()

def fill(command, key_of, n=count):
    # Pipelined, 1,000 fields or keys per command.
    for start in range(0, n, 1000):
        args = [command] + ([b"big"] if command == b"HSET" else [])
        for i in range(start, min(start + 1000, n)):
            args += [key_of(i), b"v" * 32]
        sock.sendall(encode(*args))
    for _ in range(0, n, 1000):
        read(reader)

def pinger(stop, latencies):
    s, f = connect()
    while not stop.is_set():
        t = time.perf_counter()
        s.sendall(b"PING\r\n")
        f.readline()
        latencies.append((time.perf_counter() - t) * 1000)

def during(label, *args):
    stop, latencies = threading.Event(), []
    thread = threading.Thread(target=pinger, args=(stop, latencies))
    thread.start()
    time.sleep(0.2)
    t = time.perf_counter()
    sock.sendall(encode(*args))
    reply = read(reader)
    took = (time.perf_counter() - t) * 1000
    time.sleep(0.3)
    stop.set()
    thread.join()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)]
    print(f"{label}: {took:.2f} ms ({reply.decode()}); PING p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms")

sock.sendall(encode(b"FLUSHALL"))
read(reader)
fill(b"HSET", lambda i: b"field:%08d" % i)
during(f"UNLINK of a {count}-field hash", b"UNLINK", b"big")
fill(b"HSET", lambda i: b"field:%08d" % i)
during(f"DEL of a {count}-field hash", b"DEL", b"big")
fill(b"MSET", lambda i: b"key:%08d" % i)
during(f"FLUSHALL ASYNC over {count} keys", b"FLUSHALL", b"ASYNC")
PY
done
