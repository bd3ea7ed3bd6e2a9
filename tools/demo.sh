#!/usr/bin/env bash
# Runs the swift-otlp demo: a simulated session service exporting to a local collector.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/setup.sh
export OTLP_TEST_PYTHON="$root/.venv/bin/python"
swift build -c release --product otlp 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
exec .build/release/otlp demo "$@"
