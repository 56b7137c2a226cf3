#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What real tokens do and SoftHSM2 does not, through the fault-injecting
# module (tests/faulty/): the last PIN try, a low PIN counter, sessions and
# key handles the token forgot, a token that errs while signing, and a
# token pulled out of its reader and put back.
. "$(dirname "$0")/lib.sh"
# Ed25519 signatures meet SoftHSM2's leak in C_SignInit (lsan.supp), whose
# frames only the slow unwinder reaches through libcrypto.
export AGENT_ASAN_OPTIONS=fast_unwind_on_malloc=0

export FAULTY_CONTROL=$T/faults FAULTY_LOG=$T/calls
: >"$FAULTY_CONTROL"
: >"$FAULTY_LOG"
fault() { printf '%s\n' "$@" >"$FAULTY_CONTROL"; }
calls() { grep -c "^$1$" "$FAULTY_LOG" || true; }

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
mkdir -p "$XDG_CONFIG_HOME/tessera"
{
    printf '[agent]\nslot-poll-seconds=1\n'
    # Certificates due for renewal 10 s after issue.
    profile short protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" \
        validity-seconds=20 renew-at-percent=50 renew-jitter-percent=0
} >"$XDG_CONFIG_HOME/tessera/agent.conf"
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
wait_log() { # PATTERN [SEEN]: the agent logs it (more than SEEN times) within 10 s
    for _ in $(seq 1 200); do
        [ "$(log_count "$1")" -gt "${2:-0}" ] && return 0
        sleep 0.05
    done
    return 1
}
log_count() { grep -c -- "$1" "$T/agent.log" || true; }
wait_log_for() { # SECONDS PATTERN: the agent logs it (an extended regex) within SECONDS
    for _ in $(seq 1 $(($1 * 20))); do
        grep -Eq -- "$2" "$T/agent.log" && return 0
        sleep 0.05
    done
    return 1
}
wait_until_listed() { # NAME STATE: within 30 s
    for _ in $(seq 1 300); do
        "$TESSERA" list | grep -q "^$1 .*$2" && return 0
        sleep 0.1
    done
    return 1
}

# --- PIN policy
fault final_try=1
check_output "tessera tokens shows the final PIN try" "locked,pin-final-try" "$TESSERA" tokens
check_fails "at the final try, unlock refuses without --force" \
    "one PIN try left; a wrong PIN will block it. Re-run with --force" \
    "$TESSERA" unlock --pin-file "$T/pin"
check_output "and never called C_Login" "^0$" calls C_Login
check_output "with --force it spends the try, once" "unlocked" \
    "$TESSERA" unlock --pin-file "$T/pin" --force
check_output "one C_Login in all" "^1$" calls C_Login
# A PIN given while unlocked is checked, without logging out (test_faults.sh
# has the wrong one), except where checking would change the token's state.
fault
check_output "a PIN given while unlocked is checked with one C_SetPIN" \
    "unlocked" "$TESSERA" unlock --pin-file "$T/pin"
check_output "one C_SetPIN, no second C_Login" "^1 1$" \
    bash -c "echo \$(grep -c '^C_SetPIN$' '$FAULTY_LOG') \$(grep -c '^C_Login$' '$FAULTY_LOG')"
fault pin_to_be_changed=1
check_fails "a token waiting for a new PIN cannot check one while unlocked, and says so" \
    "is unlocked already and cannot check a PIN while it is, so the PIN was not checked" \
    "$TESSERA" unlock --pin-file "$T/pin"
check_output "and was not asked to" "^1$" calls C_SetPIN
fault
fault count_low=1
check_output "a low PIN counter is shown" "unlocked,pin-count-low" "$TESSERA" tokens
fault

# --- a token without EdDSA, as TPMs and most cards
fault no_eddsa=1
check_fails "an Ed25519 key on a token without CKM_EDDSA is refused up front" \
    'token "Test Token" cannot make Ed25519 keys \(it offers no CKM_EC_EDWARDS_KEY_PAIR_GEN\): choose ec-p256' \
    "$TESSERA" keygen noed --token "Test Token" --key ed25519 --subject CN=noed
check_output "before any key generation was tried" "^0$" calls "hidden mechanism"
check "and nothing named noed is left" not_listed noed
fault
check "with the mechanisms offered, the same request makes the key" \
    "$TESSERA" keygen noed --token "Test Token" --key ed25519 --subject CN=noed \
    --out "$T/noed.csr"

enroll ec ec-p256
check_output "SIGN requests whose scheme, key or input do not fit get errors" \
    "0 cases failed" "$HELPERS/wire_abuse" ec noed
sign() { "$HELPERS/sign_load" -n "${1:-5}" tessera:ec; }
check_output "signing works through the faulty module" "5 of 5 signed" sign

# --- recovery the walking skeleton could not test
before=$(calls C_SignInit)
fault stale_sessions=1
check_output "a session the token forgot is replaced and the signature made" \
    "5 of 5 signed" sign
check_output "one extra C_SignInit: the retry" "^$((before + 6))$" calls C_SignInit
before=$(calls C_SignInit)
fault stale_keys=1
check_output "a key handle the token forgot is found again" "5 of 5 signed" sign
check_output "again one retry" "^$((before + 6))$" calls C_SignInit

fault sign_error=0x30
check_fails "a token that errs mid-signature gives a clear error" \
    'token "Test Token" .*(CKR_DEVICE_ERROR|device)' sign 1
fault
check_output "and the next signature works" "5 of 5 signed" sign
# Every failed signature was one log line (4,862 in 2 s when a token
# vanished under a busy client): now one, then the count. (CKR_FUNCTION_FAILED:
# the device error above is logged already, in this window.)
fault sign_error=0x6
failures=$(log_count 'identity ec on token "Test Token": .* operation failed$')
"$HELPERS/sign_load" -n 300 tessera:ec >/dev/null 2>&1 || true
check_output "300 failed signatures make one log line" "^1$" \
    bash -c "echo \$((\$(grep -c 'identity ec on token \"Test Token\": .* operation failed\$' '$T/agent.log') - $failures))"
check "and, when the window ends, one with their count" \
    wait_log_for 15 'identity ec on token "Test Token": .* operation failed \(299 more times in 10 s, logged once\)'
fault

# --- a blocked PIN, a slow token
fault pin_locked=1
logins=$(calls C_Login)
check_fails "a blocked PIN is reported, even with --force" \
    "the PIN of token \"Test Token\" is blocked" "$TESSERA" unlock --pin-file "$T/pin" --force
check_output "and no C_Login is tried" "^$logins$" calls C_Login
fault sign_delay_ms=700
"$HELPERS/sign_load" -n 2 tessera:ec >"$T/slow.out" 2>&1 &
slow=$!
sleep 0.3
check "while a slow signature is in flight the agent answers other requests" \
    bash -c "kill -0 $slow && '$TESSERA' list >/dev/null && kill -0 $slow"
status=0
wait "$slow" || status=$?
check_output "and the slow signatures complete" "2 of 2 signed" \
    bash -c "[ $status -eq 0 ] && cat '$T/slow.out'"
rescans=$(log_count "the tokens changed")
back=$(log_count "is back")
fault sign_delay_ms=700
"$HELPERS/sign_load" -n 1 tessera:ec >"$T/pulled.out" 2>&1 &
slow=$!
sleep 0.3
fault sign_delay_ms=700 removed=1
status=0
wait "$slow" || status=$?
check_output "a card pulled out mid-signature fails it with a clear error" \
    'token "Test Token" is not present: insert it' \
    bash -c "[ $status -ne 0 ] && cat '$T/pulled.out'"
check_output "and the agent keeps serving" "^ec " "$TESSERA" list
# It stays out: the next section puts it back.

# --- pulled out and put back (the card above is still out)
fault removed=1
check_fails "with the token pulled out, a client hears it is not present" \
    'token "Test Token" is not present: insert it' sign 1
check_output "tessera list says token absent" "^ec .*token absent" "$TESSERA" list
fault removed=1 # and stays out: the agent notices by itself
check "the slot poller notices on its own (no SIGHUP)" \
    wait_log "the tokens changed: rescanning" "$rescans"
check_output "the identity stays listed, as absent" "^ec .*token absent" "$TESSERA" list
check_output "tessera tokens says absent" "Test Token .* absent" "$TESSERA" tokens
fault
check "put back, the poller notices again" wait_log 'is back; unlock it again' "$back"
check_output "put back, the token is seen and starts locked" "Test Token .* locked" "$TESSERA" tokens
check_fails "so signing asks for the PIN again" "is locked: run .tessera unlock." sign 1
logins=$(calls C_Login)
unlock
check_output "after unlock the identity works again, without a restart" "5 of 5 signed" sign
check_output "with exactly one more C_Login" "^$((logins + 1))$" calls C_Login

# A renewal that falls due while the token is out waits for it, without
# counting a failure, and runs once it is back and unlocked.
ca_enroll soon short CN=soon >/dev/null 2>&1
fault removed=1
check "a due renewal with the token out waits for the token" \
    wait_until_listed soon "waiting for token"
check_output "and says so in the log, not as a failure" \
    "identity soon is due for renewal: waiting for token" cat "$T/agent.log"
check_output "without counting a failure: its renewal waits for the token" \
    '^waiting for token$' \
    bash -o pipefail -c "'$TESSERA' list --json | jq -r '.[] | select(.name == \"soon\") | .renewal'"
back=$(log_count 'is back; unlock it again')
fault
wait_log 'is back; unlock it again' "$back"
unlock
check "back and unlocked, it renews" wait_log "renewed soon with CA short"
# A token plugged in while the agent runs is found without a restart.
# (SoftHSM2 fixes its slots at C_Initialize, so "plugged in" is a token the
# faulty module hides until then.)
stop_agent
fault removed=1
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
check_output "an agent started with the token out lists no token, and exits 0" \
    '^\[\]$' "$TESSERA" tokens --json
check_output "and the table is its header alone" '^1$' \
    bash -o pipefail -c "'$TESSERA' tokens | wc -l"
check_output "and no identity" '^\[\]$' "$TESSERA" list --json
fault
check "plugged in, the token is found by the poller" wait_log 'token "Test Token" appeared'
# The log line comes when the token is found, the listing once its keys
# are read too.
listed_locked() {
    for _ in $(seq 1 100); do
        "$TESSERA" tokens | grep -q "Test Token .* locked" && return 0
        sleep 0.05
    done
    "$TESSERA" tokens
    return 1
}
check "and listed, locked" listed_locked
unlock
check_output "and its identity signs" "5 of 5 signed" sign
# A token that allows two sessions: one keeps the login, one signs.
stop_agent
fault max_sessions=2
: >"$FAULTY_LOG"
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
unlock
check_output "8 threads sign through a token that allows 2 sessions" \
    "80 of 80 signed and verified" "$HELPERS/sign_load" -t 8 -n 10 tessera:ec
peak=$(awk '/^sessions/ {if ($2 > max) max = $2} END {print max + 0}' "$FAULTY_LOG")
check "the agent never had more than 2 sessions open (peak $peak)" test "$peak" -le 2
fault

# idle-lock: logged out that long after the last signature.
stop_agent
printf '[agent]\nslot-poll-seconds=1\n[token Test Token]\nidle-lock=1\n' \
    >"$XDG_CONFIG_HOME/tessera/agent.conf"
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
unlock
check_output "an idle-lock token signs while in use" "5 of 5 signed" sign
check "a second after the last signature it locks itself" \
    wait_log 'token "Test Token" locked after 1 s without a signature'
check_output "and says so" "Test Token .* locked" "$TESSERA" tokens
check_fails "so the next signature asks for the PIN" "is locked: run .tessera unlock." sign 1
# A PIN-pad token whose key asks before every signature (smartcards' non-
# repudiation keys): the pad confirms each one.
stop_agent
{
    printf '[agent]\nslot-poll-seconds=1\n'
    # Certificates due for renewal 10 s after issue.
    profile short protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" \
        validity-seconds=20 renew-at-percent=50 renew-jitter-percent=0
} >"$XDG_CONFIG_HOME/tessera/agent.conf"
fault protected_path=1 always_auth=1
export FAULTY_PINPAD_PIN=$PIN
: >"$FAULTY_LOG"
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
check_output "unlock on a PIN-pad token asks for no PIN here" \
    "enter the PIN on the token's PIN pad" bash -c "'$TESSERA' unlock 'Test Token' </dev/null"
check_output "a key with CKA_ALWAYS_AUTHENTICATE signs on a PIN-pad token" \
    "5 of 5 signed" sign
check_output "with one context-specific login per signature" "^5$" calls "C_Login context"
stop_agent
# While someone types on a PIN pad (a C_Login that takes seconds) the agent
# answers everyone else at once: no lock is held across C_Login.
start_session_bus
fault protected_path=1 login_delay_ms=6000
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
for _ in $(seq 1 100); do grep -q "serving org.tessera.Agent1" "$T/agent.log" && break; sleep 0.05; done
bus_call() { # PATH METHOD ARGS...
    local path=$1 method=$2
    shift 2
    timeout 20 gdbus call --session --dest org.tessera.Agent1 --object-path "$path" \
        --method "$method" "$@"
}
TOKEN_PATH=$(bus_call /org/tessera/Agent1 org.freedesktop.DBus.ObjectManager.GetManagedObjects |
    grep -o "/org/tessera/Agent1/token/Test_20Token[^']*" | head -1)
logins=$(calls C_Login)
"$TESSERA" unlock 'Test Token' </dev/null >"$T/pinpad.out" 2>&1 &
typing=$!
for _ in $(seq 1 100); do [ "$(calls C_Login)" -gt "$logins" ] && break; sleep 0.05; done
# prompt DESCRIPTION COMMAND...: it succeeds within 2 s while the login
# (6 s) is still going on.
prompt() {
    local desc=$1 start elapsed
    shift
    start=$(date +%s%N)
    if ! "$@" >"$T/out" 2>&1; then
        fail "$desc (it failed)"
        return
    fi
    elapsed=$((($(date +%s%N) - start) / 1000000))
    if [ "$elapsed" -lt 2000 ] && kill -0 "$typing" 2>/dev/null; then
        pass "$desc (${elapsed} ms)"
    else
        fail "$desc (${elapsed} ms; the login still going: $(kill -0 "$typing" 2>/dev/null && echo yes || echo no))"
    fi
}
prompt "during a 6 s PIN-pad login, tessera list answers within 2 s" "$TESSERA" list
prompt "so does tessera tokens" "$TESSERA" tokens
prompt "and D-Bus Reload (a rescan of that token)" bus_call /org/tessera/Agent1 org.tessera.Agent1.Reload
prompt "and a D-Bus property read" \
    bus_call "$TOKEN_PATH" org.freedesktop.DBus.Properties.Get org.tessera.Agent1.Token LoggedIn
status=0
wait "$typing" || status=$?
check_output "and the login then completes" "unlocked" \
    bash -c "[ $status -eq 0 ] && cat '$T/pinpad.out'"
stop_agent
stop_session_bus
unset DBUS_SESSION_BUS_ADDRESS
fault always_auth=1
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
unlock
check_fails "without a PIN pad such a key is refused, with the reason" \
    "asks for the PIN before every signature .* only on tokens with a PIN pad" sign 1
fault

# lock-on-suspend: logind's PrepareForSleep on the system bus locks the
# token. A private dbus-daemon is the system bus, fake_logind.py logind.
stop_agent
printf '[token Test Token]\nlock-on-suspend=true\n' >"$XDG_CONFIG_HOME/tessera/agent.conf"
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/no-system-bus start_agent
check_output "without a system bus the agent says lock-on-suspend is off" \
    "no system bus .*lock-on-suspend is off" cat "$T/agent.log"
stop_agent
dbus-daemon --session --address="unix:path=$T/system-bus" --fork --print-pid=3 \
    3>"$T/system-bus.pid"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/system-bus
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
unlock
check_output "with one, signing works until the machine sleeps" "5 of 5 signed" sign
check_output "logind announces sleep" "announced sleep" \
    /usr/bin/python3 "$(dirname "$0")/fake_logind.py"
check "and the token is locked for it" wait_log 'token "Test Token" locked for suspend'
check_output "tessera tokens says locked" "Test Token .* locked" "$TESSERA" tokens
kill "$(cat "$T/system-bus.pid")" 2>/dev/null || true
sleep 0.2
check "the agent outlives the system bus" agent_alive
check_output "and still serves" "Test Token" "$TESSERA" tokens
unset DBUS_SYSTEM_BUS_ADDRESS

# Slot events: a module with C_WaitForSlotEvent (OpenSC's kind) is not
# polled; the agent waits for its events. Polling is off here to prove it.
stop_agent
printf '[agent]\nslot-poll-seconds=0\n' >"$XDG_CONFIG_HOME/tessera/agent.conf"
fault slot_events=1
: >"$FAULTY_LOG"
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
check_output "the agent waits for the module's slot events" \
    "waiting for slot events from" cat "$T/agent.log"
unlock
seen=$(log_count "is not present")
fault slot_events=1 removed=1
check "a removal event is seen without polling" wait_log "is not present" "$seen"
check_output "the module reported it" "slot event" cat "$FAULTY_LOG"
seen=$(log_count "is back")
fault slot_events=1
check "and so is the insertion" wait_log "is back" "$seen"
unlock
check_output "and the identity signs again" "5 of 5 signed" sign
fault

# pin-source: a headless token unlocks from its file, at start and when it
# returns, and refuses typed PINs; pin-source=none never unlocks.
stop_agent
printf '[agent]\nslot-poll-seconds=1\n[token Test Token]\npin-file=%s\n' "$T/pin" \
    >"$XDG_CONFIG_HOME/tessera/agent.conf"
: >"$FAULTY_LOG"
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
check_output "a token with a pin-file is unlocked at start" "Test Token .* unlocked" \
    "$TESSERA" tokens
check_fails "and refuses a typed PIN" "takes its PIN from its pin-file" \
    "$TESSERA" unlock --pin-file "$T/pin"
seen=$(log_count "is back")
unlocked=$(log_count 'token "Test Token" unlocked')
fault removed=1
wait_log "is not present" "$(log_count "is not present")" || true
fault
check "pulled out and put back" wait_log "is back" "$seen"
check "it logs in again from its file" wait_log 'token "Test Token" unlocked' "$unlocked"
check_output "with exactly one more C_Login" "^2$" calls C_Login
stop_agent
printf '[token Test Token]\npin-source=none\n' >"$XDG_CONFIG_HOME/tessera/agent.conf"
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
check_fails "pin-source=none refuses unlock" "is never unlocked \(pin-source=none" \
    "$TESSERA" unlock --pin-file "$T/pin"
printf '[token Test Token]\npin-source=sometimes\n' >"$XDG_CONFIG_HOME/tessera/agent.conf"
check_fails "an unknown pin-source stops the agent with a clear message" \
    "pin-source must be prompt, file, none or empty" "$AGENT" --foreground --module "$SOFTHSM_MODULE" \
    --socket "$T/other.sock"
printf '[token Test Token]\npin-source=file\n' >"$XDG_CONFIG_HOME/tessera/agent.conf"
check_fails "so does pin-source=file without a pin-file" "pin-source=file needs a pin-file" \
    "$AGENT" --foreground --module "$SOFTHSM_MODULE" --socket "$T/other.sock"
# Every other new key refuses a bad value the same way, naming it.
bad_config() { # DESCRIPTION CONFIG MESSAGE
    printf '%b' "$2" >"$XDG_CONFIG_HOME/tessera/agent.conf"
    check_fails "$1" "$3" "$AGENT" --foreground --module "$SOFTHSM_MODULE" \
        --socket "$T/other.sock"
}
bad_config "idle-lock must be seconds" '[token Test Token]\nidle-lock=soon\n' \
    "\\[token Test Token\\] idle-lock must be a number of seconds"
bad_config "idle-lock may not be negative" '[token Test Token]\nidle-lock=-5\n' \
    "idle-lock must be a number of seconds"
bad_config "lock-on-suspend must be a boolean" '[token Test Token]\nlock-on-suspend=maybe\n' \
    "lock-on-suspend must be true or false"
bad_config "slot-poll-seconds must be in range" '[agent]\nslot-poll-seconds=99999\n' \
    "slot-poll-seconds must be 0 to 3600"
bad_config "expiring-days must be whole days" '[agent]\nexpiring-days=14;soon\n' \
    "expiring-days must be whole days"
bad_config "notifications must be a boolean" '[agent]\nnotifications=loud\n' \
    "notifications must be true or false"
bad_config "a renewal percentage out of range" '[ca corp]\nrenew-at-percent=20\n' \
    "\\[ca corp\\] renew-at-percent must be 50 to 95"
bad_config "rekey must be a boolean" '[identity laptop]\nrekey=sometimes\n' \
    "\\[identity laptop\\] rekey must be true or false"
check "the agent ran throughout" agent_alive

# Quiet defaults with every module p11-kit registers (Debian's: SoftHSM2,
# OpenSC, p11-kit-trust, tpm2-pkcs11 with no TPM here).
stop_agent
rm -f "$XDG_CONFIG_HOME/tessera/agent.conf"
: >"$T/default.log"
"$AGENT" --foreground >"$T/default.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 200); do "$TESSERA" tokens >/dev/null 2>&1 && break; sleep 0.05; done
check_output "the default modules serve SoftHSM2's token" "Test Token .* softhsm2$" \
    "$TESSERA" tokens
tokens_without() { local out; out=$("$TESSERA" tokens) && ! grep -q "$1" <<<"$out"; }
check "p11-kit's trust module, which holds no keys, is not used: no System Trust" \
    tokens_without "System Trust"
check_absent "a module that fails to initialise prints nothing by default (TCTI, CRITICAL)" \
    "tcti|TCTI|CRITICAL|tpm ctx|WARNING" "$T/default.log"
"$AGENT" --foreground -v >"$T/second.log" 2>&1 || true
check_output "a second agent says another serves the socket" "another agent is already serving" \
    cat "$T/second.log"
check_absent "and says it before loading any module" "PKCS#11 module|token \"" "$T/second.log"
stop_agent
"$AGENT" --foreground -v >"$T/verbose.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 200); do "$TESSERA" tokens >/dev/null 2>&1 && break; sleep 0.05; done
stop_agent
check_output "with -v a failed module is one INFO line" \
    "INFO: .*PKCS#11 module tpm2_pkcs11 is not used: it failed to initialise" cat "$T/verbose.log"
check_output "and the trust module one line" \
    "INFO: .*PKCS#11 module p11-kit-trust holds trust anchors only: not used" cat "$T/verbose.log"
check_output "what the TPM module printed is kept for the debug log" \
    "DEBUG: .*PKCS#11 module tpm2_pkcs11 said while initialising" cat "$T/verbose.log"
check_output "a module whose slot events fail (OpenSC's here) is polled, said as INFO" \
    "INFO: .*opensc-pkcs11 reports no slot events after all .*: polling its slots" \
    cat "$T/verbose.log"
check_absent "and the agent warns of nothing" "tessera-agent-WARNING" "$T/verbose.log"

# Without --foreground the agent leaves the terminal: its log goes to the
# journal (a private /run with a journal socket of the test's own).
mkdir -p "$T/run/systemd/journal"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536) + b"\n--\n")
' "$T/run/systemd/journal/socket" "$T/journal" &
SERVER_PIDS+=("$!")
for _ in $(seq 1 100); do [ -S "$T/run/systemd/journal/socket" ] && break; sleep 0.05; done
private_root "$T/run:/run" -- "$AGENT" --module "$SOFTHSM_MODULE" >"$T/background.out" 2>&1
for _ in $(seq 1 100); do "$TESSERA" tokens >/dev/null 2>&1 && break; sleep 0.05; done
unlock "Test Token"
check_output "the background agent serves" "Test Token .* unlocked" "$TESSERA" tokens
for _ in $(seq 1 100); do grep -q 'token "Test Token" unlocked' "$T/journal" 2>/dev/null && break; sleep 0.05; done
check_output "its log reaches the journal" 'MESSAGE=token "Test Token" unlocked' cat "$T/journal"
check_output "with its priority" "PRIORITY=5" cat "$T/journal"
"$TESSERA" lock >/dev/null
# The agent that serves the socket, by its SO_PEERCRED: it left no pid.
background_pid=$(python3 -c '
import os, socket, struct
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["TESSERA_SOCKET"])
print(struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0])')
kill -TERM "$background_pid"
for _ in $(seq 1 100); do "$TESSERA" tokens >/dev/null 2>&1 || break; sleep 0.05; done
check "and nothing more reached the terminal that started it" test ! -s "$T/background.out"

# A wrong PIN in a pin-file was tried again at every re-insertion (each a
# try off the token's counter) while the log said it would not be.
stop_agent
printf '000000\n' >"$T/file.pin"
chmod 600 "$T/file.pin"
printf '[agent]\nslot-poll-seconds=1\n[token Test Token]\npin-file=%s\n' "$T/file.pin" \
    >"$XDG_CONFIG_HOME/tessera/agent.conf"
fault
: >"$FAULTY_LOG"
AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so start_agent
check_output "a wrong PIN in the pin-file is tried once and said so" \
    "wrong PIN in $T/file.pin for token \"Test Token\"; it was tried once and will not be tried again until the file changes" \
    cat "$T/agent.log"
check_output "with one C_Login" "^1$" calls C_Login
reinsert() { # the token pulled out and put back, as the poller sees it
    local gone back
    gone=$(log_count 'token "Test Token" is not present')
    back=$(log_count 'token "Test Token" is back')
    fault removed=1
    wait_log 'token "Test Token" is not present' "$gone" || true
    fault
    wait_log 'token "Test Token" is back' "$back" || true
}
reinsert
check_output "put back, the same file is not tried again" "^1$" calls C_Login
check_output "and the log says why" \
    "the PIN in $T/file.pin was wrong; it is not tried again until the file changes" \
    cat "$T/agent.log"
printf '%s\n' "$PIN" >"$T/file.pin"
unlocked=$(log_count 'token "Test Token" unlocked')
# Under ASan the agent's look at the slots stalls for as long as the token
# stays out at this second re-insertion (46 s seen), so the removal is never
# seen; the normal build sees it within a second. Cause not found yet
# (docs/reliability.md, open findings): said as a SKIP, not passed.
if [ -n "${TESSERA_SANITIZED:-}" ]; then
    skip "with the file changed, it is tried at the next re-insertion and unlocks" \
        "the watcher stalls under ASan at this re-insertion (open finding)"
    skip "with one more C_Login" "as above"
else
    reinsert
    check "with the file changed, it is tried at the next re-insertion and unlocks" \
        wait_log 'token "Test Token" unlocked' "$unlocked"
    check_output "with one more C_Login" "^2$" calls C_Login
fi

finish
