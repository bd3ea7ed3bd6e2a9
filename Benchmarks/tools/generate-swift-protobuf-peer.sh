#!/usr/bin/env bash
# Regenerates Benchmarks/Sources/SwiftProtobufPeer/ — the swift-protobuf 1.39.0 code for the
# OTLP schema in ../Protos that the codec benchmark measures our codec against.
#
# The output is committed: run this only when Protos/ changes. It is never part of the
# library's build (no protoc, no swift-protobuf there).
#
# Needs: Debian's `protoc` (apt package protobuf-compiler; this script installs nothing) and
# protoc-gen-swift from swift-protobuf 1.39.0. Point PROTOC_GEN_SWIFT at a built plugin, or leave
# it unset and the script clones swift-protobuf 1.39.0 (the URL resolves through the package
# mirror like every other package) into a temporary folder and builds the plugin there (~2-4 min).
#
# Usage: Benchmarks/tools/generate-swift-protobuf-peer.sh
set -euo pipefail

SWIFT_PROTOBUF_VERSION=1.39.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bench="$(cd "$here/.." && pwd)"
protos="$(cd "$bench/../Protos" && pwd)"
out="$bench/Sources/SwiftProtobufPeer"

command -v protoc >/dev/null || { echo "error: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

plugin="${PROTOC_GEN_SWIFT:-}"
if [[ -z "$plugin" ]]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    git clone --quiet --depth 1 --branch "$SWIFT_PROTOBUF_VERSION" \
        https://github.com/apple/swift-protobuf "$work/swift-protobuf" 2>/dev/null \
    || git clone --quiet --branch "$SWIFT_PROTOBUF_VERSION" \
        https://github.com/apple/swift-protobuf "$work/swift-protobuf"
    (cd "$work/swift-protobuf" && nice -n 5 swift build -c release --product protoc-gen-swift >&2)
    plugin="$work/swift-protobuf/.build/release/protoc-gen-swift"
fi
[[ -x "$plugin" ]] || { echo "error: protoc-gen-swift not executable: $plugin" >&2; exit 1; }
got="$("$plugin" --version)"
[[ "$got" == *"$SWIFT_PROTOBUF_VERSION"* ]] \
    || { echo "error: want protoc-gen-swift $SWIFT_PROTOBUF_VERSION, got: $got" >&2; exit 1; }

# Every .proto under Protos/, sorted so the run is reproducible.
# The OTLP files only: Protos/google/ holds types that SwiftProtobuf ships itself (Any, Duration)
# or that no benchmark uses (google.rpc).
mapfile -t files < <(cd "$protos" && find opentelemetry -name '*.proto' | LC_ALL=C sort)
[[ ${#files[@]} -gt 0 ]] || { echo "error: no .proto files under $protos" >&2; exit 1; }

rm -f "$out"/*.pb.swift
mkdir -p "$out"
# Public types (the benchmark target imports them); flat file names (one folder per target).
protoc \
    --plugin=protoc-gen-swift="$plugin" \
    --proto_path="$protos" \
    --swift_opt=Visibility=Public \
    --swift_opt=FileNaming=PathToUnderscores \
    --swift_out="$out" \
    "${files[@]}"

echo "generated ${#files[@]} files into ${out#"$bench/"} with $got and $(protoc --version)"
