#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The D-Bus API on a private session bus, driven by a real client (gdbus):
# objects and properties, Unlock with a wrong then a right PIN, Lock,
# Enroll, ExportKeyReference, Forget, the ExpiringSoon and PinNeeded
# signals, a desktop notification, and malformed calls that must leave the
# agent serving.
. "$(dirname "$0")/lib.sh"

start_session_bus

make_token "Test Token"
# Two tokens with PINs no other bytes in the agent's memory could match,
# to look for copies of them after an unlock by socket and by D-Bus; longer
# than the 16 bytes of its own that malloc writes into a freed block.
SOCKET_PIN=socket-7Q3xZ9-a-PIN-longer-than-malloc-metadata DBUS_PIN=dbus-4Kw8Vt-a-PIN-longer-than-malloc-metadata
softhsm2-util --init-token --free --label "Socket Token" --so-pin "$SO_PIN" \
    --pin "$SOCKET_PIN" >/dev/null
softhsm2-util --init-token --free --label "Bus Token" --so-pin "$SO_PIN" \
    --pin "$DBUS_PIN" >/dev/null
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
mkdir -p "$XDG_CONFIG_HOME/tessera"
# validity-days=2 puts an enrolled certificate inside the 3-day threshold:
# no expiry warning while its renewal is scheduled, one once it is not.
printf '[ca corp]\nprotocol=local\nca-cert=%s\nca-key=%s\nvalidity-days=2\n' \
    "$T/ca/ca.pem" "$T/ca/ca.key" >"$XDG_CONFIG_HOME/tessera/agent.conf"
printf '[identity laptop]\ncert-file=%s\n' "$T/laptop-published.pem" \
    >>"$XDG_CONFIG_HOME/tessera/agent.conf"

# Everything the agent sends on the bus, and every Notify call to the
# desktop, as a session would see them.
gdbus monitor --session --dest org.tessera.Agent1 >"$T/monitor.log" 2>&1 &
SERVER_PIDS+=("$!")
dbus-monitor --session "interface='org.freedesktop.Notifications'" \
    >"$T/notifications.log" 2>&1 &
SERVER_PIDS+=("$!")
start_agent
for _ in $(seq 1 600); do grep -q "serving org.tessera.Agent1" "$T/agent.log" && break; sleep 0.05; done

AGENT=/org/tessera/Agent1
call() { # PATH METHOD ARGS...
    local path=$1 method=$2
    shift 2
    timeout 60 gdbus call --session --dest org.tessera.Agent1 --object-path "$path" \
        --method "$method" "$@"
}
prop() { # PATH INTERFACE NAME
    call "$1" org.freedesktop.DBus.Properties.Get "org.tessera.Agent1$2" "$3"
}

TOKEN=$(call "$AGENT" org.freedesktop.DBus.ObjectManager.GetManagedObjects |
    grep -o "$AGENT/token/Test_20Token[^']*" | head -1)
check_output "the manager answers with its version" "<'[0-9]+\.[0-9]+\.[0-9]+'>" \
    prop "$AGENT" "" Version
check_output "the ObjectManager lists the token with its properties" \
    "'Label': <'Test Token'>.*'LoggedIn': <false>" \
    call "$AGENT" org.freedesktop.DBus.ObjectManager.GetManagedObjects
check_fails "Unlock with a wrong PIN is an error naming the reason" \
    "Error.PinIncorrect: .*PIN" call "$TOKEN" org.tessera.Agent1.Token.Unlock "'000000'"
check_output "the token stays locked" "<false>" prop "$TOKEN" .Token LoggedIn
check "Unlock with the right PIN" call "$TOKEN" org.tessera.Agent1.Token.Unlock "'$PIN'"
check_output "LoggedIn is now true" "<true>" prop "$TOKEN" .Token LoggedIn
check "the PINs never reach the agent's log" \
    bash -c "! grep -q -e '$PIN' -e 000000 '$T/agent.log'"

# No copy of a PIN stays in the agent's memory, freed memory included:
# the socket's request is wiped; D-Bus keeps the received message (its
# blob and the body's GVariant) beyond the handler, so the agent wipes
# those too.
SCAN=$(dirname "$0")/pin_in_memory.py
printf '%s\n' "$SOCKET_PIN" >"$T/socket.pin"
chmod 600 "$T/socket.pin"
check_output "unlocked through the socket" "unlocked" \
    "$TESSERA" unlock "Socket Token" --pin-file "$T/socket.pin"
check_output "its PIN is nowhere in the agent's memory" "^0 copies$" \
    no_sanitizer python3 "$SCAN" "$AGENT_PID" "$SOCKET_PIN"
BUS_TOKEN=$(call "$AGENT" org.freedesktop.DBus.ObjectManager.GetManagedObjects |
    grep -o "$AGENT/token/Bus_20Token[^']*" | head -1)
check "unlocked through D-Bus" call "$BUS_TOKEN" org.tessera.Agent1.Token.Unlock "'$DBUS_PIN'"
check_output "its PIN is nowhere in the agent's memory" "^0 copies$" \
    no_sanitizer python3 "$SCAN" "$AGENT_PID" "$DBUS_PIN"

check_output "Enroll makes an identity through the CA profile" \
    "objectpath '$AGENT/identity/laptop'" \
    call "$AGENT" org.tessera.Agent1.Enroll laptop \
    "{'token': <'Test Token'>, 'ca': <'corp'>, 'subject': <'CN=laptop,O=Tessera Test'>, 'san': <['dns:laptop.corp.example']>}"
ID=$AGENT/identity/laptop
check_output "its object carries subject, issuer and key type" \
    "'KeyType': <'EC-256'>, 'Subject': <'CN=laptop,O=Tessera Test'>, 'Issuer': <'CN=Tessera Test CA'>" \
    call "$ID" org.freedesktop.DBus.Properties.GetAll org.tessera.Agent1.Identity
check_output "its state is ready and its key reference a tessera: URI" \
    "<'tessera:laptop'>" prop "$ID" .Identity KeyReference
check_output "the chain property is PEM" "BEGIN CERTIFICATE" \
    prop "$ID" .Identity CertificateChain
check_output "ExportKeyReference gives a key-reference file's text" \
    "BEGIN TESSERA KEY" call "$ID" org.tessera.Agent1.Identity.ExportKeyReference
call "$ID" org.tessera.Agent1.Identity.ExportKeyReference |
    sed -e "s/^('//" -e "s/',)$//" -e 's/\\n/\n/g' >"$T/laptop.ref"
prop "$ID" .Identity CertificateChain | sed -e "s/^(<'//" -e "s/'>,)$//" -e 's/\\n/\n/g' \
    >"$T/laptop-chain.pem"
start_server -www
# s_time loads its key with SSL_CTX_use_PrivateKey_file, as file-only
# programs do (curl hangs under the sanitizer runtime; see meson.build).
check_output "the exported reference makes full mutual-TLS handshakes" \
    "[1-9][0-9]* connections in" \
    env OPENSSL_CONF="$(cd "$(dirname "$0")/../.." && pwd)/data/openssl-tessera.cnf" \
    openssl s_time -connect "127.0.0.1:$PORT" -new -time 1 -CAfile "$T/ca/ca.pem" \
    -cert "$T/laptop-chain.pem" -key "$T/laptop.ref"
check_output "an enrolled identity's RenewalState is valid" "<'valid'>" \
    prop "$ID" .Identity RenewalState
check_output "and NextRenewal is a time" "<uint64 [1-9][0-9]+>" prop "$ID" .Identity NextRenewal
check "Renew renews it now" call "$ID" org.tessera.Agent1.Identity.Renew
for _ in $(seq 1 40); do grep -q RenewalSucceeded "$T/monitor.log" && break; sleep 0.05; done
check_output "RenewalSucceeded names it and its new end" \
    "RenewalSucceeded \(objectpath '$ID', uint64 [1-9][0-9]+\)" cat "$T/monitor.log"

check "Lock" call "$TOKEN" org.tessera.Agent1.Token.Lock
check_output "LoggedIn is false again, and the identity says locked" "<'locked'>" \
    prop "$ID" .Identity State
check_fails "a client's signature now fails" "locked" "$HELPERS/sign_load" tessera:laptop
for _ in $(seq 1 40); do grep -q PinNeeded "$T/monitor.log" && break; sleep 0.05; done
check_output "PinNeeded names the token and the identity" \
    "PinNeeded \(objectpath '$TOKEN', objectpath '$ID'\)" cat "$T/monitor.log"
check_output "LastError says why" "locked" prop "$ID" .Identity LastError
check_fails "Renew with the token locked is an error saying so" "locked" \
    call "$ID" org.tessera.Agent1.Identity.Renew
for _ in $(seq 1 40); do grep -q RenewalFailed "$T/monitor.log" && break; sleep 0.05; done
check_output "RenewalFailed gives the reason" \
    "RenewalFailed \(objectpath '$ID', 'token \"Test Token\" is locked" cat "$T/monitor.log"
check_output "PropertiesChanged followed the token's login state" \
    "PropertiesChanged \('org.tessera.Agent1.Token', \{'LoggedIn': <false>" cat "$T/monitor.log"

# Malformed calls: D-Bus errors with clear messages, the agent still serving.
# gdbus would turn 42 into a string after introspection; dbus-send does not.
check_fails "Unlock with a number for the PIN" "InvalidArgs" \
    dbus-send --session --print-reply --dest=org.tessera.Agent1 "$TOKEN" \
    org.tessera.Agent1.Token.Unlock int32:42
check_fails "an identity that does not exist" "Object does not exist" \
    call "$AGENT/identity/ghost" org.tessera.Agent1.Identity.ExportKeyReference
check_fails "a 100 kB PIN is refused without trying it" "Error.Invalid: .*longer than" \
    call "$TOKEN" org.tessera.Agent1.Token.Unlock "'$(head -c 100000 /dev/zero | tr '\0' 7)'"
check_fails "Enroll without its options" "needs the options token, ca and subject" \
    call "$AGENT" org.tessera.Agent1.Enroll ghost "{}"
check_fails "Enroll with a san that is not a string array" "san is an array of strings" \
    call "$AGENT" org.tessera.Agent1.Enroll ghost \
    "{'token': <'Test Token'>, 'ca': <'corp'>, 'subject': <'CN=g'>, 'san': <42>}"
check_fails "Enroll against an unknown profile" "Error.Invalid: no CA profile" \
    call "$AGENT" org.tessera.Agent1.Enroll ghost \
    "{'token': <'Test Token'>, 'ca': <'nowhere'>, 'subject': <'CN=g'>}"
check_output "the agent still serves" "<'Test Token'>" prop "$TOKEN" .Token Label

check "Unlock again" call "$TOKEN" org.tessera.Agent1.Token.Unlock "'$PIN'"
check_output "before Forget tessera list shows the identity" "^laptop " "$TESSERA" list
"$TESSERA" export laptop --cert "$T/laptop-exported.pem" >/dev/null
check "tessera export records the files it wrote" \
    test -s "$XDG_STATE_HOME/tessera/exported/laptop.conf"
check "Forget, deleting the key and certificate" \
    call "$ID" org.tessera.Agent1.Identity.Forget true
check_fails "the identity's object is gone" "Object does not exist" \
    prop "$ID" .Identity Name
check "and the record of its exported files (the files stay)" \
    bash -c "[ ! -e '$XDG_STATE_HOME/tessera/exported/laptop.conf' ] && [ -s '$T/laptop-exported.pem' ]"
check "and so is its [identity] group in agent.conf" \
    bash -c "! grep -qF '[identity laptop]' '$XDG_CONFIG_HOME/tessera/agent.conf'"
check_output "while the CA profile stays" "\[ca corp\]" cat "$XDG_CONFIG_HOME/tessera/agent.conf"
check_output "tessera list, exiting 0, has no identity left" '^\[\]$' "$TESSERA" list --json
# Forget changed what the agent has in force, not only the file: a new
# laptop is not published where the forgotten one's [identity] said.
check "the forgotten identity had its certificate published" test -s "$T/laptop-published.pem"
rm -f "$T/laptop-published.pem"
check_output "a new identity of the same name enrols" "objectpath '$ID'" \
    call "$AGENT" org.tessera.Agent1.Enroll laptop \
    "{'token': <'Test Token'>, 'ca': <'corp'>, 'subject': <'CN=laptop,O=Tessera Test'>}"
check "and is not published by the forgotten group" test ! -e "$T/laptop-published.pem"
# A key made behind the agent's back appears only when the agent looks.
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" --login --pin "$PIN" \
    --keypairgen --key-type EC:prime256v1 --label behind --id 4242 >/dev/null 2>&1
check "a key made by another program is not listed before Reload" not_listed behind
check "Reload" call "$AGENT" org.tessera.Agent1.Reload
check_output "after Reload the agent has read the token again: it lists the key" \
    "^behind " "$TESSERA" list
cp "$XDG_CONFIG_HOME/tessera/agent.conf" "$T/agent.conf.good"
printf 'validty-days=2\n' >>"$XDG_CONFIG_HOME/tessera/agent.conf"
check_fails "Reload of a bad agent.conf is an error naming file, group and key" \
    "Error.Invalid: .*agent.conf: \[ca corp\] unknown key \"validty-days\"; did you mean" \
    call "$AGENT" org.tessera.Agent1.Reload
check_output "and the agent serves on with what it had" "objectpath '$AGENT/identity/desk'" \
    call "$AGENT" org.tessera.Agent1.Enroll desk \
    "{'token': <'Test Token'>, 'ca': <'corp'>, 'subject': <'CN=desk'>}"
cp "$T/agent.conf.good" "$XDG_CONFIG_HOME/tessera/agent.conf"
check "Reload of the good file again" call "$AGENT" org.tessera.Agent1.Reload
check_output "RecentUses shows an identity's uses, refusals too, with the program" \
    "'laptop', 'Test Token', 'EC', '[^']*/sign_load', (uint32 )?[1-9][0-9]*, 'token-locked'" \
    call "$AGENT" org.tessera.Agent1.RecentUses laptop
# Expiry warnings only for certificates nothing will replace in time, and
# not again at every start.
stop_agent
AGENT=$TESSERA_BUILD/agent/tessera-agent start_agent
for _ in $(seq 1 100); do [ "$(grep -c "serving org.tessera.Agent1" "$T/agent.log")" -ge 2 ] && break; sleep 0.05; done
check "Unlock after a restart" call "$TOKEN" org.tessera.Agent1.Token.Unlock "'$PIN'"
sleep 0.5
check_absent "no ExpiringSoon for 2-day certificates whose renewal is scheduled" \
    "ExpiringSoon" "$T/monitor.log"
check_absent "and no desktop notification" "Certificate expiring" "$T/notifications.log"
expiring() { # NAME: ExpiringSoon for NAME within 5 s
    for _ in $(seq 1 50); do
        grep -q "ExpiringSoon (objectpath '$AGENT/identity/$1'" "$T/monitor.log" && return 0
        sleep 0.1
    done
    return 1
}
notified() { # PATTERN: a desktop notification says it within 5 s
    for _ in $(seq 1 50); do grep -Eq -- "$1" "$T/notifications.log" && return 0; sleep 0.1; done
    return 1
}
"$TESSERA" keygen paper --token "Test Token" --subject CN=paper --out "$T/paper.csr" >/dev/null
openssl x509 -req -in "$T/paper.csr" -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" \
    -CAcreateserial -out "$T/paper.pem" -days 2 -extfile "$T/ca/client.ext" 2>/dev/null
"$TESSERA" import paper --cert "$T/paper.pem" >/dev/null
check "an imported 2-day certificate, which nothing renews, is ExpiringSoon" expiring paper
check "and the desktop is told why" notified "paper expires in [0-2] days; nothing renews it"
printf '[ca corp]\nprotocol=exec\ncommand=/bin/false\ntrust=%s\n' "$T/ca/ca.pem" \
    >"$XDG_CONFIG_HOME/tessera/agent.conf"
call "$AGENT" org.tessera.Agent1.Reload >/dev/null
check_fails "a renewal through a CA that fails, fails" "Error" \
    call "$AGENT/identity/desk" org.tessera.Agent1.Identity.Renew
sleep 0.5
check_absent "one failure is no warning yet" "ExpiringSoon \(objectpath '$AGENT/identity/desk'" \
    "$T/monitor.log"
check_fails "a second one fails too" "Error" \
    call "$AGENT/identity/desk" org.tessera.Agent1.Identity.Renew
check "after the second, desk is ExpiringSoon" expiring desk
check "and the desktop is told its renewal fails" \
    notified "desk expires in [0-2] days; its renewal failed 2 times"
: >"$XDG_CONFIG_HOME/tessera/agent.conf"
call "$AGENT" org.tessera.Agent1.Reload >/dev/null
check "with its CA profile gone from agent.conf, laptop is ExpiringSoon" expiring laptop
check "and the desktop is told its profile is missing" \
    notified "laptop expires in [0-2] days; its CA profile \[ca corp\] is not in agent.conf"
check_output "each warning once" '^3$' \
    bash -c "grep -c 'org.tessera.Agent1.ExpiringSoon' '$T/monitor.log'"
cp "$T/agent.conf.good" "$XDG_CONFIG_HOME/tessera/agent.conf"
call "$AGENT" org.tessera.Agent1.Reload >/dev/null

stop_session_bus
sleep 0.2
check "the agent outlives its session bus" agent_alive
check_output "and its socket still serves" "Test Token" "$TESSERA" tokens

finish
