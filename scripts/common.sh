# shellcheck shell=bash
# Shared by the scripts in this folder (sourced, not run).
MACHPORT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${MACHPORT_CACHE_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/machport}"
export MACHPORT_CACHE_DIR
# Build directories: <root>/<preset>. Defaults to the presets' build/ folder in the tree.
: "${MACHPORT_BUILD_ROOT:=$MACHPORT_ROOT/build}"
# CI builds with -Werror.
if [[ -z ${MACHPORT_WERROR:-} ]]; then
  if [[ ${CI:-} == true || ${CI:-} == 1 ]]; then MACHPORT_WERROR=ON; else MACHPORT_WERROR=OFF; fi
fi
: "${MACHPORT_JOBS:=$(nproc 2>/dev/null || echo 2)}"

section() { printf '\n==== %s ====\n' "$*"; }
now() { date +%s; }
