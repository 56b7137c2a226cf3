#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Sets up SoftHSM2 tokens, a local CA, the agent and keys in a temp dir, then
# runs the benchmarks in bench/ and prints one report:
#   the socket floor; signatures/s and p50/p99 per key kind (file, direct
#   PKCS#11, tessera); PKCS#11 programs' paths to the same token
#   (tessera-pkcs11.so, and p11-kit's remoting as the anchor); 1-8 processes
#   at once; one-shot processes; mutual-TLS
#   handshakes/s with openssl s_time; agent start-up and memory with 10, 100
#   and 1000 identities, and `tessera list` latency at 1000; and the same
#   signature table on a TPM 2.0 token (swtpm behind tpm2-abrmd); what
#   1000 idle connections and 16 long-lived 8-thread programs cost the agent.
# --signatures, --connections: that section alone.
# --smoke: one short round and 10 identities, only to check that everything
# runs and the signatures verify (scripts/test.sh). Nothing here judges a time.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 seconds=0.5 tls_seconds=3 identity_counts="10 100 1000"
tpm_rounds=3 tpm_seconds=1 idle_raw=1000 idle_programs=16 only=
case "${1:-}" in
--smoke)
    rounds=1 seconds=0.05 tls_seconds=1 identity_counts="10"
    tpm_rounds=1 tpm_seconds=0.2 idle_raw=100 idle_programs=2
    ;;
--signatures | --connections) only=${1#--} ;;
esac
scripts/deps.sh
if [ ! -d build ]; then meson setup build >/dev/null; fi
ninja -C build >/dev/null
B=$PWD/build MODULE=/usr/lib/softhsm/libsofthsm2.so
TESSERA=$B/cli/tessera SNIPPET=$PWD/data/openssl-tessera.cnf

D=$(mktemp -d /tmp/tessera-bench.XXXXXX)
PIDS=()
# Agents started through $(start_agent) are not this shell's children, so
# `wait` cannot see them: watch them go instead.
stop_pid() {
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 1 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.02; done
}
. scripts/swtpm.sh
cleanup() {
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    tpm_stop "$D/tpm"
    rm -rf "$D"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$D/run XDG_STATE_HOME=$D/state XDG_CONFIG_HOME=$D/config
export OPENSSL_MODULES=$B/provider OPENSSL_CONF=/dev/null
mkdir -p "$D/run" && chmod 700 "$D/run"
printf '1357\n' >"$D/pin" && chmod 600 "$D/pin"

softhsm_dir() { # DIR: a SoftHSM2 configuration of its own, with a token
    mkdir -p "$1/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
        "$1/tokens" >"$1/softhsm2.conf"
    SOFTHSM2_CONF=$1/softhsm2.conf softhsm2-util --init-token --free \
        --label Bench --so-pin 12345678 --pin 1357 >/dev/null
}

start_agent_on() { # MODULE: prints the agent's pid once it answers
    "$B/agent/tessera-agent" --foreground --module "$1" >>"$D/agent.log" 2>&1 &
    local pid=$!
    until "$TESSERA" tokens >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { echo "bench: the agent did not start" >&2; exit 1; }
        sleep 0.01
    done
    echo "$pid"
}
start_agent() { start_agent_on "$MODULE"; }

ms_since() { awk -v s="$1" -v e="$(date +%s%N)" 'BEGIN {printf "%.1f\n", (e - s) / 1e6}'; }

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# --- signing: one token with a key of each kind, and the same kinds as files
softhsm_dir "$D/sign"
export SOFTHSM2_CONF=$D/sign/softhsm2.conf
AGENT_PID=$(start_agent)
PIDS+=("$AGENT_PID")
"$TESSERA" unlock Bench --pin-file "$D/pin" >/dev/null
for spec in ec-p256 ec-p384 rsa2048; do
    "$TESSERA" keygen "bench-$spec" --token Bench --key "$spec" \
        --subject "CN=bench-$spec,O=Tessera Bench" --out "$D/$spec.csr" >/dev/null
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/ec-p256.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$D/ec-p384.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/rsa2048.pem" 2>/dev/null

# p11-kit's remoting of the same token: `p11-kit server` and its client module.
P11KIT_CLIENT=$(pkg-config --variable=p11_module_path p11-kit-1)/p11-kit-client.so
p11-kit server -f -n "$D/p11-kit.sock" --provider "$MODULE" "pkcs11:token=Bench" \
    >"$D/p11-kit.log" 2>&1 &
PIDS+=("$!")
export P11_KIT_SERVER_ADDRESS=unix:path=$D/p11-kit.sock
until [ -S "$D/p11-kit.sock" ]; do sleep 0.01; done

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(openssl version)"
echo "token: SoftHSM2 $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null); $rounds interleaved rounds of ${seconds}s"
echo
[ "$only" = connections ] || "$B/bench/sign_bench" --module "$MODULE" --token Bench --pin-file "$D/pin" \
    --rounds "$rounds" --seconds "$seconds" \
    --once "$B/bench/sign_once" --conf "$SNIPPET" \
    --tessera-module "$B/pkcs11/tessera-pkcs11.so" --remote-module "$P11KIT_CLIENT" \
    --p11-once "$B/bench/p11_once" \
    "ec-p256:bench-ec-p256:$D/ec-p256.pem" "ec-p384:bench-ec-p384:$D/ec-p384.pem" \
    "rsa2048:bench-rsa2048:$D/rsa2048.pem" "rsa2048-pss:bench-rsa2048:$D/rsa2048.pem"
[ "$only" != signatures ] || exit 0

# --- mutual TLS: s_time full handshakes against s_server -Verify
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$D/ca.key" -out "$D/ca.pem" -subj "/CN=Bench CA" -days 2 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$D/client.ext"
printf 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n' >"$D/server.ext"
issue() { # CSR OUT EXT
    openssl x509 -req -in "$1" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
        -out "$2" -days 1 -extfile "$3" 2>/dev/null
}
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/server.key" \
    -out "$D/server.csr" -subj /CN=127.0.0.1 2>/dev/null
issue "$D/server.csr" "$D/server.pem" "$D/server.ext"
issue "$D/ec-p256.csr" "$D/token-client.pem" "$D/client.ext"
"$TESSERA" import bench-ec-p256 --cert "$D/token-client.pem" >/dev/null
"$TESSERA" export bench-ec-p256 --key-ref "$D/token-client.ref" --cert "$D/token-client.crt" >/dev/null
openssl req -new -key "$D/ec-p256.pem" -out "$D/file-client.csr" -subj /CN=file-client 2>/dev/null
issue "$D/file-client.csr" "$D/file-client.pem" "$D/client.ext"

# --- idle connections: raw ones and long-lived programs' pools, then a new client
idle_connections() {
    OPENSSL_CONF=$SNIPPET "$B/bench/conn_load" "$AGENT_PID" "$XDG_RUNTIME_DIR/tessera/agent.sock" \
        tessera:bench-ec-p256 "$TESSERA" "$idle_raw" "$idle_programs" 8
    echo
}
if [ "$only" = connections ]; then
    idle_connections
    exit 0
fi

PORT=
for _ in $(seq 1 20); do
    PORT=$((20000 + RANDOM % 30000))
    openssl s_server -accept "127.0.0.1:$PORT" -cert "$D/server.pem" -key "$D/server.key" \
        -CAfile "$D/ca.pem" -Verify 1 -verify_return_error -quiet >"$D/server.log" 2>&1 &
    PIDS+=("$!")
    sleep 0.3
    kill -0 "${PIDS[-1]}" 2>/dev/null && break
done
handshakes() { # TLS-VERSION-FLAG CERT KEY OPENSSL_CONF
    OPENSSL_CONF=$4 openssl s_time -connect "127.0.0.1:$PORT" -new -time "$tls_seconds" \
        "$1" -CAfile "$D/ca.pem" -cert "$2" -key "$3" 2>/dev/null |
        awk '/connections in .* real seconds/ {print $1 / $4}' | head -1
}
echo "Mutual-TLS handshakes/s, openssl s_time -new against s_server -Verify, ECDSA P-256 client key"
echo
printf '%-8s %10s %10s %10s\n' TLS file tessera ratio
for version in 1.3 1.2; do
    flag=-tls1_${version#1.}
    file_rates=() tessera_rates=()
    for _ in $(seq 1 "$rounds"); do
        file_rates+=("$(handshakes "$flag" "$D/file-client.pem" "$D/ec-p256.pem" /dev/null)")
        tessera_rates+=("$(handshakes "$flag" "$D/token-client.crt" "$D/token-client.ref" "$SNIPPET")")
    done
    f=$(printf '%s\n' "${file_rates[@]}" | median)
    t=$(printf '%s\n' "${tessera_rates[@]}" | median)
    [ -n "$f" ] && [ -n "$t" ] || { echo "bench: s_time made no handshakes" >&2; exit 1; }
    printf '%-8s %10.0f %10.0f %10.2f\n' "$version" "$f" "$t" "$(awk -v t="$t" -v f="$f" 'BEGIN {print t / f}')"
done
echo
idle_connections
stop_pid "$AGENT_PID"

# --- start-up and memory against the number of identities
echo "Agent start-up (exec to first answered 'tessera list') and memory"
echo "module alone: a process that loads SoftHSM2 and reads every object once"
echo
printf '%-10s %12s %14s %14s %16s %16s\n' identities "start (ms)" "RssAnon (KiB)" "VmRSS (KiB)" \
    "module (ms)" "module (KiB)"
for count in $identity_counts; do
    softhsm_dir "$D/fill-$count"
    export SOFTHSM2_CONF=$D/fill-$count/softhsm2.conf
    "$B/bench/token_fill" "$MODULE" Bench 1357 "$count"
    read -r module_ms _ module_kib _ < <("$B/bench/token_fill" --enumerate "$MODULE")
    start=$(date +%s%N)
    pid=$(start_agent)
    PIDS+=("$pid")
    until [ "$("$TESSERA" list | wc -l)" -gt "$count" ]; do sleep 0.01; done
    started=$(ms_since "$start")
    anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    printf '%-10s %12s %14s %14s %16s %16s\n' "$count" "$started" "$anon" "$rss" "$module_ms" "$module_kib"
    if [ "$count" = 1000 ]; then
        list_ms=$(for _ in 1 2 3 4 5; do
            s=$(date +%s%N)
            "$TESSERA" list >/dev/null
            ms_since "$s"
        done | median)
    fi
    stop_pid "$pid"
done
echo
if [ -n "${list_ms:-}" ]; then
    echo "tessera list with 1000 identities: ${list_ms} ms (median of 5)"
fi
echo "RssAnon is the agent's private memory, the module's cache included; VmRSS adds"
echo "shared library pages (libcrypto, glib, SoftHSM) that other processes share."

# --- a TPM 2.0 token: ~3 ms an ECDSA signature, so the TPM dominates
echo
echo "TPM 2.0 (swtpm behind tpm2-abrmd, tpm2-pkcs11), ECDSA P-256"
tpm_start "$D/tpm"
tpm_token "Bench TPM" 12345678 1357
export DBUS_SESSION_BUS_ADDRESS=$TPM_BUS # abrmd's bus, for agent and bench
AGENT_PID=$(start_agent_on "$TPM_MODULE")
PIDS+=("$AGENT_PID")
"$TESSERA" unlock "Bench TPM" --pin-file "$D/pin" >/dev/null
"$TESSERA" keygen bench-tpm --token "Bench TPM" --key ec-p256 --subject CN=bench-tpm \
    --out /dev/null >/dev/null
"$B/bench/sign_bench" --module "$TPM_MODULE" --token "Bench TPM" --pin-file "$D/pin" \
    --rounds "$tpm_rounds" --seconds "$tpm_seconds" --signatures-only \
    "ec-p256:bench-tpm:$D/ec-p256.pem"
stop_pid "$AGENT_PID"
