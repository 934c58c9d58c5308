#!/usr/bin/env bash
# Throughput and idle-connection memory of mailfault, measured against
# Postfix's smtp-sink with Postfix's smtp-source as the load generator.
#
#   bash benches/compare-smtp-sink.sh [ROUNDS]
#   MF_SCENARIO=benches/stateful.yaml bash benches/compare-smtp-sink.sh
#   MF_BIN=/path/to/other/mailfault bash benches/compare-smtp-sink.sh
#
# MF_SCENARIO runs mailfault with a scenario, to measure what rules cost
# (benches/stateful.yaml: a rate window per recipient, a greylist that always
# passes, a glob on every RCPT).
#
# Installs the Debian `postfix` package when smtp-source is missing (root,
# apt-get) and leaves no Postfix daemon running. Everything listens on
# 127.0.0.1 only. Rounds alternate between the two servers so that machine
# noise hits both alike; the median of the rounds is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
MF_PORT=${MF_PORT:-25250}
SINK_PORT=${SINK_PORT:-25260}
IDLE=${IDLE:-1000}

if ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi
# The package may start the MTA; this benchmark wants only the two tools.
postfix stop >/dev/null 2>&1 || true

ulimit -n 65536 2>/dev/null || true
# MF_BIN=path measures another build (e.g. an older commit) instead.
if [ -n "${MF_BIN:-}" ]; then
  BIN=$MF_BIN
else
  cargo build --release --quiet
  BIN=target/release/mailfault
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 200); do
    if python3 - "$1" <<'PY' 2>/dev/null; then return 0; fi
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
PY
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  exit 1
}

scenario_args=()
if [ -n "${MF_SCENARIO:-}" ]; then scenario_args=(--scenario "$MF_SCENARIO"); fi
RUST_LOG=warn "$BIN" serve --smtp "127.0.0.1:$MF_PORT" --http 127.0.0.1:0 --max-messages 100000 "${scenario_args[@]}" >/dev/null &
pids+=($!)
MF_PID=$!
smtp-sink -u postfix "127.0.0.1:$SINK_PORT" 1024 &
pids+=($!)
SINK_PID=$!
wait_port "$MF_PORT"
wait_port "$SINK_PORT"

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$(python3 -c "import os; print(1e6 / os.sysconf('SC_CLK_TCK'))")

# Prints messages per second of one smtp-source run, and the server's CPU
# time per message in microseconds (from /proc, so the load generator's
# own CPU is not counted).
rate() { # port pid messages smtp-source-options...
  local port=$1 pid=$2 messages=$3 start end cpu0 cpu1
  shift 3
  cpu0=$(cpu_ticks "$pid")
  start=$(date +%s.%N)
  smtp-source "$@" -f bench@example.test -t sink@example.test "127.0.0.1:$port" >/dev/null
  end=$(date +%s.%N)
  cpu1=$(cpu_ticks "$pid")
  python3 -c "print(round($messages / ($end - $start)), round(($cpu1 - $cpu0) * $TICK_US / $messages, 1))"
}

# smtp-source options of each load: a connection per small message, many
# small messages per connection (-d: what a bulk sender does, and where the
# server's own work per message shows), and large messages.
LOADS=("-s 20 -m 20000 -l 1024" "-s 20 -d -m 20000 -l 1024" "-s 10 -m 2000 -l 102400")
messages_of() { set -- $1; while [ "$1" != "-m" ]; do shift; done; echo "$2"; }

median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Resident memory per idle connection: RSS before and after opening $IDLE
# connections that each read the greeting and then say nothing.
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$MF_PID/status"; }
before=$(rss_kib)
python3 - "$MF_PORT" "$IDLE" "/proc/$MF_PID/status" <<'PY' > /tmp/mailfault-idle-rss.txt
import socket, sys, time
port, n, status = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.recv(512)
    conns.append(s)
time.sleep(1.0)
for line in open(status):
    if line.startswith("VmRSS"):
        print(line.split()[1])
for s in conns:
    s.close()
PY
after=$(cat /tmp/mailfault-idle-rss.txt)
per_conn=$(python3 -c "print(round(($after - $before) / $IDLE, 1))")

# One warm-up message each: with a scenario, the greylist records its key
# (deferring this one attempt) so that the timed rounds all pass.
for port in "$MF_PORT" "$SINK_PORT"; do
  smtp-source -s 1 -m 1 -f bench@example.test -t sink@example.test "127.0.0.1:$port" >/dev/null 2>&1 || true
done

declare -A results
for load in "${LOADS[@]}"; do
  n=$(messages_of "$load")
  mf=() sink=() mf_cpu=() sink_cpu=()
  for round in $(seq 1 "$ROUNDS"); do
    read -r m mc < <(rate "$MF_PORT" "$MF_PID" "$n" $load)
    read -r s sc < <(rate "$SINK_PORT" "$SINK_PID" "$n" $load)
    mf+=("$m") sink+=("$s") mf_cpu+=("$mc") sink_cpu+=("$sc")
    echo "round $round, smtp-source $load: mailfault $m msg/s ($mc µs CPU/msg), smtp-sink $s msg/s ($sc µs CPU/msg)" >&2
  done
  results["$load mf"]=$(echo "${mf[*]}" | median)
  results["$load sink"]=$(echo "${sink[*]}" | median)
  results["$load mf cpu"]=$(echo "${mf_cpu[*]}" | median)
  results["$load sink cpu"]=$(echo "${sink_cpu[*]}" | median)
done


echo
echo "| load (smtp-source) | mailfault msg/s | smtp-sink msg/s | ratio | mailfault CPU µs/msg | smtp-sink CPU µs/msg |"
echo "|---|---|---|---|---|---|"
for load in "${LOADS[@]}"; do
  m=${results["$load mf"]}; s=${results["$load sink"]}
  echo "| $load | $m | $s | $(python3 -c "print(round($m / $s, 2))")x | ${results["$load mf cpu"]} | ${results["$load sink cpu"]} |"
done
echo
echo "mailfault RSS: ${before} KiB idle, ${after} KiB with $IDLE idle connections: ${per_conn} KiB per connection"
