# benches/lib.sh: the steps every bench script shares. A script's first
# command sources it:
#
#   . "$(dirname "$0")/lib.sh"
#
# which sets `-euo pipefail`, moves to the repository root, and gives a
# scratch directory ($WORK, removed on exit), the release binaries' paths
# ($RC_BIN, $LOADGEN, $STALL), and:
#   env_defaults NAME=VALUE...  each NAME keeps a non-empty value from the
#                               environment, or gets VALUE
#   bench_ports PORT            RC_PORT (default PORT) and RS_PORT (PORT + 1)
#   start_pair [--need-redis]   ringcache on RC_PORT, and redis-server on
#                               RS_PORT when installed (or required); names
#                               them in $SERVERS
#   build_release PKG...        cargo build --release of those packages
#                               (skipped with SKIP_BUILD=1; with BIN set,
#                               ringcache-server is not built: BIN is measured)
#   start_ringcache NAME PORT [flag...]   a node on 127.0.0.1:PORT (with
#                               RC_ENV's NAME=VALUE words in its environment,
#                               run through RC_PREFIX's command words if set,
#                               e.g. `chrt -b 0`: they must exec the node)
#   start_redis NAME PORT [flag...]       redis-server on 127.0.0.1:PORT
#                               (both wait until PING answers, log to
#                               $WORK/NAME.log, and fail if it never does)
#   server_pid NAME             the server's pid
#   cpu_ticks NAME              its user + system CPU time so far, in ticks
#   us_per_request TICKS N      those ticks spread over N requests, in µs
#   track_pid PID               another process to kill on exit
#   stop NAME / stop_all        SIGTERM, then SIGKILL after 5 s
#   resp PORT ARG...            one command, its reply printed (no redis-cli)
#   info_field PORT FIELD       one INFO field
#   json_get FILE a.b.c         one value of a JSON file (loadgen's --json)
#   median                      the median of the numbers on stdin
#   have CMD / require CMD...   whether a command exists / fail without it
# On exit (normal, error, SIGINT, SIGTERM) every server and tracked process
# still running gets SIGTERM, then SIGKILL, by pid.

set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR=${CARGO_TARGET_DIR:-target}
RC_BIN=${BIN:-$TARGET_DIR/release/ringcache-server}
LOADGEN="$TARGET_DIR/release/ringcache-loadgen"
STALL="$TARGET_DIR/release/ringcache-stall"
WORK=$(mktemp -d /tmp/ringcache-bench.XXXXXX)

declare -A SERVER_PIDS=()
TRACKED_PIDS=()

have() { command -v "$1" >/dev/null 2>&1; }

require() {
  local cmd
  for cmd in "$@"; do
    have "$cmd" || { echo "$cmd is required (redis tools: apt-get install redis-server redis-tools)" >&2; exit 1; }
  done
}

build_release() {
  [ "${SKIP_BUILD:-0}" = 1 ] && return 0
  local args=() pkg
  for pkg in "$@"; do
    [ -n "${BIN:-}" ] && [ "$pkg" = ringcache-server ] && continue
    args+=(-p "$pkg")
  done
  [ ${#args[@]} -gt 0 ] || return 0
  timeout 1800 cargo build --release -q "${args[@]}"
}

# kill_pid PID: SIGTERM, then SIGKILL if it is still there after 5 s.
kill_pid() {
  local pid=$1 _
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
  local name pid
  for name in "${!SERVER_PIDS[@]}"; do kill_pid "${SERVER_PIDS[$name]}"; done
  for pid in "${TRACKED_PIDS[@]}"; do kill_pid "$pid"; done
  rm -rf "$WORK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

track_pid() { TRACKED_PIDS+=("$1"); }

server_pid() { echo "${SERVER_PIDS[$1]}"; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$(server_pid "$1")/stat"; }

us_per_request() {
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN { printf "%.3f", t / hz * 1e6 / n }'
}

# timed_us_per_request FILE REQUESTS: CPU µs per request of a process run
# under `/usr/bin/time -f '%U %S' -o FILE`.
timed_us_per_request() {
  tail -1 "$1" | awk -v n="$2" '{ printf "%.3f", ($1 + $2) * 1e6 / n }'
}

# answers_ping PORT: true when a server answers PING there (bash's /dev/tcp).
answers_ping() {
  local reply=""
  reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf '*1\r\n$4\r\nPING\r\n' >&3 \
    && IFS= read -r -t 2 line <&3 && printf '%s' "$line") 2>/dev/null) || return 1
  [[ $reply == +PONG* ]]
}

# wait_ready NAME PORT: polls PING for up to 10 s; fails with the log when the
# server exits or never answers.
wait_ready() {
  local name=$1 port=$2 pid=${SERVER_PIDS[$1]} _
  for _ in $(seq 1 100); do
    answers_ping "$port" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start on port $port:" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}

start_ringcache() {
  local name=$1 port=$2
  shift 2
  local bin=$RC_BIN
  # The "base" server of an A/B run is another build of the node.
  [ "$name" = base ] && bin=$BASE_BIN
  # shellcheck disable=SC2086 # RC_ENV and RC_PREFIX are lists of words
  env ${RC_ENV:-} ${RC_PREFIX:-} "$bin" --bind 127.0.0.1 --port "$port" "$@" >"$WORK/$name.log" 2>&1 &
  SERVER_PIDS[$name]=$!
  wait_ready "$name" "$port"
}

start_redis() {
  local name=$1 port=$2
  shift 2
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no "$@" \
    >"$WORK/$name.log" 2>&1 &
  SERVER_PIDS[$name]=$!
  wait_ready "$name" "$port"
}

env_defaults() {
  local pair name
  for pair in "$@"; do
    name=${pair%%=*}
    [ -n "${!name:-}" ] || printf -v "$name" '%s' "${pair#*=}"
  done
}

bench_ports() {
  env_defaults RC_PORT="$1" RS_PORT=$(($1 + 1))
}

start_pair() {
  [ "${1:-}" = --need-redis ] && require redis-server
  start_ringcache ringcache "$RC_PORT"
  SERVERS=(ringcache)
  if have redis-server; then
    start_redis redis "$RS_PORT"
    SERVERS+=(redis)
  fi
}

# port_of NAME: the port of `ringcache`, `redis`, or `base` (RS_PORT + 1:
# another build of the node, for A/B runs).
port_of() {
  case "$1" in
    ringcache) echo "$RC_PORT" ;;
    base) echo $((RS_PORT + 1)) ;;
    *) echo "$RS_PORT" ;;
  esac
}

stop() {
  local pid=${SERVER_PIDS[$1]:-}
  [ -n "$pid" ] && kill_pid "$pid"
  unset "SERVER_PIDS[$1]"
}

stop_all() {
  local name
  for name in "${!SERVER_PIDS[@]}"; do stop "$name"; done
}

# resp PORT ARG...: sends one command, prints the reply (a bulk string,
# integer or status); fails on an error reply.
resp() {
  timeout 10 python3 - "$@" <<'EOF'
import socket, sys
port, args = int(sys.argv[1]), sys.argv[2:]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a.encode()), a) for a in args)).encode())
f = s.makefile("rb")
line = f.readline().rstrip(b"\r\n")
t, body = line[:1], line[1:]
if t == b"$":
    n = int(body)
    print(f.read(n).decode() if n >= 0 else "")
elif t in (b":", b"+"):
    print(body.decode())
else:
    sys.exit("error reply: %r" % line)
EOF
}

info_field() { resp "$1" INFO | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'; }

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

json_get() {
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[k]
print(d)' "$1" "$2"
}

# redis_benchmark_run PORT TESTS PIPELINE -> lines "TEST RPS": one
# redis-benchmark run of TESTS (CLIENTS, REQUESTS, KEYSPACE) after a
# FLUSHALL (the LPUSH that fills the list for LRANGE is left out).
redis_benchmark_run() {
  resp "$1" FLUSHALL >/dev/null
  redis-benchmark -p "$1" -t "$2" -P "$3" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" --csv -q \
    | awk -F'","' 'NR > 1 && $1 !~ /needed/ { gsub(/"/, "", $1); gsub(/"/, "", $2); split($1, t, " "); print t[1], $2 }'
}

# redis_benchmark_ratios TESTS ROUNDS PIPELINES: each pipeline depth,
# ROUNDS rounds of TESTS on the pair (start_pair), the servers alternating;
# one line per test and round, then the median ratio ringcache / redis.
redis_benchmark_ratios() {
  local tests=$1 rounds=$2 pipelines=$3 pipeline round rc rs test rps other ratio
  echo "redis-benchmark -t $tests -c $CLIENTS -n $REQUESTS -r $KEYSPACE, $rounds rounds, alternating"
  for pipeline in $pipelines; do
    declare -A ratios=()
    for round in $(seq 1 "$rounds"); do
      rs=""
      [ ${#SERVERS[@]} = 2 ] && rs=$(redis_benchmark_run "$RS_PORT" "$tests" "$pipeline")
      rc=$(redis_benchmark_run "$RC_PORT" "$tests" "$pipeline")
      while read -r test rps; do
        other=$(awk -v t="$test" '$1 == t { print $2 }' <<<"$rs")
        ratio=$(awk -v a="$rps" -v b="${other:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
        printf 'P%-3s round %s %-12s ringcache %10s redis %10s ratio %s\n' "$pipeline" "$round" "$test" "$rps" "${other:-n/a}" "$ratio"
        ratios[$test]+="$ratio "
      done <<<"$rc"
    done
    if [ ${#SERVERS[@]} = 2 ]; then
      for test in "${!ratios[@]}"; do
        printf 'median ratio %-12s P%s: %s\n' "$test" "$pipeline" "$(tr ' ' '\n' <<<"${ratios[$test]}" | grep . | median)"
      done | sort
    fi
    unset ratios
  done
}
