#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The tessera command: listings, key attributes on the token, and every
# kind of bad argument, each with a clear error and nothing lost.
. "$(dirname "$0")/lib.sh"
# Ed25519 signatures meet SoftHSM2's leak in C_SignInit (lsan.supp), whose
# frames only the slow unwinder reaches through libcrypto.
export AGENT_ASAN_OPTIONS=fast_unwind_on_malloc=0

make_token "Test Token"
make_token "Spare Token"
make_ca "$T/ca" "Tessera Test CA"
start_agent
unlock "Test Token"

check_output "tessera list with no identity yet exits 0, its header alone" \
    '^NAME +TOKEN +KEY' "$TESSERA" list
check_output "and --json prints []" '^\[\]$' "$TESSERA" list --json
check_output "tessera tokens --json lists both tokens, Spare Token locked" \
    '^2 locked false$' \
    bash -o pipefail -c "'$TESSERA' tokens --json | jq -r '\"\\(length) \\(.[] | select(.label == \"Spare Token\") | \"\\(.state) \\(.logged_in)\")\"'"

check_output "tessera --help lists the commands" \
    "keygen +generate a key on a token and print its CSR" "$TESSERA" --help
check_output "tessera tokens shows both tokens and their state" \
    "Spare Token .* locked .*libsofthsm2" "$TESSERA" tokens
check_fails "unlock without a token is ambiguous with two tokens" \
    '2 tokens match ""; name one' "$TESSERA" unlock --pin-file "$T/pin"
check_output "unlock names a token by pkcs11: URI" "unlocked" \
    "$TESSERA" unlock "pkcs11:token=Spare%20Token;model=SoftHSM%20v2" --pin-file "$T/pin"
check "lock one token" "$TESSERA" lock "Spare Token"
check_output "and it is locked again" "Spare Token .* locked" "$TESSERA" tokens
# The PIN prompt reads the terminal without echo: script(1) gives it a pty,
# and the PIN is typed only once the prompt is there, as a person would.
mkfifo "$T/keyboard"
script -qec "$TESSERA unlock 'Spare Token'" /dev/null <"$T/keyboard" >"$T/prompt.out" 2>&1 &
prompt_pid=$!
exec 7>"$T/keyboard"
for _ in $(seq 1 100); do grep -q "PIN for token" "$T/prompt.out" && break; sleep 0.05; done
printf '%s\n' "$PIN" >&7
exec 7>&-
wait "$prompt_pid" || true
if grep -q "PIN for token Spare Token:" "$T/prompt.out" && ! grep -q "$PIN" "$T/prompt.out" &&
    "$TESSERA" tokens | grep -Eq "Spare Token .* unlocked"; then
    pass "the terminal prompt unlocks without echoing the PIN"
else
    cp "$T/prompt.out" "$T/out"
    fail "the terminal prompt unlocks without echoing the PIN"
fi
"$TESSERA" lock "Spare Token"
check_output "unlock --pin-file - reads the PIN from standard input" \
    "unlocked Spare Token" \
    bash -c "printf '%s\n' '$PIN' | '$TESSERA' unlock 'Spare Token' --pin-file -"
"$TESSERA" lock "Spare Token"
install -m 644 "$T/pin" "$T/open.pin"
check_fails "unlock refuses a PIN file others can read, as the agent does" \
    "pin-file $T/open.pin is readable by others \(mode 0644\)" \
    "$TESSERA" unlock "Spare Token" --pin-file "$T/open.pin"
printf '%s\n%s\n' "$PIN" "$PIN" >"$T/two.pin"
chmod 600 "$T/two.pin"
check_fails "and one of two lines" "holds more than one line" \
    "$TESSERA" unlock "Spare Token" --pin-file "$T/two.pin"

for spec in ec-p256 ec-p384 rsa2048 ed25519; do
    check "enroll a $spec identity" enroll "cli-$spec" "$spec"
done
check "a key without a certificate yet" \
    "$TESSERA" keygen pending --token "Test Token" --key ec-p256 \
    --subject "/CN=pending/O=Tessera Test" --out "$T/pending.csr"
check_output "its CSR is signed by the token key" "verify OK" \
    openssl req -in "$T/pending.csr" -noout -verify
check_output "tessera list marks it as having no certificate" \
    "pending .* no certificate" "$TESSERA" list
check_output "and shows an Ed25519 key as such" "cli-ed25519 .* Ed25519 .* ready" \
    "$TESSERA" list

# Every key Tessera made: sensitive, never extractable (read from the token).
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" --login \
    --pin "$PIN" --list-objects --type privkey >"$T/keys" 2>&1
made=$(grep -c "Private Key Object" "$T/keys" || true)
safe=$(grep -c "Access: *sensitive, always sensitive, never extractable, local" "$T/keys" || true)
if [ "$made" -eq 5 ] && [ "$safe" -eq 5 ]; then
    pass "all 5 generated keys are sensitive, never extractable and local"
else
    cp "$T/keys" "$T/out"
    fail "generated keys are sensitive and never extractable ($safe of $made)"
fi

# Each key may sign and nothing else, whatever the token's defaults are
# (SoftHSM2's would let a key decrypt, unwrap and sign-recover).
SIGN_ONLY_PRIVATE="private TOKEN=1 PRIVATE=1 SENSITIVE=1 EXTRACTABLE=0 SIGN=1 DECRYPT=0 UNWRAP=0 SIGN_RECOVER=0 DERIVE=0"
SIGN_ONLY_PUBLIC="public TOKEN=1 PRIVATE=0 VERIFY=1 ENCRYPT=0 WRAP=0 VERIFY_RECOVER=0 DERIVE=0"
for name in cli-ec-p256 cli-rsa2048 cli-ed25519 pending; do
    check_output "$name's key can sign and nothing else" \
        "^$SIGN_ONLY_PRIVATE $SIGN_ONLY_PUBLIC\$" bash -c \
        "'$HELPERS/key_usage' '$SOFTHSM_MODULE' 'Test Token' '$PIN' $name | tr '\n' ' ' | sed 's/ \$//'"
done

"$TESSERA" list --json >"$T/list.json"
check_output "tessera list --json is valid JSON with the identities" \
    '^5 cli-ec-p384 EC 384 ready tessera:cli-ec-p384$' \
    jq -r '"\(length) \(.[1].name) \(.[1].key_type) \(.[1].key_bits) \(.[1].state) \(.[1].uri)"' "$T/list.json"

before=$("$TESSERA" list | md5sum)
# Bad arguments: each refused with a sentence, the agent unchanged.
check_fails "an unknown command is a usage error" "unknown command frobnicate" \
    "$TESSERA" frobnicate
status=0
"$TESSERA" frobnicate >/dev/null 2>&1 || status=$?
if [ "$status" -eq 2 ]; then pass "usage errors exit 2"; else fail "usage errors exit 2 (got $status)"; fi
check_fails "a name with a slash is refused" "not a usable identity name" \
    "$TESSERA" keygen "../etc" --token "Test Token" --subject CN=x
check_fails "an overlong name is refused" "not a usable identity name" \
    "$TESSERA" keygen "$(printf 'n%.0s' $(seq 1 80))" --token "Test Token" --subject CN=x
check_fails "an unknown key type is refused" "unknown key type dsa1024" \
    "$TESSERA" keygen x --token "Test Token" --key dsa1024 --subject CN=x
check_fails "an unparsable subject is refused" "cannot parse subject" \
    "$TESSERA" keygen x --token "Test Token" --subject "no equals sign"
check_fails "an unknown token is refused" 'no token matches "Nowhere"' \
    "$TESSERA" keygen x --token "Nowhere" --subject CN=x
check_fails "a malformed token URI is refused" "unknown attribute 'bogus'" \
    "$TESSERA" keygen x --token "pkcs11:bogus=1" --subject CN=x
check_fails "an existing name is refused" "exists already" \
    "$TESSERA" keygen cli-ec-p256 --token "Test Token" --subject CN=x
check_fails "keygen on a locked token is refused" "is locked" \
    "$TESSERA" keygen x --token "Spare Token" --subject CN=x
printf 'not a certificate\n' >"$T/garbage.pem"
check_fails "importing garbage is refused" "holds no PEM certificate" \
    "$TESSERA" import pending --cert "$T/garbage.pem"
check_fails "a certificate for another key is refused" \
    "public key is not the key of identity pending" \
    "$TESSERA" import pending --cert "$T/cli-ec-p256.pem"
check_fails "a certificate for a missing key is refused" "no key named ghost" \
    "$TESSERA" import ghost --cert "$T/cli-ec-p256.pem"
check_fails "a second certificate for an identity is refused" \
    "has a certificate already" \
    "$TESSERA" import cli-ec-p256 --cert "$T/cli-ec-p256.pem"
check_fails "a missing PIN file is reported" "cannot open" \
    "$TESSERA" unlock "Spare Token" --pin-file "$T/none"
after=$("$TESSERA" list | md5sum)
if [ "$before" = "$after" ]; then pass "nothing changed after the refused commands"; else
    fail "nothing changed after the refused commands"; fi

# The chain given at import is kept and served after the leaf.
"$TESSERA" keygen chained --token "Test Token" --subject CN=chained --out "$T/chained.csr"
issue "$T/ca" "$T/chained.csr" "$T/chained.pem" client.ext
check "import with --chain" "$TESSERA" import chained --cert "$T/chained.pem" --chain "$T/ca/ca.pem"
check_output "the provider returns leaf and chain" "2 certificates" \
    bash -c "openssl storeutl -provider default -provider tessera -certs tessera:chained | grep -c BEGIN | sed 's/$/ certificates/'"
mkdir -m 770 "$T/team"
check_fails "export into a directory its group can write is refused, saying why" \
    "refusing to write $T/team/chained.crt: the directory $T/team is writable by its group" \
    "$TESSERA" export chained --cert "$T/team/chained.crt"
check "and nothing is left there" test -z "$(ls -A "$T/team")"
check_output "export into a private directory writes the files" "BEGIN CERTIFICATE" \
    bash -c "'$TESSERA' export chained --cert '$T/chained.crt' --key-ref '$T/chained.ref' && cat '$T/chained.crt'"
# A pipe or a device (--out /dev/stdout, /dev/null) is written into, never
# replaced by a regular file: a rename over /dev/null once broke the machine.
mkfifo "$T/csr.fifo"
cat "$T/csr.fifo" >"$T/from-fifo.csr" &
reader=$!
check "keygen --out a FIFO writes into it" \
    "$TESSERA" keygen through-fifo --token "Test Token" --subject CN=fifo --out "$T/csr.fifo"
wait "$reader"
check "which stays a FIFO" test -p "$T/csr.fifo"
check_output "and the reader got the CSR" "BEGIN CERTIFICATE REQUEST" cat "$T/from-fifo.csr"

# --- keygen --san, import --replace, forget
cert_objects() { # LABEL: how many certificates the token holds for it
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" --login \
        --pin "$PIN" --list-objects --type cert 2>/dev/null | grep -c "label: *$1\$" || true
}
key_objects() { # LABEL: how many private keys the token holds for it
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "Test Token" --login \
        --pin "$PIN" --list-objects --type privkey 2>/dev/null | grep -c "label: *$1\$" || true
}
der() { openssl x509 -in "$1" -outform DER | sha256sum; }
check_output "keygen --san says what it generated" "generated ec-p256 key sanned" \
    "$TESSERA" keygen sanned --token "Test Token" --subject CN=sanned,O=Corp \
    --san dns:sanned.corp.example --san email:s@corp.example --san ip:10.1.2.3 \
    --san upn:s@corp.example --out "$T/sanned.csr"
check_output "its CSR asks for every --san name" \
    "DNS:sanned.corp.example, email:s@corp.example, IP Address:10.1.2.3, othername: UPN::s@corp.example" \
    openssl req -in "$T/sanned.csr" -noout -text
check_output "and is signed by the new key" "verify OK" openssl req -in "$T/sanned.csr" -noout -verify
check_exit "keygen --san of an unknown kind: refused, naming the kinds" 1 \
    'cannot use subject alternative name "x400:o=corp": write dns:NAME, email:ADDR' \
    "$TESSERA" keygen bad-san --token "Test Token" --subject CN=x --san x400:o=corp
check "and no key was made for it" not_listed bad-san
check_output "no key object bad-san on the token" "^0$" key_objects bad-san

issue "$T/ca" "$T/sanned.csr" "$T/sanned-1.pem" client.ext
"$TESSERA" import sanned --cert "$T/sanned-1.pem" >/dev/null
issue "$T/ca" "$T/sanned.csr" "$T/sanned-2.pem" client.ext # reissued: same key
check_exit "a second certificate without --replace: refused, saying how" 1 \
    "identity sanned has a certificate already; .tessera import --replace. stores one reissued for the same key" \
    "$TESSERA" import sanned --cert "$T/sanned-2.pem"
check_output "import --replace stores the reissued certificate" "^imported sanned" \
    "$TESSERA" import sanned --cert "$T/sanned-2.pem" --replace
"$TESSERA" export sanned --cert "$T/sanned-now.pem" >/dev/null
check_output "the agent serves the reissued one" "^$(der "$T/sanned-2.pem")$" der "$T/sanned-now.pem"
check_output "the old certificate is gone from the token: one left" "^1$" cert_objects sanned
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj /CN=sanned,O=Corp -out "$T/stranger.csr" 2>/dev/null
issue "$T/ca" "$T/stranger.csr" "$T/stranger.pem" client.ext
check_exit "import --replace of a certificate for another key: refused" 1 \
    "the certificate for sanned cannot be used: its public key is not the key of identity sanned" \
    "$TESSERA" import sanned --cert "$T/stranger.pem" --replace
"$TESSERA" export sanned --cert "$T/sanned-now.pem" >/dev/null
check_output "and the reissued certificate stays, alone" "^$(der "$T/sanned-2.pem") 1$" \
    bash -c "echo \"\$(openssl x509 -in '$T/sanned-now.pem' -outform DER | sha256sum) $(cert_objects sanned)\""
check_exit "import --ca naming no profile: refused before anything is stored" 1 \
    "no CA profile \[ca nosuch\] in" "$TESSERA" import sanned --cert "$T/sanned-1.pem" --replace --ca nosuch
"$TESSERA" export sanned --cert "$T/sanned-now.pem" >/dev/null
check_output "and the certificate is still the reissued one" "^$(der "$T/sanned-2.pem")$" der "$T/sanned-now.pem"

check_exit "forget of a name the agent does not know" 1 'no identity named "nosuch"' \
    "$TESSERA" forget nosuch
check_output "forget deletes the certificate and says the key stays" \
    "forgot sanned and deleted its certificate; its key stays on the token" \
    "$TESSERA" forget sanned
check_output "sanned is listed without a certificate" "^sanned .*no certificate" "$TESSERA" list
check_output "no certificate object is left, the key is" "^0 1$" \
    bash -c "echo \"$(cert_objects sanned) $(key_objects sanned)\""
check_output "so its key takes a certificate again" "^imported sanned" \
    "$TESSERA" import sanned --cert "$T/sanned-1.pem"
check_output "forget --delete-keys --json says what it did" '^sanned true$' \
    bash -o pipefail -c "'$TESSERA' forget sanned --delete-keys --json | jq -r '\"\\(.name) \\(.deleted_key)\"'"
check "sanned is no longer listed" not_listed sanned
check_output "and nothing of it is left on the token" "^0 0$" \
    bash -c "echo \"$(cert_objects sanned) $(key_objects sanned)\""
check "the agent still serves" "$TESSERA" list
# Subjects in RFC 4514 order both ways: the string names the most specific
# RDN first, the DER has it last (as openssl req -subj "/O=Corp/CN=alice").
check "keygen takes a subject in RFC 4514 order" \
    "$TESSERA" keygen rfc4514 --token "Test Token" --subject "CN=alice,O=Corp" \
    --out "$T/rfc4514.csr"
check_output "which its CSR encodes with O before CN" '^subject=O = Corp, CN = alice$' \
    openssl req -in "$T/rfc4514.csr" -noout -subject
issue "$T/ca" "$T/rfc4514.csr" "$T/rfc4514.pem" client.ext
"$TESSERA" import rfc4514 --cert "$T/rfc4514.pem" >/dev/null
check_output "and tessera list shows as it was typed" "rfc4514 .* CN=alice,O=Corp" \
    "$TESSERA" list
check_output "so does --json" '^CN=alice,O=Corp$' \
    bash -o pipefail -c "'$TESSERA' list --json | jq -r '.[] | select(.name == \"rfc4514\") | .subject'"
# Each failure of renew says which it is.
check_fails "renew of an unknown name says there is no such identity" \
    '^tessera: no identity named "nosuch"$' "$TESSERA" renew nosuch
check_fails "renew of an imported identity says it was not enrolled" \
    "identity rfc4514 was not enrolled" "$TESSERA" renew rfc4514

# An RSA-4096 key takes the token seconds: on a terminal keygen shows a
# spinner, redrawn while it waits (the agent streams its steps).
script -qec "'$TESSERA' keygen big --token 'Test Token' --key rsa4096 --subject CN=big --out '$T/big.csr'" \
    /dev/null >"$T/big.out" 2>&1 </dev/null
check_output "RSA-4096 keygen shows its step on a terminal, redrawn" '^([2-9]|[1-9][0-9]+)$' \
    bash -c "env -u LD_PRELOAD cat -v '$T/big.out' | grep -o '\^M\^\[\[K[-|/\\] generating a rsa4096 key on token \"Test Token\"' | wc -l"
check_output "and then says what it generated" "generated rsa4096 key big on token Test Token" \
    cat "$T/big.out"

# A headless unlock through pin-file in the config.
stop_agent
mkdir -p "$XDG_CONFIG_HOME/tessera"
printf '[token Spare Token]\npin-file=%s\n' "$T/pin" >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent
check_output "a configured pin-file unlocks its token at start" \
    "Spare Token .* unlocked" "$TESSERA" tokens
chmod 644 "$T/pin"
stop_agent
start_agent
check_output "a pin-file others can read is refused" "readable by others" cat "$T/agent.log"
check_output "and leaves the token locked" "Spare Token .* locked" "$TESSERA" tokens
# Without --module or [agent] modules, every module p11-kit registers is used
# (Debian's softhsm2 package registers its module).
rm -f "$XDG_CONFIG_HOME/tessera/agent.conf"
stop_agent
"$AGENT" --foreground >>"$T/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 600); do "$TESSERA" tokens >/dev/null 2>&1 && break; sleep 0.05; done
check_output "by default the agent loads p11-kit's registered modules" \
    "Test Token .* softhsm2$" "$TESSERA" tokens
printf '[agent]\nmax-sessions=zero\n' >"$XDG_CONFIG_HOME/tessera/agent.conf"
stop_agent
check_fails "a bad config value stops the agent with a clear message" \
    "max-sessions must be 1 to 64" "$AGENT" --foreground --module "$SOFTHSM_MODULE"
printf '[agent]\npoll-us=20000\n' >"$XDG_CONFIG_HOME/tessera/agent.conf"
check_fails "so does a poll time above the bound" \
    "poll-us must be 0 to 10000" "$AGENT" --foreground --module "$SOFTHSM_MODULE"

# More identities than one 64 KiB frame holds (about 150 bytes each): LIST
# pages, and every one arrives once. token_fill makes each key, public key
# and certificate; the token lives on tmpfs, where SoftHSM2's file per
# object costs no disk wait.
rm -f "$XDG_CONFIG_HOME/tessera/agent.conf"
BULK=$(mktemp -d /dev/shm/tessera-bulk.XXXXXX)
SCRATCH_DIRS+=("$BULK")
sed "s|$T/tokens|$BULK|" "$SOFTHSM2_CONF" >"$T/bulk-softhsm2.conf"
export SOFTHSM2_CONF=$T/bulk-softhsm2.conf
make_token "Bulk"
"$TESSERA_BUILD/bench/token_fill" "$SOFTHSM_MODULE" Bulk "$PIN" 500 >/dev/null
start_agent
check_output "500 identities on one token are all listed, each once" \
    '^500 500$' \
    bash -o pipefail -c "'$TESSERA' list --json | jq -r '[.[] | select(.token == \"Bulk\")] | \"\\(length) \\(map(.name) | unique | length)\"'"
check_output "in more than one page (HELLO and two LIST or more)" '^([3-9]|[1-9][0-9]+)$' \
    bash -o pipefail -c "strace -f -e trace=sendmsg -o '$T/list.strace' '$TESSERA' list >/dev/null && grep -c sendmsg '$T/list.strace'"
check_output "and the table has them all" '^500$' \
    bash -o pipefail -c "'$TESSERA' list | grep -c ' Bulk '"

finish
