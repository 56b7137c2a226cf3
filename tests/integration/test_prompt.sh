#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The agent asks where the user is: a signature on a locked token runs the
# real pinentry-tty on a terminal (a tmux pane, typed on with send-keys)
# while openssl s_client waits; cancel, a wrong then a right PIN with the
# tries left, two clients and one prompt, a timeout, a PIN pad; the
# identity's allow-programs and confirm; and the record of every use, with
# no PIN in it.
. "$(dirname "$0")/lib.sh"

# The faulty module (tests/faulty) reports a low PIN counter and plays a
# PIN pad when told; otherwise it is SoftHSM2.
export FAULTY_CONTROL=$T/faults FAULTY_PINPAD_PIN=$PIN
: >"$FAULTY_CONTROL"
fault() { printf '%s\n' "$@" >"$FAULTY_CONTROL"; }
export AGENT_MODULE=$TESSERA_BUILD/tests/faulty/libtessera-faulty-token.so
OPENSSL_SNIPPET=$(cd "$(dirname "$0")/../.." && pwd)/data/openssl-tessera.cnf

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
CONF=$XDG_CONFIG_HOME/tessera/agent.conf
mkdir -p "$XDG_CONFIG_HOME/tessera"
configure() { # [agent] lines after pinentry=, then other groups
    {
        printf '[agent]\npinentry=%s\nlog-interval-seconds=2\n' "${PINENTRY:-/usr/bin/pinentry-tty}"
        printf '%s\n' "$@"
    } >"$CONF"
}
configure prompt-seconds=60 '[identity only-openssl]' allow-programs=/usr/bin/openssl \
    '[identity confirmed]' confirm=true \
    "$(profile corp protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key")"

# The user's terminal: a tmux pane whose program never reads it, so every
# key typed goes to pinentry.
TMUX_CMD=(tmux -L "tessera-prompt-$$" -f /dev/null)
"${TMUX_CMD[@]}" new-session -d -x 160 -y 50 "exec sleep 100000"
TTY=$("${TMUX_CMD[@]}" display -p '#{pane_tty}')
stop_tmux() { "${TMUX_CMD[@]}" kill-server 2>/dev/null || true; }
trap 'stop_tmux; cleanup' EXIT
screen() { "${TMUX_CMD[@]}" capture-pane -p -J; }
fresh_screen() { "${TMUX_CMD[@]}" send-keys -R \; clear-history; }
# pinentry-tty discards what was typed before it reads (TCSAFLUSH), so keys
# (pgrep hangs with the sanitizer runtime preloaded: no_sanitizer)
# are sent once the agent's pinentry sleeps in the terminal's read
# (wchan wait_woken; between commands it waits on its pipe).
reading() {
    local pid
    for pid in $(no_sanitizer pgrep -P "$AGENT_PID" pinentry-tty); do
        [ "$(cat "/proc/$pid/wchan" 2>/dev/null)" = wait_woken ] && return 0
    done
    return 1
}
await_reader() {
    for _ in $(seq 1 300); do
        reading && return 0
        sleep 0.1
    done
    echo "# no pinentry read the terminal within 30 s"
    return 1
}
type_keys() {
    await_reader
    "${TMUX_CMD[@]}" send-keys -l "$1"
    "${TMUX_CMD[@]}" send-keys Enter
}
press() { await_reader; "${TMUX_CMD[@]}" send-keys "$1"; }
wait_screen() { # PATTERN [TIMES]: shown (at least TIMES times) within 30 s
    for _ in $(seq 1 300); do
        [ "$(screen | grep -cE -- "$1")" -ge "${2:-1}" ] && return 0
        sleep 0.1
    done
    screen | grep -v '^$' | sed 's/^/#   screen: /'
    return 1
}

# s_server serves one connection at a time: two clients waiting at once
# need a server each.
start_server -www
SECOND_PORT=$PORT
start_server -www
# A mutual-TLS handshake as identity NAME in the background, through the
# provider; its output and then "exit STATUS" go to OUT.
client() { # NAME OUT [PROGRAM]: PROGRAM is openssl (default) or curl
    local name=$1 out=$2 program=${3:-openssl}
    rm -f "$out"
    (
        status=0
        if [ "$program" = curl ]; then
            "$TESSERA" export "$name" --key-ref "$T/$name.ref" --cert "$T/$name.crt" >/dev/null
            OPENSSL_CONF=$OPENSSL_SNIPPET timeout 120 curl -sS \
                --cacert "$T/ca/ca.pem" --cert "$T/$name.crt" \
                --key "$T/$name.ref" "https://127.0.0.1:$PORT/" \
                >"$out.tmp" 2>&1 || status=$?
        else
            printf 'GET / HTTP/1.0\r\n\r\n' |
                timeout 120 openssl s_client -provider default -provider tessera \
                    -connect "127.0.0.1:$PORT" -CAfile "$T/ca/ca.pem" \
                    -verify_return_error -cert "tessera:$name" \
                    -key "tessera:$name" -ign_eof >"$out.tmp" 2>&1 || status=$?
        fi
        echo "exit $status" >>"$out.tmp"
        mv "$out.tmp" "$out"
    ) &
}
finished() { # OUT: the client is done within 90 s (what it said in the
    # test's output on failure)
    for _ in $(seq 1 900); do
        if [ -f "$1" ]; then
            cat "$1"
            return 0
        fi
        sleep 0.1
    done
    return 1
}
# signed OUT: it finished, exit 0, and the server saw the client's certificate
signed() { finished "$1" && grep -q '^exit 0$' "$1" && grep -q 'Verify return code: 0' "$1"; }
failed_with() { # OUT PATTERN
    finished "$1" && ! grep -q '^exit 0$' "$1" && grep -Eq -- "$2" "$1"
}
said() { # FILE PATTERN: within 10 s
    for _ in $(seq 1 100); do
        grep -Eq -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
pinentries() { no_sanitizer pgrep -c -P "$AGENT_PID" pinentry-tty || true; }

start_agent
unlock
for name in web only-openssl confirmed; do enroll "$name" ec-p256 >/dev/null; done
ca_enroll enrolled corp CN=enrolled >/dev/null
"$TESSERA" lock >/dev/null

# --- no terminal known: today's behaviour
client web "$T/c0"
check "with no terminal or display known, a locked token fails as before" \
    failed_with "$T/c0" "is locked: run .tessera unlock"
"${TMUX_CMD[@]}" respawn-pane -k "'$TESSERA' update-env >'$T/update-env.out' 2>&1; exec sleep 100000"
TTY=$("${TMUX_CMD[@]}" display -p '#{pane_tty}')
check "tessera update-env, run on the user's terminal, sends it" \
    said "$T/update-env.out" "PIN prompts go to $TTY\$"

# --- the PIN typed, the client proceeds
fresh_screen
client web "$T/c1"
check "the prompt appears on the terminal, naming program, identity and token" \
    wait_screen '/usr/bin/openssl \(pid [0-9]+\) wants to sign with identity web'
check_output "it names the token" 'PIN of token "Test Token"' screen
type_keys "$PIN"
check "the waiting client proceeds after the PIN and completes mutual TLS" signed "$T/c1"
check_output "the token is unlocked" "unlocked" "$TESSERA" tokens

# --- cancel
"$TESSERA" lock >/dev/null
fresh_screen
client web "$T/c2"
check "a second signature on the locked token prompts again" wait_screen 'PIN:'
type_keys ""
check "Enter with no PIN costs no try: the prompt says so and stays" \
    wait_screen 'No PIN was entered'
check_absent "nothing was sent to the token" "wrong PIN" "$T/agent.log"
press C-d
check "cancelled: the client fails with the reason" \
    failed_with "$T/c2" "PIN prompt was cancelled"
check_output "and the token stays locked" "locked" "$TESSERA" tokens
check_output "tessera log names the cancelled prompt" "web +prompt-cancelled" "$TESSERA" log web

# --- a wrong PIN, then the right one; the tries left are shown
fault count_low=1
fresh_screen
client web "$T/c3"
check "prompted" wait_screen 'PIN:'
type_keys "000000"
check "a wrong PIN reopens the prompt saying so and the tries left" \
    wait_screen 'Wrong PIN.*Few PIN tries are left'
check_output "the prompt is open again, nothing resubmitted" "^1$" pinentries
type_keys "$PIN"
check "then the right PIN: the client proceeds" signed "$T/c3"
check_output "one wrong PIN was logged, never the PIN itself" "wrong PIN for token" cat "$T/agent.log"
fault

# --- two clients, one prompt
"$TESSERA" lock >/dev/null
fresh_screen
client web "$T/c4"
check "prompted" wait_screen 'PIN:'
PORT=$SECOND_PORT client web "$T/c5"
check "a second client's signature waits for the same prompt" \
    said "$T/agent.log" "openssl \(pid [0-9]+\) waits for the prompt already open for identity web"
check_output "two clients waiting share one pinentry" "^1$" pinentries
screen >"$T/screen"
check_output "and one prompt on the terminal" "^1$" grep -c 'wants to sign' "$T/screen"
type_keys "$PIN"
check "the first client proceeds" signed "$T/c4"
check "and the second, with the same PIN" signed "$T/c5"

# --- a renewal asked for on a locked token
"$TESSERA" lock >/dev/null
fresh_screen
("$TESSERA" renew enrolled >"$T/renew.tmp" 2>&1; echo "exit $?" >>"$T/renew.tmp"; mv "$T/renew.tmp" "$T/renew") &
check "tessera renew on a locked token prompts, naming the renewal" \
    wait_screen "the agent's own renewal or enrolment wants to sign with identity enrolled"
type_keys "$PIN"
check_output "and renews once the PIN is typed" "^exit 0$" bash -c "$(declare -f finished); finished '$T/renew'"

# --- the program allowed, and another refused
client only-openssl "$T/c6"
check "allow-programs: openssl may use only-openssl" signed "$T/c6"
# curl hangs with the sanitizer runtime preloaded (meson.build): under
# ASan the other program is the test's own sign_load.
if [ -z "${TESSERA_SANITIZED:-}" ]; then
    client only-openssl "$T/c7" curl
    other=/usr/bin/curl
else
    (status=0
        "$HELPERS/sign_load" -n 1 tessera:only-openssl >"$T/c7.tmp" 2>&1 || status=$?
        echo "exit $status" >>"$T/c7.tmp"
        mv "$T/c7.tmp" "$T/c7") &
    other=$HELPERS/sign_load
fi
# curl shows only the first error's reason string; the agent's sentence
# names the program and the identity.
check "$other is refused, saying so" \
    failed_with "$T/c7" "may not use (the )?identity"
check_output "the refusal is in the agent's log" \
    "identity only-openssl: program-refused by $other" cat "$T/agent.log"

# --- confirm
fresh_screen
client confirmed "$T/c8"
check "confirm=true: the new process is asked about" \
    wait_screen 'Allow /usr/bin/openssl \(pid [0-9]+\) to sign with identity confirmed\?'
press a
check "allowed, it signs" signed "$T/c8"
fresh_screen
client confirmed "$T/c9"
check "another process is asked again" wait_screen 'Allow /usr/bin/openssl'
press d
check "denied, it is refused with the message" \
    failed_with "$T/c9" "may not use identity confirmed: the user said no"

# --- nobody answers
stop_agent
configure prompt-seconds=5
TESSERA_TTY=$TTY TERM=xterm start_agent
fresh_screen
started=$(date +%s)
client web "$T/c10"
check "the agent started with TESSERA_TTY prompts there" wait_screen 'PIN:'
check "nobody answers: the client fails after prompt-seconds" \
    failed_with "$T/c10" "nobody entered the PIN in time"
elapsed=$(($(date +%s) - started))
check_output "after about 5 s, not the client library's own timeout ($elapsed s)" "^ok$" \
    bash -c "[ $elapsed -ge 4 ] && [ $elapsed -lt 60 ] && echo ok"
check_output "no pinentry is left running" "^0$" pinentries

# --- a PIN pad: no PIN asked, a message to use the keypad
fault protected_path=1 login_delay_ms=1500
fresh_screen
client web "$T/c11"
check "a PIN-pad token gets a message to use the keypad" wait_screen 'keypad of its reader'
check "and the client proceeds once the pad has the PIN" signed "$T/c11"
fault

# --- the record
check_output "tessera log shows the uses with program and outcome" \
    "web +signed +Test Token +/usr/bin/openssl" "$TESSERA" log
"$TESSERA" log --json >"$T/log.json"
check_output "tessera log --json has identity, program, pid, outcome and count" '^ok$' \
    jq -r 'if (map(select(.identity == "web" and .outcome == "signed" and
        .program == "/usr/bin/openssl" and .pid > 0 and .count >= 1)) | length) > 0
        then "ok" else "no" end' "$T/log.json"
check_absent "the PIN is in neither the agent's log nor tessera log" "$PIN" \
    "$T/agent.log" "$T/log.json"
# Many signatures a second from one program: one entry, with a count.
: >"$T/agent.log"
check "a program signing 200 times in a row" "$HELPERS/sign_load" -n 200 tessera:web
sleep 3 # the interval (2 s) is over, and flushed within a second
check_output "is logged at its first signature, and once more with the count" \
    "^2$" grep -cE "identity web: signed (by|199 more times by) .*sign_load" "$T/agent.log"
check_output "tessera log has it as one entry counting 200" '^200$' \
    bash -c "'$TESSERA' log web --json | jq '.[] | select(.program | endswith(\"sign_load\")) | .count'"

# --- a pinentry that cannot show anything: a locked token, as before
stop_agent
PINENTRY=/bin/false configure
TESSERA_TTY=$TTY start_agent
client web "$T/c12"
check "a pinentry that fails leaves the old answer, with the reason" \
    failed_with "$T/c12" "is locked: run .tessera unlock. \(the PIN prompt could not be shown: the pinentry program ended"
check "and the agent serves on" "$TESSERA" tokens

finish
