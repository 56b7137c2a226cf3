#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Renewal with the local CA and short-lived certificates: on demand
# (tessera renew) and on schedule, with a new key or the same one; clients
# keep handshaking through a renewal without one failure; failures back off
# and are reported, a rejecting CA is not hammered, a locked token defers.
# Crashes and stops at every step, and renewals at a real CA's speed, are
# in test_renew_slow.sh.
. "$(dirname "$0")/lib.sh"

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"

# An exec CA that works until $T/ca-down or $T/ca-refuses exists.
cat >"$T/moody-ca" <<EOF
#!/bin/sh
[ -e "$T/ca-down" ] && { echo "maintenance" >&2; exit 3; }
[ -e "$T/ca-refuses" ] && { echo "policy forbids this subject" >&2; exit 1; }
openssl x509 -req -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" -CAcreateserial \
    -days 7 -extfile "$T/ca/client.ext" 2>/dev/null && cat "$T/ca/ca.pem"
EOF
chmod +x "$T/moody-ca"

mkdir -p "$XDG_CONFIG_HOME/tessera"
{
    # The PIN from a file, so that an agent restarted after a crash logs in.
    printf '[token Test Token]\npin-file=%s\n' "$T/pin"
    profile corp protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" \
        validity-days=30 grace-seconds=2
    # Renews itself 15 s after issue (50% of 30 s, no jitter).
    profile short protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" \
        validity-seconds=30 renew-at-percent=50 renew-jitter-percent=0 grace-seconds=60
    profile moody protocol=exec "command=$T/moody-ca" "trust=$T/ca/ca.pem" \
        retry-min-seconds=60 retry-max-seconds=3600
    printf '[identity desk]\nrekey=false\n'
} >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent

enroll() { # NAME CA
    "$TESSERA" enroll "$1" --token "Test Token" --ca "$2" \
        --subject "CN=$1,O=Tessera Test" 2>>"$T/cli.err"
}
labels() { # every object label on the token, sorted, one per line
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" --login \
        --pin "$PIN" --list-objects 2>/dev/null | sed -n 's/^ *label: *//p' | sort
}
count_label() { labels | grep -cx "$1" || true; }
public_key_of() { # NAME: the SPKI of its current certificate
    "$TESSERA" export "$1" --cert "$T/$1.now.pem" >/dev/null &&
        openssl x509 -in "$T/$1.now.pem" -noout -pubkey
}
serial_of() { openssl x509 -in "$T/$1.now.pem" -noout -serial; }
list_line() { "$TESSERA" list | grep "^$1 "; }
wait_for_log() { # PATTERN SECONDS
    for _ in $(seq 1 $(($2 * 10))); do
        grep -q -- "$1" "$T/agent.log" && return 0
        sleep 0.1
    done
    return 1
}

# paused_client NAME: sign_load holding NAME's key and certificate, paused
# after its first signature until $T/go-NAME exists.
paused_client() {
    rm -f "$T/go-$1"
    "$HELPERS/sign_load" -n 5 -w "$T/go-$1" "tessera:$1" >"$T/client-$1.out" 2>&1 &
    CLIENT_PID=$!
    for _ in $(seq 1 100); do
        grep -q paused "$T/client-$1.out" && return 0
        sleep 0.05
    done
    return 1
}

# --- on demand, a new key
enroll laptop corp >/dev/null
key_before=$(public_key_of laptop)
serial_before=$(serial_of laptop)
check_output "an enrolled identity is listed as valid with its next renewal" \
    "^laptop .* ready +valid +20[0-9-]+T" "$TESSERA" list
paused_client laptop
check_output "tessera renew renews it now" "renewed laptop" "$TESSERA" renew laptop
key_after=$(public_key_of laptop)
if [ "$key_before" != "$key_after" ] && [ "$serial_before" != "$(serial_of laptop)" ]; then
    pass "the identity now has a new key and a new certificate"
else
    fail "the key or the certificate did not change"
fi
check_output "the new key was made on the token, never extractable" "never extractable" \
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" --login --pin "$PIN" \
    --list-objects --type privkey --label laptop
check_output "the replaced key is kept, unlisted, for its grace period" "^3$" \
    count_label "laptop~old"
check_output "tessera list still shows one laptop" "^1$" \
    bash -c "'$TESSERA' list | grep -c '^laptop '"
touch "$T/go-laptop"
check "a client that loaded the key before the renewal still signs, with the old key" \
    wait "$CLIENT_PID"
paused_client laptop
"$TESSERA" renew laptop >/dev/null 2>&1
for _ in $(seq 1 100); do
    [ "$(count_label 'laptop~old')" = 0 ] && break
    sleep 0.1
done
check_output "after the grace period the replaced key and certificate are gone" "^0$" \
    count_label "laptop~old"
touch "$T/go-laptop"
status=0
wait "$CLIENT_PID" || status=$?
check_output "and a client still holding it is told to load the identity again" \
    "identity laptop was renewed and the key this client loaded is gone" \
    bash -c "[ $status -ne 0 ] && cat '$T/client-laptop.out'"
check_output "the renewal was logged with identity and CA" "renewed laptop with CA corp" \
    cat "$T/agent.log"

# --- on demand, the same key (rekey=false)
enroll desk corp >/dev/null
key_before=$(public_key_of desk)
serial_before=$(serial_of desk)
"$TESSERA" renew desk >/dev/null 2>&1
if [ "$key_before" = "$(public_key_of desk)" ] && [ "$serial_before" != "$(serial_of desk)" ]; then
    pass "rekey=false renews the certificate and keeps the key"
else
    fail "rekey=false: the key changed or the certificate did not"
fi
check_output "and leaves one key and one certificate" "^3$" count_label desk

# --- on schedule, with clients handshaking throughout
start_server -www
enroll wifi short >/dev/null
check_output "a 30-second certificate is due 15 seconds after issue" \
    "^wifi .* valid +20[0-9-]+T" "$TESSERA" list
handshakes=0 failures=0
deadline=$(($(date +%s) + 60))
while [ "$(date +%s)" -lt "$deadline" ]; do
    if handshake tessera:wifi tessera:wifi </dev/null >"$T/hs.out" 2>&1 &&
        grep -q "Subject: O=Tessera Test, CN=wifi" "$T/hs.out"; then
        handshakes=$((handshakes + 1))
    else
        failures=$((failures + 1))
        cp "$T/hs.out" "$T/failed-handshake.out"
    fi
    # Go on a little after the renewal, so that handshakes span it.
    if grep -q "renewed wifi" "$T/agent.log"; then
        after=$((${after:-0} + 1))
        [ "$after" -ge 10 ] && break
    fi
done
check_output "the agent renewed wifi on its own" "renewed wifi with CA short" cat "$T/agent.log"
if [ "$failures" -eq 0 ] && [ "$handshakes" -ge 20 ]; then
    pass "$handshakes handshakes by name through the renewal, none failed"
else
    fail "$failures of $((handshakes + failures)) handshakes failed across the renewal"
    grep -i "error\|verify\|alert" "$T/failed-handshake.out" | head -5 | sed 's/^/#   /' 
fi

# --- failures: reported, backed off, nothing left behind
enroll printer moody >/dev/null
keys_before=$(labels | wc -l)
touch "$T/ca-down"
check_exit "a CA that cannot be reached: exit 5, one sentence" 5 \
    "CA moody: .* failed \(exit status 3\): maintenance" "$TESSERA" renew printer
check_output "tessera list says failing, with the reason" \
    "last renewal error: CA moody: .*maintenance" "$TESSERA" list
next=$("$TESSERA" list --json | jq -r '.[] | select(.name == "printer") | .next_renewal')
delay=$(($(date -d "$next" +%s) - $(date +%s)))
if [ "$delay" -ge 25 ] && [ "$delay" -le 61 ]; then
    pass "the next attempt waits retry-min-seconds, jittered (${delay} s)"
else
    fail "the next attempt is in $delay s, not 30 to 60"
fi
count_objects() { labels | wc -l; }
check_output "a failed renewal leaves no key or certificate behind" "^$keys_before$" \
    count_objects
check_output "and the identity keeps working" "Subject: O=Tessera Test, CN=printer" \
    handshake tessera:printer tessera:printer
rm "$T/ca-down"
touch "$T/ca-refuses"
check_exit "a CA that rejects the renewal: exit 4 with its reason" 4 \
    "CA moody: rejected: policy forbids this subject" "$TESSERA" renew printer
next=$("$TESSERA" list --json | jq -r '.[] | select(.name == "printer") | .next_renewal')
delay=$(($(date -d "$next" +%s) - $(date +%s)))
if [ "$delay" -ge 1700 ]; then
    pass "a rejection is not retried soon: next attempt in $delay s (retry-max-seconds)"
else
    fail "a rejection is retried in $delay s"
fi
rm "$T/ca-refuses"
check_output "once the CA is back, the renewal succeeds" "renewed printer" \
    "$TESSERA" renew printer
check_output "and the state is valid again, the error gone" "^printer .* valid " \
    "$TESSERA" list
check_exit "an identity that was not enrolled cannot be renewed: exit 1" 1 \
    "identity .* was not enrolled" bash -c "'$TESSERA' keygen manual --token 'Test Token' \
    --subject CN=manual >/dev/null && '$TESSERA' renew manual"
check_exit "renewing an unknown identity: exit 1, saying there is none" 1 "no identity named \"ghost\"" "$TESSERA" renew ghost
check_exit "renew without a name is a usage error" 2 "renew: needs exactly one NAME" \
    "$TESSERA" renew
check_exit "so is renew with two" 2 "renew: needs exactly one NAME, not b" "$TESSERA" renew a b

# --- a due renewal waits for the PIN instead of failing
"$TESSERA" lock >/dev/null
check_output "with the token locked, wifi's next due renewal waits for the PIN" \
    "^wifi .* waiting for PIN" bash -c "sleep 17; '$TESSERA' list"
check_output "which the log says, without counting a failure" \
    "identity wifi is due for renewal: waiting for PIN" cat "$T/agent.log"
renewals=$(grep -c "renewed wifi with CA short" "$T/agent.log")
# The token's PIN comes from its pin-file, which only a start reads.
stop_agent
start_agent
for _ in $(seq 1 50); do
    [ "$(grep -c "renewed wifi with CA short" "$T/agent.log")" -gt "$renewals" ] && break
    sleep 0.1
done
check_output "once the token is logged in again, the due renewal runs" "^wifi .* valid " \
    "$TESSERA" list

finish
