#!/usr/bin/env bash
# Install the Debian packages the test suite needs (scripts/system-packages.txt), only those missing.
# Needs root and apt (as on the project's machines and CI); elsewhere it says what to install and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t wanted < <(grep -v '^\s*#' scripts/system-packages.txt | awk 'NF {print $1}')
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "[install-system] please install: ${missing[*]}" >&2
  exit 0
fi
echo "[install-system] apt-get install ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
