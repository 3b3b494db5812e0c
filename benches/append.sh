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
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
RC_PORT=${RC_PORT:-17383}
RS_PORT=${RS_PORT:-17384}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${BIN:-}" ]; then
  BIN="$TARGET_DIR/release/ringcache-server"
  cargo build --release -q -p ringcache-server
fi
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found: apt-get install -y redis-tools" >&2; exit 1; }
HAVE_REDIS=0
command -v redis-server >/dev/null && HAVE_REDIS=1

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$BIN" --port "$RC_PORT" >/dev/null 2>&1 & pids+=($!)
ports=("$RC_PORT")
if [ $HAVE_REDIS = 1 ]; then
  redis-server --port "$RS_PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & pids+=($!)
  ports+=("$RS_PORT")
fi
for port in "${ports[@]}"; do
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

# 256 APPEND commands of 1 MiB each, in RESP.
head -c 1048576 /dev/zero | tr '\0' 'x' > "$work/chunk"
{
  for _ in $(seq 1 256); do
    printf '*3\r\n$6\r\nAPPEND\r\n$3\r\nlog\r\n$1048576\r\n'
    cat "$work/chunk"
    printf '\r\n'
  done
} > "$work/appends"

now_ms() { date +%s%3N; }

# megabyte_appends PORT -> milliseconds for the 256 appends
megabyte_appends() {
  redis-cli -p "$1" flushall >/dev/null
  local start end
  start=$(now_ms)
  redis-cli -p "$1" --pipe < "$work/appends" >/dev/null
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

median() { sort -g | awk '{a[NR]=$1} END { print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) }'; }

declare -A results
names=(ringcache redis)
printf '%-6s %-10s %14s %16s %16s %16s\n' round server "256x1MiB (ms)" "1B p50 (ms)" "1B p99 (ms)" "1B max (ms)"
for round in $(seq 1 "$ROUNDS"); do
  i=0
  for port in "${ports[@]}"; do
    name=${names[$i]}; i=$((i + 1))
    total=$(megabyte_appends "$port")
    read -r p50 p99 max < <(byte_appends "$port")
    printf '%-6s %-10s %14s %16s %16s %16s\n' "$round" "$name" "$total" "$p50" "$p99" "$max"
    results[$name,total]+="$total "
    results[$name,p50]+="$p50 "
    results[$name,p99]+="$p99 "
  done
done
echo "medians over $ROUNDS rounds:"
for name in "${names[@]:0:${#ports[@]}}"; do
  printf '%-10s 256x1MiB %s ms; APPEND 1 byte to 256 MiB: p50 %s ms, p99 %s ms\n' "$name" \
    "$(tr ' ' '\n' <<< "${results[$name,total]}" | grep . | median)" \
    "$(tr ' ' '\n' <<< "${results[$name,p50]}" | grep . | median)" \
    "$(tr ' ' '\n' <<< "${results[$name,p99]}" | grep . | median)"
done
