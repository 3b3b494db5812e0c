#!/usr/bin/env bash
# Writes to one growing list with a replica: LPUSH on a single key, ROUNDS
# rounds of N requests (`redis-benchmark -c 10 -P 16`), then as many of a
# producer's Lua script (EVAL: LPUSH, then LLEN for the backlog), then as
# many rounds of BRPOP draining it (a job queue's workers), against a 2-node
# ringcache cluster (`--replicas 1 --write-quorum Q`) and a Redis primary
# with one replica (`replicaof`), alternating round by round, each list
# growing by N per round. Shows whether a write's replication cost grows
# with the collection (a whole value shipped per write would) and checks
# that the replica's copy has every element.
#
#   SKIP_BUILD=1 N=20000 ROUNDS=5 Q=2 benches/replicated_collections.sh
#
# Environment: N (20000), ROUNDS (5), Q (1), RC_PORT (16460; the second
# node, Redis and its replica take the next ports), SKIP_BUILD=1.
# Prints per round: each side's requests/s and its primary's and replica's
# list lengths; per phase the medians and their ratio; then the node's replication
# figures (INFO cluster) and ring changes seen in its log.
. "$(dirname "$0")/lib.sh"
require redis-benchmark redis-cli redis-server python3
env_defaults N=20000 ROUNDS=5 Q=1
bench_ports 16460
build_release ringcache-server

RC_REPLICA=$((RC_PORT + 2))
RS_REPLICA=$((RC_PORT + 3))
start_ringcache ringcache "$RC_PORT" --cluster-enabled yes --replicas 1 --write-quorum "$Q"
start_ringcache ringcache-2 "$RC_REPLICA" --cluster-enabled yes --replicas 1 \
  --write-quorum "$Q" --cluster-seeds "127.0.0.1:$((RC_PORT + 10000))"
start_redis redis "$RS_PORT"
start_redis redis-replica "$RS_REPLICA" --replicaof 127.0.0.1 "$RS_PORT"
for _ in $(seq 1 300); do
  [ "$(info_field "$RC_PORT" cluster_size)" = 2 ] && [ "$(info_field "$RC_REPLICA" cluster_size)" = 2 ] \
    && [ "$(info_field "$RS_REPLICA" master_link_status)" = up ] && break
  sleep 0.1
done

KEY='biglist:{a}'
# The key's primary takes the writes: a client of the other node would add
# a forwarding hop that a Redis primary does not have. CLUSTER SLOTS names
# each range's primary first.
SLOT=$(redis-cli -p "$RC_PORT" CLUSTER KEYSLOT "$KEY" | tr -d '\r')
PRIMARY=$(redis-cli -p "$RC_PORT" CLUSTER SLOTS | tr -d '\r' | awk -v slot="$SLOT" '
  # redis-cli prints the nested reply flat: start, end, then each node as
  # ip, port, id: with replicas 1 of 2 nodes each range names one node, so
  # the numbers run start, end, port.
  /^[0-9]+$/ { nums[++n] = $1 }
  END {
    for (i = 1; i + 2 <= n; i += 3) if (nums[i] <= slot && slot <= nums[i + 1]) { print nums[i + 2]; exit }
  }')
if [ "$PRIMARY" = "$RC_REPLICA" ]; then
  RC_PRIMARY=$RC_REPLICA RC_SECOND=$RC_PORT
else
  RC_PRIMARY=$RC_PORT RC_SECOND=$RC_REPLICA
fi
# lengths PORT REPLICA-PORT: the list's length on the primary side and on
# the replica (read there: READONLY on a node).
lengths() {
  echo "$(redis-cli -p "$1" -c LLEN "$KEY" | tr -d '\r') $(printf 'READONLY\nLLEN %s\n' "$KEY" \
    | redis-cli -p "$2" | tail -1 | tr -d '\r')"
}
# rate PORT COMMAND...: requests/s of one round of COMMAND.
rate() {
  local port=$1
  shift
  timeout 300 redis-benchmark -p "$port" -c 10 -P 16 -n "$N" -q --csv "$@" \
    | awk -F'","' 'NR == 2 { gsub(/"/, "", $2); print $2; exit }'
}

# phase NAME COMMAND...: ROUNDS rounds of COMMAND on each side,
# alternating, then the medians and their ratio.
phase() {
  local name=$1 rc rs rc_rates=() rs_rates=() round
  shift
  echo "$name: redis-benchmark -c 10 -P 16 -n $N $*, $ROUNDS rounds, write quorum $Q"
  for round in $(seq 1 "$ROUNDS"); do
    rc=$(rate "$RC_PRIMARY" "$@")
    rs=$(rate "$RS_PORT" "$@")
    redis-cli -p "$RS_PORT" WAIT 1 5000 >/dev/null
    rc_rates+=("$rc") rs_rates+=("$rs")
    echo "round $round: ringcache $rc/s (lengths $(lengths "$RC_PRIMARY" "$RC_SECOND")), redis $rs/s (lengths $(lengths "$RS_PORT" "$RS_REPLICA"))"
  done
  rc=$(printf '%s\n' "${rc_rates[@]}" | median)
  rs=$(printf '%s\n' "${rs_rates[@]}" | median)
  echo "$name median: ringcache $rc/s, redis $rs/s, ratio $(python3 -c "print(round($rc / $rs, 3))")"
}

echo "$KEY's primary: port $RC_PRIMARY"
phase push LPUSH "$KEY" xxxxxxxx
phase script EVAL "redis.call('LPUSH', KEYS[1], ARGV[1]) return redis.call('LLEN', KEYS[1])" 1 "$KEY" xxxxxxxx
# Then the queue drains from the other end, as a worker's BRPOP does.
phase pop BRPOP "$KEY" 1
for field in cluster_replicated cluster_replicated_effects cluster_replicated_effects_stale; do
  echo "$field: $(info_field "$RC_PRIMARY" "$field")"
done
echo "ring changes after the start (node logs): $(cat "$WORK/ringcache.log" "$WORK/ringcache-2.log" | grep -c 'ring changed')"
