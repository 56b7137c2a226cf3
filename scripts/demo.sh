#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Tessera end to end on embedded defaults: a SoftHSM2 token and a local CA
# in a temp dir, the agent, `tessera enroll` (key generated on the token,
# CSR signed there, certificate from the local CA stored beside it), and a
# mutual-TLS handshake by an unmodified `openssl s_client` through the
# tessera provider.
# Stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
show() { sed 's/^/   /'; }

say "Building"
if [ -d build ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build >/dev/null
B=$PWD/build

D=$(mktemp -d /tmp/tessera-demo.XXXXXX)
AGENT_PID= SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
    [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
export SOFTHSM2_CONF=$D/softhsm2.conf
export XDG_RUNTIME_DIR=$D/run XDG_STATE_HOME=$D/state XDG_CONFIG_HOME=$D/config
export OPENSSL_MODULES=$B/provider OPENSSL_CONF=/dev/null
mkdir -p "$D/tokens" "$D/run" "$D/ca" && chmod 700 "$D/run"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$D/tokens" >"$SOFTHSM2_CONF"
TESSERA=$B/cli/tessera

say "1. A PKCS#11 token: SoftHSM2 in $D/tokens"
softhsm2-util --init-token --free --label "Demo Token" --so-pin 12345678 \
    --pin 246810 | show
printf '246810\n' >"$D/pin" && chmod 600 "$D/pin"

say "2. A local certificate authority and a server certificate it issued"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$D/ca/ca.key" -out "$D/ca/ca.pem" -subj "/CN=Demo Corp CA" \
    -days 30 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$D/server.key" -out "$D/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$D/server.ext"
openssl x509 -req -in "$D/server.csr" -CA "$D/ca/ca.pem" -CAkey "$D/ca/ca.key" \
    -CAcreateserial -out "$D/server.pem" -days 7 -extfile "$D/server.ext" 2>/dev/null
openssl x509 -in "$D/ca/ca.pem" -noout -subject | show

say "3. The agent starts, sees the token and is unlocked with its PIN"
mkdir -p "$XDG_CONFIG_HOME/tessera"
printf '[ca demo]\nprotocol=local\nca-cert=%s\nca-key=%s\nvalidity-days=30\n' \
    "$D/ca/ca.pem" "$D/ca/ca.key" >"$XDG_CONFIG_HOME/tessera/agent.conf"
"$B/agent/tessera-agent" --foreground --module /usr/lib/softhsm/libsofthsm2.so \
    >"$D/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 100); do "$TESSERA" tokens >/dev/null 2>&1 && break; sleep 0.05; done
"$TESSERA" unlock "Demo Token" --pin-file "$D/pin" | show
"$TESSERA" tokens | show

say "4. tessera enroll: a P-256 key made on the token (never extractable), its"
echo "   CSR signed there, certified by the local CA profile 'demo', stored beside it"
echo "   agent.conf: [ca demo] protocol=local ca-cert=... ca-key=..."
"$TESSERA" enroll laptop --token "Demo Token" --ca demo --key ec-p256 \
    --subject "CN=alice@corp.example,O=Demo Corp" --san email:alice@corp.example 2>&1 | show
"$TESSERA" list | show

say "5. A server that requires a client certificate from Demo Corp CA"
PORT=
for _ in $(seq 1 20); do
    PORT=$((20000 + RANDOM % 30000))
    openssl s_server -accept "127.0.0.1:$PORT" -cert "$D/server.pem" \
        -key "$D/server.key" -CAfile "$D/ca/ca.pem" -Verify 1 \
        -verify_return_error -www >"$D/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 40); do grep -q '^ACCEPT' "$D/server.log" && break; sleep 0.05; done
    grep -q '^ACCEPT' "$D/server.log" && break
    kill "$SERVER_PID" 2>/dev/null || true
done
echo "   openssl s_server -Verify 1 on 127.0.0.1:$PORT"

say "6. Mutual TLS 1.3 with an unmodified openssl s_client, key on the token"
echo "   openssl s_client -provider default -provider tessera \\"
echo "       -cert tessera:laptop -key tessera:laptop -connect 127.0.0.1:$PORT"
printf 'GET / HTTP/1.0\r\n\r\n' |
    openssl s_client -provider default -provider tessera -tls1_3 \
        -connect "127.0.0.1:$PORT" -CAfile "$D/ca/ca.pem" -verify_return_error \
        -cert tessera:laptop -key tessera:laptop -ign_eof >"$D/client.log" 2>&1
grep -E '^New, TLS|^Verify return code' "$D/client.log" | sort -u | show
seen=$(grep -m1 -A12 '^Client certificate' "$D/client.log" | grep -m1 'Subject:' | sed 's/^ *//')
if [ -n "$seen" ]; then
    echo "   The server verified the client certificate: $seen"
else
    echo "   The server did not report a client certificate: the demo FAILED" >&2
    exit 1
fi

say "7. tessera renew: a new key on the token, certified, switched in; the old"
echo "   key kept for its grace period. (The agent does this on its own at two"
echo "   thirds of the lifetime; tessera list shows when.)"
"$TESSERA" renew laptop 2>&1 | show
"$TESSERA" list | show
printf 'GET / HTTP/1.0\r\n\r\n' |
    openssl s_client -provider default -provider tessera -tls1_3 \
        -connect "127.0.0.1:$PORT" -CAfile "$D/ca/ca.pem" -verify_return_error \
        -cert tessera:laptop -key tessera:laptop -ign_eof >"$D/client2.log" 2>&1
serial() { grep -m1 -A14 '^Client certificate' "$1" | grep -m1 -A1 'Serial Number' | tr -d ' \n'; }
if grep -q 'Subject: CN=alice@corp.example' "$D/client2.log" &&
    [ "$(serial "$D/client.log")" != "$(serial "$D/client2.log")" ]; then
    echo "   The same command, unchanged, now presents the renewed certificate:"
    echo "   $(serial "$D/client.log") before, $(serial "$D/client2.log") now."
else
    echo "   The handshake after the renewal failed: the demo FAILED" >&2
    exit 1
fi

say "8. What the agent logged (no PIN, ever)"
show <"$D/agent.log"
say "Done: everything started here has been stopped and $D removed."
