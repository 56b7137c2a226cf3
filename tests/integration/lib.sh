# SPDX-License-Identifier: Apache-2.0
# Shared set-up for the integration tests: a SoftHSM2 token in a temp dir, a
# local test CA, the real agent, and openssl s_server as the mTLS peer. Each
# test prints TAP; everything it started is stopped on exit.
#
# Needs TESSERA_BUILD (the meson build dir), set by meson test.

set -euo pipefail

: "${TESSERA_BUILD:?TESSERA_BUILD must name the build directory}"
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
TESSERA=$TESSERA_BUILD/cli/tessera
AGENT=$TESSERA_BUILD/agent/tessera-agent
HELPERS=$TESSERA_BUILD/tests/integration
PIN=583917
SO_PIN=12345678

T=$(mktemp -d /tmp/tessera-test.XXXXXX)
export SOFTHSM2_CONF=$T/softhsm2.conf
export XDG_RUNTIME_DIR=$T/run XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config
export TESSERA_SOCKET=$T/run/tessera/agent.sock
export OPENSSL_MODULES=$TESSERA_BUILD/provider
# Nothing from the machine's openssl.cnf may change what a test sees.
export OPENSSL_CONF=/dev/null
# Nor may the agent put a PIN prompt on the tester's display or terminal:
# test_prompt.sh gives it one of its own.
unset DISPLAY WAYLAND_DISPLAY GPG_TTY TESSERA_TTY
# Debian registers tpm2-pkcs11 with p11-kit: where a test loads the
# registered modules, it must neither write to $HOME nor find a real TPM.
export TPM2_PKCS11_STORE=$T/tpm2-store TPM2_PKCS11_TCTI=swtpm:host=127.0.0.1,port=9
mkdir -p "$T/tokens" "$T/run" "$T/ca" "$T/tpm2-store"
chmod 700 "$T/run"
cat >"$SOFTHSM2_CONF" <<EOF
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
printf '%s\n' "$PIN" >"$T/pin"
chmod 600 "$T/pin"

AGENT_PID=
SERVER_PIDS=()
SCRATCH_DIRS=() # outside $T (e.g. on tmpfs), removed at exit too
tests_run=0
tests_failed=0

cleanup() {
    local status=$?
    for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    stop_agent
    if [ "$tests_failed" -ne 0 ] || [ "$status" -ne 0 ]; then
        echo "# agent log:"
        sed 's/^/#   /' "$T/agent.log" 2>/dev/null | tail -n 40 || true
    fi
    rm -rf "$T" "${SCRATCH_DIRS[@]}"
}
trap cleanup EXIT

pass() {
    tests_run=$((tests_run + 1))
    echo "ok $tests_run - $1"
}
# skip DESCRIPTION REASON: a check not run here, said as TAP's SKIP (meson
# counts it as skipped, never as passed).
skip() {
    tests_run=$((tests_run + 1))
    echo "ok $tests_run - $1 # SKIP $2"
}

fail() {
    tests_run=$((tests_run + 1))
    tests_failed=$((tests_failed + 1))
    echo "not ok $tests_run - $1"
    if [ -s "$T/out" ]; then sed 's/^/#   /' "$T/out" | tail -n 25; fi
}

# check DESCRIPTION COMMAND...: the command must succeed.
check() {
    local desc=$1
    shift
    if "$@" >"$T/out" 2>&1; then pass "$desc"; else fail "$desc"; fi
}

# check_fails DESCRIPTION PATTERN COMMAND...: the command must fail and say
# PATTERN (an extended regex) on stdout or stderr.
check_fails() {
    local desc=$1 pattern=$2
    shift 2
    if "$@" >"$T/out" 2>&1; then
        fail "$desc (it succeeded)"
    elif grep -Eq -- "$pattern" "$T/out"; then
        pass "$desc"
    else
        fail "$desc (no /$pattern/ in the output)"
    fi
}

# check_output DESCRIPTION PATTERN COMMAND...: succeed and say PATTERN.
check_output() {
    local desc=$1 pattern=$2
    shift 2
    local status=0
    "$@" >"$T/out" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        fail "$desc (exit status $status)"
    elif grep -Eq -- "$pattern" "$T/out"; then
        pass "$desc"
    else
        fail "$desc (no /$pattern/ in the output)"
    fi
}

# check_refused DESCRIPTION PATTERN COMMAND...: whatever the exit status,
# PATTERN (what success would print) must not appear, and an alert must.
check_refused() {
    local desc=$1 pattern=$2
    shift 2
    "$@" >"$T/out" 2>&1 || true
    if grep -Eq -- "$pattern" "$T/out"; then
        fail "$desc (/$pattern/ appeared)"
    elif grep -Eq "alert|error" "$T/out"; then
        pass "$desc"
    else
        fail "$desc (no alert or error)"
    fi
}

# check_absent DESCRIPTION PATTERN FILE...: no line of the files says it.
check_absent() {
    local desc=$1 pattern=$2
    shift 2
    if grep -Eq -- "$pattern" "$@"; then
        grep -Eh -- "$pattern" "$@" >"$T/out"
        fail "$desc (/$pattern/ appeared)"
    else
        pass "$desc"
    fi
}

finish() {
    stop_agent
    if [ "$unclean_agent_exits" -eq 0 ]; then
        pass "every agent this test stopped exited with status 0"
    else
        fail "$unclean_agent_exits agents exited with a non-zero status"
    fi
    echo "1..$tests_run"
    echo "# $((tests_run - tests_failed)) passed, $tests_failed failed"
    [ "$tests_failed" -eq 0 ]
}

make_token() { # LABEL
    softhsm2-util --init-token --free --label "$1" --so-pin "$SO_PIN" \
        --pin "$PIN" >/dev/null
}

make_ca() { # DIR NAME
    local dir=$1 name=$2
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" -subj "/CN=$name" \
        -days 30 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >"$dir/client.ext"
    printf 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n' \
        >"$dir/server.ext"
}

issue() { # CA_DIR CSR OUT EXTFILE
    openssl x509 -req -in "$2" -CA "$1/ca.pem" -CAkey "$1/ca.key" \
        -CAcreateserial -out "$3" -days 7 -extfile "$1/$4" 2>/dev/null
}

make_server_cert() { # CA_DIR
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/server.key" -out "$T/server.csr" -subj "/CN=127.0.0.1" \
        2>/dev/null
    issue "$1" "$T/server.csr" "$T/server.pem" server.ext
}

# AGENT_MODULE picks the PKCS#11 module; AGENT_ASAN_OPTIONS adds to the
# sanitizer's options for the agent.
start_agent() { # [EXTRA ARGS]
    # Under sanitizers, leaks are checked in the agent itself.
    ASAN_OPTIONS=${TESSERA_SANITIZED:+detect_leaks=1${AGENT_ASAN_OPTIONS:+:$AGENT_ASAN_OPTIONS}} \
        LSAN_OPTIONS=suppressions=$(dirname "${BASH_SOURCE[0]}")/lsan.supp \
        "$AGENT" --foreground --module "${AGENT_MODULE:-$SOFTHSM_MODULE}" "$@" \
        >>"$T/agent.log" 2>&1 &
    AGENT_PID=$!
    # Up to 30 s: under ASan on a loaded CI machine, loading every module
    # p11-kit registers took more than the 5 s this once allowed. A failed
    # start ends the wait at once (the agent exits).
    for _ in $(seq 1 600); do
        if [ -S "$TESSERA_SOCKET" ] && "$TESSERA" tokens >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "# the agent did not start" >&2
    return 1
}

# Every agent a test stops must exit 0: a crash, or under sanitizers a
# leak, at any restart fails the suite (see finish).
unclean_agent_exits=0
stop_agent() {
    if [ -n "$AGENT_PID" ]; then
        kill -TERM "$AGENT_PID" 2>/dev/null || true
        local status=0
        wait "$AGENT_PID" 2>/dev/null || status=$?
        if [ "$status" -ne 0 ]; then
            unclean_agent_exits=$((unclean_agent_exits + 1))
            echo "# agent $AGENT_PID exited with status $status (after test $tests_run)"
        fi
        AGENT_PID=
    fi
}

agent_alive() { [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID"; }

# not_listed NAME: `tessera list` answers (exit 0) and has no identity NAME
# (a list that fails lists nothing, and must not pass for that).
not_listed() {
    local out
    out=$("$TESSERA" list) || return 1
    ! grep -q "^$1 " <<<"$out"
}

unlock() { "$TESSERA" unlock --pin-file "$T/pin" "$@" >/dev/null; }

# enroll NAME KEYSPEC [TOKEN]: keygen on the token, issue by the test CA,
# import. The demo of the enrolment issue replaces this with `tessera enroll`.
enroll() {
    local name=$1 spec=$2 token=${3:-Test Token}
    "$TESSERA" keygen "$name" --token "$token" --key "$spec" \
        --subject "CN=$name,O=Tessera Test" --out "$T/$name.csr" &&
        issue "$T/ca" "$T/$name.csr" "$T/$name.pem" client.ext &&
        "$TESSERA" import "$name" --cert "$T/$name.pem"
}

# start_session_bus: a private D-Bus session bus for this test, stopped with
# it; DBUS_SESSION_BUS_ADDRESS names it.
start_session_bus() {
    dbus-daemon --session --fork --address="unix:path=$T/bus" \
        --print-address=3 --print-pid=4 3>"$T/bus.address" 4>"$T/bus.pid"
    SERVER_PIDS+=("$(cat "$T/bus.pid")")
    export DBUS_SESSION_BUS_ADDRESS
    DBUS_SESSION_BUS_ADDRESS=$(cat "$T/bus.address")
}
stop_session_bus() { kill "$(cat "$T/bus.pid")" 2>/dev/null || true; }

# wait_until SECONDS COMMAND...: true once COMMAND succeeds (its output
# dropped), false when SECONDS pass first.
wait_until() {
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}

# on_free_port NAME START READY: runs `START PORT` in the background on
# random 127.0.0.1 ports until `READY PORT` succeeds (START must exec the
# server, so that the pid is the server's). Sets PORT; the test's cleanup
# stops the server.
on_free_port() {
    local name=$1 start=$2 ready=$3
    for _ in $(seq 1 20); do
        PORT=$((20000 + RANDOM % 30000))
        "$start" "$PORT" &
        local pid=$!
        for _ in $(seq 1 100); do
            if "$ready" "$PORT"; then
                SERVER_PIDS+=("$pid")
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill "$pid" 2>/dev/null || true
    done
    echo "# $name did not start on a free port" >&2
    return 1
}

# start_server ARGS...: openssl s_server on a free 127.0.0.1 port, with the
# test CA's server certificate, requiring a client certificate (or only
# asking for one with S_SERVER_VERIFY=-verify). Sets PORT and SERVER_LOG.
start_server() {
    SERVER_LOG=$T/server.$RANDOM.log
    S_SERVER_ARGS=("$@")
    on_free_port s_server s_server_on s_server_ready
}
s_server_on() {
    exec openssl s_server -accept "127.0.0.1:$1" -cert "$T/server.pem" \
        -key "$T/server.key" -CAfile "$T/ca/ca.pem" "${S_SERVER_VERIFY:--Verify}" 1 \
        -verify_return_error "${S_SERVER_ARGS[@]}" >"$SERVER_LOG" 2>&1
}
s_server_ready() { grep -q '^ACCEPT' "$SERVER_LOG"; }

# start_frame_counter: a relay in front of the agent that logs the type of
# every request a client sends (frame_count.py). Sets COUNTER_SOCKET, the
# path for clients' TESSERA_SOCKET; `frames [TYPE]` counts what was sent
# (of that type, e.g. 04 for SIGN) since `: >"$COUNTER_LOG"`.
start_frame_counter() {
    COUNTER_SOCKET=$T/run/counter.sock COUNTER_LOG=$T/frames
    : >"$COUNTER_LOG"
    python3 "$(dirname "${BASH_SOURCE[0]}")/frame_count.py" "$COUNTER_SOCKET" \
        "$TESSERA_SOCKET" "$COUNTER_LOG" >"$T/counter.out" 2>&1 &
    SERVER_PIDS+=($!)
    for _ in $(seq 1 100); do
        [ -S "$COUNTER_SOCKET" ] && return 0
        sleep 0.05
    done
    return 1
}
frames() { grep -c "^${1:-}" "$COUNTER_LOG" || true; }

# check_exit DESCRIPTION STATUS PATTERN COMMAND...: exits STATUS, says PATTERN.
check_exit() {
    local desc=$1 want=$2 pattern=$3
    shift 3
    local status=0
    "$@" >"$T/out" 2>&1 || status=$?
    if [ "$status" -ne "$want" ]; then
        fail "$desc (exit status $status, not $want: $(head -c 300 "$T/out"))"
    elif grep -Eq -- "$pattern" "$T/out"; then
        pass "$desc"
    else
        fail "$desc (no /$pattern/ in: $(head -c 300 "$T/out"))"
    fi
}

# import_with_chain NAME KEYSPEC [CA_DIR]: as enroll, with the CA's
# certificate stored as the chain.
import_with_chain() {
    local name=$1 spec=$2 ca=${3:-$T/ca}
    "$TESSERA" keygen "$name" --token "Test Token" --key "$spec" \
        --subject "CN=$name,O=Tessera Test" --out "$T/$name.csr" &&
        issue "$ca" "$T/$name.csr" "$T/$name.pem" client.ext &&
        "$TESSERA" import "$name" --cert "$T/$name.pem" --chain "$ca/ca.pem"
}

# private_root DIR:TARGET... -- COMMAND...: COMMAND in a mount namespace of
# its own where each TARGET shows DIR's files: the machine's files (p11-kit's
# module registry, browser policies) change for it alone. In the background,
# `(exec unshare --mount bash -c "$PRIVATE_ROOT" - ARGS...) &` makes $! the
# command's pid.
PRIVATE_ROOT='while [ "$1" != -- ]; do mount --bind "${1%%:*}" "${1#*:}" || exit 1; shift; done
shift
exec "$@"'
private_root() { unshare --mount bash -c "$PRIVATE_ROOT" - "$@"; }

# ca_enroll NAME CA SUBJECT [ARGS...]: tessera enroll on "Test Token".
ca_enroll() {
    local name=$1 ca=$2 subject=$3
    shift 3
    "$TESSERA" enroll "$name" --token "Test Token" --ca "$ca" --subject "$subject" "$@"
}

# profile NAME KEY=VALUE...: a [ca NAME] group for agent.conf.
profile() {
    printf '[ca %s]\n' "$1"
    shift
    printf '%s\n' "$@"
}

# The identity keys on "Test Token"; ACME account keys (acme-account.NAME)
# are kept for the next order and not counted.
private_keys() {
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" --login \
        --pin "$PIN" --list-objects --type privkey 2>/dev/null |
        grep "label:" | grep -vc "acme-account\." || true
}

# Third-party servers and curl hang with the sanitizer runtime preloaded.
no_sanitizer() { env -u LD_PRELOAD "$@"; }

# start_pebble: Debian's ACME test server on free 127.0.0.1 ports, every
# authorization valid, its TLS certificate from the test CA (make_ca and
# make_server_cert first). Sets PEBBLE_DIR (the directory URL) and
# PEBBLE_ROOTS (its root and intermediate: what it issues chains to them).
# With PEBBLE_EAB_KID and PEBBLE_EAB_KEY (base64url) set, it requires an
# external account binding with that key id and HMAC key.
start_pebble() {
    on_free_port pebble pebble_on pebble_ready || return 1
    PEBBLE_DIR=https://127.0.0.1:$PORT/dir
    local mgmt=https://127.0.0.1:$((PORT + 1))
    no_sanitizer curl -sf --cacert "$T/ca/ca.pem" "$mgmt/roots/0" \
        >"$T/pebble-roots.pem" &&
        no_sanitizer curl -sf --cacert "$T/ca/ca.pem" \
            "$mgmt/intermediates/0" >>"$T/pebble-roots.pem"
    PEBBLE_ROOTS=$T/pebble-roots.pem
}
pebble_on() {
    local eab='"externalAccountBindingRequired": false'
    if [ -n "${PEBBLE_EAB_KID:-}" ]; then
        eab='"externalAccountBindingRequired": true,
  "externalAccountMACKeys": {"'$PEBBLE_EAB_KID'": "'$PEBBLE_EAB_KEY'"}'
    fi
    cat >"$T/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$1",
  "managementListenAddress": "127.0.0.1:$(($1 + 1))",
  "certificate": "$T/server.pem", "privateKey": "$T/server.key",
  "httpPort": $(($1 + 2)), "tlsPort": $(($1 + 3)),
  "ocspResponderURL": "", $eab}}
EOF
    PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 exec env -u LD_PRELOAD \
        pebble -config "$T/pebble.json" >"$T/pebble.log" 2>&1
}
pebble_ready() { grep -q "ACME directory available" "$T/pebble.log"; }

# start_scep CHALLENGE: the scep package's server on a free port, with a new
# CA in $T/scep-depot, issuing 1-day certificates for CHALLENGE. Sets
# SCEP_URL and SCEP_CA (the CA certificate to pin). The server listens on
# every address (it has no option to bind to one); the tests use loopback.
start_scep() {
    SCEP_CHALLENGE=$1
    no_sanitizer scepserver ca -init -depot "$T/scep-depot" -keySize 2048 \
        -organization "Tessera Test SCEP CA" >/dev/null 2>&1
    SCEP_CA=$T/scep-depot/ca.pem
    on_free_port scepserver scep_on scep_ready || return 1
    SCEP_URL=http://127.0.0.1:$PORT/scep
}
scep_on() {
    exec env -u LD_PRELOAD scepserver -depot "$T/scep-depot" -port "$1" \
        -challenge "$SCEP_CHALLENGE" -crtvalid 1 -allowrenew 0 >"$T/scep.log" 2>&1
}
scep_ready() {
    no_sanitizer curl -sf "http://127.0.0.1:$1/scep?operation=GetCACaps" >/dev/null
}

# start_radius CLIENT_CA: FreeRADIUS doing EAP-TLS on free 127.0.0.1 ports
# with the test CA's server certificate, accepting client certificates from
# CLIENT_CA (../shared/recipes/freeradius-eaptls.md). Sets RADIUS_PORT.
start_radius() {
    local R=$T/radius
    cp -a /etc/freeradius/3.0 "$R"
    RADIUS_PORT=$((20000 + RANDOM % 30000))
    sed -i -e 's/^\(\s*default_eap_type = \).*/\1tls/' \
        -e "s|^\(\s*private_key_file = \).*|\1$T/server.key|" \
        -e "s|^\(\s*certificate_file = \).*|\1$T/server.pem|" \
        -e "s|^\(\s*ca_file = \).*|\1$1|" \
        -e '/^\s*private_key_password = /d' "$R/mods-available/eap"
    # Listeners: the IPv6 ones go, the others bind 127.0.0.1 on free ports.
    awk -v auth="$RADIUS_PORT" -v acct="$((RADIUS_PORT + 1))" '
        /^listen \{/ { block = $0 "\n"; inside = 1; next }
        inside {
            block = block $0 "\n"
            if ($0 ~ /^}/) {
                inside = 0
                if (block ~ /\n[ \t]*ipv6addr = ::/) next
                n++
                sub(/\n[ \t]*ipaddr = \*/, "\n\tipaddr = 127.0.0.1", block)
                sub(/\n[ \t]*port = 0/, "\n\tport = " (n == 1 ? auth : acct), block)
                printf "%s", block
            }
            next
        }
        { print }' "$R/sites-available/default" >"$R/default.site"
    rm "$R/sites-enabled/default"
    mv "$R/default.site" "$R/sites-enabled/default"
    sed -i --follow-symlinks "s/port = 18120/port = $((RADIUS_PORT + 2))/" \
        "$R/sites-enabled/inner-tunnel"
    # Run as root here, so it can read the test's files.
    sed -i -e '/^\s*user = freerad/d' -e '/^\s*group = freerad/d' "$R/radiusd.conf"
    # The server is an ordinary OpenSSL program: the machine's own modules.
    env -u OPENSSL_CONF -u OPENSSL_MODULES -u LD_PRELOAD freeradius -X -d "$R" \
        >"$T/radius.log" 2>&1 &
    SERVER_PIDS+=($!)
    for _ in $(seq 1 100); do
        grep -q "Ready to process requests" "$T/radius.log" && return 0
        sleep 0.1
    done
    return 1
}

# eap_tls IDENTITY CERT KEY: one 802.1X EAP-TLS authentication by
# wpa_supplicant's eapol_test; prints SUCCESS or FAILURE last. The provider
# comes from OPENSSL_CONF.
eap_tls() {
    cat >"$T/eap-$1.conf" <<EOF
network={
  key_mgmt=WPA-EAP
  eap=TLS
  identity="$1"
  ca_cert="$T/ca/ca.pem"
  client_cert="$2"
  private_key="$3"
}
EOF
    timeout 60 eapol_test -c "$T/eap-$1.conf" -a 127.0.0.1 -p "$RADIUS_PORT" \
        -s testing123 -t 30
}

# eap_pkcs11 IDENTITY URI: the same with client_cert and private_key as the
# pkcs11: URI (;type=cert and ;type=private added), through libp11's engine
# pointed at tessera-pkcs11.so, as NetworkManager configures
# wpa_supplicant on Debian 12. libp11 loads modules only from under
# /usr/lib/: the build's module is mounted where meson installs it, in a
# namespace of its own. libp11 also loads OpenSSL's legacy provider, which
# the suites' OPENSSL_MODULES (the build's provider) does not hold.
P11_ENGINE=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
eap_pkcs11() {
    local installed
    installed=$(pkg-config --variable=p11_module_path p11-kit-1)
    cat >"$T/eap-engine-$1.conf" <<EOF
pkcs11_engine_path=$P11_ENGINE
pkcs11_module_path=$installed/tessera-pkcs11.so
network={
  key_mgmt=WPA-EAP
  eap=TLS
  identity="$1"
  ca_cert="$T/ca/ca.pem"
  client_cert="$2;type=cert"
  private_key="$2;type=private"
}
EOF
    env -u OPENSSL_MODULES unshare --mount bash -c "$PRIVATE_ROOT" - \
        "$TESSERA_BUILD/pkcs11:$installed" -- timeout 60 eapol_test \
        -c "$T/eap-engine-$1.conf" -a 127.0.0.1 -p "$RADIUS_PORT" -s testing123 -t 30
}

# handshake CERT KEY [s_client args]: a full mutual-TLS exchange through the
# provider; the -www server echoes the client certificate it verified.
handshake() {
    local cert=$1 key=$2
    shift 2
    printf 'GET / HTTP/1.0\r\n\r\n' |
        timeout 20 openssl s_client -provider default -provider tessera \
            -connect "127.0.0.1:$PORT" -CAfile "$T/ca/ca.pem" \
            -verify_return_error -cert "$cert" -key "$key" -ign_eof "$@"
}
