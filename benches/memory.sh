#!/usr/bin/env bash
# Used memory per key after loading 1,000,000 keys (memtier-1 .. memtier-1000000,
# 32-byte values) into a ringcache node and, when installed, into
# redis-server, with the same settings. Needs redis-cli (redis-tools).
#
#   benches/memory.sh [keys]
#
# BIN=path/to/ringcache-server measures that binary instead of building
# (to compare two builds in one session).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=${1:-1000000}
RC_PORT=${RC_PORT:-17381}
RS_PORT=${RS_PORT:-17382}
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

field() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'; }
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

value=$(printf 'x%.0s' $(seq 1 32))
load() {
  awk -v n="$KEYS" -v v="$value" 'BEGIN { for (i = 1; i <= n; i++) printf "*3\r\n$3\r\nSET\r\n$%d\r\nmemtier-%d\r\n$32\r\n%s\r\n", length("memtier-" i), i, v }' \
    | redis-cli -p "$1" --pipe >/dev/null
}

i=0
for port in "${ports[@]}"; do
  pid=${pids[$i]}; i=$((i + 1))
  before=$(field "$port" used_memory); rss_before=$(rss_kb "$pid")
  load "$port"
  after=$(field "$port" used_memory); rss_after=$(rss_kb "$pid")
  keys=$(redis-cli -p "$port" dbsize)
  name=ringcache; [ "$port" = "$RS_PORT" ] && name=redis
  awk -v n="$name" -v k="$keys" -v b="$before" -v a="$after" -v rb="$rss_before" -v ra="$rss_after" \
    'BEGIN { printf "%-10s keys=%d used_memory/key=%.1f rss/key=%.1f\n", n, k, (a - b) / k, (ra - rb) * 1024 / k }'
done
