#!/usr/bin/env bash
# Runs the swift-otlp demo: a simulated session service exporting to the collector embedded in
# the same process (no Python or other program needed). Extra arguments go to `otlp demo`
# (e.g. --protocol http/json, or --endpoint URL to export to an external collector).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/setup.sh --build-only
swift build -c release --product otlp 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
exec .build/release/otlp demo "$@"
