#!/usr/bin/env bash
# The full check, as CI runs it (.ci/run):
#   1. install missing Debian packages
#   2. dev preset: build, run every ctest (includes the install/add_subdirectory consumers)
#   3. asan preset: build, run every ctest under AddressSanitizer + UBSan
#   4. tsan preset: build the async suite only (both Asio reactors, async examples), run it
#      (ctest label async) under ThreadSanitizer
#   5. bench preset (Release): build, run each benchmark briefly (figures are not checked; a
#      benchmark that crashes or reports an error fails)
#   6. fuzz preset (if test/fuzz has harnesses): build, run each harness for a bounded time
#   7. macOS arm64 + x86_64 cross-build with zig, Mach-O check (compile + link only)
# Keeps going after a failure so the log shows everything; exits non-zero if anything failed.
# Env: MACHPORT_WERROR (ON under CI=true), MACHPORT_BUILD_ROOT, MACHPORT_JOBS,
#      MACHPORT_FUZZ_SECONDS (total fuzzing time, default 60),
#      MACHPORT_SKIP (e.g. "asan tsan bench fuzz macos").
set -uo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$MACHPORT_ROOT" || exit 1

export BOOST_TEST_COLOR_OUTPUT=no  # plain logs
: "${MACHPORT_FUZZ_SECONDS:=60}"
: "${MACHPORT_SKIP:=}"
passed=0
failed=0
failures=()
timings=()

pass() { passed=$((passed + ${2:-1})); }
fail() { failed=$((failed + ${2:-1})); failures+=("$1"); echo "FAILED: $1" >&2; }
skipped() { [[ " $MACHPORT_SKIP " == *" $1 "* ]]; }
timed() {  # timed <label> <command...>: runs it, records the duration, returns its status
  local label=$1 start rc
  shift
  start=$(now)
  "$@"
  rc=$?
  timings+=("$(printf '%-28s %4d s%s' "$label" $(( $(now) - start )) "$( ((rc)) && echo '  (failed)')")")
  return "$rc"
}

configure_build() {  # configure_build <preset> [build target...]: default = all
  local preset=$1
  shift
  local targets=()
  (($#)) && targets=(--target "$@")
  cmake --preset "$preset" -B "$MACHPORT_BUILD_ROOT/$preset" \
    -DMACHPORT_WERROR="$MACHPORT_WERROR" >/dev/null &&
    cmake --build "$MACHPORT_BUILD_ROOT/$preset" --parallel "$MACHPORT_JOBS" "${targets[@]}"
}

run_ctest() {  # run_ctest <preset> [ctest args...]: counts the tests it ran
  local preset=$1 dir=$MACHPORT_BUILD_ROOT/$1 log rc total nfail
  shift
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure --no-tests=error --timeout 900 -j "$MACHPORT_JOBS" \
    "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # "100% tests passed, 0 tests failed out of 3"
  read -r nfail total < <(sed -nE 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1 \2/p' "$log" | tail -1)
  rm -f "$log"
  if [[ -n ${total:-} ]]; then
    pass "$preset ctest" $((total - nfail))
    ((nfail)) && fail "$preset ctest ($nfail of $total tests)" "$nfail"
  elif ((rc)); then
    fail "$preset ctest"
  fi
  return "$rc"
}

section "dependencies"
timed "install-deps" "$MACHPORT_ROOT/scripts/install-deps.sh" || fail "install-deps"
echo "MACHPORT_WERROR=$MACHPORT_WERROR  build root: $MACHPORT_BUILD_ROOT  jobs: $MACHPORT_JOBS"

# The README's example code is example/*.cpp verbatim, which the builds below compile and run.
section "README example code"
if timed "readme code" "$MACHPORT_ROOT/scripts/check-readme-code.sh"; then
  pass "readme code"
else
  fail "readme code (scripts/check-readme-code.sh)"
fi

for preset in dev asan; do
  skipped "$preset" && continue
  section "$preset: configure + build"
  if timed "$preset build" configure_build "$preset"; then
    section "$preset: ctest"
    if [[ $preset == asan ]]; then
      export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
      export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    fi
    timed "$preset ctest" run_ctest "$preset"
    unset ASAN_OPTIONS UBSAN_OPTIONS
  else
    fail "$preset build"
  fi
done

# ThreadSanitizer on the async suite only (the Asio layer is where threads meet): the targets
# of machport_async, i.e. async_tests, async_tests_kqueue and the async_* examples.
if ! skipped tsan; then
  section "tsan: configure + build (async suite)"
  if timed "tsan build" configure_build tsan machport_async; then
    section "tsan: ctest -L async"
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
    timed "tsan ctest" run_ctest tsan -L async
    unset TSAN_OPTIONS
  else
    fail "tsan build"
  fi
fi

if ! skipped bench; then
  section "bench: configure + build"
  if timed "bench build" configure_build bench; then
    shopt -s nullglob
    benches=("$MACHPORT_BUILD_ROOT"/bench/bench_*)
    shopt -u nullglob
    ((${#benches[@]})) || fail "bench: no bench_* binaries"
    for exe in "${benches[@]}"; do
      name=$(basename "$exe")
      section "bench: $name (short run)"
      # Exits non-zero if a benchmark reported an error (benchmark/bench_support.hpp).
      if timed "$name" "$exe" --benchmark_min_time=0.01; then
        pass "$name"
      else
        fail "$name"
      fi
    done
  else
    fail "bench build"
  fi
fi

shopt -s nullglob
harnesses=(test/fuzz/*.cpp)
shopt -u nullglob
if ((${#harnesses[@]})) && ! skipped fuzz; then
  section "fuzz: configure + build"
  if timed "fuzz build" configure_build fuzz; then
    per=$((MACHPORT_FUZZ_SECONDS / ${#harnesses[@]}))
    ((per < 5)) && per=5
    for src in "${harnesses[@]}"; do
      name=$(basename "$src" .cpp)
      exe=$MACHPORT_BUILD_ROOT/fuzz/fuzz_$name
      work=$MACHPORT_BUILD_ROOT/fuzz/run/$name
      rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
      seeds=()
      [[ -d test/fuzz/corpus/$name ]] && seeds=("test/fuzz/corpus/$name")
      section "fuzz: $name for $per s"
      # New inputs go to the scratch corpus (first dir); the seeds in the tree stay untouched.
      # libFuzzer's progress lines go to a log; the final stats are shown, the log's tail on failure.
      if timed "fuzz $name" "$exe" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
           -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "${seeds[@]}" \
           >"$work/log.txt" 2>&1; then
        grep -E '^(stat::|Done )' "$work/log.txt" || true
        pass "fuzz $name"
      else
        tail -n 60 "$work/log.txt"
        fail "fuzz $name (artefacts in $work/artifacts, log in $work/log.txt)"
      fi
    done
  else
    fail "fuzz build"
  fi
fi

for arch in arm64 x86_64; do
  skipped macos && break
  section "macOS $arch cross-build"
  if timed "macos-$arch build+check" "$MACHPORT_ROOT/scripts/macos-build.sh" "$arch"; then
    pass "macos-$arch"
  else
    fail "macos-$arch cross-build"
  fi
done

section "summary"
printf '%s\n' "${timings[@]}"
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
((failed == 0))
