#!/usr/bin/env bash
# Collector decode throughput: `otlp collect` (release) fed by h2load over one HTTP/2 connection
# with pre-encoded gRPC export requests of 4-attribute spans. Prints requests/s, spans/s and the
# collector's CPU time (per second of wall clock, and per span: on a loaded machine the first
# two measure the scheduler, the last one the collector).
#   Benchmarks/tools/collector-h2load.sh [SPANS_PER_REQUEST=512] [REQUESTS=4000] [IN_FLIGHT=16]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
spans=${1:-512}
requests=${2:-4000}
inflight=${3:-16}
work=$(mktemp -d)
trap 'kill -9 ${collector_pid:-0} 2>/dev/null || true; rm -rf "$work"' EXIT

swift build -c release --product otlp 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
otlp=.build/release/otlp

python3 - "$spans" > "$work/request.json" <<'PY'
import json, sys
n = int(sys.argv[1])
spans = [{
    "traceId": "%032x" % (i + 1), "spanId": "%016x" % (i + 1), "name": "GET /api/items/%d" % (i % 16),
    "kind": 2, "startTimeUnixNano": str(1700000000000000000 + i * 1000), "endTimeUnixNano": str(1700000000000500000 + i * 1000),
    "attributes": [
        {"key": "http.request.method", "value": {"stringValue": "GET"}},
        {"key": "http.route", "value": {"stringValue": "/api/items/{id}"}},
        {"key": "http.response.status_code", "value": {"intValue": "200"}},
        {"key": "server.address", "value": {"stringValue": "bench.local"}},
    ]} for i in range(n)]
print(json.dumps({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bench"}}]},
                                     "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}]}]}))
PY
"$otlp" codec --signal traces --from json --to binary "$work/request.json" > "$work/request.bin"
python3 - "$work/request.bin" "$work/body.bin" <<'PY'
import struct, sys
message = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(b"\0" + struct.pack(">I", len(message)) + message)
PY

"$otlp" collect --grpc 127.0.0.1:0 --print summary > "$work/collector.out" &
collector_pid=$!
for _ in $(seq 100); do grep -q listening "$work/collector.out" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/.*grpc=127.0.0.1:\([0-9]*\).*/\1/p' "$work/collector.out" | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$collector_pid/stat"; }
before=$(ticks)
/usr/bin/time -f "h2load: %U user %S sys %e wall" h2load -n "$requests" -c 1 -m "$inflight" -d "$work/body.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
  "http://127.0.0.1:$port/opentelemetry.proto.collector.trace.v1.TraceService/Export" > "$work/h2load.out" 2> "$work/h2load.time"; cat "$work/h2load.time"
after=$(ticks)
kill -TERM "$collector_pid"; wait "$collector_pid" || true
seconds=$(sed -n 's/^finished in \([0-9.]*\)s,.*/\1/p' "$work/h2load.out")
rps=$(sed -n 's/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' "$work/h2load.out")
grep -E "^requests:" "$work/h2load.out"
echo "request: $spans spans, $(stat -c %s "$work/request.bin") bytes; $inflight in flight on one connection"
echo "collector: $(tail -1 "$work/collector.out")"
awk -v r="$rps" -v s="$spans" -v n="$requests" -v t="$seconds" -v c=$((after - before)) -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "requests/s=%.0f spans/s=%.0f collector_cpu=%.2f s per s, %.0f ns per span\n", r, r * s, c / hz / t, c / hz / (n * s) * 1e9 }'
