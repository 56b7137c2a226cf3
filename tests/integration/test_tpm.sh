#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A TPM 2.0 token: Debian's tpm2-pkcs11 on a software TPM (swtpm on
# 127.0.0.1) behind tpm2-abrmd on a private bus, so the agent and the test's
# own tools can hold TPM objects at once. Keygen, CSR, import, mutual TLS and
# listing with TPM identities; the TPM beside SoftHSM2 in one agent; and
# the system agent's machine identity on the TPM with its empty PIN.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/../../scripts/swtpm.sh"
TPM_PIN=246813
trap 'tpm_stop "$T/tpm"; cleanup' EXIT
tpm_start "$T/tpm"
tpm_token "Laptop TPM" "$SO_PIN" "$TPM_PIN"
tpm() { tpm_pkcs11_tool "$@"; }
printf '%s\n' "$TPM_PIN" >"$T/tpm-pin"
chmod 600 "$T/tpm-pin"

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
# tpm2-pkcs11 1.9 leaks in C_SignInit (ssl_util_attrs_to_evp): lsan.supp
# names the module, which only a full unwind puts in the leak's stack.
export AGENT_ASAN_OPTIONS=fast_unwind_on_malloc=0
# The agent reaches abrmd through the TCTI's own bus address.
DBUS_SESSION_BUS_ADDRESS=$TPM_BUS start_agent --module "$TPM_MODULE"

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
# tpm2-pkcs11 refuses a template that states every usage (it derives the
# public key's from the TPM's two flags, and signs RSA as a raw decryption):
# the agent says so, and states the rest.
check_output "the agent says which usage attributes the TPM decided" \
    "token \"Laptop TPM\" refused a key template that states every usage" cat "$T/agent.log"
check_output "the TPM's EC key may sign, and neither decrypt, unwrap nor sign-recover" \
    "^private TOKEN=1 PRIVATE=1 SENSITIVE=1 EXTRACTABLE=0 SIGN=1 DECRYPT=0 UNWRAP=0 SIGN_RECOVER=0 DERIVE=0$" \
    env DBUS_SESSION_BUS_ADDRESS="$TPM_BUS" "$HELPERS/key_usage" "$TPM_MODULE" "Laptop TPM" "$TPM_PIN" tpm-ec-p256
enroll soft ec-p256 "Test Token"
check_output "tessera list shows identities from both tokens, ready" \
    "tpm-ec-p256 +Laptop TPM +EC-256 .* ready" "$TESSERA" list
check_output "and the SoftHSM2 one" "soft +Test Token +EC-256 .* ready" "$TESSERA" list
start_server -www
for name in tpm-ec-p256 tpm-rsa2048 soft; do
    check_output "mutual TLS through the provider with $name" \
        "Subject: O=Tessera Test, CN=$name" handshake "tessera:$name" "tessera:$name"
done
check_output "TPM signatures verify under load (4 threads)" \
    "40 of 40 signed and verified" "$HELPERS/sign_load" -t 4 -n 10 tessera:tpm-ec-p256

# The system agent (tessera-agent --system) beside the user's, on the same
# TPM: a machine identity in a token made without a user PIN, logged in
# with pin-source=empty (never a prompt), used by a root program that has
# no agent of its own (no TESSERA_SOCKET, no XDG_RUNTIME_DIR).
tpm_token "Machine TPM" "$SO_PIN" "" 1
S=$T/system
mkdir -p "$S/etc"
{
    printf '[token Machine TPM]\npin-source=empty\n'
    profile corp protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key"
} >"$S/etc/agent.conf"
export TESSERA_SYSTEM_SOCKET=$S/run/tessera/agent.sock
DBUS_SESSION_BUS_ADDRESS=$TPM_BUS "$AGENT" --system --foreground --module "$TPM_MODULE" \
    --config "$S/etc/agent.conf" --state-dir "$S/state" >"$T/system-agent.log" 2>&1 &
system_agent=$!
root_service() { (unset TESSERA_SOCKET XDG_RUNTIME_DIR && "$@"); }
for _ in $(seq 1 100); do "$TESSERA" --system tokens >/dev/null 2>&1 && break; sleep 0.05; done
check_output "the system agent logs into the TPM token with the empty PIN" \
    "^Machine TPM .* unlocked " "$TESSERA" --system tokens
check_output "tessera --system enroll makes the machine identity in the TPM" \
    "enrolled laptop-tpm" "$TESSERA" --system enroll laptop-tpm --token "Machine TPM" \
    --ca corp --subject "CN=laptop-tpm,O=Tessera Test"
check_output "a root program without an agent of its own signs with it through the system agent" \
    "Subject: O=Tessera Test, CN=laptop-tpm" \
    root_service handshake tessera:laptop-tpm tessera:laptop-tpm
check_fails "the user's agent has no such identity" 'no identity named "laptop-tpm"' \
    "$TESSERA" export laptop-tpm --key-ref "$T/laptop-tpm.ref"
kill -TERM "$system_agent"
status=0
wait "$system_agent" || status=$?
check "the system agent stops on SIGTERM, status 0" test "$status" -eq 0

# The TPM dies (its simulator stops): its identities fail with an error,
# the SoftHSM2 token beside it is not held up.
kill "$(cat "$T/tpm/swtpm.pid")"
check_fails "a TPM that stopped answering gives its clients an error" \
    'token "Laptop TPM"' timeout 60 "$HELPERS/sign_load" -n 1 tessera:tpm-ec-p256
check_output "while the SoftHSM2 identity keeps signing" "20 of 20 signed and verified" \
    timeout 60 "$HELPERS/sign_load" -n 20 tessera:soft
check "and the agent keeps serving" "$TESSERA" list

finish
