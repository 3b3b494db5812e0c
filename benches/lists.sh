#!/usr/bin/env bash
# Lists: throughput of the list commands and memory of many small lists, a
# ringcache node against redis-server with the same settings, same run.
#
#   benches/lists.sh [rounds]          (default 3 rounds)
#
# Throughput: `redis-benchmark -t lpush,rpush,lpop,rpop,lrange_100,lrange_300
# -r KEYSPACE -c CLIENTS -n REQUESTS` at pipeline 1 and 16, the two servers
# alternating, FLUSHALL before each run; one line per run and the median
# ratio (ringcache / redis) per test. Memory: LISTS lists of 10 short
# strings ("value-0" .. "value-9") loaded with redis-cli --pipe, INFO
# used_memory per list.
#
# Environment: REQUESTS (1000000), CLIENTS (50), KEYSPACE (100000),
# LISTS (100000), PIPELINES ("1 16"), RC_PORT (17391), RS_PORT (17392),
# BIN, SKIP_BUILD=1.
# Needs redis-benchmark and redis-cli (redis-tools); redis-server to compare.
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
env_defaults REQUESTS=1000000 CLIENTS=50 KEYSPACE=100000 LISTS=100000 PIPELINES="1 16"
bench_ports 17391
require redis-benchmark redis-cli
build_release ringcache-server
start_pair
TESTS=lpush,rpush,lpop,rpop,lrange_100,lrange_300

redis_benchmark_ratios "$TESTS" "$ROUNDS" "$PIPELINES"

# Memory: LISTS lists of 10 short strings.
load_lists() {
  awk -v n="$LISTS" 'BEGIN {
    for (i = 1; i <= n; i++) {
      key = "list:" i
      printf "*12\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n", length(key), key
      for (e = 0; e < 10; e++) printf "$7\r\nvalue-%d\r\n", e
    }
  }' | redis-cli -p "$1" --pipe >/dev/null
}
for name in "${SERVERS[@]}"; do
  port=$(port_of "$name")
  resp "$port" FLUSHALL >/dev/null
  before=$(info_field "$port" used_memory)
  load_lists "$port"
  after=$(info_field "$port" used_memory)
  lists=$(resp "$port" DBSIZE)
  encoding=$(resp "$port" OBJECT ENCODING list:1)
  awk -v n="$name" -v k="$lists" -v b="$before" -v a="$after" -v e="$encoding" \
    'BEGIN { printf "%-10s lists=%d (%s) used_memory/list=%.1f\n", n, k, e, (a - b) / k }'
done
