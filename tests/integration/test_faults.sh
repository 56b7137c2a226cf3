#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Bad input and faults: each gets a clear error, the agent keeps serving and
# nothing is lost. Concurrency, fork and agent restarts under real clients.
. "$(dirname "$0")/lib.sh"

SPY=/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"

check_fails "with no agent, the provider says it is not running and how to start it" \
    "Tessera agent is not running .*start it with" \
    "$HELPERS/sign_load" tessera:alice
check_fails "with no agent, the CLI exits 3 with the same sentence" \
    "Tessera agent is not running" "$TESSERA" list
status=0
"$TESSERA" list >/dev/null 2>&1 || status=$?
if [ "$status" -eq 3 ]; then pass "exit status 3 means no agent"; else fail "exit status 3 means no agent (got $status)"; fi

start_agent
unlock
enroll ec ec-p256
enroll rsa rsa2048

check_output "a provider client signs and verifies" "1 of 1 signed" \
    "$HELPERS/sign_load" tessera:ec
check_fails "an unknown identity is named in the error" \
    'no identity named "nobody"' "$HELPERS/sign_load" tessera:nobody

"$TESSERA" lock
check_fails "a locked token tells the client to run tessera unlock" \
    'token "Test Token" is locked: run `tessera unlock`' \
    "$HELPERS/sign_load" tessera:ec
check_fails "keygen on a locked token says so" "is locked" \
    "$TESSERA" keygen later --token "Test Token" --subject CN=later
unlock
check_output "after unlock the same identity signs again" "1 of 1 signed" \
    "$HELPERS/sign_load" tessera:ec

check_output "hostile frames get errors, not a crash or a hang" \
    "0 cases failed" "$HELPERS/wire_abuse"
check "the agent is still running after hostile frames" agent_alive
check_output "and still signs" "1 of 1 signed" "$HELPERS/sign_load" tessera:rsa

# 8 client processes x 200 signatures each, every one verified.
for key in ec rsa; do
    pids=()
    for i in $(seq 1 8); do
        "$HELPERS/sign_load" -n 200 "tessera:$key" >"$T/load.$i" 2>&1 &
        pids+=($!)
    done
    failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
    cat "$T"/load.* >"$T/out"
    if [ "$failed" -eq 0 ] && [ "$(grep -c '200 of 200 signed and verified' "$T/out")" -eq 8 ]; then
        pass "8 processes x 200 $key signatures, all verified"
    else
        fail "8 processes x 200 $key signatures ($failed processes failed)"
    fi
done
check_output "8 threads in one process sign concurrently" \
    "400 of 400 signed and verified" "$HELPERS/sign_load" -t 8 -n 50 tessera:ec
check_output "without polling for replies, signatures still verify" \
    "400 of 400 signed and verified" \
    env TESSERA_POLL_US=0 "$HELPERS/sign_load" -t 8 -n 50 tessera:ec
check_output "a malformed TESSERA_POLL_US falls back to the default" \
    "50 of 50 signed and verified" \
    env TESSERA_POLL_US=lots "$HELPERS/sign_load" -n 50 tessera:ec
check_output "RSA-PSS through the provider" "20 of 20 signed and verified" \
    "$HELPERS/sign_load" -p -n 20 tessera:rsa
check_output "a forked child reconnects and signs beside its parent" \
    "child: 20 signed and verified" "$HELPERS/sign_load" -f -n 20 tessera:ec
check_output "children forked while 8 threads sign start with no connection or held lock" \
    "^20 of 20 children forked" timeout 60 "$HELPERS/client_pool" fork ec
check_output "a process's idle connections are closed: one left after 2 s idle" \
    "^1 sockets open after 2 s idle" timeout 60 "$HELPERS/client_pool" idle ec
check_output "16 signing threads share a process's 2 connections" \
    "^at most [12] sockets open while 16 threads signed" timeout 60 "$HELPERS/client_pool" cap ec

# A client holding a connection survives an agent restart.
"$HELPERS/sign_load" -w "$T/go" -n 5 tessera:ec >"$T/restart.out" 2>&1 &
client=$!
for _ in $(seq 1 100); do grep -q paused "$T/restart.out" && break; sleep 0.05; done
stop_agent
start_agent
unlock
touch "$T/go"
if wait "$client"; then pass "a client reconnects after the agent restarts"; else
    cp "$T/restart.out" "$T/out"; fail "a client reconnects after the agent restarts"; fi

# Wrong PIN: one C_Login, never retried, the PIN never logged. OpenSC's
# pkcs11-spy sits between the agent and SoftHSM2 and records every call.
stop_agent
export PKCS11SPY=$SOFTHSM_MODULE PKCS11SPY_OUTPUT=$T/spy.log
AGENT_MODULE=$SPY start_agent
printf '99887766\n' >"$T/wrong-pin"
chmod 600 "$T/wrong-pin"
check_fails "a wrong PIN is reported as wrong" \
    'wrong PIN for token "Test Token"; it was tried once and will not be retried' \
    "$TESSERA" unlock --pin-file "$T/wrong-pin"
logins=$(grep -c 'C_Login' "$T/spy.log" || true)
if [ "$logins" -eq 1 ]; then pass "the wrong PIN cost exactly one C_Login"; else
    fail "the wrong PIN cost exactly one C_Login (saw $logins)"; fi
check_fails "the token stays locked" "is locked" "$HELPERS/sign_load" tessera:ec
check "the right PIN then unlocks" unlock
# Unlocked, C_Login would take any PIN: the agent checks it (C_SetPIN to
# itself) and the login stays.
check_fails "a wrong PIN while the token is unlocked is reported as wrong" \
    'wrong PIN for token "Test Token"; it was tried once and will not be retried \(the token stays unlocked' \
    "$TESSERA" unlock --pin-file "$T/wrong-pin"
check_output "checked by one C_SetPIN, with no C_Logout" "^1 0$" \
    bash -c "echo \$(grep -c 'C_SetPIN' '$T/spy.log') \$(grep -c 'C_Logout' '$T/spy.log')"
check_output "and the login survives it" "1 of 1 signed" "$HELPERS/sign_load" tessera:ec
check_output "the right PIN while unlocked still succeeds" "^unlocked" \
    "$TESSERA" unlock --pin-file "$T/pin"
"$TESSERA" lock >/dev/null
check "and the PIN on the token is unchanged" unlock
if grep -q -e 99887766 -e "$PIN" "$T/agent.log"; then fail "no PIN appears in the agent log"; else
    pass "no PIN appears in the agent log"; fi
unset PKCS11SPY PKCS11SPY_OUTPUT
# The spy module leaks at finalize; the rest runs on SoftHSM2 directly.
stop_agent
start_agent
unlock

# Another uid is refused: the socket directory keeps it out...
chmod 755 "$T"
check_fails "a client of another uid cannot reach the socket, and hears it is another user's" \
    "in a directory of uid 0 \(root\), which you cannot enter: any agent there is another user's" \
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env TESSERA_SOCKET="$TESSERA_SOCKET" "$TESSERA" list
# ...and where it can reach it (root can), SO_PEERCRED refuses it.
N=$T/nobody
mkdir -p "$N/tokens"
sed "s|$T/tokens|$N/tokens|" "$SOFTHSM2_CONF" >"$N/softhsm2.conf"
chown -R nobody:nogroup "$N"
# exec: run in the background, the function's subshell must become the
# agent, or killing $! would leave the agent running.
as_nobody() {
    exec setpriv --reuid=nobody --regid=nogroup --clear-groups env \
        SOFTHSM2_CONF="$N/softhsm2.conf" XDG_RUNTIME_DIR="$N/run" \
        XDG_STATE_HOME="$N/state" XDG_CONFIG_HOME="$N/config" "$@"
}
(as_nobody softhsm2-util --init-token --free --label "Nobody" --so-pin "$SO_PIN" \
    --pin "$PIN" >/dev/null)
# Root is served by default (allow-root=true, as ssh-agent does): refused
# here so that a uid that is not the agent's is.
mkdir -p "$N/config/tessera"
printf '[agent]\nallow-root=false\n' >"$N/config/tessera/agent.conf"
chown -R nobody:nogroup "$N/config"
as_nobody "$AGENT" --foreground --module "$SOFTHSM_MODULE" \
    --socket "$N/run/agent.sock" >"$T/nobody-agent.log" 2>&1 &
nobody_agent=$!
for _ in $(seq 1 600); do [ -S "$N/run/agent.sock" ] && break; sleep 0.05; done
check_exit "a client refuses the agent of another user before sending anything" 3 \
    "the socket $N/run/agent.sock is in a directory others control \(the directory $N/run belongs to uid 65534 \(nobody\)\)" \
    env TESSERA_SOCKET="$N/run/agent.sock" "$TESSERA" tokens
check_output "and the agent refuses a peer whose uid is not its own" \
    "^ok - an agent refuses a peer of another uid" \
    env TESSERA_SOCKET="$N/run/agent.sock" "$HELPERS/wire_abuse" --denied
check_output "and logs the refusal" \
    "refused a connection: this Tessera agent serves only its own user: root is refused \(allow-root=false" \
    cat "$T/nobody-agent.log"
printf '[agent]\n' >"$N/config/tessera/agent.conf"
kill -HUP "$nobody_agent"
greeted() {
    for _ in $(seq 1 50); do
        TESSERA_SOCKET="$N/run/agent.sock" "$HELPERS/wire_abuse" --served >/dev/null && break
        sleep 0.1
    done
    TESSERA_SOCKET="$N/run/agent.sock" "$HELPERS/wire_abuse" --served
}
check_output "without allow-root=false (after a SIGHUP) the user's agent serves root" \
    "^ok - an agent greets a peer it serves" greeted
kill "$nobody_agent"
status=0
wait "$nobody_agent" || status=$?
check "the other user's agent stops on SIGTERM" test "$status" -eq 0

# A squatter: another user got to the socket's path first where the runtime
# directory is shared, and swallows whatever comes (socat into a file). The
# PIN must never reach it, and the client must say who it found. (A client
# that did send would wait for a reply that never comes: timeout.)
S=$T/shared-run
mkdir -m 1777 "$S"
mkdir "$T/squat"
chown nobody:nogroup "$T/squat"
squat() { # SOCKET: listen as nobody, appending what arrives to squat.log
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        socat -u "UNIX-LISTEN:$1,fork" "OPEN:$T/squat/squat.log,creat,append" &
    SERVER_PIDS+=($!)
    for _ in $(seq 1 600); do [ -S "$1" ] && return 0; sleep 0.05; done
    return 1
}
setpriv --reuid=nobody --regid=nogroup --clear-groups mkdir -m 755 "$S/tessera"
squat "$S/tessera/agent.sock"
check_exit "unlock against a squatter's socket refuses, naming the owner" 3 \
    "the socket $S/tessera/agent.sock is in a directory others control \(the directory $S/tessera belongs to uid 65534 \(nobody\)\), not yours alone: refusing to send anything" \
    timeout 10 env -u TESSERA_SOCKET XDG_RUNTIME_DIR="$S" "$TESSERA" unlock --pin-file "$T/pin"
check_fails "and the provider refuses too" "belongs to uid 65534 \(nobody\)" \
    timeout 10 env -u TESSERA_SOCKET XDG_RUNTIME_DIR="$S" "$HELPERS/sign_load" tessera:ec
# The same socket moved into a directory of ours: only who serves it is
# left to tell, and SO_PEERCRED does.
mkdir -m 700 "$T/ours"
mv "$S/tessera/agent.sock" "$T/ours/agent.sock"
check_exit "a socket in our own directory served by another uid is refused" 3 \
    "the socket $T/ours/agent.sock is served by uid 65534 \(nobody\), not by you: refusing to send anything" \
    timeout 10 env TESSERA_SOCKET="$T/ours/agent.sock" "$TESSERA" unlock --pin-file "$T/pin"
check_fails "and by the provider" "is served by uid 65534 \(nobody\), not by you" \
    timeout 10 env TESSERA_SOCKET="$T/ours/agent.sock" "$HELPERS/sign_load" tessera:ec
check "the squatter was reached (the test is real)" \
    bash -c "socat -u OPEN:/dev/null UNIX-CONNECT:'$T/ours/agent.sock' && sleep 0.2 && test -e '$T/squat/squat.log'"
check "and received not one byte from Tessera: no PIN, no HELLO" \
    test ! -s "$T/squat/squat.log"
check_fails "with no agent at all, the sentence says so instead" \
    "the Tessera agent is not running \(no socket at $T/ours/none.sock\)" \
    env TESSERA_SOCKET="$T/ours/none.sock" "$TESSERA" tokens
chmod 770 "$T/ours"
check_exit "a socket directory its group can write is refused" 3 \
    "the directory $T/ours is writable by its group \(mode 0770\)" \
    env TESSERA_SOCKET="$T/ours/agent.sock" "$TESSERA" tokens

# SIGTERM stops the agent cleanly and removes its socket.
kill -TERM "$AGENT_PID"
status=0
wait "$AGENT_PID" || status=$?
AGENT_PID=
if [ "$status" -eq 0 ] && [ ! -e "$TESSERA_SOCKET" ]; then
    pass "SIGTERM stops the agent with status 0 and removes the socket"
else
    fail "SIGTERM stops the agent cleanly (status $status)"
fi

finish
