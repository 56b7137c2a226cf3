#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Start-up on demand, as a desktop session does it. There is no systemd as
# PID 1 here: systemd-socket-activate passes the listening socket exactly as
# systemd does, dbus-daemon activates the bus name from the installed
# .service file, and systemd-analyze checks the units themselves.
. "$(dirname "$0")/lib.sh"
DATA=$TESSERA_BUILD/data
SOURCE_DATA=$(cd "$(dirname "$0")/../.." && pwd)/data

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"

# --- the units, with ExecStart pointing at this build's agent
mkdir -p "$T/units"
sed "s|^ExecStart=.*|ExecStart=$AGENT --foreground|" "$DATA/tessera-agent.service" \
    >"$T/units/tessera-agent.service"
cp "$SOURCE_DATA/tessera-agent.socket" "$T/units/"
check "systemd-analyze verify accepts the user units" \
    systemd-analyze verify --user "$T/units/tessera-agent.socket" "$T/units/tessera-agent.service"
check_output "the socket unit listens where clients look" \
    "^ListenStream=%t/tessera/agent.sock$" cat "$T/units/tessera-agent.socket"
check_output "the D-Bus service file names the bus name and the systemd unit" \
    "Name=org.tessera.Agent1" cat "$DATA/org.tessera.Agent1.service"

# --- socket activation: the first client starts the agent
ACTIVATOR_ENV=(-E SOFTHSM2_CONF -E XDG_RUNTIME_DIR -E XDG_STATE_HOME -E XDG_CONFIG_HOME
    -E OPENSSL_MODULES -E OPENSSL_CONF -E TESSERA_SOCKET -E PATH)
mkdir -p "$(dirname "$TESSERA_SOCKET")" && chmod 700 "$(dirname "$TESSERA_SOCKET")"
systemd-socket-activate -l "$TESSERA_SOCKET" "${ACTIVATOR_ENV[@]}" \
    "$AGENT" --foreground --module "$SOFTHSM_MODULE" >>"$T/agent.log" 2>&1 &
ACTIVATOR_PID=$!
for _ in $(seq 1 600); do [ -S "$TESSERA_SOCKET" ] && break; sleep 0.05; done
# systemd-socket-activate execs the agent in its own process on the first
# connection, as systemd starts the service.
check_output "before any client no agent runs, only the activator" \
    "^systemd-socket" cat "/proc/$ACTIVATOR_PID/comm"
check_output "the first tessera command starts the agent and gets its answer" \
    "Test Token" "$TESSERA" tokens
check_output "the activator's process is the agent now" "^tessera-agent" \
    cat "/proc/$ACTIVATOR_PID/comm"
check_output "the agent took the socket the service manager passed" \
    "listening on the socket the service manager passed" cat "$T/agent.log"
unlock
"$TESSERA" keygen act --token "Test Token" --subject CN=act,O=Tessera --out "$T/act.csr"
issue "$T/ca" "$T/act.csr" "$T/act.pem" client.ext
"$TESSERA" import act --cert "$T/act.pem"
check_output "a client signs through the activated agent" "20 of 20 signed and verified" \
    "$HELPERS/sign_load" -n 20 tessera:act
kill -TERM "$ACTIVATOR_PID"
wait "$ACTIVATOR_PID" 2>/dev/null || true
check "the agent left the activator's socket alone" test -S "$TESSERA_SOCKET"
rm -f "$TESSERA_SOCKET"

# --- D-Bus activation: the first call on the bus starts the agent
mkdir -p "$T/services"
sed "s|^Exec=.*|Exec=$AGENT --foreground --module $SOFTHSM_MODULE|" \
    "$DATA/org.tessera.Agent1.service" >"$T/services/org.tessera.Agent1.service"
cat >"$T/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$T/bus</listen>
  <servicedir>$T/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$T/bus.conf" --fork --print-pid=3 3>"$T/bus.pid"
ACTIVATED_PID=
trap '[ -n "$ACTIVATED_PID" ] && kill "$ACTIVATED_PID" 2>/dev/null; kill "$(cat "$T/bus.pid")" 2>/dev/null; cleanup' EXIT
export DBUS_SESSION_BUS_ADDRESS=unix:path=$T/bus
check_output "the first D-Bus call starts the agent and gets its version" \
    "<'[0-9]+\.[0-9]+\.[0-9]+'>" \
    timeout 30 gdbus call --session --dest org.tessera.Agent1 --object-path /org/tessera/Agent1 \
    --method org.freedesktop.DBus.Properties.Get org.tessera.Agent1 Version
check_output "and that agent also serves the signing socket" "Test Token" "$TESSERA" tokens
# Other suites run agents with the same command line: stop this one by the
# pid the bus knows for its name.
ACTIVATED_PID=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.GetConnectionUnixProcessID org.tessera.Agent1 |
    grep -o '[0-9][0-9]*' | tail -1)
check "the bus-activated agent stops on SIGTERM" kill -TERM "$ACTIVATED_PID"
for _ in $(seq 1 100); do kill -0 "$ACTIVATED_PID" 2>/dev/null || break; sleep 0.05; done
ACTIVATED_PID=

finish
