#!/usr/bin/env bash
# Side-by-side throughput and memory of a ringcache node and redis-server,
# same settings, same run, alternating. Needs redis-benchmark (Debian
# package redis-tools); compares with redis-server when it is installed.
#
#   benches/compare.sh [rounds]        (default 3 rounds)
#
# Environment: REQUESTS (1000000), CLIENTS (50), KEYSPACE (100000), SIZE (32),
# PIPELINES ("1 16": the pipeline depths, each a run),
# RC_PORT (17379), RS_PORT (17380), BIN, SKIP_BUILD=1.
#
# Prints one line per run and the median ratios (ringcache / redis).
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
env_defaults REQUESTS=1000000 CLIENTS=50 KEYSPACE=100000 SIZE=32 PIPELINES="1 16"
bench_ports 17379
require redis-benchmark
build_release ringcache-server
start_pair
HAVE_REDIS=0
[ ${#SERVERS[@]} = 2 ] && HAVE_REDIS=1

# rps SERVER_PORT TEST PIPELINE -> requests per second
rps() {
  redis-benchmark -p "$1" -t "$2" -P "$3" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -d "$SIZE" --csv -q \
    | awk -F'","' 'NR>1 || !/rps/ { gsub(/"/,"",$2); print $2; exit }'
}

echo "redis-benchmark -c $CLIENTS -n $REQUESTS -r $KEYSPACE -d $SIZE, $ROUNDS rounds, alternating"
printf '%-8s %-4s %12s %12s %7s\n' test P ringcache redis ratio
for test in set get; do
  for pipeline in $PIPELINES; do
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
