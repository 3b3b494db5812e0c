#!/usr/bin/env bash
# Collections: the throughput and memory targets of the data model, a
# ringcache node against redis-server with the same settings, same run.
#
#   benches/collections.sh [rounds]          (default 3 rounds)
#
# Throughput: `redis-benchmark -t lpush,rpush,lpop,rpop,sadd,spop,zadd,
# zpopmin,lrange_100,lrange_300 -r KEYSPACE -c CLIENTS -n REQUESTS` at
# pipeline 1 and 16, the two servers alternating, FLUSHALL before each
# run; one line per run and the median ratio (ringcache / redis) per test.
# Memory: COUNT keys of each type loaded with redis-cli --pipe (lists of
# 10 short strings, sets of 10 small integers, sorted sets of 10 members,
# hashes of 5 fields), INFO used_memory per key, with OBJECT ENCODING.
#
# Environment: REQUESTS (1000000), CLIENTS (50), KEYSPACE (100000),
# COUNT (100000), RC_PORT (17395), RS_PORT (17396), BIN, SKIP_BUILD=1.
# Needs redis-benchmark and redis-cli (redis-tools); redis-server to compare.
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
env_defaults REQUESTS=1000000 CLIENTS=50 KEYSPACE=100000 COUNT=100000
bench_ports 17395
require redis-benchmark redis-cli
build_release ringcache-server
start_pair
TESTS=lpush,rpush,lpop,rpop,sadd,spop,zadd,zpopmin,lrange_100,lrange_300

redis_benchmark_ratios "$TESTS" "$ROUNDS" "1 16"

# load KIND PORT: COUNT keys of KIND through redis-cli --pipe.
load() {
  awk -v n="$COUNT" -v kind="$1" 'BEGIN {
    for (i = 1; i <= n; i++) {
      key = kind ":" i
      if (kind == "list") {
        printf "*12\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n", length(key), key
        for (e = 0; e < 10; e++) printf "$7\r\nvalue-%d\r\n", e
      } else if (kind == "set") {
        printf "*12\r\n$4\r\nSADD\r\n$%d\r\n%s\r\n", length(key), key
        for (e = 0; e < 10; e++) { m = e * 7; printf "$%d\r\n%d\r\n", length(m ""), m }
      } else if (kind == "zset") {
        printf "*22\r\n$4\r\nZADD\r\n$%d\r\n%s\r\n", length(key), key
        for (e = 0; e < 10; e++) printf "$%d\r\n%d\r\n$8\r\nmember-%d\r\n", length(e ""), e, e
      } else {
        printf "*12\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n", length(key), key
        for (e = 0; e < 5; e++) printf "$7\r\nfield-%d\r\n$7\r\nvalue-%d\r\n", e, e
      }
    }
  }' | redis-cli -p "$2" --pipe >/dev/null
}

echo "== used_memory per key, $COUNT keys of each type"
for kind in list set zset hash; do
  for name in "${SERVERS[@]}"; do
    port=$(port_of "$name")
    resp "$port" FLUSHALL >/dev/null
    before=$(info_field "$port" used_memory)
    load "$kind" "$port"
    after=$(info_field "$port" used_memory)
    keys=$(resp "$port" DBSIZE)
    encoding=$(resp "$port" OBJECT ENCODING "$kind:1")
    awk -v n="$name" -v t="$kind" -v k="$keys" -v b="$before" -v a="$after" -v e="$encoding" \
      'BEGIN { printf "%-5s %-10s keys=%d (%s) used_memory/key=%.1f\n", t, n, k, e, (a - b) / k }'
  done
done
