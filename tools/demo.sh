#!/usr/bin/env bash
# Runs the swift-otlp demo: a simulated session service exporting to the collector embedded in
# the same process (no Python or other program needed). Extra arguments go to `otlp demo`
# (e.g. --protocol http/json, or --endpoint URL to export to an external collector).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/setup.sh --build-only
swift build -c release --product otlp 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
# A child process, not `exec`: the demo reports its process's start-up from the process's own
# start time, which `exec` would carry over from this script, build included.
.build/release/otlp demo "$@"
