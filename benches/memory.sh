#!/usr/bin/env bash
# Used memory per key after loading 1,000,000 keys (memtier-1 .. memtier-1000000,
# 32-byte values) into a ringcache node and, when installed, into
# redis-server, with the same settings. Needs redis-cli (redis-tools).
#
#   benches/memory.sh [keys]
#
# BIN=path/to/ringcache-server measures that binary instead of building
# (to compare two builds in one session).
. "$(dirname "$0")/lib.sh"

KEYS=${1:-1000000}
bench_ports 17381
require redis-cli
build_release ringcache-server
start_pair

rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

value=$(printf 'x%.0s' $(seq 1 32))
load() {
  awk -v n="$KEYS" -v v="$value" 'BEGIN { for (i = 1; i <= n; i++) printf "*3\r\n$3\r\nSET\r\n$%d\r\nmemtier-%d\r\n$32\r\n%s\r\n", length("memtier-" i), i, v }' \
    | redis-cli -p "$1" --pipe >/dev/null
}

for name in "${SERVERS[@]}"; do
  port=$(port_of "$name")
  pid=$(server_pid "$name")
  before=$(info_field "$port" used_memory); rss_before=$(rss_kb "$pid")
  load "$port"
  after=$(info_field "$port" used_memory); rss_after=$(rss_kb "$pid")
  keys=$(resp "$port" DBSIZE)
  awk -v n="$name" -v k="$keys" -v b="$before" -v a="$after" -v rb="$rss_before" -v ra="$rss_after" \
    'BEGIN { printf "%-10s keys=%d used_memory/key=%.1f rss/key=%.1f\n", n, k, (a - b) / k, (ra - rb) * 1024 / k }'
done
