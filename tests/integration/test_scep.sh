#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tessera enroll with the scep protocol against the real SCEP server of
# Debian's scep package (started here): GetCACaps, GetCACert pinned to the
# profile's CA, PKCSReq with the challenge password, signed on the token;
# the reply decrypted on the token (C_Decrypt) and the certificate used for
# mutual TLS. Then the failures: wrong challenge, unpinned CA, EC key,
# unreachable server, garbage answers.
. "$(dirname "$0")/lib.sh"

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
start_scep "s3cret-challenge"
printf 's3cret-challenge\n' >"$T/challenge"
printf 'wrong-challenge\n' >"$T/wrong-challenge"
chmod 600 "$T/challenge" "$T/wrong-challenge"

# A broken "SCEP server": openssl s_server -WWW serves files from $T/www
# over TLS, so its answers can be anything.
mkdir -p "$T/www"
cd "$T/www"
start_server -WWW -verify 0
cd - >/dev/null
BROKEN=https://127.0.0.1:$PORT/scep
closed_port=$((PORT + 1))

mkdir -p "$XDG_CONFIG_HOME/tessera"
{
    profile corp protocol=scep "url=$SCEP_URL" "trust=$SCEP_CA" "challenge-file=$T/challenge"
    profile inline protocol=scep "url=$SCEP_URL" "trust=$SCEP_CA" challenge=s3cret-challenge
    profile wrong protocol=scep "url=$SCEP_URL" "trust=$SCEP_CA" "challenge-file=$T/wrong-challenge"
    profile unpinned protocol=scep "url=$SCEP_URL" "trust=$T/ca/ca.pem" "challenge-file=$T/challenge"
    profile down protocol=scep "url=http://127.0.0.1:$closed_port/scep" "trust=$SCEP_CA"
    profile nochallenge protocol=scep "url=$SCEP_URL" "trust=$SCEP_CA" \
        "challenge-file=$T/missing-challenge"
    profile broken protocol=scep "url=$BROKEN" "tls-ca=$T/ca/ca.pem" "trust=$SCEP_CA"
} >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent
unlock

enroll() { # NAME CA [ARGS]
    local name=$1
    ca_enroll "$name" "$2" "CN=$name,O=Tessera Test" "${@:3}"
}

# --- success
check_output "enroll through SCEP: an RSA key by default, the reply opened on the token" \
    "enrolled laptop" enroll laptop corp
"$TESSERA" export laptop --key-ref "$T/laptop.ref" --cert "$T/laptop.pem" >/dev/null || true
check_output "the certificate is signed by the SCEP CA" ": OK" \
    openssl verify -CAfile "$SCEP_CA" "$T/laptop.pem"
check_output "for the subject asked (the server orders its names its own way)" \
    "subject=O = Tessera Test, CN = laptop" openssl x509 -in "$T/laptop.pem" -noout -subject
check_output "it is an RSA-2048 key on the token, never extractable" \
    "never extractable" pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" \
    --login --pin "$PIN" --list-objects --type privkey --label laptop
check_output "its key may sign and decrypt (the reply), and nothing else" \
    "^private TOKEN=1 PRIVATE=1 SENSITIVE=1 EXTRACTABLE=0 SIGN=1 DECRYPT=1 UNWRAP=0 SIGN_RECOVER=0 DERIVE=0$" \
    "$HELPERS/key_usage" "$SOFTHSM_MODULE" "Test Token" "$PIN" laptop
check_output "the token decrypted the reply (C_Decrypt), logged by the server as issued" \
    "method=PKIOperation.*err=null" cat "$T/scep.log"
check_output "an RSA-3072 key with the challenge inline in the profile" \
    "enrolled desk" enroll desk inline --key rsa3072
cat "$T/ca/ca.pem" "$SCEP_CA" >"$T/peer-trust.pem"
start_server -www -CAfile "$T/peer-trust.pem"
check_output "the SCEP certificate authenticates a mutual-TLS handshake" \
    "Subject: O=Tessera Test, CN=laptop" handshake tessera:laptop tessera:laptop

# --- renewal: RenewalReq signed with the current certificate and key
"$TESSERA" export laptop --cert /dev/stdout >"$T/before.pem" # a copy, not kept current
check_output "tessera renew renews a SCEP identity" "renewed laptop" "$TESSERA" renew laptop
check_output "with a RenewalReq signed by the current certificate" \
    "CA corp: RenewalReq signed with the current certificate of laptop" cat "$T/agent.log"
"$TESSERA" export laptop --cert /dev/stdout >"$T/after.pem"
if ! cmp -s <(openssl x509 -in "$T/before.pem" -noout -pubkey) \
    <(openssl x509 -in "$T/after.pem" -noout -pubkey); then
    pass "the renewed certificate is for a new key"
else
    fail "the renewed certificate is for the old key"
fi
check_output "and it authenticates a handshake" \
    "Subject: O=Tessera Test, CN=laptop" handshake tessera:laptop tessera:laptop
keys_before=$(private_keys)

# --- failure
check_exit "a wrong challenge password: exit 4, the CA's refusal" 4 \
    "CA wrong: the CA refused the request" enroll refused wrong
check_output "no challenge password ever reaches the agent's log" "^0$" \
    bash -c "grep -c 's3cret-challenge\|wrong-challenge' '$T/agent.log' || true"
check_exit "a CA certificate the profile does not pin: exit 7" 7 \
    "CA unpinned: the CA's certificate from GetCACert is not trusted by" enroll alien unpinned
check_exit "an EC key is refused before any key is made: exit 1" 1 \
    "CA profile corp uses SCEP, whose replies are encrypted to the key: give an RSA key" \
    enroll curved corp --key ec-p256
check_exit "a challenge file that cannot be read: exit 5, naming it" 5 \
    "CA nochallenge: cannot read the challenge password from $T/missing-challenge" \
    enroll mute nochallenge
check_exit "a SCEP server that cannot be reached: exit 5" 5 \
    "CA down: cannot reach http://127.0.0.1:$closed_port/scep" enroll gone down
# s_server -WWW serves the file named by the whole request path.
printf 'POSTPKIOperation\nSHA-256\nAES\n' >"$T/www/scep?operation=GetCACaps"
printf 'not a certificate' >"$T/www/scep?operation=GetCACert"
check_exit "a server whose GetCACert is not a certificate: exit 7" 7 \
    "CA broken: GetCACert: the CA certificate is not one DER certificate" enroll babble broken
check_output "no key of a failed enrolment stays on the token" "^$keys_before$" private_keys
check_output "the agent still serves its SCEP identity" \
    "Subject: O=Tessera Test, CN=laptop" handshake tessera:laptop tessera:laptop

finish
