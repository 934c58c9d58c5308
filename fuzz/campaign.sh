#!/usr/bin/env bash
# Builds every fuzz target and runs each for TARGET_SECONDS, JOBS targets
# side by side (one core each, default 1), at the lowest CPU priority.
# Prints per target: wall and CPU time, executions, coverage, corpus size
# and findings; minimized crashes are kept under fuzz/artifacts/TARGET/.
#
#   fuzz/campaign.sh 600 2
#   TARGETS="framer session" LOGS=logs/again fuzz/campaign.sh 60
#
# Engine: libFuzzer (libfuzzer-sys) with the sanitizer-coverage passes,
# all stable rustc flags: no nightly, no RUSTC_BOOTSTRAP (see README.md).
set -euo pipefail

secs=${1:?usage: campaign.sh TARGET_SECONDS [JOBS]}
jobs=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
targets=${TARGETS:-command framer session session_smtp scenario mime}
triple=$(rustc -vV | sed -n 's/^host: //p')
bin=target/$triple/release

export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares"
# --target keeps the instrumentation out of build scripts. Debug assertions
# and overflow checks come from the release profile in Cargo.toml.
nice -n 19 cargo build --release --bins --target "$triple"

logs=${LOGS:-logs}
mkdir -p "$logs"
run_one() {
    local t=$1
    mkdir -p "corpus-run/$t" "artifacts/$t"
    # Fork mode with -ignore_crashes: a finding is saved and the run goes
    # on, so one shallow bug cannot end a target's campaign.
    /usr/bin/time -f '%e %U %S' -o "$logs/$t.time" \
        nice -n 19 "$bin/$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
        -ignore_ooms=1 -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
        "corpus-run/$t" "corpus/$t" >"$logs/$t.log" 2>&1 || true
}

running=0
for t in $targets; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

total_execs=0
total_cpu=0
printf '%-13s %7s %7s %11s %6s %6s %6s %s\n' target wall_s cpu_s executions cov ft corpus findings
for t in $targets; do
    # The last line: time(1) puts "Command exited with ..." before it.
    read -r wall user sys < <(tail -n 1 "$logs/$t.time" 2>/dev/null) || { wall=0 user=0 sys=0; }
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", u + s }')
    # Fork mode's status lines: "#EXECS: cov: N ft: N corp: N exec/s ...".
    last=$(grep -E '^#[0-9]+: cov:' "$logs/$t.log" | tail -n 1 || true)
    execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
    cov=$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$last")
    ft=$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$last")
    corp=$(sed -E 's/.* corp: ([0-9]+).*/\1/' <<<"$last")
    crashes=$(find "artifacts/$t" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    printf '%-13s %7.0f %7s %11s %6s %6s %6s %s\n' "$t" "$wall" "$cpu" "${execs:-0}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
    total_execs=$((total_execs + ${execs:-0}))
    total_cpu=$((total_cpu + cpu))
    # Minimize each new finding once, next to the original.
    for f in artifacts/"$t"/crash-* artifacts/"$t"/timeout-*; do
        [ -f "$f" ] || continue
        min="artifacts/$t/min-$(basename "$f")"
        [ -f "$min" ] && continue
        nice -n 19 "$bin/$t" -minimize_crash=1 -runs=20000 -timeout=10 \
            -exact_artifact_path="$min" "$f" >>"$logs/$t.minimize.log" 2>&1 || true
    done
done
echo "total: ${total_cpu}s CPU, ${total_execs} executions"
