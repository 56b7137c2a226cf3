#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ACME external account binding (RFC 8555, section 7.3.4) against pebble
# requiring one: the profile's eab-kid and the HMAC key from
# eab-hmac-key-file bind the new account; a wrong key, none, or a key file
# others may read or that is not base64url each fail with one sentence,
# no key left behind, the agent serving.
. "$(dirname "$0")/lib.sh"

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
hmac_key() { openssl rand 32 | basenc --base64url | tr -d '=\n'; }
PEBBLE_EAB_KID=kid-laptops
PEBBLE_EAB_KEY=$(hmac_key)
start_pebble

key_file() { # NAME CONTENT [MODE]
    printf '%s\n' "$2" >"$T/$1"
    chmod "${3:-600}" "$T/$1"
}
key_file eab.key "$PEBBLE_EAB_KEY"
key_file wrong.key "$(hmac_key)"
key_file open.key "$PEBBLE_EAB_KEY" 644
key_file plus.key "${PEBBLE_EAB_KEY:0:10}+${PEBBLE_EAB_KEY:11}"
key_file short.key "${PEBBLE_EAB_KEY:0:12}"

acme() { # NAME KEY=VALUE...
    profile "$1" protocol=acme "url=$PEBBLE_DIR" "tls-ca=$T/ca/ca.pem" \
        "trust=$PEBBLE_ROOTS" "${@:2}"
}
mkdir -p "$XDG_CONFIG_HOME/tessera"
{
    acme bound eab-kid=$PEBBLE_EAB_KID "eab-hmac-key-file=$T/eab.key"
    acme wrongkey eab-kid=$PEBBLE_EAB_KID "eab-hmac-key-file=$T/wrong.key"
    acme wrongkid eab-kid=kid-printers "eab-hmac-key-file=$T/eab.key"
    acme unbound
    acme openkey eab-kid=$PEBBLE_EAB_KID "eab-hmac-key-file=$T/open.key"
    acme plus eab-kid=$PEBBLE_EAB_KID "eab-hmac-key-file=$T/plus.key"
    acme short eab-kid=$PEBBLE_EAB_KID "eab-hmac-key-file=$T/short.key"
    acme missing eab-kid=$PEBBLE_EAB_KID "eab-hmac-key-file=$T/nosuch.key"
} >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent
unlock

enroll() { # NAME CA
    ca_enroll "$1" "$2" "CN=$1.corp.example" --san "dns:$1.corp.example"
}

check_output "enroll through an ACME CA that requires account binding" \
    "enrolled laptop" enroll laptop bound
"$TESSERA" export laptop --cert "$T/laptop.pem" >/dev/null || true
check_output "the certificate chains to pebble's root" ": OK" \
    openssl verify -CAfile "$PEBBLE_ROOTS" -purpose sslclient "$T/laptop.pem"
check_output "a second enrolment finds the bound account again" \
    "enrolled desk" enroll desk bound
keys_before=$(private_keys)

check_exit "a wrong HMAC key: exit 4 with the CA's reason" 4 \
    "CA wrongkey: .*sign-me-up answered 403 \(unauthorized\): external account binding JWS verification error" \
    enroll tablet wrongkey
check_exit "a key id the CA does not know: exit 4 with the CA's reason" 4 \
    "CA wrongkid: .*sign-me-up answered 403 \(unauthorized\): the field 'kid' references a key that is not known" enroll tablet wrongkid
check_exit "no binding where the CA requires one: exit 4 saying what to set" 4 \
    "CA unbound: the ACME server requires an external account binding: set eab-kid= and eab-hmac-key-file=" \
    enroll tablet unbound
check_exit "a key file others may read: exit 5, naming it, before any request" 5 \
    "CA openkey: eab-hmac-key-file $T/open.key is readable by others \(mode 0644\); chmod 600 it" \
    enroll tablet openkey
check_exit "a key file that is not base64url: exit 5, naming the character" 5 \
    "CA plus: eab-hmac-key-file $T/plus.key is not base64url: character 11 is not" \
    enroll tablet plus
check_exit "a key cut short: exit 5, saying so" 5 \
    "CA short: eab-hmac-key-file $T/short.key holds a 9-byte key" enroll tablet short
check_exit "a key file that is not there: exit 5, naming it" 5 \
    "CA missing: cannot open eab-hmac-key-file $T/nosuch.key" enroll tablet missing
if grep -qF "$PEBBLE_EAB_KEY" "$T/agent.log" "$T/out"; then
    fail "the HMAC key appears in the agent's log or the CLI's output"
else
    pass "the HMAC key appears in neither the agent's log nor the CLI's output"
fi
check_output "no key of a failed enrolment stays on the token" "^$keys_before$" private_keys
check_output "the agent still serves the bound identity" "^laptop .*valid" "$TESSERA" list

finish
