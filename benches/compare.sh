#!/usr/bin/env bash
# Side-by-side throughput and memory of a ringcache node and redis-server,
# same settings, same run, alternating. Needs redis-benchmark (Debian
# package redis-tools); compares with redis-server when it is installed.
#
#   benches/compare.sh [rounds]        (default 3 rounds)
#
# Prints one line per run and the median ratios (ringcache / redis).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
REQUESTS=${REQUESTS:-1000000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
SIZE=${SIZE:-32}
RC_PORT=${RC_PORT:-17379}
RS_PORT=${RS_PORT:-17380}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN="$TARGET_DIR/release/ringcache-server"

command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found: apt-get install -y redis-tools" >&2; exit 1; }
cargo build --release -q -p ringcache-server
HAVE_REDIS=0
command -v redis-server >/dev/null && HAVE_REDIS=1

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$BIN" --port "$RC_PORT" >/dev/null 2>&1 & pids+=($!)
if [ $HAVE_REDIS = 1 ]; then
  redis-server --port "$RS_PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & pids+=($!)
fi
for port in "$RC_PORT" $([ $HAVE_REDIS = 1 ] && echo "$RS_PORT"); do
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

# rps SERVER_PORT TEST PIPELINE -> requests per second
rps() {
  redis-benchmark -p "$1" -t "$2" -P "$3" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -d "$SIZE" --csv -q \
    | awk -F'","' 'NR>1 || !/rps/ { gsub(/"/,"",$2); print $2; exit }'
}

median() { sort -g | awk '{a[NR]=$1} END { print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2) }'; }

echo "redis-benchmark -c $CLIENTS -n $REQUESTS -r $KEYSPACE -d $SIZE, $ROUNDS rounds, alternating"
printf '%-8s %-4s %12s %12s %7s\n' test P ringcache redis ratio
for test in set get; do
  for pipeline in 1 16; do
    ratios=()
    for round in $(seq 1 "$ROUNDS"); do
      rc=$(rps "$RC_PORT" "$test" "$pipeline")
      rs=0
      [ $HAVE_REDIS = 1 ] && rs=$(rps "$RS_PORT" "$test" "$pipeline")
      ratio=$(awk -v a="$rc" -v b="$rs" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
      printf '%-8s %-4s %12s %12s %7s\n' "$test" "$pipeline" "$rc" "$rs" "$ratio"
      ratios+=("$ratio")
    done
    if [ $HAVE_REDIS = 1 ]; then
      printf 'median ratio %s P%s: %s\n' "$test" "$pipeline" "$(printf '%s\n' "${ratios[@]}" | median)"
    fi
  done
done
