#!/usr/bin/env bash
# What the lease hooks cost GET and SET: `redis-benchmark -t set,get -n N
# -P P -q` against a base build without leases (BASE_BIN, required) and
# the node of this checkout (BIN or target/release), rounds alternating,
# and the same node while OUTSTANDING leases on other keys are held (each
# write then looks its key up in the lease table instead of one atomic
# load). One release node each, loopback.
#
#   BASE_BIN=/tmp/rc-base N=300000 P=16 ROUNDS=5 benches/lease-cost.sh
#
# Environment: BASE_BIN, N (300000), P (16), ROUNDS (5), OUTSTANDING
# (1000), RC_PORT (16440; the base node takes RC_PORT + 2), SKIP_BUILD=1.
# Prints one line per round and variant (SET and GET requests/s, the
# server's CPU µs per request), then the medians.
. "$(dirname "$0")/lib.sh"
require redis-benchmark python3
[ -n "${BASE_BIN:-}" ] || { echo "BASE_BIN (a build without leases) is required" >&2; exit 1; }
env_defaults N=300000 P=16 ROUNDS=5 OUTSTANDING=1000
bench_ports 16440
build_release ringcache-server
start_ringcache ringcache "$RC_PORT"
start_ringcache base "$((RC_PORT + 2))"

# hold_leases PORT COUNT: COUNT leases on keys `held:<i>`, living 10 min.
hold_leases() {
  timeout 30 python3 - "$1" "$2" <<'EOF'
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
req = b"".join(b"*3\r\n$12\r\nRC.LEASE.GET\r\n$%d\r\n%s\r\n$6\r\n600000\r\n" % (len(k), k)
               for k in (b"held:%d" % i for i in range(count)))
s.sendall(req)
f = s.makefile("rb")
for _ in range(count):
    line = f.readline()
    if not line.startswith(b":"):
        sys.exit("no lease: %r" % line)
EOF
}

# bench NAME PORT: "SET_RPS GET_RPS CPU_US_PER_REQUEST" (the server's CPU
# time over both tests' requests, less sensitive to a busy machine than
# the rates).
bench() {
  local before after rates
  before=$(cpu_ticks "$1")
  rates=$(timeout 300 redis-benchmark -p "$2" -t set,get -n "$N" -P "$P" -q --csv \
    | awk -F'","' '{ gsub(/"/, "", $1); gsub(/"/, "", $2) } $1 == "SET" { s = $2 } $1 == "GET" { g = $2 } END { print s, g }')
  after=$(cpu_ticks "$1")
  echo "$rates $(us_per_request $((after - before)) $((2 * N)))"
}

echo "redis-benchmark -t set,get -n $N -P $P, $ROUNDS rounds, alternating; $OUTSTANDING leases held in 'held'"
for round in $(seq 1 "$ROUNDS"); do
  echo "$round base $(bench base "$((RC_PORT + 2))")"
  resp "$RC_PORT" FLUSHALL >/dev/null
  echo "$round leases $(bench ringcache "$RC_PORT")"
  hold_leases "$RC_PORT" "$OUTSTANDING"
  echo "$round held $(bench ringcache "$RC_PORT")"
  resp "$RC_PORT" FLUSHALL >/dev/null
done | tee "$WORK/rounds.txt"
for variant in base leases held; do
  set_rps=$(awk -v v="$variant" '$2 == v { print $3 }' "$WORK/rounds.txt" | median)
  get_rps=$(awk -v v="$variant" '$2 == v { print $4 }' "$WORK/rounds.txt" | median)
  cpu=$(awk -v v="$variant" '$2 == v { print $5 }' "$WORK/rounds.txt" | median)
  echo "median $variant: SET $set_rps GET $get_rps, server CPU $cpu us/request"
done
