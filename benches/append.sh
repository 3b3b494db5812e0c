#!/usr/bin/env bash
# Growing strings (issue 9, finding 8): a ringcache node and redis-server,
# same run, alternating. Needs redis-cli and redis-benchmark (redis-tools).
#
#   benches/append.sh [rounds]        (default 3 rounds)
#
# Per round and server:
#   1. 256 x APPEND of 1 MiB to one key, sent with redis-cli --pipe: the
#      wall time of the whole batch (256 MiB on the loopback included);
#   2. SETRANGE big 268435455 x, then 1,000 x APPEND big y from one client
#      (redis-benchmark -c 1): the per-call latency (p50, p99, max).
# Prints every run and the medians over the rounds.
# BIN=path/to/ringcache-server measures that binary instead of building.
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
bench_ports 17383
require redis-cli redis-benchmark
build_release ringcache-server
start_pair

# 256 APPEND commands of 1 MiB each, in RESP.
head -c 1048576 /dev/zero | tr '\0' 'x' > "$WORK/chunk"
{
  for _ in $(seq 1 256); do
    printf '*3\r\n$6\r\nAPPEND\r\n$3\r\nlog\r\n$1048576\r\n'
    cat "$WORK/chunk"
    printf '\r\n'
  done
} > "$WORK/appends"

now_ms() { date +%s%3N; }

# megabyte_appends PORT -> milliseconds for the 256 appends
megabyte_appends() {
  redis-cli -p "$1" flushall >/dev/null
  local start end
  start=$(now_ms)
  redis-cli -p "$1" --pipe < "$WORK/appends" >/dev/null
  end=$(now_ms)
  [ "$(redis-cli -p "$1" strlen log)" = 268435456 ] || { echo "wrong length on port $1" >&2; exit 1; }
  redis-cli -p "$1" flushall >/dev/null
  echo $((end - start))
}

# byte_appends PORT -> "p50 p99 max" in ms of APPEND big y after the SETRANGE
byte_appends() {
  redis-cli -p "$1" flushall >/dev/null
  redis-cli -p "$1" setrange big 268435455 x >/dev/null
  redis-benchmark -p "$1" -c 1 -n 1000 --csv APPEND big y \
    | awk -F'","' 'NR == 2 { gsub(/"/, "", $8); print $5, $7, $8 }'
  [ "$(redis-cli -p "$1" strlen big)" = 268436456 ] || { echo "wrong length on port $1" >&2; exit 1; }
  redis-cli -p "$1" flushall >/dev/null
}

declare -A results
printf '%-6s %-10s %14s %16s %16s %16s\n' round server "256x1MiB (ms)" "1B p50 (ms)" "1B p99 (ms)" "1B max (ms)"
for round in $(seq 1 "$ROUNDS"); do
  for name in "${SERVERS[@]}"; do
    port=$(port_of "$name")
    total=$(megabyte_appends "$port")
    read -r p50 p99 max < <(byte_appends "$port")
    printf '%-6s %-10s %14s %16s %16s %16s\n' "$round" "$name" "$total" "$p50" "$p99" "$max"
    results[$name,total]+="$total "
    results[$name,p50]+="$p50 "
    results[$name,p99]+="$p99 "
  done
done
echo "medians over $ROUNDS rounds:"
for name in "${SERVERS[@]}"; do
  printf '%-10s 256x1MiB %s ms; APPEND 1 byte to 256 MiB: p50 %s ms, p99 %s ms\n' "$name" \
    "$(tr ' ' '\n' <<< "${results[$name,total]}" | grep . | median)" \
    "$(tr ' ' '\n' <<< "${results[$name,p50]}" | grep . | median)" \
    "$(tr ' ' '\n' <<< "${results[$name,p99]}" | grep . | median)"
done
