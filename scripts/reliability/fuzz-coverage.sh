#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Line coverage a libFuzzer target reaches in one source file: first its
# seeds alone (tests/fuzz/corpus/NAME), then SECONDS of fuzzing from them.
# The figures of docs/reliability.md, "Fuzzing".
#   scripts/reliability/fuzz-coverage.sh TARGET FILE [SECONDS]
#   e.g. scripts/reliability/fuzz-coverage.sh fuzz_scep agent/enroll/scep_msg.c 600
# Builds build-fuzz-cov (clang, -fprofile-instr-generate -fcoverage-mapping)
# and reads the profile with llvm-profdata-14 and llvm-cov-14 (llvm-14).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?name a fuzz target, e.g. fuzz_scep}
file=${2:?name the source file to measure}
seconds=${3:-60}
scripts/deps.sh
work=$(mktemp -d /tmp/tessera-fuzz-cov.XXXXXX)
trap 'rm -rf "$work"' EXIT
# meson's compiler checks run instrumented programs too: their profiles
# go here, not into the source tree.
export LLVM_PROFILE_FILE=$work/checks.profraw
cov_flags=-fprofile-instr-generate,-fcoverage-mapping
if [ ! -d build-fuzz-cov ]; then
    CC=clang meson setup build-fuzz-cov -Dfuzzing=true -Db_lundef=false \
        "-Dc_args=${cov_flags//,/ }" "-Dc_link_args=${cov_flags//,/ }" >/dev/null
fi
ninja -C build-fuzz-cov "tests/fuzz/$target" >/dev/null
binary=build-fuzz-cov/tests/fuzz/$target
seeds=tests/fuzz/corpus/${target#fuzz_}
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/"

covered() { # PROFRAW...: the line and branch coverage of $file
    llvm-profdata-14 merge -sparse "$@" -o "$work/merged.profdata"
    llvm-cov-14 report "$binary" -instr-profile="$work/merged.profdata" |
        awk -v file="$file" 'index($1, file) && NF == 13 {
            printf "lines %s (%d of %d), branches %s (%d of %d)",
                $10, $8 - $9, $8, $13, $11 - $12, $11 }'
}

# The functions of $file the last profile never entered (code that sees no
# hostile input, such as a request builder), and the line coverage of the
# others.
entered() {
    llvm-cov-14 export "$binary" -instr-profile="$work/merged.profdata" >"$work/export.json"
    local never lines covered
    never=$(jq -r --arg f "$file" '.data[0].functions[]
        | select((.filenames[0] | endswith($f)) and .count == 0)
        | "\(.name | sub(".*:"; "")) \(.regions[0][0]) \(.regions[0][2])"' "$work/export.json")
    read -r lines covered < <(jq -r --arg f "$file" '.data[0].files[]
        | select(.filename | endswith($f)) | .summary.lines
        | "\(.count) \(.covered)"' "$work/export.json")
    local skipped
    skipped=$(awk '{n += $3 - $2 + 1} END {print n + 0}' <<<"$never")
    echo "never entered: $(awk '{printf "%s%s", sep, $1; sep = ", "}' <<<"$never");" \
        "lines of the others $(awk -v c="$covered" -v n="$((lines - skipped))" \
        'BEGIN {printf "%.2f%% (%d of %d)", 100 * c / n, c, n}')"
}

LLVM_PROFILE_FILE=$work/seeds.profraw "$binary" -runs=0 "$work/corpus" >/dev/null 2>&1
echo "$target on $file, seeds alone ($(ls "$seeds" | wc -l) files): $(covered "$work/seeds.profraw")"
LLVM_PROFILE_FILE=$work/fuzz.profraw "$binary" -max_total_time="$seconds" \
    -print_final_stats=1 "$work/corpus" >"$work/fuzz.log" 2>&1
runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$work/fuzz.log")
echo "after ${seconds} s of fuzzing ($runs executions, corpus of $(ls "$work/corpus" | wc -l)): $(covered "$work/seeds.profraw" "$work/fuzz.profraw")"
echo "  $(entered)"
