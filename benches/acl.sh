#!/usr/bin/env bash
# The ACL check's cost: alternating redis-benchmark runs against one
# release node, as the default user (unrestricted: the fast path) and as a
# user with 10 key patterns (the matching one last) and +@all.
#
#   P=16 N=300000 ROUNDS=5 benches/acl.sh
#
# Environment: P (pipeline, 1), N (requests per run, 100000), ROUNDS (5),
# PORT (16420), BIN (the release ringcache-server of this checkout).
# Prints one line per run: round, user, SET and GET requests/s and the
# node's CPU time per request over the run (µs, from /proc: far steadier
# than the rates, which swing 10-20% between rounds), then the medians of
# the CPU per request and their ratio (restricted / default).
# PROFILE=1 also samples the node with `perf record` during each run and
# prints the share of its samples in the ACL check's functions (a direct
# measure of the check's CPU cost, which the rates' spread hides).
# Needs perf (Debian package linux-perf) for PROFILE=1.
set -u
BIN=${BIN:-$(dirname "$0")/../target/release/ringcache-server}
PORT=${PORT:-16420}
$BIN --bind 127.0.0.1 --port $PORT > /tmp/acl_bench_node.log 2>&1 &
PID=$!
trap 'kill -9 $PID 2>/dev/null' EXIT
for i in $(seq 1 100); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p $PORT acl setuser bench on '>pw' '~p0:*' '~p1:*' '~p2:*' '~p3:*' '~p4:*' '~p5:*' '~p6:*' '~p7:*' '~p8:*' '~key:*' '&*' '+@all' >/dev/null
ticks() { awk '{ print $14 + $15 }' /proc/$PID/stat; }
HZ=$(getconf CLK_TCK)
cpu_default=() cpu_bench=() share_default=() share_bench=()
for round in $(seq 1 ${ROUNDS:-5}); do
  for who in default bench; do
    if [ $who = bench ]; then AUTH="--user bench -a pw"; else AUTH=""; fi
    if [ "${PROFILE:-0}" = 1 ]; then
      perf record -F 4999 -o /tmp/acl_bench.perf -p $PID >/dev/null 2>&1 &
      PERF=$!
    fi
    before=$(ticks)
    out=$(timeout 120 redis-benchmark -p $PORT $AUTH -t get,set -n ${N:-100000} -c 50 -P ${P:-1} -r 100000 --csv 2>/dev/null)
    after=$(ticks)
    share=""
    if [ "${PROFILE:-0}" = 1 ]; then
      kill -INT $PERF; wait $PERF
      share=$(perf report -i /tmp/acl_bench.perf --no-children --stdio 2>/dev/null \
        | awk '/^ +[0-9.]+%/ && /acl::|flags_of_key/ { s += $1 } END { printf " acl_check_share %.2f%%", s }')
      if [ $who = bench ]; then share_bench+=("${share##* }"); else share_default+=("${share##* }"); fi
    fi
    set_rps=$(echo "$out" | grep '"SET"' | cut -d, -f2 | tr -d '"')
    get_rps=$(echo "$out" | grep '"GET"' | cut -d, -f2 | tr -d '"')
    cpu=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="${N:-100000}" 'BEGIN { printf "%.3f", t * 1e6 / hz / (2 * n) }')
    if [ $who = bench ]; then cpu_bench+=("$cpu"); else cpu_default+=("$cpu"); fi
    echo "$round $who SET $set_rps GET $get_rps cpu_us_per_request $cpu$share"
  done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
d=$(printf '%s\n' "${cpu_default[@]}" | median)
b=$(printf '%s\n' "${cpu_bench[@]}" | median)
echo "median CPU per request: default $d µs, 10 patterns $b µs, ratio $(awk -v a="$b" -v b="$d" 'BEGIN { printf "%.3f", a / b }')"
if [ "${PROFILE:-0}" = 1 ]; then
  d=$(printf '%s\n' "${share_default[@]%\%}" | median)
  b=$(printf '%s\n' "${share_bench[@]%\%}" | median)
  echo "median share of the node's samples in the ACL check: default $d%, 10 patterns $b%"
fi
