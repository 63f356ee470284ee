#!/usr/bin/env bash
# Installs missing packages, builds with the dev preset, and runs example/demo.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MACHPORT_ROOT"

"$MACHPORT_ROOT/scripts/install-deps.sh"
dir=$MACHPORT_BUILD_ROOT/dev
cmake --preset dev -B "$dir" -DMACHPORT_WERROR="$MACHPORT_WERROR" >/dev/null
cmake --build "$dir" --parallel "$MACHPORT_JOBS" --target demo
section "example/demo"
"$dir/demo"
