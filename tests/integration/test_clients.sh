#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Any client, unmodified: programs that only know certificate and key files
# (or, for openssl(1), tessera: URIs) present token keys once the provider
# is enabled through OPENSSL_CONF. Each against a server that requires and
# verifies the client certificate, each with a negative twin.
. "$(dirname "$0")/lib.sh"

SNIPPET=$(cd "$(dirname "$0")/../.." && pwd)/data/openssl-tessera.cnf
PY=/usr/bin/python3

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
# The agent keeps laptop's certificate files current, certmonger-style.
mkdir -p "$XDG_CONFIG_HOME/tessera" "$T/published"
printf '[identity laptop]\ncert-file=%s\nchain-file=%s\npost-renew-command=%s\n' \
    "$T/published/laptop.pem" "$T/published/laptop-chain.pem" \
    "echo reloaded >$T/published/hook-ran" >"$XDG_CONFIG_HOME/tessera/agent.conf"
# legacy's cert-file sits under a regular file: its import must still succeed.
printf '[identity legacy]\ncert-file=%s\npost-renew-command=%s\n' \
    "$T/published/laptop.pem/legacy.pem" "touch $T/published/legacy-hook-ran" \
    >>"$XDG_CONFIG_HOME/tessera/agent.conf"
# stranger's cert-file is in a directory its group can write: refused.
mkdir -m 775 "$T/shared"
printf '[identity stranger]\ncert-file=%s\n' "$T/shared/stranger.pem" \
    >>"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent
unlock
"$TESSERA" keygen laptop --token "Test Token" --subject "CN=laptop,O=Tessera Test" \
    --out "$T/laptop.csr"
issue "$T/ca" "$T/laptop.csr" "$T/laptop.pem" client.ext
"$TESSERA" import laptop --cert "$T/laptop.pem" --chain "$T/ca/ca.pem"
for _ in $(seq 1 50); do [ -s "$T/published/hook-ran" ] && break; sleep 0.05; done
check "the agent wrote the configured cert-file" cmp "$T/laptop.pem" "$T/published/laptop.pem"
check "and the chain-file" cmp "$T/ca/ca.pem" "$T/published/laptop-chain.pem"
check_output "and ran the post-renew-command" "reloaded" cat "$T/published/hook-ran"
check "an identity whose cert-file cannot be written still imports" \
    enroll legacy rsa2048
check_output "and the agent says which file and why" \
    "identity legacy: cannot write .*laptop.pem/legacy.pem: Not a directory" cat "$T/agent.log"
check "and does not run its post-renew-command" \
    test ! -e "$T/published/legacy-hook-ran"
make_ca "$T/other-ca" "Someone Else's CA"
"$TESSERA" keygen stranger --token "Test Token" --subject CN=stranger --out "$T/stranger.csr"
issue "$T/other-ca" "$T/stranger.csr" "$T/stranger.pem" client.ext
"$TESSERA" import stranger --cert "$T/stranger.pem"
check_output "a cert-file in a directory its group can write is refused, saying why" \
    "identity stranger: refusing to write $T/shared/stranger.pem: the directory $T/shared is writable by its group \(mode 0775\)" \
    cat "$T/agent.log"
check "and nothing is written there" test ! -e "$T/shared/stranger.pem"

for name in laptop legacy stranger; do
    check "tessera export $name writes a key reference and its certificate" \
        "$TESSERA" export "$name" --key-ref "$T/$name.ref" --cert "$T/$name.crt" \
        --chain "$T/$name.chain"
done
check_output "the key reference is a short TESSERA KEY block" \
    "^-----BEGIN TESSERA KEY-----$" head -1 "$T/laptop.ref"
check_fails "export of an unknown identity is refused" 'no identity named "ghost"' \
    "$TESSERA" export ghost --key-ref "$T/ghost.ref"

# From here on the provider is enabled by configuration only.
export OPENSSL_CONF=$SNIPPET

# Where an ordinary key and a key-reference file end up (test_matrix.sh
# checks ordinary work under both provider orders and counts requests).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/plain.key" 2>/dev/null
check_output "an ordinary PEM key is the default provider's, and signs" "^pem: default$" \
    "$HELPERS/key_where" pem "$T/plain.key"
stop_agent
check_output "also with the agent stopped" "^pem: default$" "$HELPERS/key_where" pem "$T/plain.key"
# The agent itself must not load itself through the same openssl.cnf.
start_agent
check_output "the agent runs with the snippet in OPENSSL_CONF" "unlocked" \
    "$TESSERA" unlock --pin-file "$T/pin"

start_server -www
page() { grep -o "Subject: O=Tessera Test, CN=$1" "$T/out" >/dev/null; }

# A key-reference file goes wherever a key file goes, in openssl(1) too;
# what each makes verifies against the identity's certificate.
check_output "openssl s_client, TLS 1.3, configured only by OPENSSL_CONF" \
    "Subject: O=Tessera Test, CN=laptop" bash -c \
    "printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect 127.0.0.1:$PORT \
     -CAfile '$T/ca/ca.pem' -cert tessera:laptop -key tessera:laptop -ign_eof"
check_output "openssl s_client -key with a key-reference file" \
    "Subject: O=Tessera Test, CN=legacy" bash -c \
    "printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect 127.0.0.1:$PORT \
     -CAfile '$T/ca/ca.pem' -cert '$T/legacy.crt' -key '$T/legacy.ref' -ign_eof"
check_output "openssl s_time -new makes full handshakes with a token key" \
    "[1-9][0-9]* connections in" openssl s_time -connect "127.0.0.1:$PORT" -new \
    -time 2 -CAfile "$T/ca/ca.pem" -cert "$T/laptop.crt" -key "$T/laptop.ref"
echo "a message" >"$T/msg"
openssl x509 -in "$T/laptop.crt" -pubkey -noout >"$T/laptop.pub"
check_output "openssl dgst -sign with a key-reference file" "Verified OK" \
    bash -c "openssl dgst -sha256 -sign '$T/laptop.ref' -out '$T/msg.sig' '$T/msg' &&
             openssl dgst -sha256 -verify '$T/laptop.pub' -signature '$T/msg.sig' '$T/msg'"
check_output "openssl pkeyutl -sign -inkey with a key-reference file" "Signature Verified Successfully" \
    bash -c "openssl dgst -sha256 -binary '$T/msg' >'$T/msg.sha256' &&
             openssl pkeyutl -sign -inkey '$T/laptop.ref' -pkeyopt digest:sha256 \
                 -in '$T/msg.sha256' -out '$T/msg.pkeyutl' &&
             openssl pkeyutl -verify -pubin -inkey '$T/laptop.pub' -pkeyopt digest:sha256 \
                 -in '$T/msg.sha256' -sigfile '$T/msg.pkeyutl'"
check_output "openssl req -new -key with a key-reference file" "verify OK" \
    bash -c "openssl req -new -key '$T/laptop.ref' -subj /CN=again -out '$T/again.csr' &&
             openssl req -in '$T/again.csr' -verify -noout"
# A CA whose key is the token's: self-signed by req -x509, then issuing.
check_output "openssl x509 -req -CAkey with a key-reference file" "issued.pem: OK" \
    bash -c "openssl req -new -x509 -key '$T/laptop.ref' -subj /CN=token-ca -days 1 \
                 -out '$T/token-ca.pem' &&
             openssl x509 -req -in '$T/again.csr' -CA '$T/token-ca.pem' \
                 -CAkey '$T/laptop.ref' -set_serial 8 -days 1 -out '$T/issued.pem' &&
             openssl verify -CAfile '$T/token-ca.pem' '$T/issued.pem'"
check_output "openssl cms -sign -inkey with a key-reference file" "Verification successful" \
    bash -c "openssl cms -sign -in '$T/msg' -signer '$T/laptop.crt' -inkey '$T/laptop.ref' \
                 -out '$T/msg.cms' &&
             openssl cms -verify -in '$T/msg.cms' -CAfile '$T/ca/ca.pem' -purpose any \
                 -out /dev/null"
check_output "PEM_read_bio_PrivateKey gives Tessera's key, which signs" "^pem: tessera$" \
    "$HELPERS/key_where" pem "$T/laptop.ref"
check_output "SSL_CTX_use_PrivateKey_file takes it with its certificate" "^ssl: tessera$" \
    "$HELPERS/key_where" ssl "$T/laptop.crt" "$T/laptop.ref"
check_output "OSSL_STORE_open(\"file:...\") gives Tessera's key, which signs" "^store: tessera$" \
    "$HELPERS/key_where" store "file:$T/laptop.ref"
# Broken key-reference files: a clear error, nothing else loaded.
printf -- '-----BEGIN TESSERA KEY-----\nMAUCAQIMAA==\n-----END TESSERA KEY-----\n' >"$T/broken.ref"
check_fails "a malformed key-reference file is named as such" \
    "the TESSERA KEY block is malformed; write it again with .tessera export." \
    openssl dgst -sha256 -sign "$T/broken.ref" "$T/msg"
printf '\x30\x10\x02\x01\x02\x0c\x06laptop\x30\x03\x02\x01\x07' | base64 |
    sed '1i -----BEGIN TESSERA KEY-----' | sed '$a -----END TESSERA KEY-----' >"$T/badkey.ref"
check_output "a reference whose public key is not a key still loads while the agent runs" \
    "^pem: tessera$" "$HELPERS/key_where" pem "$T/badkey.ref"
check_refused "openssl s_client with a certificate from another CA is refused" \
    "Subject: CN=stranger" bash -c \
    "printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect 127.0.0.1:$PORT \
     -CAfile '$T/ca/ca.pem' -cert tessera:stranger -key tessera:stranger -ign_eof"

# curl: --cert and --key files.
curl_get() { # CERT KEY
    curl -sS --max-time 20 --cacert "$T/ca/ca.pem" --cert "$1" --key "$2" \
        "https://127.0.0.1:$PORT/"
}
check_output "curl with a key-reference file (EC)" \
    "Subject: O=Tessera Test, CN=laptop" curl_get "$T/laptop.crt" "$T/laptop.ref"
check_output "curl with a key-reference file (RSA)" \
    "Subject: O=Tessera Test, CN=legacy" curl_get "$T/legacy.crt" "$T/legacy.ref"
check_refused "curl with a certificate from another CA is refused" \
    "Subject: CN=stranger" curl_get "$T/stranger.crt" "$T/stranger.ref"

# Python's ssl module: load_cert_chain(certfile, keyfile).
py_get() { # CERT KEY
    "$PY" "$(dirname "$0")/https_get.py" "$T/ca/ca.pem" "$PORT" any "$1" "$2"
}
check_output "Python ssl.load_cert_chain with a key-reference file" \
    "Subject: O=Tessera Test, CN=laptop" py_get "$T/laptop.crt" "$T/laptop.ref"
check_refused "Python with a certificate from another CA is refused" \
    "Subject: CN=stranger" py_get "$T/stranger.crt" "$T/stranger.ref"

# socat, another OpenSSL-linked program that takes cert= and key= files.
socat_get() { # CERT KEY
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 socat -d -t 5 - \
        "OPENSSL:127.0.0.1:$PORT,cert=$1,key=$2,cafile=$T/ca/ca.pem"
}
check_output "socat with a key-reference file" \
    "Subject: O=Tessera Test, CN=legacy" socat_get "$T/legacy.crt" "$T/legacy.ref"
# socat reads a TLS 1.3 refusal as a plain close; the server says why.
start_server -www
socat_get "$T/stranger.crt" "$T/stranger.ref" >"$T/out" 2>&1 || true
if ! grep -q "Subject: CN=stranger" "$T/out" &&
    grep -q "verify error:num=20:unable to get local issuer certificate" "$SERVER_LOG"; then
    pass "socat with a certificate from another CA is refused by the server"
else
    cat "$SERVER_LOG" >>"$T/out"
    fail "socat with a certificate from another CA is refused by the server"
fi

# 802.1X EAP-TLS: FreeRADIUS and eapol_test on loopback.
start_radius "$T/ca/ca.pem"
check_output "FreeRADIUS is ready for EAP-TLS" "Ready to process requests" cat "$T/radius.log"
eap() { eap_tls "$1" "$T/$1.crt" "${2:-$T/$1.ref}"; }
check_output "eapol_test (wpa_supplicant) authenticates with EAP-TLS and exits 0" \
    "^SUCCESS$" eap laptop
check_output "FreeRADIUS saw the client certificate and accepted it" \
    "TLS-Client-Cert-Common-Name := \"laptop\"" cat "$T/radius.log"
check_fails "EAP-TLS with a certificate from another CA fails" "^FAILURE$" eap stranger

# With the token locked, and then with the agent stopped, every program
# loads its key and fails at its first signature with the provider's
# sentence, also the programs that print only the first (curl) or only the
# last (Python) error of OpenSSL's queue.
LOCKED="the token is locked: run .tessera unlock."
DOWN="cannot reach the Tessera agent: start it with"
"$TESSERA" lock >/dev/null
check_fails "curl with the token locked says to unlock it" \
    "curl: \(35\) .*tessera::$LOCKED" curl_get "$T/laptop.crt" "$T/laptop.ref"
check_fails "Python with the token locked says to unlock it" \
    "ssl.SSLError: $LOCKED" py_get "$T/laptop.crt" "$T/laptop.ref"
stop_agent
check_fails "curl without the agent says how to start it" \
    "curl: \(35\) .*tessera::$DOWN" curl_get "$T/laptop.crt" "$T/laptop.ref"
check_fails "Python without the agent says how to start it" \
    "ssl.SSLError: $DOWN" py_get "$T/laptop.crt" "$T/laptop.ref"
check_fails "socat without the agent prints the provider's error" \
    "$DOWN" socat_get "$T/laptop.crt" "$T/laptop.ref"
check_fails "without the agent, a reference whose public key is not a key says so" \
    "the public key in the key-reference file of 'laptop' cannot be read; write it again" \
    "$HELPERS/key_where" pem "$T/badkey.ref"
check_fails "openssl s_client without the agent says how to start it" \
    "Tessera agent is not running .*start it with" bash -c \
    "openssl s_client -connect 127.0.0.1:$PORT -CAfile '$T/ca/ca.pem' \
     -cert tessera:laptop -key tessera:laptop </dev/null"
# wpa_supplicant logs no OpenSSL error text at all; its verdict is what a
# user sees.
check_fails "EAP-TLS without the agent fails" "^FAILURE$" eap laptop

finish
