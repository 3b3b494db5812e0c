#!/usr/bin/env bash
# Where a request's server CPU goes at a given pipeline depth: user and
# system microseconds per operation (/proc/PID/stat) and system calls per
# operation (perf's syscall tracepoints), ringcache and redis-server in the
# same run, alternating, R rounds. Needs perf and redis-server.
#
#   benches/cpu-split.sh [rounds]          (default 2)
#
# Environment: PIPELINE (1), SECONDS_MEASURED (3), RC_PORT (17481),
# RS_PORT (17482), RC_ENV (environment for the node, e.g.
# _RJEM_MALLOC_CONF=thp:never to compare allocator settings).
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-2}
PIPELINE=${PIPELINE:-1}
WINDOW=${SECONDS_MEASURED:-3}
bench_ports 17481
require perf python3
build_release ringcache-server ringcache-bench
start_pair --need-redis
RC=$(server_pid ringcache)
RS=$(server_pid redis)
for port in "$RC_PORT" "$RS_PORT"; do
  "$LOADGEN" --server "127.0.0.1:$port" --load --key-min 1 --key-max 100000 \
    --pipeline 16 --data-size 32 >/dev/null
done

commands() { info_field "$1" total_commands_processed; }
ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

printf '%-6s %-10s %10s %11s %11s %11s\n' round server ops user_us/op sys_us/op syscalls/op
for round in $(seq 1 "$ROUNDS"); do
  order=("ringcache $RC_PORT $RC" "redis $RS_PORT $RS")
  [ $((round % 2)) = 0 ] && order=("${order[1]}" "${order[0]}")
  for entry in "${order[@]}"; do
    read -r name port pid <<<"$entry"
    timeout --kill-after=5 $((WINDOW + 20)) "$LOADGEN" --server "127.0.0.1:$port" \
      --key-min 1 --key-max 100000 --ratio 1:10 --pipeline "$PIPELINE" --connections 25 \
      --data-size 32 --test-time $((WINDOW + 2)) >/dev/null 2>&1 &
    load=$!
    track_pid "$load"
    sleep 1 # the load generator's warm-up; the window below is what counts
    c0=$(commands "$port"); read -r u0 s0 < <(ticks "$pid")
    calls=$(perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -- sleep "$WINDOW" 2>&1 >/dev/null | awk -F, '{ print $1 }')
    c1=$(commands "$port"); read -r u1 s1 < <(ticks "$pid")
    wait "$load"
    awk -v r="$round" -v n="$name" -v ops=$((c1 - c0)) -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$hz" -v calls="$calls" \
      'BEGIN { printf "%-6s %-10s %10d %11.3f %11.3f %11.3f\n", r, n, ops, u * 1e6 / hz / ops, s * 1e6 / hz / ops, calls / ops }'
  done
done
