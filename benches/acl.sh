#!/usr/bin/env bash
# The ACL check's cost: alternating redis-benchmark runs against one
# release node, as the default user (unrestricted: the fast path) and as a
# user with 10 key patterns (the matching one last) and +@all.
#
#   P=16 N=300000 ROUNDS=5 benches/acl.sh
#
# Environment: P (pipeline, 1), N (requests per run, 100000), ROUNDS (5),
# PORT (16420), BIN (the release ringcache-server of this checkout).
# Prints one line per run: round, user, SET and GET requests/s.
set -u
BIN=${BIN:-$(dirname "$0")/../target/release/ringcache-server}
PORT=${PORT:-16420}
$BIN --bind 127.0.0.1 --port $PORT > /tmp/acl_bench_node.log 2>&1 &
PID=$!
trap 'kill -9 $PID 2>/dev/null' EXIT
for i in $(seq 1 100); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p $PORT acl setuser bench on '>pw' '~p0:*' '~p1:*' '~p2:*' '~p3:*' '~p4:*' '~p5:*' '~p6:*' '~p7:*' '~p8:*' '~key:*' '&*' '+@all' >/dev/null
for round in $(seq 1 ${ROUNDS:-5}); do
  for who in default bench; do
    if [ $who = bench ]; then AUTH="--user bench -a pw"; else AUTH=""; fi
    out=$(timeout 120 redis-benchmark -p $PORT $AUTH -t get,set -n ${N:-100000} -c 50 -P ${P:-1} -r 100000 --csv 2>/dev/null)
    set_rps=$(echo "$out" | grep '"SET"' | cut -d, -f2 | tr -d '"')
    get_rps=$(echo "$out" | grep '"GET"' | cut -d, -f2 | tr -d '"')
    echo "$round $who SET $set_rps GET $get_rps"
  done
done
