#!/usr/bin/env bash
# Outage: per signal, `otlp load` produces at full rate for SECONDS while its collector is down
# (MODE=dead: nothing listens on the port; MODE=blackhole: a listener accepts connections and
# never answers), then an `otlp collect` comes up on that port and the load process's final
# flush delivers what it still holds. The load process's RSS (from /proc) and its pipeline's
# pooled span blocks (`otlp load --report-every 1`) are sampled every second.
#
#   tools/outage.sh SECONDS           (default 60)
#
# Passes, per signal, when
#   - RSS and pooled blocks level off: their peak over the last third of the outage is within a
#     margin (10 %, at least 16 MiB of RSS or 1024 blocks) of their peak over the middle third;
#   - the accounting is exact: created = exported + dropped + failed (`otlp load`'s summary);
#   - export resumed: the collector received something, and for spans and log records exactly
#     what was reported exported once its duplicates (items it received twice) are taken out.
# Settings: SIGNALS (default "traces metrics logs"), MODE (dead or blackhole; default dead),
# PROTOCOL (grpc, http/protobuf or http/json; default grpc), PARALLEL (1, the default: the
# signals run at the same time; 0: one after another), OTLP (the otlp binary; default a debug
# build). Samples go to .build-outage/SIGNAL.tsv (second, rss_kb, pooled_blocks).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
signals=${SIGNALS:-traces metrics logs}
mode=${MODE:-dead}
protocol=${PROTOCOL:-grpc}
parallel=${PARALLEL:-1}
out=.build-outage
mkdir -p "$out"
case "$mode" in dead|blackhole) ;; *) echo "outage: MODE must be dead or blackhole" >&2; exit 2 ;; esac
if [ -z "${OTLP:-}" ]; then
  swift build --product otlp >"$out/build.log" 2>&1 || { echo "outage: build failed (see $out/build.log)" >&2; exit 1; }
  OTLP="$(swift build --show-bin-path)/otlp"
fi

# outage SIGNAL: one signal's run; prints its verdict lines prefixed with the signal, returns 0 on PASS.
outage() {
  local signal=$1 log="$out/$1" pids=() status=0
  trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done' RETURN
  # The port: a blackhole's, or a free one nothing listens on.
  local port hole_pid=""
  if [ "$mode" = blackhole ]; then
    python3 -u -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)  # accepted, never read, never answered
' >"$log.hole" 2>&1 &
    hole_pid=$!; pids+=("$hole_pid")
    for _ in $(seq 100); do [ -s "$log.hole" ] && break; sleep 0.1; done
    port=$(head -1 "$log.hole")
  else
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
  local endpoint="http://127.0.0.1:$port"
  "$OTLP" load --endpoint "$endpoint" --protocol "$protocol" --signal "$signal" --duration "$seconds" \
    --report-every 1 --max-retry-seconds $((seconds + 60)) --timeout 10 --shutdown-timeout 120 \
    >"$log.load" 2>"$log.samples" &
  local load_pid=$!; pids+=("$load_pid")
  printf 'second\trss_kb\n' >"$log.rss"
  local second=0 collector_pid=""
  while kill -0 "$load_pid" 2>/dev/null; do
    sleep 1
    second=$((second + 1))
    local rss
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$load_pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && [ "$second" -le "$seconds" ] && printf '%s\t%s\n' "$second" "$rss" >>"$log.rss"
    if [ "$second" -eq "$seconds" ]; then
      # The outage ends: the blackhole goes, a collector comes up on the port.
      if [ -n "$hole_pid" ]; then kill -KILL "$hole_pid" 2>/dev/null || true; wait "$hole_pid" 2>/dev/null || true; fi
      local flag=--grpc
      [ "$protocol" = grpc ] || flag=--http
      "$OTLP" collect $flag "127.0.0.1:$port" >"$log.collector" 2>&1 &
      collector_pid=$!; pids+=("$collector_pid")
    fi
  done
  local load_status=0
  wait "$load_pid" || load_status=$?
  if [ -z "$collector_pid" ]; then echo "$signal: FAIL the load ended before the outage did"; return 1; fi
  kill -TERM "$collector_pid"
  for _ in $(seq 100); do kill -0 "$collector_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$collector_pid" 2>/dev/null || true
  local summary counts
  summary=$(tail -1 "$log.load")
  counts=$(tail -1 "$log.collector")
  if [ "$load_status" -gt 1 ] || ! echo "$summary" | grep -q '^created='; then
    echo "$signal: FAIL otlp load exited $load_status: $(tail -3 "$log.load") $(tail -3 "$log.samples")"; return 1
  fi
  value() { echo "$1" | sed -n "s/.*[ ^]$2=\([0-9]*\).*/\1/p; s/^$2=\([0-9]*\).*/\1/p" | head -1; }
  local created exported dropped failed received duplicates
  created=$(value "$summary" created); exported=$(value "$summary" exported)
  dropped=$(value "$summary" dropped); failed=$(value "$summary" failed)
  case "$signal" in
    traces) received=$(value "$counts" spans) ;;
    metrics) received=$(value "$counts" metric_points) ;;
    logs) received=$(value "$counts" log_records) ;;
  esac
  duplicates=$(value "$counts" duplicates)
  echo "$signal: load $summary"
  echo "$signal: collector $counts"
  if [ "$created" -ne $((exported + dropped + failed)) ]; then
    echo "$signal: FAIL accounting: created $created != exported $exported + dropped $dropped + failed $failed"; status=1
  fi
  if [ -z "$received" ] || [ "$received" -eq 0 ] || [ "$exported" -eq 0 ]; then
    echo "$signal: FAIL export did not resume after the outage (received ${received:-none}, exported $exported)"; status=1
  elif [ "$signal" != metrics ] && [ $((received - duplicates)) -ne "$exported" ]; then
    echo "$signal: FAIL the collector received $received ($duplicates duplicates), exported $exported"; status=1
  fi
  # Second, RSS and pooled blocks side by side (the last pool sample of each second).
  awk -F'\t' 'NR == FNR { if (FNR > 1) rss[$1] = $2; next }
    /^sample / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                 s = int(v["t"] + 0.5); if (s in rss) blocks[s] = v["pooled_blocks"] }
    END { print "second\trss_kb\tpooled_blocks"
          for (s = 1; s in rss; s++) print s "\t" rss[s] "\t" (s in blocks ? blocks[s] : blocks[s - 1] + 0) }' \
    "$log.rss" FS=' ' "$log.samples" >"$out/$signal.tsv"
  awk -F'\t' -v n="$seconds" -v signal="$signal" '
    NR > 1 { t = $1; if (t > n / 3 && t <= 2 * n / 3) { for (i = 2; i <= 3; i++) if ($i > mid[i]) mid[i] = $i }
             else if (t > 2 * n / 3) { for (i = 2; i <= 3; i++) if ($i > end[i]) end[i] = $i } }
    END {
      split("rss_kb pooled_blocks", name, " "); split("16384 1024", slack, " "); fail = 0
      for (i = 2; i <= 3; i++) {
        margin = mid[i] * 0.1; if (margin < slack[i - 1]) margin = slack[i - 1]
        verdict = end[i] <= mid[i] + margin ? "levels off" : "FAIL still growing"
        if (end[i] > mid[i] + margin) fail = 1
        printf "%s: %s peak %d in the middle third, %d in the last third: %s\n", signal, name[i - 1], mid[i], end[i], verdict
      }
      exit fail
    }' "$out/$signal.tsv" || status=1
  [ $status -eq 0 ] && echo "$signal: PASS" || echo "$signal: FAIL"
  return $status
}

status=0
if [ "$parallel" = 1 ]; then
  declare -A runs
  for signal in $signals; do
    outage "$signal" >"$out/$signal.verdict" 2>&1 &
    runs[$signal]=$!
  done
  for signal in $signals; do
    wait "${runs[$signal]}" || status=1
    cat "$out/$signal.verdict"
  done
else
  for signal in $signals; do outage "$signal" || status=1; done
fi
[ $status -eq 0 ] && echo "outage: PASS ($mode collector, $protocol, ${seconds} s per signal)" || echo "outage: FAIL"
exit $status
