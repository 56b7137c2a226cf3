#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# agent.conf: every value checked when the agent starts, with the file,
# group and key named and a "did you mean" for a near miss; SIGHUP reads
# it again all or nothing (a new CA profile usable at once, with the
# token's login kept; a bad file refused while the agent serves on with
# what it had); and the agent refuses a state, configuration or runtime
# directory that is not its user's alone.
. "$(dirname "$0")/lib.sh"

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
CONF=$XDG_CONFIG_HOME/tessera/agent.conf
mkdir -p "$(dirname "$CONF")"

# refused DESCRIPTION PATTERN LINES...: with agent.conf made of LINES the
# agent refuses to start and says PATTERN (it would hang here if it started).
refused() {
    local desc=$1 pattern=$2
    shift 2
    printf '%s\n' "$@" >"$CONF"
    check_fails "$desc" "$pattern" timeout 20 "$AGENT" --foreground \
        --module "$SOFTHSM_MODULE" --socket "$T/other.sock"
}
LOCAL=(protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key")

# --- mistakes, refused at start
refused "a misspelt key is refused, naming file, group and key, with the one meant" \
    "agent.conf: \[ca corp\] unknown key \"validty-days\"; did you mean \"validity-days\"\?" \
    "[ca corp]" "${LOCAL[@]}" validty-days=30
refused "two letters swapped are a near miss too" \
    "\[agent\] unknown key \"slot-pool-seconds\"; did you mean \"slot-poll-seconds\"\?" \
    "[agent]" slot-pool-seconds=1
refused "a key like none is refused without a guess" \
    "\[token Test Token\] unknown key \"colour\"$" \
    "[token Test Token]" colour=blue
refused "a misspelt group is refused with the one meant" \
    "unknown group \[tokn Test Token\]; the groups are .*did you mean \[token Test Token\]\?" \
    "[tokn Test Token]" idle-lock=60
refused "a group without its name says how it is written" \
    "\[token\] is not how the group is written: \[token LABEL\]" \
    "[token]" idle-lock=60
refused "an unknown protocol, with the one meant" \
    "\[ca corp\] protocol must be local, exec, acme or scep, not \"scpe\" \(did you mean scep\?\)" \
    "[ca corp]" protocol=scpe
refused "a key of another protocol" \
    "\[ca corp\] command is not a key of local profiles \(it is one of exec\)" \
    "[ca corp]" "${LOCAL[@]}" "command=/bin/true"
refused "a profile number that is not a number" \
    "\[ca impatient\] retry-seconds must be 1 to 86400" \
    "[ca impatient]" "${LOCAL[@]}" retry-seconds=soon
refused "a profile number out of range" "\[ca forever\] validity-days must be 1 to 3650" \
    "[ca forever]" "${LOCAL[@]}" validity-days=99999
refused "a validity in seconds too short to renew" \
    "\[ca blink\] validity-seconds must be 10 to" \
    "[ca blink]" "${LOCAL[@]}" validity-seconds=3
refused "an exec profile without its command" "\[ca helper\] needs command=" \
    "[ca helper]" protocol=exec "trust=$T/ca/ca.pem"
refused "a profile without trust anchors" "\[ca helper\] needs trust=" \
    "[ca helper]" protocol=exec command=/bin/true
refused "a plain-http ACME directory" "\[ca plain\] needs url=https://" \
    "[ca plain]" protocol=acme url=http://127.0.0.1:9/dir "trust=$T/ca/ca.pem"
refused "a SCEP profile whose key cannot open the replies" \
    "\[ca corp\] key must be an RSA key" \
    "[ca corp]" protocol=scep url=http://127.0.0.1:9/scep "trust=$T/ca/ca.pem" key=ec-p256
refused "a profile without a protocol" "\[ca corp\] needs protocol=" \
    "[ca corp]" "trust=$T/ca/ca.pem"
refused "an empty value" "\[identity laptop\] cert-file is empty" \
    "[identity laptop]" cert-file=
refused "a line that is not key=value" "agent.conf: .*not a key-value pair" \
    "[agent]" "what is this"

# --- SIGHUP: all or nothing, logins kept
printf '[agent]\nslot-poll-seconds=1\n' >"$CONF"
start_agent
unlock
check_fails "before the reload there is no CA corp" "no CA profile \[ca corp\]" \
    ca_enroll early corp CN=early
reloads() { grep -c "$1" "$T/agent.log" || true; }
# hup PATTERN: SIGHUP, then wait for the agent to log PATTERN once more.
hup() {
    local seen
    seen=$(reloads "$1")
    kill -HUP "$AGENT_PID"
    for _ in $(seq 1 100); do
        [ "$(reloads "$1")" -gt "$seen" ] && return 0
        sleep 0.05
    done
    return 1
}
profile corp "${LOCAL[@]}" validity-days=30 >>"$CONF"
check "SIGHUP takes up the new file" hup "is in force"
check_output "the new [ca corp] enrols at once, with no new PIN" "enrolled laptop" \
    ca_enroll laptop corp CN=laptop
check_output "the token stayed unlocked throughout" "Test Token .* unlocked" "$TESSERA" tokens
cp "$CONF" "$T/good.conf"
printf 'validty-days=30\n' >>"$CONF"
check "a bad file is refused" hup "the configuration in force stays"
check_output "and the log says why, naming file, group and key" \
    "the configuration in force stays: .*agent.conf: \[ca corp\] unknown key \"validty-days\"" \
    cat "$T/agent.log"
check_output "while the agent serves on with the configuration it had" "enrolled desk" \
    ca_enroll desk corp CN=desk
check "the agent is still running" agent_alive
# A setting of the watch, taken up by the next look: idle-lock.
{ cat "$T/good.conf"; printf '[token Test Token]\nidle-lock=1\n'; } >"$CONF"
check "a good file again" hup "is in force"
check_output "and its idle-lock locks the token without a restart" \
    'token "Test Token" locked after 1 s' \
    bash -c "for _ in \$(seq 1 100); do grep -q 'locked after 1 s' '$T/agent.log' && break; sleep 0.05; done; cat '$T/agent.log'"
# --- directories that are not the agent's own: it refuses to start
stop_agent
cp "$T/good.conf" "$CONF"
STATE=$XDG_STATE_HOME/tessera
# refused_start DESCRIPTION PATTERN [ARGS...]: the agent will not start.
refused_start() {
    local desc=$1 pattern=$2
    shift 2
    check_fails "$desc" "$pattern" timeout 20 "$AGENT" --foreground \
        --module "$SOFTHSM_MODULE" --socket "$T/other.sock" "$@"
}
chmod 775 "$STATE"
refused_start "a state directory its group can write, saying which and why" \
    "refusing the state directory $STATE: the directory $STATE is writable by its group \(mode 0775\)"
chmod 700 "$STATE"
chown nobody "$STATE"
refused_start "a state directory of another user" \
    "refusing the state directory $STATE: the directory $STATE belongs to uid 65534 \(nobody\)"
chown "$(id -u)" "$STATE"
chmod 777 "$(dirname "$CONF")"
refused_start "a configuration directory others can write" \
    "refusing the configuration $CONF: the directory $(dirname "$CONF") is writable by others \(mode 0777\)"
chmod 755 "$(dirname "$CONF")"
chmod 666 "$CONF"
refused_start "a configuration file others can write (it names the programs the agent runs)" \
    "refusing the configuration $CONF: the file $CONF is writable by others \(mode 0666\)"
chmod 644 "$CONF"
chown nobody "$CONF"
refused_start "a configuration file of another user" \
    "the file $CONF belongs to uid 65534 \(nobody\)"
chown "$(id -u)" "$CONF"
mkdir -p "$T/open/tessera" && chmod 755 "$T/open/tessera"
refused_start "a runtime directory others can enter" \
    "socket directory $T/open/tessera is open to other users \(mode 755\); it must be 0700" \
    --socket "$T/open/tessera/agent.sock"
start_agent
check "with all three its own, the agent starts" agent_alive
chmod 666 "$CONF"
check "a reload checks the file too" hup "the configuration in force stays"
check_output "and refuses it, saying why" \
    "the configuration in force stays: refusing the configuration $CONF: the file $CONF is writable by others" \
    cat "$T/agent.log"
chmod 644 "$CONF"

finish
