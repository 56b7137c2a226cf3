#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds Tessera and runs the whole test suite:
#   1. the normal build (-Werror) and every meson test suite;
#   2. the same suites in a second build under AddressSanitizer + UBSan;
#   3. the unit tests under valgrind;
#   4. a short benchmark run that checks its signatures verify;
#   5. each libFuzzer target for a bounded time (clang).
# Prints one closing line: "tessera: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1

# A smoke run per target at every test run (the suite must stay under 15
# minutes on 2 cores); longer runs: scripts/reliability/fuzz-hours.sh.
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
log=$(mktemp /tmp/tessera-test-log.XXXXXX)
failed_steps=()

step() { # NAME COMMAND...
    local name=$1
    shift
    echo "=== $name"
    if ! "$@" 2>&1 | tee -a "$log"; then failed_steps+=("$name"); fi
}

setup() { # DIR [MESON ARGS] [-- TARGETS]: every target unless named
    local dir=$1 output
    shift
    local args=() targets=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        args+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift && targets=("$@")
    local reconfigure=()
    [ -d "$dir" ] && reconfigure=(--reconfigure)
    # meson prints its configuration errors on stdout: show them on failure.
    if ! output=$(meson setup "${reconfigure[@]}" "$dir" "${args[@]}" 2>&1); then
        echo "$output"
        return 1
    fi
    ninja -C "$dir" "${targets[@]}"
}

# Only the fuzz targets: the rest of a clang build is not run here.
setup_fuzzers() {
    CC=clang setup build-fuzz -Dfuzzing=true -Db_lundef=false -- \
        $(sed -n "s/^ *'\(fuzz_[a-z0-9_]*\)': .*/tests\/fuzz\/\1/p" tests/fuzz/meson.build)
}

run_fuzzers() {
    local corpus
    for target in $(find build-fuzz/tests/fuzz -maxdepth 1 -type f -executable -name "fuzz_*"); do
        corpus=$(mktemp -d /tmp/tessera-corpus.XXXXXX)
        # Seeds: recorded answers of real servers (tests/fuzz/corpus/NAME).
        local seeds=tests/fuzz/corpus/$(basename "$target" | sed 's/^fuzz_//')
        [ -d "$seeds" ] && cp "$seeds"/* "$corpus"/
        echo "fuzzing $(basename "$target") for ${FUZZ_SECONDS}s"
        "$target" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
            "$corpus" 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY'
        local status=${PIPESTATUS[0]}
        rm -rf "$corpus"
        [ "$status" -eq 0 ] || return 1
    done
}

check_format() {
    clang-format --dry-run --Werror $(git ls-files '*.c' '*.h' 2>/dev/null ||
        find agent cli common provider tests bench -name '*.[ch]')
}

step "format (.clang-format)" check_format
step "build" setup build
step "tests" meson test -C build --verbose --print-errorlogs --num-processes 2
step "build with ASan+UBSan" setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
step "tests with ASan+UBSan" meson test -C build-asan --verbose --print-errorlogs --num-processes 2
step "unit tests under valgrind" meson test -C build --suite unit --verbose \
    --wrapper 'valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite'
step "benchmark smoke run (signatures verified, times not judged)" scripts/bench.sh --smoke
step "build fuzzers" setup_fuzzers
step "fuzz" run_fuzzers

# cmocka reports each case; meson shows each TAP case of the shell suites
# as "▶ N/M - description STATUS". Count both kinds.
passed=$(grep -cE '^\[       OK \] |^▶ .* OK *$' "$log")
failed=$(grep -cE '^\[  FAILED  \] [a-z_]+$|^▶ .* (FAIL|ERROR) *$' "$log")
rm -f "$log"
if [ ${#failed_steps[@]} -ne 0 ]; then
    echo "failed steps: ${failed_steps[*]}"
    failed=$((failed > 0 ? failed : ${#failed_steps[@]}))
fi
echo "tessera: $passed passed, $failed failed"
[ ${#failed_steps[@]} -eq 0 ] && [ "$failed" -eq 0 ]
