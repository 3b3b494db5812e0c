#!/usr/bin/env bash
# TLS throughput and p99 of a ringcache node and redis-server, same run,
# alternating: redis-benchmark --tls with a client certificate (mutual TLS,
# tls-auth-clients yes on both), SET and GET at pipeline 1 and 16.
# Certificates (a CA, a server and a client certificate) are made with
# openssl in the scratch directory. Needs redis-benchmark and a
# redis-server built with TLS (Debian's is).
#
#   benches/tls.sh [rounds]        (default 3 rounds)
#
# Environment: REQUESTS (500000), CLIENTS (50), KEYSPACE (100000), SIZE (32),
# RC_PORT (17479), RS_PORT (17480), the TLS ports are those + 2, BIN,
# SKIP_BUILD=1.
#
# Prints one line per run (requests/s, p99 in ms, the server's CPU time per
# request in µs) and the median ratios (ringcache / redis) of throughput
# and of CPU per request.
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
env_defaults REQUESTS=500000 CLIENTS=50 KEYSPACE=100000 SIZE=32
bench_ports 17479
RC_TLS=$((RC_PORT + 2))
RS_TLS=$((RS_PORT + 2))
require redis-benchmark redis-server openssl
build_release ringcache-server

make_certs() {
  local dir=$WORK/certs
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca \
      -keyout ca.key -out ca.crt 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' >san.ext
    for name in server client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$name.key" \
        -out "$name.csr" 2>/dev/null
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days 2 -extfile san.ext -out "$name.crt" 2>/dev/null
    done
  )
  CERTS=$dir
}
make_certs

TLS_FILES=(--tls-cert-file "$CERTS/server.crt" --tls-key-file "$CERTS/server.key"
  --tls-ca-cert-file "$CERTS/ca.crt" --tls-auth-clients yes)
start_ringcache ringcache "$RC_PORT" --tls-port "$RC_TLS" "${TLS_FILES[@]}"
start_redis redis "$RS_PORT" --tls-port "$RS_TLS" "${TLS_FILES[@]}"

# run NAME TLS_PORT TEST PIPELINE -> "requests/s p99_ms server_cpu_us_per_request"
# (the server's CPU time: at pipeline 1 the single-threaded redis-benchmark
# bounds the rate, and the CPU each server spends tells them apart)
run() {
  local before after rates
  before=$(cpu_ticks "$1")
  rates=$(redis-benchmark -h 127.0.0.1 -p "$2" --tls --cacert "$CERTS/ca.crt" \
    --cert "$CERTS/client.crt" --key "$CERTS/client.key" \
    -t "$3" -P "$4" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -d "$SIZE" --csv -q \
    | awk -F'","' 'NR > 1 { gsub(/"/, "", $2); gsub(/"/, "", $7); print $2, $7; exit }')
  after=$(cpu_ticks "$1")
  echo "$rates $(us_per_request $((after - before)) "$REQUESTS")"
}

echo "redis-benchmark --tls (mutual) -c $CLIENTS -n $REQUESTS -r $KEYSPACE -d $SIZE, $ROUNDS rounds, alternating"
printf '%-5s %-3s %12s %8s %7s %12s %8s %7s %7s\n' test P ringcache p99ms cpu_us redis p99ms cpu_us ratio
for test in set get; do
  for pipeline in 1 16; do
    ratios=() cpu_ratios=()
    for _ in $(seq 1 "$ROUNDS"); do
      read -r rc rc_p99 rc_cpu < <(run ringcache "$RC_TLS" "$test" "$pipeline")
      read -r rs rs_p99 rs_cpu < <(run redis "$RS_TLS" "$test" "$pipeline")
      ratio=$(awk -v a="$rc" -v b="$rs" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
      printf '%-5s %-3s %12s %8s %7s %12s %8s %7s %7s\n' "$test" "$pipeline" "$rc" "$rc_p99" "$rc_cpu" \
        "$rs" "$rs_p99" "$rs_cpu" "$ratio"
      ratios+=("$ratio")
      cpu_ratios+=("$(awk -v a="$rc_cpu" -v b="$rs_cpu" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')")
    done
    printf 'median ratio %s P%s: throughput %s, server CPU per request %s\n' "$test" "$pipeline" \
      "$(printf '%s\n' "${ratios[@]}" | median)" "$(printf '%s\n' "${cpu_ratios[@]}" | median)"
  done
done
