#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Mutual TLS with token keys: EC P-256, P-384 and RSA identities presented
# by an unmodified `openssl s_client` through the tessera provider, TLS 1.2
# and 1.3, against `openssl s_server` that requires and verifies the client.
. "$(dirname "$0")/lib.sh"

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
start_agent
unlock

for spec in ec-p256 ec-p384 rsa2048 rsa3072; do
    check "keygen, issue and import a $spec identity" enroll "id-$spec" "$spec"
done
check_output "tessera list shows the identities ready" \
    "id-rsa3072 +Test Token +RSA-3072 .* ready .* CN=id-rsa3072,O=Tessera Test" \
    "$TESSERA" list

# The -www server answers with the client certificate it verified; seeing the
# subject there proves the handshake authenticated the client.
start_server -www
for spec in ec-p256 ec-p384 rsa2048 rsa3072; do
    for version in tls1_2 tls1_3; do
        check_output "$spec client authentication over ${version/_/.}" \
            "Subject: O=Tessera Test, CN=id-$spec" \
            handshake "tessera:id-$spec" "tessera:id-$spec" "-$version"
    done
done

# TLS 1.2 with RSA PKCS#1 v1.5 rather than PSS (both are used in the field).
start_server -www -client_sigalgs RSA+SHA256:RSA+SHA384
check_output "RSA PKCS 1 v1.5 client signature over TLS 1.2" \
    "Subject: O=Tessera Test, CN=id-rsa2048" \
    handshake tessera:id-rsa2048 tessera:id-rsa2048 -tls1_2
start_server -www -client_sigalgs RSA-PSS+SHA512
check_output "RSA-PSS with SHA-512 over TLS 1.3" \
    "Subject: O=Tessera Test, CN=id-rsa2048" \
    handshake tessera:id-rsa2048 tessera:id-rsa2048 -tls1_3

# RFC 7512 URIs name the same identities.
start_server -www
check_output "pkcs11: URIs for certificate and key" \
    "Subject: O=Tessera Test, CN=id-ec-p256" \
    handshake "pkcs11:token=Test%20Token;object=id-ec-p256;type=cert" \
    "pkcs11:token=Test%20Token;object=id-ec-p256;type=private" -tls1_3
check_fails "a pkcs11: URI matching nothing is a clear error" \
    "no Tessera identity matches" \
    handshake "pkcs11:token=Other" "pkcs11:token=Other"

# Negative twin: a certificate the server's CA did not issue is rejected.
make_ca "$T/other-ca" "Someone Else's CA"
"$TESSERA" keygen stranger --token "Test Token" --key ec-p256 \
    --subject "CN=stranger" --out "$T/stranger.csr"
issue "$T/other-ca" "$T/stranger.csr" "$T/stranger.pem" client.ext
"$TESSERA" import stranger --cert "$T/stranger.pem"
check_refused "a client certificate from another CA is refused" \
    "Subject: CN=stranger" handshake tessera:stranger tessera:stranger -tls1_3
check "the agent still serves after the refused handshake" \
    handshake tessera:id-ec-p256 tessera:id-ec-p256 -tls1_3

finish
