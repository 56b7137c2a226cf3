#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tessera enroll with the local and exec CA protocols: keys made on the
# token, certificates verified and stored, the identity usable for mTLS;
# and every way a CA can fail, each with its own exit status, one sentence,
# no key left behind and the agent still serving.
. "$(dirname "$0")/lib.sh"

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_ca "$T/other-ca" "Someone Else's CA"
make_server_cert "$T/ca"

# The exec helpers, as an administrator would write them around a CA tool.
cat >"$T/sign-with-test-ca" <<EOF
#!/bin/sh
# Signs the CSR on stdin with the test CA: chain on stdout, leaf first.
openssl x509 -req -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" -CAcreateserial \
    -days 7 -extfile "$T/ca/client.ext" 2>/dev/null && cat "$T/ca/ca.pem"
EOF
cat >"$T/pending-twice" <<EOF
#!/bin/sh
# Says "pending" twice, then issues, as a CA waiting for an approval.
count=\$(cat "$T/polls" 2>/dev/null || echo 0)
echo \$((count + 1)) >"$T/polls"
[ "\$count" -ge 2 ] || exit 2
exec "$T/sign-with-test-ca"
EOF
cat >"$T/wrong-key" <<EOF
#!/bin/sh
# A certificate from the right CA, but for some other key.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj /CN=impostor 2>/dev/null | "$T/sign-with-test-ca"
EOF
# Certificates no client can load, each signed by the right CA for the
# right request: a 20 KB leaf (clients read 16 KiB), a certificate with no
# extendedKeyUsage (for any purpose, which chain verification accepts), a
# leaf where a CA certificate belongs in the chain.
awk 'BEGIN {printf "extendedKeyUsage=clientAuth\nnsComment=\""; for (i = 0; i < 20000; i++) printf "A"; print "\""}' \
    >"$T/bloated.ext"
cat >"$T/bloated" <<EOF
#!/bin/sh
openssl x509 -req -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" -CAcreateserial \
    -days 7 -extfile "$T/bloated.ext" 2>/dev/null && cat "$T/ca/ca.pem"
EOF
printf 'keyUsage=digitalSignature\n' >"$T/any-purpose.ext"
cat >"$T/any-purpose" <<EOF
#!/bin/sh
openssl x509 -req -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" -CAcreateserial \
    -days 7 -extfile "$T/any-purpose.ext" 2>/dev/null && cat "$T/ca/ca.pem"
EOF
cat >"$T/leaf-as-ca" <<EOF
#!/bin/sh
"$T/sign-with-test-ca" && cat "$T/server.pem"
EOF
# Helpers that misbehave, each leaving the pids the test must check.
cat >"$T/leaves-a-child" <<EOF
#!/bin/sh
# Fails at once, but a child it leaves behind keeps stdout open.
sleep 300 & echo \$! >"$T/leftover.pid"
exit 3
EOF
cat >"$T/hangs-with-children" <<EOF
#!/bin/sh
# Hangs; one child in its process group, one in a session of its own,
# both holding stdout open.
sleep 300 & echo \$! >"$T/grouped.pid"
setsid sleep 300 & echo \$! >"$T/escaped.pid"
echo \$\$ >"$T/helper.pid"
sleep 300
EOF
cat >"$T/pending-for-days" <<EOF
#!/bin/sh
# Says "pending", counting the asks, until the test approves the request.
count=\$(cat "$T/days-polls" 2>/dev/null || echo 0)
echo \$((count + 1)) >"$T/days-polls"
[ -e "$T/days-approved" ] || exit 2
exec "$T/sign-with-test-ca"
EOF
cat >"$T/pending-then-no" <<EOF
#!/bin/sh
# Pending at first; then no.
[ -e "$T/doubted" ] || { touch "$T/doubted"; exit 2; }
echo "not this one" >&2
exit 1
EOF
cat >"$T/gated" <<EOF
#!/bin/sh
# Issues once the test opens the gate, so that a renewal is seen running.
touch "$T/gated.started"
while [ ! -e "$T/gate" ]; do sleep 0.05; done
exec "$T/sign-with-test-ca"
EOF
chmod +x "$T/bloated" "$T/any-purpose" "$T/leaf-as-ca" "$T/sign-with-test-ca" "$T/pending-twice" "$T/wrong-key" "$T/gated" \
    "$T/pending-for-days" "$T/pending-then-no" "$T/leaves-a-child" \
    "$T/hangs-with-children"

mkdir -p "$XDG_CONFIG_HOME/tessera"
{
    profile corp protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" validity-days=30
    profile helper protocol=exec "command=$T/sign-with-test-ca" "trust=$T/ca/ca.pem"
    profile approval protocol=exec "command=$T/pending-twice" "trust=$T/ca/ca.pem" retry-seconds=1
    profile forever protocol=exec "command=exit 2" "trust=$T/ca/ca.pem" retry-seconds=30
    profile days protocol=exec "command=$T/pending-for-days" "trust=$T/ca/ca.pem" retry-seconds=1
    profile doubt protocol=exec "command=$T/pending-then-no" "trust=$T/ca/ca.pem" retry-seconds=1
    profile strict protocol=exec "command=echo 'subject not allowed' >&2; exit 1" "trust=$T/ca/ca.pem"
    profile garbage protocol=exec "command=echo hello" "trust=$T/ca/ca.pem"
    profile stranger protocol=exec "command=$T/sign-with-test-ca" "trust=$T/other-ca/ca.pem"
    profile impostor protocol=exec "command=$T/wrong-key" "trust=$T/ca/ca.pem"
    profile hung protocol=exec "command=sleep 30" "trust=$T/ca/ca.pem" command-timeout=1
    profile broken protocol=exec "command=exit 3" "trust=$T/ca/ca.pem"
    profile flood protocol=exec "command=head -c 1073741824 /dev/zero" "trust=$T/ca/ca.pem"
    profile messy protocol=exec "command=$T/leaves-a-child" "trust=$T/ca/ca.pem"
    profile tangled protocol=exec "command=$T/hangs-with-children" "trust=$T/ca/ca.pem" command-timeout=1
    profile slow protocol=exec "command=$T/hangs-with-children" "trust=$T/ca/ca.pem" command-timeout=3600
    profile keyless protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/missing.key"
    profile gated protocol=exec "command=$T/gated" "trust=$T/ca/ca.pem"
    profile bloated protocol=exec "command=$T/bloated" "trust=$T/ca/ca.pem"
    profile tls-only protocol=exec "command=$T/any-purpose" "trust=$T/ca/ca.pem" \
        require-client-auth=true
    profile leafy protocol=exec "command=$T/leaf-as-ca" "trust=$T/ca/ca.pem"
} >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_session_bus
start_agent
unlock



enroll() { # NAME CA [ARGS]
    local name=$1
    ca_enroll "$name" "$2" "CN=$name,O=Tessera Test" "${@:3}"
}

# --- success
check_output "enroll with the local CA: EC key, three kinds of SAN" \
    "enrolled laptop" enroll laptop corp --san dns:laptop.corp.example \
    --san email:alice@corp.example --san upn:alice@corp.example
"$TESSERA" export laptop --key-ref "$T/laptop.ref" --cert "$T/laptop.pem" >/dev/null || true
check_output "the certificate chains to the CA and is for TLS clients" ": OK" \
    openssl verify -CAfile "$T/ca/ca.pem" -purpose sslclient "$T/laptop.pem"
check_output "it carries the requested names" \
    "DNS:laptop.corp.example, email:alice@corp.example, othername: UPN::alice@corp.example" \
    openssl x509 -in "$T/laptop.pem" -noout -ext subjectAltName
check_output "the key was generated on the token, sensitive and never extractable" \
    "Access: *sensitive, always sensitive, never extractable, local" \
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" --login \
    --pin "$PIN" --list-objects --type privkey --label laptop
check_output "it may sign and nothing else" \
    "^private TOKEN=1 PRIVATE=1 SENSITIVE=1 EXTRACTABLE=0 SIGN=1 DECRYPT=0 UNWRAP=0 SIGN_RECOVER=0 DERIVE=0$" \
    "$HELPERS/key_usage" "$SOFTHSM_MODULE" "Test Token" "$PIN" laptop
check_output "the enrolment is recorded for renewal" "ca=corp" \
    cat "$XDG_STATE_HOME/tessera/enrolled/laptop.conf"
start_server -www
check_output "the enrolled identity authenticates a mutual-TLS handshake" \
    "Subject: O=Tessera Test, CN=laptop" handshake tessera:laptop tessera:laptop
check_output "enroll an RSA-3072 identity" "enrolled desk" \
    enroll desk corp --key rsa3072
check_output "enroll through an exec helper" "issuer  CN=Tessera Test CA" \
    enroll kiosk helper
check_output "a CA that says pending twice is asked again until it issues" \
    "enrolled approved" enroll approved approval
check_output "the helper was run three times" "^3$" cat "$T/polls"
keys_before=$(private_keys)

# --- failure: one sentence, its own exit status, nothing left on the token
check_exit "a CA that rejects the request: exit 4 with its reason" 4 \
    "CA strict: rejected: subject not allowed" enroll refused strict
check_exit "a CA that answers without a certificate: exit 7" 7 \
    "CA garbage: .* printed no usable PEM certificate" enroll babble garbage
check_exit "a certificate from another CA: exit 7" 7 \
    "CA stranger: the issued certificate does not chain to" enroll alien stranger
check_exit "a certificate for another key: exit 7" 7 \
    "CA impostor: the certificate for fake cannot be used: its public key is not the key of identity fake" \
    enroll fake impostor
check_exit "a 20 KB certificate no client can load: exit 7" 7 \
    "CA bloated: the certificate for fat cannot be used: certificate 1 of the chain is [0-9]+ bytes; clients accept at most 16384" \
    enroll fat bloated
check_exit "a certificate without clientAuth where the profile requires it: exit 7" 7 \
    "CA tls-only: the certificate for any cannot be used: its extendedKeyUsage does not name clientAuth" \
    enroll any tls-only
check_exit "a leaf where the chain needs a CA certificate: exit 7" 7 \
    "CA leafy: the certificate for leafy cannot be used: certificate 3 of the chain is not a CA certificate" \
    enroll leafy leafy
check "none of them is listed" bash -o pipefail -c "'$TESSERA' list | { ! grep -E '^(fake|fat|any|leafy) '; }"
check_exit "a helper that hangs is stopped: exit 5" 5 \
    "CA hung: .* did not finish in time" enroll stuck hung
check_exit "a helper that fails: exit 5 with its status" 5 \
    "CA broken: .* failed \(exit status 3\)" enroll crashed broken
check_exit "a local CA whose key is missing: exit 5" 5 \
    "CA keyless: cannot read the CA key" enroll orphan keyless

# --- helpers are bounded: their output, their time, their children
peak_rss_kb() { awk '/^VmHWM/ {print $2}' "/proc/$AGENT_PID/status"; }
# gone PIDFILE: that process ends (a zombie counts) within 5 s.
gone() {
    local pid state
    pid=$(cat "$1")
    for _ in $(seq 1 100); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
        [ -z "$state" ] || [ "$state" = Z ] && return 0
        sleep 0.05
    done
    return 1
}
alive() { kill -0 "$(cat "$1")" 2>/dev/null; }
# A hang here would be the bug under test: give up long before the
# helpers' children (300 s) would end by themselves.
bounded_enroll() { timeout 20 "$TESSERA" enroll "$1" --token "Test Token" --ca "$2" --subject "CN=$1"; }
wait_for_file() { for _ in $(seq 1 200); do [ -s "$1" ] && return; sleep 0.05; done; }
rss_before=$(peak_rss_kb)
check_exit "a helper that prints 1 GiB is cut at 256 KiB: exit 7" 7 \
    "CA flood: .* printed more than 262144 bytes" enroll flooded flood
check "and the agent never held it: its peak RSS grew by less than 64 MiB" \
    test $(($(peak_rss_kb) - rss_before)) -lt 65536
check_exit "a helper's exit status is its answer, whatever its child holds open" 5 \
    "CA messy: .* failed \(exit status 3\)" bounded_enroll untidy messy
check "the child it left is killed" gone "$T/leftover.pid"
check_exit "a helper that hangs with children holding stdout stops at command-timeout" 5 \
    "CA tangled: .* did not finish in time" bounded_enroll tangled tangled
check "the helper is killed" gone "$T/helper.pid"
check "so is its child in its process group" gone "$T/grouped.pid"
check "a child in a session of its own is not waited for" alive "$T/escaped.pid"
kill "$(cat "$T/escaped.pid")"
rm -f "$T"/*.pid
"$TESSERA" enroll hasty --token "Test Token" --ca slow --subject CN=hasty \
    >/dev/null 2>&1 &
enroll_pid=$!
wait_for_file "$T/helper.pid"
kill -INT "$enroll_pid"
wait "$enroll_pid" || true
check "Ctrl-C while a helper runs stops the helper" gone "$T/helper.pid"
check "and its process group" gone "$T/grouped.pid"
check_output "the agent says why" "enrolment of hasty failed: .* was stopped: the enrolment was interrupted" \
    cat "$T/agent.log"
kill "$(cat "$T/escaped.pid")"
"$TESSERA" enroll impatient --token "Test Token" --ca forever --subject CN=impatient \
    --timeout 60 >"$T/interrupted.out" 2>&1 &
enroll_pid=$!
pending_impatient() { grep -A8 "enrolling impatient" "$T/agent.log" | grep -q "request pending"; }
for _ in $(seq 1 100); do pending_impatient && break; sleep 0.05; done
kill -INT "$enroll_pid"
status=0
wait "$enroll_pid" || status=$?
check_output "Ctrl-C while pending: exit 130 and a sentence" "interrupted; the agent stops" \
    bash -c "[ $status -eq 130 ] && cat '$T/interrupted.out'"
for _ in $(seq 1 100); do grep -q "enrolment of impatient failed" "$T/agent.log" && break; sleep 0.05; done
check_output "and the agent stops asking the CA" "interrupted while pending" cat "$T/agent.log"
check_output "no key of a failed enrolment stays on the token" "^$keys_before$" private_keys
# (Profiles with wrong values never get this far: test_config.sh.)
check_fails "an unknown profile is refused before any key is made" \
    "no CA profile \[ca nowhere\] in agent.conf" enroll ghost nowhere
check_fails "a SAN with a comma is refused" "cannot use subject alternative name" \
    enroll ghost corp --san "dns:a.example,DNS:evil.example"
check_fails "a SAN of an unknown kind is refused" "write dns:NAME" \
    enroll ghost corp --san "x400:nowhere"
check_fails "an existing name is refused" "an identity named laptop exists already" \
    enroll laptop corp
check_exit "a zero --timeout is a usage error" 2 "--timeout 0" enroll ghost corp --timeout 0
sans=()
for i in $(seq 1 17); do sans+=(--san "dns:h$i.example"); done
check_exit "so are more than 16 --san options" 2 "at most 16 --san options" \
    enroll ghost corp "${sans[@]}"
check_output "still no stray key on the token" "^$keys_before$" private_keys
check_output "the agent still serves the identities it had" \
    "Subject: O=Tessera Test, CN=laptop" handshake tessera:laptop tessera:laptop

# --- a CA that says pending for days: the agent keeps asking after the
# client stopped waiting, across a restart, and stores what it issues.
patient_status=0
"$TESSERA" enroll patient --token "Test Token" --ca days --subject CN=patient \
    --san dns:patient.corp.example --timeout 1 >"$T/patient.out" 2>&1 ||
    patient_status=$?
check_output "enroll --timeout while the CA says pending: exit 6, the agent keeps asking" \
    "^6 .*CA days still says pending; the agent keeps asking it and stores the certificate when it comes" \
    bash -c "echo $patient_status \$(cat '$T/patient.out')"
check_output "tessera list shows it pending at the CA, with the next try" \
    "^patient .* no certificate +pending at CA +20[0-9-]+T" "$TESSERA" list
check_output "its key stays on the token, named for it" "^1$" \
    bash -c "pkcs11-tool --module '$SOFTHSM_MODULE' --token-label 'Test Token' --login \
        --pin '$PIN' --list-objects --type privkey 2>/dev/null | grep -c 'label: *patient$'"
asked() { cat "$T/days-polls" 2>/dev/null || echo 0; }
asked_twice() { [ "$(asked)" -ge 2 ]; }
check "the agent asks the CA again by itself" wait_until 10 asked_twice
stop_agent
polls_at_stop=$(asked)
start_agent
unlock
listed_pending() { "$TESSERA" list | grep -q "^patient .*pending at CA"; }
check "after a restart it is listed pending again" wait_until 10 listed_pending
asked_more() { [ "$(asked)" -gt "$polls_at_stop" ]; }
check "and the restarted agent keeps asking" wait_until 10 asked_more
gdbus monitor --session --dest org.tessera.Agent1 >"$T/days.dbus" 2>&1 &
monitor_pid=$!
sleep 0.5
touch "$T/days-approved"
issued() { "$TESSERA" list | grep -q "^patient .* ready .*valid"; }
check "once the CA issues, the agent stores the certificate" wait_until 15 issued
"$TESSERA" export patient --cert "$T/patient.pem" >/dev/null
check_output "it is issued by the CA" ": OK" \
    openssl verify -CAfile "$T/ca/ca.pem" "$T/patient.pem"
check_output "the enrolment is recorded for renewal" "^ca=days$" \
    cat "$XDG_STATE_HOME/tessera/enrolled/patient.conf"
succeeded() { grep -q "RenewalSucceeded.*identity/patient" "$T/days.dbus"; }
check "D-Bus signals the outcome" wait_until 5 succeeded
check_output "the identity signs for a TLS client" "Subject: CN=patient" \
    handshake tessera:patient tessera:patient
# The CA's no, after pending: the key goes, D-Bus hears why.
"$TESSERA" enroll doubtful --token "Test Token" --ca doubt --subject CN=doubtful \
    --timeout 1 >/dev/null 2>&1 || true
check "a CA that decides no after pending: the key goes" \
    wait_until 10 not_listed doubtful
failed() { grep -q "RenewalFailed.*identity/doubtful.*rejected: not this one" "$T/days.dbus"; }
check "and D-Bus signals why" wait_until 5 failed
kill "$monitor_pid"
# Given up by the user: forget takes the pending key.
keys_now=$(private_keys)
check_exit "a CA still pending at --timeout: exit 6" 6 \
    "CA forever still says pending" enroll waiting forever --timeout 2
check_output "forget --delete-keys gives a pending enrolment up" \
    "forgot waiting and deleted its key" "$TESSERA" forget waiting --delete-keys
check "and it is gone" not_listed waiting
check_output "no key of it stays on the token" "^$keys_now$" private_keys

# --- an identity made by keygen and import renews through a CA profile
"$TESSERA" keygen adopted --token "Test Token" --subject "CN=adopted,O=Corp" \
    --san dns:adopted.corp.example --out "$T/adopted.csr" >/dev/null
printf 'extendedKeyUsage=clientAuth\nsubjectAltName=DNS:adopted.corp.example\n' \
    >"$T/ca/adopted.ext"
issue "$T/ca" "$T/adopted.csr" "$T/adopted.pem" adopted.ext
check_output "import --ca attaches the imported identity to a CA profile" \
    "renews through CA corp" "$TESSERA" import adopted --cert "$T/adopted.pem" --ca corp
record=$XDG_STATE_HOME/tessera/enrolled/adopted.conf
check_output "its enrolment record names the profile" "^ca=corp$" cat "$record"
check_output "and asks again for the certificate's names" "dns:adopted.corp.example" cat "$record"
check_output "tessera list shows a renewal planned" "^adopted .* valid +20[0-9-]+T" "$TESSERA" list
check_output "tessera renew renews it through the profile" "renewed adopted" \
    "$TESSERA" renew adopted
"$TESSERA" export adopted --cert "$T/adopted-renewed.pem" >/dev/null
check_output "the renewed certificate has the imported one's subject" \
    "^$(openssl x509 -in "$T/adopted.pem" -noout -subject)$" \
    openssl x509 -in "$T/adopted-renewed.pem" -noout -subject
check_output "and its names" "DNS:adopted.corp.example" \
    openssl x509 -in "$T/adopted-renewed.pem" -noout -ext subjectAltName
check "for a new key" bash -c "! cmp -s <(openssl x509 -in '$T/adopted.pem' -noout -pubkey) \
    <(openssl x509 -in '$T/adopted-renewed.pem' -noout -pubkey)"
# Attached again, to a CA that waits until the test lets it issue.
check_output "import --replace --ca of the certificate it has moves it to another profile" \
    "renews through CA gated" "$TESSERA" import adopted --cert "$T/adopted-renewed.pem" \
    --replace --ca gated
"$TESSERA" renew adopted >"$T/gated-renew.out" 2>&1 &
renew_pid=$!
wait_for_file "$T/gated.started"
check_exit "forget while a renewal runs: refused, exit 8" 8 \
    "a renewal of adopted is already running" "$TESSERA" forget adopted --delete-keys
touch "$T/gate"
renew_status=0
wait "$renew_pid" || renew_status=$?
check_output "the renewal finished, nothing lost" "^0 renewed adopted" \
    bash -c "echo $renew_status \$(grep renewed '$T/gated-renew.out')"
check_output "forget --delete-keys then takes it all" "forgot adopted and deleted its key" \
    "$TESSERA" forget adopted --delete-keys
check "its record is gone" test ! -e "$record"
check_output "no object of it (nor of the key renewal replaced) is left" "^0$" \
    bash -c "pkcs11-tool --module '$SOFTHSM_MODULE' --token-label 'Test Token' --login \
        --pin '$PIN' --list-objects 2>/dev/null | grep -c 'label: *adopted' || true"
keys_before=$(private_keys)

# --- SIGTERM while a helper runs: the agent stops within seconds, the
# helper's group with it, the enrolment rolled back.
rm -f "$T"/*.pid
"$TESSERA" enroll interrupted --token "Test Token" --ca slow \
    --subject CN=interrupted >/dev/null 2>&1 &
enroll_pid=$!
wait_for_file "$T/helper.pid"
kill -TERM "$AGENT_PID"
for _ in $(seq 1 200); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.05; done
check "SIGTERM while a helper runs stops the agent within 10 s" \
    bash -c "! kill -0 $AGENT_PID 2>/dev/null"
kill -KILL "$AGENT_PID" 2>/dev/null || true
stop_agent
wait "$enroll_pid" || true
check "the helper is stopped with the agent" gone "$T/helper.pid"
check "so is its process group" gone "$T/grouped.pid"
# The helper may have been stopped before its escapee started.
kill "$(cat "$T/escaped.pid")" 2>/dev/null || true
check_output "the enrolment was rolled back: no new key on the token" \
    "^$keys_before$" private_keys

# --- progress: the agent's steps reach the client as they happen
cat >"$T/chatty" <<EOF
#!/bin/sh
# Talks on stderr as CA tools do: more lines than the log keeps; then
# issues.
for i in \$(seq 1 26); do echo "step \$i of the approval" >&2; done
exec "$T/sign-with-test-ca"
EOF
chmod +x "$T/chatty"
{
    profile chatty protocol=exec "command=$T/chatty" "trust=$T/ca/ca.pem"
    profile slow-approval protocol=exec "command=$T/pending-twice" "trust=$T/ca/ca.pem" retry-seconds=2
} >>"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent
unlock
# The steps named in a stream of lines, in order, each once in a row.
steps() { grep -aoE 'generating|CSR signed|asking( again)? CA|request pending|issued|stored' "$1" | uniq | paste -sd' '; }
rm -f "$T/polls"
enroll followed approval 2>"$T/followed.err" >/dev/null
check_output "enroll says each step on stderr, a line each off a terminal" \
    "^generating CSR signed asking CA request pending asking again CA request pending asking again CA issued stored$" \
    steps "$T/followed.err"
check_output "the pending step says when the CA is asked again" \
    "^tessera: CA approval: request pending, asking again in 1 s$" cat "$T/followed.err"
rm -f "$T/polls"
enroll jsonfollowed approval --json 2>"$T/json.err" >"$T/json.out"
check_output "with --json each step is a JSON line on stderr" \
    "^generating csr-signed submitted pending submitted pending submitted issued stored$" \
    bash -o pipefail -c "jq -r .step '$T/json.err' | paste -sd' '"
check_output "and stdout is the result alone" "^jsonfollowed$" jq -r .name "$T/json.out"
"$TESSERA" enroll live --token "Test Token" --ca forever --subject CN=live --timeout 60 \
    >/dev/null 2>"$T/live.err" &
live_pid=$!
for _ in $(seq 1 100); do grep -q "request pending" "$T/live.err" && break; sleep 0.05; done
check "the pending step arrives while the CA is still pending" \
    bash -c "grep -q 'request pending' '$T/live.err' && kill -0 $live_pid"
kill -INT "$live_pid"
wait "$live_pid" || true
rm -f "$T/polls"
script -qec "'$TESSERA' enroll spun --token 'Test Token' --ca slow-approval --subject CN=spun" \
    /dev/null >"$T/tty.out" 2>&1 </dev/null
check_output "on a terminal one line is redrawn, with a spinner and the seconds waited" \
    '\^M\^\[\[K[-|/\\] CA slow-approval: request pending, asking again in 2 s \(1 s\)' \
    no_sanitizer cat -v "$T/tty.out"
check_output "and taken off before the result" '\^M\^\[\[Kenrolled spun' no_sanitizer cat -v "$T/tty.out"
"$TESSERA" renew laptop 2>"$T/renew.err" >/dev/null
check_output "renew says its steps too" \
    "^generating CSR signed asking CA issued stored$" steps "$T/renew.err"
enroll talker chatty 2>"$T/chatty.err" >/dev/null
check_output "an exec helper's stderr is in the agent's log, line by line" \
    "talker: CA chatty says: step 1 of the approval" cat "$T/agent.log"
check_output "and reaches the client as it comes" "CA chatty says: step 20 of the approval" \
    cat "$T/chatty.err"
check_absent "bounded: 20 lines per run" "CA chatty says: step 21" "$T/agent.log"
check_output "the rest counted" "talker: CA chatty: 6 more lines on the helper's stderr, not logged" \
    cat "$T/agent.log"
# A client that does not ask to follow (an older one) gets its reply alone.
version=$(sed -n 's/^#define TESSERA_PROTOCOL_VERSION \([0-9]*\)u$/\1/p' \
    "$(dirname "$0")/../../common/wire.h")
check_output "a plain RENEW gets RENEW_REPLY as its first frame, no PROGRESS" "^8b$" \
    python3 -c '
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["TESSERA_SOCKET"])
def send(body): s.sendall(struct.pack(">I", len(body)) + body)
def recv():
    n = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))[0]
    return s.recv(n, socket.MSG_WAITALL)
send(b"\x01" + struct.pack(">I", int(sys.argv[1])))
recv()
send(b"\x0b" + struct.pack(">I", 6) + b"laptop")
print("%02x" % recv()[0])
' "$version"
stop_agent

# An import is checked as an enrolment is, before anything is stored.
start_agent
unlock
"$TESSERA" keygen imported --token "Test Token" --subject CN=imported --out "$T/imported.csr" >/dev/null
issue "$T/ca" "$T/imported.csr" "$T/imported.pem" client.ext
check_fails "an import whose chain holds a leaf where a CA belongs is refused" \
    "the certificate for imported cannot be used: certificate 2 of the chain is not a CA certificate" \
    "$TESSERA" import imported --cert "$T/imported.pem" --chain "$T/server.pem"
check_output "and nothing is stored: the key still has no certificate" \
    "imported .* no certificate" "$TESSERA" list
check_output "the same certificate with its CA's is stored" "imported" \
    "$TESSERA" import imported --cert "$T/imported.pem" --chain "$T/ca/ca.pem"

finish
