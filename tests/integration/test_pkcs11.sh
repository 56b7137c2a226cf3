#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tessera-pkcs11.so against the real agent: what it shows, signatures that
# verify against the certificate shown beside the key, threads, fork,
# C_Finalize with calls in flight, an agent restart and a renewal in the
# middle of a session, a locked token unlocked by C_Login, the agent never
# loading its own module, and a fake agent's hostile answers.
. "$(dirname "$0")/lib.sh"

MODULE=$TESSERA_BUILD/pkcs11/tessera-pkcs11.so
CHECK=$HELPERS/pkcs11_check


make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
mkdir -p "$XDG_CONFIG_HOME/tessera"
profile corp protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" \
    validity-days=30 grace-seconds=5 >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent
unlock
import_with_chain laptop ec-p256
import_with_chain legacy rsa2048
"$TESSERA" keygen bare --token "Test Token" --subject CN=bare --out "$T/bare.csr"

check "every function of the PKCS 11 v2.40 list is present, and C_Initialize keeps its rules" \
    "$CHECK" "$MODULE" functions

# --- what it shows, through OpenSC's pkcs11-tool
check_output "pkcs11-tool lists one slot per token, labelled as the agent labels it" \
    "token label +: Test Token" pkcs11-tool --module "$MODULE" --list-slots
check_output "the token requires login and is write-protected" \
    "token flags +: login required, token initialized, PIN initialized, readonly" \
    pkcs11-tool --module "$MODULE" --list-slots
pkcs11-tool --module "$MODULE" --list-objects >"$T/objects" 2>&1
for what in "Certificate Object; type = X.509 cert" "Public Key Object; EC" \
    "Private Key Object; RSA" "subject: +DN: O=Tessera Test, CN=laptop"; do
    check_output "pkcs11-tool lists: $what" "$what" cat "$T/objects"
done
check_output "private keys are sensitive, never extractable, and sign" \
    "Access: +sensitive, always sensitive, never extractable" cat "$T/objects"
"$CHECK" "$MODULE" list >"$T/list"
check_output "each identity is a certificate, a public and a private key, one CKA_ID" \
    "certificate laptop category=1 id=([0-9a-f]+).*public-key laptop id=\1.*private-key laptop id=\1" \
    paste -sd ' ' "$T/list"
check_output "the chain's CA certificate is shown once, category authority" \
    "^  certificate Tessera Test CA category=2 id=$" cat "$T/list"
check_output "a key without a certificate shows its keys alone" \
    "private-key bare" cat "$T/list"
check_absent "and no certificate" "certificate bare" "$T/list"

# --- signatures through pkcs11-tool, verified by OpenSSL
id_of() { sed -n "/^  private-key $1 /s/.*id=//p" "$T/list"; }
echo "a message for the token" >"$T/msg"
openssl dgst -sha256 -binary "$T/msg" >"$T/msg.sha256"
for name in laptop legacy; do openssl x509 -in "$T/$name.pem" -pubkey -noout >"$T/$name.pub"; done
p11sign() { # MECHANISM NAME INPUT OUT [ARGS...]
    local mech=$1 name=$2 input=$3 out=$4
    shift 4
    pkcs11-tool --module "$MODULE" --login --pin "$PIN" --sign --mechanism "$mech" \
        --id "$(id_of "$name")" -i "$input" -o "$out" "$@"
}
p11sign ECDSA-SHA256 laptop "$T/msg" "$T/sig.ec" --signature-format openssl >/dev/null 2>&1
check "ECDSA-SHA256 (hashed in the module) verifies against the certificate" \
    openssl dgst -sha256 -verify "$T/laptop.pub" -signature "$T/sig.ec" "$T/msg"
p11sign ECDSA laptop "$T/msg.sha256" "$T/sig.ec2" --signature-format openssl >/dev/null 2>&1
check "raw ECDSA of a digest verifies" \
    openssl dgst -sha256 -verify "$T/laptop.pub" -signature "$T/sig.ec2" "$T/msg"
p11sign SHA384-RSA-PKCS legacy "$T/msg" "$T/sig.rsa" >/dev/null 2>&1
check "SHA384-RSA-PKCS verifies" \
    openssl dgst -sha384 -verify "$T/legacy.pub" -signature "$T/sig.rsa" "$T/msg"
p11sign RSA-PKCS-PSS legacy "$T/msg.sha256" "$T/sig.pss" --hash-algorithm SHA256 \
    --mgf MGF1-SHA256 >/dev/null 2>&1
check "RSA-PKCS-PSS of a digest verifies" \
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
    -verify "$T/legacy.pub" -signature "$T/sig.pss" "$T/msg"
check_output "the module verifies its own signature" "Signature is valid" \
    pkcs11-tool --module "$MODULE" --verify --mechanism ECDSA-SHA256 \
    --id "$(id_of laptop)" -i "$T/msg" --signature-file "$T/sig.ec" --signature-format openssl
echo "another message" >"$T/other"
check_output "and refuses it for another message" "Invalid signature" \
    pkcs11-tool --module "$MODULE" --verify --mechanism ECDSA-SHA256 \
    --id "$(id_of laptop)" -i "$T/other" --signature-file "$T/sig.ec" --signature-format openssl

# --- threads, fork, finalize
check_output "8 threads sign with sessions of their own, every signature verified" \
    "^400 of 400 signed and verified" "$CHECK" "$MODULE" sign laptop -t 8 -n 50
check_output "RSA-PSS from 4 threads" "^80 of 80 signed and verified" \
    "$CHECK" "$MODULE" sign legacy -t 4 -n 20 -p
check_output "children forked while 4 threads sign must initialise again, then sign" \
    "^10 of 10 children initialised again and signed; the parent's threads: ([0-9]+) of \1 signed, the last of 4 of 4 verified" \
    timeout 60 "$CHECK" "$MODULE" fork laptop
check_output "C_Finalize ends a blocked C_WaitForSlotEvent at once, signatures in flight end, unloading is safe" \
    "C_Finalize: CKR_OK; C_WaitForSlotEvent then returned CKR_CRYPTOKI_NOT_INITIALIZED after [0-9]+ ms.*unloaded" \
    bash -c "timeout 30 '$CHECK' '$MODULE' finalize laptop | paste -sd ' '"

# --- a session held across an agent restart, then across a renewal
hold() { # NAME: pkcs11_check holding NAME's key, paused until $T/go-NAME
    rm -f "$T/go-$1"
    "$CHECK" "$MODULE" hold "$1" "$T/go-$1" >"$T/hold-$1.out" 2>&1 &
    HOLD_PID=$!
    for _ in $(seq 1 400); do
        grep -q paused "$T/hold-$1.out" && return 0
        kill -0 "$HOLD_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$T/hold-$1.out" >&2
    return 1
}
release() { touch "$T/go-$1"; wait "$HOLD_PID" || true; }
hold laptop
stop_agent
start_agent
unlock
release laptop
check_output "after an agent restart the same session signs with the key it found" \
    "the key found before: CKR_OK, verified against the certificate found with it" \
    cat "$T/hold-laptop.out"

"$TESSERA" enroll corp --token "Test Token" --ca corp --subject "CN=corp,O=Tessera Test" \
    >/dev/null 2>&1
hold corp
check "the identity renews while a session holds its key" "$TESSERA" renew corp
"$CHECK" "$MODULE" list >"$T/list-renewing"
check_absent "during the grace period no renewal key (~next, ~old) is shown" "~" \
    "$T/list-renewing"
release corp
check_output "a session that found the key before the renewal still signs with it, matching its certificate" \
    "the key found before: CKR_OK, verified against the certificate found with it" \
    cat "$T/hold-corp.out"
check_output "a new search finds the new certificate and key" \
    "a new search found a new certificate .*, a new key" cat "$T/hold-corp.out"
check_output "and they sign as a pair" "the key found now: CKR_OK, verified against its certificate" \
    cat "$T/hold-corp.out"
check_output "the old key is not found by a new search" \
    "a new search for the old key id finds 0 key" cat "$T/hold-corp.out"
hold corp
check "and renews again, within the first renewal's grace period" "$TESSERA" renew corp
# The first renewal's old key went when the second began; the second's
# goes when its grace period ends.
for _ in $(seq 1 150); do
    [ "$(grep -c "identity corp: deleted the key its renewal replaced" "$T/agent.log")" -ge 2 ] && break
    sleep 0.1
done
release corp
check_output "after the grace period the old key is refused (the program must search again)" \
    "the key found before: CKR_KEY_HANDLE_INVALID" cat "$T/hold-corp.out"

# --- a locked token: C_Login from the program unlocks it for every program
"$TESSERA" lock
"$CHECK" "$MODULE" login 000000 >"$T/login.out" 2>&1
check_output "while the agent is locked, sessions are public and no private key is found" \
    "^before: public, 0 private key" cat "$T/login.out"
check_output "a wrong PIN is reported as wrong" "C_Login: CKR_PIN_INCORRECT; after: public" \
    cat "$T/login.out"
check_output "and tried once: the agent saw one wrong PIN" "^1$" \
    grep -c "wrong PIN for token" "$T/agent.log"
check_output "the right PIN unlocks the token; keys appear" \
    "C_Login: CKR_OK; after: logged in, 4 private key" "$CHECK" "$MODULE" login "$PIN"
check_output "for every program: the agent holds the login" "unlocked" "$TESSERA" tokens
check_output "and another program signs without a PIN" "^50 of 50 signed and verified" \
    "$CHECK" "$MODULE" sign laptop -n 50

# --- what real tokens do, through the fault-injecting module: a PIN pad,
# the last PIN try
stop_agent
export FAULTY_CONTROL=$T/faults FAULTY_LOG=$T/calls FAULTY_PINPAD_PIN=$PIN
printf 'protected_path=1\n' >"$FAULTY_CONTROL"
: >"$FAULTY_LOG"
FAULTY=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so
AGENT_MODULE=$FAULTY start_agent
check_output "a PIN-pad token says so (CKF_PROTECTED_AUTHENTICATION_PATH)" \
    "^token Test Token .* pin-pad" "$CHECK" "$MODULE" list
check_output "C_Login without a PIN: the pad is asked, through the agent" \
    "C_Login: CKR_OK; after: logged in" "$CHECK" "$MODULE" login -
printf 'final_try=1\n' >"$FAULTY_CONTROL"
"$TESSERA" lock
: >"$FAULTY_LOG"
"$CHECK" "$MODULE" list >"$T/final-try.list"
check_output "at the last PIN try the token says so" "^token Test Token .* final-try" \
    cat "$T/final-try.list"
check_output "and C_Login is refused without spending it (only tessera unlock --force does)" \
    "C_Login: CKR_FUNCTION_REJECTED; after: public" "$CHECK" "$MODULE" login "$PIN"
check_output "the token saw no login" "^0$" bash -c "grep -c '^C_Login\$' '$FAULTY_LOG' || true"
stop_agent
: >"$FAULTY_CONTROL"
unset FAULTY_PINPAD_PIN
start_agent
unlock

# --- the agent never loads its own module
check_exit "an agent given the module as its own fails at once, saying why" 1 \
    "cannot initialize PKCS#11 module .*tessera-pkcs11.so" \
    timeout 20 "$AGENT" --foreground --module "$MODULE" --socket "$T/self.sock"
# p11-kit's registry, as `meson install` leaves it, seen only in a private
# mount namespace (nothing on the machine changes).
mkdir -p "$T/registry"
sed "s|^module: .*|module: $MODULE|" "$TESSERA_BUILD/pkcs11/tessera.module" \
    >"$T/registry/tessera.module"
printf 'module: %s\n' "$SOFTHSM_MODULE" >"$T/registry/softhsm2.module"
registry_agent() { # NAME: the agent under another program name, on the registry
    ln -sf "$AGENT" "$T/$1"
    (TESSERA_PKCS11_DEBUG=1 exec unshare --mount bash -c "$PRIVATE_ROOT" - \
        "$T/registry:/usr/share/p11-kit/modules" -- \
        "$T/$1" --foreground -v --socket "$T/$1.sock" >"$T/$1.log" 2>&1) &
    local pid=$!
    for _ in $(seq 1 100); do
        TESSERA_SOCKET=$T/$1.sock "$TESSERA" tokens >"$T/$1.tokens" 2>&1 && break
        sleep 0.1
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}
stop_agent
registry_agent tessera-agent
check_output "an agent loading p11-kit's registry serves the token's module" \
    "^Test Token .*softhsm2" cat "$T/tessera-agent.tokens"
check_absent "and never loads the Tessera module (disable-in: tessera-agent)" \
    "tessera-pkcs11" "$T/tessera-agent.tokens" "$T/tessera-agent.log"
# Renamed, disable-in does not name it: the module itself refuses.
registry_agent renamed-agent
check_output "under another name the agent still serves the token" \
    "^Test Token .*softhsm2" cat "$T/renamed-agent.tokens"
check_output "and the module refused to initialise inside it" \
    "tessera-pkcs11: refusing to initialise inside tessera-agent" cat "$T/renamed-agent.log"
check_absent "so the agent shows no token of its own" "tessera-pkcs11" \
    "$T/renamed-agent.tokens"
start_agent
unlock

# --- a fake agent's hostile answers
F=$T/fake
mkdir -p "$F" && chmod 700 "$F"
(
    cd "$F"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout good.key \
        -out good.csr -subj /CN=good 2>/dev/null
    openssl x509 -req -in good.csr -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" \
        -CAcreateserial -days 2 -outform DER -out good.crt 2>/dev/null
    openssl pkey -in good.key -pubout -outform DER -out good.spki
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null
    openssl pkey -in other.key -pubout -outform DER -out other.spki
    openssl req -x509 -newkey ed25519 -nodes -keyout ed.key -outform DER -out ed.crt \
        -subj /CN=ed -days 2 2>/dev/null
    openssl pkey -in ed.key -pubout -outform DER -out ed.spki
    openssl x509 -in "$T/ca/ca.pem" -outform DER -out ca.crt
)
fake() { # SCENARIO: a fake agent at $F/agent.sock
    "$HELPERS/fake_agent" "$F/agent.sock" "$1" "$F" >"$F/$1.log" 2>&1 &
    SERVER_PIDS+=($!)
    for _ in $(seq 1 100); do grep -q listening "$F/$1.log" && return 0; sleep 0.05; done
}
fake hostile
TESSERA_SOCKET=$F/agent.sock timeout 60 "$CHECK" "$MODULE" hostile >"$F/hostile.out" 2>&1
check_output "from a hostile agent, only the identity whose certificate and key match is shown" \
    "object good +object good +object good +object Tessera Test CA +signing" \
    paste -sd ' ' "$F/hostile.out"
for bad in mismatch badcert badkey edkey elsewhere; do
    check_absent "never $bad" "object $bad" "$F/hostile.out"
done
check_output "a signature of the wrong length is an error, not a short signature" \
    "signing with good: CKR_DEVICE_ERROR" cat "$F/hostile.out"
check_output "a 1024-byte token label is cut to 32 bytes, whole characters" \
    "label (é){16}$" cat "$F/hostile.out"
check_output "and the program goes on" "^survived$" cat "$F/hostile.out"
kill "${SERVER_PIDS[-1]}"
fake garbage
check_output "malformed, mistyped and oversized answers, and hang-ups, never crash the host" \
    "^survived$" env TESSERA_SOCKET="$F/agent.sock" timeout 60 "$CHECK" "$MODULE" hostile
check "the real agent still signs" "$CHECK" "$MODULE" sign laptop -n 5
stop_agent
check_output "with no agent at all the module shows no token, and the program goes on" \
    "C_GetSlotList: CKR_OK, 0 slot\(s\).*survived" \
    bash -c "timeout 20 '$CHECK' '$MODULE' hostile | paste -sd ' '"

finish
