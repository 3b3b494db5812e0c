#!/usr/bin/env bash
# PING latency from a second client while one client runs a long command:
# KEYS * over COUNT keys, UNLINK of a COUNT-field hash, FLUSHALL ASYNC of
# COUNT keys; ringcache and redis-server in the same run, alternating,
# ROUNDS rounds, medians printed (release build).
#
#   benches/stall.sh [rounds] [count]
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
COUNT=${2:-1000000}
bench_ports 17391
require python3
build_release ringcache-server ringcache-bench
start_pair --need-redis

out="$WORK/lines"
for round in $(seq 1 "$ROUNDS"); do
  for scenario in keys unlink flushall-async; do
    for server in ringcache redis; do
      port=$(port_of "$server")
      line=$("$STALL" "127.0.0.1:$port" "$scenario" "$COUNT")
      echo "round=$round server=$server $line" | tee -a "$out"
    done
  done
done

echo
echo "medians over $ROUNDS rounds ($COUNT keys or fields):"
for scenario in keys unlink flushall-async; do
  for server in ringcache redis; do
    grep "server=$server " "$out" | grep "\"scenario\":\"$scenario\"" \
      | python3 benches/median_stall.py "$scenario" "$server"
  done
done
