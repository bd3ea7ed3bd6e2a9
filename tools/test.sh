#!/usr/bin/env bash
# Runs every swift-otlp test on a fresh machine: set-up, the full suite, then the
# concurrency suites again under ThreadSanitizer (separate scratch path, so builds don't thrash).
#
# Each test module runs in its own `swift test` process: the suites that check deadlines against
# live peers must not share the 2-thread cooperative pool of a 2-core machine with suites that
# block threads (stress tests, reference-peer round trips), or their timing checks would measure
# the other suites instead of our code.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/setup.sh || exit 1
export OTLP_TEST_PYTHON="$root/.venv/bin/python"
quiet() { { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }; }
failed=()

echo "== swift build --build-tests (debug)"
swift build --build-tests 2>&1 | quiet
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed"; exit 1; }

for dir in Tests/*Tests; do
  module=$(basename "$dir")
  echo "== swift test: $module"
  swift test --skip-build --filter "^$module\." 2>&1 | quiet
  [ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("$module")
done

echo "== swift test --sanitize=thread (concurrency suites in tools/tsan-filter.txt)"
filters=$(grep -vE '^(#|\s*$)' tools/tsan-filter.txt || true)
if [ -n "$filters" ]; then
  swift build --build-tests --sanitize=thread --scratch-path .build-tsan 2>&1 | quiet
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "TSan build failed"; exit 1; }
  while IFS= read -r filter; do
    echo "== TSan: $filter"
    TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}" \
      swift test --skip-build --sanitize=thread --scratch-path .build-tsan --filter "$filter" 2>&1 | quiet
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("TSan:$filter")
  done <<< "$filters"
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all test runs passed"
