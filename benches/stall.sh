#!/usr/bin/env bash
# PING latency from a second client while one client runs a long command:
# KEYS * over COUNT keys, UNLINK of a COUNT-field hash, FLUSHALL ASYNC of
# COUNT keys; ringcache and redis-server in the same run, alternating,
# ROUNDS rounds, medians printed (release build).
#
#   benches/stall.sh [rounds] [count]
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
COUNT=${2:-1000000}
RC_PORT=${RC_PORT:-17391}
RS_PORT=${RS_PORT:-17392}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p ringcache-server -p ringcache-bench
BIN="$TARGET_DIR/release/ringcache-server"
STALL="$TARGET_DIR/release/ringcache-stall"

pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$BIN" --port "$RC_PORT" >/dev/null 2>&1 & pids+=($!)
redis-server --port "$RS_PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & pids+=($!)
for port in "$RC_PORT" "$RS_PORT"; do
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

out=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  for scenario in keys unlink flushall-async; do
    for server in ringcache redis; do
      port=$RC_PORT; [ "$server" = redis ] && port=$RS_PORT
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
rm -f "$out"
