#!/usr/bin/env bash
# Installs the Debian packages Armory's tests and tooling need, and only those that are missing.
# It asks dpkg first, so a machine that already has everything pays a few milliseconds, not an
# apt run. Without root it installs nothing: it names what is missing and lets setup go on (the
# tests that need a missing package then skip and say why).
set -euo pipefail

# The Debian packages the project needs; add new ones here.
#   postgresql: the server the storage tests run against (a throwaway cluster per test session).
#   chromium, fonts-liberation: the browser the browser tests drive, and fonts for its pages.
#   nodejs: runs the vendored QR decoder on the printed labels, outside a browser.
PACKAGES="postgresql chromium fonts-liberation nodejs"

# `make setup` creates its tool environment with `python3 -m venv`; Debian's own python3 can only
# do that once python3-venv is installed.
if ! python3 -m ensurepip --version >/dev/null 2>&1; then
  PACKAGES="$PACKAGES python3-venv"
fi

missing=()
for pkg in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y --no-install-recommends "${missing[@]}"; }

# Refresh the package lists only when they are needed: when apt does not know a package (a fresh
# image ships with empty lists) or when installing from the current lists fails (stale lists name
# files the mirror no longer has).
known=true
for pkg in "${missing[@]}"; do
  apt-cache show --no-all-versions "$pkg" >/dev/null 2>&1 || known=false
done
if ! $known || ! install; then
  apt-get update
  install
fi
