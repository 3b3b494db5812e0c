#!/usr/bin/env bash
# The worker's polling before it sleeps (`idle-poll-us`), A/B against
# redis-server: three servers side by side (ringcache with
# `--idle-poll-us 0`, ringcache on its default, redis-server), one
# `redis-benchmark -t TEST -P PIPELINE -c CLIENTS` run each per round,
# alternating, ROUNDS rounds. Per run: requests/s, the server's CPU time
# per request (from /proc, polling included), the benchmark's own CPU time
# per request (/usr/bin/time), and how often the server went to sleep per
# 1,000 requests (its threads' voluntary context switches): each sleep is
# a wake that the next client's `send` pays for. Then per test the median
# rate of each ringcache and the median of its per-round ratios to Redis.
#
#   benches/idle_poll.sh [test...]        (default: get lrange_100)
#
# Environment: ROUNDS (3), REQUESTS (200000), CLIENTS (50), KEYSPACE
# (100000), PIPELINE (1), BASE_PORT (17690: off, on, redis), SKIP_BUILD=1.
# Needs redis-benchmark, redis-server and GNU time (/usr/bin/time).
. "$(dirname "$0")/lib.sh"

env_defaults ROUNDS=3 REQUESTS=200000 CLIENTS=50 KEYSPACE=100000 PIPELINE=1 BASE_PORT=17690
require redis-benchmark redis-server /usr/bin/time
build_release ringcache-server
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(get lrange_100)

start_ringcache poll-off "$BASE_PORT" --idle-poll-us 0
start_ringcache poll-on $((BASE_PORT + 1))
start_redis redis $((BASE_PORT + 2))
declare -A PORTS=([poll-off]=$BASE_PORT [poll-on]=$((BASE_PORT + 1)) [redis]=$((BASE_PORT + 2)))

# sleeps NAME: the server's threads' voluntary context switches so far.
sleeps() { cat /proc/"$(server_pid "$1")"/task/*/status | awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s }'; }

RESULTS="$WORK/results"
: >"$RESULTS"
echo "redis-benchmark -P $PIPELINE -c $CLIENTS -n $REQUESTS -r $KEYSPACE, $ROUNDS rounds, alternating"
printf '%-11s %-5s %-9s %10s %10s %10s %10s\n' test round server req/s srv_us/req bench_us/req sleeps/1k
for test in "${TESTS[@]}"; do
  for round in $(seq 1 "$ROUNDS"); do
    for name in poll-off poll-on redis; do
      port=${PORTS[$name]}
      t0=$(cpu_ticks "$name") s0=$(sleeps "$name")
      out=$(/usr/bin/time -f "TIME %U %S" redis-benchmark -p "$port" -t "$test" -P "$PIPELINE" \
        -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" --csv -q 2>&1)
      t1=$(cpu_ticks "$name") s1=$(sleeps "$name")
      rps=$(awk -F'","' '/^"/ && $1 !~ /needed/ { gsub(/"/, "", $2); v = $2 } END { print v }' <<<"$out")
      bench=$(awk -v n="$REQUESTS" '/^TIME/ { printf "%.3f", ($2 + $3) * 1e6 / n }' <<<"$out")
      srv=$(us_per_request $((t1 - t0)) "$REQUESTS")
      per_k=$(awk -v s=$((s1 - s0)) -v n="$REQUESTS" 'BEGIN { printf "%.1f", s * 1000 / n }')
      printf '%-11s %-5s %-9s %10.0f %10s %10s %10s\n' "$test" "$round" "$name" "$rps" "$srv" "$bench" "$per_k"
      printf '%s %s %s %s\n' "$test" "$name" "$round" "$rps" >>"$RESULTS"
    done
  done
done
echo "medians: req/s, and the per-round ratio to redis-server's"
for test in "${TESTS[@]}"; do
  for name in poll-off poll-on; do
    m=$(awk -v t="$test" -v n="$name" '$1 == t && $2 == n { print $4 }' "$RESULTS" | median)
    ratio=$(awk -v t="$test" -v n="$name" '$1 == t && $2 == "redis" { r[$3] = $4 } $1 == t && $2 == n { v[$3] = $4 }
      END { for (k in v) if (r[k] > 0) print v[k] / r[k] }' "$RESULTS" | median)
    printf '%-11s %-9s %10.0f  ratio %.3f\n' "$test" "$name" "$m" "$ratio"
  done
done
