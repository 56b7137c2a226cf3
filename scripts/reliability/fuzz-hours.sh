#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target for SECONDS from its seeds and prints, per
# target, the executions, the CPU time they took and whether any input
# crashed it; then the totals. The "fuzz CPU-hours" of docs/reliability.md.
#   scripts/reliability/fuzz-hours.sh [SECONDS]     (default 60)
# Builds build-fuzz (clang, -Dfuzzing=true), as scripts/test.sh does.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
scripts/deps.sh
if [ ! -d build-fuzz ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true -Db_lundef=false >/dev/null
fi
ninja -C build-fuzz >/dev/null
work=$(mktemp -d /tmp/tessera-fuzz-hours.XXXXXX)
trap 'rm -rf "$work"' EXIT
printf '%-14s %14s %12s %8s\n' target executions "CPU (s)" crashes
total_runs=0 total_cpu=0 total_crashes=0
for target in $(find build-fuzz/tests/fuzz -maxdepth 1 -type f -executable -name "fuzz_*" | sort); do
    name=$(basename "$target")
    mkdir -p "$work/$name"
    # Seeds where there are (tests/fuzz/corpus/NAME), as scripts/test.sh.
    seeds=tests/fuzz/corpus/${name#fuzz_}
    [ ! -d "$seeds" ] || cp "$seeds"/* "$work/$name/"
    # TIMEFORMAT: the user and system CPU seconds of the run.
    cpu=$( { TIMEFORMAT='%U %S'; time "$target" -max_total_time="$seconds" \
        -print_final_stats=1 -artifact_prefix="$work/" "$work/$name" \
        >"$work/$name.log" 2>&1 || touch "$work/$name.crashed"; } 2>&1 | awk '{print $1 + $2}')
    crashed=0
    [ ! -e "$work/$name.crashed" ] || crashed=1
    runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$work/$name.log")
    printf '%-14s %14s %12.0f %8s\n' "$name" "${runs:-?}" "$cpu" "$crashed"
    total_runs=$((total_runs + ${runs:-0}))
    total_cpu=$(awk -v a="$total_cpu" -v b="$cpu" 'BEGIN {print a + b}')
    total_crashes=$((total_crashes + crashed))
done
printf '%-14s %14s %12.0f %8s\n' total "$total_runs" "$total_cpu" "$total_crashes"
awk -v c="$total_cpu" 'BEGIN {printf "%.2f CPU-hours\n", c / 3600}'
