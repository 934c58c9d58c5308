#!/usr/bin/env bash
# Server CPU per message of two mailfault builds and of Postfix's smtp-sink,
# in alternating rounds of one run (machine noise hits all three alike):
#
#   bash benches/ab-cpu.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# Load: smtp-source -s 20 -d -m 20000 -l 1024 (20 connections, many small
# messages each), capture and transcripts on. CPU is user + system time from
# /proc for the server process alone. Needs smtp-source and smtp-sink
# (Debian's postfix; benches/compare-smtp-sink.sh installs it). Everything
# listens on 127.0.0.1 and is stopped at the end.
set -euo pipefail
OLD=${1:?usage: ab-cpu.sh OLD_BINARY NEW_BINARY [ROUNDS]}
NEW=${2:?usage: ab-cpu.sh OLD_BINARY NEW_BINARY [ROUNDS]}
ROUNDS=${3:-3}
PORT=${AB_PORT:-26100}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

RUST_LOG=warn "$OLD" serve --smtp "127.0.0.1:$((PORT + 1))" --http off --max-messages 100000 >/dev/null 2>&1 &
pids+=($!); old_pid=$!
RUST_LOG=warn "$NEW" serve --smtp "127.0.0.1:$((PORT + 2))" --http off --max-messages 100000 >/dev/null 2>&1 &
pids+=($!); new_pid=$!
smtp-sink -u postfix "127.0.0.1:$((PORT + 3))" 1024 &
pids+=($!); sink_pid=$!
sleep 1

TICK_US=$(python3 -c "import os; print(1e6 / os.sysconf('SC_CLK_TCK'))")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
round() { # port pid
  local c0 c1 t0 t1
  c0=$(cpu_ticks "$2"); t0=$(date +%s.%N)
  smtp-source -s 20 -d -m 20000 -l 1024 -f a@example.test -t b@example.test "127.0.0.1:$1" >/dev/null
  t1=$(date +%s.%N); c1=$(cpu_ticks "$2")
  python3 -c "print('%6.0f msg/s %5.1f µs CPU/msg' % (20000 / ($t1 - $t0), ($c1 - $c0) * $TICK_US / 20000))"
}
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r  old:       $(round $((PORT + 1)) "$old_pid")"
  echo "round $r  new:       $(round $((PORT + 2)) "$new_pid")"
  echo "round $r  smtp-sink: $(round $((PORT + 3)) "$sink_pid")"
done
