#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Renewal and enrolment at a real CA's speed, with several hands on one
# identity. The CA is an exec helper that takes 3 seconds, as SCEP and ACME
# CAs take seconds. Renewals by tessera renew, by D-Bus Renew and by the
# schedule; two at once from the CLI and D-Bus; the schedule falling due
# during a manual renewal; SIGTERM and SIGKILL at every step, then a
# restart; enrolments killed at every step; planted and restored journals;
# signatures through many key switches. After each: exactly one identity
# NAME with its key and certificate, an mTLS handshake with it, nothing
# named NAME without its key, no orphan after the grace period, and an exit
# status that tells the truth.
. "$(dirname "$0")/lib.sh"

start_session_bus

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
SLOW=3

# The CA: `openssl ca`, so that certificates can live seconds (profile
# slow-short) as well as a day. It notes each request in $T/ca-asked, then
# takes SLOW seconds unless $T/ca-fast exists.
mkdir -p "$T/ca/issued"
touch "$T/ca/index.txt"
echo 1000 >"$T/ca/serial"
cat >"$T/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $T/ca/index.txt
new_certs_dir = $T/ca/issued
certificate = $T/ca/ca.pem
private_key = $T/ca/ca.key
serial = $T/ca/serial
default_md = sha256
policy = any
unique_subject = no
x509_extensions = client
[any]
commonName = supplied
[client]
extendedKeyUsage = clientAuth
EOF
cat >"$T/slow-ca" <<EOF
#!/bin/sh
echo \$\$ >>"$T/ca-asked"
[ -e "$T/ca-fast" ] || sleep $SLOW
case "\$TESSERA_CA_PROFILE" in slow-short) life=24 ;; *) life=86400 ;; esac
csr=\$(mktemp "$T/csr.XXXXXX")
cat >"\$csr"
flock "$T/ca.lock" openssl ca -batch -config "$T/ca.cnf" -in "\$csr" -notext \
    -startdate "\$(date -u +%Y%m%d%H%M%SZ)" \
    -enddate "\$(date -u -d "+\$life seconds" +%Y%m%d%H%M%SZ)" 2>/dev/null &&
    cat "$T/ca/ca.pem"
EOF
chmod +x "$T/slow-ca"

mkdir -p "$XDG_CONFIG_HOME/tessera"
{
    # The PIN from a file, so that an agent restarted after a crash logs in.
    printf '[token Test Token]\npin-file=%s\n' "$T/pin"
    profile slow protocol=exec "command=$T/slow-ca" "trust=$T/ca/ca.pem" \
        grace-seconds=2 command-timeout=30
    # Due 12 s after issue, and again 12 s after each renewal.
    profile slow-short protocol=exec "command=$T/slow-ca" "trust=$T/ca/ca.pem" \
        renew-at-percent=50 renew-jitter-percent=0 grace-seconds=2
    # A renewal every 4 to 5 seconds, instantly, for the signing load.
    profile fast protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" \
        validity-seconds=10 renew-at-percent=50 renew-jitter-percent=0 \
        grace-seconds=60
} >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent
start_server -www

AGENT_PATH=/org/tessera/Agent1
dbus_renew() { # NAME
    timeout 60 gdbus call --session --dest org.tessera.Agent1 --timeout 60 \
        --object-path "$AGENT_PATH/identity/$1" \
        --method org.tessera.Agent1.Identity.Renew
}
enroll() { # NAME PROFILE
    "$TESSERA" enroll "$1" --token "Test Token" --ca "$2" --subject "CN=$1"
}
labels() {
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" --login \
        --pin "$PIN" --list-objects 2>/dev/null | sed -n 's/^ *label: *//p' | sort
}
count_label() { labels | grep -cx -- "$1" || true; }
key_id_of() { # NAME: the CKA_ID of the private key labelled NAME, hex
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" --login \
        --pin "$PIN" --list-objects --type privkey 2>/dev/null |
        awk -v name="$1" '/^Private Key Object/ { label = "" }
            /^ *label:/ { sub(/^ *label: */, ""); label = $0 }
            /^ *ID:/ && label == name { print $2 }'
}
log_count() { grep -c -- "$1" "$T/agent.log" || true; }
wait_for_count() { # PATTERN COUNT SECONDS: until the log says PATTERN COUNT times
    for _ in $(seq 1 $(($3 * 10))); do
        [ "$(log_count "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
ca_requests() { wc -l <"$T/ca-asked" 2>/dev/null || echo 0; }
wait_for_ca() { # BEFORE: until the CA has been asked since BEFORE requests
    for _ in $(seq 1 100); do
        [ "$(ca_requests)" -gt "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

# A second process's login makes SoftHSM2 rewrite its token file, and the
# agent's object changes meanwhile can fail or lose attributes (SoftHSMv2
# issues 573, 757): the token is read with pkcs11-tool only once the
# agent is done with NAME, when its journal is gone (recovery runs each
# second; a grace period here is 2 s).
journals=$XDG_STATE_HOME/tessera/renewals
quiet() { [ ! -e "$journals/$1.journal" ]; }
settled() { # NAME: the agent has finished with NAME within 10 s
    for _ in $(seq 1 100); do
        quiet "$1" && return 0
        sleep 0.1
    done
    return 1
}

# identity_ok NAME: what must hold after anything at all happened to NAME.
# Sets PROBLEM to what is wrong, or to nothing.
identity_ok() {
    local name=$1 snapshot
    PROBLEM=
    if ! settled "$name"; then
        PROBLEM="its journal stays: $(grep phase "$journals/$name.journal")"
        return 1
    fi
    snapshot=$(labels)
    local objects
    objects=$(grep -cx -- "$name" <<<"$snapshot" || true)
    if [ "$objects" != 3 ]; then
        PROBLEM="$objects objects labelled $name, not a key pair and a certificate"
    elif [ -z "$(key_id_of "$name")" ]; then
        PROBLEM="nothing labelled $name is a private key"
    elif grep -qx -- "$name~next" <<<"$snapshot"; then
        PROBLEM="a $name~next is left"
    elif grep -qx -- "$name~old" <<<"$snapshot"; then
        PROBLEM="$name~old outlived its grace period"
    elif [ "$("$TESSERA" list | grep -c "^$name ")" != 1 ]; then
        PROBLEM="tessera list does not show $name once"
    elif ! handshake "tessera:$name" "tessera:$name" </dev/null 2>&1 |
        grep -q "Subject: CN=$name"; then
        PROBLEM="no mTLS handshake with tessera:$name"
    fi
    [ -z "$PROBLEM" ]
}
check_identity() { # DESCRIPTION NAME
    if identity_ok "$2"; then pass "$1"; else fail "$1: $PROBLEM"; fi
}
eventually() { # COMMAND...: succeeds within 5 s (recovery runs each second)
    for _ in $(seq 1 50); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# --- an enrolment and each kind of renewal through the slow CA
check_output "enrolment through a CA that takes ${SLOW} s" "enrolled wifi" enroll wifi slow
check_identity "wifi is one working identity" wifi
key=$(key_id_of wifi)
check_output "tessera renew through the slow CA reports the renewal" "renewed wifi" \
    "$TESSERA" renew wifi
check_identity "and leaves one working identity, the old key gone after its grace" wifi
if [ "$(key_id_of wifi)" != "$key" ]; then pass "with a new key"; else fail "the key did not change"; fi
check_output "no recovery touched the renewal in flight" "^0$" \
    log_count "rolling back"
key=$(key_id_of wifi)
check "D-Bus Renew through the slow CA" dbus_renew wifi
check_identity "leaves one working identity" wifi
if [ "$(key_id_of wifi)" != "$key" ]; then pass "with a new key"; else fail "the key did not change"; fi

# --- two hands at once: the second is refused at once, the first goes on
key=$(key_id_of wifi)
asked=$(ca_requests)
"$TESSERA" renew wifi >"$T/first.out" 2>&1 &
first=$!
wait_for_ca "$asked"
check_output "while the CA works, tessera list says renewing" "^wifi .* renewing " \
    "$TESSERA" list
started=$(date +%s%N)
check_fails "D-Bus Renew meanwhile is refused with its own error" \
    "Error.RenewalRunning: a renewal of wifi is already running" dbus_renew wifi
check_exit "a second tessera renew: exit 8 and the reason" 8 \
    "a renewal of wifi is already running" "$TESSERA" renew wifi
took=$((($(date +%s%N) - started) / 1000000))
if [ "$took" -lt 1500 ]; then
    pass "both refusals came at once (${took} ms), not after the CA"
else
    fail "the refusals took ${took} ms"
fi
status=0
wait "$first" || status=$?
check_output "the first renewal went on and succeeded" "renewed wifi" \
    bash -c "[ $status -eq 0 ] && cat '$T/first.out'"
check_identity "one working identity after both" wifi
if [ "$(key_id_of wifi)" != "$key" ]; then pass "renewed once, to a new key"; else fail "the key did not change"; fi
asked=$(ca_requests)
dbus_renew wifi >"$T/first.out" 2>&1 &
first=$!
wait_for_ca "$asked"
check_exit "the other way round: tessera renew during D-Bus Renew exits 8" 8 \
    "a renewal of wifi is already running" "$TESSERA" renew wifi
status=0
wait "$first" || status=$?
if [ "$status" -eq 0 ]; then pass "and D-Bus Renew succeeds"; else fail "D-Bus Renew failed: $(cat "$T/first.out")"; fi
check_identity "one working identity" wifi
check_output "the CA was asked once per renewal that ran" "^$((asked + 1))$" ca_requests

# --- the schedule, through the slow CA
enroll door slow-short >/dev/null 2>&1
renewing=$(log_count "renewing door")
if wait_for_count "renewing door" $((renewing + 1)) 20; then
    pass "the schedule starts door's renewal when it falls due"
else
    fail "door was not renewed on schedule"
fi
check_exit "tessera renew while the schedule renews it: exit 8" 8 \
    "a renewal of door is already running" "$TESSERA" renew door
wait_for_count "renewed door" 1 10 || true
check_identity "the scheduled renewal leaves one working identity" door

# The schedule falls due in the middle of a manual renewal: it leaves the
# identity to the renewal in flight, and what that renewal made is not due.
next=$("$TESSERA" list --json | jq -r '.[] | select(.name == "door") | .next_renewal')
sleep $(($(date -d "$next" +%s) - $(date +%s) - 2)) 2>/dev/null || true
"$TESSERA" renew door >"$T/manual.out" 2>&1 &
manual=$!
sleep 0.3
renewing=$(log_count "renewing door")
status=0
wait "$manual" || status=$?
sleep 1.5 # a look or two after the manual renewal
check_output "a manual renewal over the due time succeeds" "renewed door" \
    bash -c "[ $status -eq 0 ] && cat '$T/manual.out'"
check_output "and the schedule started no renewal of its own meanwhile" \
    "^$renewing$" log_count "renewing door"
check_identity "one working identity" door
check_output "Forget over D-Bus ends door's renewals" "" timeout 60 gdbus call \
    --session --dest org.tessera.Agent1 --object-path "$AGENT_PATH/identity/door" \
    --method org.tessera.Agent1.Identity.Forget true

# --- SIGTERM and SIGKILL while the CA works
key=$(key_id_of wifi)
asked=$(ca_requests)
"$TESSERA" renew wifi >"$T/stopped.out" 2>&1 &
renew_pid=$!
wait_for_ca "$asked"
helper=$(tail -n 1 "$T/ca-asked")
stop_agent
status=0
wait "$renew_pid" || status=$?
check_output "SIGTERM while the CA works: tessera renew exits 1 and says why" \
    "the agent is stopping: CA slow was not waited for" \
    bash -c "[ $status -eq 1 ] && cat '$T/stopped.out'"
helper_gone() { ! kill -0 "$helper" 2>/dev/null; }
check "the CA helper was stopped" eventually helper_gone
start_agent
check_identity "after a restart, one working identity" wifi
if [ "$(key_id_of wifi)" = "$key" ]; then pass "the key it had"; else fail "the key changed"; fi

asked=$(ca_requests)
dbus_renew wifi >"$T/stopped.out" 2>&1 &
renew_pid=$!
wait_for_ca "$asked"
stop_agent
status=0
wait "$renew_pid" || status=$?
check_output "SIGTERM during D-Bus Renew: the caller gets the reason" \
    "the agent is stopping" bash -c "[ $status -ne 0 ] && cat '$T/stopped.out'"
start_agent
check_identity "after a restart, one working identity" wifi
key=$(key_id_of wifi)
stop_agent
export TESSERA_TEST_STOP_AT=wifi:issued
start_agent
unset TESSERA_TEST_STOP_AT
check "SIGTERM once the CA has answered: D-Bus Renew still succeeds" dbus_renew wifi
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
start_agent
check_identity "after a restart, one working identity" wifi
if [ "$(key_id_of wifi)" != "$key" ]; then pass "renewed"; else fail "the key did not change"; fi

key=$(key_id_of wifi)
asked=$(ca_requests)
"$TESSERA" renew wifi >"$T/killed.out" 2>&1 &
renew_pid=$!
wait_for_ca "$asked"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
status=0
wait "$renew_pid" || status=$?
check_output "SIGKILL while the CA works: tessera renew says it lost the agent" \
    "lost the connection" bash -c "[ $status -eq 3 ] && cat '$T/killed.out'"
rolled=$(log_count "rolling back a renewal")
start_agent
wait_for_count "rolling back a renewal" $((rolled + 1)) 5 || true
check_identity "after a restart the renewal is rolled back" wifi
if [ "$(key_id_of wifi)" = "$key" ]; then pass "the key it had"; else fail "the key changed"; fi

# --- SIGTERM and SIGKILL at every step. The CA answers at once here: the
# slow wait itself is the case above.
touch "$T/ca-fast"
steps="generating generated requesting issued switching stored switched-old switched grace"
for signal in STOP CRASH; do
    kind=TERM
    [ "$signal" = CRASH ] && kind=KILL
    for step in $steps; do
        key=$(key_id_of wifi)
        stop_agent
        export TESSERA_TEST_${signal}_AT=wifi:$step
        start_agent
        unset TESSERA_TEST_STOP_AT TESSERA_TEST_CRASH_AT
        status=0
        "$TESSERA" renew wifi >"$T/out.renew" 2>&1 || status=$?
        wait "$AGENT_PID" 2>/dev/null || true
        AGENT_PID=
        start_agent
        ok=yes
        identity_ok wifi || ok=$PROBLEM
        changed=no
        [ "$(key_id_of wifi)" != "$key" ] && changed=yes
        # Before the CA answered nothing changes; after, the renewal is done
        # (by the agent at SIGTERM, by recovery after SIGKILL).
        case $step in generating | generated | requesting) want=no ;; *) want=yes ;; esac
        [ "$changed" = "$want" ] || ok="renewed: $changed, expected $want"
        if [ "$signal" = STOP ]; then
            # The stopping agent still answers: truthfully.
            if [ "$want" = yes ]; then
                [ "$status" = 0 ] || ok="exit $status after a finished renewal"
            else
                [ "$status" = 1 ] || ok="exit $status after a rolled-back renewal"
            fi
        else
            [ "$status" = 3 ] || ok="exit $status, not 3 (lost the agent)"
        fi
        grep -q "TESSERA_TEST_${signal}_AT=wifi:$step" "$T/agent.log" ||
            ok="the hook did not fire at $step"
        if [ "$ok" = yes ]; then
            pass "SIG$kind at '$step': one working identity, renewed: $changed, exit $status"
        else
            fail "SIG$kind at '$step': $ok"
        fi
    done
done
rm "$T/ca-fast"

# --- enrolments killed at every step: afterwards nothing of them, or the
# whole identity; and the name can be enrolled again.
enrolled_ok() { # NAME
    [ -e "$XDG_STATE_HOME/tessera/enrolled/$1.conf" ] && identity_ok "$1"
}
no_trace() { # NAME
    [ "$(count_label "$1")" = 0 ] && [ "$(count_label "$1~next")" = 0 ] &&
        [ ! -e "$XDG_STATE_HOME/tessera/enrolled/$1.conf" ] &&
        not_listed "$1"
}
touch "$T/ca-fast"
n=0
for step in generating generated requesting issued switching stored switched recorded; do
    n=$((n + 1))
    name=new$n
    stop_agent
    export TESSERA_TEST_CRASH_AT=$name:$step
    start_agent
    unset TESSERA_TEST_CRASH_AT
    enroll "$name" slow >/dev/null 2>&1 || true
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=
    start_agent
    case $step in generating | generated | requesting) want=nothing ;; *) want=whole ;; esac
    if [ "$want" = nothing ] && settled "$name" && no_trace "$name"; then
        check_output "enrolment killed at '$step': no trace, and the name enrols again" \
            "enrolled $name" enroll "$name" slow
    elif [ "$want" = whole ] && settled "$name" && enrolled_ok "$name"; then
        check_exit "enrolment killed at '$step': the whole identity, enrolled" 1 \
            "an identity named $name exists already" enroll "$name" slow
    else
        fail "enrolment killed at '$step': neither nothing nor the whole identity ($(labels | grep "^$name" | tr '\n' ' '))"
    fi
done
# Enrolling again at once, before the look recovers anything.
stop_agent
export TESSERA_TEST_CRASH_AT=again:requesting
start_agent
unset TESSERA_TEST_CRASH_AT
enroll again slow >/dev/null 2>&1 || true
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
start_agent
check_output "enrolling a killed enrolment's name again right after the restart" \
    "enrolled again" enroll again slow
check_identity "leaves one working identity" again
rm "$T/ca-fast"
asked=$(ca_requests)
enroll late slow >"$T/late.out" 2>&1 &
enroll_pid=$!
wait_for_ca "$asked"
stop_agent
status=0
wait "$enroll_pid" || status=$?
start_agent
if [ "$status" = 1 ] && grep -q "the agent is stopping" "$T/late.out" &&
    settled late && no_trace late; then
    pass "SIGTERM while the CA works on an enrolment: exit 1, no trace"
else
    fail "SIGTERM during an enrolment: exit $status, $(labels | grep '^late' | tr '\n' ' ')"
fi

# --- journals the agent did not write
b64() { tr a-f A-F | basenc --base16 -d | base64 -w0; }
plant() { # PHASE OLD-ID NEW-ID GRACE-UNTIL: a journal for wifi
    {
        printf '[journal]\nkind=renewal\nphase=%s\nca=slow\n' "$1"
        printf 'token-serial=%s\ntoken-label=Test Token\n' "$serial"
        printf 'old-key-id=%s\nnew-key-id=%s\nrekey=true\n' "$2" "$3"
        printf 'grace-until=%s\n' "$4"
    } >"$journals/wifi.journal"
}
serial=$(softhsm2-util --show-slots | sed -n 's/^ *Serial number: *//p' | head -1)
current=$(key_id_of wifi | b64)
other=$(head -c 16 /dev/urandom | base64 -w0)
plant generating "$other" "$current" 0
check_identity "a planted journal naming wifi's key as the next one deletes nothing" wifi
chain_file=$(ls "$XDG_STATE_HOME"/tessera/chains/*-"$(key_id_of wifi)".pem)
plant grace "$current" "$other" 1
check_identity "nor does a journal from a backup that ends a grace period of the current key" wifi
check "and wifi's chain file stays" test -s "$chain_file"
no_journals() { [ -z "$(ls "$journals")" ]; }
check "both journals are gone" eventually no_journals
{
    printf '[journal]\nkind=enrolment\nphase=pending\nca=slow\nkey=ec-p256\n'
    printf 'subject=CN=wifi\ntoken-serial=%s\ntoken-label=Test Token\n' "$serial"
    printf 'new-key-id=%s\nrekey=true\nkey-named=true\nnext-try=0\n' "$current"
} >"$journals/wifi.journal"
asked=$(ca_requests)
check "a planted pending enrolment naming wifi's key is dropped" eventually no_journals
check_output "without asking the CA" "^$asked$" ca_requests
check_identity "and wifi stays one working identity" wifi
chmod g+w "$journals"
plant generating "$other" "$current" 0
sleep 2
check_output "a journal in a directory others may write is not read" \
    "journals are not read: .*writable by others" cat "$T/agent.log"
check_output "and stays, untouched" "wifi.journal" ls "$journals"
check_exit "no renewal starts there" 1 "journals cannot be kept safely" \
    "$TESSERA" renew wifi
rm "$journals/wifi.journal"
chmod g-w "$journals"
check_identity "wifi is still one working identity" wifi

# --- a renewal finished by recovery forgets the CA's old advice
touch "$T/ca-fast"
record=$XDG_STATE_HOME/tessera/enrolled/wifi.conf
stop_agent
printf 'renew-after=%s\n' $(($(date +%s) - 60)) >>"$record"
export TESSERA_TEST_CRASH_AT=wifi:issued
start_agent # the advice says now: the schedule renews at once
unset TESSERA_TEST_CRASH_AT
for _ in $(seq 1 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
finished=$(log_count "finishing a renewal")
renewing=$(log_count "renewing wifi")
start_agent
wait_for_count "finishing a renewal" $((finished + 1)) 5 || true
sleep 2.5
check_output "recovery finished the renewal and dropped the old advice" "^0$" \
    bash -c "grep -c renew-after '$record' || true"
check_output "so no second renewal cut its grace period short" "^$renewing$" \
    log_count "renewing wifi"
check_identity "one working identity" wifi
rm "$T/ca-fast"

# --- signatures through many key switches: none fails
"$TESSERA" enroll load --token "Test Token" --ca fast --subject CN=load >/dev/null 2>&1
switches=$(log_count "renewed load")
signed=0 failed=0
deadline=$(($(date +%s) + 30))
while [ "$(date +%s)" -lt "$deadline" ]; do
    # Shorter than the renewal interval: each run's key stays in its grace.
    out=$("$HELPERS/sign_load" -t 4 -n 1500 tessera:load 2>&1 || true)
    good=$(echo "$out" | sed -n 's/^\([0-9]*\) of 6000 .*/\1/p')
    signed=$((signed + ${good:-0}))
    failed=$((failed + 6000 - ${good:-0}))
    [ "${good:-0}" = 6000 ] || echo "$out" | grep -v "signed and verified" | head -3 | sed 's/^/# /'
done
switches=$(($(log_count "renewed load") - switches))
if [ "$failed" -eq 0 ] && [ "$switches" -ge 4 ]; then
    pass "$signed signatures through $switches key switches, none failed"
else
    fail "$failed of $((signed + failed)) signatures failed through $switches switches"
fi

finish
