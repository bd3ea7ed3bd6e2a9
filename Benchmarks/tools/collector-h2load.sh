#!/usr/bin/env bash
# Collector throughput: h2load over one HTTP/2 connection sends pre-encoded gRPC export requests
# of 4-attribute spans to three sinks, one after the other in the same run:
#   count    `otlp collect --no-duplicates` (release, summary): validates each request and counts
#            its spans without building messages;
#   decode   `otlp collect` (summary): decodes every request into the generated messages and
#            records each span's identity to count duplicates;
#   grpcio   the Python grpcio collector peer (tools/peers/collector.py: opentelemetry-proto's
#            upb-backed messages, counting spans), when .venv exists.
# Prints, per sink, requests/s, spans/s and its CPU time (per second of wall clock, and per span:
# on a loaded machine the first two measure the scheduler, the last one the sink), then the ratios
# of spans/s against grpcio.
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

results="$work/results"
: > "$results"
# measure NAME LOG COMMAND...: starts the sink, waits for its port in LOG, runs h2load, stops it.
measure() {
  local name=$1 log=$2; shift 2
  "$@" > "$log" 2>&1 &
  collector_pid=$!
  local port=""
  for _ in $(seq 200); do
    port=$(sed -n -e 's/.*grpc=127.0.0.1:\([0-9]*\).*/\1/p' -e 's/^listening on \([0-9]*\)$/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "$name: did not start: $(cat "$log")" >&2; return 1; }
  local before after seconds rps
  before=$(awk '{print $14 + $15}' "/proc/$collector_pid/stat")
  h2load -n "$requests" -c 1 -m "$inflight" -d "$work/body.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$port/opentelemetry.proto.collector.trace.v1.TraceService/Export" > "$work/h2load-$name.out" 2>&1
  after=$(awk '{print $14 + $15}' "/proc/$collector_pid/stat")
  kill -TERM "$collector_pid"; wait "$collector_pid" 2>/dev/null || true
  collector_pid=""
  seconds=$(sed -n 's/^finished in \([0-9.]*\)s,.*/\1/p' "$work/h2load-$name.out")
  rps=$(sed -n 's/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' "$work/h2load-$name.out")
  echo "$name: $(grep -E '^requests:' "$work/h2load-$name.out")"
  [ "$name" = grpcio ] || echo "$name: collector says $(tail -1 "$log")"
  awk -v name="$name" -v r="$rps" -v s="$spans" -v n="$requests" -v t="$seconds" -v c=$((after - before)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%s requests/s=%.0f spans/s=%.0f cpu=%.2f s per s, %.0f ns per span\n", name, r, r * s, c / hz / t, c / hz / (n * s) * 1e9 }' \
    | tee -a "$results"
}

echo "request: $spans spans, $(stat -c %s "$work/request.bin") bytes; $inflight in flight on one connection; $requests requests per sink"
measure count "$work/count.log" "$otlp" collect --grpc 127.0.0.1:0 --print summary --no-duplicates
measure decode "$work/decode.log" "$otlp" collect --grpc 127.0.0.1:0 --print summary
if [ -x .venv/bin/python ]; then
  measure grpcio "$work/grpcio.log" .venv/bin/python tools/peers/collector.py --port 0
  awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^spans\/s=/) { split($i, kv, "="); rate[$1] = kv[2] } }
       END { printf "spans/s ratio against grpcio: count %.2fx, decode %.2fx\n", rate["count"] / rate["grpcio"], rate["decode"] / rate["grpcio"] }' "$results"
else
  echo "grpcio: skipped (no .venv; run tools/setup.sh)"
fi
