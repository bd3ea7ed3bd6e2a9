#!/usr/bin/env bash
# Runs every swift-otlp test on a fresh machine: set-up, the full suite, then the
# concurrency suites again under ThreadSanitizer (separate scratch path, so builds don't thrash).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/setup.sh
export OTLP_TEST_PYTHON="$root/.venv/bin/python"

echo "== swift test (debug)"
swift test 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }

echo "== swift test --sanitize=thread (concurrency suites)"
tsan_filter=$( { grep -vE '^(#|\s*$)' tools/tsan-filter.txt || true; } | paste -sd'|' -)
if [ -n "$tsan_filter" ]; then
  swift test --sanitize=thread --scratch-path .build-tsan --filter "$tsan_filter" 2>&1 \
    | { grep -vE '^\[[0-9]+/[0-9]+\]' || true; }
else
  echo "no concurrency suites listed in tools/tsan-filter.txt yet"
fi
