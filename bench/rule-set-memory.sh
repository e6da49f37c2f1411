#!/usr/bin/env bash
# Engine RSS and start time with and without big rule sets (issue #14's benchmark, the part BenchmarkDotNet cannot
# measure): a geosite-style binary set of 100,000 domain_suffix entries, a geoip-style binary set of 10,000 IPv4
# CIDRs (both `local` .srs files made by `sluice rule-set convert`) and 50 process_name rules, against the same
# config without them. Per run and config: wall time from launching `sluice run` to its "engine started" line
# (log polled every 10 ms), then VmRSS/VmHWM of the engine process after 3 s of idle.
# Usage: bench/rule-set-memory.sh [RUNS]   (default 5; $SLUICE_BINARY picks the binary, default the JIT build)
set -euo pipefail
RUNS=${1:-5}
source "$(dirname "$0")/lib.sh"
bench_testbed

# The sets: deterministic pseudo-random names and prefixes (/12–/28), as bench/Sluice.Benchmarks' RuleSetBenchmarks.
python3 - "$BENCH_DIR" <<'PY'
import random, sys
d = sys.argv[1]; r = random.Random(14)
with open(f"{d}/geosite.txt", "w") as f:
    for i in range(100_000):
        f.write("".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(5, 12))) + f"{i}.example\n")
with open(f"{d}/geoip.txt", "w") as f:
    for _ in range(10_000):
        n = r.randint(12, 28); a = r.getrandbits(32) & ~((1 << (32 - n)) - 1)
        f.write(f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}/{n}\n")
PY
"${SLUICE[@]}" rule-set convert "$BENCH_DIR/geosite.txt" -o "$BENCH_DIR/geosite.srs" >/dev/null
"${SLUICE[@]}" rule-set convert "$BENCH_DIR/geoip.txt" -o "$BENCH_DIR/geoip.srs" >/dev/null

process_rules=$(python3 -c 'print(", ".join("{\"process_name\": \"app%d\", \"outbound\": \"direct\"}" % i for i in range(50)))')
config() {  # config with|without
  local sets="" rules=""
  if [ "$1" = with ]; then
    sets="\"rule_set\": [
      {\"type\": \"local\", \"tag\": \"geosite\", \"format\": \"binary\", \"path\": \"$BENCH_DIR/geosite.srs\"},
      {\"type\": \"local\", \"tag\": \"geoip\", \"format\": \"binary\", \"path\": \"$BENCH_DIR/geoip.srs\"}],"
    rules="$process_rules, {\"rule_set\": \"geosite\", \"outbound\": \"block\"}, {\"rule_set\": \"geoip\", \"outbound\": \"block\"}"
  fi
  cat <<JSON
{
  "log": {"level": "info"},
  "inbounds": [{"type": "tun", "tag": "tun-in", "interface_name": "sluice0", "address": ["172.19.0.1/30"], "auto_route": true}],
  "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "block", "tag": "block"}],
  "route": {$sets "rules": [$rules], "final": "direct"}
}
JSON
}

# start_and_measure with|without -> "START_MS RSS_KIB HWM_KIB"
start_and_measure() {
  config "$1" > "$BENCH_DIR/config-$1.json"
  : > "$BENCH_DIR/sluice.log"
  local t0 t1 pid
  t0=$(date +%s%N)
  ip netns exec "$CLIENT" "${SLUICE[@]}" run -c "$BENCH_DIR/config-$1.json" > "$BENCH_DIR/sluice.log" 2>&1 &
  SLUICE_PID=$!; BENCH_PIDS+=("$SLUICE_PID")
  for _ in $(seq 3000); do grep -q "engine started" "$BENCH_DIR/sluice.log" && break; sleep 0.01; done
  t1=$(date +%s%N)
  grep -q "engine started" "$BENCH_DIR/sluice.log" || { echo "sluice did not start:" >&2; cat "$BENCH_DIR/sluice.log" >&2; exit 1; }
  sleep 3
  # `ip netns exec` execs the command: the pid is the engine (with `dotnet sluice.dll`, the dotnet host is the engine too).
  pid=$SLUICE_PID
  local rss hwm
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status"); hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  bench_stop_sluice
  echo "$(( (t1 - t0) / 1000000 )) $rss $hwm"
}

echo "binary: ${SLUICE[*]}"
echo "load before: $(uptime)"
printf "%-8s %4s %10s %10s %10s\n" config run start_ms rss_kib hwm_kib
declare -A starts rsss hwms
for run in $(seq "$RUNS"); do
  for which in without with; do
    read -r ms rss hwm < <(start_and_measure "$which")
    printf "%-8s %4d %10d %10d %10d\n" "$which" "$run" "$ms" "$rss" "$hwm"
    starts[$which]+="$ms "; rsss[$which]+="$rss "; hwms[$which]+="$hwm "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for which in without with; do
  echo "median $which: start $(echo "${starts[$which]}" | median) ms, RSS $(echo "${rsss[$which]}" | median) KiB, HWM $(echo "${hwms[$which]}" | median) KiB"
done
echo "load after: $(uptime)"
