#!/usr/bin/env bash
# What the direct lane costs per GB on the engine's threads: iperf3 from the client namespace to the router
# namespace through Sluice's direct lane (as bench/direct-throughput.sh), with each thread's CPU (schedstat)
# and context switches read before and after, printed per GB moved: the TUN thread (sluice-tun-read) and the
# busiest other thread (the relay's socket thread). With PERF=1, `perf record -g` of sluice-tun-read for the
# middle of each run, and its top symbols by self time (the JIT's frames named through DOTNET_PerfMapEnabled).
# PERF_KEEP=FILE keeps the last run's perf.data there (perf report -i FILE -g caller for the call graphs).
# REVERSE=1 runs iperf3 -R (the server sends: the TUN thread then carries the data towards the app).
# Needs root, iperf3 and a Release build (or SLUICE_BINARY).
#   [PERF=1] [REVERSE=1] bench/tun-thread-cost.sh [RUNS] [SECONDS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECONDS_PER_RUN=${2:-8}
if [ -n "${PERF:-}" ]; then
  export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0  # W^X maps JIT code from a memfd that perf cannot name
fi

bench_testbed
ip netns exec "$ROUTER" iperf3 -s -B "$SERVER_V4" > /dev/null 2>&1 &
BENCH_PIDS+=($!)
sleep 0.5

# thread_table PID: "tid cpu-ns switches name" per thread.
thread_table() {
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s %s %s\n' "${t##*/}" "$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null || echo 0)" \
      "$(awk '/ctxt_switches/ {s += $2} END {print s+0}' "$t/status" 2>/dev/null || echo 0)" "$(tr ' ' _ < "$t/comm" 2>/dev/null)"
  done
}

CONFIG='{"log":{"level":"info"},"inbounds":[{"type":"tun","address":["172.19.0.1/30"],"auto_route":true}],"route":{"final":"direct"}}'
for i in $(seq "$RUNS"); do
  bench_start_sluice "$CONFIG"
  engine=$(pgrep -P "$SLUICE_PID" | head -1 || true); engine=${engine:-$SLUICE_PID}  # ip netns exec may stay the parent
  [ -d "/proc/$engine/task" ] && grep -q . <(ls /proc/"$engine"/task) || engine=$SLUICE_PID
  tun_tid=$(grep -l '^sluice-tun-read$' /proc/"$engine"/task/*/comm | head -1 | cut -d/ -f5)
  thread_table "$engine" > "$BENCH_DIR/before"
  load=$(cut -d' ' -f1 /proc/loadavg)
  ip netns exec "$CLIENT" iperf3 -c "$SERVER_V4" -t "$SECONDS_PER_RUN" ${REVERSE:+-R} -J > "$BENCH_DIR/iperf.json" &
  iperf_pid=$!
  if [ -n "${PERF:-}" ]; then
    sleep 2
    perf stat -x, -t "$tun_tid" -o "$BENCH_DIR/syscalls.csv" \
      -e syscalls:sys_enter_read,syscalls:sys_enter_writev,syscalls:sys_enter_poll -- sleep $((SECONDS_PER_RUN - 3)) > /dev/null 2>&1 &
    stat_pid=$!
    perf record -q -g -t "$tun_tid" -o "$BENCH_DIR/perf.data" -- sleep $((SECONDS_PER_RUN - 3)) > /dev/null 2>&1 || true
    wait "$stat_pid" || true
  fi
  wait "$iperf_pid"
  thread_table "$engine" > "$BENCH_DIR/after"
  bytes=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"]))' "$BENCH_DIR/iperf.json")
  gbit=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e9, 2))' "$BENCH_DIR/iperf.json")
  echo "run $i (load $load): $gbit Gbit/s, $(awk -v b="$bytes" 'BEGIN {printf "%.2f", b / 1e9}') GB"
  join <(sort "$BENCH_DIR/before") <(sort "$BENCH_DIR/after") | awk -v gb="$bytes" -v tun="$tun_tid" '
    { cpu = ($5 - $2) / 1e6; sw = $6 - $3; total += cpu
      if ($1 == tun) printf "  %-18s %7.0f ms per GB, %7.0f switches per GB\n", $4, cpu / (gb / 1e9), sw / (gb / 1e9)
      else if (cpu / (gb / 1e9) > 20) others[n++] = sprintf("  %-18s %7.0f ms per GB, %7.0f switches per GB", $4, cpu / (gb / 1e9), sw / (gb / 1e9)) }
    END { for (k = 0; k < n; k++) print others[k]
          printf "  engine total       %7.0f ms per GB\n", total / (gb / 1e9) }'
  if [ -n "${PERF:-}" ] && [ -s "$BENCH_DIR/perf.data" ]; then
    echo "  sluice-tun-read, top symbols by self time:"
    perf report -i "$BENCH_DIR/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
      | awk -v top="${PERF_TOP:-20}" '/^ +[0-9.]+%/ && n++ < top {sub(/ +- +- *$/, ""); print "   " $0}'
    # Per second of the profiled window (the rate is steady): reads, writevs, polls of the TUN thread.
    echo "  syscalls of sluice-tun-read per second: $(awk -F, -v s=$((SECONDS_PER_RUN - 3)) '$3 ~ /sys_enter/ {sub(/.*sys_enter_/, "", $3); printf "%s%s %.0f", (n++ ? ", " : ""), $3, $1 / s}' "$BENCH_DIR/syscalls.csv")"
    echo "  by object: $(perf report -i "$BENCH_DIR/perf.data" --no-children --sort dso --stdio 2>/dev/null \
      | awk '/^ +[0-9.]+%/ && n++ < 5 {printf "%s%s %s", (n > 1 ? ", " : ""), $2, $1}')"
  fi
  if [ -n "${PERF_KEEP:-}" ] && [ -s "$BENCH_DIR/perf.data" ]; then cp "$BENCH_DIR/perf.data" "$PERF_KEEP"; cp "/tmp/perf-$engine.map" "$PERF_KEEP.map" 2>/dev/null || true; fi
  bench_stop_sluice
  rm -f "/tmp/perf-$engine.map" "/tmp/perfinfo-$engine.map"
done
