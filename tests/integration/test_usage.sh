#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The tessera command as people and scripts meet it: help for every
# command, usage errors naming the command, a line saying what each command
# did, JSON from every command that prints data, the man pages, and the
# bash and zsh completion against a running agent.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
MAN_PAGES=("$TESSERA_BUILD/cli/tessera.1" "$TESSERA_BUILD/data/agent.conf.5"
    "$TESSERA_BUILD/data/tessera-agent.8")
BASH_COMPLETION=$TESSERA_BUILD/cli/completion/tessera
ZSH_COMPLETION_DIR=$TESSERA_BUILD/cli/completion
# The completion runs `tessera` as users have it, from PATH.
export PATH=$TESSERA_BUILD/cli:$PATH

# --- help, before any agent runs: it needs none
commands=$("$TESSERA" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 { print $1 }' | xargs)
check_output "tessera --help lists the commands" \
    "^list tokens unlock lock enroll renew keygen import forget doctor export update-env log help$" echo "$commands"
for command in $commands; do
    "$TESSERA" help "$command" >"$T/help.$command" 2>&1 || true
    if grep -q "^Usage: tessera $command" "$T/help.$command" &&
        grep -q "^Options:" "$T/help.$command" &&
        grep -q "^  -h, --help" "$T/help.$command" &&
        grep -q "^Exit status:" "$T/help.$command" &&
        grep -q "^  3  no agent of yours" "$T/help.$command" &&
        "$TESSERA" "$command" --help | cmp -s - "$T/help.$command" &&
        "$TESSERA" "$command" -h | cmp -s - "$T/help.$command"; then
        pass "tessera help $command, $command --help and -h: usage, options, exit statuses"
    else
        cp "$T/help.$command" "$T/out"
        fail "tessera help $command, $command --help and -h: usage, options, exit statuses"
    fi
    check_exit "tessera $command --no-such-option: a usage error naming $command" 2 \
        "^tessera $command: unknown option --no-such-option$" \
        "$TESSERA" "$command" --no-such-option
done
check_output "enroll's help has the CA's exit statuses" "^  6  the CA still said pending at the timeout" \
    cat "$T/help.enroll"
check_output "doctor's says what its exit status 1 means" "^  1  a check failed" cat "$T/help.doctor"
check_output "options after the operand are read too (lock TOKEN --help)" "^Usage: tessera lock" \
    "$TESSERA" lock "Some Token" --help
check_exit "a missing required option is named" 2 "^tessera keygen: needs --token TOKEN and --subject DN$" \
    "$TESSERA" keygen new-key
check_exit "an option without its value" 2 "^tessera unlock: --pin-file needs a value$" \
    "$TESSERA" unlock --pin-file
check_exit "a value for a flag" 2 "^tessera list: --json takes no value$" "$TESSERA" list --json=yes
check_exit "an operand where none is taken" 2 "^tessera tokens: takes no operand, not extra$" \
    "$TESSERA" tokens extra
check_exit "help for no such command" 2 "^tessera help: no command frobnicate$" "$TESSERA" help frobnicate
check_exit "without an agent, a command says so: exit 3" 3 "agent is not running|cannot be found" \
    "$TESSERA" list
# Another user's agent: one started with sudo into your runtime directory,
# or the runtime directory of another login. The test plays you as nobody.
if [ "$(id -u)" -eq 0 ]; then
    OTHER=$(mktemp -d /tmp/tessera-other.XXXXXX)
    SCRATCH_DIRS+=("$OTHER")
    chmod 755 "$OTHER"
    mkdir -m 700 "$OTHER/tessera"
    as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
    check_exit "a root agent's socket directory in yours: another user's agent, exit 3" 3 \
        "^tessera: the agent's socket $OTHER/tessera/agent.sock is in a directory of uid 0 \(root\), which you cannot enter: any agent there is another user's" \
        as_nobody env TESSERA_SOCKET="$OTHER/tessera/agent.sock" "$TESSERA" list
    check_exit "another login's runtime directory: the same" 3 \
        "is in a directory of uid 0 \(root\), which you cannot enter: any agent there is another user's" \
        as_nobody env -u TESSERA_SOCKET XDG_RUNTIME_DIR="$T/run" "$TESSERA" list
else
    echo "ok $((tests_run += 1)) # SKIP another user's agent: only root can play two users"
fi

# --- the man pages: rendered without a warning, and complete
for page in "${MAN_PAGES[@]}"; do
    name=$(basename "$page")
    check "$name renders without warnings" no_sanitizer \
        bash -c "test -z \"\$(MANWIDTH=80 man --warnings -l '$page' 2>&1 >/dev/null; groff -ww -z -man '$page' 2>&1)\""
done
missing=()
for command in $commands; do
    grep -q "^\.SS $command$" "${MAN_PAGES[0]}" || missing+=("$command")
    for option in $(grep -oE '^  --[a-z-]+' "$T/help.$command"); do
        grep -qF "\\fB${option//-/\\-}\\fR" "${MAN_PAGES[0]}" || missing+=("$command $option")
    done
done
if [ ${#missing[@]} -eq 0 ]; then pass "tessera(1) has every command and option of --help"; else
    echo "${missing[*]}" >"$T/out"
    fail "tessera(1) has every command and option of --help"
fi
missing=()
for option in $("$AGENT" --help | grep -oE -- '--[a-z-]+' | sort -u); do
    grep -qF "\\fB${option//-/\\-}\\fR" "${MAN_PAGES[2]}" || missing+=("$option")
done
if [ ${#missing[@]} -eq 0 ]; then pass "tessera-agent(8) has every option of tessera-agent --help"; else
    echo "${missing[*]}" >"$T/out"
    fail "tessera-agent(8) has every option of tessera-agent --help"
fi
check_output "agent.conf(5) describes every key the agent reads, and no other" "keys, each read by the agent and described" \
    python3 "$(dirname "$0")/config_keys.py" "$SRC" "${MAN_PAGES[1]}"
# The example, every key uncommented, is a configuration the agent takes.
sed -e 's/^#\([a-z][a-z0-9-]*=\)/\1/' -e 's/^#\(\[[^]]*\]\)$/\1/' \
    -e 's/^\(modules=\).*/\1'"${SOFTHSM_MODULE//\//\\/}"'/' \
    -e "s|^\(pin-file=\).*|\1$T/pin|" "$SRC/data/agent.conf.example" >"$T/example.conf"
check_output "the example, every key set, is a configuration the agent starts with" "^ok$" \
    bash -c "timeout 5 '$AGENT' --foreground --config '$T/example.conf' --socket '$T/example.sock' \
        --state-dir '$T/example-state' >'$T/example.log' 2>&1 & pid=\$!; \
        for _ in \$(seq 1 100); do [ -S '$T/example.sock' ] && break; sleep 0.05; done; \
        kill \$pid && wait \$pid && echo ok || cat '$T/example.log'"

# --- what each command says it did, and its JSON
make_token "Test Token"
make_token "Spare Token"
make_token 'Quote "Q" Token'
make_ca "$T/ca" "Tessera Test CA"
mkdir -p "$XDG_CONFIG_HOME/tessera"
profile local protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" validity-days=7 \
    >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent

json() { # DESCRIPTION JQ-FILTER COMMAND...: valid JSON on stdout, the filter true
    local desc=$1 filter=$2
    shift 2
    local status=0
    "$@" >"$T/json" 2>"$T/json.err" || status=$?
    if python3 -m json.tool "$T/json" >/dev/null 2>&1 &&
        jq -e "$filter" "$T/json" >/dev/null 2>&1; then
        pass "$desc"
    else
        cat "$T/json" "$T/json.err" >"$T/out"
        fail "$desc (exit status $status; /$filter/)"
    fi
}

check_output "unlock says which token it unlocked" "^unlocked Test Token$" \
    "$TESSERA" unlock "Test Token" --pin-file "$T/pin"
json "unlock --json: the token and its state" '.token == "Spare Token" and .state == "unlocked"' \
    "$TESSERA" unlock "Spare Token" --pin-file "$T/pin" --json
check_output "lock says which" "^locked Spare Token$" "$TESSERA" lock "Spare Token"
json "lock --json" '.token == "Spare Token" and .state == "locked"' "$TESSERA" lock "Spare Token" --json
json "lock --json of every token: a null token" '.token == null and .state == "locked"' \
    "$TESSERA" lock --json
check_output "lock without a token says every token" "^locked every token$" "$TESSERA" lock
unlock "Test Token"

check_output "keygen --out says what it generated, and where the CSR is" \
    "^generated ec-p256 key laptop on token Test Token; its CSR is in $T/laptop.csr$" \
    "$TESSERA" keygen laptop --token "Test Token" --subject "CN=laptop,O=Tessera Test" --out "$T/laptop.csr"
json "keygen --json: name, key, token and the CSR as PEM" \
    '.name == "desk" and .key == "ec-p384" and .token == "Test Token" and .out == null and (.csr | startswith("-----BEGIN CERTIFICATE REQUEST-----\n"))' \
    "$TESSERA" keygen desk --token "Test Token" --key ec-p384 --subject CN=desk --json
jq -r .csr "$T/json" >"$T/desk.csr"
check_output "whose CSR is the token key's" "verify OK" openssl req -in "$T/desk.csr" -noout -verify
issue "$T/ca" "$T/laptop.csr" "$T/laptop.pem" client.ext
check_output "import says what it stored" "^imported laptop$" \
    "$TESSERA" import laptop --cert "$T/laptop.pem" --chain "$T/ca/ca.pem"
issue "$T/ca" "$T/desk.csr" "$T/desk.pem" client.ext
serial=$(openssl x509 -in "$T/desk.pem" -noout -serial | cut -d= -f2)
json "import --json: the certificate's subject, issuer, serial and validity" \
    ".name == \"desk\" and .subject == \"CN=desk\" and .issuer == \"CN=Tessera Test CA\" and .serial == \"$serial\" and (.not_after | test(\"^[0-9-]{10}T[0-9:]{8}Z$\")) and (.not_before | test(\"Z$\"))" \
    "$TESSERA" import desk --cert "$T/desk.pem" --json
check_output "export says each file it wrote" \
    "^wrote laptop's key reference to $T/laptop.ref$" \
    "$TESSERA" export laptop --key-ref "$T/laptop.ref" --cert "$T/laptop.crt" --chain "$T/laptop-chain.pem"
cp "$T/out" "$T/exported"
check_output "with the chain's size" "^wrote laptop's chain \(1 CA certificate\) to $T/laptop-chain.pem$" \
    cat "$T/exported"
json "export --json: the files written, null for those not asked for" \
    ".name == \"laptop\" and .key_ref == null and .cert == \"$T/l2.crt\" and .chain == \"$T/l2-chain.pem\" and .chain_certificates == 1" \
    "$TESSERA" export laptop --cert "$T/l2.crt" --chain "$T/l2-chain.pem" --json
json "enroll --json: the certificate issued" \
    '.name == "enrolled" and (.subject | contains("CN=enrolled")) and .issuer == "CN=Tessera Test CA"' \
    ca_enroll enrolled local "CN=enrolled,O=Tessera Test" --json
json "renew --json: the new certificate" '.name == "enrolled" and .serial != null' \
    "$TESSERA" renew enrolled --json
json "list --json: one object per identity" '[.[].name] | sort == ["desk", "enrolled", "laptop"]' \
    "$TESSERA" list --json
json "tokens --json, with a label that needs escaping" \
    'map(.label) | index("Quote \"Q\" Token") != null' "$TESSERA" tokens --json
json "doctor --json: one object per check, the fix apart" \
    'length > 5 and all(.[]; has("check") and has("ok") and has("message") and has("fix")) and (map(select(.check == "provider"))[0] | .ok == false and (.fix | startswith("add")) and (.message | contains("fix") | not))' \
    env OPENSSL_CONF=/dev/null "$TESSERA" doctor --json
json "a failure with --json is an object too, the error named" \
    '.error == "no-identity" and (.message | length > 0)' \
    "$TESSERA" export ghost --cert "$T/ghost.crt" --json

# --- bash completion: the function itself, as bash calls it at a Tab
# complete_bash WORDS...: what _tessera offers for the last word, sorted.
complete_bash() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        _tessera; printf "%s\n" "${COMPREPLY[@]}"' _ "$BASH_COMPLETION" "$@" |
        sort | xargs -d '\n' echo
}
complete_bash_elsewhere() { TESSERA_SOCKET=$T/nowhere.sock complete_bash "$@"; }
# The test's agent (root's, as the system agent is) stands for the system agent.
as_system_agent() { (export TESSERA_SYSTEM_SOCKET=$TESSERA_SOCKET && "$@"); }
check_output "bash: the commands" \
    "^doctor enroll export forget help import keygen list lock log renew tokens unlock update-env$" complete_bash tessera ""
check_output "bash: a command from its start" "^unlock$" complete_bash tessera unl
check_output "bash: a command's options" "^--help --json --key --out --san --subject --token$" \
    complete_bash tessera keygen x --
check_output "bash: identities from tessera list --json" "^desk enrolled laptop$" \
    complete_bash tessera export ""
check_output "bash: an identity from its start" "^laptop$" complete_bash tessera renew la
check_output "bash: a token label with a space, escaped" '^Spare\\ Token$' complete_bash tessera unlock Sp
check_output "bash: or quoted, as the word began" "^'Spare Token'$" complete_bash tessera unlock "'Sp"
check_output "bash: a label with quotes, escaped back" '^Quote\\ \\"Q\\"\\ Token$' \
    complete_bash tessera unlock Quo
check_output "bash: --token=VALUE offers tokens" '^Spare\\ Token$' complete_bash tessera keygen x --token = Sp
check_output "bash: key types" "^ec-p256 ec-p384$" complete_bash tessera keygen x --key ec
check_output "bash: files for a file option" "^$T/laptop.crt$" complete_bash tessera export laptop --cert "$T/laptop.cr"
check_output "bash: options once the operand is there" "^--json$" complete_bash tessera renew laptop --j
check_output "bash: the agent at --socket is asked, not the environment's" "^laptop$" \
    complete_bash_elsewhere tessera --socket "$TESSERA_SOCKET" export lap
check_output "bash: after --system the system agent is asked (here the test's agent)" "^laptop$" \
    as_system_agent complete_bash_elsewhere tessera --system export lap

# --- zsh completion, in an interactive zsh on a pseudo-terminal
# complete_zsh LINE: what zsh shows and offers after LINE and a Tab.
complete_zsh() { timeout 60 zsh -f "$(dirname "$0")/zsh_complete.zsh" "$ZSH_COMPLETION_DIR" "$1"; }
zsh_matches() { complete_zsh "$1" | sed -n 's/.*match://p' | sort | xargs -d '\n' echo; }
zsh_matches_elsewhere() { TESSERA_SOCKET=$T/nowhere.sock zsh_matches "$@"; }
check_output "zsh: the commands, each with its summary" "unlock +-- log the agent into a token" \
    complete_zsh "tessera "
check_output "zsh: identities" "^desk enrolled laptop$" zsh_matches "tessera export "
check_output "zsh: a token label with a space" "^Spare Token$" zsh_matches "tessera unlock Sp"
check_output "zsh: a label with quotes" '^Quote "Q" Token$' zsh_matches "tessera lock Quo"
check_output "zsh: key types" "^ec-p384$" zsh_matches "tessera keygen x --key ec-p3"
check_output "zsh: the agent at --socket is asked" "^laptop$" \
    zsh_matches_elsewhere "tessera --socket $TESSERA_SOCKET renew la"
check_output "zsh: after --system the system agent is asked" "^laptop$" \
    as_system_agent zsh_matches_elsewhere "tessera --system renew la"

finish
