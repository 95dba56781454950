#!/usr/bin/env bash
# Installs the Debian 12 packages vmxsim needs, only those missing.
# Safe to run repeatedly; does nothing (and needs no network) when all are present.
set -euo pipefail
packages=(cmake g++ make pkg-config
          libsystemc-dev libboost-program-options-dev libboost-dev nlohmann-json3-dev libzstd-dev
          libgtest-dev libbenchmark-dev
          python3-matplotlib   # the plots of docs/sweep.md and the studies (scripts/*.py)
          valgrind)            # lackey, which records a real program's accesses (docs/traces.md)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "vmxsim: installing missing Debian packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "vmxsim: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
