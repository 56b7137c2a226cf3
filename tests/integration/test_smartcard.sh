#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A smartcard for real: pcscd with vsmartcard's virtual reader (vpcd), a CAC
# card emulated by libcacard (tests/smartcard/card_bridge.c) holding three
# RSA-2048 keys and certificates made here, and OpenSC's PKCS#11 module in
# the agent. The card's identities are found, unlocked with the card PIN,
# used for mutual TLS and 802.1X EAP-TLS; the card is pulled and put back
# (also in the middle of signatures) and the agent follows without a
# restart; enrolling on the read-only card fails up front.
. "$(dirname "$0")/lib.sh"

OPENSC=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
BRIDGE=$TESSERA_BUILD/tests/smartcard/card_bridge
VPCD=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
CARD_PIN=77777777

skip_all() {
    echo "1..0 # SKIP $1"
    exit 0
}
[ "$(id -u)" -eq 0 ] || skip_all "pcscd needs root: its socket is /run/pcscd"
no_sanitizer pgrep -x pcscd >/dev/null &&
    skip_all "a pcscd already runs on this machine (one per machine: /run/pcscd)"
for f in "$OPENSC" "$BRIDGE" "$VPCD"; do
    [ -e "$f" ] || skip_all "$f is missing: scripts/deps.sh installs opensc, \
vsmartcard-vpcd and libcacard-dev"
done

make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"

# The card: three RSA-2048 keys with certificates from a card CA, in an NSS
# database whose password is the card's PIN (libcacard's soft card).
make_ca "$T/card-ca" "Tessera Card CA"
mkdir -p "$T/card"
printf '%s\n' "$CARD_PIN" >"$T/card-pin"
chmod 600 "$T/card-pin" # a pin-file must be private, for the CLI as for the agent
no_sanitizer certutil -N -d "sql:$T/card" -f "$T/card-pin"
for n in 1 2 3; do
    openssl req -newkey rsa:2048 -nodes -keyout "$T/card$n.key" -out "$T/card$n.csr" \
        -subj "/CN=alice$n/O=Tessera Test" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' \
        >"$T/card-ca/card.ext"
    issue "$T/card-ca" "$T/card$n.csr" "$T/card$n.pem" card.ext
    openssl pkcs12 -export -in "$T/card$n.pem" -inkey "$T/card$n.key" -name "cert$n" \
        -passout pass:transfer -out "$T/card$n.p12"
    no_sanitizer pk12util -i "$T/card$n.p12" -d "sql:$T/card" -k "$T/card-pin" -W transfer >/dev/null
done
rm -f "$T"/card?.key

# pcscd with only the virtual reader, on a port below 32768 (an ephemeral
# port can collide with vpcd's default and pcscd drops the reader).
VPCD_PORT=$((20000 + RANDOM % 12000))
mkdir -p "$T/readers"
cat >"$T/readers/vpcd" <<EOF
FRIENDLYNAME "Tessera Virtual Reader"
DEVICENAME   /dev/null:$VPCD_PORT
LIBPATH      $VPCD
CHANNELID    $VPCD_PORT
EOF
env -u LD_PRELOAD pcscd --foreground --config "$T/readers" >"$T/pcscd.log" 2>&1 &
PCSCD_PID=$!
SERVER_PIDS+=("$PCSCD_PID")

BRIDGE_PID=
insert_card() {
    env -u LD_PRELOAD "$BRIDGE" "$T/card" "$VPCD_PORT" cert1 cert2 cert3 >>"$T/bridge.log" 2>&1 &
    BRIDGE_PID=$!
    SERVER_PIDS+=("$BRIDGE_PID")
}
pull_card() {
    kill "$BRIDGE_PID" 2>/dev/null || true
    wait "$BRIDGE_PID" 2>/dev/null || true
}
card_token() { "$TESSERA" tokens | awk -v m="$OPENSC" '$NF == m { print $1; exit }'; }
listed() { "$TESSERA" list | grep -q "^$1 .* $2"; }

# Under sanitizers: OpenSC keeps allocations past C_Finalize, and by the
# leak check its module is unloaded, so LeakSanitizer can neither name nor
# suppress them. The agent's own code is leak-checked by every other suite.
export AGENT_ASAN_OPTIONS=detect_leaks=0
insert_card
AGENT_MODULE=$OPENSC start_agent
wait_until 30 bash -c "'$TESSERA' tokens | grep -q opensc" || true
CARD=$(card_token)
ID=CAC-ID-Certificate

check_output "OpenSC's module shows the card through pcscd, read-only" \
    "Common Access Card .* locked,read-only .*opensc-pkcs11.so" "$TESSERA" tokens
check_output "its three RSA-2048 identities are listed, the token marked read-only" \
    "^3$" bash -c "'$TESSERA' list | grep -c 'RSA-2048 .* O=Tessera Test'"
check_output "tessera list marks the read-only token" "^$ID +$CARD \(read-only\)" \
    "$TESSERA" list
printf '12345678\n' >"$T/wrong-pin"
chmod 600 "$T/wrong-pin"
# The emulated CAC answers a wrong PIN with CKR_GENERAL_ERROR, not
# CKR_PIN_INCORRECT: the sentence says the login failed, not why.
check_fails "a wrong card PIN is refused" "failed to log in" \
    "$TESSERA" unlock --pin-file "$T/wrong-pin" "$CARD"
check_output "and the card stays locked" "locked,read-only" "$TESSERA" tokens
check_output "the card PIN unlocks it" "unlocked" \
    "$TESSERA" unlock --pin-file "$T/card-pin" "$CARD"
cat "$T/ca/ca.pem" "$T/card-ca/ca.pem" >"$T/both-cas.pem"
start_server -www -CAfile "$T/both-cas.pem"
check_output "a mutual-TLS handshake through the provider signs on the card" \
    "Subject: CN=alice1, O=Tessera Test" handshake "tessera:$ID" "tessera:$ID"

# 802.1X EAP-TLS with the card's key, through a key-reference file.
"$TESSERA" export "$ID" --key-ref "$T/card.ref" --cert "$T/card.crt" >/dev/null
start_radius "$T/card-ca/ca.pem"
# wpa_supplicant loads the provider through the configuration snippet.
export OPENSSL_CONF=$(cd "$(dirname "$0")/../.." && pwd)/data/openssl-tessera.cnf
check_output "eapol_test authenticates with EAP-TLS using the card" "^SUCCESS$" \
    eap_tls alice1 "$T/card.crt" "$T/card.ref"
export OPENSSL_CONF=/dev/null
check_output "FreeRADIUS saw the card's certificate" \
    "TLS-Client-Cert-Common-Name := \"alice1\"" cat "$T/radius.log"

# Read-only cards cannot make keys: enrolment fails before anything else.
mkdir -p "$XDG_CONFIG_HOME/tessera"
profile corp protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" \
    >"$XDG_CONFIG_HOME/tessera/agent.conf"
stop_agent
AGENT_MODULE=$OPENSC start_agent
wait_until 30 bash -c "'$TESSERA' tokens | grep -q opensc" || true
check_fails "tessera enroll on the card fails up front, saying why" \
    "token \"$CARD\" is read-only: it cannot generate keys" \
    "$TESSERA" enroll new --token "$CARD" --ca corp --subject CN=new --key rsa2048
check_fails "so does tessera keygen" "is read-only" \
    "$TESSERA" keygen new --token "$CARD" --subject CN=new --key rsa2048
"$TESSERA" unlock --pin-file "$T/card-pin" "$CARD" >/dev/null

# Pull the card: the agent hears it (C_WaitForSlotEvent), clients are told.
agent_pid=$AGENT_PID
log_before_pull=$(wc -l <"$T/agent.log")
pull_card
start=$(date +%s%N)
if wait_until 10 listed "$ID" "token absent"; then
    pass "pulling the card: listed as absent after $((($(date +%s%N) - start) / 1000000)) ms"
else
    fail "the agent did not notice the card going"
fi
check_output "the removal came as a slot event, not a poll" \
    "slot [0-9]* changed: rescanning" tail -n "+$((log_before_pull + 1))" "$T/agent.log"
check_fails "a client now gets a clear 'not present' error" "not present" \
    handshake "tessera:$ID" "tessera:$ID"
insert_card
start=$(date +%s%N)
if wait_until 20 listed "$ID" "locked"; then
    pass "putting it back: listed again, locked, after $((($(date +%s%N) - start) / 1000000)) ms"
else
    fail "the agent did not notice the card coming back"
fi
check_output "the card PIN unlocks it again" "unlocked" \
    "$TESSERA" unlock --pin-file "$T/card-pin" "$CARD"
check_output "and the identity works again" \
    "Subject: CN=alice1, O=Tessera Test" handshake "tessera:$ID" "tessera:$ID"

# A card pulled while a client signs: an error, not a hang (timeout says
# 124 for a hang).
timeout 30 "$HELPERS/sign_load" -e -n 1000000 "tessera:$ID" >"$T/inflight.out" 2>&1 &
signer=$!
sleep 1
pull_card
status=0
wait "$signer" || status=$?
if [ "$status" -eq 124 ]; then
    fail "a client signing when the card went hangs"

elif [ "$status" -ne 0 ]; then
    pass "a signature in flight when the card went failed (status $status), no hang"
else
    fail "a million signatures succeeded although the card was pulled"
fi
check_output "the client was told why" "not present|failed to sign" \
    cat "$T/inflight.out"
check "and the agent sees the card gone" wait_until 10 listed "$ID" "token absent"
insert_card
check "after that the card is back, locked" wait_until 30 listed "$ID" "locked"
check "and unlocks" "$TESSERA" unlock --pin-file "$T/card-pin" "$CARD"
check_output "and works again without a restart" \
    "Subject: CN=alice1, O=Tessera Test" handshake "tessera:$ID" "tessera:$ID"
check "all without restarting the agent" test "$agent_pid" = "$AGENT_PID" -a -n "$AGENT_PID"

finish
