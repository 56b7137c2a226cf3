#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Installs what Tessera needs to build, test and demo on Debian 12.
# Idempotent and quiet when everything is there already.
set -euo pipefail

packages=(
    # build
    meson ninja-build pkg-config gcc clang clang-format libclang-rt-14-dev
    libssl-dev libp11-kit-dev p11-kit libglib2.0-dev libglib2.0-dev-bin
    libcmocka-dev libjson-glib-dev libcurl4-openssl-dev
    # fuzz coverage figures (scripts/reliability/fuzz-coverage.sh)
    llvm-14
    # the token, the peers and the tools the tests drive
    softhsm2 opensc openssl util-linux procps jq valgrind strace systemd
    curl socat python3 freeradius eapoltest openvpn
    # the man pages checked as man renders them; the shells the completion is for
    man-db groff-base bash-completion zsh
    # real CAs: an ACME server and a SCEP server
    pebble scep
    # private buses and their clients (D-Bus API tests; a fake logind)
    dbus-daemon dbus-bin libglib2.0-bin python3-gi gir1.2-glib-2.0
    # a virtual smartcard: pcscd with vsmartcard's vpcd reader, a CAC card
    # emulated by libcacard from an NSS database, OpenSC's PKCS#11 module
    pcscd vsmartcard-vpcd libcacard-dev libnss3-tools
    # a software TPM 2.0 and Debian's PKCS#11 module for it
    swtpm libtpm2-pkcs11-1 tpm2-abrmd libtss2-tcti-tabrmd0 tpm2-tools
    # programs that speak only PKCS#11, for tessera-pkcs11.so: GnuTLS's
    # p11tool and gnutls-cli, libp11's engine (wpa_supplicant), a browser
    # and a web server that asks for client certificates
    gnutls-bin libengine-pkcs11-openssl chromium nginx-light
    # the agent's PIN prompts: real pinentry programs on a terminal that
    # tmux gives the tests and types on
    pinentry-tty pinentry-curses tmux
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/deps.sh: missing packages: ${missing[*]}" >&2
    echo "run as root (or install them) and try again" >&2
    exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
