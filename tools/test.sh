#!/usr/bin/env bash
# Runs every swift-otlp test on a fresh machine: set-up (apt packages, the Python venv of the
# reference peers), then tools/check-layering.sh, then the whole package as one `swift test`
# process (all suites in parallel, as every contributor runs it), then the whole package again as
# one process under ThreadSanitizer (its own scratch path, so the two builds do not thrash; TSan
# warnings fail the run even when every test passed), then once more under AddressSanitizer, with
# UndefinedBehaviorSanitizer on the C code (scratch path .build-asan; any report fails the run),
# then every fuzz target for a bounded time, a short soak against a collector that is killed and
# restarted, and short outages (dead and blackholed collector, every signal at once).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/setup.sh || exit 1
export OTLP_TEST_PYTHON="$root/.venv/bin/python"
# Tests that need the Python reference peers skip themselves when the venv is absent (a plain
# `swift test` on a fresh clone); here the venv was just made, so an absent one is a failure.
export OTLP_REQUIRE_PEERS=1
quiet() { { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }; }
failed=()
crashes=()

echo "== tools/check-layering.sh (ARCHITECTURE.md's module table against Package.swift and the imports)"
tools/check-layering.sh || failed+=("check-layering")

echo "== swift build --build-tests (debug)"
swift build --build-tests 2>&1 | quiet
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed"; exit 1; }

# Runs the whole package as one process (extra arguments: sanitizer and scratch path), then,
# if tests failed, once more only those tests: a test that fails again fails the run. The
# second chance is for deadlines a two-core machine running every suite at once can miss; it
# is reported by name. ThreadSanitizer warnings in either run fail the run.
run_suite() {
  local label=$1; shift
  local log; log=$(mktemp)
  TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" swift test --skip-build "$@" 2>&1 | quiet | tee "$log"
  local status=${PIPESTATUS[0]}
  local reports='WARNING: ThreadSanitizer|ERROR: AddressSanitizer|SUMMARY: UndefinedBehaviorSanitizer'
  local warnings; warnings=$(grep -cE "$reports" "$log" || true)
  # A process that died before swift-testing's summary line ran only part of the suite: it is
  # reported as a crash and the whole package runs once more (a second crash fails the run).
  if [ "$status" -ne 0 ] && ! grep -qaE '(✔|✘) Test run with [0-9]+ test' "$log"; then
    echo "== $label: CRASHED before its summary (exit $status); running the whole package again"
    crashes+=("$label")
    : > "$log"
    TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" swift test --skip-build "$@" 2>&1 | quiet | tee "$log"
    status=${PIPESTATUS[0]}
    warnings=$(grep -cE "$reports" "$log" || true)
    grep -qaE '(✔|✘) Test run with [0-9]+ test' "$log" || { echo "== $label: crashed again"; rm -f "$log"; failed+=("$label: crashed twice"); return; }
  fi
  if [ "$status" -ne 0 ]; then
    local names
    names=$(grep -aoE '✘ Test [A-Za-z0-9_]+\(' "$log" | sed -E 's/✘ Test ([A-Za-z0-9_]+)\(/\1/' | sort -u | paste -sd'|' -)
    if [ -n "$names" ]; then
      echo "== $label: running again the failed tests: $names"
      TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" swift test --skip-build "$@" --filter "$names" 2>&1 | quiet | tee -a "$log"
      status=${PIPESTATUS[0]}
      warnings=$(grep -cE "$reports" "$log" || true)
    fi
  fi
  rm -f "$log"
  [ "$status" -eq 0 ] || failed+=("$label")
  [ "$warnings" -eq 0 ] || { echo "$label: sanitizers reported $warnings problem(s)"; failed+=("$label: sanitizer reports"); }
}

echo "== swift test (the whole package, one process)"
run_suite "swift test"

echo "== swift test --sanitize=thread (the whole package, one process)"
swift build --build-tests --sanitize=thread --scratch-path .build-tsan 2>&1 | quiet
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
  echo "TSan build failed"
  failed+=("TSan build")
else
  run_suite "swift test --sanitize=thread" --sanitize=thread --scratch-path .build-tsan
fi

# Both sanitizers in one build and one run. Swift on Linux refuses `-sanitize=undefined`, so
# UBSan instruments the C and C++ that clang compiles (CPipelineSupport, the C modules' shims,
# the dependencies' C++: TOMLKit's CTOML)
# through -Xcc; its handlers are part of the ASan runtime. LeakSanitizer is off: it reports
# allocations the test frameworks themselves never free. UBSan keeps going after a report, and
# its summary line fails the run.
echo "== swift test --sanitize=address, -fsanitize=undefined for C (the whole package, one process)"
asan=(--sanitize=address -Xcc -fsanitize=undefined --scratch-path .build-asan)
swift build --build-tests "${asan[@]}" 2>&1 | quiet
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
  echo "ASan/UBSan build failed"
  failed+=("ASan/UBSan build")
else
  # tools/ubsan.supp: one report inside the TOMLKit dependency (see the file).
  ASAN_OPTIONS="detect_leaks=0 ${ASAN_OPTIONS:-}" \
    UBSAN_OPTIONS="print_stacktrace=1 suppressions=$root/tools/ubsan.supp ${UBSAN_OPTIONS:-}" \
    run_suite "swift test --sanitize=address (UBSan on C)" "${asan[@]}"
fi

echo "== fuzzing: every libFuzzer target for 15 s from its committed seeds (fixed seed)"
fuzzlines() { { grep -E '^fuzz:|ERROR|SUMMARY|stat::number_of_executed_units' || true; }; }
FUZZ_FLAGS="-seed=1" tools/fuzz.sh all 15 2>&1 | fuzzlines
[ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("fuzz")

echo "== soak: otlp load for 60 s against a collector killed and restarted every 10 s"
tools/soak.sh 60 2>&1 | tail -n 8
[ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("soak")

echo "== outage: every signal at full rate for 20 s into a dead gRPC collector, then a blackholed OTLP/HTTP one"
outagelines() { { grep -E ': (FAIL|PASS|load|collector|rss_kb|pooled_blocks)|^outage:' || true; }; }
MODE=dead PROTOCOL=grpc tools/outage.sh 20 2>&1 | outagelines
[ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("outage (dead)")
MODE=blackhole PROTOCOL=http/protobuf tools/outage.sh 20 2>&1 | outagelines
[ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("outage (blackhole)")

[ ${#crashes[@]} -eq 0 ] || echo "test processes that crashed once and passed when run again: ${crashes[*]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all test runs passed"
