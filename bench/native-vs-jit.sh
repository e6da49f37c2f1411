#!/usr/bin/env bash
# The NativeAOT `sluice` against the JIT build, side by side in one run, with wireguard-go as the C anchor:
#   start:  exec of `sluice run` with a WireGuard config to "engine started" in its log (ms, median of N)
#   idle:   VmRSS 2 s after start, no traffic (MiB); wireguard-go's idle RSS with the same tunnel
#   iperf:  client→router TCP through the tunnel to wireguard-go (Mbit/s) and the peak RSS (VmHWM) after it
#   conns:  connections/s through `sluice run`'s mixed inbound (direct lane) to a one-byte server
#           (bench/tools/conns.py): the first CONNS after start with no warm-up (cold), then CONNS after WARM
#           untimed ones (warm)
# and the issue-15 targets met/unmet: idle RSS ≤ 30 MiB, start ≤ 150 ms, cold conn/s within 10 % of warm.
# Needs root, a Release build and artifacts/native/linux-x64/sluice (scripts/build-native.sh; $SLUICE_BINARY
# names another). Takes the bench lock itself.
#   bench/native-vs-jit.sh [RUNS] [IPERF_SECONDS] [CONNS] [WARM]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
IPERF_SECONDS=${2:-5}
CONNS=${3:-500}
WARM=${4:-5000}
NATIVE=${SLUICE_BINARY:-$ROOT/artifacts/native/linux-x64/sluice}
JIT_DLL="$ROOT/src/Sluice.Cli/bin/Release/net10.0/sluice.dll"
[ -x "$NATIVE" ] || { echo "no $NATIVE: run scripts/build-native.sh first" >&2; exit 1; }
bench_wireguard_router

cat > "$BENCH_DIR/client.json" <<JSON
{"log": {"level": "info"},
 "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "auto_route": true}],
 "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.66.0.2/32"], "private_key": "$client_key", "mtu": 1420,
   "peers": [{"address": "10.200.0.1", "port": 51820, "public_key": "$router_pub", "allowed_ips": ["10.66.0.0/24"]}]}],
 "route": {"rules": [{"ip_cidr": "10.66.0.0/24", "outbound": "wg"}], "final": "direct"}}
JSON

rss() { awk -v k="$2:" '$1 == k {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }
iperf_up() {
  for _ in $(seq 50); do ip netns exec "$CLIENT" ping -c 1 -W 1 10.66.0.1 > /dev/null 2>&1 && break; sleep 0.1; done
  ip netns exec "$CLIENT" iperf3 -c 10.66.0.1 -t "$IPERF_SECONDS" -J \
    | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6, 1))'
}

# One run of one build: prints "start_ms idle_mib mbits peak_mib".
measure() {
  : > "$BENCH_DIR/sluice.log"
  local t0; t0=$(now_ms)
  ip netns exec "$CLIENT" "$@" run -c "$BENCH_DIR/client.json" > "$BENCH_DIR/sluice.log" 2>&1 &
  local pid=$!; BENCH_PIDS+=("$pid")
  local started=""
  for _ in $(seq 3000); do grep -q "engine started" "$BENCH_DIR/sluice.log" && { started=$(( $(now_ms) - t0 )); break; }; sleep 0.005; done
  [ -n "$started" ] || { echo "sluice did not start:" >&2; cat "$BENCH_DIR/sluice.log" >&2; return 1; }
  sleep 2
  local idle; idle=$(rss "$pid" VmRSS)
  local mbits; mbits=$(iperf_up)
  local peak; peak=$(rss "$pid" VmHWM)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$started $idle $mbits $peak"
}

declare -A col
for build in native jit; do
  for i in $(seq "$RUNS"); do
    if [ "$build" = native ]; then r=$(measure "$NATIVE"); else r=$(measure dotnet "$JIT_DLL"); fi
    read -r s idle mb peak <<< "$r"
    col[$build-start]+="$s "; col[$build-idle]+="$idle "; col[$build-mbits]+="$mb "; col[$build-peak]+="$peak "
    echo "$build run $i: start ${s} ms, idle ${idle} MiB, iperf ${mb} Mbit/s, peak ${peak} MiB"
  done
done

# Cold vs warm connections/s through the mixed inbound, each build started afresh per run.
for ns in "$CLIENT" "$ROUTER"; do ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"; done
ip netns exec "$ROUTER" python3 "$ROOT/bench/tools/conns.py" serve 5301 > "$BENCH_DIR/conns-server.log" 2>&1 &
BENCH_PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$BENCH_DIR/conns-server.log" && break; sleep 0.1; done
echo '{"log": {"level": "warn"}, "inbounds": [{"type": "mixed", "listen": "127.0.0.1", "listen_port": 2081}], "outbounds": [{"type": "direct", "tag": "direct"}]}' > "$BENCH_DIR/mixed.json"
for build in native jit; do
  for i in $(seq "$RUNS"); do
    if [ "$build" = native ]; then cmd=("$NATIVE"); else cmd=(dotnet "$JIT_DLL"); fi
    ip netns exec "$CLIENT" "${cmd[@]}" run -c "$BENCH_DIR/mixed.json" > "$BENCH_DIR/mixed.log" 2>&1 &
    pid=$!; BENCH_PIDS+=("$pid")
    for _ in $(seq 600); do ip netns exec "$CLIENT" ss -Hltn "sport = :2081" | grep -q LISTEN && break; sleep 0.02; done
    read -r cold warm < <(ip netns exec "$CLIENT" python3 "$ROOT/bench/tools/conns.py" run 2081 "$SERVER_V4" 5301 "$CONNS" "$WARM")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    col[$build-cold]+="$cold "; col[$build-warm]+="$warm "
    echo "$build run $i: cold $cold conn/s, warm $warm conn/s"
  done
done

# The anchor: wireguard-go as the client, same tunnel.
ip netns exec "$CLIENT" wireguard-go -f "$WGC" > /dev/null 2>&1 &
wgc=$!; BENCH_PIDS+=("$wgc"); sleep 0.5
ip netns exec "$CLIENT" wg set "$WGC" private-key "$BENCH_DIR/client.key" peer "$router_pub" allowed-ips 10.66.0.0/24 endpoint 10.200.0.1:51820
ip -n "$CLIENT" addr add 10.66.0.2/24 dev "$WGC"; ip -n "$CLIENT" link set "$WGC" mtu 1420 up
wgpid=$(pgrep -n -f "wireguard-go -f $WGC")
sleep 2; wg_idle=$(rss "$wgpid" VmRSS); wg_mbits=$(iperf_up); wg_peak=$(rss "$wgpid" VmHWM)

size() { awk '{printf "%.1f", $1 / 1048576}' <<< "$(stat -c %s "$1")"; }
# The JIT build's own files (no .pdb, not the linux-x64/ folder a native publish leaves there), without the runtime.
jit_size=$(find "$ROOT/src/Sluice.Cli/bin/Release/net10.0" -maxdepth 1 -type f -not -name '*.pdb' -printf '%s\n' | awk '{s += $1} END {printf "%.1f", s / 1048576}')
echo
echo "| build | size (MiB) | start → engine started (ms) | idle RSS (MiB) | iperf3 up (Mbit/s) | peak RSS (MiB) |"
echo "|---|---|---|---|---|---|"
for build in native jit; do
  sz=$([ "$build" = native ] && size "$NATIVE" || echo "$jit_size + 106 runtime")
  echo "| $build | $sz | $(median ${col[$build-start]}) | $(median ${col[$build-idle]}) | $(median ${col[$build-mbits]}) | $(median ${col[$build-peak]}) |"
done
echo "| wireguard-go | $(size "$(command -v wireguard-go)") | – | $wg_idle | $wg_mbits | $wg_peak |"
echo "(median of $RUNS; iperf3 ${IPERF_SECONDS} s per run)"
echo
echo "| build | cold conn/s (first $CONNS) | warm conn/s ($CONNS after $WARM) | cold / warm |"
echo "|---|---|---|---|"
for build in native jit; do
  echo "| $build | $(median ${col[$build-cold]}) | $(median ${col[$build-warm]}) | $(ratio "$(median ${col[$build-cold]})" "$(median ${col[$build-warm]})") |"
done
verdict() { awk -v v="$1" -v lim="$2" -v dir="$3" 'BEGIN {ok = (dir == "le" ? v <= lim : v >= lim); print (ok ? "met" : "unmet")}'; }
echo
echo "targets (native build): idle RSS $(median ${col[native-idle]}) MiB ≤ 30: $(verdict "$(median ${col[native-idle]})" 30 le);" \
  "start $(median ${col[native-start]}) ms ≤ 150: $(verdict "$(median ${col[native-start]})" 150 le);" \
  "cold/warm $(ratio "$(median ${col[native-cold]})" "$(median ${col[native-warm]})") ≥ 0.90: $(verdict "$(ratio "$(median ${col[native-cold]})" "$(median ${col[native-warm]})")" 0.90 ge)"
echo "commit $(git -C "$ROOT" rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
