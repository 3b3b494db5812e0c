#!/usr/bin/env bash
# Freeing large values (issue 9): how long UNLINK and DEL of a 1M-field
# hash and FLUSHALL ASYNC over 1M keys take, and a second client's PING
# latency meanwhile, on a ringcache node and redis-server (same run, one
# after the other). Needs python3 (the client) and redis-cli.
#
#   benches/lazyfree.sh
#
# BIN=path/to/ringcache-server measures that binary instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."

RC_PORT=${RC_PORT:-17385}
RS_PORT=${RS_PORT:-17386}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${BIN:-}" ]; then
  BIN="$TARGET_DIR/release/ringcache-server"
  cargo build --release -q -p ringcache-server
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$BIN" --port "$RC_PORT" >/dev/null 2>&1 & pids+=($!)
ports=("$RC_PORT")
if command -v redis-server >/dev/null; then
  redis-server --port "$RS_PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & pids+=($!)
  ports+=("$RS_PORT")
fi
for port in "${ports[@]}"; do
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

for port in "${ports[@]}"; do
  name=ringcache; [ "$port" = "$RS_PORT" ] && name=redis
  echo "== $name"
  python3 - "$port" <<'PY'
import socket, sys, threading, time

port = int(sys.argv[1])

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

def fill(command, key_of, n=1_000_000):
    # Pipelined, 1,000 fields or keys per command.
    for start in range(0, n, 1000):
        args = [command] + ([b"big"] if command == b"HSET" else [])
        for i in range(start, start + 1000):
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
during("UNLINK of a 1M-field hash", b"UNLINK", b"big")
fill(b"HSET", lambda i: b"field:%08d" % i)
during("DEL of a 1M-field hash", b"DEL", b"big")
fill(b"MSET", lambda i: b"key:%08d" % i)
during("FLUSHALL ASYNC over 1M keys", b"FLUSHALL", b"ASYNC")
PY
done
