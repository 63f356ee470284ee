#!/usr/bin/env bash
# Cross-compiles and links machport for macOS with zig 0.11: the library, the test binaries
# (minus the emulator-only files), the examples and the benchmark sources (objects only),
# then checks with `file` that every output is Mach-O for the right architecture.
# The binaries are NOT run (no Mac here).
# Usage: scripts/macos-build.sh [arm64] [x86_64]   (default: both)
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MACHPORT_ROOT"

archs=("$@")
((${#archs[@]})) || archs=(arm64 x86_64)

zig=$("$MACHPORT_ROOT/scripts/install-zig.sh")
export MACHPORT_ZIG=$zig
unset LIBRARY_PATH

# What must exist after the build (the globs mirror CMakeLists.txt). macOS builds each async
# test/example once, for Asio's default reactor there (kqueue): no *_kqueue variants.
expected=(plain_sdk_consumer)
for suite in emu core async; do
  [[ -f $MACHPORT_ROOT/test/$suite/main.cpp ]] && expected+=("${suite}_tests")
done
for f in "$MACHPORT_ROOT"/example/*.cpp; do
  [[ -e $f ]] && expected+=("$(basename "$f" .cpp)")
done

status=0
for arch in "${archs[@]}"; do
  case $arch in
    arm64) file_arch=arm64 ;;
    x86_64) file_arch=x86_64 ;;
    *) echo "macos-build: unknown arch '$arch' (arm64 or x86_64)" >&2; exit 2 ;;
  esac
  preset=macos-$arch
  dir=$MACHPORT_BUILD_ROOT/$preset
  section "macOS $arch: configure + build ($dir)"
  start=$(now)
  cmake --preset "$preset" -B "$dir" -DMACHPORT_WERROR="$MACHPORT_WERROR" >/dev/null
  cmake --build "$dir" --parallel "$MACHPORT_JOBS"
  echo "macos-build: $arch built in $(( $(now) - start )) s"

  section "macOS $arch: checking outputs with file(1)"
  bad=0
  checked=0
  for name in "${expected[@]}"; do
    if [[ ! -f $dir/$name ]]; then
      echo "MISSING  $name"; bad=1
    fi
  done
  # Every executable in the build dir's top level, and every object file CMake built.
  while IFS= read -r -d '' f; do
    desc=$(file -b "$f")
    if [[ $desc == "Mach-O 64-bit $file_arch executable"* ]]; then
      echo "ok       ${f#"$dir"/}: ${desc%%,*}"
    else
      echo "WRONG    ${f#"$dir"/}: $desc"; bad=1
    fi
    checked=$((checked + 1))
  done < <(find "$dir" -maxdepth 1 -type f -perm -u+x -print0)
  nobj=0
  while IFS= read -r -d '' f; do
    desc=$(file -b "$f")
    if [[ $desc != "Mach-O 64-bit $file_arch object"* ]]; then
      echo "WRONG    ${f#"$dir"/}: $desc"; bad=1
    fi
    nobj=$((nobj + 1))
  done < <(find "$dir/CMakeFiles" -path '*/CMakeScratch' -prune -o -path '*/CMakeFiles/[0-9]*' -prune \
             -o -name '*.o' -type f -print0)
  echo "checked $checked executables and $nobj object files"
  if ((bad)); then
    echo "macos-build: $arch FAILED the Mach-O check" >&2
    status=1
  else
    echo "macos-build: $arch ok"
  fi
done
exit $status
