#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tessera enroll with the acme protocol against a real ACME server
# (Debian's pebble, started here): account key on the token or in a file,
# order, authorization, finalize with the token-signed CSR, download; the
# certificate used for mutual TLS. Then every way the CA side can fail:
# unreachable, TLS failure, rejection, a broken server's answers - each with
# its exit status, one sentence, no key left behind, the agent serving.
. "$(dirname "$0")/lib.sh"

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_ca "$T/other-ca" "Someone Else's CA"
make_server_cert "$T/ca"
start_pebble

# A broken "ACME server": openssl s_server -WWW serves files from $T/www.
mkdir -p "$T/www"
printf 'this is not json' >"$T/www/garbage"
printf '{"newNonce": "http://plain.example/n", "newAccount": 1}' >"$T/www/wrongdir"
cd "$T/www"
start_server -WWW -verify 0
cd - >/dev/null
BROKEN=https://127.0.0.1:$PORT
openssl ecparam -name prime256v1 -genkey -noout -out "$T/account.key"
closed_port=$((PORT + 1))

mkdir -p "$XDG_CONFIG_HOME/tessera"
start_session_bus
{
    profile pebble protocol=acme "url=$PEBBLE_DIR" "tls-ca=$T/ca/ca.pem" \
        "trust=$PEBBLE_ROOTS" contact=mailto:admin@corp.example
    profile filekey protocol=acme "url=$PEBBLE_DIR" "tls-ca=$T/ca/ca.pem" \
        "trust=$PEBBLE_ROOTS" "account-key=$T/account.key"
    profile untrusted protocol=acme "url=$PEBBLE_DIR" "tls-ca=$T/other-ca/ca.pem" \
        "trust=$PEBBLE_ROOTS"
    profile down protocol=acme "url=https://127.0.0.1:$closed_port/dir" \
        "tls-ca=$T/ca/ca.pem" "trust=$PEBBLE_ROOTS"
    profile stranger protocol=acme "url=$PEBBLE_DIR" "tls-ca=$T/ca/ca.pem" \
        "trust=$T/other-ca/ca.pem"
    profile garbage protocol=acme "url=$BROKEN/garbage" "tls-ca=$T/ca/ca.pem" \
        "trust=$PEBBLE_ROOTS"
    profile wrongdir protocol=acme "url=$BROKEN/wrongdir" "tls-ca=$T/ca/ca.pem" \
        "trust=$PEBBLE_ROOTS"
    profile nokey protocol=acme "url=$PEBBLE_DIR" "tls-ca=$T/ca/ca.pem" \
        "trust=$PEBBLE_ROOTS" "account-key=$T/missing.key"
} >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent
unlock

enroll() { # NAME CA [ARGS]
    local name=$1
    ca_enroll "$name" "$2" "CN=$name.corp.example" "${@:3}"
}

# --- success
check_output "enroll through ACME: account key made on the token" \
    "enrolled laptop" enroll laptop pebble --san dns:laptop.corp.example
"$TESSERA" export laptop --key-ref "$T/laptop.ref" --cert "$T/laptop.pem" >/dev/null || true
check_output "the certificate chains to pebble's root, for TLS clients" ": OK" \
    openssl verify -CAfile "$PEBBLE_ROOTS" -purpose sslclient "$T/laptop.pem"
check_output "it names what the CSR asked for" "DNS:laptop.corp.example" \
    openssl x509 -in "$T/laptop.pem" -noout -ext subjectAltName
check_output "the account key is an EC key on the token, never extractable" \
    "never extractable" pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" \
    --login --pin "$PIN" --list-objects --type privkey --label acme-account.pebble
check_output "the enrolment is recorded for renewal" "ca=pebble" \
    cat "$XDG_STATE_HOME/tessera/enrolled/laptop.conf"
check_output "the agent logged the account key's creation once" "^1$" \
    grep -c "made the ACME account key acme-account.pebble" "$T/agent.log"
check_output "a second enrolment with an IP name reuses the account key" \
    "enrolled printer" enroll printer pebble --san ip:127.0.0.1 --san dns:printer.corp.example
check_output "still one account key creation logged" "^1$" \
    grep -c "made the ACME account key" "$T/agent.log"
check_output "an RSA identity with the account key in a file" "enrolled desk" \
    enroll desk filekey --key rsa2048 --san dns:desk.corp.example
cat "$T/ca/ca.pem" "$PEBBLE_ROOTS" >"$T/peer-trust.pem"
start_server -www -CAfile "$T/peer-trust.pem"
check_output "the ACME certificate authenticates a mutual-TLS handshake" \
    "Subject: CN=laptop.corp.example" handshake tessera:laptop tessera:laptop

# --- the account key is the agent's own: never listed as an identity
check "tessera list does not show the ACME account key" not_listed acme-account.pebble
"$TESSERA" list --json >"$T/list.json"
check_output "tessera list --json lists the enrolled identities" '"laptop"' cat "$T/list.json"
check_absent "tessera list --json does not show the account key" "acme-account" "$T/list.json"
gdbus call --session --dest org.tessera.Agent1 --object-path /org/tessera/Agent1 \
    --method org.freedesktop.DBus.ObjectManager.GetManagedObjects >"$T/objects.dbus" 2>&1
check_output "D-Bus has the enrolled identities" "identity/laptop" cat "$T/objects.dbus"
check_absent "D-Bus has no object for the account key" "acme" "$T/objects.dbus"
pkcs11-tool --module "$TESSERA_BUILD/pkcs11/tessera-pkcs11.so" --list-objects \
    >"$T/objects.p11" 2>&1
check_output "the PKCS#11 module shows the enrolled identities" "label: +laptop" \
    cat "$T/objects.p11"
check_absent "the PKCS#11 module shows no account key" "acme-account" "$T/objects.p11"
check_exit "a user cannot make a key under an account key's name" 1 \
    "\"acme-account.mine\" is not a usable identity name: names starting with acme-account. are the agent's ACME account keys" \
    "$TESSERA" keygen acme-account.mine --token "Test Token" --subject CN=mine
check_exit "nor enrol one" 1 "names starting with acme-account. are the agent's" \
    enroll acme-account.pebble pebble --san dns:mine.corp.example

# --- renewal: a new order with the account key, for a new key
"$TESSERA" export laptop --cert /dev/stdout >"$T/before.pem" # a copy, not kept current
check_output "tessera renew renews an ACME identity" "renewed laptop" "$TESSERA" renew laptop
"$TESSERA" export laptop --cert /dev/stdout >"$T/after.pem"
if ! cmp -s <(openssl x509 -in "$T/before.pem" -noout -pubkey) \
    <(openssl x509 -in "$T/after.pem" -noout -pubkey); then
    pass "the renewed certificate is for a new key"
else
    fail "the renewed certificate is for the old key"
fi
check_output "still one account key creation logged" "^1$" \
    grep -c "made the ACME account key acme-account.pebble" "$T/agent.log"
check_output "the renewed identity authenticates a handshake" \
    "Subject: CN=laptop.corp.example" handshake tessera:laptop tessera:laptop
keys_before=$(private_keys)

# --- failure
check_exit "an ACME server that cannot be reached: exit 5" 5 \
    "CA down: cannot reach https://127.0.0.1:$closed_port/dir" enroll gone down \
    --san dns:gone.corp.example
check_exit "a server whose TLS certificate is not trusted: exit 5" 5 \
    "CA untrusted: cannot reach .*certificate" enroll wary untrusted \
    --san dns:wary.corp.example
check_exit "an account key file that cannot be read: exit 5, naming it" 5 \
    "CA nokey: cannot read the ACME account key $T/missing.key" enroll keyless nokey \
    --san dns:keyless.corp.example
check_exit "no DNS or IP name to order: exit 4 with what to give" 4 \
    "CA pebble: ACME names certificates by DNS names or IP addresses" enroll nameless pebble
check_exit "pebble rejects a name it will not issue for: exit 4 with its reason" 4 \
    "CA pebble: .*order-plz answered 400 \(malformed\): .*illegal character" \
    enroll odd pebble --san dns:odd_name.corp.example
check_exit "a certificate not chaining to the profile's trust: exit 7" 7 \
    "CA stranger: the issued certificate does not chain to" enroll alien stranger \
    --san dns:alien.corp.example
check_exit "a directory that is not JSON: exit 7" 7 \
    "CA garbage: .* is not an ACME directory: the response is not JSON" enroll babble garbage \
    --san dns:babble.corp.example
check_exit "a directory with wrong fields: exit 7" 7 \
    "CA wrongdir: .*\"newNonce\" is missing or not an https URL" enroll confused wrongdir \
    --san dns:confused.corp.example
check_output "no key of a failed enrolment stays on the token" "^$keys_before$" private_keys
check_output "the agent still serves its ACME identity" \
    "Subject: CN=laptop.corp.example" handshake tessera:laptop tessera:laptop

finish
