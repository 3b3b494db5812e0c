#!/usr/bin/env bash
# Side-by-side comparison of a ringcache node and redis-server 7 with the
# memtier-like load generator (ringcache-loadgen), same settings, same run,
# ALTERNATING between the two servers, R rounds. Prints one line per run,
# then a summary table of medians and median ratios (ringcache / redis).
#
#   benches/compare-all.sh [--json FILE] [rounds]      (default 3 rounds)
#
# Workloads (see /work/shared/BASELINE.md for what redis does here):
#  1. throughput + p99, SET:GET 1:10, 32-byte values, 100,000 pre-loaded keys,
#     25 connections, 1 thread, pipeline 1 and 16, DURATION s per run;
#  2. server CPU microseconds per operation during each of those runs
#     (delta utime+stime of /proc/PID/stat / delta INFO total_commands_processed);
#  3. used_memory per key after loading 1,000,000 keys (memtier-1..memtier-1000000)
#     on fresh servers;
#  4. hit ratio + resident keys under --maxmemory 50mb --maxmemory-policy
#     allkeys-lru, Zipf 0.8 over 2,000,000 keys, SET:GET 1:1: a warm pass, then a
#     measured pass (one pass = as many requests as the key range).
#
# Environment: DURATION (10), WARMUP (1), LRU_KEYS (2000000), MEM_KEYS (1000000),
# KEYSPACE (100000), CONNECTIONS (25), RC_PORT (17471), RS_PORT (17472),
# RC_ARGS (extra ringcache-server flags), SKIP_BUILD=1, NO_REDIS=1,
# BASE_BIN (another ringcache-server build, measured as "base" in the same
# alternation: the summary adds the ratio ringcache/base, for A/B runs of a
# change). Works without redis-server (prints only the ringcache figures).
. "$(dirname "$0")/lib.sh"

JSON_OUT=""
ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --json) JSON_OUT=$2; shift 2 ;;
    --json=*) JSON_OUT=${1#--json=}; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) ROUNDS=$1; shift ;;
  esac
done

env_defaults DURATION=10 WARMUP=1 KEYSPACE=100000 MEM_KEYS=1000000 LRU_KEYS=2000000 \
  CONNECTIONS=25
SIZE=32
bench_ports 17471
RC_ARGS=${RC_ARGS:-}
require python3
build_release ringcache-server ringcache-bench

HAVE_REDIS=0
if [ "${NO_REDIS:-0}" != 1 ] && have redis-server; then HAVE_REDIS=1; fi
SERVERS=(ringcache)
[ $HAVE_REDIS = 1 ] && SERVERS+=(redis)
[ -n "${BASE_BIN:-}" ] && SERVERS+=(base)

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
TICKS=$(getconf CLK_TCK)

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# start NAME [extra server args...]: a fresh server, answering PING
start() {
  local name=$1; shift
  stop "$name"
  if [ "$name" = ringcache ] || [ "$name" = base ]; then
    # shellcheck disable=SC2086 # RC_ARGS is a list of flags
    start_ringcache "$name" "$(port_of "$name")" $RC_ARGS "$@"
  else
    start_redis redis "$RS_PORT" "$@"
  fi
}

# loadgen NAME JSONFILE TIME_LIMIT ARGS... (bounded in time)
loadgen() {
  local name=$1 json=$2 limit=$3; shift 3
  timeout --kill-after=5 "$limit" "$LOADGEN" --server "127.0.0.1:$(port_of "$name")" \
    --data-size "$SIZE" --json "$json" "$@" >"$WORK/loadgen.out" 2>&1 \
    || { echo "loadgen failed against $name:" >&2; cat "$WORK/loadgen.out" >&2; exit 1; }
}
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

# servers in alternating order: round 1 ringcache first, round 2 redis first, ...
order() { if [ $(( $1 % 2 )) = 1 ]; then printf '%s\n' "${SERVERS[@]}"; else printf '%s\n' "${SERVERS[@]}" | tac; fi; }

echo "ringcache-loadgen, $ROUNDS round(s), alternating; servers: ${SERVERS[*]}"
echo "redis: $( [ $HAVE_REDIS = 1 ] && redis-server --version | awk '{print $3}' || echo absent ); cores: $(nproc)"
echo

# ---- 1 + 2: throughput, p99, CPU per op ------------------------------------
echo "== 1+2: SET:GET 1:10, ${SIZE}-byte values, $KEYSPACE keys pre-loaded, $CONNECTIONS conns, 1 thread, ${DURATION}s (+${WARMUP}s warmup) =="
for s in "${SERVERS[@]}"; do
  start "$s"
  loadgen "$s" "$WORK/load.json" 300 --load --key-min 1 --key-max "$KEYSPACE" --pipeline 16 --connections "$CONNECTIONS"
done
printf '%-6s %-10s %-3s %12s %9s %9s %12s\n' round server P ops/s p50_ms p99_ms cpu_us/op
limit=$(python3 -c "print(int($DURATION + $WARMUP + 60))")
for round in $(seq 1 "$ROUNDS"); do
  for pipeline in 1 16; do
    for s in $(order "$round"); do
      port=$(port_of "$s"); pid=$(server_pid "$s")
      cmd0=$(info_field "$port" total_commands_processed); cpu0=$(cpu_ticks "$pid")
      loadgen "$s" "$WORK/run.json" "$limit" --key-min 1 --key-max "$KEYSPACE" --ratio 1:10 \
        --pipeline "$pipeline" --connections "$CONNECTIONS" --threads 1 \
        --test-time "$DURATION" --warmup "$WARMUP"
      cpu1=$(cpu_ticks "$pid"); cmd1=$(info_field "$port" total_commands_processed)
      ops=$(json_get "$WORK/run.json" totals.ops_per_sec)
      p50=$(json_get "$WORK/run.json" totals.latency_ms.p50)
      p99=$(json_get "$WORK/run.json" totals.latency_ms.p99)
      cpu=$(python3 -c "print($cmd1 - $cmd0 > 0 and ($cpu1 - $cpu0) * 1e6 / $TICKS / ($cmd1 - $cmd0) or 0)")
      record "ops/s P$pipeline" "$s" "$round" "$ops"
      record "p99 ms P$pipeline" "$s" "$round" "$p99"
      record "cpu us/op P$pipeline" "$s" "$round" "$cpu"
      printf '%-6s %-10s %-3s %12.0f %9.3f %9.3f %12.3f\n' "$round" "$s" "$pipeline" "$ops" "$p50" "$p99" "$cpu"
    done
  done
done
for s in "${SERVERS[@]}"; do stop "$s"; done
echo

# ---- 3: memory per key ------------------------------------------------------
echo "== 3: used_memory per key, $MEM_KEYS keys memtier-1..memtier-$MEM_KEYS, ${SIZE}-byte values, fresh servers =="
printf '%-6s %-10s %10s %16s %12s\n' round server dbsize used_mem/key rss/key
for round in $(seq 1 "$ROUNDS"); do
  for s in $(order "$round"); do
    start "$s"; port=$(port_of "$s"); pid=$(server_pid "$s")
    before=$(info_field "$port" used_memory); rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
    loadgen "$s" "$WORK/mem.json" 600 --load --key-min 1 --key-max "$MEM_KEYS" --pipeline 16 --connections "$CONNECTIONS"
    after=$(info_field "$port" used_memory); rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
    keys=$(resp "$port" DBSIZE)
    per=$(python3 -c "print(($after - $before) / $keys if $keys else 0)")
    rss=$(python3 -c "print(($rss1 - $rss0) * 1024 / $keys if $keys else 0)")
    record "used_memory B/key" "$s" "$round" "$per"
    record "rss B/key" "$s" "$round" "$rss"
    printf '%-6s %-10s %10d %16.1f %12.1f\n' "$round" "$s" "$keys" "$per" "$rss"
    stop "$s"
  done
done
echo

# ---- 4: LRU hit ratio under a memory bound ------------------------------------
per_conn=$(( (LRU_KEYS + CONNECTIONS - 1) / CONNECTIONS ))
echo "== 4: maxmemory 50mb allkeys-lru, Zipf 0.8 over $LRU_KEYS keys, SET:GET 1:1, warm pass + measured pass ($per_conn req/conn each) =="
printf '%-6s %-10s %10s %10s %10s %10s\n' round server hit_ratio hits misses dbsize
for round in $(seq 1 "$ROUNDS"); do
  for s in $(order "$round"); do
    start "$s" --maxmemory 50mb --maxmemory-policy allkeys-lru
    port=$(port_of "$s")
    for pass in warm measured; do
      loadgen "$s" "$WORK/lru-$pass.json" 600 --key-min 1 --key-max "$LRU_KEYS" --ratio 1:1 \
        --key-pattern zipf --zipf-exponent 0.8 --pipeline 16 --connections "$CONNECTIONS" \
        --requests "$per_conn"
    done
    hits=$(json_get "$WORK/lru-measured.json" get_hits.hits)
    misses=$(json_get "$WORK/lru-measured.json" get_hits.misses)
    keys=$(resp "$port" DBSIZE)
    ratio=$(python3 -c "print($hits / ($hits + $misses) if $hits + $misses else 0)")
    record "lru hit ratio" "$s" "$round" "$ratio"
    record "lru resident keys" "$s" "$round" "$keys"
    printf '%-6s %-10s %10.4f %10d %10d %10d\n' "$round" "$s" "$ratio" "$hits" "$misses" "$keys"
    stop "$s"
  done
done
echo

# ---- summary -------------------------------------------------------------------
python3 - "$RESULTS" "$JSON_OUT" "$ROUNDS" <<'EOF'
import json, statistics, sys
from collections import OrderedDict
path, json_out, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = OrderedDict()
for line in open(path):
    metric, server, rnd, value = line.rstrip("\n").split("\t")
    data.setdefault(metric, {}).setdefault(server, {})[int(rnd)] = float(value)
def fmt(v):
    if v is None: return "-"
    return "%.0f" % v if abs(v) >= 1000 else "%.4g" % v
summary = OrderedDict()
print("== summary: median over %d round(s); ratio = median of per-round ringcache/redis ==" % rounds)
has_base = any("base" in by for by in data.values())
def per_round_ratio(a, b):
    ratios = [a[r] / b[r] for r in a if r in b and b[r]]
    return statistics.median(ratios) if ratios else None
head = "%-22s %14s %14s %8s" % ("metric", "ringcache", "redis", "ratio")
if has_base:
    head += " %14s %8s" % ("base", "vs base")
print(head)
for metric, by in data.items():
    rc, rs, rb = by.get("ringcache", {}), by.get("redis", {}), by.get("base", {})
    mrc = statistics.median(rc.values()) if rc else None
    mrs = statistics.median(rs.values()) if rs else None
    ratio = per_round_ratio(rc, rs)
    summary[metric] = {"ringcache": mrc, "redis": mrs, "ratio": ratio,
                       "runs": {"ringcache": [rc[r] for r in sorted(rc)], "redis": [rs[r] for r in sorted(rs)]}}
    line = "%-22s %14s %14s %8s" % (metric, fmt(mrc), fmt(mrs), "%.3f" % ratio if ratio is not None else "n/a")
    if has_base:
        mrb = statistics.median(rb.values()) if rb else None
        vs = per_round_ratio(rc, rb)
        summary[metric].update({"base": mrb, "vs_base": vs})
        summary[metric]["runs"]["base"] = [rb[r] for r in sorted(rb)]
        line += " %14s %8s" % (fmt(mrb), "%.3f" % vs if vs is not None else "n/a")
    print(line)
if json_out:
    with open(json_out, "w") as f:
        json.dump({"rounds": rounds, "metrics": summary}, f, indent=2)
    print("JSON written to", json_out)
EOF
