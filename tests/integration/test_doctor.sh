#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tessera doctor: all well (exit 0, every line ok), then each thing that
# can stand between a program and an identity, one at a time, each named
# in one line with its fix and exit 1. The faulty module takes the token
# out of its reader.
. "$(dirname "$0")/lib.sh"

SNIPPET=$(cd "$(dirname "$0")/../.." && pwd)/data/openssl-tessera.cnf
export FAULTY_CONTROL=$T/faults
: >"$FAULTY_CONTROL"

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
unlock
"$TESSERA" keygen laptop --token "Test Token" --subject "CN=laptop,O=Tessera Test" \
    --out "$T/laptop.csr" &&
    issue "$T/ca" "$T/laptop.csr" "$T/laptop.pem" client.ext &&
    "$TESSERA" import laptop --cert "$T/laptop.pem" --chain "$T/ca/ca.pem" &&
    "$TESSERA" export laptop --key-ref "$T/laptop.ref" --cert "$T/laptop.crt" ||
    fail "set up identity laptop"
export OPENSSL_CONF=$SNIPPET
doctor() { "$TESSERA" doctor "$@"; }

check_exit "all well: exit 0" 0 "ok   key and certificate files: programs load" \
    doctor laptop --cert "$T/laptop.crt" --key "$T/laptop.ref"
check "every line says ok" bash -c "! grep -v '^ok   ' '$T/out'"
check_output "one line per check, each named" \
    "^ok   OPENSSL_CONF: .*ok   provider: tessera .*ok   provider order: ordinary keys stay with the default provider.*ok   agent: answers at .*ok   token: \"Test Token\", which holds laptop, is present and unlocked.*ok   certificate: laptop's is valid until .*ok   chain: laptop's leads to CN=Tessera Test CA.*ok   key file: .*laptop.ref names laptop.*ok   certificate file: .*laptop.crt is laptop's current certificate" \
    bash -c "'$TESSERA' doctor laptop --cert '$T/laptop.crt' --key '$T/laptop.ref' | tr '\n' ' '"
check_exit "without a name, every identity is checked" 0 "which holds laptop" doctor

# The configuration programs read.
check_exit "an unreadable OPENSSL_CONF" 1 \
    "^FAIL OPENSSL_CONF: $T/nowhere.cnf cannot be read; fix: point OPENSSL_CONF at" \
    env OPENSSL_CONF="$T/nowhere.cnf" "$TESSERA" doctor laptop
check_exit "a configuration without the provider" 1 \
    "^FAIL provider: the configuration does not load tessera .*; fix: add .tessera = tessera_sect." \
    env OPENSSL_CONF=/dev/null "$TESSERA" doctor laptop
printf 'openssl_conf = init\n[init]\nproviders = p\n[p]\ntessera = t\n[t]\nactivate = 1\n' \
    >"$T/alone.cnf"
check_exit "tessera activated without the default provider" 1 \
    "^FAIL provider order: no provider holds ordinary keys; fix: activate the default provider" \
    env OPENSSL_CONF="$T/alone.cnf" "$TESSERA" doctor laptop
printf 'openssl_conf = init\n[init]\nproviders = p\n[p]\ntessera = t\ndefault = d\n[t]\nactivate = 1\n[d]\nactivate = 1\n' \
    >"$T/tessera-first.cnf"
check_exit "tessera listed first is fine" 0 \
    "^ok   provider order: ordinary keys stay with the default provider" \
    env OPENSSL_CONF="$T/tessera-first.cnf" "$TESSERA" doctor laptop

# The identity's token and certificate.
"$TESSERA" lock >/dev/null
check_exit "a locked token" 1 \
    "^FAIL token: \"Test Token\", which holds laptop, is locked; fix: tessera unlock 'Test Token'" \
    doctor laptop
unlock
printf 'removed=1\n' >"$FAULTY_CONTROL"
for _ in $(seq 1 100); do "$TESSERA" list | grep -q "token absent" && break; sleep 0.05; done
check_exit "a token out of its reader" 1 \
    "^FAIL token: \"Test Token\", which holds laptop, is not present; fix: insert it" \
    doctor laptop
: >"$FAULTY_CONTROL"
for _ in $(seq 1 100); do "$TESSERA" list | grep -q "laptop .* locked" && break; sleep 0.05; done
unlock
"$TESSERA" keygen old --token "Test Token" --subject "CN=old,O=Tessera Test" --out "$T/old.csr"
openssl x509 -req -in "$T/old.csr" -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" \
    -CAcreateserial -days 0 -out "$T/old.pem" -extfile "$T/ca/client.ext" 2>/dev/null
sleep 1
"$TESSERA" import old --cert "$T/old.pem" --chain "$T/ca/ca.pem"
check_exit "an expired certificate" 1 \
    "^FAIL certificate: old's expired on .*; fix: have the CA issue a new one and import it" \
    doctor old
enroll nochain ec-p256
check_exit "a chain that stops short of a root" 1 \
    "^FAIL chain: nochain's stops at CN=Tessera Test CA \(unable to get local issuer certificate\); fix: install that CA certificate in the system trust store" \
    doctor nochain
check_exit "an identity the agent does not have" 1 \
    "^FAIL identity: no identity named \"ghost\"; .tessera list. shows the identities" doctor ghost
check_exit "without a name, each identity's problem is listed" 1 \
    "FAIL certificate: old's expired" doctor

# Key-reference and certificate files.
check_exit "another identity's certificate file" 1 \
    "^FAIL certificate file: $T/old.pem is not laptop's current certificate; fix: tessera export laptop --cert $T/old.pem" \
    doctor --cert "$T/old.pem" --key "$T/laptop.ref"
cp "$T/out" "$T/doctor.out"
check_output "and programs cannot load the two together" \
    "^FAIL key and certificate files: programs cannot use $T/laptop.ref with $T/old.pem: key values mismatch" \
    cat "$T/doctor.out"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/plain.key" 2>/dev/null
check_exit "an ordinary key file where a key reference belongs" 1 \
    "^FAIL key file: $T/plain.key holds a PRIVATE KEY block, not a Tessera key reference; fix: tessera export laptop --key-ref $T/plain.key" \
    doctor laptop --cert "$T/laptop.crt" --key "$T/plain.key"
check_exit "a key reference naming another identity" 1 \
    "^FAIL key file: $T/laptop.ref names laptop, not old" \
    doctor old --cert "$T/laptop.crt" --key "$T/laptop.ref"
printf -- '-----BEGIN TESSERA KEY-----\n%s\n-----END TESSERA KEY-----\n' \
    "$(printf '\x30\x0b\x02\x01\x01\x0c\x06laptop' | base64)" >"$T/v1.ref"
check_exit "a version-1 key reference, which cannot load without the agent" 1 \
    "^FAIL key file: $T/v1.ref has no public key \(version 1\), so programs cannot load it while the agent is down; fix: tessera export laptop --key-ref $T/v1.ref" \
    doctor --cert "$T/laptop.crt" --key "$T/v1.ref"
check_exit "--cert without --key is a usage error" 2 "doctor: takes --cert and --key together" \
    doctor laptop --cert "$T/laptop.crt"

stop_agent
check_exit "the agent down" 1 \
    "^FAIL agent: the Tessera agent is not running .*; start it with .tessera-agent. or .systemctl --user start tessera-agent.socket." \
    doctor laptop --cert "$T/laptop.crt" --key "$T/laptop.ref"
cp "$T/out" "$T/doctor.out"
check_output "while the files still load through the provider" \
    "^ok   key and certificate files: programs load" cat "$T/doctor.out"

finish
