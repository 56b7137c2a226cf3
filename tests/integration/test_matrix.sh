#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Either provider order, every key type, both TLS versions, three real
# clients: each Tessera identity authenticates, and ordinary programs (file
# keys, no client key, ECDHE, certificate checks) work as without Tessera
# and never reach the agent. Requests are counted by a relay in front of
# the agent (frame_count.py): every Tessera handshake must cost exactly one
# SIGN, every ordinary one nothing at all.
. "$(dirname "$0")/lib.sh"

SNIPPET=$(cd "$(dirname "$0")/../.." && pwd)/data/openssl-tessera.cnf
WHERE=$HELPERS/key_where

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
start_agent
unlock
declare -A SIGTYPE=([ec256]=ECDSA [ec384]=ECDSA [rsa]="RSA(-PSS)?" [ed]=ed25519)
for id in ec256:ec-p256 ec384:ec-p384 rsa:rsa2048 ed:ed25519; do
    name=${id%%:*}
    enroll "$name" "${id#*:}" &&
        "$TESSERA" export "$name" --key-ref "$T/$name.ref" --cert "$T/$name.crt" ||
        fail "set up identity $name"
done
# An ordinary client: a file key and a certificate from the same CA.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/file.key" \
    -out "$T/file.csr" -subj "/CN=file/O=Tessera Test" 2>/dev/null
issue "$T/ca" "$T/file.csr" "$T/file.crt" client.ext

# The system-wide case: Debian's /etc/ssl/openssl.cnf as an administrator
# edits it, with tessera listed before default.
sed -e 's/^# providers = provider_sect/providers = provider_sect/' \
    -e 's/^# \[provider_sect\]/[provider_sect]\ntessera = tessera_sect/' \
    -e 's/^# default = default_sect/default = default_sect/' \
    -e 's/^# \[default_sect\]/[default_sect]/' -e 's/^# activate = 1/activate = 1/' \
    /etc/ssl/openssl.cnf >"$T/system.cnf"
printf '\n[tessera_sect]\nactivate = 1\n' >>"$T/system.cnf"
check_output "the system-wide openssl.cnf lists tessera before default" \
    "tessera = tessera_sect.*default = default_sect" \
    bash -c "grep -A2 '^\[provider_sect\]' '$T/system.cnf' | tr '\n' ' '"
declare -A CONF=([tessera-first]=$T/system.cnf [default-first]=$SNIPPET)
declare -A PROVIDERS=([tessera-first]="-provider tessera -provider default"
    [default-first]="-provider default -provider tessera")

start_frame_counter
export TESSERA_SOCKET=$COUNTER_SOCKET
# One server per kind of client authentication, each reused throughout:
# any signature, RSA PKCS#1 v1.5 only (TLS 1.2 has it; 1.3 only PSS), and
# a client certificate asked for but not required.
start_server -www
PORT_ANY=$PORT
start_server -www -client_sigalgs RSA+SHA256:RSA+SHA384
PORT_PKCS1=$PORT
S_SERVER_VERIFY=-verify start_server -www
PORT_OPTIONAL=$PORT

# Clients, each printing the server's page. ORDER picks the configuration;
# "cmdline:ORDER" runs openssl with -provider options and no openssl.cnf.
s_client() { # ORDER VERSION PORT [CERT KEY]
    local conf=${CONF[${1#cmdline:}]} providers=
    if [ "${1%%:*}" = cmdline ]; then
        conf=/dev/null providers=${PROVIDERS[${1#cmdline:}]}
    fi
    # shellcheck disable=SC2086
    printf 'GET / HTTP/1.0\r\n\r\n' | OPENSSL_CONF=$conf timeout 20 openssl s_client \
        $providers -connect "127.0.0.1:$3" -CAfile "$T/ca/ca.pem" -verify_return_error \
        "-tls1_${2#1.}" ${4:+-cert "$4" -key "$5"} -ign_eof
}
curl_get() { # ORDER VERSION PORT [CERT KEY]
    OPENSSL_CONF=${CONF[$1]} curl -sS --max-time 20 --cacert "$T/ca/ca.pem" \
        "--tlsv$2" --tls-max "$2" ${4:+--cert "$4" --key "$5"} "https://127.0.0.1:$3/"
}
py_get() { # ORDER VERSION PORT [CERT KEY]
    OPENSSL_CONF=${CONF[$1]} python3 "$(dirname "$0")/https_get.py" "$T/ca/ca.pem" "$3" "$2" \
        ${4:+"$4" "$5"}
}

# expect DESCRIPTION SIGNS PATTERN... -- COMMAND...: the command's page shows
# every PATTERN, and the agent got exactly SIGNS signatures and (for 0)
# no request at all.
expect() {
    local desc=$1 signs=$2 patterns=()
    shift 2
    while [ "$1" != -- ]; do patterns+=("$1"); shift; done
    shift
    : >"$COUNTER_LOG"
    local status=0 missing=
    "$@" >"$T/out" 2>&1 || status=$?
    for p in "${patterns[@]}"; do grep -Eq -- "$p" "$T/out" || missing+=" /$p/"; done
    local sent signed
    sent=$(frames) signed=$(frames 04)
    if [ "$status" -ne 0 ] || [ -n "$missing" ]; then
        fail "$desc (exit status $status; missing$missing)"
    elif [ "$signed" -ne "$signs" ] || { [ "$signs" -eq 0 ] && [ "$sent" -ne 0 ]; }; then
        fail "$desc ($signed signatures and $sent requests reached the agent, not $signs)"
    else
        pass "$desc"
    fi
}

# --- Tessera identities: order x key type x TLS version x client
ORDERS=(tessera-first default-first)
for key in ec256 ec384 rsa-pkcs1 rsa-pss ed; do
    name=${key%%-*} sigtype=${SIGTYPE[${key%%-*}]} port=$PORT_ANY
    case $key in
    rsa-pkcs1) sigtype=RSA port=$PORT_PKCS1 ;;
    rsa-pss) sigtype=RSA-PSS ;;
    esac
    for version in 1.2 1.3; do
        [ "$key/$version" = rsa-pkcs1/1.3 ] && continue
        page=("New, TLSv$version," "Peer signature type: $sigtype$" "Subject: O=Tessera Test, CN=$name")
        for order in "${ORDERS[@]}"; do
            for client in s_client curl_get py_get; do
                expect "$key, TLS $version, $order, ${client%_get}" 1 "${page[@]}" -- \
                    "$client" "$order" "$version" "$port" "$T/$name.crt" "$T/$name.ref"
            done
            expect "$key, TLS $version, $order on the command line, s_client with tessera:$name" 1 \
                "${page[@]}" -- s_client "cmdline:$order" "$version" "$port" \
                "tessera:$name" "tessera:$name"
        done
    done
done

# --- ordinary programs under both orders: a file key, and no client key
for order in "${ORDERS[@]}" cmdline:tessera-first cmdline:default-first; do
    clients=(s_client curl_get py_get)
    [ "${order%%:*}" = cmdline ] && clients=(s_client)
    for version in 1.2 1.3; do
        for client in "${clients[@]}"; do
            expect "file key, TLS $version, $order, ${client%_get}" 0 \
                "New, TLSv$version," "Peer signature type: ECDSA$" "Subject: CN=file, O=Tessera Test" -- \
                "$client" "$order" "$version" "$PORT_ANY" "$T/file.crt" "$T/file.key"
            expect "no client key, TLS $version, $order, ${client%_get}" 0 \
                "New, TLSv$version," "no client certificate available" -- \
                "$client" "$order" "$version" "$PORT_OPTIONAL"
        done
    done
done

# What the client offers is exactly what it offers without Tessera: the
# same groups (the default provider's P-256 and P-384 among them) and the
# same signature algorithms in the ClientHello, as the server saw it.
offer() { # CONF
    OPENSSL_CONF=$1 curl -sS --max-time 20 --cacert "$T/ca/ca.pem" --tlsv1.2 --tls-max 1.2 \
        "https://127.0.0.1:$PORT_OPTIONAL/" | grep -E "^(Supported groups|Signature Algorithms):"
}
offer /dev/null >"$T/offer.none"
for order in "${ORDERS[@]}"; do
    offer "${CONF[$order]}" >"$T/offer.$order"
    check "with $order, the TLS 1.2 ClientHello offers what it offers without Tessera" \
        cmp "$T/offer.none" "$T/offer.$order"
done
check_output "and that offer has the default provider's P-256 and P-384" \
    "^Supported groups: .*secp256r1.*secp384r1" cat "$T/offer.none"

# --- where the keys are, in a program that loaded tessera first
export OPENSSL_CONF=$T/system.cnf
expect "an ordinary key file is the default provider's, and signs" 0 "^pem: default$" -- \
    "$WHERE" pem "$T/file.key"
expect "so is an ordinary key through OSSL_STORE_open(\"file:...\")" 0 "^store: default$" -- \
    "$WHERE" store "file:$T/file.key"
expect "unqualified fetches, ECDHE keys, certificate keys and X509_verify stay default" 0 \
    "^fetch EC: default$" "^fetch ECDSA signature: default$" "^fetch RSA: default$" \
    "^fetch RSA signature: default$" "^fetch ED25519: default$" \
    "^fetch ED25519 signature: default$" "^ecdhe key: default$" \
    "^certificate key: default$" "^X509_verify: ok$" -- \
    "$WHERE" ordinary "$T/ec256.crt" "$T/ca/ca.pem"
expect "openssl dgst -sign and -verify with a file key never reach the agent" 0 "Verified OK" -- \
    bash -c "echo data >'$T/data' && openssl dgst -sha256 -sign '$T/file.key' -out '$T/data.sig' '$T/data' &&
             openssl x509 -in '$T/file.crt' -pubkey -noout >'$T/file.pub' &&
             openssl dgst -sha256 -verify '$T/file.pub' -signature '$T/data.sig' '$T/data'"
expect "openssl verify of a chain never reaches the agent" 0 ": OK$" -- \
    openssl verify -CAfile "$T/ca/ca.pem" "$T/ec256.crt"
expect "a key-reference file is Tessera's, and signs once" 1 "^pem: tessera$" -- \
    "$WHERE" pem "$T/ec384.ref"

# Ed25519 signs the message itself, which crosses whole up to the bound;
# a longer one is refused in the provider, before anything is sent.
head -c 16384 /dev/urandom >"$T/16k"
head -c 16385 /dev/urandom >"$T/16k+1"
expect "an Ed25519 key-reference file signs a 16 KiB message whole, once" 1 \
    "Signature Verified Successfully" -- \
    bash -c "openssl pkeyutl -sign -rawin -inkey '$T/ed.ref' -in '$T/16k' -out '$T/16k.sig' &&
             openssl pkeyutl -verify -rawin -certin -inkey '$T/ed.crt' -in '$T/16k' \
                 -sigfile '$T/16k.sig'"
: >"$COUNTER_LOG"
check_fails "one byte more is refused with the bound" \
    "the message to sign is 16385 bytes; the agent takes at most 16384" \
    openssl pkeyutl -sign -rawin -inkey "$T/ed.ref" -in "$T/16k+1" -out "$T/16k+1.sig"
check_output "and sends no signature request" "^0$" frames 04

finish
