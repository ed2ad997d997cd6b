#!/usr/bin/env bash
# Install what environs needs to build and test, from Debian 12 packages.
# Idempotent: installs only what is missing. Run as root.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libczmq-dev libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
  libjansson-dev libyaml-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev
  libgpgme-dev libcmocka-dev
  # run time of gpgme (gpg; gpg-agent + gpgconf for the test signer); gpgv to compare
  gpg gpg-agent gpgconf gpgv
  # tests: openssl req makes throwaway certificates, openssl s_server -WWW
  # is the HTTPS server of unit.ssfetch
  openssl
  # lxd tests (scripts/lxd-setup.sh): the daemon and client, its firewall
  # back ends, dnsmasq for the bridge's DHCP (only a Recommends of lxd),
  # the static busybox the test image is made of, curl to reach the image's
  # httpd
  lxd lxd-client iptables nftables dnsmasq-base busybox-static curl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
