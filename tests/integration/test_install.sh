#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# meson install into a prefix of one's own (as ~/.local is), by a user who
# can write nowhere else: everything lands under the prefix, the provider
# included, and the installed files alone serve: OpenSSL finds the provider
# through the installed snippet (or OPENSSL_MODULES), systemd and D-Bus
# find the units and the service where a session looks, and man, bash and
# zsh find the pages and the completion.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
# Outside $T, which only root may enter: the installer is someone else.
D=$(mktemp -d /tmp/tessera-install.XXXXXX)
SCRATCH_DIRS+=("$D")
PREFIX=$D/prefix
# Run as nobody when the test runs as root, so that a file meant for the
# system's directories fails the install instead of landing there.
installer=()
if [ "$(id -u)" -eq 0 ]; then
    chown nobody "$D"
    installer=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$D")
fi
as_installer() { "${installer[@]}" "$@"; }

check "meson setup --prefix, as a user who owns only the prefix" \
    as_installer meson setup "$D/build" "$SRC" --prefix="$PREFIX" -Dbuildtype=plain
# Only what is installed is built: the suites' helpers are not needed.
mapfile -t targets < <(meson introspect "$D/build" --targets |
    jq -r --arg b "$D/build/" '.[] | select(.installed) | .filename[] | ltrimstr($b)')
check "building what is installed" as_installer ninja -C "$D/build" "${targets[@]}"
check "meson install, as that user" as_installer meson install -C "$D/build" --no-rebuild
meson introspect "$D/build" --installed | jq -r '.[]' >"$T/installed"
check_output "every installed file is under the prefix" "^0 of [0-9]+ outside$" \
    bash -c "echo \"\$(grep -vc '^$PREFIX/' '$T/installed') of \$(wc -l <'$T/installed') outside\""
check "and is there" bash -c "while read -r f; do test -e \"\$f\" || { echo \"missing \$f\"; exit 1; }; done <'$T/installed'"

BIN=$PREFIX/bin
MODULE=$(grep '/ossl-modules/tessera.so$' "$T/installed")
SNIPPET=$PREFIX/share/tessera/openssl-tessera.cnf
check_output "the provider is in the prefix's ossl-modules" "^$PREFIX/lib/.*ossl-modules/tessera.so$" \
    echo "$MODULE"
check_output "the installed snippet names it by that path" "^module = $MODULE$" cat "$SNIPPET"
check_exit "tessera doctor points at the installed snippet" 1 "fix: point OPENSSL_CONF at .*, such as $SNIPPET$" \
    env OPENSSL_CONF=/nowhere "$BIN/tessera" doctor

# --- the installed agent, CLI and provider, and nothing from the build
make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
make_server_cert "$T/ca"
unset OPENSSL_MODULES
AGENT=$BIN/tessera-agent TESSERA=$BIN/tessera start_agent
TESSERA=$BIN/tessera
unlock
"$TESSERA" keygen home --token "Test Token" --subject CN=home --out "$T/home.csr" >/dev/null &&
    issue "$T/ca" "$T/home.csr" "$T/home.pem" client.ext &&
    "$TESSERA" import home --cert "$T/home.pem" --chain "$T/ca/ca.pem" >/dev/null ||
    fail "set up identity home with the installed tessera"
check_output "OPENSSL_CONF=the installed snippet: storeutl finds the provider" "^2$" \
    bash -c "OPENSSL_CONF='$SNIPPET' openssl storeutl -certs tessera:home | grep -c 'BEGIN CERTIFICATE'"
start_server -www
printf 'GET / HTTP/1.0\r\n\r\n' >"$T/request"
check_output "and s_client authenticates with tessera:home, the snippet alone loading it" \
    "Subject: CN ?= ?home" \
    bash -c "OPENSSL_CONF='$SNIPPET' timeout 20 openssl s_client -connect 127.0.0.1:$PORT \
        -CAfile '$T/ca/ca.pem' -verify_return_error -cert tessera:home -key tessera:home \
        -ign_eof <'$T/request'"
check_output "or OPENSSL_MODULES names the prefix's directory" "^2$" \
    bash -c "OPENSSL_MODULES='$(dirname "$MODULE")' OPENSSL_CONF=/dev/null openssl storeutl \
        -provider tessera -provider default -certs tessera:home | grep -c 'BEGIN CERTIFICATE'"
stop_agent

# --- systemd and D-Bus find what was installed where a session looks
UNITS=$PREFIX/share/systemd/user
check_output "the units' ExecStart is the installed agent" "^ExecStart=$BIN/tessera-agent --foreground$" \
    cat "$UNITS/tessera-agent.service"
check_output "which is where systemd looks for user units with XDG_DATA_HOME=PREFIX/share" "^$UNITS$" \
    env XDG_DATA_HOME="$PREFIX/share" systemd-analyze --user unit-paths
check "systemd-analyze verify accepts the installed units" \
    systemd-analyze verify --user "$UNITS/tessera-agent.socket" "$UNITS/tessera-agent.service"
SYSTEM_UNITS=$PREFIX/share/systemd/system
check_output "the system agent's units go to PREFIX/share/systemd/system, running the installed agent" \
    "^ExecStart=$BIN/tessera-agent --system --foreground$" cat "$SYSTEM_UNITS/tessera-agent-system.service"
check_output "its certificate directory is under the prefix's etc" \
    "^ReadWritePaths=-$PREFIX/etc/tessera/certs$" cat "$SYSTEM_UNITS/tessera-agent-system.service"
check "systemd-analyze verify accepts the installed system units" \
    systemd-analyze verify --man=no --recursive-errors=no "$SYSTEM_UNITS/tessera-agent-system.socket" \
    "$SYSTEM_UNITS/tessera-agent-system.service"
check "the system bus policy goes to PREFIX/share/dbus-1/system.d" \
    test -s "$PREFIX/share/dbus-1/system.d/org.tessera.Agent1.conf"
# A session bus as the desktop's, finding services under $XDG_DATA_HOME.
XDG_DATA_HOME=$PREFIX/share start_session_bus
check_output "a session bus with XDG_DATA_HOME=PREFIX/share starts the installed agent" \
    "<'[0-9]+\.[0-9]+\.[0-9]+'>" \
    timeout 30 gdbus call --session --dest org.tessera.Agent1 --object-path /org/tessera/Agent1 \
    --method org.freedesktop.DBus.Properties.Get org.tessera.Agent1 Version
activated=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.GetConnectionUnixProcessID org.tessera.Agent1 |
    grep -o '[0-9][0-9]*' | tail -1)
SERVER_PIDS+=("$activated")
check_output "it is the installed one" "^$BIN/tessera-agent$" readlink "/proc/$activated/exe"
kill -TERM "$activated"
for _ in $(seq 1 100); do kill -0 "$activated" 2>/dev/null || break; sleep 0.05; done

# --- man, bash and zsh find the pages and the completion
for page in tessera.1 agent.conf.5 tessera-agent.8; do
    check_output "man finds $page with PREFIX/bin in PATH" "^$PREFIX/share/man/man${page##*.}/$page$" \
        env -u MANPATH PATH="$BIN:$PATH" man -w "${page%.*}"
done
check_output "bash-completion loads the completion from PREFIX/share" "^complete -F _tessera tessera$" \
    env XDG_DATA_DIRS="$PREFIX/share" bash -c \
    '. /usr/share/bash-completion/bash_completion; __load_completion tessera; complete -p tessera'
check_output "zsh's compinit finds _tessera in PREFIX/share/zsh/site-functions" "^_tessera$" \
    zsh -fc "fpath=('$PREFIX/share/zsh/site-functions' \$fpath); autoload -Uz compinit; compinit -u -D; print -r -- \$_comps[tessera]"

finish
