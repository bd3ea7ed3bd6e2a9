#!/usr/bin/env bash
# Fuzzes the parsers and decoders that read untrusted bytes, with libFuzzer.
#
#   tools/fuzz.sh TARGET [SECONDS]   run one target (default 60 s)
#   tools/fuzz.sh all [SECONDS]      run every target in turn, SECONDS each
#   tools/fuzz.sh build [TARGET]     only build (every target when none is named)
#   tools/fuzz.sh list               the target names
#
# Targets are built with swiftc -sanitize=fuzzer,address -O from the modules' own sources into
# .build-fuzz/ (git-ignored), the way SwiftPM would build them, minus the package. The generated
# OTLP types come from running `protogen` (built with swift build) on Protos/. Each target starts
# from its committed seeds in Fuzz/corpus/TARGET/ plus what earlier runs added in
# .build-fuzz/corpus/TARGET/. Exits non-zero when a target crashes or fails one of its checks;
# the input is left in .build-fuzz/artifacts/TARGET/ (reproduce:
# SWIFT_BACKTRACE=enable=no .build-fuzz/bin/TARGET FILE).
# Extra libFuzzer flags: FUZZ_FLAGS="-jobs=2 -workers=2".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

targets=(http1-request-parser http1-response-parser proto-decoder json-decoder grpc-gzip http2-client collector-receiver)
out=.build-fuzz
flags=(-parse-as-library -sanitize=fuzzer,address -O -swift-version 6 -package-name swift_otlp)
cmodules=(-I Sources/CNGHTTP2 -I Sources/COpenSSL -I Sources/CZlib)

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

# stale OUTPUT INPUTS...: whether OUTPUT is missing or older than one of INPUTS.
stale() {
  local output=$1; shift
  [ -e "$output" ] || return 0
  local input
  for input in "$@"; do [ "$input" -nt "$output" ] && return 0; done
  return 1
}

# module NAME SOURCES...: a static library and its .swiftmodule in $out/modules.
module() {
  local name=$1; shift
  mkdir -p "$out/modules"
  stale "$out/modules/lib$name.a" "$@" "$0" || return 0
  echo "fuzz: building module $name"
  swiftc "${flags[@]}" -module-name "$name" -emit-module -emit-module-path "$out/modules/$name.swiftmodule" \
    -emit-library -static -o "$out/modules/lib$name.a" -I "$out/modules" "${cmodules[@]}" -enable-testing "$@"
}

# The OTLP types, generated from Protos/ by protogen into $out/generated.
generated_sources() {
  local protogen
  protogen="$(swift build --product protogen --show-bin-path)/protogen"
  if [ ! -x "$protogen" ] || stale "$protogen" Sources/ProtoGenCore/*.swift Sources/protogen/*.swift; then
    swift build --product protogen >/dev/null
  fi
  mkdir -p "$out/generated"
  local proto name
  for proto in $(cd Protos && find . -name '*.proto' | sed 's|^\./||' | sort); do
    name=$(echo "$proto" | tr / _ | sed 's/\.proto$/.pb.swift/')
    if stale "$out/generated/$name" "Protos/$proto" "$protogen"; then
      "$protogen" --proto-root Protos --output "$out/generated/$name" "$proto"
    fi
  done
}

build_sync() { module OTLPSync Sources/OTLPSync/*.swift; }
build_proto() {
  build_sync
  module OTLPWire Sources/OTLPWire/*.swift
  generated_sources
  module OTLPProto Sources/OTLPProto/OTLPProto.swift "$out"/generated/*.pb.swift
}
build_core() {
  build_sync
  module HTTPTransportCore Sources/HTTPTransportCore/*.swift
}
build_transport() {
  build_core
  module HTTP2Transport Sources/HTTP2Transport/*.swift
}

# target NAME "MODULES" HARNESS [SOURCES...]: the harness (and the sources compiled into its
# module) linked with MODULES (built before; dependents first).
target() {
  local name=$1 modules=$2; shift 2
  local libs=() m
  for m in $modules; do libs+=("$out/modules/lib$m.a"); done
  mkdir -p "$out/bin"
  stale "$out/bin/$name" "$@" "${libs[@]}" "$0" || return 0
  echo "fuzz: building $name"
  # ld.gold warns about every ASan helper symbol it cannot export: noise, filtered out.
  swiftc "${flags[@]}" -I "$out/modules" "${cmodules[@]}" "$@" "${libs[@]}" \
    -lnghttp2 -lssl -lcrypto -lz -o "$out/bin/$name" 2>&1 | { grep -v "Cannot export local symbol" || true; }
  [ "${PIPESTATUS[0]}" -eq 0 ] && [ -x "$out/bin/$name" ]
}

build() {
  case $1 in
    http1-request-parser)
      build_core
      target "$1" "HTTPTransportCore OTLPSync" Fuzz/HTTP1RequestParserFuzz.swift Sources/HTTP2Transport/HTTP1RequestParser.swift ;;
    http1-response-parser)
      build_core
      target "$1" "HTTPTransportCore OTLPSync" Fuzz/HTTP1ResponseParserFuzz.swift Fuzz/FuzzSupport.swift \
        Sources/HTTP2Transport/HTTP1ResponseParser.swift ;;
    proto-decoder) build_proto; target "$1" "OTLPProto OTLPWire OTLPSync" Fuzz/ProtoDecoderFuzz.swift Fuzz/FuzzSupport.swift ;;
    json-decoder) build_proto; target "$1" "OTLPProto OTLPWire OTLPSync" Fuzz/JSONDecoderFuzz.swift Fuzz/FuzzSupport.swift ;;
    grpc-gzip) build_transport; target "$1" "HTTP2Transport HTTPTransportCore OTLPSync" Fuzz/GRPCGzipFuzz.swift Fuzz/FuzzSupport.swift ;;
    collector-receiver)
      build_proto; build_transport
      module OTLPTesting Sources/OTLPTesting/*.swift
      target "$1" "OTLPTesting HTTP2Transport HTTPTransportCore OTLPProto OTLPWire OTLPSync" Fuzz/CollectorReceiverFuzz.swift Fuzz/FuzzSupport.swift ;;
    http2-client) build_transport; target "$1" "HTTP2Transport HTTPTransportCore OTLPSync" Fuzz/HTTP2ClientFuzz.swift Fuzz/FuzzSupport.swift ;;
    *) echo "fuzz: unknown target '$1' (tools/fuzz.sh list)" >&2; exit 2 ;;
  esac
}

run() {
  local name=$1 seconds=$2
  build "$name"
  mkdir -p "$out/corpus/$name" "$out/artifacts/$name" "Fuzz/corpus/$name"
  echo "fuzz: $name for ${seconds}s"
  # New inputs go to the first directory (ours); the committed seeds are only read. Swift's
  # backtracer is off: libFuzzer prints the stack, and the backtracer's reads trip ASan.
  # shellcheck disable=SC2086
  SWIFT_BACKTRACE=enable=no "$out/bin/$name" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/$name/" ${FUZZ_FLAGS:-} \
    "$out/corpus/$name" "Fuzz/corpus/$name"
}

command=${1:-all}
# The first form of this script took only SECONDS: keep it working.
if [[ $command =~ ^[0-9]+$ ]]; then set -- all "$command"; command=all; fi
case $command in
  list) printf '%s\n' "${targets[@]}" ;;
  build)
    if [ $# -ge 2 ]; then build "$2"; else for t in "${targets[@]}"; do build "$t"; done; fi ;;
  all)
    seconds=${2:-60}
    for t in "${targets[@]}"; do build "$t"; done
    failed=()
    for t in "${targets[@]}"; do run "$t" "$seconds" || failed+=("$t"); done
    if [ ${#failed[@]} -gt 0 ]; then echo "fuzz: FAILED: ${failed[*]}" >&2; exit 1; fi
    echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each without a failure" ;;
  -h|--help|help) usage ;;
  *) run "$command" "${2:-60}" ;;
esac
