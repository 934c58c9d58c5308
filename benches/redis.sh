#!/usr/bin/env bash
# Shared state's price: `smtp-source -s 20 -m 20000 -l 1024` (a connection
# per message) against one instance in memory, one with --state redis://,
# and two sharing one Redis (the load split between them), all with
# benches/stateful.yaml (a glob, a rate window and a greylist on every RCPT,
# so every message touches shared state), plus Redis round trips per message
# (mailfault_state_round_trips_total from /metrics).
#
#   bash benches/redis.sh [ROUNDS]      MF_BIN=path measures another build
#   SCENARIO=scenarios/accept-all.yaml bash benches/redis.sh
#                                       the store's share alone (no rule
#                                       touches shared state)
#
# The one-instance and the two-instance setups use different namespaces of
# the one Redis: each is a deployment of its own, so no instance of the
# other setup follows (reads back and applies) the stream being measured.
#
# Starts a private redis-server (loopback, no persistence) and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
MESSAGES=${MESSAGES:-20000}
command -v smtp-source >/dev/null || { echo "needs smtp-source (Debian package postfix)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "needs redis-server (Debian package redis-server)" >&2; exit 1; }
if [ -n "${MF_BIN:-}" ]; then BIN=$MF_BIN; else cargo build --release --quiet; BIN=target/release/mailfault; fi
ulimit -n 65536 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), timeout=0.2).close()" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2; exit 1
}
pids=()
# Servers first, Redis last: a server whose Redis vanished says so.
cleanup() {
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT

RPORT=$(free_port)
RDIR=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$RPORT" --save "" --appendonly no --dir "$RDIR" --daemonize no >/dev/null &
pids+=($!)
wait_port "$RPORT"

serve() { # PORT HTTP_PORT STATE [NAMESPACE]
  RUST_LOG=warn "$BIN" serve --smtp "127.0.0.1:$1" --http "127.0.0.1:$2" --max-messages 100000 \
    --scenario "${SCENARIO:-benches/stateful.yaml}" --state "$3" --state-namespace "${4:-mailfault}" >/dev/null &
  pids+=($!)
  wait_port "$1"
  # The greylist defers each key's first sight: send that one now.
  smtp-source -m 1 -f a@bench.test -t b@bench.test "127.0.0.1:$1" 2>/dev/null || true
  sleep 0.05
}
round_trips() { # HTTP_PORT
  python3 -c "import urllib.request,re; t=urllib.request.urlopen('http://127.0.0.1:$1/metrics').read().decode(); print(re.search(r'^mailfault_state_round_trips_total (\d+)', t, re.M).group(1))"
}
rate() { # seconds for MESSAGES through the given ports, split evenly
  local start end n=$#
  start=$(date +%s.%N)
  for p in "$@"; do smtp-source -s $((20 / n)) -m $((MESSAGES / n)) -l 1024 -f a@bench.test -t b@bench.test "127.0.0.1:$p" & done
  wait_jobs=$(jobs -p | tail -n "$n"); for j in $wait_jobs; do wait "$j"; done
  end=$(date +%s.%N)
  python3 -c "print(round($MESSAGES / ($end - $start)))"
}

M=$(free_port); serve "$M" "$(free_port)" memory
A=$(free_port); AH=$(free_port); serve "$A" "$AH" "redis://127.0.0.1:$RPORT/0" one
B=$(free_port); serve "$B" "$(free_port)" "redis://127.0.0.1:$RPORT/0" two
C=$(free_port); serve "$C" "$(free_port)" "redis://127.0.0.1:$RPORT/0" two
echo "round  memory  redis(1)  redis(2 instances)  (msg/s; redis(1) as % of memory)"
ratios=()
for r in $(seq 1 "$ROUNDS"); do
  mem=$(rate "$M")
  before=$(round_trips "$AH"); one=$(rate "$A"); after=$(round_trips "$AH")
  two=$(rate "$B" "$C")
  ratio=$(python3 -c "print(round(100 * $one / $mem))")
  ratios+=("$ratio")
  echo "$r  $mem  $one  $two  ${ratio}%"
  per=$(python3 -c "print(round(($after - $before) / $MESSAGES, 1))")
done
echo "Redis round trips per message (one instance, last round): $per"
echo "One instance on Redis, median of the rounds: $(python3 -c "import statistics; print(statistics.median([$(IFS=,; echo "${ratios[*]}")]))")% of in memory"
