#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Files follow the identity: programs that only take certificate and key
# files (curl, Python, OpenVPN) keep authenticating with the same files
# across scheduled renewals with a new key, against servers that trust only
# the root of a two-level CA (root -> issuing CA -> leaf), so the chain
# must be sent. The files `tessera export` wrote and those agent.conf names
# are rewritten at every certificate change, before post-renew-command.
. "$(dirname "$0")/lib.sh"

SNIPPET=$(cd "$(dirname "$0")/../.." && pwd)/data/openssl-tessera.cnf
PY=/usr/bin/python3

# $T/ca is the root, the only certificate the servers trust; $T/issuing
# signs the clients.
make_ca "$T/ca" "Tessera Test Root"
make_server_cert "$T/ca"
mkdir -p "$T/issuing"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/issuing/ca.key" -out "$T/issuing/ca.csr" \
    -subj "/CN=Tessera Test Issuing CA" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' \
    >"$T/issuing/ca.ext"
openssl x509 -req -in "$T/issuing/ca.csr" -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" \
    -CAcreateserial -days 30 -extfile "$T/issuing/ca.ext" -out "$T/issuing/ca.pem" 2>/dev/null

cat "$T/issuing/ca.pem" "$T/ca/ca.pem" >"$T/issuing/bundle.pem"

make_token "Test Token"
mkdir -p "$XDG_CONFIG_HOME/tessera" "$T/files" "$T/conf"
chmod 700 "$T/files" "$T/conf"
{
    printf '[token Test Token]\npin-file=%s\n' "$T/pin"
    # ca-cert is the issuing CA alone; wifi renews itself about 15 s after
    # each issue (50% of 30 s, no jitter), with a new key, and the old key
    # goes at once: a client still holding it would fail.
    profile short protocol=local "ca-cert=$T/issuing/ca.pem" \
        "ca-key=$T/issuing/ca.key" validity-seconds=30 renew-at-percent=50 \
        renew-jitter-percent=0 grace-seconds=0
    # ca-cert as a bundle: the issuing CA, then its chain.
    profile bundle protocol=local "ca-cert=$T/issuing/bundle.pem" \
        "ca-key=$T/issuing/ca.key" "trust=$T/ca/ca.pem"
} >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent

count_certs() { grep -c "BEGIN CERTIFICATE" "$1"; }
leaf_serial() { openssl x509 -in "$1" -noout -serial; }
leaf_key() { openssl x509 -in "$1" -noout -pubkey; }
wait_for() { # SECONDS COMMAND...: until COMMAND succeeds
    local seconds=$1
    shift
    for _ in $(seq 1 $((seconds * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

check "a local profile whose ca-cert is an issuing CA below a root enrols" \
    ca_enroll wifi short "CN=wifi,O=Tessera Test"
check_output "the chain it serves goes up to that issuing CA" "^2 certificates$" \
    bash -c "OPENSSL_CONF='$SNIPPET' openssl storeutl -certs tessera:wifi | grep -c BEGIN | sed 's/$/ certificates/'"
check "a local profile whose ca-cert is a bundle enrols" \
    ca_enroll desk bundle "CN=desk,O=Tessera Test"
check_output "and sends the whole bundle after the leaf" "^3 certificates$" \
    bash -c "OPENSSL_CONF='$SNIPPET' openssl storeutl -certs tessera:desk | grep -c BEGIN | sed 's/$/ certificates/'"

# --- tessera export: the files, their modes, what each holds
check "export writes a key reference and the certificate" \
    bash -c "umask 022 && '$TESSERA' export wifi --key-ref '$T/files/wifi.ref' --cert '$T/files/wifi.pem'"
check_output "the key-reference file is 0600 whatever the umask" "^600$" \
    stat -c %a "$T/files/wifi.ref"
check_output "the certificate file holds the leaf and its chain" "^2$" \
    count_certs "$T/files/wifi.pem"
check_output "the leaf first" "subject=O = Tessera Test, CN = wifi" \
    openssl x509 -in "$T/files/wifi.pem" -noout -subject
"$TESSERA" export wifi --cert "$T/files/same.pem" --chain "$T/files/same.pem" >/dev/null
check_output "--cert F --chain F: the leaf and the chain, never the CA alone" "^2$" \
    count_certs "$T/files/same.pem"
check_output "and the leaf first" "subject=O = Tessera Test, CN = wifi" \
    openssl x509 -in "$T/files/same.pem" -noout -subject
"$TESSERA" export wifi --cert "$T/files/leaf.pem" --chain "$T/files/chain.pem" >/dev/null
check_output "--cert F --chain G: the leaf alone in F" "^1$" count_certs "$T/files/leaf.pem"
check_output "and the issuing CA in G" "subject=CN = Tessera Test Issuing CA" \
    openssl x509 -in "$T/files/chain.pem" -noout -subject

# --- [identity] cert-file and chain-file take effect at a reload (desk,
# which renews in a year: only the reload can write its file)
printf '[identity wifi]\ncert-file=%s\nchain-file=%s\npost-renew-command=%s\n' \
    "$T/conf/wifi.pem" "$T/conf/wifi.pem" \
    "openssl x509 -in $T/conf/wifi.pem -noout -serial >>$T/hook.log" \
    >>"$XDG_CONFIG_HOME/tessera/agent.conf"
printf '[identity desk]\ncert-file=%s\nchain-file=%s\n' \
    "$T/conf/desk.pem" "$T/conf/desk.pem" >>"$XDG_CONFIG_HOME/tessera/agent.conf"
kill -HUP "$AGENT_PID"
check "a reload writes the cert-file it names at once, not at the next renewal" \
    wait_for 10 test -s "$T/conf/desk.pem"
check_output "cert-file and chain-file the same: the leaf and the chain" "^3$" \
    count_certs "$T/conf/desk.pem"
"$TESSERA" export desk --cert "$T/files/desk.pem" >/dev/null

# --- servers that trust only the root
export OPENSSL_CONF=$SNIPPET
start_server -www
HTTPS_PORT=$PORT
curl_get() {
    no_sanitizer curl -sS --max-time 20 --cacert "$T/ca/ca.pem" \
        --cert "$T/files/wifi.pem" --key "$T/files/wifi.ref" "https://127.0.0.1:$HTTPS_PORT/"
}
python_get() {
    no_sanitizer "$PY" "$(dirname "$0")/https_get.py" "$T/ca/ca.pem" "$HTTPS_PORT" any \
        "$T/files/wifi.pem" "$T/files/wifi.ref"
}
check_refused "a leaf without its chain is refused by the server" \
    "Subject: O=Tessera Test, CN=wifi" no_sanitizer curl -sS --max-time 20 --cacert "$T/ca/ca.pem" \
    --cert "$T/files/leaf.pem" --key "$T/files/wifi.ref" "https://127.0.0.1:$HTTPS_PORT/"

# OpenVPN, point to point over TCP with no tunnel device: when the client
# goes, its connection does, and the server listens again at once (over
# UDP the server kept the old session for its ping-restart time).
vpn_server_on() {
    exec openvpn --dev null --local 127.0.0.1 --lport "$1" --proto tcp-server \
        --tls-server --ca "$T/ca/ca.pem" --cert "$T/server.pem" --key "$T/server.key" \
        --dh none --verb 3 --ping 1 --ping-restart 10 >"$T/vpn-server.log" 2>&1
}
vpn_server_ready() { grep -q "Listening for incoming TCP connection" "$T/vpn-server.log" 2>/dev/null; }
on_free_port openvpn vpn_server_on vpn_server_ready
VPN_PORT=$PORT
# The client reconnects (SIGUSR1) after each renewal, reading its files
# again; --providers loads the Tessera provider next to the default one.
(exec env -u LD_PRELOAD openvpn --dev null --remote 127.0.0.1 "$VPN_PORT" \
    --proto tcp-client --connect-retry 1 1 --nobind --tls-client --ca "$T/ca/ca.pem" --cert "$T/files/wifi.pem" \
    --key "$T/files/wifi.ref" --providers tessera default --verb 3 --ping 1 \
    --ping-restart 10 >"$T/vpn-client.log" 2>&1) &
VPN_CLIENT=$!
SERVER_PIDS+=("$VPN_CLIENT")
vpn_connected() { # N: the client's Nth completed connection
    [ "$(grep -c "Initialization Sequence Completed" "$T/vpn-client.log")" -ge "$1" ]
}
vpn_reconnects() { # N: within 30 s, or its log
    wait_for 30 vpn_connected "$1" || { tail -n 25 "$T/vpn-client.log"; false; }
}

s_client_get() { # ARGS...: openssl s_client with tessera:wifi
    printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" \
        -CAfile "$T/ca/ca.pem" -cert tessera:wifi -key tessera:wifi -ign_eof "$@"
}
# s_client takes the first certificate of -cert; -cert_chain takes them all.
check_refused "s_client -cert tessera:NAME sends the leaf alone" "Subject: O=Tessera Test, CN=wifi" s_client_get
check_output "s_client -cert_chain tessera:NAME sends the chain too" "Subject: O=Tessera Test, CN=wifi" \
    s_client_get -cert_chain tessera:wifi
check_output "curl authenticates with the exported files" "Subject: O=Tessera Test, CN=wifi" curl_get
check_output "Python authenticates with the exported files" "Subject: O=Tessera Test, CN=wifi" python_get
check "OpenVPN connects with the exported files" vpn_reconnects 1

# --- two scheduled renewals, each with a new key
for round in 1 2; do
    serial=$(leaf_serial "$T/files/wifi.pem")
    key=$(leaf_key "$T/files/wifi.pem")
    check "renewal $round: the exported certificate file changes by itself" \
        wait_for 40 bash -c "[ \"\$(openssl x509 -in '$T/files/wifi.pem' -noout -serial)\" != '$serial' ]"
    check "renewal $round: with a new key" \
        bash -c "[ \"\$(openssl x509 -in '$T/files/wifi.pem' -noout -pubkey)\" != '$key' ]"
    check_output "renewal $round: the file still carries the chain" "^2$" count_certs "$T/files/wifi.pem"
    check "renewal $round: the configured cert-file follows too" \
        wait_for 5 cmp "$T/files/wifi.pem" "$T/conf/wifi.pem"
    check_output "renewal $round: post-renew-command ran after the files were written" \
        "$(leaf_serial "$T/conf/wifi.pem")" wait_for 5 grep -F "$(leaf_serial "$T/conf/wifi.pem")" "$T/hook.log"
    check_output "renewal $round: curl authenticates with the same files" "Subject: O=Tessera Test, CN=wifi" curl_get
    check_output "renewal $round: Python authenticates with the same files" "Subject: O=Tessera Test, CN=wifi" python_get
    kill -USR1 "$VPN_CLIENT"
    check "renewal $round: OpenVPN reconnects with the same files" \
        vpn_reconnects $((round + 1))
done
check "the key-reference file stays 0600 across renewals" \
    test "$(stat -c %a "$T/files/wifi.ref")" = 600
check_output "OpenVPN's server saw the chain verified up to the root" \
    "VERIFY OK: depth=1, CN=Tessera Test Issuing CA" cat "$T/vpn-server.log"

# The key reference carries the renewed public key too, which programs use
# while the agent cannot be asked: they still load a matching pair.
stop_agent
check_output "with the agent stopped, Python still loads the files as a matching pair" \
    "^loaded$" no_sanitizer "$PY" -c "import ssl
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.load_cert_chain('$T/files/wifi.pem', '$T/files/wifi.ref')
print('loaded')"
start_agent

# --- killed between the key switch and the files: recovery makes them agree
stop_agent
serial=$(leaf_serial "$T/files/wifi.pem")
export TESSERA_TEST_CRASH_AT=wifi:switched
start_agent
unset TESSERA_TEST_CRASH_AT
check "a renewal killed right after the key switch" wait_for 40 bash -c "! kill -0 $AGENT_PID"
check "left the files behind the token" \
    test "$(leaf_serial "$T/files/wifi.pem")" = "$serial"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
start_agent
check "after the restart the exported certificate is the token's" \
    wait_for 10 bash -c "[ \"\$(openssl x509 -in '$T/files/wifi.pem' -noout -pubkey)\" = \"\$(openssl storeutl -certs tessera:wifi 2>/dev/null | openssl x509 -noout -pubkey)\" ]"
check_output "and curl authenticates with the same files" "Subject: O=Tessera Test, CN=wifi" curl_get

# --- at start: files changed while the agent was down catch up (desk's:
# wifi's would be rewritten by its next renewal anyway)
stop_agent
rm -f "$T/conf/desk.pem"
printf 'stale\n' >"$T/files/desk.pem"
start_agent
check "the agent writes the files that follow an identity when it starts" \
    wait_for 5 test -s "$T/conf/desk.pem"
check_output "and replaces a stale exported file" "^3$" count_certs "$T/files/desk.pem"

finish
