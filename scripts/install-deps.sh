#!/usr/bin/env bash
# Installs what machport needs on Debian 12 (bookworm), only the packages that are missing.
# Idempotent and quiet; runs apt-get as root, or through sudo.
set -euo pipefail

packages=(cmake ninja-build g++ clang libclang-rt-14-dev libboost1.81-dev libboost-test1.81-dev
          libbenchmark-dev file ca-certificates)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    missing+=("$p")
  fi
done
# Node.js may come from elsewhere (e.g. NodeSource, whose nodejs ships npm): check commands.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]} == 0)); then
  echo "install-deps: all dependencies present"
  exit 0
fi

sudo=()
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo for: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
