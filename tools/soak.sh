#!/usr/bin/env bash
# Soak: `otlp load` exports spans for SECONDS to an `otlp collect` that is killed (SIGTERM) and
# restarted every RESTART_EVERY seconds; the load process's RSS, open file descriptors and
# threads are sampled every second.
#
#   tools/soak.sh SECONDS           (default 60)
#
# Passes when the accounting is exact (created = exported + dropped + failed, and the
# collectors together received at least what was reported exported) and RSS, fds and threads
# level off: their peak over the last third of the run is within a margin of their peak over
# the middle third. Settings: RESTART_EVERY (default 10 s), DOWN_FOR (1 s), RATE (items/s,
# default 20000), PROTOCOL (grpc), OTLP (the otlp binary; default a debug build).
# Samples go to .build-soak/samples.tsv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
restart_every=${RESTART_EVERY:-10}
down_for=${DOWN_FOR:-1}
rate=${RATE:-20000}
protocol=${PROTOCOL:-grpc}
out=.build-soak
mkdir -p "$out"
if [ -z "${OTLP:-}" ]; then
  swift build --product otlp >"$out/build.log" 2>&1 || { echo "soak: build failed (see $out/build.log)" >&2; exit 1; }
  OTLP="$(swift build --show-bin-path)/otlp"
fi

collector_pid=""
load_pid=""
received=0
cleanup() {
  [ -n "$load_pid" ] && kill -KILL "$load_pid" 2>/dev/null || true
  [ -n "$collector_pid" ] && kill -KILL "$collector_pid" 2>/dev/null || true
}
trap cleanup EXIT

# start_collector ADDRESS: starts `otlp collect`, waits for its `listening` line.
start_collector() {
  local log="$out/collector-$(date +%s%N).log"
  if [ "$protocol" = grpc ]; then
    "$OTLP" collect --grpc "$1" >"$log" 2>&1 &
  else
    "$OTLP" collect --http "$1" >"$log" 2>&1 &
  fi
  collector_pid=$!
  collector_log=$log
  for _ in $(seq 100); do
    grep -q '^listening' "$log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "soak: collector did not start: $(cat "$log")" >&2
  exit 1
}

# stop_collector: SIGTERM, then adds its last line's count to `received`.
stop_collector() {
  kill -TERM "$collector_pid"
  local waited=0
  while kill -0 "$collector_pid" 2>/dev/null && [ $waited -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
  kill -KILL "$collector_pid" 2>/dev/null || true
  wait "$collector_pid" 2>/dev/null || true
  local spans
  spans=$(tail -1 "$collector_log" | sed -n 's/.*spans=\([0-9]*\).*/\1/p')
  [ -n "$spans" ] || { echo "soak: no final line from the collector: $(tail -3 "$collector_log")" >&2; exit 1; }
  received=$((received + spans))
  collector_pid=""
}

start_collector 127.0.0.1:0
if [ "$protocol" = grpc ]; then
  address=$(sed -n 's/^listening grpc=\([^ ]*\).*/\1/p' "$collector_log")
  endpoint="http://$address"
else
  address=$(sed -n 's/^listening .*http=\([^ ]*\).*/\1/p' "$collector_log")
  endpoint="http://$address"
fi

"$OTLP" load --endpoint "$endpoint" --protocol "$protocol" --signal traces --duration "$seconds" --rate "$rate" \
  >"$out/load.log" 2>&1 &
load_pid=$!

printf 'second\trss_kb\tfds\tthreads\n' >"$out/samples.tsv"
second=0
while kill -0 "$load_pid" 2>/dev/null; do
  sleep 1
  second=$((second + 1))
  if [ -r "/proc/$load_pid/status" ]; then
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$load_pid/status" 2>/dev/null || true)
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$load_pid/status" 2>/dev/null || true)
    fds=$(ls "/proc/$load_pid/fd" 2>/dev/null | wc -l)
    [ -n "$rss" ] && [ "$second" -le "$seconds" ] && printf '%s\t%s\t%s\t%s\n' "$second" "$rss" "$fds" "$threads" >>"$out/samples.tsv"
  fi
  if [ "$second" -lt "$seconds" ] && [ $((second % restart_every)) -eq 0 ] && [ -n "$collector_pid" ]; then
    stop_collector
    sleep "$down_for"
    start_collector "$address"
  fi
done
# `otlp load` exits 1 when it dropped or failed items: during an outage a full queue drops and
# counts, which the soak accepts as long as the accounting below is exact. Any other status, or
# no summary line, is a failure.
load_status=0
wait "$load_pid" || load_status=$?
load_pid=""
if [ "$load_status" -ne 0 ] && { [ "$load_status" -ne 1 ] || ! tail -1 "$out/load.log" | grep -q '^created='; }; then
  echo "soak: otlp load failed (exit $load_status): $(tail -3 "$out/load.log")" >&2; exit 1
fi
stop_collector

last=$(tail -1 "$out/load.log")
value() { echo "$last" | sed -n "s/.*$1=\([0-9]*\).*/\1/p"; }
created=$(value created); exported=$(value exported); dropped=$(value dropped); failed=$(value failed)
echo "soak: $last"
echo "soak: collectors received $received spans over $((seconds / restart_every + 1)) lives"

status=0
if [ "$created" -ne $((exported + dropped + failed)) ]; then
  echo "soak: FAIL accounting: created $created != exported $exported + dropped $dropped + failed $failed"; status=1
fi
if [ "$received" -lt "$exported" ]; then
  echo "soak: FAIL collectors received $received < exported $exported"; status=1
fi
# Level-off: peak of the last third against the peak of the middle third, with a margin
# (10 % or 16 MiB of RSS, 4 fds, 2 threads, whichever is larger).
awk -F'\t' -v n="$seconds" '
  NR > 1 { t = $1; if (t > n / 3 && t <= 2 * n / 3) { for (i = 2; i <= 4; i++) if ($i > mid[i]) mid[i] = $i }
           else if (t > 2 * n / 3) { for (i = 2; i <= 4; i++) if ($i > end[i]) end[i] = $i } }
  END {
    split("rss_kb fds threads", name, " "); split("16384 4 2", slack, " "); fail = 0
    for (i = 2; i <= 4; i++) {
      margin = mid[i] * 0.1; if (margin < slack[i - 1]) margin = slack[i - 1]
      verdict = end[i] <= mid[i] + margin ? "levels off" : "FAIL still growing"
      if (end[i] > mid[i] + margin) fail = 1
      printf "soak: %s peak %d in the middle third, %d in the last third: %s\n", name[i - 1], mid[i], end[i], verdict
    }
    exit fail
  }' "$out/samples.tsv" || status=1
[ $status -eq 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit $status
