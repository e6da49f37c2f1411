#!/usr/bin/env bash
# Where `sluice run` spends its start-up, exec → "engine started", with a WireGuard config and auto_route
# (the config of bench/native-vs-jit.sh; one peer: wireguard-go in the router namespace):
#   runs:    RUNS plain starts: exec → "engine started" (ms, polled from the log every 2 ms, up to 60 s), and the first
#            run's log lines (log.level debug) as offsets from exec;
#   strace:  (STRACE=1) one start under `strace -f -tt -e trace=execve,exit_group`: every process the start spawns
#            (ip, nft, …) with its offset from exec and how long it ran, and when the engine's own process
#            reached "engine started". strace slows every syscall: its totals are an upper bound, its
#            order and process count are exact.
# Needs root, the native build (artifacts/native/linux-x64/sluice, or $SLUICE_BINARY). Takes the
# bench lock itself.   bench/start-breakdown.sh [RUNS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
EXE=${SLUICE_BINARY:-$ROOT/artifacts/native/linux-x64/sluice}
[ -x "$EXE" ] || { echo "no $EXE: run scripts/build-native.sh first" >&2; exit 1; }
bench_wireguard_router

cat > "$BENCH_DIR/run.json" <<JSON
{"log": {"level": "debug"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true}],
 "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.66.0.2/32"], "private_key": "$client_key", "mtu": 1420,
   "peers": [{"address": "10.200.0.1", "port": 51820, "public_key": "$router_pub", "allowed_ips": ["10.66.0.0/24"]}]}],
 "route": {"rules": [{"ip_cidr": "10.66.0.0/24", "outbound": "wg"}], "final": "direct"}}
JSON

now_ms() { date +%s%3N; }
# ms of the day of a log line's "HH:MM:SS.fff" (local time, as the log writes it) or of date's same format.
day_ms() { awk -F'[:.]' '{printf "%d\n", (($1 * 60 + $2) * 60 + $3) * 1000 + $4}' <<< "$1"; }

# start [PREFIX...]: runs `sluice run` (under PREFIX), prints exec → "engine started" in ms, then stops it.
start() {
  : > "$BENCH_DIR/run.log"
  local t0 clock0; clock0=$(date +%H:%M:%S.%3N); t0=$(now_ms)
  ip netns exec "$CLIENT" "$@" "$EXE" run -c "$BENCH_DIR/run.json" > "$BENCH_DIR/run.log" 2>&1 &
  local pid=$!; BENCH_PIDS+=("$pid")
  local started=""
  while [ $(( $(now_ms) - t0 )) -lt 60000 ]; do grep -q "engine started" "$BENCH_DIR/run.log" && { started=$(( $(now_ms) - t0 )); break; }; sleep 0.002; done
  # Under a PREFIX (strace) the engine is the prefix's child: stop it first, or strace keeps waiting for it.
  pkill -TERM -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  [ -n "$started" ] || { echo "sluice did not start:" >&2; cat "$BENCH_DIR/run.log" >&2; return 1; }
  echo "$started $clock0"
}

declare -a times
for i in $(seq "$RUNS"); do
  read -r ms clock0 < <(start)
  times+=("$ms")
  if [ "$i" = 1 ]; then
    base=$(day_ms "$clock0")
    echo "run 1, the log as offsets from exec (ms):"
    grep -E '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} ' "$BENCH_DIR/run.log" | while read -r stamp rest; do
      printf '  %6d  %s\n' $(( $(day_ms "$stamp") - base )) "${rest:0:130}"
    done | head -40
  fi
  echo "run $i: exec → engine started ${ms} ms"
done

if [ "${STRACE:-0}" = 1 ]; then
echo
echo "under strace (slower; order and process count exact):"
: > "$BENCH_DIR/strace.txt"
read -r ms clock0 < <(start strace -f -tt -qq -e trace=execve,exit_group -e signal=none -o "$BENCH_DIR/strace.txt")
python3 - "$BENCH_DIR/strace.txt" "$ms" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
def t(s):
    h, m, rest = s.split(":"); return (int(h) * 3600 + int(m) * 60 + float(rest)) * 1000
start, spawned, ends, order = None, {}, {}, []
for line in lines:
    m = re.match(r"(\d+) (\d\d:\d\d:\d\d\.\d+) (\w+)\((.*)", line)
    if not m: continue
    pid, ts, call, args = m.group(1), t(m.group(2)), m.group(3), m.group(4)
    if start is None: start = ts
    if call == "execve" and pid not in spawned:
        argv = re.findall(r'"([^"]*)"', args)
        if argv: spawned[pid] = (ts, " ".join(argv[:6])); order.append(pid)
    elif call == "exit_group":
        ends[pid] = ts
print("  offset(ms)  ran(ms)  process")
for pid in order:
    ts, argv = spawned[pid]
    ran = ends.get(pid, ts) - ts
    print("  %9.1f  %7.1f  %s" % (ts - start, ran, argv[:110]))
print("  %d processes (the first is sluice itself); exec → engine started %s ms under strace" % (len(order), sys.argv[2]))
PY
fi

echo
echo "exec → engine started, $RUNS runs: ${times[*]} ms; median $(median "${times[@]}") ms, best $(printf '%s\n' "${times[@]}" | sort -n | head -1) ms"
echo "commit $(git -C "$ROOT" rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
