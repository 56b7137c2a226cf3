#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A TPM 2.0 token: Debian's tpm2-pkcs11 on a software TPM (swtpm on
# 127.0.0.1) behind tpm2-abrmd on a private bus, so the agent and the test's
# own tools can hold TPM objects at once. Keygen, CSR, import, mutual TLS and
# listing with TPM identities; and the TPM beside SoftHSM2 in one agent.
. "$(dirname "$0")/lib.sh"

TPM_MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so
# The TPM's own daemons and tools are not ours to instrument: under the
# sanitizer runtime (LD_PRELOAD in sanitized builds) tpm2-abrmd hangs.
plain() { env -u LD_PRELOAD "$@"; }
TPM_PIN=246813
mkdir -p "$T/tpm/state"
for _ in $(seq 1 20); do
    TPM_PORT=$((20000 + RANDOM % 30000))
    plain swtpm socket --tpm2 --server type=tcp,port=$TPM_PORT,bindaddr=127.0.0.1 \
        --ctrl type=tcp,port=$((TPM_PORT + 1)),bindaddr=127.0.0.1 \
        --tpmstate dir="$T/tpm/state" --flags not-need-init,startup-clear \
        --pid file="$T/tpm/swtpm.pid" --daemon 2>/dev/null && break
done
plain dbus-daemon --session --address="unix:path=$T/tpm/bus" --fork --print-pid=3 \
    3>"$T/tpm/bus.pid"
BUS_NAME=com.intel.tss2.Tabrmd.p$TPM_PORT
DBUS_SESSION_BUS_ADDRESS=unix:path=$T/tpm/bus plain tpm2-abrmd --session --allow-root \
    --flush-all --dbus-name="$BUS_NAME" --tcti="swtpm:host=127.0.0.1,port=$TPM_PORT" \
    >"$T/tpm/abrmd.log" 2>&1 &
ABRMD_PID=$!
stop_tpm() {
    kill "$ABRMD_PID" "$(cat "$T/tpm/bus.pid")" "$(cat "$T/tpm/swtpm.pid")" 2>/dev/null || true
}
trap 'stop_tpm; cleanup' EXIT
# The abrmd TCTI finds its daemon on this bus; the agent does not use it
# for its own API (no DBUS_SESSION_BUS_ADDRESS for that).
export TPM2_PKCS11_TCTI="tabrmd:bus_name=$BUS_NAME,bus_type=session"
export TPM2TOOLS_TCTI=$TPM2_PKCS11_TCTI
export TPM2_PKCS11_STORE=$T/tpm2-store
for _ in $(seq 1 100); do
    DBUS_SESSION_BUS_ADDRESS=unix:path=$T/tpm/bus plain tpm2_getrandom 4 >/dev/null 2>&1 && break
    sleep 0.05
done
tpm() { DBUS_SESSION_BUS_ADDRESS=unix:path=$T/tpm/bus plain pkcs11-tool --module "$TPM_MODULE" "$@"; }
tpm --slot-index 0 --init-token --label "Laptop TPM" --so-pin "$SO_PIN" >/dev/null
tpm --token-label "Laptop TPM" --login --login-type so --so-pin "$SO_PIN" \
    --init-pin --pin "$TPM_PIN" >/dev/null
printf '%s\n' "$TPM_PIN" >"$T/tpm-pin"
chmod 600 "$T/tpm-pin"

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
# tpm2-pkcs11 1.9 leaks in C_SignInit (ssl_util_attrs_to_evp): lsan.supp
# names the module, which only a full unwind puts in the leak's stack.
export AGENT_ASAN_OPTIONS=fast_unwind_on_malloc=0
# The agent reaches abrmd through the TCTI's own bus address.
DBUS_SESSION_BUS_ADDRESS=unix:path=$T/tpm/bus start_agent --module "$TPM_MODULE"

check_output "the agent lists the TPM and SoftHSM2 side by side" \
    "Laptop TPM .*libtpm2_pkcs11.so" "$TESSERA" tokens
check_output "unlock the TPM token" "unlocked" \
    "$TESSERA" unlock "Laptop TPM" --pin-file "$T/tpm-pin"
unlock "Test Token"
for spec in ec-p256 rsa2048; do
    check "tessera keygen makes a $spec key in the TPM and signs its CSR there" \
        "$TESSERA" keygen "tpm-$spec" --token "Laptop TPM" --key "$spec" \
        --subject "CN=tpm-$spec,O=Tessera Test" --out "$T/tpm-$spec.csr"
    check_output "the CSR's signature verifies" "verify OK" \
        openssl req -in "$T/tpm-$spec.csr" -noout -verify
    issue "$T/ca" "$T/tpm-$spec.csr" "$T/tpm-$spec.pem" client.ext
    check "tessera import stores the $spec certificate in the TPM token" \
        "$TESSERA" import "tpm-$spec" --cert "$T/tpm-$spec.pem"
done
check_output "the TPM key is sensitive and never extractable" \
    "never extractable" tpm --token-label "Laptop TPM" --login --pin "$TPM_PIN" \
    --list-objects --type privkey --label tpm-ec-p256
enroll soft ec-p256 "Test Token"
check_output "tessera list shows identities from both tokens, ready" \
    "tpm-ec-p256 +Laptop TPM +EC-256 .* ready" "$TESSERA" list
check_output "and the SoftHSM2 one" "soft +Test Token +EC-256 .* ready" "$TESSERA" list
start_server -www
for name in tpm-ec-p256 tpm-rsa2048 soft; do
    check_output "mutual TLS through the provider with $name" \
        "Subject: CN=$name, O=Tessera Test" handshake "tessera:$name" "tessera:$name"
done
check_output "TPM signatures verify under load (4 threads)" \
    "40 of 40 signed and verified" "$HELPERS/sign_load" -t 4 -n 10 tessera:tpm-ec-p256

finish
