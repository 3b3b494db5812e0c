#!/usr/bin/env bash
# The near cache's figures (BENCHMARKS.md, "Near cache"), against one
# release node on loopback:
#   1. hits: a read from the near cache against a remote GET through the
#      same client (sequential latency, reads/s from 16 tasks);
#   2. stale: the stale window across READERS reader processes, each with
#      its own near cache polling one key and reading LOAD_RATE other keys
#      per second from it, while WRITES versions are written INTERVAL_US
#      apart (p50/p99/max from each write's acknowledgement until every
#      reader served it);
#   3. webapp: the example web application's GET /products/1 requests/s
#      under wrk (CONNS connections, WRK_SECONDS), near cache off then on,
#      and the CPU that wrk, the webapp and the node spent per request;
#      then GET /healthz (JSON, no cache read at all): the rate of an
#      endpoint whose cache read costs nothing, the most any near cache
#      could give /products/1 with wrk on the same cores.
#
#   benches/near_cache.sh
#
# Environment: PORT (16440; the web application listens on PORT + 1),
# READERS (8), WRITES (1000), INTERVAL_US (5000), LOAD_RATE (50000),
# CONNS (50), WRK_SECONDS (10), SKIP_BUILD=1 to use the binaries as built.
# wrk and /usr/bin/time come from Debian (installed with apt-get when
# missing).
. "$(dirname "$0")/lib.sh"
env_defaults PORT=16440 READERS=8 WRITES=1000 INTERVAL_US=5000 LOAD_RATE=50000 \
  CONNS=50 WRK_SECONDS=10
NEARBENCH="$TARGET_DIR/release/ringcache-nearbench"
WEBAPP="$TARGET_DIR/release/examples/webapp"

build_release ringcache-server ringcache-bench
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  timeout 1800 cargo build --release -q -p ringcache-client --example webapp
fi
if ! have wrk; then
  apt-get install -y wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
fi
if [ ! -x /usr/bin/time ]; then
  apt-get install -y time >/dev/null || { echo "/usr/bin/time is required (apt-get install -y time)" >&2; exit 1; }
fi

start_ringcache node "$PORT"

echo "hits: $(timeout 300 "$NEARBENCH" hits --server "127.0.0.1:$PORT")"
echo "stale: $(timeout 600 "$NEARBENCH" stale --server "127.0.0.1:$PORT" --readers "$READERS" \
  --writes "$WRITES" --interval-us "$INTERVAL_US" --load-rate "$LOAD_RATE")"

# http_ok PORT PATH: true when GET answers 200 (bash's /dev/tcp).
http_ok() {
  local status=""
  status=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" \
    && printf 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$2" >&3 \
    && IFS= read -r -t 2 line <&3 && printf '%s' "$line") 2>/dev/null) || return 1
  [[ $status == *" 200 "* ]]
}

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

APP_PORT=$((PORT + 1))

# wrk_run APP PATH LABEL: wrk against PATH for WRK_SECONDS; prints the
# rate and the CPU per request of wrk itself, the webapp and the node.
wrk_run() {
  local app_before node_before rps requests app_us node_us wrk_us
  app_before=$(cpu_ticks "$1")
  node_before=$(cpu_ticks "$(server_pid node)")
  timeout $((WRK_SECONDS + 60)) /usr/bin/time -f '%U %S' -o "$WORK/wrk-time.txt" \
    wrk -t2 -c"$CONNS" -d"${WRK_SECONDS}s" "http://127.0.0.1:$APP_PORT$2" >"$WORK/wrk.txt"
  rps=$(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.txt")
  requests=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
  wrk_us=$(timed_us_per_request "$WORK/wrk-time.txt" "$requests")
  app_us=$(( ($(cpu_ticks "$1") - app_before) * 1000000 / TICKS / requests ))
  node_us=$(( ($(cpu_ticks "$(server_pid node)") - node_before) * 1000000 / TICKS / requests ))
  echo "webapp $3: $rps requests/s; CPU per request: wrk $wrk_us µs, webapp $app_us µs, node $node_us µs"
}

for near in off on; do
  "$WEBAPP" --listen "127.0.0.1:$APP_PORT" --cache "127.0.0.1:$PORT" \
    --db "$WORK/shop.db" --near-cache "$near" >"$WORK/webapp-$near.log" 2>&1 &
  app=$!
  track_pid "$app"
  for _ in $(seq 1 100); do
    http_ok "$APP_PORT" /products/1 && break
    kill -0 "$app" 2>/dev/null || { cat "$WORK/webapp-$near.log" >&2; exit 1; }
    sleep 0.1
  done
  wrk_run "$app" /products/1 "near-cache=$near"
  if [ "$near" = on ]; then
    wrk_run "$app" /healthz "no cache read (/healthz)"
  fi
  kill_pid "$app"
done
