#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Programs that speak only PKCS#11, unmodified, each finding the agent's
# identities through tessera-pkcs11.so the way a user sets them up:
# GnuTLS (p11tool, gnutls-cli) through p11-kit's module registry, NSS
# (certutil, and Chromium against nginx) through tessera-nss, and
# wpa_supplicant's eapol_test through libp11's engine against FreeRADIUS.
# Each against a server that requires and verifies the client certificate,
# with a negative twin. The registry and Chromium's policy directory are
# replaced in a private mount namespace only: the token's own module is
# hidden from p11-kit there, so the path is Tessera's, and nothing on the
# machine changes.
. "$(dirname "$0")/lib.sh"

MODULE=$TESSERA_BUILD/pkcs11/tessera-pkcs11.so

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_ca "$T/other-ca" "Someone Else's CA"
make_server_cert "$T/ca"
start_agent
unlock
import_with_chain laptop ec-p256 "$T/ca"
import_with_chain legacy rsa2048 "$T/ca"
import_with_chain stranger ec-p256 "$T/other-ca"
uri() { echo "pkcs11:token=Test%20Token;object=$1"; }


# --- GnuTLS through p11-kit's registry: tessera.module as meson installs
# it (its module: line pointing at this build), and nothing else.
mkdir -p "$T/registry"
sed "s|^module: .*|module: $MODULE|" "$TESSERA_BUILD/pkcs11/tessera.module" \
    >"$T/registry/tessera.module"
registry() { private_root "$T/registry:/usr/share/p11-kit/modules" -- "$@"; }
check_output "p11-kit's registry holds the Tessera module alone" \
    "^tessera: $MODULE" registry p11-kit list-modules
check_absent "the token's own module is not in it" "softhsm" "$T/out"
check_output "p11tool lists the identities' certificates through p11-kit" \
    "object=laptop;type=cert" registry p11tool --list-all-certs "$(uri laptop)"
check_output "p11tool sees the private key once logged in" \
    "Flags: CKA_PRIVATE; CKA_NEVER_EXTRACTABLE; CKA_SENSITIVE" \
    registry p11tool --login --set-pin="$PIN" --list-privkeys "$(uri laptop)"

start_server -www
gnutls_get() { # NAME [gnutls-cli ARGS]: GET / with NAME's certificate and key
    local name=$1
    shift
    # KEY_QUERY: the key URI's query, e.g. ?pin-value=...
    printf 'GET / HTTP/1.0\r\n\r\n' |
        registry timeout 30 gnutls-cli --x509cafile "$T/ca/ca.pem" -p "$PORT" \
            --x509certfile "$(uri "$name");type=cert" \
            --x509keyfile "$(uri "$name");type=private${KEY_QUERY:-}" "$@" 127.0.0.1
}
check_output "gnutls-cli authenticates to openssl s_server with pkcs11: URIs (TLS 1.3, ECDSA)" \
    "Subject: O=Tessera Test, CN=laptop" gnutls_get laptop
check_output "and with an RSA key (TLS 1.3: RSA-PSS)" \
    "Subject: O=Tessera Test, CN=legacy" gnutls_get legacy
check_output "and over TLS 1.2 (RSA, PKCS 1 v1.5)" "Subject: O=Tessera Test, CN=legacy" \
    gnutls_get legacy --priority NORMAL:-VERS-ALL:+VERS-TLS1.2
check_refused "a certificate from another CA is refused by the server" \
    "Subject: CN=stranger" gnutls_get stranger
"$TESSERA" lock
KEY_QUERY="?pin-value=$PIN"
check_output "with the token locked, the PIN in the URI logs in through the agent" \
    "Subject: O=Tessera Test, CN=laptop" gnutls_get laptop
KEY_QUERY=
check_output "which unlocked the token for every program" "unlocked" "$TESSERA" tokens

# --- NSS: tessera-nss registers the module in the shared database.
NSS_HOME=$T/home
NSSDB=$NSS_HOME/.pki/nssdb
check_output "tessera-nss adds the module to the NSS database" "added Tessera" \
    env HOME="$NSS_HOME" sh "$TESSERA_BUILD/data/tessera-nss" add --module "$MODULE"
check_output "and tells when it is there already" "Tessera is there already" \
    env HOME="$NSS_HOME" sh "$TESSERA_BUILD/data/tessera-nss" add --module "$MODULE"
check_output "modutil lists it, with the token" "slot: Tessera agent: Test Token" \
    modutil -list -dbdir "sql:$NSSDB"
check_output "certutil sees the certificates on the Tessera token" \
    "^Test Token:laptop +u,u,u" certutil -L -h all -d "sql:$NSSDB"
check_output "and the chain's CA as a certificate of the token" \
    "^Test Token:Tessera Test CA " certutil -L -h all -d "sql:$NSSDB"
check_output "certutil finds the private key behind it" "laptop" \
    certutil -K -h "Test Token" -d "sql:$NSSDB" -f "$T/pin"
certutil -A -d "sql:$NSSDB" -n "Tessera Test CA" -t "C,," -i "$T/ca/ca.pem"

# --- Chromium against nginx, which requires and prints the client subject
mkdir -p "$T/nginx"
nginx_on() {
    cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $T/server.pem;
        ssl_certificate_key $T/server.key;
        ssl_client_certificate $T/ca/ca.pem;
        ssl_verify_client on;
        location / {
            default_type text/plain;
            return 200 "client subject: \$ssl_client_s_dn\n";
        }
    }
}
EOF
    exec nginx -c "$T/nginx/nginx.conf" -p "$T/nginx/"
}
nginx_ready() { curl -s --cacert "$T/ca/ca.pem" "https://127.0.0.1:$1/" >/dev/null; }
on_free_port nginx nginx_on nginx_ready
WEB=https://127.0.0.1:$PORT/
check_output "nginx refuses a client without a certificate" \
    "400 No required SSL certificate was sent" curl -s --cacert "$T/ca/ca.pem" "$WEB"

# Chromium reads its policies from /etc/chromium/policies/managed alone:
# a directory of the test's takes /etc/chromium's place, in the namespace.
mkdir -p "$T/etc-chromium/policies/managed"
cp -a /etc/chromium/. "$T/etc-chromium/" 2>/dev/null || true
auto_select() { # CN: AutoSelectCertificateForUrls for nginx
    printf '{"AutoSelectCertificateForUrls": ["{\\"pattern\\":\\"%s\\",\\"filter\\":{\\"SUBJECT\\":{\\"CN\\":\\"%s\\"}}}"]}\n' \
        "https://127.0.0.1:$PORT" "$1" >"$T/etc-chromium/policies/managed/tessera-test.json"
}
# As root Chromium runs only without its sandbox; the other switches keep
# it off the network and its start quick.
chromium_get() {
    HOME=$NSS_HOME private_root "$T/etc-chromium:/etc/chromium" -- \
        timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$T/chromium-profile" --dump-dom "$WEB"
}
auto_select laptop
check_output "Chromium presents the token's certificate, signed through the agent (ECDSA)" \
    "client subject: CN=laptop,O=Tessera Test" chromium_get
auto_select legacy
check_output "and an RSA one (TLS 1.3 with RSA-PSS)" \
    "client subject: CN=legacy,O=Tessera Test" chromium_get
env HOME="$NSS_HOME" sh "$TESSERA_BUILD/data/tessera-nss" remove >/dev/null
check_output "without the module Chromium has no certificate to present" \
    "400 No required SSL certificate was sent" chromium_get

# --- wpa_supplicant (eapol_test): private_key="pkcs11:..." through libp11's
# engine, pointed at the module, as NetworkManager configures it (lib.sh).
start_radius "$T/ca/ca.pem"
eap_engine() { eap_pkcs11 "$1" "$(uri "$1")"; }
check_output "eapol_test authenticates with EAP-TLS through libp11 and the module" \
    "^SUCCESS$" eap_engine laptop
check_output "FreeRADIUS saw the client certificate and accepted it" \
    "TLS-Client-Cert-Common-Name := \"laptop\"" cat "$T/radius.log"
check_fails "a certificate from another CA is rejected" "^FAILURE$" eap_engine stranger

finish
