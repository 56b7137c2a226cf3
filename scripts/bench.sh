#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Sets up a SoftHSM2 token, the agent and keys in a temp dir, then runs the
# benchmarks in bench/ and prints their table. --smoke: one short round,
# only to check that the benchmark runs and its signatures verify.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 seconds=0.5
if [ "${1:-}" = "--smoke" ]; then rounds=1 seconds=0.05; fi
scripts/deps.sh
if [ ! -d build ]; then meson setup build >/dev/null; fi
ninja -C build >/dev/null
B=$PWD/build MODULE=/usr/lib/softhsm/libsofthsm2.so

D=$(mktemp -d /tmp/tessera-bench.XXXXXX)
AGENT_PID=
cleanup() {
    [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
export SOFTHSM2_CONF=$D/softhsm2.conf XDG_RUNTIME_DIR=$D/run
export XDG_STATE_HOME=$D/state XDG_CONFIG_HOME=$D/config
export OPENSSL_MODULES=$B/provider OPENSSL_CONF=/dev/null
mkdir -p "$D/tokens" "$D/run" && chmod 700 "$D/run"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$D/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label Bench --so-pin 12345678 --pin 1357 >/dev/null
printf '1357\n' >"$D/pin" && chmod 600 "$D/pin"

"$B/agent/tessera-agent" --foreground --module "$MODULE" >"$D/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 100); do "$B/cli/tessera" tokens >/dev/null 2>&1 && break; sleep 0.05; done
"$B/cli/tessera" unlock Bench --pin-file "$D/pin" >/dev/null
"$B/cli/tessera" keygen bench-ec --token Bench --key ec-p256 --subject CN=bench-ec --out /dev/null
"$B/cli/tessera" keygen bench-rsa --token Bench --key rsa2048 --subject CN=bench-rsa --out /dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/ec.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/rsa.pem" 2>/dev/null

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(openssl version)"
"$B/bench/sign_bench" --module "$MODULE" --token Bench --pin-file "$D/pin" \
    --rounds "$rounds" --seconds "$seconds" \
    "ec:bench-ec:$D/ec.pem" "rsa:bench-rsa:$D/rsa.pem"
