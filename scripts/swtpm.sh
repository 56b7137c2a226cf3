# SPDX-License-Identifier: Apache-2.0
# Sourced by tests and benchmarks: a software TPM 2.0 (swtpm on a free
# loopback port) behind tpm2-abrmd on a private bus, and a tpm2-pkcs11
# token made through PKCS#11 alone. Without the resource manager the TPM
# runs out of object slots as soon as two processes hold keys.
#
#   tpm_start DIR            start; exports TPM2_PKCS11_TCTI, TPM2_PKCS11_STORE,
#                            TPM_BUS (the abrmd bus address) and TPM_MODULE
#   tpm_token LABEL SO PIN [SLOT]  make and initialise a token in the
#                            slot of that index (default 0: the first)
#   tpm_stop DIR             stop what tpm_start started
# The TPM's daemons and tools run without LD_PRELOAD: under the sanitizer
# runtime (preloaded in sanitized test builds) tpm2-abrmd hangs.

TPM_MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so

tpm_plain() { env -u LD_PRELOAD "$@"; }

tpm_start() {
    local dir=$1 port
    mkdir -p "$dir/state" "$dir/store"
    for _ in $(seq 1 20); do
        port=$((20000 + RANDOM % 30000))
        tpm_plain swtpm socket --tpm2 --server type=tcp,port=$port,bindaddr=127.0.0.1 \
            --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
            --tpmstate dir="$dir/state" --flags not-need-init,startup-clear \
            --pid file="$dir/swtpm.pid" --daemon 2>/dev/null && break
    done
    tpm_plain dbus-daemon --session --address="unix:path=$dir/bus" --fork \
        --print-pid=3 3>"$dir/bus.pid"
    TPM_BUS=unix:path=$dir/bus
    local name=com.intel.tss2.Tabrmd.p$port
    DBUS_SESSION_BUS_ADDRESS=$TPM_BUS tpm_plain tpm2-abrmd --session --allow-root \
        --flush-all --dbus-name="$name" --tcti="swtpm:host=127.0.0.1,port=$port" \
        >"$dir/abrmd.log" 2>&1 &
    echo $! >"$dir/abrmd.pid"
    export TPM_BUS TPM_MODULE
    export TPM2_PKCS11_TCTI="tabrmd:bus_name=$name,bus_type=session"
    export TPM2TOOLS_TCTI=$TPM2_PKCS11_TCTI TPM2_PKCS11_STORE=$dir/store
    for _ in $(seq 1 100); do
        DBUS_SESSION_BUS_ADDRESS=$TPM_BUS tpm_plain tpm2_getrandom 4 >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "swtpm.sh: the TPM did not come up" >&2
    return 1
}

tpm_pkcs11_tool() {
    DBUS_SESSION_BUS_ADDRESS=$TPM_BUS tpm_plain pkcs11-tool --module "$TPM_MODULE" "$@"
}

tpm_token() {
    tpm_pkcs11_tool --slot-index "${4:-0}" --init-token --label "$1" --so-pin "$2" >/dev/null &&
        tpm_pkcs11_tool --token-label "$1" --login --login-type so --so-pin "$2" \
            --init-pin --pin "$3" >/dev/null
}

tpm_stop() {
    local f
    for f in abrmd bus swtpm; do
        [ -s "$1/$f.pid" ] && kill "$(cat "$1/$f.pid")" 2>/dev/null
        rm -f "$1/$f.pid"
    done
    return 0
}
