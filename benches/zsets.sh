#!/usr/bin/env bash
# Sorted sets, a ringcache node against redis-server in the same run:
#   1. redis-benchmark -t zadd,zpopmin -r 100000 -c 50 at -P 1 and -P 16,
#      alternating servers, ROUNDS rounds, median ratios (ringcache / redis);
#   2. used_memory per key for 100,000 sorted sets of 10 members
#      ("member:1".."member:10", integral scores: the compact encoding);
#   3. ZRANK of random members of one 1,000,000-member set (the skip
#      list), requests per second, alternating.
# Needs redis-benchmark and redis-cli (Debian package redis-tools).
#
#   benches/zsets.sh [rounds]          (default 3 rounds)
#
# Environment: REQUESTS (1000000), CLIENTS (50), KEYS (100000),
# BIG (1000000), RANKS (200000), RC_PORT (17385), RS_PORT (17386), BIN,
# SKIP_BUILD=1.
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
env_defaults REQUESTS=1000000 CLIENTS=50 KEYS=100000 BIG=1000000 RANKS=200000
bench_ports 17385
require redis-benchmark redis-cli
build_release ringcache-server
start_pair --need-redis

# rps PORT TEST PIPELINE -> requests per second of one redis-benchmark test
rps() {
  redis-benchmark -p "$1" -t "$2" -P "$3" -c "$CLIENTS" -n "$REQUESTS" -r 100000 --csv -q \
    | awk -F'","' -v t="$2" 'tolower($1) ~ "\"" t { gsub(/"/, "", $2); print $2; exit }'
}

echo "== redis-benchmark -t zadd,zpopmin -r 100000 -c $CLIENTS -n $REQUESTS, $ROUNDS rounds, alternating"
printf '%-8s %-4s %12s %12s %7s\n' test P ringcache redis ratio
for pipeline in 1 16; do
  for test in zadd zpopmin; do
    ratios=()
    for _ in $(seq 1 "$ROUNDS"); do
      # zpopmin pops what zadd put in: each round runs both, in order.
      [ "$test" = zpopmin ] && for port in "$RC_PORT" "$RS_PORT"; do rps "$port" zadd "$pipeline" >/dev/null; done
      rc=$(rps "$RC_PORT" "$test" "$pipeline")
      rs=$(rps "$RS_PORT" "$test" "$pipeline")
      ratio=$(awk -v a="$rc" -v b="$rs" 'BEGIN { printf "%.3f", a / b }')
      printf '%-8s %-4s %12s %12s %7s\n' "$test" "$pipeline" "$rc" "$rs" "$ratio"
      ratios+=("$ratio")
    done
    printf 'median ratio %s P%s: %s\n' "$test" "$pipeline" "$(printf '%s\n' "${ratios[@]}" | median)"
  done
done

# load PORT AWK-PROGRAM: pipes the commands the program prints.
load() { awk "$2" | redis-cli -p "$1" --pipe >/dev/null; }

echo "== used_memory for $KEYS sorted sets of 10 members"
for name in "${SERVERS[@]}"; do
  port=$(port_of "$name")
  resp "$port" FLUSHALL >/dev/null
  before=$(info_field "$port" used_memory)
  load "$port" "BEGIN { for (i = 1; i <= $KEYS; i++) {
      printf \"*22\r\n\$4\r\nZADD\r\n\$%d\r\nzset:%d\r\n\", length(\"zset:\" i), i
      for (j = 1; j <= 10; j++) printf \"\$%d\r\n%d\r\n\$%d\r\nmember:%d\r\n\", length(j * 10), j * 10, length(\"member:\" j), j
  } }"
  after=$(info_field "$port" used_memory)
  encoding=$(resp "$port" OBJECT ENCODING zset:1)
  awk -v n="$name" -v k="$(resp "$port" DBSIZE)" -v b="$before" -v a="$after" -v e="$encoding" \
    'BEGIN { printf "%-10s keys=%d encoding=%s used_memory/key=%.1f\n", n, k, e, (a - b) / k }'
done

echo "== ZRANK on one set of $BIG members ($RANKS requests, -c $CLIENTS, P1)"
for name in "${SERVERS[@]}"; do
  port=$(port_of "$name")
  resp "$port" FLUSHALL >/dev/null
  load "$port" "BEGIN { for (i = 0; i < $BIG; i++) {
      m = \"member:\" i; s = (i * 7919) % $BIG
      printf \"*4\r\n\$4\r\nZADD\r\n\$3\r\nbig\r\n\$%d\r\n%d\r\n\$%d\r\n%s\r\n\", length(s), s, length(m), m
  } }"
  printf '%-10s members=%s encoding=%s\n' "$name" "$(resp "$port" ZCARD big)" "$(resp "$port" OBJECT ENCODING big)"
done
zrank_rps() {
  redis-benchmark -p "$1" -c "$CLIENTS" -n "$RANKS" -r "$BIG" --csv -q ZRANK big member:__rand_int__ \
    | awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}
ratios=()
for _ in $(seq 1 "$ROUNDS"); do
  rc=$(zrank_rps "$RC_PORT")
  rs=$(zrank_rps "$RS_PORT")
  ratio=$(awk -v a="$rc" -v b="$rs" 'BEGIN { printf "%.3f", a / b }')
  printf '%-8s %12s %12s %7s\n' zrank "$rc" "$rs" "$ratio"
  ratios+=("$ratio")
done
printf 'median ratio zrank: %s\n' "$(printf '%s\n' "${ratios[@]}" | median)"
