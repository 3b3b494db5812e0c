#!/usr/bin/env bash
# A 3-node ringcache cluster against a 3-node Redis Cluster (redis-server 7
# with cluster-enabled, three masters, no replicas), same machine, same
# load, ALTERNATING between the two, R rounds. The load generator routes by
# CLUSTER SLOTS (--cluster), so both serve every request on its owner.
#
#   benches/cluster.sh [rounds]      (default 3 rounds)
#
# Workload: SET:GET 1:10, 32-byte values, KEYSPACE keys pre-loaded, THREADS
# load threads of CONNECTIONS connections each (every connection holds a
# socket to every node), pipeline 1 and 16, DURATION s per run. ringcache
# runs twice per round: with --replicas 0 (the same work as the Redis
# masters) and with --replicas 1 (every write also shipped to a replica).
# With DURABLE=1 each round also compares durable writes: ringcache
# --replicas 1 --write-quorum 2 (a SET is acknowledged once a replica holds
# it) against a Redis Cluster of 3 masters and 3 replicas with WAIT 1 sent
# after each SET (the load generator's --wait-replicas 1).
# With FLOOR=1 each round also runs three ringcache-floor processes (a
# Redis-protocol server that stores nothing and answers from constants:
# the kernel's socket path per request and little else), the most any
# server could reach under this load on this machine.
# With VARIANT="flags..." each round also runs ringcache --replicas 0 with
# those flags (row ringcache-variant), next to the plain --replicas 0 run
# in alternating order: an A/B of a setting under the same load. The
# variant can also be another build (VARIANT_BIN=path) or the same one
# started through a command (VARIANT_PREFIX="chrt -b 0": words that exec
# the node), alone or with flags.
# Prints each run with the servers' and the load generator's CPU per
# operation (from /proc and /usr/bin/time), then medians and median
# ratios (ringcache / redis).
#
# Environment: DURATION (10), WARMUP (1), KEYSPACE (100000), CONNECTIONS (25),
# THREADS (1), DURABLE (0), FLOOR (0), VARIANT, VARIANT_BIN, VARIANT_PREFIX (none), BASE_PORT (17600: ringcache
# 17600-17602, redis 17610-17615, floor 17620-17622), SKIP_BUILD=1. Needs redis-server and redis-cli (Debian
# package redis-server).
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
env_defaults DURATION=10 WARMUP=1 KEYSPACE=100000 CONNECTIONS=25 THREADS=1 DURABLE=0 FLOOR=0 VARIANT= VARIANT_BIN= VARIANT_PREFIX= BASE_PORT=17600
require redis-server redis-cli python3 /usr/bin/time
FLOOR_BIN="$TARGET_DIR/release/ringcache-floor"
build_release ringcache-server ringcache-bench

RESULTS="$WORK/results.tsv"
: >"$RESULTS"

wait_for() { # PORT EXPECTED-LINE: waits until CLUSTER INFO shows it
  for _ in $(seq 1 300); do
    redis-cli -p "$1" cluster info 2>/dev/null | tr -d '\r' | grep -qx "$2" && return 0
    sleep 0.1
  done
  echo "cluster on port $1 did not reach '$2'" >&2; exit 1
}

start_ringcache_cluster() { # extra flags...
  local p0=$BASE_PORT
  for i in 0 1 2; do
    local port=$((BASE_PORT + i)) seeds=()
    [ "$i" -gt 0 ] && seeds=(--cluster-seeds "127.0.0.1:$((p0 + 10000))")
    start_ringcache "rc-$i" "$port" --cluster-enabled yes "${seeds[@]}" "$@"
  done
  for i in 0 1 2; do wait_for $((BASE_PORT + i)) "cluster_known_nodes:3"; done
  for i in 0 1 2; do wait_for $((BASE_PORT + i)) "cluster_size:3"; done
}

start_redis_cluster() { # [REPLICAS-PER-MASTER]
  local replicas=${1:-0} count addrs=()
  count=$((3 * (1 + replicas)))
  rm -f "$WORK"/nodes-*.conf
  for i in $(seq 0 $((count - 1))); do
    local port=$((BASE_PORT + 10 + i))
    start_redis "rs-$i" "$port" --dir "$WORK" --cluster-enabled yes \
      --cluster-config-file "nodes-$port.conf"
    addrs+=("127.0.0.1:$port")
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes \
    >"$WORK/create.log" 2>&1 \
    || { echo "redis-cli --cluster create failed:" >&2; cat "$WORK/create.log" >&2; exit 1; }
  for i in $(seq 0 $((count - 1))); do wait_for $((BASE_PORT + 10 + i)) "cluster_state:ok"; done
  # WAIT 1 counts only replicas that finished their initial sync.
  for i in $(seq 0 $((count - 1))); do
    local port=$((BASE_PORT + 10 + i)) synced=""
    for _ in $(seq 1 300); do
      redis-cli -p "$port" info replication | tr -d '\r' \
        | grep -qxE "role:master|master_link_status:up" && { synced=1; break; }
      sleep 0.1
    done
    [ -n "$synced" ] || { echo "redis replica on $port did not sync" >&2; exit 1; }
  done
}

start_floor_cluster() {
  local ports="$((BASE_PORT + 20)),$((BASE_PORT + 21)),$((BASE_PORT + 22))" i
  for i in 0 1 2; do
    "$FLOOR_BIN" --port $((BASE_PORT + 20 + i)) --cluster-ports "$ports" >"$WORK/floor-$i.log" 2>&1 &
    SERVER_PIDS[floor-$i]=$!
    wait_ready "floor-$i" $((BASE_PORT + 20 + i))
  done
}

# servers_cpu_ticks: user + system clock ticks of every server running.
servers_cpu_ticks() {
  local name total=0
  for name in "${!SERVER_PIDS[@]}"; do total=$((total + $(cpu_ticks "$name"))); done
  echo "$total"
}

run() { # NAME SEED-PORT WAIT-REPLICAS START-COMMAND...
  local name=$1 port=$2 wait_replicas=$3; shift 3
  "$@"
  timeout 300 "$LOADGEN" --server "127.0.0.1:$port" --cluster --data-size 32 --load \
    --key-min 1 --key-max "$KEYSPACE" --pipeline 16 --connections "$CONNECTIONS" >"$WORK/load.out" 2>&1 \
    || { echo "loading $name failed:" >&2; cat "$WORK/load.out" >&2; exit 1; }
  for pipeline in 1 16; do
    local ticks_before
    ticks_before=$(servers_cpu_ticks)
    timeout $((DURATION + WARMUP + 60)) /usr/bin/time -f '%U %S' -o "$WORK/loadgen-time.txt" \
      "$LOADGEN" --server "127.0.0.1:$port" --cluster \
      --data-size 32 --key-min 1 --key-max "$KEYSPACE" --ratio 1:10 --pipeline "$pipeline" \
      --connections "$CONNECTIONS" --threads "$THREADS" --test-time "$DURATION" --warmup "$WARMUP" \
      --wait-replicas "$wait_replicas" --json "$WORK/run.json" >"$WORK/run.out" 2>&1 \
      || { echo "loadgen failed against $name:" >&2; cat "$WORK/run.out" >&2; exit 1; }
    local ops p99 server_us loadgen_us requests
    ops=$(json_get "$WORK/run.json" totals.ops_per_sec)
    p99=$(json_get "$WORK/run.json" totals.latency_ms.p99)
    # CPU per operation over the whole run (warmup included on both sides).
    requests=$(awk -v r="$ops" -v d="$((DURATION + WARMUP))" 'BEGIN { printf "%d", r * d }')
    server_us=$(us_per_request $(($(servers_cpu_ticks) - ticks_before)) "$requests")
    loadgen_us=$(timed_us_per_request "$WORK/loadgen-time.txt" "$requests")
    printf '%-6s %-20s %-3s %12.0f %9.3f %9s %9s\n' "$round" "$name" "$pipeline" "$ops" "$p99" "$server_us" "$loadgen_us"
    printf '%s\t%s\t%s\t%s\n' "ops/s P$pipeline" "$name" "$round" "$ops" >>"$RESULTS"
    printf '%s\t%s\t%s\t%s\n' "p99 ms P$pipeline" "$name" "$round" "$p99" >>"$RESULTS"
    printf '%s\t%s\t%s\t%s\n' "srv µs/op P$pipeline" "$name" "$round" "$server_us" >>"$RESULTS"
    printf '%s\t%s\t%s\t%s\n' "gen µs/op P$pipeline" "$name" "$round" "$loadgen_us" >>"$RESULTS"
  done
  stop_all
}

variant() { # the VARIANT run, if asked for
  [ -n "$VARIANT$VARIANT_BIN$VARIANT_PREFIX" ] || return 0
  # shellcheck disable=SC2086 # the flags split into words
  RC_BIN=${VARIANT_BIN:-$RC_BIN} RC_PREFIX=$VARIANT_PREFIX \
    run ringcache-variant "$BASE_PORT" 0 start_ringcache_cluster --replicas 0 $VARIANT
}
durable_rc() { run ringcache-quorum2 "$BASE_PORT" 0 start_ringcache_cluster --replicas 1 --write-quorum 2; }
durable_rs() { run redis-wait1 $((BASE_PORT + 10)) 1 start_redis_cluster 1; }

echo "== 3-node clusters: SET:GET 1:10, 32-byte values, $KEYSPACE keys, $THREADS threads x $CONNECTIONS conns, ${DURATION}s, alternating, $ROUNDS round(s) =="
printf '%-6s %-20s %-3s %12s %9s %9s %9s\n' round cluster P ops/s p99_ms srv_us/op gen_us/op
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then
    run ringcache-replicas0 "$BASE_PORT" 0 start_ringcache_cluster --replicas 0
    variant
    run redis-cluster $((BASE_PORT + 10)) 0 start_redis_cluster
    run ringcache-replicas1 "$BASE_PORT" 0 start_ringcache_cluster --replicas 1
  else
    run ringcache-replicas1 "$BASE_PORT" 0 start_ringcache_cluster --replicas 1
    run redis-cluster $((BASE_PORT + 10)) 0 start_redis_cluster
    variant
    run ringcache-replicas0 "$BASE_PORT" 0 start_ringcache_cluster --replicas 0
  fi
  if [ "$FLOOR" = 1 ]; then
    run floor $((BASE_PORT + 20)) 0 start_floor_cluster
  fi
  if [ "$DURABLE" = 1 ]; then
    if [ $((round % 2)) = 1 ]; then durable_rs; durable_rc; else durable_rc; durable_rs; fi
  fi
done

python3 - "$RESULTS" <<'PY'
import statistics, sys
from collections import OrderedDict
data = OrderedDict()
for line in open(sys.argv[1]):
    metric, name, rnd, value = line.rstrip("\n").split("\t")
    data.setdefault(metric, {}).setdefault(name, {})[int(rnd)] = float(value)
print("== summary: medians; ratio = median of per-round ringcache/redis-cluster (quorum2: /redis-wait1) ==")
print("%-12s %-20s %12s %8s" % ("metric", "cluster", "median", "ratio"))
for metric, by in data.items():
    for name, runs in by.items():
        # Durable writes are compared with Redis's durable writes.
        base = by.get("redis-wait1" if name == "ringcache-quorum2" else "redis-cluster", {})
        ratios = [runs[r] / base[r] for r in runs if r in base and base[r]]
        ratio = "%.3f" % statistics.median(ratios) if ratios and not name.startswith("redis") else "-"
        print("%-12s %-20s %12.4g %8s" % (metric, name, statistics.median(runs.values()), ratio))
PY
