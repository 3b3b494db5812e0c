#!/usr/bin/env bash
# Sets against redis-server, same settings, same run, alternating:
# `redis-benchmark -t sadd,spop -r 100000 -c 50` at pipeline 1 and 16
# (requests per second, median ratio ringcache / redis), and used memory
# per key for 100k sets of 10 small integers and 100k hashes of 5 fields.
# Needs redis-benchmark and redis-cli (redis-tools).
#
#   benches/sets.sh [rounds]        (default 3 rounds)
#
# Environment: REQUESTS (1000000), CLIENTS (50), KEYSPACE (100000),
# MEMORY_KEYS (100000), RC_PORT (17383), RS_PORT (17384), BIN, SKIP_BUILD=1.
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
env_defaults REQUESTS=1000000 CLIENTS=50 KEYSPACE=100000 MEMORY_KEYS=100000
bench_ports 17383
require redis-benchmark redis-cli
build_release ringcache-server
start_pair --need-redis

# rps PORT TEST PIPELINE -> requests per second
rps() {
  redis-benchmark -p "$1" -t "$2" -P "$3" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" --csv -q \
    | awk -F'","' 'NR>1 || !/rps/ { gsub(/"/,"",$2); print $2; exit }'
}

echo "redis-benchmark -c $CLIENTS -n $REQUESTS -r $KEYSPACE, $ROUNDS rounds, alternating"
printf '%-6s %-4s %12s %12s %7s\n' test P ringcache redis ratio
for test in sadd spop; do
  for pipeline in 1 16; do
    ratios=()
    for round in $(seq 1 "$ROUNDS"); do
      # Each run starts from the same empty key space on both servers
      # (SPOP pops the set the SADD run of its round filled).
      for port in "$RC_PORT" "$RS_PORT"; do resp "$port" FLUSHALL >/dev/null; done
      if [ "$test" = spop ]; then
        rps "$RC_PORT" sadd "$pipeline" >/dev/null
        rps "$RS_PORT" sadd "$pipeline" >/dev/null
      fi
      rc=$(rps "$RC_PORT" "$test" "$pipeline")
      rs=$(rps "$RS_PORT" "$test" "$pipeline")
      ratio=$(awk -v a="$rc" -v b="$rs" 'BEGIN { printf "%.3f", a / b }')
      printf '%-6s %-4s %12s %12s %7s\n' "$test" "$pipeline" "$rc" "$rs" "$ratio"
      ratios+=("$ratio")
    done
    printf 'median ratio %s P%s: %s\n' "$test" "$pipeline" "$(printf '%s\n' "${ratios[@]}" | median)"
  done
done

# The commands that fill MEMORY_KEYS keys of one kind, as RESP.
fill_commands() {
  awk -v n="$MEMORY_KEYS" -v kind="$1" 'function bulk(s) { return "$" length(s) "\r\n" s "\r\n" }
    BEGIN {
      for (i = 0; i < n; i++) {
        key = sprintf("key:%06d", i)
        if (kind == "sets") {
          # Ten distinct integers below 1000: a 2-byte intset.
          out = "*12\r\n" bulk("SADD") bulk(key)
          for (m = 0; m < 10; m++) out = out bulk((i + m * 97) % 1000)
        } else {
          out = "*12\r\n" bulk("HSET") bulk(key)
          for (f = 0; f < 5; f++) out = out bulk("field" f) bulk("value" i)
        }
        printf "%s", out
      }
    }'
}

echo "used memory per key, $MEMORY_KEYS keys"
for kind in sets hashes; do
  for name in "${SERVERS[@]}"; do
    port=$(port_of "$name")
    resp "$port" FLUSHALL >/dev/null
    before=$(info_field "$port" used_memory)
    fill_commands "$kind" | redis-cli -p "$port" --pipe >/dev/null
    after=$(info_field "$port" used_memory)
    keys=$(resp "$port" DBSIZE)
    encoding=$(resp "$port" OBJECT ENCODING key:000001)
    awk -v n="$name" -v kind="$kind" -v k="$keys" -v b="$before" -v a="$after" -v e="$encoding" \
      'BEGIN { printf "%-7s %-10s keys=%d encoding=%s used_memory/key=%.1f\n", kind, n, k, e, (a - b) / k }'
  done
done
