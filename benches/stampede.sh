#!/usr/bin/env bash
# Loader calls for one cold key across PROCS processes of CALLERS callers
# each (ringcache-stampede: CacheAside::get_or_load, the loader counted
# with INCR on the node, LOAD_MS long), with leases and with per-process
# single flight only (--no-leases), ROUNDS rounds of each, alternating,
# every round on a fresh key. One release node on loopback.
#
#   PROCS=20 CALLERS=50 LOAD_MS=50 ROUNDS=5 benches/stampede.sh
#
# Environment: PROCS (20), CALLERS (50), LOAD_MS (50), ROUNDS (5),
# RC_PORT (16430), SKIP_BUILD=1 to measure the binaries already built.
# Prints one line per round (mode, loader calls, callers served, the
# slowest caller's ms), then the medians per mode.
. "$(dirname "$0")/lib.sh"
env_defaults PROCS=20 CALLERS=50 LOAD_MS=50 ROUNDS=5
bench_ports 16430
build_release ringcache-server ringcache-bench
STAMPEDE="$TARGET_DIR/release/ringcache-stampede"
start_ringcache ringcache "$RC_PORT"

# run_round MODE PREFIX: one stampede; prints "MODE LOADS SERVED SLOWEST_MS".
run_round() {
  local mode=$1 prefix=$2 flag="" pids=() i pid _
  [ "$mode" = single-flight ] && flag=--no-leases
  for i in $(seq 1 "$PROCS"); do
    # shellcheck disable=SC2086 # flag is empty or one word
    timeout 120 "$STAMPEDE" --server "127.0.0.1:$RC_PORT" --prefix "$prefix" \
      --callers "$CALLERS" --load-ms "$LOAD_MS" --wait-secs 60 $flag \
      >"$WORK/$prefix.$i.json" 2>>"$WORK/stampede.err" &
    pid=$!
    track_pid "$pid"
    pids+=("$pid")
  done
  for _ in $(seq 1 600); do
    [ "$(resp "$RC_PORT" GET "$prefix:ready")" = "$PROCS" ] && break
    sleep 0.1
  done
  resp "$RC_PORT" SET "$prefix:go" 1 >/dev/null
  for pid in "${pids[@]}"; do wait "$pid"; done
  python3 - "$mode" "$(resp "$RC_PORT" GET "$prefix:loads")" "$WORK/$prefix".*.json <<'EOF'
import json, sys
mode, loads, files = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = [json.loads(open(f).read()) for f in files]
served = sum(r["served"] for r in rows)
errors = sum(r["errors"] for r in rows)
slowest = max(r["slowest_ms"] for r in rows)
print(mode, loads, served, errors, "%.1f" % slowest)
EOF
}

echo "ringcache-stampede: $PROCS processes x $CALLERS callers, loader $LOAD_MS ms, $ROUNDS rounds"
echo "round mode loader_calls served errors slowest_ms"
for round in $(seq 1 "$ROUNDS"); do
  for mode in leases single-flight; do
    echo "$round $(run_round "$mode" "r$round-$mode")"
  done
done | tee "$WORK/rounds.txt"
for mode in leases single-flight; do
  calls=$(awk -v m="$mode" '$2 == m { print $3 }' "$WORK/rounds.txt" | median)
  slowest=$(awk -v m="$mode" '$2 == m { print $6 }' "$WORK/rounds.txt" | median)
  echo "median $mode: loader calls $calls, slowest caller $slowest ms"
done
