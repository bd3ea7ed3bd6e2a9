#!/usr/bin/env bash
# Installs what swift-otlp's build, tests and demo need on a fresh Debian 12 machine:
# system libraries and test peers from apt, and a Python venv (.venv/) with the reference
# OTLP protobuf and grpcio for the test collectors. Safe to run again: it skips what is there.
# --build-only: only the libraries the build needs (no test peers, no Python), as for the demo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_only=false
[ "${1:-}" = "--build-only" ] && build_only=true

apt_packages=(libnghttp2-dev libssl-dev zlib1g-dev pkg-config)
$build_only || apt_packages+=(python3-venv openssl nghttp2-server nghttp2-client curl)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

$build_only && exit 0

venv="$root/.venv"
stamp="$venv/.swift-otlp-requirements"
if [ ! -f "$stamp" ] || ! cmp -s "$root/tools/requirements.txt" "$stamp"; then
  echo "setup: creating Python venv for test peers in .venv/"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/tools/requirements.txt"
  cp "$root/tools/requirements.txt" "$stamp"
fi
