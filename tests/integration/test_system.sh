#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The system agent as a laptop runs it (tessera-agent --system): the
# machine's identities on a token whose PIN is in a root-only file, enrolled
# by `tessera --system enroll` against the local CA and a SCEP server, their
# certificate files under (a test's) /etc, renewed with nobody logged in,
# used by eapol_test run as root (wpa_supplicant's 802.1X at boot) through
# a key-reference file and through a pkcs11: URI, with no agent of root's
# own: the clients fall back to the system socket. Whom it serves: root,
# the groups allow-groups= names (after a SIGHUP), and nobody else. The
# system units pass `systemd-analyze verify` and score OK, and socket
# activation starts the agent as they would.
. "$(dirname "$0")/lib.sh"

SNIPPET=$(cd "$(dirname "$0")/../.." && pwd)/data/openssl-tessera.cnf
# The machine's places, in a tree of the test's: /etc, /var/lib, /run.
S=$T/system
ETC=$S/etc/tessera
CONF=$ETC/agent.conf
export TESSERA_SYSTEM_SOCKET=$S/run/tessera/agent.sock
mkdir -p "$ETC/certs" "$S/lib"
# Other users may pass through on their way to the socket, no further.
chmod 711 "$T" "$S"
ALLOWED_GID=$(getent group users | cut -d: -f3) # nobody is not in it
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_member() { setpriv --reuid=65534 --regid=65534 --groups="$ALLOWED_GID" "$@"; }

make_token "Machine"
cp "$T/pin" "$ETC/machine.pin"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
start_scep "machine-challenge"
printf 'machine-challenge\n' >"$ETC/scep.challenge"
chmod 600 "$ETC/scep.challenge"

write_conf() { # [AGENT KEY=VALUE...]
    {
        printf '[agent]\n'
        printf '%s\n' "$@"
        printf '[token Machine]\npin-file=%s\n' "$ETC/machine.pin"
        printf '[identity laptop-wifi]\ncert-file=%s\nchain-file=%s\n' \
            "$ETC/certs/laptop-wifi.pem" "$ETC/certs/laptop-wifi-chain.pem"
        printf 'post-renew-command=echo reloaded >>%s\n' "$S/reloads"
        printf '[identity laptop-wired]\ncert-file=%s\n' "$ETC/certs/laptop-wired.pem"
        profile corp protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" \
            validity-days=30
        profile short protocol=local "ca-cert=$T/ca/ca.pem" "ca-key=$T/ca/ca.key" \
            validity-seconds=20 renew-at-percent=50 renew-jitter-percent=0
        profile scep protocol=scep "url=$SCEP_URL" "trust=$SCEP_CA" \
            "challenge-file=$ETC/scep.challenge"
    } >"$CONF"
}
write_conf

# A system bus of the test's own: Debian's system.conf (its default policy
# denies method calls to names nobody allowed) with the machine's policy
# files replaced by ours, where the group users (ALLOWED_GID, which nobody
# is not in) stands for the group tessera.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
sed "s/group=\"tessera\"/group=\"users\"/" "$SRC/data/org.tessera.Agent1.conf" \
    >"$T/policy.conf"
sed -e "s|<listen>.*</listen>|<listen>unix:path=$T/system_bus_socket</listen>|" \
    -e '/<user>\|<fork\/>\|<pidfile>\|<syslog\/>\|<servicehelper>\|<standard_system_servicedirs\/>/d' \
    -e '/<includedir>\|<include /d' \
    -e "s|^</busconfig>|<include>$T/policy.conf</include></busconfig>|" \
    /usr/share/dbus-1/system.conf >"$T/system-bus.conf"
dbus-daemon --config-file="$T/system-bus.conf" --fork --print-pid=4 4>"$T/system-bus.pid"
SERVER_PIDS+=("$(cat "$T/system-bus.pid")")
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/system_bus_socket

check_exit "before any agent runs, a user hears that theirs is not running" 3 \
    "the Tessera agent is not running \(there is no $XDG_RUNTIME_DIR/tessera\)" \
    env -u TESSERA_SOCKET "$TESSERA" list
check_exit "and tessera --system that the system agent is not, and how to start it" 3 \
    "the Tessera system agent is not running \(there is no $S/run/tessera\); start it with .systemctl start tessera-agent-system.socket." \
    "$TESSERA" --system list

# Started as a unit starts it, the paths of the test's tree given; the
# socket comes from TESSERA_SYSTEM_SOCKET as the clients find it.
TESSERA_SOCKET=$TESSERA_SYSTEM_SOCKET start_agent --system --config "$CONF" \
    --state-dir "$S/lib/tessera"
# A root service: no agent of its own (no socket in XDG_RUNTIME_DIR).
unset TESSERA_SOCKET

check_output "the system agent listens on its socket, open to all (mode 0666)" \
    "^srw-rw-rw- root$" stat -c '%A %U' "$TESSERA_SYSTEM_SOCKET"
check_output "in a directory only root writes (0755)" "^drwxr-xr-x root$" \
    stat -c '%A %U' "$(dirname "$TESSERA_SYSTEM_SOCKET")"
check_output "tessera --system sees the token, logged in from root's pin-file" \
    "^Machine .* unlocked " "$TESSERA" --system tokens
check_output "the agent's state is in the state directory, root's alone" \
    "^drwx------ root$" stat -c '%A %U' "$S/lib/tessera"

# --- enrolment: the local CA and SCEP
check_output "tessera --system enroll laptop-wifi against the local CA" \
    "enrolled laptop-wifi" "$TESSERA" --system enroll laptop-wifi --token Machine \
    --ca corp --subject "CN=laptop-wifi,O=Tessera Test"
check_output "its certificate file is written under /etc" "CN = laptop-wifi" \
    openssl x509 -in "$ETC/certs/laptop-wifi.pem" -noout -subject
check_output "tessera --system enroll laptop-vpn against the SCEP server" \
    "enrolled laptop-vpn" "$TESSERA" --system enroll laptop-vpn --token Machine \
    --ca scep --subject "CN=laptop-vpn,O=Tessera Test"
check_output "sudo tessera (no --system, no agent of root's) finds the system agent" \
    "^laptop-vpn .*Machine" env -u XDG_RUNTIME_DIR "$TESSERA" list
check_fails "the system agent never takes a typed PIN" \
    "never takes a PIN from a person: give token \"Machine\" a root-only pin-file" \
    "$TESSERA" --system unlock --pin-file "$T/pin"

# --- 802.1X as wpa_supplicant does it at boot, as root
"$TESSERA" --system export laptop-wifi --key-ref "$ETC/certs/laptop-wifi.key" >/dev/null
start_radius "$T/ca/ca.pem"
eap_keyref() { OPENSSL_CONF=$SNIPPET eap_tls laptop-wifi "$ETC/certs/laptop-wifi.pem" \
    "$ETC/certs/laptop-wifi.key"; }
check_output "eapol_test as root: Access-Accept with a key-reference file" "^SUCCESS$" \
    eap_keyref
check_output "FreeRADIUS accepted the machine's certificate" \
    "TLS-Client-Cert-Common-Name := \"laptop-wifi\"" cat "$T/radius.log"
check_output "and with a pkcs11: URI, through libp11's engine and tessera-pkcs11.so" \
    "^SUCCESS$" eap_pkcs11 laptop-wifi "pkcs11:token=Machine;object=laptop-wifi"

# --- renewal, nobody logged in: on demand, and on the agent's schedule
serial() { openssl x509 -in "$1" -noout -serial; }
before=$(serial "$ETC/certs/laptop-wifi.pem")
check_output "tessera --system renew renews the machine identity" "renewed laptop-wifi" \
    "$TESSERA" --system renew laptop-wifi
check "the certificate file under /etc is the new certificate" \
    test "$before" != "$(serial "$ETC/certs/laptop-wifi.pem")"
check_output "the post-renew command ran" "^reloaded$" cat "$S/reloads"
check_output "eapol_test authenticates with the renewed identity" "^SUCCESS$" eap_keyref
check_output "an identity from a short-lived profile" "enrolled laptop-wired" \
    "$TESSERA" --system enroll laptop-wired --token Machine --ca short \
    --subject "CN=laptop-wired,O=Tessera Test"
wired=$(serial "$ETC/certs/laptop-wired.pem")
renewed_on_schedule() {
    for _ in $(seq 1 120); do
        [ "$(serial "$ETC/certs/laptop-wired.pem")" != "$wired" ] && return 0
        sleep 0.5
    done
    return 1
}
check "the agent renews it on its own schedule (half its 20 s), no user agent running" \
    renewed_on_schedule

# --- whom it serves
check_fails "a user it does not serve is refused, named, and told how to be allowed" \
    "does not serve uid 65534 \(nobody\).*allow-users= or allow-groups= in \[agent\] of $CONF" \
    as_nobody "$TESSERA" --system list
check_output "the agent's log names the refused user" \
    "refused a connection: this Tessera system agent does not serve uid 65534" \
    cat "$T/agent.log"
check_fails "a member of a group not (yet) allowed is refused too" "does not serve uid 65534" \
    as_member "$TESSERA" --system list
write_conf "allow-groups=$ALLOWED_GID"
kill -HUP "$AGENT_PID"
served() { as_member "$TESSERA" --system list; }
eventually_served() {
    for _ in $(seq 1 50); do served >/dev/null 2>&1 && break; sleep 0.1; done
    served
}
check_output "after allow-groups= and a SIGHUP the group's members are served" \
    "^laptop-wifi " eventually_served
check_fails "and nobody else" "does not serve uid 65534" as_nobody "$TESSERA" --system list
check "the agent still serves root" "$TESSERA" --system tokens

# --- D-Bus on the system bus, as the bus policy allows
version() {
    timeout 20 gdbus call --system --dest org.tessera.Agent1 --object-path /org/tessera/Agent1 \
        --method org.freedesktop.DBus.Properties.Get org.tessera.Agent1 Version
}
check_output "the system agent serves org.tessera.Agent1 on the system bus" \
    "serving org.tessera.Agent1 on the system bus" cat "$T/agent.log"
check_output "root calls it" "<'[0-9]+\.[0-9]+\.[0-9]+'>" version
check_output "a member of the policy's group calls it" "<'[0-9]+\.[0-9]+\.[0-9]+'>" \
    as_member bash -c "$(declare -f version); version"
check_fails "anyone else is refused by the bus" "AccessDenied" \
    as_nobody bash -c "$(declare -f version); version"

# --- the units
UNITS=$T/units
mkdir -p "$UNITS"
sed "s|^ExecStart=[^ ]*|ExecStart=$AGENT|" "$TESSERA_BUILD/data/tessera-agent-system.service" \
    >"$UNITS/tessera-agent-system.service"
cp "$(dirname "$0")/../../data/tessera-agent-system.socket" "$UNITS/"
check "systemd-analyze verify passes the system units" \
    systemd-analyze verify --man=no --recursive-errors=no \
    "$UNITS/tessera-agent-system.service" "$UNITS/tessera-agent-system.socket"
check_output "systemd-analyze security scores the service OK" \
    "Overall exposure level for tessera-agent-system.service: [0-9.]+ (SAFE|OK)" \
    systemd-analyze security --offline=yes "$UNITS/tessera-agent-system.service"

# --- socket activation as the system unit has it: systemd-socket-activate
# passes the listening socket as systemd does, made as the socket unit
# makes it (the directory 0755, the socket 0666: SocketMode= has no
# counterpart in systemd-socket-activate, so chmod does its part).
stop_agent
mkdir -p "$(dirname "$TESSERA_SYSTEM_SOCKET")"
systemd-socket-activate -l "$TESSERA_SYSTEM_SOCKET" -E SOFTHSM2_CONF -E PATH \
    "$AGENT" --system --foreground --module "$SOFTHSM_MODULE" --config "$CONF" \
    --state-dir "$S/lib/tessera" >>"$T/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 100); do [ -S "$TESSERA_SYSTEM_SOCKET" ] && break; sleep 0.05; done
chmod 666 "$TESSERA_SYSTEM_SOCKET"
check_output "socket-activated by its first client, the system agent serves root" \
    "^laptop-wifi " "$TESSERA" --system list
check_output "the activator's process is the agent now" "^tessera-agent" cat "/proc/$AGENT_PID/comm"
check_output "a member of the allowed group" "^laptop-wifi " as_member "$TESSERA" --system list
check_fails "and refuses anyone else, by name" "does not serve uid 65534 \(nobody\)" \
    as_nobody "$TESSERA" --system list

finish
