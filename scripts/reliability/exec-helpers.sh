#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The figures of docs/reliability.md, "Exec CA helpers": a real agent on a
# SoftHSM2 token enrols through helpers that misbehave, and this prints
# what each cost the agent (peak RSS, seconds). Nothing here judges a
# figure; tests/integration/test_enroll.sh asserts the behaviour.
#   scripts/reliability/exec-helpers.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/../.."
TESSERA_BUILD=$(realpath "${1:-build}")
export TESSERA_BUILD
. tests/integration/lib.sh
set +e

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
mkdir -p "$XDG_CONFIG_HOME/tessera"
{
    profile flood protocol=exec "command=head -c 1073741824 /dev/zero" \
        "trust=$T/ca/ca.pem"
    profile leftover protocol=exec "command=sleep 40 & exit 3" \
        "trust=$T/ca/ca.pem" command-timeout=3
    profile escaping protocol=exec "command=setsid sleep 40 & echo \$! >$T/escaped.pid; sleep 30" \
        "trust=$T/ca/ca.pem" command-timeout=3
    profile slow protocol=exec "command=sleep 40 & sleep 30" \
        "trust=$T/ca/ca.pem" command-timeout=60
} >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent
unlock

peak_rss() { awk '/^VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$AGENT_PID/status"; }
seconds_of() { # COMMAND...: runs it, prints its wall-clock seconds
    local start
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    echo "$(date +%s.%N) - $start" | bc | xargs printf '%.2f s'
}

echo "agent peak RSS at start:                          $(peak_rss)"
ca_enroll flooded flood CN=flooded >/dev/null 2>&1
echo "after a helper printed 1 GiB:                     $(peak_rss)"
echo "helper exits, its child keeps stdout (timeout 3): $(seconds_of ca_enroll a leftover CN=a)"
echo "helper hangs, its setsid child keeps stdout (3):  $(seconds_of ca_enroll b escaping CN=b)"
ca_enroll c slow CN=c >/dev/null 2>&1 &
sleep 2
echo "SIGTERM to the agent 2 s into a 40 s helper:      $(seconds_of bash -c "kill -TERM $AGENT_PID; while kill -0 $AGENT_PID 2>/dev/null; do sleep 0.01; done")"
wait "$AGENT_PID"
AGENT_PID=
echo "keys left on the token:                           $(private_keys)"
kill "$(cat "$T/escaped.pid")" 2>/dev/null
