#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Many connections, most of them idle: they hold no thread, another client
# is never refused for them, one process cannot take every slot, and the
# agent closes them after idle-connection-seconds.
. "$(dirname "$0")/lib.sh"

IDLE=$(dirname "$0")/idle_clients.py
threads() { awk '/^Threads:/ {print $2}' "/proc/$AGENT_PID/status"; }
# said WORD FILE...: the line each FILE starts with WORD, once every FILE has
# one (up to 30 s).
said() {
    local word=$1 f
    shift
    for f in "$@"; do
        for _ in $(seq 1 300); do grep -q "^$word" "$f" && break; sleep 0.1; done
        grep "^$word" "$f" || echo "$f: no $word line"
    done
}

make_token "Test Token"
make_ca "$T/ca" "Tessera Test CA"
mkdir -p "$XDG_CONFIG_HOME/tessera"
printf '[agent]\nidle-connection-seconds=4\n' >"$XDG_CONFIG_HOME/tessera/agent.conf"
start_agent
unlock
enroll idle ec-p256 >/dev/null
threads_before=$(threads)

# Five processes of 120 idle connections, and one that wants 200.
for i in 1 2 3 4 5; do
    python3 "$IDLE" "$TESSERA_SOCKET" 120 20 >"$T/idle-$i.out" &
    SERVER_PIDS+=("$!")
done
python3 "$IDLE" "$TESSERA_SOCKET" 200 20 >"$T/greedy.out" &
SERVER_PIDS+=("$!")
check_output "720 idle connections from six processes: 120 each are held" \
    "^held 120 refused 0(held 120 refused 0){4}$" \
    bash -c "$(declare -f said); said held $T/idle-{1,2,3,4,5}.out | tr -d '\n'"
check_output "and a process is refused beyond its own 128" \
    "^held 128 refused 72$" said held "$T/greedy.out"
check_output "that refusal is logged as the process's, not the agent's limit" \
    "process [0-9]+ has 128 connections" cat "$T/agent.log"
check_output "a new client is served meanwhile" "^idle" "$TESSERA" list
check "the idle connections hold no thread (before: $threads_before, now: $(threads))" \
    test "$(threads)" -le $((threads_before + 8))
check_output "the agent closes them after idle-connection-seconds" \
    "^(closed 120 after [0-9.]+ s){5}$" \
    bash -c "$(declare -f said); said closed $T/idle-{1,2,3,4,5}.out | tr -d '\n'"
check_output "a pooled connection the agent closed as idle is replaced" \
    "^signed before, signed after 6 s idle" "$HELPERS/client_pool" reconnect idle 6
check "the agent still serves" "$TESSERA" list

finish
