#!/usr/bin/env bash
# Fuzzes the server's request parsers with libFuzzer: tools/fuzz.sh [SECONDS] (default 60).
# Builds the target from the parser's sources with -sanitize=fuzzer,address into .build-fuzz/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
mkdir -p .build-fuzz/corpus-http1
swiftc -parse-as-library -sanitize=fuzzer,address -O \
  Sources/HTTP2Transport/HTTP1RequestParser.swift Sources/HTTP2Transport/HTTPTypes.swift Sources/HTTP2Transport/TransportError.swift \
  Fuzz/HTTP1RequestParserFuzz.swift -o .build-fuzz/http1-request-parser
printf '\x03POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc' > .build-fuzz/corpus-http1/seed-post
printf '\x05POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' > .build-fuzz/corpus-http1/seed-chunked
printf '\x01PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' > .build-fuzz/corpus-http1/seed-preface
.build-fuzz/http1-request-parser -max_total_time="$seconds" -max_len=4096 .build-fuzz/corpus-http1
